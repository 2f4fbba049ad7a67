"""Choosing "Photo" as the background asks for the photo at once; closing the picker without
one puts the earlier background back, so the view and the file never show a "Photo"
background that is transparent (issue 23, item 9)."""

from __future__ import annotations

import pytest

from browsing import open_sections, wait_for_state
from support import subject_photo


@pytest.fixture
def page(browser, base_url, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    page.set_input_files("#file-input", str(subject_photo(tmp_path)))
    wait_for_state(page, "done")
    open_sections(page)
    yield page
    context.close()


def test_choosing_photo_opens_the_picker_and_no_photo_puts_the_choice_back(page):
    page.check("#bg-white", force=True)
    with page.expect_file_chooser(timeout=10_000) as chooser:
        page.locator("label.segment:has(#bg-photo)").click()
    chooser.value.set_files([])  # the picker closed without a photo
    page.wait_for_function("() => document.getElementById('bg-white').checked")
    assert not page.locator("#bg-photo").is_checked()
