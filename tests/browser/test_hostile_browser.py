"""The hostile-input matrix (tests/test_hostile.py) through the real page: one input for each
error code the pipeline can give. Each must show the sentence web/messages.js has for that
code (with the image's own numbers), never a generic one or a blank "Done"; the page stays
usable and the result already on screen stays downloadable. The same inputs in one batch get
the same sentences per item."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import test_hostile as matrix
from PIL import Image, features

from browsing import wait_for_state
from support import subject_photo

#: (matrix input, expected code, the details the sentence is built from).
CASES = [
    ("zero-byte.jpg", "empty-file", {}),
    ("truncated.jpg", "corrupt-image", {}),
    ("text-as.jpg", "not-an-image", {}),
    ("one-pixel.png", "image-too-small", {"width": 1, "height": 1, "min_side": 16}),
    ("strip-3x20000.png", "image-too-small", {"width": 3, "height": 20000, "min_side": 16}),
    ("bomb-30000x30000.png", "image-too-large",
     {"width": 30000, "height": 30000, "limit": 50_000_000}),
    ("sixty-megapixels.png", "image-too-large",
     {"width": 8944, "height": 6708, "limit": 50_000_000}),
    # Pyodide's Pillow has no openjpeg, and Chromium cannot decode JPEG 2000 either.
    ("jpeg2000.jp2", "unsupported-format", {"format": "JPEG 2000"}),
    ("transparent-everywhere.png", "no-subject", {}),
    # Formats only the browser decodes here (Pyodide's Pillow has no AVIF) take another path
    # to the pipeline: the same limits must hold on it.
    ("one-pixel.avif", "image-too-small", {"width": 1, "height": 1, "min_side": 16}),
    ("strip-3x2000.avif", "image-too-small", {"width": 3, "height": 2000, "min_side": 16}),
    ("bomb-8000x7000.avif", "image-too-large", {"width": 8000, "height": 7000,
                                                "limit": 50_000_000}),
]


def avif(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, "AVIF", speed=10, quality=30)
    return buffer.getvalue()


MAKERS = {name: make for name, make, _ in matrix.CASES} | {
    "one-pixel.avif": lambda image: avif(1, 1),
    "strip-3x2000.avif": lambda image: avif(3, 2000),
    "bomb-8000x7000.avif": lambda image: avif(8000, 7000),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    if not features.check("avif"):
        pytest.skip("this Pillow cannot write AVIF")
    folder = tmp_path_factory.mktemp("hostile-browser")
    image = matrix.base_image()
    paths = {}
    for name, _, _ in CASES:
        paths[name] = folder / name
        paths[name].write_bytes(MAKERS[name](image))
    return paths


@pytest.fixture(scope="module")
def good_photo(tmp_path_factory) -> Path:
    return subject_photo(tmp_path_factory.mktemp("good"))


def sentence(page, code: str, details: dict) -> str:
    """What messages.js says for this code and these details."""
    return page.evaluate(
        """async ([code, details]) => {
          const { describeError } = await import('/messages.js');
          return describeError({ code, message: '', details }).text;
        }""",
        [code, details],
    )


def settle_after(page, path: Path) -> None:
    """Hand the page a file and wait for its outcome: an error, or a new result on screen."""
    serial = page.evaluate("() => document.getElementById('viewer').dataset.previewSerial || ''")
    page.set_input_files("#file-input", str(path))
    page.wait_for_function(
        """serial => {
          const state = document.body.dataset.state;
          const shown = document.getElementById('viewer').dataset.previewSerial || '';
          return state === 'error' || (state === 'done' && shown !== serial);
        }""",
        arg=serial, timeout=300_000,
    )


def downloaded(page) -> Image.Image:
    with page.expect_download(timeout=300_000) as info:
        page.click("#download")
    return Image.open(io.BytesIO(Path(info.value.path()).read_bytes()))


def test_each_error_code_gets_its_own_sentence_and_keeps_the_result(
    recorded_context, base_url, inputs, good_photo
):
    context, _ = recorded_context
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    settle_after(page, good_photo)
    assert page.evaluate("() => document.body.dataset.state") == "done"
    shown = page.locator("#cutout-image").get_attribute("src")
    good_size = Image.open(good_photo).size

    for name, code, details in CASES:
        settle_after(page, inputs[name])
        state = page.evaluate("() => document.body.dataset.state")
        assert state == "error", f"{name}: ended in {state!r}, not the {code} message"
        assert page.locator("#error").is_visible()
        assert page.locator("#error-text").inner_text() == sentence(page, code, details), name
        # The earlier result is still on screen and still the one that downloads.
        assert page.locator("#cutout-image").get_attribute("src") == shown, name
        assert page.locator("#download").is_enabled(), name
        page.click("#error-dismiss")
        wait_for_state(page, "done")

    assert downloaded(page).size == good_size
    # Still usable: the next good photo goes through.
    settle_after(page, good_photo)
    assert page.evaluate("() => document.body.dataset.state") == "done"


def test_a_batch_of_hostile_inputs_names_each_problem(recorded_context, base_url, inputs,
                                                      good_photo, tmp_path):
    context, _ = recorded_context
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    good = tmp_path / "good.jpg"
    good.write_bytes(good_photo.read_bytes())
    files = [str(inputs[name]) for name, _, _ in CASES] + [str(good)]
    page.set_input_files("#batch-input", files)
    page.wait_for_function(
        "n => document.querySelectorAll('#batch-list [data-status=done], "
        "#batch-list [data-status=failed]').length === n",
        arg=len(files), timeout=600_000,
    )
    for name, code, details in CASES:
        item = page.locator(f'#batch-list li[data-name="{name}"]')
        assert item.get_attribute("data-status") == "failed", name
        assert item.locator(".batch-status").inner_text() == sentence(page, code, details), name
    assert page.locator('#batch-list li[data-name="good.jpg"]').get_attribute("data-status") \
        == "done"
