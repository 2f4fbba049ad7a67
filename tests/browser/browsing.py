"""Helpers for the Playwright tests: launching Debian's Chromium, waiting for page states,
recording requests."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field

import pytest

from support import ROOT

DIST = ROOT / "dist"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    path = os.environ.get("OFFCUT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("Chromium not found: run the tests with `python3 build.py test`")
    return path


@dataclass
class Recorder:
    """Requests seen by a browser context (pages, workers and the service worker)."""

    requests: list = field(default_factory=list)

    def attach(self, context) -> None:
        context.on("request", lambda request: self.requests.append(request))

    def urls(self, needle: str = "") -> list[str]:
        return [r.url for r in self.requests if needle in r.url]


def wait_for_state(page, state: str, timeout_s: float = 180) -> None:
    page.wait_for_function(
        "s => ['error', s].includes(document.body?.dataset.state)", arg=state,
        timeout=timeout_s * 1000,
    )
    actual = page.evaluate("document.body.dataset.state")
    if actual != state:
        message = page.locator("#error").inner_text() if page.locator("#error").count() else ""
        raise AssertionError(f"page state {actual!r}, expected {state!r}: {message}")


def open_sections(page) -> None:
    """Open every collapsible option section (Shadow, Crop and canvas, File start closed)."""
    page.evaluate(
        "() => document.querySelectorAll('details.section').forEach((d) => { d.open = true; })"
    )


def remember_model(context, model: str) -> None:
    """Start ``context``'s pages as a returning user who chose ``model`` ('auto', 'u2netp' or
    'isnet-medium'), unless the page has saved another choice since."""
    saved = json.dumps(json.dumps({"model": model}))
    context.add_init_script(
        "if (!localStorage.getItem('offcut.options'))"
        f" localStorage.setItem('offcut.options', {saved});"
    )


def fast_by_default(browser) -> None:
    """Make ``browser.new_context`` start as a user who chose "Fast".

    The page's default is Auto, which downloads and runs "Best" (88 MB, seconds a photo on
    these cores); most tests are about something else and use Fast. A test of the default
    passes ``remembered_model=None`` (nothing remembered) or another model.
    """
    plain = browser.new_context

    def new_context(*args, remembered_model: str | None = "u2netp", **kwargs):
        context = plain(*args, **kwargs)
        if remembered_model:
            remember_model(context, remembered_model)
        return context

    browser.new_context = new_context


def until_isolated(page, timeout_s: float = 180) -> None:
    """Wait across the page's own reload (which destroys what a wait_for_function watches)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if page.evaluate("self.crossOriginIsolated") is True:
                return
        except Exception:  # the document went away mid-call: the reload
            pass
        page.wait_for_timeout(250)
    raise AssertionError("the page never became cross-origin isolated")
