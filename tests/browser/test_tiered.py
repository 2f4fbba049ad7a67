"""Tiered results: with "Best" chosen, a photo gets the small model's first look at once,
while Best still downloads or still runs; Best's cutout then replaces it.

Best's download is held in the middle (its parts from 002 on) by a route, so the page stays
in the "Best is downloading" state for as long as the test needs.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from browsing import wait_for_state
from support import subject_photo

HELD_PART = re.compile(r"/models/isnet-medium/(?:cpu-)?(\d+)\.bin")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return subject_photo(tmp_path_factory.mktemp("tiered"))


class HeldDownload:
    """Holds Best's model parts from 002 on until :meth:`release`; counts every part asked."""

    def __init__(self, context):
        self.held = []
        self.released = False
        self.asked = []
        context.route("**/models/isnet-medium/*.bin", self._handle)

    def _handle(self, route):
        index = int(HELD_PART.search(route.request.url).group(1))
        self.asked.append(index)
        if self.released or index < 2:
            route.continue_()
        else:
            self.held.append(route)

    def release(self):
        self.released = True
        for route in self.held:
            route.continue_()
        self.held.clear()


@pytest.fixture
def best_page(browser, base_url, request):
    """A first visit with Auto (the default: nothing remembered) or "Best" remembered as the
    user's model; no service worker, so the route sees every model request."""
    context = browser.new_context(service_workers="block", accept_downloads=True,
                                  viewport={"width": 1280, "height": 800},
                                  remembered_model=getattr(request, "param", "isnet-medium"))
    download = HeldDownload(context)
    page = context.new_page()
    page.goto(base_url + "/")
    yield page, download
    download.release()
    context.close()


def shown_alpha(page) -> np.ndarray:
    """The alpha channel of the cutout image on screen (the preview PNG), HxW uint8."""
    values = page.evaluate("""async () => {
        const image = document.getElementById('cutout-image');
        await image.decode();
        const canvas = new OffscreenCanvas(image.naturalWidth, image.naturalHeight);
        const context = canvas.getContext('2d');
        context.drawImage(image, 0, 0);
        const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
        const alpha = [];
        for (let i = 3; i < data.length; i += 4) alpha.push(data[i]);
        return { width: canvas.width, height: canvas.height, alpha };
    }""")
    return np.asarray(values["alpha"], np.uint8).reshape(values["height"], values["width"])


def preview_serial(page) -> int:
    return int(page.evaluate("document.getElementById('viewer').dataset.previewSerial"))


#: Records in window.spareWhileProcessing each spare worker that starts booting while a job
#: is processing.
SPARE_WATCH = """() => {
    window.spareWhileProcessing = [];
    const body = document.body;
    let spare = body.dataset.spare;
    new MutationObserver(() => {
        if (body.dataset.spare === 'booting' && spare !== 'booting'
            && body.dataset.state === 'processing') {
            window.spareWhileProcessing.push(performance.now());
        }
        spare = body.dataset.spare;
    }).observe(body, { attributes: true, attributeFilter: ['data-spare', 'data-state'] });
}"""


def wait_for_first_look(page, timeout_s: float = 240) -> None:
    page.wait_for_selector("#interim-note", state="visible", timeout=timeout_s * 1000)


@pytest.mark.parametrize("best_page", ["auto", "isnet-medium"], indirect=True)
def test_a_photo_picked_while_best_downloads_gets_a_first_look_then_best(best_page, photo,
                                                                         tmp_path, request):
    page, download = best_page
    chosen = request.node.callspec.params["best_page"]
    page.set_input_files("#file-input", str(photo))
    wait_for_first_look(page)
    # The first look is on screen while Best is still held mid-download.
    assert download.held, "Best's download should still be held"
    assert page.evaluate("document.body.dataset.state") == "processing"
    note = page.locator("#interim-note").inner_text()
    assert "Fast" in note and "Best" in note
    assert page.locator("#download-box").is_hidden(), "a first look is not offered for download"
    assert page.locator("#progress").is_visible()
    stage = page.locator("#progress-stage").inner_text()
    assert "Best" in stage, stage  # waiting for / downloading the Best model
    look = shown_alpha(page)
    transparent, opaque = (look < 16).mean(), (look > 240).mean()
    assert transparent > 0.05 and opaque > 0.05, (transparent, opaque)
    first_serial = preview_serial(page)

    download.release()
    wait_for_state(page, "done", timeout_s=400)
    assert page.locator("#interim-note").is_hidden()
    assert page.locator("#download-box").is_visible()
    assert page.locator("#model-fast").is_enabled(), "the models can be switched again"
    # Auto stays the choice (it stands for Best now) and is what the next visit starts with.
    radio = "#model-auto" if chosen == "auto" else "#model-best"
    assert page.locator(radio).is_checked()
    saved = page.evaluate("JSON.parse(localStorage.getItem('offcut.options'))")
    assert saved["model"] == chosen
    assert preview_serial(page) > first_serial
    assert "first look" in page.locator("#result-timings").text_content()
    best = shown_alpha(page)
    assert best.shape == look.shape  # the same view, now from Best
    assert not np.array_equal(best, look), "Best's cutout should replace the first look"
    # The part asked first was not asked again: the download was never restarted.
    assert download.asked.count(0) == 1, download.asked

    # Best is loaded now: the next photo still gets a first look before Best has run.
    flipped = tmp_path / f"flipped-{photo.name}"  # never beside the photo: ../shared is read-only
    Image.open(photo).transpose(Image.FLIP_LEFT_RIGHT).save(flipped, quality=95)
    page.set_input_files("#file-input", str(flipped))
    wait_for_first_look(page, timeout_s=120)
    assert page.evaluate("document.body.dataset.state") == "processing"
    wait_for_state(page, "done", timeout_s=300)
    assert page.locator("#interim-note").is_hidden()


