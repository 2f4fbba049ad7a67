"""A photo over the 50 MP limit: the message offers to shrink it to fit and go on, and the
cutout comes at the shrunk size with a note saying so (issue 23, item 10)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from browsing import wait_for_state


@pytest.fixture(scope="module")
def huge_jpeg(tmp_path_factory):
    """52 MP (8832x5888): a red disc on grey, a small file that decodes to a big image."""
    image = Image.new("RGB", (8832, 5888), (128, 128, 128))
    disc = Image.new("L", image.size, 0)
    ImageDraw.Draw(disc).ellipse((2900, 1400, 5900, 4400), fill=255)
    image.paste((210, 30, 30), mask=disc)
    path = tmp_path_factory.mktemp("shrink") / "huge.jpg"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    path.write_bytes(buffer.getvalue())
    return path


def test_a_photo_over_the_limit_can_be_shrunk_and_cut_out(browser, base_url, huge_jpeg):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        wait_for_state(page, "ready")
        page.set_input_files("#file-input", str(huge_jpeg))
        wait_for_state(page, "error")
        assert "8832 × 5888" in page.inner_text("#error-text")
        retry = page.locator("#retry")
        assert retry.is_visible() and retry.inner_text() == "Shrink to 50 MP and continue"
        retry.click()
        wait_for_state(page, "done", timeout_s=400)
        width, height = (int(v) for v in
                         page.inner_text("#result-size").split(" px")[0].split(" × "))
        assert width * height <= 50_000_000 and width / height == pytest.approx(8832 / 5888, 0.01)
        note = page.locator('#warnings li[data-code="shrunk"]')
        assert "8832 × 5888" in note.inner_text()
    finally:
        context.close()
