"""A photo given before the app's code has run (a slow first visit) is taken, not lost: chosen
with the picker, dropped on the page, or pasted."""

from __future__ import annotations

import base64
import time

import pytest

from browsing import wait_for_state
from support import subject_photo

# How long app.js is held back: long enough that the photo comes before it runs.
APP_DELAY_S = 2.0


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return subject_photo(tmp_path_factory.mktemp("early"))


@pytest.fixture
def slow_app_page(browser):
    """A page whose app.js arrives APP_DELAY_S late (the HTML and boot-check.js at once)."""
    context = browser.new_context(service_workers="block", viewport={"width": 1280, "height": 800})

    def late(route):
        time.sleep(APP_DELAY_S)
        route.continue_()

    context.route("**/app.js", late)
    page = context.new_page()
    yield page
    context.close()


def open_before_the_app(page, base_url: str) -> None:
    page.goto(base_url + "/", wait_until="commit")
    page.wait_for_selector("#file-input", state="attached")
    assert page.evaluate("!!window.offcutEarly && !window.offcutEarly.taken"), \
        "the app ran already: the test would not show an early photo"


def test_a_photo_chosen_before_the_app_runs_is_processed(slow_app_page, base_url, photo):
    page = slow_app_page
    open_before_the_app(page, base_url)
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done")
    assert page.locator("#download").is_enabled()


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_a_photo_dropped_or_pasted_before_the_app_runs_is_kept(slow_app_page, base_url, photo,
                                                                how):
    page = slow_app_page
    open_before_the_app(page, base_url)
    page.evaluate("window.sameDocument = true")
    prevented = page.evaluate(
        """([how, data]) => {
          const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
          const transfer = new DataTransfer();
          transfer.items.add(new File([bytes], 'early.jpg', { type: 'image/jpeg' }));
          const event = how === 'drop'
            ? new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true })
            : new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true,
                                            cancelable: true });
          return !document.body.dispatchEvent(event);
        }""",
        [how, base64.b64encode(photo.read_bytes()).decode()],
    )
    # Not prevented, a dropped file replaces the page in a real browser.
    assert prevented, f"the early {how} was left to the browser"
    wait_for_state(page, "done")
    assert page.evaluate("window.sameDocument === true")
    assert page.evaluate("window.offcutEarly.taken && window.offcutEarly.files.length === 0")
    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename.startswith("early"), info.value.suggested_filename
