"""A first visit to a host that cannot send the isolation headers: the service worker adds
them, and the page reloads once to be isolated, but never under the user's work and never
so that a download starts over (issue 23, item 2)."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
from test_static_host import PlainHandler

from browsing import DIST, until_isolated, wait_for_state
from support import subject_photo


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return subject_photo(tmp_path_factory.mktemp("first-visit"))


class CountingHandler(PlainHandler):
    """The headerless host, keeping the path of every GET it answers (in `served`)."""

    served: list = []

    def do_GET(self):  # noqa: N802 - stdlib name
        self.served.append(self.path)
        super().do_GET()


@pytest.fixture
def plain_host():
    """(url, served paths) of a host that sends no security headers."""
    served = []
    handler = type("Handler", (CountingHandler,), {"served": served})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(DIST)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", served
    server.shutdown()


def model_parts(served) -> list[str]:
    return [path for path in served if path.startswith("/models/") and path.endswith(".bin")]


def test_a_photo_picked_at_once_is_never_lost_to_the_reload(browser, plain_host, photo):
    url, served = plain_host
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/")
    page.evaluate("window.sameDocument = true")
    # Picked while the engine starts, long before the service worker has taken control.
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
    page.wait_for_timeout(1500)  # a reload, if one came, would have replaced the document
    assert page.evaluate("window.sameDocument === true"), "the page reloaded under the photo"
    assert page.evaluate("document.body.dataset.state") == "done"
    assert page.locator("#download").is_enabled()
    # This visit stays on one thread; the next one is isolated.
    assert page.evaluate("self.crossOriginIsolated") is False
    parts = model_parts(served)
    assert parts and len(parts) == len(set(parts)), parts  # each part served once
    page.reload()
    wait_for_state(page, "ready")
    assert page.evaluate("self.crossOriginIsolated") is True
    context.close()


def test_an_untouched_page_reloads_once_after_its_download_and_says_why(browser, plain_host):
    url, served = plain_host
    context = browser.new_context()
    page = context.new_page()
    page.goto(url + "/")
    until_isolated(page)
    wait_for_state(page, "ready")
    note = page.locator('#warnings li[data-code="reloaded-for-threads"]')
    assert note.is_visible() and "will not happen again" in note.inner_text()
    parts = model_parts(served)
    assert parts and len(parts) == len(set(parts)), parts  # the reload fetched no part again
    context.close()


def test_a_first_visit_says_what_it_downloads_and_a_return_visit_does_not(browser, base_url):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        wait_for_state(page, "ready")
        app_bytes = context.request.get(base_url + "/precache.json").json()["app_bytes"]
        note = page.locator("#first-visit-note")
        # The model cards say what each model costs before the engine has started.
        index = context.request.get(base_url + "/models/index.json").json()
        entry = next(e for e in index if e["id"] == "isnet-medium")
        # Headless, no WebGPU adapter: WASM's file, the CPU form.
        best = sum(part["bytes"] for part in entry["cpu"]["parts"])
        page.wait_for_function("() => document.getElementById('auto-size').textContent !== ''")
        assert page.locator("#auto-size").inner_text() == f"{best / 1e6:.1f} MB download"
        assert note.is_visible()
        assert f"{app_bytes / 1e6:.1f} MB" in note.inner_text()
        # app_bytes is what the service worker keeps at install, and sw.js: no WebGPU-only
        # file on a device without a GPU.
        precache = context.request.get(base_url + "/precache.json").json()
        kept = sum(len(context.request.get(f"{base_url}/{name}").body())
                   for name in precache["files"] if name not in precache["lazy"])
        assert app_bytes - kept == len(context.request.get(base_url + "/sw.js").body())
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
        page.reload()
        wait_for_state(page, "ready")
        assert note.is_hidden()  # everything comes from this device now
    finally:
        context.close()
