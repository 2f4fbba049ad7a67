"""Backgrounds, shadow, crop, presets, export options and touch-up (issue: finished assets)."""

import io

import numpy as np
import pytest
from PIL import Image

from offcut import effects, layout, pipeline, touchup
from offcut.decode import Decoded
from offcut.errors import InvalidOption


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
