"""What the service worker downloads: a first visit leaves the WebGPU-only files (onnxruntime's
JSEP build, 27 MiB) for a WebGPU session to fetch; an update downloads only the files whose
SHA-256 changed; a lazily kept file is verified and repaired like the others. Requests are
counted at the server, with the HTTP cache expired between visits (as days between visits
would): what is not asked of the server came from the service worker's own cache."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import json
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from persistent import expire_http_cache, open_app, wait_for_service_worker

from browsing import CHROMIUM_ARGS, DIST, chromium_path

MANIFEST = json.loads((DIST / "precache.json").read_text()) if DIST.exists() else {}

# {cache: its name, sha256: {path: sha256 hex or null}} of this origin's offcut cache (exactly
# one must exist). sw.js keeps index.html under the site's root ('./').
CACHED = """async (paths) => {
  const names = (await caches.keys()).filter((name) => name.startsWith('offcut-'));
  if (names.length !== 1) throw new Error(`caches: ${names}`);
  const cache = await caches.open(names[0]);
  const hex = (digest) =>
    Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0'));
  const out = { cache: names[0], sha256: {} };
  for (const path of paths) {
    const key = new URL(path === 'index.html' ? '' : path, location.origin + '/').href;
    const entry = await cache.match(key);
    out.sha256[path] = entry
      ? hex(await crypto.subtle.digest('SHA-256', await entry.arrayBuffer())).join('') : null;
  }
  return out;
}"""

# Whether the only offcut cache is the one named (the new worker has activated).
ONLY_CACHE = """async (name) => {
  const names = (await caches.keys()).filter((n) => n.startsWith('offcut-'));
  return names.length === 1 && names[0] === name;
}"""

# [path, how]: 'truncate' keeps half of the cached entry, 'delete' removes it.
DAMAGE = """async ([path, how]) => {
  const names = (await caches.keys()).filter((name) => name.startsWith('offcut-'));
  const cache = await caches.open(names[0]);
  const url = new URL(path, location.origin + '/').href;
  const entry = await cache.match(url);
  if (!entry) throw new Error(`${path} is not cached`);
  if (how === 'delete') return cache.delete(url);
  const bytes = new Uint8Array(await entry.arrayBuffer());
  await cache.put(url, new Response(bytes.slice(0, bytes.length >> 1), { headers: entry.headers }));
  return true;
}"""

# A WebGPU session in ort-host.js, as worker.js makes one: its JSEP build and binary parts are
# fetched through the service worker. Resolves the session's output names.
WEBGPU_SESSION = """async (modelB64) => {
  const host = new Worker('/ort-host.js', { type: 'module' });
  let next = 0;
  const call = (type, fields) => new Promise((resolve, reject) => {
    next += 1;
    const id = next;
    host.addEventListener('message', function answer({ data }) {
      if (data.id !== id) return;
      host.removeEventListener('message', answer);
      if ('error' in data) reject(new Error(data.error)); else resolve(data.result);
    });
    host.postMessage({ id, type, ...fields });
  });
  try {
    await call('init', { wasmPaths: new URL('/ort/', location.href).href, threads: 1 });
    const bytes = Uint8Array.from(atob(modelB64), (c) => c.charCodeAt(0));
    return (await call('create', { key: 1, bytes, provider: 'webgpu' })).outputNames;
  } finally {
    host.terminate();
  }
}"""

FETCH = """async (path) => {
  const response = await fetch(path);
  return { status: response.status, code: response.headers.get('Offcut-Error') };
}"""


class CountingSite:
    """dist/ served by build.py's handler, recording the path of every GET. Files in
    ``overlay`` (a folder laid out like dist/) are served instead of dist/'s: a new build in
    which only those files (and precache.json, sw.js) differ. ``stop()`` then ``start()``
    keeps the port, so the origin stays the same."""

    def __init__(self, overlay: Path) -> None:
        self.overlay = overlay
        self.requests: list[str] = []
        self.port = 0
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import build

        site = self

        class Handler(build.Handler):
            def do_GET(self):  # noqa: N802 - stdlib name
                if not site.server:
                    # Stopped, on a connection Chromium opened earlier (it preconnects):
                    # hang up unanswered, as an unreachable server would.
                    self.close_connection = True
                    return
                site.requests.append(unquote(urlsplit(self.path).path).lstrip("/") or "index.html")
                super().do_GET()

            def translate_path(self, path):
                local = Path(super().translate_path(path))
                swapped = site.overlay / local.relative_to(DIST)
                return str(swapped if swapped.is_file() else local)

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", self.port), functools.partial(Handler, directory=str(DIST)))
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self.server = self.server, None
        server.shutdown()
        server.server_close()

    def asked(self) -> set[str]:
        """The files of the site's precache list the server was asked for."""
        return {path for path in self.requests if path in MANIFEST["sha256"]}


