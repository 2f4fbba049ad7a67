"""The app end to end: load, process a real photo with each model, download the PNG, compare
with the CLI's pixels and the ground truth, and check every request stayed on our origin."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browsing import wait_for_state
from offcut import pipeline
from support import SHARED_DEV, jpeg_bytes


@pytest.fixture(scope="module")
def easy_photo(tmp_path_factory) -> tuple[Path, np.ndarray | None]:
    """A photo file with an obvious subject, and its ground truth when ../shared is here."""
    source = SHARED_DEV / "images" / "046.jpg"
    if source.exists():
        gt = np.asarray(Image.open(SHARED_DEV / "gt" / "046.png").convert("L"))
        return source, gt
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "astronaut.jpg"
    path.write_bytes(jpeg_bytes(data.astronaut()))
    return path, None


def process_in_page(page, base_url: str, photo: Path, model_id: str):
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    selector = "#model-fast" if model_id == "u2netp" else "#model-best"
    if not page.locator(selector).is_checked():
        page.locator(selector).check(force=True)
        wait_for_state(page, "ready", timeout_s=240)
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done", timeout_s=300)
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


@pytest.mark.parametrize("model_id", ["u2netp", "isnet-medium"])
def test_photo_to_png_matches_cli_and_ground_truth(
    recorded_context, base_url, easy_photo, records, model_runner, model_id
):
    context, recorder = recorded_context
    photo, gt = easy_photo
    page = context.new_page()
    name, png = process_in_page(page, base_url, photo, model_id)

    assert name == f"{photo.stem}-cutout.png"
    browser_image = Image.open(io.BytesIO(png))
    source = Image.open(photo)
    assert browser_image.mode == "RGBA" and browser_image.size == source.size

    cli_result = pipeline.cutout(photo.read_bytes(), records[model_id], model_runner(model_id))
    browser_alpha = np.asarray(browser_image)[..., 3].astype(int)
    difference = np.abs(browser_alpha - cli_result.alpha.astype(int))
    assert difference.max() <= 2, f"alpha differs by up to {difference.max()}/255"

    if gt is not None:
        valid = gt != 128
        predicted, truth = browser_alpha >= 128, gt > 128
        iou = (predicted & truth & valid).sum() / ((predicted | truth) & valid).sum()
        assert iou >= 0.9

    assert recorder.requests, "no requests recorded"
    for request in recorder.requests:
        assert request.url.startswith(base_url) or request.url.startswith(("blob:", "data:")), (
            request.url
        )
        assert request.post_data_buffer is None, f"{request.method} {request.url} sent a body"
