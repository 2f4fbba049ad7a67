"""The model cache: IndexedDB, verified by SHA-256 on every load."""

from __future__ import annotations

import numpy as np
import pytest

from browsing import CHROMIUM_ARGS, Recorder, chromium_path, wait_for_state
from support import jpeg_bytes


@pytest.fixture
def persistent_context(playwright_instance, tmp_path):
    """A browser profile on disk, so IndexedDB and the service worker survive a restart."""
    def launch():
        context = playwright_instance.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium_path(), args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        recorder = Recorder()
        recorder.attach(context)
        return context, recorder

    yield launch


def model_part_requests(recorder: Recorder, model_id: str = "u2netp") -> list[str]:
    return recorder.urls(f"/models/{model_id}/")


def test_second_visit_loads_the_model_from_indexeddb(persistent_context, base_url):
    context, recorder = persistent_context()
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    assert model_part_requests(recorder), "first visit must download the model"
    context.close()

    context, recorder = persistent_context()
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    assert model_part_requests(recorder) == []
    context.close()


def test_corrupt_cached_model_is_discarded_and_fetched_again(persistent_context, base_url):
    context, _ = persistent_context()
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    # Flip one byte of the cached model, as a disk error or a half-written entry would.
    page.evaluate(
        """() => new Promise((resolve, reject) => {
          const open = indexedDB.open('offcut', 1);
          open.onsuccess = () => {
            const tx = open.result.transaction('models', 'readwrite');
            const store = tx.objectStore('models');
            const get = store.get('u2netp');
            get.onsuccess = () => {
              const entry = get.result;
              const bytes = new Uint8Array(entry.bytes);
              bytes[1000] ^= 0xff;
              store.put({ ...entry, bytes: bytes.buffer });
            };
            tx.oncomplete = resolve;
            tx.onerror = () => reject(tx.error);
          };
          open.onerror = () => reject(open.error);
        })"""
    )
    context.close()

    context, recorder = persistent_context()
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    assert model_part_requests(recorder), "a corrupt cache entry must be downloaded again"
    # The fresh copy replaced the bad one: the next visit is offline-clean again.
    context.close()
    context, recorder = persistent_context()
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    assert model_part_requests(recorder) == []
    context.close()


def test_works_offline_after_the_first_visit(persistent_context, base_url, tmp_path):
    context, _ = persistent_context()
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    # The service worker has precached the app shell once it is ready.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    context.close()

    context, recorder = persistent_context()
    context.set_offline(True)
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    photo = tmp_path / "offline.jpg"
    image = np.zeros((60, 80, 3), np.uint8)
    image[15:45, 20:60] = (200, 40, 40)
    photo.write_bytes(jpeg_bytes(image))
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done")
    context.close()