@pytest.fixture
def site(tmp_path):
    site = CountingSite(tmp_path / "overlay")
    site.start()
    yield site
    if site.server:
        site.stop()


def wait_until(page, script: str, arg, limit_s: float = 120) -> None:
    """Until the async ``script`` resolves true (wait_for_function does not await a promise)."""
    deadline = time.monotonic() + limit_s
    while not page.evaluate(script, arg):
        assert time.monotonic() < deadline, f"still false after {limit_s} s: {script}"
        page.wait_for_timeout(250)


def new_build_with(overlay: Path, changed: str, appended: bytes) -> str:
    """Lay out in ``overlay`` a build that differs from dist/ in ``changed`` only (bytes
    appended), with precache.json and sw.js carrying its new hash and build id, as build.py
    would write them. Returns the new build id."""
    import build

    data = (DIST / changed).read_bytes() + appended
    hashes = {**MANIFEST["sha256"], changed: hashlib.sha256(data).hexdigest()}
    build_id = build.build_id_of(hashes)
    (overlay / changed).parent.mkdir(parents=True, exist_ok=True)
    (overlay / changed).write_bytes(data)
    (overlay / "precache.json").write_text(json.dumps({**MANIFEST, "build": build_id,
                                                       "sha256": hashes}, indent=1))
    sw = (DIST / "sw.js").read_text()
    old_hash = MANIFEST["sha256"][changed]
    assert sw.count(MANIFEST["build"]) == 1 and sw.count(old_hash) == 1
    (overlay / "sw.js").write_text(
        sw.replace(MANIFEST["build"], build_id).replace(old_hash, hashes[changed]))
    return build_id


def test_first_visit_leaves_webgpu_files_and_an_update_fetches_only_the_changed_file(
    playwright_instance, tmp_path, site
):
    profile = tmp_path / "profile"
    lazy = set(MANIFEST["lazy"])
    assert lazy, "precache.json lists no WebGPU-only file"
    with open_app(playwright_instance, profile, site.url) as (page, _):
        wait_for_service_worker(page)
        cached = page.evaluate(CACHED, MANIFEST["files"])
    # This browser has no WebGPU adapter: nothing of the JSEP build was asked for or kept, and
    # everything else is in the cache.
    assert not lazy & site.asked(), sorted(lazy & site.asked())
    assert cached["cache"] == f"offcut-{MANIFEST['build']}"
    for path, digest in cached["sha256"].items():
        assert digest == (None if path in lazy else MANIFEST["sha256"][path]), path

    new_id = new_build_with(site.overlay, "style.css", b"\n/* the next build */\n")
    expire_http_cache(profile)
    site.requests.clear()
    with open_app(playwright_instance, profile, site.url) as (page, _):
        # The new worker installs and activates (deleting the old cache) in the background.
        wait_until(page, ONLY_CACHE, f"offcut-{new_id}")
        cached = page.evaluate(CACHED, MANIFEST["files"])
    assert "sw.js" in site.requests  # the update was seen
    # The page's own navigation reaches the server too, once (Chromium asks for it though
    # the worker answers from its cache; not sw.js's doing, it has no navigation preload).
    # The install asks for nothing but the changed file, where it used to ask for every one.
    assert site.requests.count("index.html") == 1, site.requests
    assert site.asked() - {"index.html"} == {"style.css"}, site.requests
    expected = json.loads((site.overlay / "precache.json").read_text())["sha256"]
    for path, digest in cached["sha256"].items():
        assert digest == (None if path in lazy else expected[path]), path


