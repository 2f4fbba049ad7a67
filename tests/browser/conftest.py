"""Playwright fixtures: the built dist/ served locally, and Debian's Chromium."""

from __future__ import annotations

import threading

import pytest

from browsing import CHROMIUM_ARGS, DIST, Recorder, chromium_path, fast_by_default


@pytest.fixture(scope="session")
def base_url():
    if not (DIST / "index.html").exists():
        pytest.fail("dist/ is not built: run the tests with `python3 build.py test`")
    import build

    server = build.make_server("127.0.0.1", 0, DIST)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS
    )
    fast_by_default(browser)
    yield browser
    browser.close()


@pytest.fixture
def recorded_context(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    recorder = Recorder()
    recorder.attach(context)
    yield context, recorder
    context.close()
