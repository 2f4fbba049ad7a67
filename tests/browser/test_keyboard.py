"""Keyboard: Escape cancels what the progress card can cancel, and focus lands on the result's
Download button, not on <body>, when the control that started it disappears (issue 23, 10)."""

from __future__ import annotations

import pytest
from PIL import Image

from browsing import wait_for_state
from support import subject_photo


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keyboard")
    small = subject_photo(folder)
    big = folder / "big.jpg"  # 12 MP: seconds of work, time enough to press Escape
    Image.open(small).convert("RGB").resize((4000, 3000)).save(big, quality=90)
    return small, big


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    yield page
    context.close()


def test_focus_lands_on_download_after_a_result(page, photos):
    small, _ = photos
    page.locator("#drop-zone button, #drop-zone label[for=file-input]").first.focus()
    page.set_input_files("#file-input", str(small))
    wait_for_state(page, "done")
    assert page.evaluate("document.activeElement.id") == "download"


def test_escape_cancels_the_photo_being_worked_on(page, photos):
    small, big = photos
    page.set_input_files("#file-input", str(small))
    wait_for_state(page, "done")
    kept = page.locator("#cutout-image").get_attribute("src")
    page.set_input_files("#file-input", str(big))
    page.wait_for_function("() => document.body.dataset.state === 'processing'"
                           " && !document.getElementById('cancel').hidden")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.body.dataset.state === 'done'", timeout=30_000)
    assert "Cancelled" in page.locator("#status-text").inner_text()
    assert page.locator("#progress").is_hidden()
    # What was on screen before stays, and still downloads.
    assert page.locator("#cutout-image").get_attribute("src") == kept
    assert page.locator("#download").is_enabled()
