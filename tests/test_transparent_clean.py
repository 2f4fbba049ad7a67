"""What was removed is gone: a transparent file holds nothing under alpha 0 (issue 23, item 1).

Every export path that can make a transparent file is tried: the whole cutout at its own size,
crop, canvas preset, size limit, shadow, an erase stroke, PNG and WebP. Dropping the alpha
channel of any of them must not give back the photo's background.
"""

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from offcut import pipeline
from offcut.decode import Decoded

BACKGROUND = (30, 160, 40)
SUBJECT = (220, 30, 30)


def soft_cutout(width=320, height=240) -> pipeline.Cutout:
    """A red disc with a soft rim (partial alpha) on a green photo whose foreground estimate,
    like the real one, keeps the photo's colours where alpha is 0."""
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[...] = BACKGROUND
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    distance = np.hypot(xx - width / 2, yy - height / 2)
    alpha = np.clip((70.0 - distance) / 6.0, 0.0, 1.0)
    alpha8 = np.round(alpha * 255).astype(np.uint8)
    rgb[alpha8 > 0] = SUBJECT
    decoded = Decoded(rgb=rgb, alpha=None, icc_profile=None,
                      info={"width": width, "height": height})
    return pipeline.Cutout(foreground=rgb.copy(), alpha=alpha8, decoded=decoded)


ERASE = {"mode": "erase", "radius": 20, "softness": 0, "points": [[160, 60], [160, 90]]}

OPTION_SETS = {
    "whole png": {},
    "whole webp": {"format": "webp"},
    "webp quality 50": {"format": "webp", "quality": 50},
    "crop": {"crop": True, "margin": 0.1},
    "crop webp": {"crop": True, "margin": 0.1, "format": "webp"},
    "custom canvas": {"preset": "custom", "canvas": [500, 300], "fill": 0.5},
    "size limit": {"max_size": 200},
    "shadow": {"shadow": {"opacity": 0.4, "blur": 0.03, "offset": [0.0, 0.02]}},
    "erase stroke": {"strokes": [ERASE]},
}


@pytest.mark.parametrize("name", OPTION_SETS)
def test_fully_transparent_pixels_are_zero_in_every_transparent_export(name):
    options = pipeline.ExportOptions.from_dict(OPTION_SETS[name])
    data, mime = pipeline.render(soft_cutout(), options)
    assert mime in ("image/png", "image/webp")
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))
    clear = pixels[..., 3] == 0
    assert clear.mean() > 0.1, "the export should be largely transparent"
    if mime == "image/webp":
        # Lossy WebP codes colour in 16 px blocks: next to the subject, its ringing leaves
        # some of the subject's colour under alpha 0. Farther away, nothing may remain.
        near = Image.fromarray((pixels[..., 3] > 0).astype(np.uint8) * 255)
        near = np.asarray(near.filter(ImageFilter.MaxFilter(33))) > 0
        # At the default quality a level or two is left there; at quality 50, four.
        tolerance = 2 if options.quality is None or options.quality >= 90 else 4
        assert int(pixels[clear & ~near][:, :3].max()) <= tolerance
    else:
        assert int(pixels[clear][:, :3].max()) == 0
    # Wherever alpha is 0, the photo's background colour is gone.
    background = np.all(np.abs(pixels[..., :3].astype(int) - BACKGROUND) < 40, axis=2)
    assert not (clear & background).any()
    # Partly transparent pixels keep their foreground colour (not blackened).
    soft = (pixels[..., 3] > 60) & (pixels[..., 3] < 200)
    assert soft.any()
    assert np.median(pixels[soft][:, 0]) > 150


def test_dropping_alpha_does_not_give_back_the_background():
    data, _ = pipeline.render(soft_cutout(), pipeline.ExportOptions())
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).reshape(-1, 3)
    green = (rgb[:, 1] > 120) & (rgb[:, 0] < 80)
    assert not green.any()


def test_a_transparent_file_is_much_smaller_without_the_background():
    """The removed background is noise the encoder had to keep: a photo-like field."""
    cutout = soft_cutout(640, 480)
    noise = np.random.default_rng(1).integers(0, 255, cutout.foreground.shape, np.uint8)
    clear = cutout.alpha == 0
    cutout.foreground[clear] = noise[clear]
    data, _ = pipeline.render(cutout, pipeline.ExportOptions())
    kept = np.dstack([cutout.foreground, cutout.alpha])
    buffer = io.BytesIO()
    Image.fromarray(kept, "RGBA").save(buffer, "PNG", compress_level=1)
    assert len(data) * 4 < len(buffer.getvalue())


@pytest.mark.parametrize("extra", [[], ["--format", "webp"], ["--crop"]])
def test_cli_cutouts_hold_nothing_under_alpha_zero(tmp_path, photo, extra):
    from offcut import cli

    name, data = photo
    (tmp_path / name).write_bytes(data)
    out = tmp_path / "out"
    status = cli.main([str(tmp_path / name), "-o", str(out), "--model", "u2netp", "-q", *extra])
    assert status == 0
    (result,) = out.iterdir()
    pixels = np.asarray(Image.open(result).convert("RGBA"))
    clear = pixels[..., 3] == 0
    assert clear.mean() > 0.05
    if result.suffix == ".webp":
        near = Image.fromarray((pixels[..., 3] > 0).astype(np.uint8) * 255)
        near = np.asarray(near.filter(ImageFilter.MaxFilter(33))) > 0
        assert int(pixels[clear & ~near][:, :3].max()) <= 2
    else:
        assert not pixels[clear][:, :3].any()
