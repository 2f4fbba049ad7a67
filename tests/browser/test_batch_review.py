"""Batch review: a done batch photo opens in the single-photo view (click or keyboard), is
touched up there, and going back puts the file as it now is in the ZIP (only that one
changes); the list's thumbnails are at least 96 px; Close (and a new single photo) asks
before unsaved results are thrown away, and asks nothing once the ZIP was downloaded.
Desktop 1280x800 and phone 390x844."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_finishing_ui import (
    brush_radius,
    drag_along,
    erased_region,
    set_range,
    subject_stroke,
)

from browsing import wait_for_state
from support import SHARED_DEV, jpeg_bytes

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """Three real photos (the dev set's, else scikit-image's samples)."""
    folder = tmp_path_factory.mktemp("review")
    images = SHARED_DEV / "images"
    if images.exists():
        paths = []
        for source in sorted(images.glob("*.jpg"))[:3]:
            path = folder / source.name
            path.write_bytes(source.read_bytes())
            paths.append(path)
        return paths
    from skimage import data

    paths = [folder / f"sample{i}.jpg" for i in range(3)]
    for rgb, path in zip([data.astronaut(), data.coffee(), data.chelsea()], paths, strict=True):
        path.write_bytes(jpeg_bytes(rgb))
    return paths


def screenshot(page, name: str, tmp_path: Path) -> None:
    """Kept under OFFCUT_SCREENSHOTS when set (to look at), else in the test's tmp folder."""
    folder = Path(os.environ.get("OFFCUT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))


def run_batch(page, files: list[Path]) -> None:
    page.set_input_files("#batch-input", [str(p) for p in files])
    page.wait_for_function(
        "n => [...document.querySelectorAll('#batch-list li')]"
        ".filter(li => li.dataset.status === 'done').length === n",
        arg=len(files), timeout=300_000,
    )
    # The small renders replace the photos in the list once made.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#batch-list li img')].every(i => i.complete)"
    )


def zip_files(page) -> dict[str, bytes]:
    with page.expect_download(timeout=120_000) as info:
        page.click("#download-all")
    archive = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes()))
    return {name: archive.read(name) for name in archive.namelist()}


def alpha_of(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))[..., 3]


def thumb_sizes(page) -> list[tuple[float, float]]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#batch-list .batch-thumb img')]"
        ".map(i => i.parentElement.getBoundingClientRect())"
        ".map(r => [r.width, r.height])"
    )


def card_boxes(page) -> list[dict]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#batch-list li')]"
        ".map(li => li.getBoundingClientRect().toJSON())"
    )


def item(page, index: int):
    return page.locator("#batch-list li").nth(index)


def back_to_batch(page) -> None:
    page.click("#back-to-batch")
    page.wait_for_function(
        "() => !document.getElementById('batch').hidden"
        " && ['ready', 'done'].includes(document.body.dataset.state)",
        timeout=120_000,
    )


@pytest.fixture(scope="module")
def desktop(browser, base_url, photos):
    """One desktop page with the three photos run as a batch (the tests go in file order)."""
    context = browser.new_context(accept_downloads=True, viewport=DESKTOP)
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    run_batch(page, photos)
    yield page
    context.close()


def test_thumbnails_are_at_least_96_px_and_small_renders(desktop, tmp_path):
    page = desktop
    sizes = thumb_sizes(page)
    assert len(sizes) == 3 and all(w >= 96 and h >= 96 for w, h in sizes), sizes
    # Small renders (blob URLs of a couple hundred pixels), not the full-size files. They are
    # made one at a time after the results (a row shows its photo until then): wait for them.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#batch-list li img')].every(i => i.complete"
        " && i.naturalWidth > 0 && Math.max(i.naturalWidth, i.naturalHeight) <= 192)",
        timeout=60_000,
    )
    natural = page.evaluate(
        "() => [...document.querySelectorAll('#batch-list li img')]"
        ".map(i => [i.src.slice(0, 5), Math.max(i.naturalWidth, i.naturalHeight)])"
    )
    assert all(scheme == "blob:" and 0 < side <= 192 for scheme, side in natural), natural
    # Cards side by side in the image column, none cut off at the right.
    boxes = card_boxes(page)
    column = page.evaluate(
        "() => document.getElementById('batch-list').getBoundingClientRect().toJSON()"
    )
    assert len({round(box["top"]) for box in boxes}) == 1  # one row at 1280 px
    assert all(box["right"] <= column["right"] + 1 for box in boxes)
    screenshot(page, "batch-desktop", tmp_path)


