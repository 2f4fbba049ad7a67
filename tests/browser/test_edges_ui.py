"""Edges that follow the user (issue 23, item 6): "Refine edges" reuses the model's output,
a cancelled switch puts the box back, and the edge controls change the view and the file at
once."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browsing import open_sections, wait_for_state
from support import subject_photo


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("edges-ui")
    small = subject_photo(folder)
    big = folder / "big.jpg"  # 12 MP: a refinish takes long enough to cancel
    Image.open(small).convert("RGB").resize((4000, 3000)).save(big, quality=90)
    return small, big


@pytest.fixture
def page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    open_sections(page)
    yield page
    context.close()


def alpha_of_download(page) -> np.ndarray:
    with page.expect_download(timeout=120_000) as info:
        page.click("#download")
    data = Path(info.value.path()).read_bytes()
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))[..., 3]


def serial(page) -> int:
    return int(page.evaluate("document.getElementById('viewer').dataset.previewSerial || 0"))


def wait_for_view_after(page, before: int) -> None:
    page.wait_for_function(
        "n => Number(document.getElementById('viewer').dataset.previewSerial || 0) > n"
        " && document.body.dataset.state === 'done'", arg=before, timeout=60_000)


def cut_out(page, photo) -> tuple[np.ndarray, int]:
    """Pick ``photo``; once done, (its downloaded alpha, the view's serial)."""
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done")
    return alpha_of_download(page), serial(page)


def test_refine_edges_switches_without_the_model_and_gives_the_same_file(page, photos):
    refined, shown = cut_out(page, photos[0])
    page.uncheck("#refine-edges")
    wait_for_view_after(page, shown)
    assert "without running the model again" in page.locator("#status-text").inner_text()
    plain = alpha_of_download(page)
    assert not np.array_equal(plain, refined)
    # The same file as the photo run afresh with refinement off.
    assert np.array_equal(cut_out(page, photos[0])[0], plain)


def test_a_cancelled_switch_puts_the_box_back(page, photos):
    _, big = photos
    page.set_input_files("#file-input", str(big))
    wait_for_state(page, "done")
    page.uncheck("#refine-edges")
    page.wait_for_function("() => document.body.dataset.state === 'processing'")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.body.dataset.state === 'done'", timeout=30_000)
    assert page.locator("#refine-edges").is_checked(), "the box must match the cutout shown"


def test_edge_controls_change_the_view_and_the_file_at_once(page, photos):
    plain, shown = cut_out(page, photos[0])
    page.eval_on_selector("#edge-shift", "el => { el.value = '-4';"
                          " el.dispatchEvent(new Event('input', {bubbles: true})); }")
    wait_for_view_after(page, shown)
    assert page.locator("#edge-shift-value").inner_text() == "-4 px"
    trimmed = alpha_of_download(page)
    assert trimmed.shape == plain.shape
    assert (trimmed >= 128).sum() < (plain >= 128).sum()  # the edge moved in
    assert (trimmed <= plain).all()  # erosion never adds
    shown = serial(page)
    page.check("#edge-solid")
    wait_for_view_after(page, shown)
    solid = alpha_of_download(page)
    assert (solid >= trimmed).all()
    assert "solid" in page.locator('[data-summary="cutout"]').text_content()  # shown closed