@pytest.fixture(scope="module")
def tiny_model_b64() -> str:
    from test_backends import tiny_model

    return base64.b64encode(tiny_model(0)).decode()


def test_webgpu_files_are_kept_verified_once_used_and_repaired_like_the_others(
    playwright_instance, tmp_path, site, tiny_model_b64
):
    profile = tmp_path / "profile"
    lazy = sorted(MANIFEST["lazy"])
    with open_app(playwright_instance, profile, site.url) as (page, _):
        wait_for_service_worker(page)
    site.requests.clear()
    # The same profile with a WebGPU adapter (SwiftShader), on a page that the service worker
    # controls without starting the app.
    context = playwright_instance.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_path(),
        args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"])
    try:
        page = context.new_page()
        page.goto(site.url + "/NOTICES.txt")
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        # Offline before first use: not kept, so not there; said like a damaged file.
        site.stop()
        assert page.evaluate(FETCH, "/ort/ort.min.mjs") == {
            "status": 504, "code": "cache-corrupt-offline"}
        site.start()
        assert page.evaluate(WEBGPU_SESSION, tiny_model_b64) == ["output"]
        # (NOTICES.txt: this page's navigation, which reaches the server too.)
        assert site.asked() - {"NOTICES.txt"} == set(lazy)
        cached = page.evaluate(CACHED, lazy)["sha256"]
        assert cached == {path: MANIFEST["sha256"][path] for path in lazy}

        # Kept: a second session asks the server for nothing.
        site.requests.clear()
        assert page.evaluate(WEBGPU_SESSION, tiny_model_b64) == ["output"]
        assert site.asked() - {"NOTICES.txt"} == set()

        # Damaged and missing entries, offline: refused with the code a damaged file gets.
        damaged, missing = "ort/ort-wasm-simd-threaded.jsep.wasm.001", "ort/ort.min.mjs"
        page.evaluate(DAMAGE, [damaged, "truncate"])
        page.evaluate(DAMAGE, [missing, "delete"])
        # Days later: the HTTP cache, which may hold a copy of a file not kept (and would
        # answer for it, verified), has expired.
        page.context.new_cdp_session(page).send("Network.clearBrowserCache")
        site.stop()
        # The app's check after a failed start names the damaged one. A missing WebGPU-only
        # file is skipped there, as one never used is (the two look the same to the worker):
        # WebGPU failing only sends worker.js to WASM, and a start never waits on these.
        check = page.evaluate("fetch('/sw-check.json').then((r) => r.json())")
        assert [(p["path"], p["code"]) for p in check["problems"]] == [
            (damaged, "cache-corrupt-offline")]
        for path in (damaged, missing):
            assert page.evaluate(FETCH, "/" + path) == {
                "status": 504, "code": "cache-corrupt-offline"}, path
        # WebGPU cannot start, and ort-host.js says why (worker.js then falls back to WASM).
        with pytest.raises(Exception, match="cache-corrupt-offline"):
            page.evaluate(WEBGPU_SESSION, tiny_model_b64)
        # Online again: fetched, verified and kept once more.
        site.start()
        site.requests.clear()
        assert page.evaluate(WEBGPU_SESSION, tiny_model_b64) == ["output"]
        # The damaged part is fetched past the HTTP cache; the missing file, like any not
        # kept yet, may come from it (the hash decides).
        assert damaged in site.asked() and site.asked() - {"NOTICES.txt"} <= {damaged, missing}
        cached = page.evaluate(CACHED, lazy)["sha256"]
        assert cached == {path: MANIFEST["sha256"][path] for path in lazy}

        # An update on this device (it has used WebGPU) copies them into the new build's
        # cache too: still offline-ready, and nothing of them is downloaded again.
        new_id = new_build_with(site.overlay, "style.css", b"\n/* the next build */\n")
        site.requests.clear()
        page.goto(site.url + "/NOTICES.txt")  # a navigation makes Chromium look for a new sw.js
        wait_until(page, ONLY_CACHE, f"offcut-{new_id}")
        assert site.asked() - {"NOTICES.txt"} == {"style.css"}, site.requests
        cached = page.evaluate(CACHED, lazy)["sha256"]
        assert cached == {path: MANIFEST["sha256"][path] for path in lazy}
    finally:
        context.close()
