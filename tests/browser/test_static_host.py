"""A plain static host that cannot set headers: the service worker must add COOP/COEP so that
the page is cross-origin isolated and onnxruntime-web gets its threads, and the rest of the
security headers (CSP with frame-ancestors, nosniff, no-referrer)."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from browsing import DIST, until_isolated, wait_for_state


class PlainHandler(http.server.SimpleHTTPRequestHandler):
    """No security headers at all, only correct MIME types (what any CDN does)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript",
                      ".js": "text/javascript"}

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def plain_host():
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(PlainHandler, directory=str(DIST)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_service_worker_isolates_a_headerless_host(browser, plain_host):
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(plain_host + "/")
    assert "cross-origin-embedder-policy" not in response.headers  # the host sends none
    until_isolated(page)  # the page reloads itself once, after its model is downloaded
    wait_for_state(page, "ready")
    assert page.evaluate("() => self.crossOriginIsolated") is True
    assert page.evaluate("() => navigator.serviceWorker.controller !== null") is True
    # The backend line sits in the closed run details (shown after a result).
    assert "threads" in page.locator("#status-backend").text_content()
    context.close()


FRAME_ITSELF = """() => new Promise((resolve) => {
  const frame = document.createElement('iframe');
  frame.src = './?framed';
  frame.onload = () => {
    let reached = false;
    try { reached = Boolean(frame.contentDocument && frame.contentDocument.querySelector('main')); }
    catch { reached = false; }  // an error page is cross-origin: framing was refused
    resolve(reached);
  };
  document.body.append(frame);
})"""


def test_service_worker_adds_every_security_header_and_forbids_framing(browser, plain_host):
    import build

    context = browser.new_context()
    page = context.new_page()
    page.goto(plain_host + "/")
    until_isolated(page)  # controlled from here on (the app reloaded itself once)
    wait_for_state(page, "ready")
    for path in ("/", "/worker.js", "/pyodide/pyodide.asm.wasm"):
        headers = page.evaluate("p => fetch(p).then(r => Object.fromEntries(r.headers))", path)
        for name, value in build.SECURITY_HEADERS.items():
            assert headers.get(name.lower()) == value, (path, name, headers)
    assert page.evaluate(FRAME_ITSELF) is False
    context.close()
