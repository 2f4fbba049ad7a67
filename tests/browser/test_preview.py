"""The view is the file (issue 9): at 1280x800, for a table of background, shadow, crop and
canvas preset combinations, the live view has the file's pixel size and aspect, and the file
scaled down to the view's pixels matches it. Leaving a preset restores what it set; the first
view leads with the cutout; a format only the browser can decode (AVIF) is cut out."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browsing import open_sections, wait_for_state
from support import SHARED_DEV

PHOTO_NAME = "046"

# background, shadow, crop, preset: every value of each appears, in varied company.
COMBINATIONS = [
    ("transparent", False, False, "none"),
    ("white", True, False, "none"),
    ("colour", False, True, "none"),
    ("blur", True, True, "none"),
    ("photo", False, False, "social"),
    ("transparent", True, True, "social"),
    ("white", True, False, "marketplace"),
    ("photo", False, True, "marketplace"),
    ("colour", True, False, "passport"),
    ("blur", False, False, "custom"),
    ("transparent", True, False, "custom"),
]


@pytest.fixture(scope="module")
def photo_png(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("preview")
    source = SHARED_DEV / "images" / f"{PHOTO_NAME}.jpg"
    if source.exists():
        image = Image.open(source).convert("RGB")
    else:
        from skimage import data

        image = Image.fromarray(data.astronaut())
    path = folder / f"{PHOTO_NAME}.png"
    image.save(path)
    return path


@pytest.fixture(scope="module")
def backdrop(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("backdrop") / "backdrop.png"
    ys, xs = np.mgrid[:300, :200]
    Image.fromarray(np.dstack([xs, ys // 2, 255 - xs]).astype(np.uint8)).save(path)
    return path


def open_photo(context, base_url: str, photo: Path):
    page = context.new_page()
    page.goto(base_url + "/")
    wait_for_state(page, "ready")
    if not page.locator("#model-fast").is_checked():
        page.locator("#model-fast").check(force=True)
        wait_for_state(page, "ready", timeout_s=240)
    page.set_input_files("#file-input", str(photo))
    wait_for_state(page, "done", timeout_s=300)
    open_sections(page)
    return page


@pytest.fixture(scope="module")
def page(browser, base_url, photo_png, backdrop):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    page = open_photo(context, base_url, photo_png)
    page.set_input_files("#bg-photo-input", str(backdrop))  # chosen once, kept
    page.wait_for_function("() => document.getElementById('bg-photo').checked")
    yield page
    context.close()


def settle(page) -> None:
    """Wait until the view shows the render of the latest options (after the debounce)."""
    page.wait_for_timeout(200)
    page.wait_for_function("() => document.getElementById('viewer').dataset.preview === 'shown'",
                           timeout=120_000)


def configure(page, background: str, shadow: bool, crop: bool, preset: str) -> None:
    page.select_option("#preset", "none")
    page.select_option("#format", "png")
    page.select_option("#preset", preset)
    if preset == "custom":
        page.fill("#canvas-width", "900")
        page.locator("#canvas-width").dispatch_event("change")
        page.fill("#canvas-height", "500")
        page.locator("#canvas-height").dispatch_event("change")
    if background == "colour":
        page.check("#bg-colour", force=True)  # the colour fields show for "Colour" only
        page.fill("#bg-colour-hex", "#2a6f3c")
        page.locator("#bg-colour-hex").dispatch_event("change")
    else:
        page.check(f"#bg-{background}", force=True)
    page.set_checked("#shadow", shadow)
    if shadow:
        page.eval_on_selector("#shadow-opacity", "el => { el.value = '30';"
                              " el.dispatchEvent(new Event('input', {bubbles: true})); }")
    page.set_checked("#crop", crop)
    settle(page)


def view_pixels(page) -> np.ndarray:
    """The image the view shows now, at its own pixel size, RGBA (read through a canvas: the
    page's CSP does not let a script fetch blob: URLs)."""
    encoded = page.evaluate(
        """async () => {
          const image = document.getElementById('cutout-image');
          await image.decode();
          const canvas = document.createElement('canvas');
          canvas.width = image.naturalWidth;
          canvas.height = image.naturalHeight;
          const context = canvas.getContext('2d');
          context.drawImage(image, 0, 0);
          const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
          let text = '';
          for (let i = 0; i < data.length; i += 8192) {
            text += String.fromCharCode(...data.subarray(i, i + 8192));
          }
          return [canvas.width, canvas.height, btoa(text)];
        }"""
    )
    width, height, pixels = encoded
    return np.frombuffer(base64.b64decode(pixels), np.uint8).reshape(height, width, 4)


def download(page) -> Image.Image:
    with page.expect_download(timeout=120_000) as info:
        page.click("#download")
    image = Image.open(Path(info.value.path()))
    image.load()
    return image


def premultiplied(rgba: np.ndarray) -> np.ndarray:
    rgba = rgba.astype(np.float64)
    return np.dstack([rgba[..., :3] * rgba[..., 3:] / 255, rgba[..., 3]])


@pytest.mark.parametrize(("background", "shadow", "crop", "preset"), COMBINATIONS)
def test_the_view_is_the_file(page, background, shadow, crop, preset):
    configure(page, background, shadow, crop, preset)
    view = page.evaluate("({...document.getElementById('viewer').dataset})")
    shown = view_pixels(page)
    exported = download(page)
    width, height = exported.size
    # The size shown is the file's; the view's pixels have its aspect, at screen size.
    assert (int(view["outputWidth"]), int(view["outputHeight"])) == (width, height)
    assert page.inner_text("#result-size").startswith(f"{width} × {height} px")
    assert shown.shape[:2] == (int(view["previewHeight"]), int(view["previewWidth"]))
    preview_h, preview_w = shown.shape[:2]
    assert abs(preview_w * height / width - preview_h) <= 1
    device = page.evaluate("() => { const v = document.getElementById('viewer');"
                           " return Math.max(v.clientWidth, v.clientHeight)"
                           " * devicePixelRatio; }")
    assert max(preview_w, preview_h) <= max(device, 16) + 1
    # The view's canvas is laid out at the file's size (zoom 100% = one file pixel).
    layout = page.evaluate("() => { const c = document.getElementById('viewer-canvas');"
                           " return [c.offsetWidth, c.offsetHeight]; }")
    assert tuple(layout) == (width, height)
    scaled = np.asarray(exported.convert("RGBA").resize((preview_w, preview_h), Image.LANCZOS))
    difference = np.abs(premultiplied(scaled) - premultiplied(shown)).mean()
    assert difference <= 2, f"the view differs from the file by {difference:.2f}/255 on average"


def test_leaving_a_preset_restores_what_it_set(page, photo_png):
    configure(page, "transparent", False, False, "none")
    page.select_option("#preset", "marketplace")
    assert page.input_value("#format") == "jpeg"
    assert page.locator("#bg-white").is_checked() and page.locator("#bg-transparent").is_disabled()
    page.select_option("#preset", "none")
    assert page.input_value("#format") == "png"
    assert page.locator("#bg-transparent").is_checked()
    assert page.locator("#bg-transparent").is_enabled()

    # What the user changed while in the preset stays; what they did not change goes back.
    page.select_option("#preset", "passport")
    page.select_option("#format", "webp")
    page.select_option("#preset", "none")
    assert page.input_value("#format") == "webp"
    assert page.locator("#bg-transparent").is_checked()
    settle(page)  # and the view is the plain cutout again, at the photo's size
    width, height = Image.open(photo_png).size
    assert page.inner_text("#result-size").startswith(f"{width} × {height} px")


def test_first_view_leads_with_the_cutout(browser, base_url, photo_png):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = open_photo(context, base_url, photo_png)
        assert page.locator("#preview-exact").count() == 0  # the view is exact: no second look
        image_left, divider_x = page.evaluate(
            """() => {
              const canvas = document.getElementById('viewer-canvas').getBoundingClientRect();
              const divider = document.getElementById('compare-divider').getBoundingClientRect();
              return [canvas.left, divider.left + divider.width / 2];
            }"""
        )
        # Nothing of the original shows: the divider sits at the image's left edge.
        assert divider_x <= image_left + 1
        clip = page.evaluate("getComputedStyle(document.getElementById('layer-before')).clipPath")
        right_inset = float(clip.split()[1].rstrip("px"))
        width = Image.open(photo_png).size[0]
        assert right_inset >= width - 1, clip
        # The tag names only what shows: no "Original" while none of it is on screen.
        assert page.locator(".viewer-tag-before").is_hidden()
        assert page.locator(".viewer-tag-after").is_visible()
        # Zoomed in, the divider stays with the image's edge: still no strip of the original.
        for _ in range(3):
            page.click("#zoom-in")
        clip = page.evaluate("getComputedStyle(document.getElementById('layer-before')).clipPath")
        assert float(clip.split()[1].rstrip("px")) >= width - 1, clip
        assert page.locator(".viewer-tag-before").is_hidden()
        # Moved to the far end (keyboard), the original shows, and so does its tag.
        page.focus("#compare-divider")
        page.keyboard.press("End")
        assert page.locator(".viewer-tag-before").is_visible()
        assert page.locator(".viewer-tag-after").is_hidden()
        clip = page.evaluate("getComputedStyle(document.getElementById('layer-before')).clipPath")
        insets = [float(v) for v in re.findall(r"[-\d.]+", clip)]
        assert (insets[1] if len(insets) > 1 else insets[0]) <= 1, clip
    finally:
        context.close()


def test_avif_is_decoded_by_the_browser(browser, base_url, photo_png, tmp_path):
    """Pyodide's Pillow cannot read AVIF; Chromium can, and its pixels are cut out."""
    from PIL import features

    if not features.check("avif"):  # pragma: no cover - CPython's Pillow 11.3+ writes AVIF
        pytest.fail("this Pillow cannot write the AVIF fixture")
    source = Image.open(photo_png).convert("RGB")
    path = tmp_path / "photo.avif"
    source.save(path, "AVIF", quality=90)
    assert path.read_bytes()[4:12] == b"ftypavif"
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 800})
    try:
        page = open_photo(context, base_url, path)
        assert page.inner_text("#result-size").startswith(
            f"{source.size[0]} × {source.size[1]} px")
        cutout = np.asarray(download(page).convert("RGBA"))
        assert cutout.shape[:2] == (source.size[1], source.size[0])
        alpha = cutout[..., 3]
        assert (alpha == 255).mean() > 0.05 and (alpha == 0).mean() > 0.2
        # The browser's pixels are the photo's (AVIF is lossy: close, not equal).
        solid = alpha == 255
        original = np.asarray(source).astype(int)
        assert np.abs(cutout[..., :3].astype(int) - original)[solid].mean() < 6
    finally:
        context.close()


