"""Bad input gets a clear, specific message, and nothing the user had is lost."""

from __future__ import annotations

import pytest

from browsing import wait_for_state
from support import subject_photo


@pytest.fixture
def good_photo(tmp_path):
    return subject_photo(tmp_path)


def error_text(page) -> str:
    return page.locator("#error").inner_text().lower()


def test_bad_files_get_specific_messages_and_keep_the_result(
    recorded_context, base_url, good_photo, tmp_path
):
    context, _ = recorded_context
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    page.set_input_files("#file-input", str(good_photo))
    wait_for_state(page, "done")
    shown = page.locator("#cutout-image").get_attribute("src")
    assert shown

    cases = {
        "broken.jpg": (b"\xff\xd8\xff\xe0" + b"\x00" * 200, ("damaged", "corrupt", "read")),
        "photo.heic": (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 200, ("heic",)),
        "empty.png": (b"", ("empty",)),
        # A renamed text file is not "damaged": it never was an image.
        "notes.png": (b"shopping list: eggs, flour, milk\n" * 10, ("not an image",)),
    }
    for name, (data, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        page.set_input_files("#file-input", str(path))
        page.wait_for_function("() => document.body.dataset.state === 'error'")
        assert page.locator("#error").is_visible()
        text = error_text(page)
        assert any(word in text for word in words), (name, text)
        assert "traceback" not in text and "pythonerror" not in text
        # The previous cutout is still there and still downloadable.
        assert page.locator("#cutout-image").get_attribute("src") == shown
        assert page.locator("#download").is_enabled()
        # Dismissing returns to the result, so the next case waits for its own error.
        page.click("#error-dismiss")
        page.wait_for_function("() => document.body.dataset.state === 'done'")


def test_a_runtime_package_that_fails_its_checksum_is_named(browser, base_url):
    """numpy's wheel with one byte changed (a proxy that rewrites files, a half-published
    deploy), with no service worker to heal it: the start stops with words that say what
    happened, not a Python error, and Retry is offered."""
    context = browser.new_context(service_workers="block")

    def damaged(route):
        body = bytearray(route.fetch().body())
        body[len(body) // 2] ^= 0xFF
        route.fulfill(status=200, content_type="application/zip", body=bytes(body))

    context.route("**/pyodide/numpy-*.whl", damaged)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        page.wait_for_function("() => document.body.dataset.state === 'error'", timeout=120_000)
        text = error_text(page)
        assert "checksum" in text and "damaged" in text, text
        assert "traceback" not in text and "pythonerror" not in text
        assert page.is_visible("#retry")
    finally:
        context.close()
