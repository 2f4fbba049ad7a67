"""Backgrounds, shadow, crop, presets, export options and touch-up (issue: finished assets)."""

import io

import numpy as np
import pytest
from PIL import Image

from offcut import effects, layout, pipeline, touchup
from offcut.decode import Decoded
from offcut.errors import InvalidOption, OffcutError


def synthetic_cutout(width=300, height=200, box=(100, 50, 200, 150)) -> pipeline.Cutout:
    """A red opaque rectangle (the subject) on a transparent field, on a green photo."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[...] = (30, 160, 40)
    alpha = np.zeros((height, width), np.uint8)
    left, top, right, bottom = box
    rgb[top:bottom, left:right] = (220, 30, 30)
    alpha[top:bottom, left:right] = 255
    decoded = Decoded(rgb=rgb, alpha=None, icc_profile=None,
                      info={"width": width, "height": height})
    return pipeline.Cutout(foreground=rgb.copy(), alpha=alpha, decoded=decoded)


def render_array(cutout, photo=None, **options):
    data, mime = pipeline.render(cutout, pipeline.ExportOptions.from_dict(options), photo)
    return np.asarray(Image.open(io.BytesIO(data))), mime


def fill_ratio(alpha_or_mask: np.ndarray) -> float:
    box = layout.subject_box(alpha_or_mask)
    height, width = alpha_or_mask.shape
    return max((box[2] - box[0]) / width, (box[3] - box[1]) / height)


def subject_mask(pixels: np.ndarray) -> np.ndarray:
    """Red subject pixels in a flattened image, as a uint8 mask."""
    red = (pixels[..., 0] > 150) & (pixels[..., 1] < 100)
    return red.astype(np.uint8) * 255


def test_marketplace_preset_exact_canvas_white_and_fill():
    pixels, mime = render_array(synthetic_cutout(), preset="marketplace")
    assert mime == "image/jpeg" and pixels.shape == (2000, 2000, 3)
    assert abs(fill_ratio(subject_mask(pixels)) - 0.85) <= 0.01
    corners = pixels[:100, :100]
    assert (corners == 255).all()  # pure #FFFFFF, even through JPEG


def test_marketplace_png_background_is_exactly_white_everywhere_outside():
    pixels, _ = render_array(synthetic_cutout(), preset="marketplace", format="png")
    mask = subject_mask(pixels) > 0
    grown = np.zeros_like(mask)
    rows, cols = np.nonzero(mask)
    grown[rows.min() - 3 : rows.max() + 4, cols.min() - 3 : cols.max() + 4] = True
    assert (pixels[~grown] == 255).all()


@pytest.mark.parametrize("name", ["social", "passport"])
def test_presets_canvas_and_fill(name):
    preset = layout.PRESETS[name]
    pixels, _ = render_array(synthetic_cutout(), preset=name, background="#ffffff",
                             format="png")
    assert pixels.shape[:2] == (preset.height, preset.width)
    assert abs(fill_ratio(subject_mask(pixels)) - preset.fill) <= 0.01


def test_passport_subject_stands_on_the_bottom_edge():
    pixels, _ = render_array(synthetic_cutout(), preset="passport", format="png")
    rows = np.nonzero(subject_mask(pixels).any(axis=1))[0]
    assert rows.max() == pixels.shape[0] - 1


def test_custom_canvas_and_fill():
    pixels, _ = render_array(synthetic_cutout(), preset="custom", canvas=[640, 480], fill=0.5,
                             background="#000000", format="png")
    assert pixels.shape == (480, 640, 3)
    assert abs(fill_ratio(subject_mask(pixels)) - 0.5) <= 0.01
    with pytest.raises(InvalidOption):
        render_array(synthetic_cutout(), preset="custom")


@pytest.mark.parametrize(("margin", "expected"), [("10%", (90, 40, 210, 160)),
                                                  ("25px", (75, 25, 225, 175)),
                                                  ("0", (100, 50, 200, 150))])
def test_crop_to_subject_with_margin(margin, expected):
    pixels, _ = render_array(synthetic_cutout(), crop=True, margin=margin)
    left, top, right, bottom = expected
    assert pixels.shape[:2] == (bottom - top, right - left)


def test_transparent_png_alpha_untouched_and_flattening_exact():
    cutout = synthetic_cutout()
    cutout.alpha[60, 120] = 100  # one partly transparent pixel
    pixels, _ = render_array(cutout)
    np.testing.assert_array_equal(pixels[..., 3], cutout.alpha)
    flat, _ = render_array(cutout, background="#0000ff")
    assert (flat[cutout.alpha == 0] == (0, 0, 255)).all()
    np.testing.assert_array_equal(flat[cutout.alpha == 255], cutout.foreground[cutout.alpha == 255])
    # 100/255 of red (220, 30, 30) over blue: exact integer blend.
    expected = [(220 * 100 + 0 * 155 + 127) // 255, (30 * 100 + 127) // 255,
                (30 * 100 + 255 * 155 + 127) // 255]
    np.testing.assert_array_equal(flat[60, 120], expected)


def test_shadow_stays_within_its_reach_and_under_the_subject():
    cutout = synthetic_cutout()
    plain, _ = render_array(cutout, background="#ffffff")
    shaded, _ = render_array(cutout, background="#ffffff",
                             shadow={"opacity": 0.3, "blur": 0.05, "offset": [0.0, 0.1]})
    extent = 100  # subject is 100 x 100
    reach = int(0.05 * extent * 3 + 0.1 * extent) + 2  # 3 sigma of blur plus the offset
    far = np.ones(plain.shape[:2], bool)
    far[50 - reach : 150 + reach, 100 - reach : 200 + reach] = False
    np.testing.assert_array_equal(shaded[far], plain[far])
    assert (shaded <= plain).all()  # a shadow only darkens
    assert shaded[155, 150].max() < 255  # just below the subject: visible
    subject = cutout.alpha == 255
    np.testing.assert_array_equal(shaded[subject], plain[subject])


def test_shadow_kept_in_png_alpha():
    cutout = synthetic_cutout()
    pixels, _ = render_array(cutout, shadow={"opacity": 0.4, "blur": 0.02, "offset": [0, 0.1]})
    below = pixels[155, 150]
    assert 0 < below[3] <= round(0.4 * 255) and tuple(below[:3]) == (0, 0, 0)
    np.testing.assert_array_equal(pixels[cutout.alpha == 255][:, 3], 255)


def test_photo_background_cover_fit_and_blur_background():
    cutout = synthetic_cutout()
    photo = io.BytesIO()
    Image.new("RGB", (50, 400), (10, 20, 200)).save(photo, "PNG")
    pixels, _ = render_array(cutout, photo.getvalue(), background="photo")
    assert pixels.shape == (200, 300, 3) and tuple(pixels[5, 5]) == (10, 20, 200)
    blurred, _ = render_array(cutout, background="blur")
    # The blurred original: green far from the subject, no sharp copy of the red rectangle.
    assert blurred[5, 5, 1] > 120 and blurred.shape == (200, 300, 3)
    with pytest.raises(InvalidOption):
        render_array(cutout, background="photo")


def test_max_size_and_mask_export():
    cutout = synthetic_cutout()
    pixels, _ = render_array(cutout, max_size=150)
    assert max(pixels.shape[:2]) == 150
    mask, mime = render_array(cutout, mask=True)
    assert mime == "image/png" and mask.ndim == 2
    np.testing.assert_array_equal(mask, cutout.alpha)


def test_low_resolution_warning():
    assert pipeline.low_resolution_warning({"width": 1200, "height": 900})
    assert pipeline.low_resolution_warning({"width": 4000, "height": 3000}) is None


def test_touchup_restore_and_erase():
    cutout = synthetic_cutout()
    strokes = [
        {"mode": "restore", "radius": 10, "softness": 0, "points": [[30, 30], [60, 30]]},
        {"mode": "erase", "radius": 8, "softness": 0.5, "points": [[150, 100]]},
    ]
    alpha, colour = touchup.apply_strokes(cutout.alpha, cutout.foreground, cutout.decoded.rgb,
                                          strokes)
    assert alpha[30, 45] == 255 and alpha[30, 5] == 0  # restored along the stroke only
    assert tuple(colour[30, 45]) == (30, 160, 40)  # the photo's colour comes back
    assert alpha[100, 150] == 0 and alpha[100, 170] == 255  # erased at the centre only
    assert 0 < alpha[100, 159] < 255  # soft edge
    assert cutout.alpha[30, 45] == 0  # inputs untouched
    pixels, _ = render_array(cutout, strokes=strokes)
    np.testing.assert_array_equal(pixels[..., 3], alpha)


def test_shadow_opacity_validated():
    with pytest.raises(InvalidOption):
        effects.drop_shadow(np.zeros((4, 4), np.uint8), 1.5, 0.1, (0, 0))


def test_plain_options_are_recognised():
    assert pipeline.ExportOptions.from_dict({"format": "png", "quality": 80}).is_plain()
    for change in ({"background": "white"}, {"crop": True}, {"mask": True},
                   {"format": "jpeg"}, {"preset": "social"}, {"max_size": 100},
                   {"strokes": [{"mode": "erase", "radius": 2, "points": [[1, 1]]}]},
                   {"shadow": {"opacity": 0.2}}):
        assert not pipeline.ExportOptions.from_dict(change).is_plain(), change


# ---------------------------------------------------------------------------- preview


def soft_cutout(width=1200, height=800) -> pipeline.Cutout:
    """A textured photo with a soft-edged disc as the subject: edges and colours that a
    wrong scale or offset in the preview would show."""
    ys, xs = np.mgrid[:height, :width].astype(np.float32)
    rgb = np.stack([(xs * 255 / width), (ys * 255 / height),
                    128 + 60 * np.sin(xs / 23) * np.cos(ys / 31)], axis=2).astype(np.uint8)
    distance = np.hypot(xs - 0.55 * width, ys - 0.45 * height)
    alpha = np.clip((0.28 * height - distance) / 6 + 0.5, 0, 1)
    alpha8 = (alpha * 255 + 0.5).astype(np.uint8)
    decoded = Decoded(rgb=rgb, alpha=None, icc_profile=None,
                      info={"width": width, "height": height})
    return pipeline.Cutout(foreground=rgb.copy(), alpha=alpha8, decoded=decoded)


def premultiplied(pixels: np.ndarray) -> np.ndarray:
    """RGBA -> (r*a, g*a, b*a, a) / 255 as float (RGB as it is, with alpha 255)."""
    pixels = pixels.astype(np.float64)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    if pixels.shape[2] == 3:
        return np.dstack([pixels, np.full(pixels.shape[:2], 255.0)])
    alpha = pixels[..., 3:] / 255
    return np.dstack([pixels[..., :3] * alpha, pixels[..., 3]])


PREVIEW_TABLE = [
    {},
    {"background": "#ffffff"},
    {"background": "#12a4c8", "shadow": {"opacity": 0.4}},
    {"background": "blur"},
    {"background": "photo", "crop": True},
    {"shadow": {"opacity": 0.3}},
    {"crop": True, "margin": "10%"},
    {"crop": True, "shadow": {"opacity": 0.25}, "background": "#ffffff"},
    {"preset": "marketplace"},
    {"preset": "marketplace", "shadow": {"opacity": 0.2}},
    {"preset": "social", "background": "blur"},
    {"preset": "passport", "shadow": {"opacity": 0.2}},
    {"preset": "custom", "canvas": [640, 400], "fill": 0.5, "background": "photo"},
    {"preset": "social", "max_size": 500, "crop": True},
    {"mask": True, "crop": True},
    {"strokes": [{"mode": "erase", "radius": 40, "softness": 0.5,
                  "points": [[600, 300], [700, 360]]}]},
]


@pytest.mark.parametrize("options", PREVIEW_TABLE, ids=lambda o: ",".join(o) or "plain")
def test_preview_is_the_export_at_screen_size(options):
    """The preview has the file's aspect and says the file's size; the file scaled down to
    the preview's size matches the preview (mean difference <= 2/255)."""
    cutout = soft_cutout()
    photo = io.BytesIO()
    Image.fromarray(np.asarray(soft_cutout(90, 160).decoded.rgb)).save(photo, "PNG")
    photo = photo.getvalue() if options.get("background") == "photo" else None
    export_options = pipeline.ExportOptions.from_dict({**options, "format": "png"})
    data, _ = pipeline.render(cutout, export_options, photo)
    export = Image.open(io.BytesIO(data))
    shown = pipeline.preview(cutout, export_options, photo, max_side=400)
    height, width = shown.after.shape[:2]
    assert shown.size == export.size
    assert max(width, height) == min(400, max(export.size))
    assert abs(width * export.size[1] / export.size[0] - height) <= 1  # same aspect
    assert shown.before.shape == shown.after.shape
    scaled = np.asarray(export.resize((width, height), Image.LANCZOS))
    difference = np.abs(premultiplied(scaled) - premultiplied(shown.after)).mean()
    assert difference <= 2, difference