def test_cancel_during_the_download_keeps_the_download_and_drops_the_first_look(best_page, photo):
    page, download = best_page
    page.set_input_files("#file-input", str(photo))
    wait_for_first_look(page)
    page.click("#cancel")
    # The first look goes with the job it stood for; the page is back where it was.
    page.wait_for_selector("#interim-note", state="hidden", timeout=10_000)
    assert page.locator("#drop-zone").is_visible()
    assert page.locator("#viewer-area").is_hidden()
    download.release()
    # The engine finishes starting on the download it had (not a restarted one).
    wait_for_state(page, "ready", timeout_s=400)
    assert download.asked.count(0) == 1, download.asked
    assert page.evaluate("document.body.dataset.backend") == "wasm"


def test_no_spare_worker_boots_while_best_runs_after_a_first_look(best_page, photo):
    """The first look answers the request in part; Best still runs in the worker. A spare
    booted then (3 s after the look) took both cores from that run and added a second
    Pyodide heap and IS-Net session at the peak."""
    page, download = best_page
    download.release()
    wait_for_state(page, "ready", timeout_s=400)
    page.evaluate(SPARE_WATCH)
    page.set_input_files("#file-input", str(photo))
    wait_for_first_look(page, timeout_s=120)
    wait_for_state(page, "done", timeout_s=400)
    details = page.locator("#result-timings").text_content()
    model_seconds = float(re.search(r"model ([\d.]+) s", details).group(1))
    # The spare is scheduled 3 s after the page goes quiet (after the look, with the bug): a
    # run not longer than that could not show it. Best's int8 run takes about 3.7 s here.
    assert model_seconds > 3.3, f"Best ran too briefly to show a spare booting: {details}"
    assert page.evaluate("window.spareWhileProcessing") == [], "a spare booted during the job"


def test_a_cancel_hands_over_to_the_spare_which_then_loads_best(best_page, photo, tmp_path):
    """The spare boots with the small model (one IS-Net session at rest, not two); when a
    cancel hands the page to it, it loads Best, and the next photo is Best's cutout again."""
    page, download = best_page
    download.release()
    wait_for_state(page, "ready", timeout_s=400)
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done", timeout_s=400)
    page.wait_for_function("() => document.body.dataset.spare === 'ready'", timeout=120_000)

    flipped = tmp_path / f"flipped-{photo.name}"
    Image.open(photo).transpose(Image.FLIP_LEFT_RIGHT).save(flipped, quality=95)
    page.set_input_files("#file-input", str(flipped))
    wait_for_first_look(page, timeout_s=120)
    page.click("#cancel")
    page.wait_for_function("() => document.body.dataset.state !== 'processing'", timeout=10_000)
    assert page.evaluate("document.body.dataset.spare || null") is None, "the spare took over"

    page.set_input_files("#file-input", str(flipped))
    wait_for_state(page, "done", timeout_s=400)
    assert page.locator("#model-best").is_checked()
    # Only a run of the big model gets a first look: this cutout is Best's.
    assert "first look" in page.locator("#result-timings").text_content()


def test_data_saver_keeps_auto_on_fast_and_downloads_no_best(browser, base_url, photo):
    context = browser.new_context(service_workers="block", viewport={"width": 1280, "height": 800},
                                  remembered_model=None)
    context.add_init_script(
        "localStorage.setItem('offcut.options', JSON.stringify({model: 'auto', dataSaver: true}))"
    )
    asked = []
    context.on("request", lambda r: asked.append(r.url) if "/models/isnet" in r.url else None)
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        wait_for_state(page, "ready")
        assert page.locator("#model-auto").is_checked()
        assert page.locator("#data-saver").is_checked()
        assert "data saver" in page.locator("#auto-note").inner_text().lower()
        # Sizes are what is downloaded: the parts of the files WASM runs (headless, no
        # WebGPU adapter: a CPU form where there is one), not their sources.
        index = context.request.get(base_url + "/models/index.json").json()
        for entry in index:
            served = sum(part["bytes"] for part in (entry.get("cpu") or entry)["parts"])
            size = page.locator(f'[data-size-for="{entry["id"]}"]').inner_text()
            assert size == f"{served / 1e6:.1f} MB download", (entry["id"], size)
        fast = next(e for e in index if e["id"] == "u2netp")
        assert page.locator("#auto-size").inner_text() == \
            f"{sum(p['bytes'] for p in fast['parts']) / 1e6:.1f} MB download"
        page.set_input_files("#file-input", str(photo))
        wait_for_state(page, "done")
        assert page.locator("#interim-note").is_hidden()  # Fast's own cutout, no first look
        assert asked == [], asked
        # Turning the data saver off makes Auto stand for Best again.
        page.uncheck("#data-saver")
        page.wait_for_function("() => document.body.dataset.state === 'done'"
                               " && !document.getElementById('model-options').disabled",
                               timeout=400_000)
        assert any("/models/isnet-medium/" in url for url in asked)
        # No WebGPU adapter: only the CPU file's parts (int8 compute), never WebGPU's.
        assert all("/models/isnet-medium/cpu-" in url for url in asked), asked
        assert page.locator("#model-auto").is_checked()
    finally:
        context.close()
