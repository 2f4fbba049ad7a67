"""The model cache: IndexedDB, verified by SHA-256 on every load; offline after one visit."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from persistent import Site, expire_http_cache, open_app, wait_for_service_worker

from browsing import CHROMIUM_ARGS, Recorder, chromium_path, remember_model, wait_for_state
from support import jpeg_bytes

CORRUPT_CACHED_MODEL = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('offcut', 1);
  open.onsuccess = () => {
    const tx = open.result.transaction('models', 'readwrite');
    const store = tx.objectStore('models');
    const get = store.get('u2netp');
    get.onsuccess = () => {
      const bytes = new Uint8Array(get.result.bytes);
      bytes[1000] ^= 0xff;
      store.put({ ...get.result, bytes: bytes.buffer });
    };
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  };
  open.onerror = () => reject(open.error);
})"""


@pytest.fixture
def visit(playwright_instance, tmp_path, base_url):
    """``with visit() as (page, recorder)``: open the app in one browser profile on disk (so
    IndexedDB and the service worker survive between visits) and wait until it is ready."""

    @contextmanager
    def open_app(offline: bool = False):
        context = playwright_instance.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium_path(), args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        remember_model(context, "u2netp")  # see browsing.fast_by_default
        recorder = Recorder()
        recorder.attach(context)
        context.set_offline(offline)
        try:
            page = context.new_page()
            page.goto(base_url + "/")
            wait_for_state(page, "ready")
            yield page, recorder
        finally:
            context.close()

    return open_app


def model_part_requests(recorder: Recorder, model_id: str = "u2netp") -> list[str]:
    return recorder.urls(f"/models/{model_id}/")


def test_second_visit_loads_the_model_from_indexeddb(visit):
    with visit() as (_, recorder):
        assert model_part_requests(recorder), "first visit must download the model"
    with visit() as (_, recorder):
        assert model_part_requests(recorder) == []


def test_corrupt_cached_model_is_discarded_and_fetched_again(visit):
    with visit() as (page, _):
        # Flip one byte of the cached model, as a disk error or a half-written entry would.
        page.evaluate(CORRUPT_CACHED_MODEL)
    with visit() as (page, recorder):
        assert model_part_requests(recorder), "a corrupt cache entry must be downloaded again"
        notice = page.locator('#warnings li[data-code="cache-corrupt"]')
        assert "downloaded a fresh" in notice.inner_text()  # said once it is true
    with visit() as (_, recorder):  # the fresh copy replaced the bad one
        assert model_part_requests(recorder) == []


def test_works_offline_after_the_first_visit(visit, tmp_path):
    with visit() as (page, _):
        # The service worker has precached the app shell once it is ready.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    image = np.zeros((60, 80, 3), np.uint8)
    image[15:45, 20:60] = (200, 40, 40)
    photo = tmp_path / "offline.jpg"
    photo.write_bytes(jpeg_bytes(image))
    with visit(offline=True) as (page, _):
        page.set_input_files("#file-input", str(photo))
        wait_for_state(page, "done")


def test_starts_with_the_server_gone_and_the_http_cache_expired(playwright_instance, tmp_path):
    """Nothing needed to start may come from the HTTP cache, which expires: with the server
    stopped and that cache emptied, a restarted browser still starts and processes a photo."""
    site = Site()
    site.start()
    profile = tmp_path / "profile"
    try:
        with open_app(playwright_instance, profile, site.url) as (page, _):
            wait_for_service_worker(page)
            page.context.new_cdp_session(page).send("Network.clearBrowserCache")
    finally:
        site.stop()
    expire_http_cache(profile)
    image = np.zeros((60, 80, 3), np.uint8)
    image[15:45, 20:60] = (200, 40, 40)
    photo = tmp_path / "offline.jpg"
    photo.write_bytes(jpeg_bytes(image))
    with open_app(playwright_instance, profile, site.url) as (page, _):
        page.set_input_files("#file-input", str(photo))
        wait_for_state(page, "done")