def test_preview_reuses_the_reduced_cutout(monkeypatch):
    """After the first preview of an image, option changes do no full-resolution work."""
    cutout = soft_cutout()
    full = cutout.alpha.shape
    pipeline.preview(cutout, pipeline.ExportOptions(), max_side=300)
    stacked = []
    original_rgba = pipeline.compose.rgba_image
    monkeypatch.setattr(pipeline.compose, "rgba_image",
                        lambda fg, a: stacked.append(a.shape) or original_rgba(fg, a))
    for options in ({"background": "#ffffff"}, {"crop": True}, {"preset": "social"},
                    {"shadow": {"opacity": 0.3}}):
        pipeline.preview(cutout, pipeline.ExportOptions.from_dict(options), max_side=300)
    assert full not in stacked
    pipeline.render(cutout, pipeline.ExportOptions())  # the download is full size
    assert full in stacked


def test_preview_of_a_small_part_enlarged_uses_the_full_resolution(monkeypatch):
    """A tight crop of a big photo shown large: the reduced copy would be blurry there."""
    monkeypatch.setattr(pipeline, "REDUCED_SIDE", 200)
    cutout = soft_cutout()
    options = pipeline.ExportOptions.from_dict({"crop": True, "margin": "0"})
    shown = pipeline.preview(cutout, options, max_side=600)
    data, _ = pipeline.render(cutout, options)
    export = np.asarray(Image.open(io.BytesIO(data)))
    assert shown.after.shape[:2] == export.shape[:2]
    assert np.abs(premultiplied(export) - premultiplied(shown.after)).mean() <= 1


