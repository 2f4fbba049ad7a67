"""Faults in the worker's own work.

Cancel stops the work itself, not just the waiting: a big photo cancelled in the middle of the
model must not hold the worker, what the page shows stays, and the next photo goes through.
(How long each step takes is measured by tests/bench/cancel.py, not asserted here.)

WebGPU cannot hang the app: a software adapter (SwiftShader, what ``--enable-unsafe-webgpu``
gives here) is only used when forced, and a first WebGPU run past its deadline falls back to
WASM, which the device then remembers. These run the tiny model of test_backends.py in place
of u2netp (SwiftShader is ~100x slower than WASM on the real ones)."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_backends import tiny_entry, tiny_model

from browsing import CHROMIUM_ARGS, chromium_path, fast_by_default, wait_for_state
from support import SHARED_DEV, jpeg_bytes

# Generous bounds for events that take well under a second when things work; they only keep
# a broken run from hanging. On main's code the old worker never closed at all.
EVENT_TIMEOUT_MS = 15_000
IN_MODEL = "() => document.getElementById('progress-stage').textContent === 'Finding the subject'"
SPARE_READY = "() => document.body.dataset.spare === 'ready'"


def photo_rgb() -> np.ndarray:
    source = SHARED_DEV / "images" / "046.jpg"
    if source.exists():
        return np.asarray(Image.open(source).convert("RGB"))
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    """A small photo, another small one, a 6 MP one (its save's encode takes a good part of a
    second) and a 24 MP one (seconds in every stage)."""
    folder = tmp_path_factory.mktemp("cancel")
    rgb = photo_rgb()
    small = folder / "small.jpg"
    small.write_bytes(jpeg_bytes(rgb))
    other = folder / "other.jpg"
    other.write_bytes(jpeg_bytes(np.ascontiguousarray(rgb[:, ::-1])))
    medium = folder / "medium.jpg"
    Image.fromarray(rgb).resize((3000, 2000), Image.BILINEAR).save(medium, quality=90)
    big = folder / "big.jpg"
    Image.fromarray(rgb).resize((6000, 4000), Image.BILINEAR).save(big, quality=90)
    return {"small": small, "other": other, "medium": medium, "big": big}


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


def downloaded_image(page) -> Image.Image:
    with page.expect_download(timeout=300_000) as info:
        page.click("#download")
    return Image.open(io.BytesIO(Path(info.value.path()).read_bytes()))


def page_with_engine(recorded_context, base_url: str, first_photo=None):
    """(page, its engine workers as they start) with the engine ready, after a first photo
    has been processed when one is given."""
    context, _ = recorded_context
    page = context.new_page()
    workers = engine_workers(page)
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    if first_photo is not None:
        page.set_input_files("#file-input", str(first_photo))
        wait_for_state(page, "done", timeout_s=300)
    return page, workers


def downloaded_size(page) -> tuple[int, int]:
    return downloaded_image(page).size


def test_cancel_during_the_model_stops_the_worker_and_keeps_the_page(
    recorded_context, base_url, photos
):
    page, workers = page_with_engine(recorded_context, base_url, photos["small"])
    shown = page.locator("#cutout-image").get_attribute("src")
    small_size = Image.open(photos["small"]).size
    busy = workers[0]  # any later one is the spare, booting now the page is idle
    closed: list = []
    busy.on("close", lambda worker: closed.append(worker))

    page.set_input_files("#file-input", str(photos["big"]))
    page.wait_for_function(IN_MODEL, timeout=300_000)
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
    # Busy from the pick (the file is read asynchronously): a 'done' now would be the last
    # photo's, and the wait below would return before this one ran (a CI failure).
    assert page.evaluate("document.body.dataset.state") == "processing"
    wait_for_state(page, "done", timeout_s=300)
    assert page.locator("#cutout-image").get_attribute("src") != shown
    # One restart (the spare took over, and a new spare boots), not one per request.
    assert len(workers) <= 3
    assert downloaded_size(page) == small_size


# What the next photo may cost beyond its own time after a cancel (issue 11 item 4 asks 2 s).
# Here, on 2 cores shared with other jobs, the same photo's own time alone varies by seconds
# (4-10 s), and a promoted spare runs the model for the first time; measured +0.5 to +12 s
# with a spare, +18 to +41 s with a cold restart (tests/bench/cancel.py gives the numbers).
NEXT_PHOTO_MARGIN_S = 10.0


def settle(page, predicate: str, timeout_ms: int = 300_000) -> bool:
    """Let the page run until the JS ``predicate`` holds; False (not an error) if it never does."""
    try:
        page.wait_for_function(predicate, timeout=timeout_ms, polling=20)
    except PlaywrightTimeout:
        return False
    return True


def seconds_to_result(page, photo: Path, on_start=lambda: None) -> float:
    t0 = time.perf_counter()
    page.set_input_files("#file-input", str(photo))
    page.wait_for_function("() => document.body.dataset.state === 'processing'", polling=20)
    on_start()
    page.wait_for_function("() => document.body.dataset.state === 'done'", timeout=300_000,
                           polling=20)
    return time.perf_counter() - t0


def test_after_a_cancel_the_next_photo_takes_its_own_time(recorded_context, base_url, photos):
    """A spare worker, booted while the page is idle, takes over at a cancel: the next photo
    does not wait for a new Pyodide to boot (issue 11 item 4)."""
    page, workers = page_with_engine(recorded_context, base_url, photos["small"])
    settle(page, SPARE_READY, 120_000)  # on a build without a spare, nothing comes: timing says so
    alone = min(seconds_to_result(page, photos["other"]), seconds_to_result(page, photos["small"]))
    started = len(workers)

    page.set_input_files("#file-input", str(photos["big"]))
    page.wait_for_function(IN_MODEL, timeout=300_000)
    page.click("#cancel")
    wait_for_state(page, "done", timeout_s=EVENT_TIMEOUT_MS / 1000)
    # A cold restart spawns its worker at the cancel; the next spare only once this photo
    # is done (its spawn can beat the 'done' state here, so count at the start).
    counted: list = []
    after_cancel = seconds_to_result(page, photos["other"], lambda: counted.append(len(workers)))
    booted_meanwhile = counted[0] - started

    assert after_cancel <= alone + NEXT_PHOTO_MARGIN_S, (
        f"next photo {after_cancel:.1f} s after a cancel, {alone:.1f} s alone")
    assert booted_meanwhile == 0, "a worker booted between the cancel and the next result"
    width, height = Image.open(photos["other"]).size
    assert page.locator("#result-size").inner_text() == f"{width} × {height} px"
    # The page is idle again: a new spare boots for the next cancel.
    assert settle(page, SPARE_READY), "no new spare after the old one took over"
    assert len(workers) == started + 1


def test_replacing_a_big_photo_stops_it(recorded_context, base_url, photos):
    """Choosing another photo while a big one runs is a cancel too: the next result comes
    from a fresh worker, not after the big photo is finished."""
    page, workers = page_with_engine(recorded_context, base_url)
    closed: list = []
    workers[0].on("close", lambda worker: closed.append(worker))
    page.set_input_files("#file-input", str(photos["big"]))
    page.wait_for_function(IN_MODEL, timeout=300_000)
    page.set_input_files("#file-input", str(photos["small"]))
    wait_until(page, lambda: closed)
    assert closed, "the replaced job kept running in the same worker"
    wait_for_state(page, "done", timeout_s=300)
    width, height = Image.open(photos["small"]).size
    assert page.locator("#result-size").inner_text() == f"{width} × {height} px"


def test_a_cancelled_save_keeps_the_live_view_working(recorded_context, base_url, photos):
    """Cancelling a save mid-render replaces the worker, and with it the cutout it held: the
    next option change must still bring a new view (the photo runs again), and saving works."""
    page, workers = page_with_engine(recorded_context, base_url, photos["medium"])
    closed: list = []
    workers[0].on("close", lambda worker: closed.append(worker))
    # Cancel once the worker says the full-size render is under way. A fixed delay after the
    # click raced it: a small photo's PNG can be done in under 30 ms.
    page.evaluate("""async () => {
      const stage = document.getElementById('progress-stage');
      const encoding = new Promise((resolve) => {
        const seen = new MutationObserver(() => {
          if (stage.textContent === 'Encoding the image') { seen.disconnect(); resolve(); }
        });
        seen.observe(stage, { childList: true, characterData: true, subtree: true });
      });
      document.getElementById('download').click();
      await encoding;
      document.getElementById('cancel').click();
    }""")
    wait_for_state(page, "done")
    wait_until(page, lambda: closed)
    assert closed, "the save was not cancelled mid-render"
    serial = page.evaluate("() => document.getElementById('viewer').dataset.previewSerial")
    page.click("label:has(#bg-white)")
    page.wait_for_function(
        "s => document.getElementById('viewer').dataset.previewSerial !== s"
        " && document.body.dataset.state === 'done'",
        arg=serial, timeout=300_000,
    )
    image = downloaded_image(page)
    assert image.size == Image.open(photos["medium"]).size
    assert image.mode == "RGB" or np.asarray(image.convert("RGBA"))[..., 3].min() == 255


# ---------------------------------------------------------------------------- WebGPU

# Makes SwiftShader look like a hardware adapter inside the worker (ORT does not look).
HARDWARE_PRELUDE = (
    "Object.defineProperty(GPUAdapterInfo.prototype, 'isFallbackAdapter', "
    "{ get() { return false; }, configurable: true });\n"
)
SLOW_WEBGPU_KEY = "offcut.webgpu-slow"


@pytest.fixture(scope="module")
def gpu_browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path(), args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
    )
    fast_by_default(browser)
    yield browser
    browser.close()


@pytest.fixture
def tiny_app(gpu_browser, base_url):
    """A context whose "Fast" model is the tiny one, and no service worker (so routes see
    every request, reloads included)."""
    data = tiny_model(0)
    context = gpu_browser.new_context(service_workers="block")
    index = json.loads(context.request.get(base_url + "/models/index.json").body())
    index = [tiny_entry("u2netp", data) if entry["id"] == "u2netp" else entry for entry in index]
    context.route("**/models/index.json", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(index)))
    context.route("**/models/u2netp/000.bin", lambda route: route.fulfill(
        status=200, content_type="application/octet-stream", body=data))
    yield context
    # A worker (a spare, a restart) may still be fetching through a route: its handler must
    # not fail once the context is gone (the error surfaced in the next test's setup).
    context.unroute_all(behavior="ignoreErrors")
    context.close()


def look_like_hardware(context) -> None:
    def prepend(route):
        response = route.fetch()
        route.fulfill(response=response, body=HARDWARE_PRELUDE + response.text())

    context.route("**/worker.js", prepend)


def open_app(context, base_url: str, query: str = ""):
    page = context.new_page()
    page.goto(f"{base_url}/{query}")
    wait_for_state(page, "ready")
    return page


def backend(page) -> str:
    return page.evaluate("() => document.body.dataset.backend")


@pytest.fixture(scope="module")
def tiny_photo(tmp_path_factory) -> Path:
    rng = np.random.default_rng(5)
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:40, 16:50] = (230, 80, 40)
    image += rng.integers(0, 20, image.shape, dtype=np.uint8)
    path = tmp_path_factory.mktemp("tiny") / "tiny.jpg"
    path.write_bytes(jpeg_bytes(image))
    return path


def test_a_software_adapter_is_used_only_when_forced(tiny_app, base_url):
    adapter = open_app(tiny_app, base_url).evaluate(
        "async () => (await navigator.gpu.requestAdapter())?.info?.isFallbackAdapter")
    assert adapter is True, "this Chromium should offer SwiftShader as a fallback adapter"
    assert backend(open_app(tiny_app, base_url)) == "wasm"
    assert backend(open_app(tiny_app, base_url, "?backend=webgpu")) == "webgpu"


def test_a_slow_first_webgpu_run_falls_back_to_wasm_and_is_remembered(
    tiny_app, base_url, tiny_photo
):
    look_like_hardware(tiny_app)
    page = open_app(tiny_app, base_url, "?webgpu-deadline=0.001")
    assert backend(page) == "webgpu"  # a "hardware" adapter is chosen automatically
    page.set_input_files("#file-input", str(tiny_photo))
    wait_for_state(page, "done", timeout_s=300)
    assert backend(page) == "wasm"
    assert "switched to the cpu" in page.locator("#warnings").inner_text().lower()
    assert page.evaluate("k => localStorage.getItem(k)", SLOW_WEBGPU_KEY)
    assert page.locator("#download").is_enabled()
    # This device now starts on WASM, with no deadline involved...
    assert backend(open_app(tiny_app, base_url)) == "wasm"
    # ...because of what it remembered: forgotten, WebGPU is chosen again.
    page.evaluate("k => localStorage.removeItem(k)", SLOW_WEBGPU_KEY)
    assert backend(open_app(tiny_app, base_url)) == "webgpu"


def test_a_first_webgpu_run_within_its_deadline_stays_on_webgpu(tiny_app, base_url, tiny_photo):
    look_like_hardware(tiny_app)
    page = open_app(tiny_app, base_url)
    page.set_input_files("#file-input", str(tiny_photo))
    wait_for_state(page, "done", timeout_s=300)
    assert backend(page) == "webgpu"
    assert not page.evaluate("k => localStorage.getItem(k)", SLOW_WEBGPU_KEY)