def test_the_waiting_photo_is_drawn_upright_at_screen_size(browser, base_url, tmp_path):
    """While the engine works, the photo shows at screen size (not the file's full decode,
    which an <img> keeps for the whole run), turned by its EXIF orientation."""
    stored = np.zeros((2000, 3000, 3), np.uint8)
    stored[:] = (40, 90, 200)
    stored[:500, :500] = (255, 0, 0)  # the stored top-left: upright top-right after a turn
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees clockwise to show
    path = tmp_path / "turned.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=92)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(base_url + "/")
        page.set_input_files("#file-input", str(path))
        page.wait_for_function("() => !document.getElementById('pending-image').hidden",
                               timeout=60_000)
        width, height, corners = page.evaluate(
            """() => {
              const canvas = document.getElementById('pending-image');
              const context = canvas.getContext('2d');
              const at = (x, y) => Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3));
              const w = canvas.width, h = canvas.height;
              return [w, h, [at(w - 5, 5), at(5, 5), at(w - 5, h - 5)]];
            }"""
        )
        assert max(width, height) <= 2560 and max(width, height) < 3000  # screen size
        assert height > width and abs(width / height - 2 / 3) < 0.01  # upright: portrait
        top_right, top_left, bottom_right = (np.array(c) for c in corners)
        assert top_right[0] > 200 and top_right[2] < 60, corners
        assert top_left[2] > 150 and bottom_right[2] > 150, corners
    finally:
        context.close()


def test_the_original_follows_the_first_view(browser, base_url, photo_png):
    """A new result is shown without the original (the view leads with the cutout) and the
    original comes right after: the compare view then shows the photo at the view's size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = open_photo(context, base_url, photo_png)
        page.wait_for_function(
            "() => !document.getElementById('viewer').classList.contains('no-original')"
            " && document.getElementById('original-image').naturalWidth > 0", timeout=30_000)
        view = page.evaluate("({...document.getElementById('viewer').dataset})")
        data_url = page.evaluate(
            """() => {
              const image = document.getElementById('original-image');
              const canvas = document.createElement('canvas');
              canvas.width = image.naturalWidth;
              canvas.height = image.naturalHeight;
              canvas.getContext('2d').drawImage(image, 0, 0);
              return canvas.toDataURL('image/png');
            }"""
        )
        shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",")[1])))
                           .convert("RGB")).astype(int)
        assert shown.shape[:2] == (int(view["previewHeight"]), int(view["previewWidth"]))
        photo = Image.open(photo_png).convert("RGB")
        scaled = np.asarray(photo.resize((shown.shape[1], shown.shape[0]), Image.LANCZOS))
        assert np.abs(scaled.astype(int) - shown).mean() < 3
    finally:
        context.close()