def test_start_pixels_takes_decoded_pixels(records):
    rgba = np.zeros((120, 160, 4), np.uint8)
    rgba[..., :3] = (40, 90, 200)
    rgba[..., 3] = 255
    job = pipeline.start_pixels(rgba, records["u2netp"], "AVIF")
    assert job.decoded.rgb.shape == (120, 160, 3) and job.decoded.alpha is None
    assert job.decoded.info["format"] == "AVIF" and job.decoded.info["width"] == 160
    assert job.model_input.dtype == np.float32
    rgba[0, 0, 3] = 0
    assert pipeline.start_pixels(rgba, records["u2netp"]).decoded.alpha[0, 0] == 0
    with pytest.raises(InvalidOption):
        pipeline.start_pixels(rgba[..., :3], records["u2netp"])


@pytest.mark.parametrize(("width", "height", "code"), [
    (1, 1, "image-too-small"), (3, 2000, "image-too-small"), (8000, 7000, "image-too-large"),
])
def test_start_pixels_keeps_the_decoders_size_limits(records, width, height, code):
    """The browser's decoder (AVIF) must not let through what ours refuses (issue 11 item 6)."""
    rgba = np.broadcast_to(np.uint8(200), (height, width, 4))  # no memory for the big one
    with pytest.raises(OffcutError) as raised:
        pipeline.start_pixels(rgba, records["u2netp"], "AVIF")
    assert raised.value.code == code
    assert (raised.value.details["width"], raised.value.details["height"]) == (width, height)


