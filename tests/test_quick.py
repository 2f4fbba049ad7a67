"""The first look by the small model (offcut.quick): reduced work only, the user's look kept."""

import io

import numpy as np
import pytest
from PIL import Image

from offcut import pipeline, quick
from offcut.decode import Decoded


def _photo(width=900, height=600):
    """A red disc on a blue-grey ground, as JPEG-free PNG bytes."""
    yy, xx = np.mgrid[0:height, 0:width]
    inside = (xx - width / 2) ** 2 + (yy - height / 2) ** 2 < (height / 3) ** 2
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = (60, 80, 110)
    rgb[inside] = (220, 30, 30)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue(), inside


def _disc_output(side):
    """What a perfect small model would say about :func:`_photo`: the disc, 0..1."""
    yy, xx = np.mgrid[0:side, 0:side]
    # The square input squeezes the 3:2 photo: the disc becomes an ellipse.
    radius_x, radius_y = side / 3 * 600 / 900, side / 3
    inside = ((xx - side / 2) / radius_x) ** 2 + ((yy - side / 2) / radius_y) ** 2 < 1
    return inside.astype(np.float32).reshape(1, 1, side, side)


def test_reduced_source_shrinks_the_long_side_and_keeps_the_full_size_info():
    rgb = np.zeros((300, 500, 3), np.uint8)
    alpha = np.full((300, 500), 200, np.uint8)
    decoded = Decoded(rgb, alpha, None, {"width": 500, "height": 300})
    small = quick.reduced_source(decoded, 100)
    assert small.rgb.shape == (60, 100, 3) and small.rgb.dtype == np.uint8
    assert small.alpha.shape == (60, 100) and small.rgb.flags.c_contiguous
    assert small.info["width"] == 500  # the file the look stands for
    assert quick.reduced_source(decoded, 800) is decoded  # never enlarged


def test_quick_look_finds_the_subject_at_the_reduced_size(records):
    record = records["u2netp"]
    data, inside = _photo()
    job = pipeline.start(data, records["isnet-medium"])
    model_input = quick.quick_input(job, record, 450)
    views = 2 if record.flip else 1
    assert model_input.shape == (views, 3, record.size, record.size)
    assert model_input.dtype == np.float32
    output = np.concatenate([_disc_output(record.size)] * views)
    if views == 2:
        output[1] = output[1][..., ::-1]
    cutout = quick.quick_cutout(job, output, record)
    assert cutout.alpha.shape == (300, 450) and cutout.alpha.dtype == np.uint8
    expected = np.asarray(Image.fromarray(inside).resize((450, 300), Image.NEAREST))
    agreement = ((cutout.alpha > 127) == expected).mean()
    assert agreement > 0.97
    # The chosen model's job is untouched: its input is still the full photo's.
    assert job.model_input.shape[-1] == records["isnet-medium"].size


def test_quick_preview_shows_the_look_and_stands_for_the_full_file(records):
    record = records["u2netp"]
    data, _ = _photo()
    job = pipeline.start(data, records["isnet-medium"])
    quick.quick_input(job, record, 300)
    output = _disc_output(record.size)
    if record.flip:
        output = np.concatenate([output, output[..., ::-1]])
    cutout = quick.quick_cutout(job, output, record)
    options = pipeline.ExportOptions(background="#00ff00")
    shown = pipeline.preview(cutout, options, None, 300)
    assert shown.after.shape == (200, 300, 4)
    corner = shown.after[2, 2, :3]
    assert tuple(corner) == (0, 255, 0)  # the chosen background colour, not the photo's
    assert quick.full_size(shown.size, job.quick, False, None) == (900, 600)
    assert quick.full_size(shown.size, job.quick, False, 450) == (450, 300)
    assert quick.full_size((1080, 1080), job.quick, True, None) == (1080, 1080)


def test_quick_cutout_needs_quick_input(records):
    data, _ = _photo(64, 48)
    job = pipeline.start(data, records["u2netp"])
    with pytest.raises(ValueError):
        quick.quick_cutout(job, _disc_output(320), records["u2netp"])
