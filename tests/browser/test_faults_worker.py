"""Cancel stops the work itself, not just the waiting: a big photo cancelled in the middle of
the model must not hold the worker, what the page shows stays, and the next photo goes
through. (How long each step takes is measured by tests/bench/cancel.py, not asserted here.)"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browsing import wait_for_state
from support import SHARED_DEV, jpeg_bytes

# Generous bounds for events that take well under a second when things work; they only keep
# a broken run from hanging. On main's code the old worker never closed at all.
EVENT_TIMEOUT_MS = 15_000


def photo_rgb() -> np.ndarray:
    source = SHARED_DEV / "images" / "046.jpg"
    if source.exists():
        return np.asarray(Image.open(source).convert("RGB"))
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    """A small photo, another small one, and a 24 MP one (seconds in every stage)."""
    folder = tmp_path_factory.mktemp("cancel")
    rgb = photo_rgb()
    small = folder / "small.jpg"
    small.write_bytes(jpeg_bytes(rgb))
    other = folder / "other.jpg"
    other.write_bytes(jpeg_bytes(np.ascontiguousarray(rgb[:, ::-1])))
    big = folder / "big.jpg"
    Image.fromarray(rgb).resize((6000, 4000), Image.BILINEAR).save(big, quality=90)
    return {"small": small, "other": other, "big": big}


def engine_workers(page) -> list:
    """Our worker.js workers, in the order they started (ORT's own threads are left out)."""
    found: list = []
    page.on("worker", lambda worker: found.append(worker) if worker.url.endswith("/worker.js")
            else None)
    return found


def wait_until(page, condition) -> None:
    """Let the page run until ``condition()`` holds (Python-side events) or the bound passes."""
    waited = 0
    while not condition() and waited < EVENT_TIMEOUT_MS:
        page.wait_for_timeout(100)
        waited += 100


def downloaded_size(page) -> tuple[int, int]:
    with page.expect_download(timeout=300_000) as info:
        page.click("#download")
    return Image.open(io.BytesIO(Path(info.value.path()).read_bytes())).size


def test_cancel_during_the_model_stops_the_worker_and_keeps_the_page(
    recorded_context, base_url, photos
):
    context, _ = recorded_context
    page = context.new_page()
    workers = engine_workers(page)
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    page.set_input_files("#file-input", str(photos["small"]))
    wait_for_state(page, "done", timeout_s=300)
    shown = page.locator("#cutout-image").get_attribute("src")
    small_size = Image.open(photos["small"]).size
    assert len(workers) == 1
    busy = workers[0]
    closed: list = []
    busy.on("close", lambda worker: closed.append(worker))

    page.set_input_files("#file-input", str(photos["big"]))
    page.wait_for_function(
        "() => document.getElementById('progress-stage').textContent === 'Finding the subject'",
        timeout=300_000,
    )
    page.click("#cancel")
    # The page is usable at once and still shows (and can save) the earlier result...
    wait_for_state(page, "done", timeout_s=EVENT_TIMEOUT_MS / 1000)
    assert page.locator("#cutout-image").get_attribute("src") == shown
    assert page.locator("#download").is_enabled()
    # ...and the worker that was busy with the big photo is gone, not finishing it.
    wait_until(page, lambda: closed)
    assert closed, "the cancelled job kept running in the same worker"
    assert "cancelled" in page.locator("#status-text").inner_text().lower()

    # The earlier result still downloads (the new worker rebuilds it from the kept bytes).
    assert downloaded_size(page) == small_size
    # The next photo goes through the new worker.
    page.set_input_files("#file-input", str(photos["other"]))
    wait_for_state(page, "done", timeout_s=300)
    assert page.locator("#cutout-image").get_attribute("src") != shown
    assert len(workers) == 2  # one restart, not one per request
    assert downloaded_size(page) == small_size


def test_replacing_a_big_photo_stops_it(recorded_context, base_url, photos):
    """Choosing another photo while a big one runs is a cancel too: the next result comes
    from a fresh worker, not after the big photo is finished."""
    context, _ = recorded_context
    page = context.new_page()
    workers = engine_workers(page)
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    closed: list = []
    workers[0].on("close", lambda worker: closed.append(worker))
    page.set_input_files("#file-input", str(photos["big"]))
    page.wait_for_function(
        "() => document.getElementById('progress-stage').textContent === 'Finding the subject'",
        timeout=300_000,
    )
    page.set_input_files("#file-input", str(photos["small"]))
    wait_until(page, lambda: closed)
    assert closed, "the replaced job kept running in the same worker"
    wait_for_state(page, "done", timeout_s=300)
    width, height = Image.open(photos["small"]).size
    assert page.locator("#result-size").inner_text() == f"{width} × {height} px"
