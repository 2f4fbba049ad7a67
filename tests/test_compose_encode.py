import io

import numpy as np
import pytest
from PIL import Image

from offcut import compose, effects
from offcut.encode import encode
from offcut.errors import InvalidOption


def test_parse_colour():
    assert compose.parse_colour("#FF8000") == (255, 128, 0)
    assert compose.parse_colour("f80") == (255, 136, 0)
    assert compose.parse_colour("white") == (255, 255, 255)
    with pytest.raises(InvalidOption):
        compose.parse_colour("#12345")


def test_rgba_image_stacks_foreground_and_alpha():
    rng = np.random.default_rng(3)
    fg = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    image = compose.rgba_image(fg[:, ::-1], alpha)  # a strided view is read as its values
    assert image.mode == "RGBA" and image.size == (7, 5)
    pixels = np.asarray(image)
    np.testing.assert_array_equal(pixels[..., :3], fg[:, ::-1])
    np.testing.assert_array_equal(pixels[..., 3], alpha)


def test_flatten_exact_integer_blend():
    fg = np.array([[[200, 100, 0]] * 3], np.uint8)
    alpha = np.array([[0, 255, 51]], np.uint8)
    out = effects.composite(fg, alpha, None, (255, 255, 255))
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])  # background exactly
    np.testing.assert_array_equal(out[0, 1], [200, 100, 0])  # subject exactly
    # 51/255 = 0.2: 200*.2 + 255*.8 = 244, 100*.2 + 255*.8 = 224, 0 + 204 = 204
    np.testing.assert_array_equal(out[0, 2], [244, 224, 204])


@pytest.mark.parametrize("with_shadow", [False, True])
@pytest.mark.parametrize("background", ["image", "colour", "transparent"])
def test_composite_in_bands_matches_whole(monkeypatch, background, with_shadow):
    rng = np.random.default_rng(1)
    fg = rng.integers(0, 256, (50, 7, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (50, 7), dtype=np.uint8)
    bg = rng.integers(0, 256, (50, 7, 3), dtype=np.uint8)
    bg = {"image": bg, "colour": (9, 99, 199), "transparent": None}[background]
    shadow = rng.integers(0, 256, (50, 7), dtype=np.uint8) if with_shadow else None
    whole = effects.composite(fg, alpha, shadow, bg)
    monkeypatch.setattr(effects, "BAND_ROWS", 8)
    np.testing.assert_array_equal(effects.composite(fg, alpha, shadow, bg), whole)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_encode_keeps_alpha(fmt):
    pixels = np.zeros((4, 4, 4), np.uint8)
    pixels[..., 3] = 200
    image = Image.open(io.BytesIO(encode(pixels, fmt, quality=100)))
    assert image.mode == "RGBA"
    if fmt == "png":
        np.testing.assert_array_equal(np.asarray(image), pixels)


def test_jpeg_refuses_alpha_and_bad_quality():
    with pytest.raises(InvalidOption):
        encode(np.zeros((2, 2, 4), np.uint8), "jpeg")
    with pytest.raises(InvalidOption):
        encode(np.zeros((2, 2, 3), np.uint8), "jpeg", quality=0)
    with pytest.raises(InvalidOption):
        encode(np.zeros((2, 2, 3), np.uint8), "gif")


def test_icc_profile_is_attached():
    data = encode(np.zeros((2, 2, 3), np.uint8), "png", icc_profile=b"fake-profile")
    assert Image.open(io.BytesIO(data)).info["icc_profile"] == b"fake-profile"
