"""A browser profile on disk and a server that can be stopped: what the cache tests need to
see a second visit as a returning user does (service worker, Cache Storage and IndexedDB kept;
the server or the network gone; the HTTP cache expired)."""

from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

from browsing import (
    CHROMIUM_ARGS,
    DIST,
    Recorder,
    chromium_path,
    remember_model,
    wait_for_state,
)


class Site:
    """dist/ served by build.py's server; ``stop()`` then ``start()`` keeps the port, so the
    origin (and with it the profile's service worker and storage) stays the same."""

    def __init__(self) -> None:
        self.port = 0
        self.server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import build

        self.server = build.make_server("127.0.0.1", self.port, DIST)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def expire_http_cache(profile: Path) -> None:
    """What the HTTP cache expiring amounts to: none of its entries can be used."""
    shutil.rmtree(profile / "Default" / "Cache", ignore_errors=True)


@contextmanager
def open_app(playwright, profile: Path, url: str, *, state="ready"):
    """Yield (page, recorder) with the app open in the browser profile at ``profile``, once the
    page reaches ``state`` (None: do not wait). To be offline, stop the ``Site``: Chromium's
    offline emulation does not apply to the service worker's own fetches."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_path(), args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 800},
    )
    remember_model(context, "u2netp")  # see browsing.fast_by_default
    recorder = Recorder()
    recorder.attach(context)
    try:
        page = context.new_page()
        page.goto(url + "/")
        if state:
            wait_for_state(page, state)
        yield page, recorder
    finally:
        context.close()


def wait_for_service_worker(page) -> None:
    """Until the service worker has installed (cached and checked every file) and controls
    the page."""
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
