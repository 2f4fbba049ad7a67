"""Strip-wise Pillow steps give exactly the whole-image results they replace."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from offcut import refine, strips
from offcut.finish import quantise_alpha, with_source_alpha

# Heights that are and are not multiples of the strips and factors; one under a strip.
SHAPES = [(1000, 777), (513, 1030), (257, 40)]


def _photo(height, width, seed=1):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    rgb[: height // 2] //= 7  # a dark half: averages differ between strips
    alpha = rng.integers(0, 256, (height, width), dtype=np.uint8)
    alpha[::3] = 0  # premultiplication decides these pixels' colour
    alpha[1::5] = 255
    return rgb, alpha


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("factor", [(1, 1), (2, 2), (3, 3), (5, 2), (1, 4), (7, 7)])
def test_reduce_equals_pillows_reduce(shape, factor):
    rgb, alpha = _photo(*shape)
    whole = Image.fromarray(rgb, "RGB").reduce(factor)
    np.testing.assert_array_equal(np.asarray(strips.reduce(rgb, "RGB", factor)),
                                  np.asarray(whole))
    whole = Image.fromarray(np.dstack([rgb, alpha]), "RGBA").reduce(factor)
    got = strips.reduce(rgb, "RGBA", factor, alpha=alpha)
    assert got.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(got), np.asarray(whole))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size, resample, gap", [
    ((320, 320), Image.LANCZOS, 3.0),   # prepare's shrink to u2netp
    ((100, 60), Image.BILINEAR, 2.0),   # refine's shrink to the working size
    ((50, 50), Image.BICUBIC, 1.0),
    ((300, 200), Image.BILINEAR, 2.0),  # too close to reduce first: Pillow's plain resize
])
def test_shrink_equals_pillows_resize_with_a_reducing_gap(shape, size, resample, gap):
    rgb, _ = _photo(*shape)
    whole = Image.fromarray(rgb, "RGB").resize(size, resample, reducing_gap=gap)
    np.testing.assert_array_equal(np.asarray(strips.shrink(rgb, size, resample, gap)),
                                  np.asarray(whole))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "I;16"])
def test_to_array_equals_asarray(mode):
    rgb, alpha = _photo(600, 301)
    if mode == "I;16":  # 16-bit grey, as a PNG decodes
        wide = (alpha.astype("<u2") * 257).tobytes()
        image = Image.frombytes(mode, (alpha.shape[1], alpha.shape[0]), wide)
    else:
        image = Image.fromarray({"RGB": rgb, "RGBA": np.dstack([rgb, alpha]), "L": alpha}[mode])
    got = strips.to_array(image)
    want = np.asarray(image)
    assert got.dtype == want.dtype and got.flags.c_contiguous and got.flags.writeable
    np.testing.assert_array_equal(got, want)


def test_uint8_alpha_is_the_quantised_float_alpha():
    # A soft diagonal edge over a big tiled image: tiles along the edge, constant tiles away.
    height, width = 900, 1300
    yy, xx = np.mgrid[0:height, 0:width]
    rgb = np.where(((xx + yy) > 1100)[..., None], (230, 150, 40), (20, 30, 120)).astype(np.uint8)
    low = np.asarray(Image.fromarray(((xx + yy) > 1100).astype(np.float32), "F")
                     .resize((64, 64), Image.BILINEAR), np.float32)
    for options in ({}, {"refine_edges": False}, {"method": "colour"}):
        floats = refine.upsample_alpha(low, rgb, **options)
        bytes8 = refine.upsample_alpha(low, rgb, dtype=np.uint8, **options)
        assert bytes8.dtype == np.uint8
        np.testing.assert_array_equal(bytes8, quantise_alpha(floats))
        assert 0 < np.count_nonzero((bytes8 > 0) & (bytes8 < 255))  # the edge stayed soft
    with pytest.raises(ValueError):
        refine.upsample_alpha(low, rgb, dtype=np.float64)


def test_with_source_alpha_multiplies_in_place():
    alpha8 = np.array([[0, 128, 255, 255]], np.uint8)
    source = np.array([[255, 255, 255, 128]], np.uint8)
    np.testing.assert_array_equal(with_source_alpha(alpha8.copy(), source), [[0, 128, 255, 128]])
    np.testing.assert_array_equal(with_source_alpha(alpha8.copy(), None), alpha8)