# ---------------------------------------------------------------------------- shadow


def test_shadow_lies_on_the_ground_under_the_subject():
    """A ground shadow: below the subject's bottom edge, nothing above its top or beside its
    upper part (the old shadow was a blurred copy of the whole silhouette: a grey halo)."""
    alpha8 = np.zeros((400, 400), np.uint8)
    alpha8[100:300, 150:250] = 255  # a 100 x 200 upright box standing at row 300
    shadow = effects.drop_shadow(alpha8, 0.3, 0.03, (0.0, 0.02)).astype(int)
    assert shadow[:200].max() == 0  # nothing above the subject's lower half
    assert shadow[:, :120].max() == 0 and shadow[:, 280:].max() == 0  # no wide halo
    below = shadow[300:330, 150:250]
    assert below.max() >= 0.6 * 0.3 * 255  # darkest near the base...
    rows = shadow[300:, 200]
    assert rows[0] >= rows[10] >= rows[25]  # ...fading away from it
    assert shadow.max() <= round(0.3 * 255)


def test_shadow_scales_with_the_subject():
    """Lengths are fractions of the subject's size: the same shadow at half the size."""
    alpha8 = np.zeros((400, 400), np.uint8)
    alpha8[100:300, 150:250] = 255
    big = effects.drop_shadow(alpha8, 0.3, 0.03, (0.0, 0.02))
    small = effects.drop_shadow(alpha8[::2, ::2].copy(), 0.3, 0.03, (0.0, 0.02))
    halved = np.asarray(Image.fromarray(big).resize((200, 200), Image.BOX)).astype(int)
    assert np.abs(halved - small.astype(int)).mean() < 1.0


