"""Damaged cache entries, injected: a malformed model record in IndexedDB, a truncated or
altered file in the service worker's cache. Online, each is replaced without the user
noticing more than a warning; offline, the app says what is wrong instead of failing for good."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from persistent import Site, open_app, wait_for_service_worker

from browsing import DIST, wait_for_state
from support import jpeg_bytes

NUMPY_WHEEL = next(p.relative_to(DIST).as_posix() for p in DIST.glob("pyodide/numpy-*.whl"))

# (path, how) -> the entry replaced, under the same key and headers, by damaged bytes.
DAMAGE_CACHED_FILE = """async ([path, how]) => {
  const names = (await caches.keys()).filter((name) => name.startsWith('offcut-'));
  if (names.length !== 1) throw new Error(`caches: ${names}`);
  const cache = await caches.open(names[0]);
  const url = new URL(path, location.href).href;
  const entry = await cache.match(url);
  if (!entry) throw new Error(`${path} is not cached`);
  const bytes = new Uint8Array(await entry.arrayBuffer());
  const bad = how === 'truncate' ? bytes.slice(0, bytes.length >> 1) : bytes;
  if (how === 'flip') bad[bad.length >> 1] ^= 0xff;
  await cache.put(url, new Response(bad, { headers: entry.headers }));
  return bad.length;
}"""

CACHED_FILE_SHA256 = """async (path) => {
  const names = (await caches.keys()).filter((name) => name.startsWith('offcut-'));
  const entry = await (await caches.open(names[0])).match(new URL(path, location.href).href);
  if (!entry) return null;
  const digest = await crypto.subtle.digest('SHA-256', await entry.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}"""

# Replace the u2netp record with one whose bytes are null (an interrupted write, an old format).
MALFORM_MODEL_RECORD = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('offcut', 1);
  open.onsuccess = () => {
    const tx = open.result.transaction('models', 'readwrite');
    const store = tx.objectStore('models');
    const get = store.get('u2netp');
    get.onsuccess = () => store.put({ ...get.result, bytes: null });
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  };
  open.onerror = () => reject(open.error);
})"""

MODEL_RECORD_SIZE = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('offcut', 1);
  open.onsuccess = () => {
    const get = open.result.transaction('models').objectStore('models').get('u2netp');
    get.onsuccess = () => resolve(get.result?.bytes?.byteLength ?? null);
    get.onerror = () => reject(get.error);
  };
  open.onerror = () => reject(open.error);
})"""


def dist_sha256(path: str) -> str:
    return hashlib.sha256((DIST / path).read_bytes()).hexdigest()


def u2netp_bytes() -> int:
    index = json.loads((DIST / "models" / "index.json").read_text())
    entry = next(e for e in index if e["id"] == "u2netp")
    return sum(part["bytes"] for part in entry["parts"])


@pytest.fixture
def site():
    site = Site()
    site.start()
    yield site
    site.stop()


@pytest.fixture
def first_visit(playwright_instance, tmp_path, site):
    """``first_visit(damage)``: a visit that caches everything, then ``damage(page)``."""
    profile = tmp_path / "profile"

    def visit(damage):
        with open_app(playwright_instance, profile, site.url) as (page, _):
            wait_for_service_worker(page)
            damage(page)
        return profile

    return visit


def process_a_photo(page, tmp_path) -> None:
    image = np.zeros((60, 80, 3), np.uint8)
    image[15:45, 20:60] = (200, 40, 40)
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_bytes(image))
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done")


def test_malformed_model_record_is_replaced(playwright_instance, first_visit, site):
    profile = first_visit(lambda page: page.evaluate(MALFORM_MODEL_RECORD))
    with open_app(playwright_instance, profile, site.url) as (page, recorder):
        assert recorder.urls("/models/u2netp/"), "the malformed record must be downloaded again"
        assert page.evaluate(MODEL_RECORD_SIZE) == u2netp_bytes()


@pytest.mark.parametrize(("path", "how"), [
    ("py/offcut.zip", "truncate"),
    ("pyodide/pyodide.asm.wasm", "truncate"),
    (NUMPY_WHEEL, "flip"),  # same length, wrong hash
])
def test_damaged_cached_file_is_fetched_again(playwright_instance, first_visit, site, tmp_path,
                                              path, how):
    def damage(page):
        page.evaluate(DAMAGE_CACHED_FILE, [path, how])
        assert page.evaluate(CACHED_FILE_SHA256, path) != dist_sha256(path)

    profile = first_visit(damage)
    with open_app(playwright_instance, profile, site.url) as (page, _):
        assert page.evaluate(CACHED_FILE_SHA256, path) == dist_sha256(path)
        process_a_photo(page, tmp_path)


@pytest.mark.parametrize(("path", "how"), [
    ("py/offcut.zip", "truncate"),  # the worker's own fetch
    (NUMPY_WHEEL, "flip"),  # the worker's own fetch too, checked against Pyodide's lock
    ("pyodide/pyodide.asm.wasm", "truncate"),  # fetched by Pyodide's own loader
])
def test_offline_damaged_file_is_named_and_retry_heals_it(playwright_instance, first_visit, site,
                                                          path, how):
    profile = first_visit(lambda page: page.evaluate(DAMAGE_CACHED_FILE, [path, how]))
    site.stop()  # offline (the browser's offline mode does not reach the service worker)
    with open_app(playwright_instance, profile, site.url, state="error") as (page, _):
        text = page.inner_text("#error-text")
        assert "damaged" in text and "offline" in text, text
        assert "Retry" in text and page.is_visible("#retry")
        site.start()
        page.click("#retry")
        wait_for_state(page, "ready")
        assert page.evaluate(CACHED_FILE_SHA256, path) == dist_sha256(path)


def test_offline_malformed_model_record_is_named(playwright_instance, first_visit, site):
    profile = first_visit(lambda page: page.evaluate(MALFORM_MODEL_RECORD))
    site.stop()
    with open_app(playwright_instance, profile, site.url, state="error") as (page, _):
        text = page.inner_text("#error-text")
        assert "copy of the model" in text and "offline" in text, text
        # No notice beside it that a fresh copy is on its way: none can be, offline.
        notice = page.locator('#warnings li[data-code="cache-corrupt"]')
        assert notice.count() == 0
        site.start()
        page.click("#retry")
        wait_for_state(page, "ready")
        # Healed by the retry's download: nothing left that says otherwise.
        assert notice.count() == 0 and page.locator("#error").is_hidden()


@pytest.mark.parametrize("path", ["app.js", "ui/options.js"])
def test_offline_damaged_app_module_says_so_instead_of_loading_forever(
        playwright_instance, first_visit, site, path):
    """No code of the app can run to report it: the page's small boot check does."""
    profile = first_visit(lambda page: page.evaluate(DAMAGE_CACHED_FILE, [path, "truncate"]))
    site.stop()
    with open_app(playwright_instance, profile, site.url, state="error") as (page, _):
        text = page.inner_text("#error-text")
        assert "damaged" in text and "connection" in text, text
        assert page.is_visible("#retry")
        site.start()
        page.click("#retry")  # a reload: the service worker fetches a good copy now
        wait_for_state(page, "ready")
        assert page.evaluate(CACHED_FILE_SHA256, path) == dist_sha256(path)