def test_open_touch_up_and_back_replaces_only_that_file(desktop, tmp_path):
    page = desktop
    before = zip_files(page)
    names = sorted(before)
    thumb_before = item(page, 0).locator("img").get_attribute("src")

    # Keyboard: the first photo's button, Enter. (The worker holds the last photo, so this
    # one runs through the model again.)
    item(page, 0).locator(".batch-open").focus()
    page.keyboard.press("Enter")
    wait_for_state(page, "done", timeout_s=300)
    back = page.locator("#back-to-batch")
    assert back.is_visible() and back.inner_text() == "Back to batch (3 photos)"
    assert page.locator("#batch").is_hidden()
    screenshot(page, "review-desktop", tmp_path)

    member = next(name for name in names if name.startswith(Path(item_name(page, 0)).stem))
    alpha = alpha_of(before[member])
    start, end = subject_stroke(alpha)
    page.check("#brush-erase", force=True)
    set_range(page, "#brush-softness", 0)
    radius = brush_radius(page)
    drag_along(page, start, end, steps=10)
    page.wait_for_function("() => !document.getElementById('undo').disabled")
    page.check("#brush-off", force=True)

    back_to_batch(page)
    assert page.evaluate("document.activeElement.closest('li')?.dataset.name") == item_name(page, 0)
    page.wait_for_function(
        "old => { const i = document.querySelector('#batch-list li img');"
        " return i.src !== old && i.complete; }",
        arg=thumb_before,
    )
    after = zip_files(page)
    assert sorted(after) == names
    for name in names:
        if name != member:
            assert after[name] == before[name], name  # byte-identical
    edited = alpha_of(after[member])
    assert edited.shape == alpha.shape
    region = erased_region(alpha.shape, start, end, radius)
    assert (alpha[region] > 0).mean() > 0.9  # it was the subject...
    assert (edited[region] == 0).all()  # ...and is erased in the ZIP's file
    lowered = edited < alpha
    assert not (edited > alpha).any()
    assert not lowered[~erased_region(alpha.shape, start, end, 2 * radius)].any()  # only there


def item_name(page, index: int) -> str:
    return item(page, index).get_attribute("data-name")


def test_the_photo_the_worker_holds_opens_without_running_the_model(desktop):
    page = desktop
    before = zip_files(page)
    item(page, 2).locator(".batch-open").click()
    wait_for_state(page, "done", timeout_s=120)
    assert page.locator("#back-to-batch").is_visible()
    # No model run: the result has no timings to show.
    assert page.inner_text("#result-timings") == ""
    back_to_batch(page)  # nothing changed: the file stays as it was
    assert zip_files(page) == before


def test_after_a_zip_download_close_asks_nothing(desktop):
    page = desktop
    zip_files(page)
    page.click("#batch-close")
    assert not page.locator("#confirm").is_visible()
    assert page.locator("#batch").is_hidden()


def test_discard_question(browser, base_url, photos):
    context = browser.new_context(accept_downloads=True, viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        wait_for_state(page, "ready")
        run_batch(page, photos[:2])
        dialog = page.locator("#confirm")

        page.click("#batch-close")
        assert dialog.is_visible()
        assert page.inner_text("#confirm-title") == "Discard 2 results?"
        assert "not been saved" in page.inner_text("#confirm-text")
        assert page.evaluate("document.activeElement.id") == "confirm-no"  # Keep first
        page.keyboard.press("Escape")  # = Keep
        assert not dialog.is_visible()
        assert page.locator("#batch").is_visible()
        assert page.locator("#batch-list li[data-status=done]").count() == 2
        assert page.evaluate("document.activeElement.id") == "batch-close"  # focus back

        page.click("#batch-close")
        page.click("#confirm-no")
        assert page.locator("#batch-list li[data-status=done]").count() == 2

        # A new single photo asks too; Keep keeps the batch and does not start the photo.
        page.set_input_files("#file-input", str(photos[2]))
        dialog.wait_for(state="visible")
        page.click("#confirm-no")
        assert page.locator("#batch").is_visible()
        assert page.locator("#batch-list li[data-status=done]").count() == 2

        page.click("#batch-close")
        page.click("#confirm-yes")
        assert page.locator("#batch").is_hidden()
        assert page.locator("#batch-list li").count() == 0
        assert page.locator("#drop-zone").is_visible()

        # After a ZIP download, Close asks nothing.
        run_batch(page, photos[:2])
        zip_files(page)
        page.click("#batch-close")
        assert not dialog.is_visible()
        assert page.locator("#batch").is_hidden()
    finally:
        context.close()


def test_phone_thumbnails_and_back_button(browser, base_url, photos, tmp_path):
    context = browser.new_context(accept_downloads=True, viewport=PHONE, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        wait_for_state(page, "ready")
        run_batch(page, photos[:2])
        sizes = thumb_sizes(page)
        assert all(w >= 96 and h >= 96 for w, h in sizes), sizes
        boxes = card_boxes(page)
        assert all(box["left"] >= 0 and box["right"] <= PHONE["width"] for box in boxes)
        screenshot(page, "batch-phone", tmp_path)

        item(page, 0).locator(".batch-open").tap()
        wait_for_state(page, "done", timeout_s=300)
        back = page.locator("#back-to-batch").bounding_box()
        assert back and back["y"] >= 0 and back["y"] + back["height"] <= PHONE["height"]
        assert back["x"] >= 0 and back["x"] + back["width"] <= PHONE["width"]
        screenshot(page, "review-phone", tmp_path)
        back_to_batch(page)
        assert page.locator("#batch-list li[data-status=done]").count() == 2
    finally:
        context.close()
