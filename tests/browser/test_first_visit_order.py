"""What a first visit asks the host for, and in which order (issue 24, the first-visit target):
each file once (the service worker's precache does not download the runtime a second time
beside the app), and Best's download only after what the first look needs (Python's runtime
and Fast's model), so that they do not share the link."""

from __future__ import annotations

import collections
import functools
import http.server
import json
import threading

import pytest

import build
from browsing import CHROMIUM_ARGS, DIST, chromium_path, wait_for_state


class StrictHost(build.Handler):
    """build.py's host, but as a cautious CDN: every response `Cache-Control: no-cache` and
    without validators, so the HTTP cache may keep a file but must not reuse it unasked.
    Keeps the path of every GET, in order (`served`)."""

    served: list = []

    def do_GET(self):  # noqa: N802 - stdlib name
        self.served.append(self.path.split("?")[0])
        super().do_GET()

    def send_header(self, keyword, value):
        if keyword.lower() in ("last-modified", "etag", "cache-control"):
            return
        super().send_header(keyword, value)

    def end_headers(self):
        super().send_header("Cache-Control", "no-cache")
        super().end_headers()


@pytest.fixture
def strict_host():
    served = []
    handler = type("Handler", (StrictHost,), {"served": served})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(DIST)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()


def test_a_first_visit_asks_for_each_file_once_and_for_best_after_the_first_looks_needs(
        playwright_instance, strict_host, tmp_path):
    url, served = strict_host
    # A profile on disk, as a user has (an in-memory one keeps no file of the runtime's size).
    context = playwright_instance.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=chromium_path(), args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800})  # nothing remembered: Auto
    try:
        page = context.new_page()
        page.goto(url + "/")
        wait_for_state(page, "ready", timeout_s=300)
        page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                               timeout=120_000)
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_timeout(500)
    finally:
        context.close()
    # Each file the service worker keeps (WebGPU's lazy ones aside) was asked for, and each
    # of the runtime's big ones exactly once: by the app or by the precache, not by both.
    # (Some small ones are asked twice by the app itself, which a host's validators make a
    # 304; this host has none.)
    precache = json.loads((DIST / "precache.json").read_text())
    kept = {"/" if path == "index.html" else "/" + path: (DIST / path).stat().st_size
            for path in precache["files"] if path not in precache["lazy"]}
    counts = collections.Counter(served)
    assert not [path for path in kept if not counts[path]]
    big = {path: counts[path] for path, size in kept.items() if size > 100_000}
    assert len(big) >= 6, big
    assert all(n == 1 for n in big.values()), f"asked for more than once: {big}"

    def position(test) -> list[int]:
        return [i for i, path in enumerate(served) if test(path)]

    best = position(lambda p: p.startswith("/models/isnet-medium/"))
    fast = position(lambda p: p.startswith("/models/u2netp/"))
    python = position(lambda p: p.endswith((".whl", "stdlib.zip", "bytecode.zip", "offcut.zip",
                                            "pyodide.asm.wasm")))
    assert best and fast and len(python) >= 5, served
    assert min(best) > max(fast), "Best's download began before Fast's model was in"
    assert min(best) > max(python), "Best's download began before Python's runtime was in"