@pytest.mark.parametrize("options", [{}, {"crop": True, "background": "#ffffff"},
                                     {"preset": "social", "shadow": {"opacity": 0.3}}],
                         ids=["plain", "crop-white", "social-shadow"])
def test_preview_from_the_box_reduced_copy_is_the_export(monkeypatch, options):
    """A photo over REDUCED_SIDE is reduced by a whole-pixel box step (here 1200x800 by 9,
    which divides neither side) before the view is drawn: still the file at screen size."""
    monkeypatch.setattr(pipeline, "REDUCED_SIDE", 140)
    cutout = soft_cutout()
    export_options = pipeline.ExportOptions.from_dict({**options, "format": "png"})
    shown = pipeline.preview(cutout, export_options, max_side=100)
    factor = pipeline._reduced(cutout, export_options, cutout.alpha, cutout.foreground)[0]
    assert factor < 0.5  # the reduced copy was used
    export = Image.open(io.BytesIO(pipeline.render(cutout, export_options)[0]))
    height, width = shown.after.shape[:2]
    scaled = np.asarray(export.resize((width, height), Image.LANCZOS))
    difference = np.abs(premultiplied(scaled) - premultiplied(shown.after)).mean()
    assert difference <= 3, difference


@pytest.mark.parametrize("options", [{}, {"crop": True, "margin": "10%"}, {"preset": "social"},
                                     {"background": "blur"}],
                         ids=["plain", "crop", "social", "blur"])
def test_a_preview_without_its_before_then_the_before_alone(monkeypatch, options):
    """A new result's view leads with the cutout: its original may come after it, and is
    then the very one a full preview would have given (here from the box-reduced copy)."""
    monkeypatch.setattr(pipeline, "REDUCED_SIDE", 140)
    export_options = pipeline.ExportOptions.from_dict(options)
    whole = pipeline.preview(soft_cutout(), export_options, max_side=100)
    cutout = soft_cutout()
    reduced_source = []
    original = pipeline._reduced_source
    monkeypatch.setattr(pipeline, "_reduced_source",
                        lambda c: reduced_source.append(1) or original(c))
    first = pipeline.preview(cutout, export_options, max_side=100, before=False)
    assert first.before is None
    np.testing.assert_array_equal(first.after, whole.after)
    # The original photo is not reduced for a view that does not show it (but a blurred
    # original as the background needs it).
    assert bool(reduced_source) == (options.get("background") == "blur")
    later = pipeline.preview_before(cutout, export_options, max_side=100)
    assert later.after is None and later.size == whole.size
    np.testing.assert_array_equal(later.before, whole.before)


@pytest.mark.parametrize("options", [
    {}, {"background": "#336699"}, {"background": "blur"}, {"shadow": {"opacity": 0.3}},
    {"mask": True}, {"fmt": "webp"},
])
def test_a_whole_image_download_is_the_same_file_without_the_drawn_layer(monkeypatch, options):
    """A file that is the whole cutout at its own size is composed from the cutout's arrays
    (no full-size copies): the bytes are those of drawing the RGBA layer as any crop does."""
    cutout = soft_cutout()
    export_options = pipeline.ExportOptions.from_dict(options)
    direct = pipeline.render(cutout, export_options)
    if not options:  # the transparent PNG: the cutout's own colour and alpha, losslessly,
        # with nothing kept under alpha 0
        pixels = np.asarray(Image.open(io.BytesIO(direct[0])))
        visible = cutout.alpha > 0
        assert np.array_equal(pixels[..., :3][visible], cutout.foreground[visible])
        assert not pixels[..., :3][~visible].any() and (~visible).any()
        assert np.array_equal(pixels[..., 3], cutout.alpha)
    monkeypatch.setattr(pipeline, "_whole", lambda shape, source_shape: False)
    assert pipeline.render(cutout, export_options) == direct


def test_a_whole_image_download_on_a_background_makes_no_rgba_copy(monkeypatch):
    """On a background the file is blended straight from the cutout's colour and alpha."""
    cutout = soft_cutout()
    stacked = []
    original_rgba = pipeline.compose.rgba_image
    monkeypatch.setattr(pipeline.compose, "rgba_image",
                        lambda fg, a: stacked.append(a.shape) or original_rgba(fg, a))
    pipeline.render(cutout, pipeline.ExportOptions(background="white", fmt="jpeg"))
    assert stacked == []
    pipeline.render(cutout, pipeline.ExportOptions(background="white", crop=True))
    assert stacked == [cutout.alpha.shape]  # a crop draws the layer
