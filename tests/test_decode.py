import io

import numpy as np
import pytest
from PIL import Image

from offcut.decode import decode, sniff_format
from offcut.errors import (
    CorruptImage,
    EmptyFile,
    ImageTooLarge,
    ImageTooSmall,
    NotAnImage,
    UnsupportedFormat,
)


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def pattern(width: int = 5, height: int = 3) -> np.ndarray:
    """An asymmetric RGB pattern: every pixel distinct, so any flip or rotation shows."""
    values = np.arange(width * height * 3, dtype=np.uint8).reshape(height, width, 3) * 5
    return values


# Orientation -> what a viewer must do to the stored pixels (numpy, independent of Pillow).
ORIENTATIONS = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_gives_upright_pixels(orientation):
    stored = pattern()
    image = Image.fromarray(stored)
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode(encode(image, "PNG", exif=exif.tobytes()))
    expected = ORIENTATIONS[orientation](stored)
    assert decoded.rgb.shape == expected.shape
    np.testing.assert_array_equal(decoded.rgb, expected)
    assert decoded.info["orientation"] == orientation
    assert decoded.info["width"] == expected.shape[1]


def test_rgb_is_uint8_hwc_contiguous():
    decoded = decode(encode(Image.fromarray(pattern())))
    assert decoded.rgb.dtype == np.uint8
    assert decoded.rgb.flags.c_contiguous
    assert decoded.alpha is None


def test_palette_with_transparency_keeps_alpha():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((1, 1), 1)
    data = encode(image, "PNG", transparency=0)
    decoded = decode(data)
    assert decoded.alpha is not None and decoded.alpha.dtype == np.uint8
    assert decoded.alpha[1, 1] == 255 and decoded.alpha[0, 0] == 0
    assert tuple(decoded.rgb[1, 1]) == (0, 255, 0)


def test_grey_with_alpha():
    grey = np.full((3, 3), 100, np.uint8)
    alpha = np.array([[0, 128, 255]] * 3, np.uint8)
    image = Image.fromarray(np.dstack([grey, alpha]), "LA")
    decoded = decode(encode(image))
    np.testing.assert_array_equal(decoded.rgb[..., 0], grey)
    np.testing.assert_array_equal(decoded.alpha, alpha)


def test_opaque_alpha_is_dropped():
    rgba = np.dstack([pattern(), np.full((3, 5), 255, np.uint8)])
    assert decode(encode(Image.fromarray(rgba, "RGBA"))).alpha is None


def test_cmyk_jpeg_becomes_rgb():
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    decoded = decode(encode(image, "JPEG", quality=100))
    assert decoded.info["mode"] == "CMYK"
    red, green, blue = decoded.rgb[4, 4].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_grey_scales_to_eight_bits():
    values = np.array([[0, 257 * 128, 65535]], dtype=np.uint16)
    image = Image.new("I;16", (3, 1))
    image.frombytes(values.astype("<u2").tobytes())
    data = encode(image, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")  # really 16-bit on disk
    decoded = decode(data)
    assert decoded.rgb.dtype == np.uint8
    np.testing.assert_array_equal(decoded.rgb[0, :, 0], [0, 128, 255])


def test_one_bit_image():
    image = Image.new("1", (4, 2), 1)
    decoded = decode(encode(image))
    assert decoded.rgb.shape == (2, 4, 3) and decoded.rgb.max() == 255


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (6, 6), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    decoded = decode(data)
    assert decoded.info["frames"] == 2
    assert decoded.rgb[0, 0, 0] > 200 and decoded.rgb[0, 0, 2] < 50


def test_empty_file():
    with pytest.raises(EmptyFile) as info:
        decode(b"")
    assert info.value.code == "empty-file"


def test_garbage_is_not_an_image_and_a_broken_header_is_corrupt():
    with pytest.raises(NotAnImage):
        decode(b"this is not an image at all")
    with pytest.raises(CorruptImage):  # it starts as a PNG: a damaged one
        decode(b"\x89PNG\r\n\x1a\n" + b"this is not an image at all")


def test_truncated_jpeg_is_corrupt():
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    data = encode(Image.fromarray(noise), "JPEG")
    with pytest.raises(CorruptImage):
        decode(data[: len(data) // 3])


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"\x00\x00\x00\x18ftypheic", "HEIC"),
        (b"\x00\x00\x00\x1cftypavif", "AVIF"),
        (b"%PDF-1.7", "PDF"),
    ],
)
def test_unsupported_formats_are_named(head, name):
    assert sniff_format(head + b"\x00" * 32) == name
    with pytest.raises(UnsupportedFormat) as info:
        decode(head + b"\x00" * 64)
    assert info.value.details["format"] == name


def test_too_large_is_refused_before_decoding():
    data = encode(Image.new("RGB", (400, 300)), "PNG")
    with pytest.raises(ImageTooLarge) as info:
        decode(data, max_pixels=100_000)
    assert info.value.details == {"width": 400, "height": 300, "limit": 100_000}


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (a decompression-bomb shape), with a
    tiny, unfinished image stream: only a decoder that trusts the header would allocate it."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [10_000, 30_000])
def test_decompression_bombs_are_too_large_not_a_crash(side):
    """30000^2 is past Pillow's own DecompressionBombError limit, 10000^2 past its warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        with pytest.raises(ImageTooLarge) as info:
            decode(png_header_only(side, side))
    assert info.value.code == "image-too-large"
    assert info.value.details["width"] == side


@pytest.mark.parametrize("size", [(1, 1), (3, 20_000), (20_000, 3), (15, 400)])
def test_tiny_and_strip_images_are_too_small(size):
    from offcut.decode import MIN_SIDE

    data = encode(Image.new("RGB", size, (200, 30, 30)))
    with pytest.raises(ImageTooSmall) as info:
        decode(data, min_side=MIN_SIDE)
    assert info.value.code == "image-too-small"
    assert info.value.details == {"width": size[0], "height": size[1], "min_side": MIN_SIDE}
    assert decode(data).rgb.shape == (size[1], size[0], 3)  # a 1x1 background photo is fine


def jpeg2000_bytes() -> bytes:
    return encode(Image.fromarray(pattern(32, 24)), "JPEG2000")


def test_jpeg2000_without_openjpeg_is_unsupported_not_damaged(monkeypatch):
    """Pyodide's Pillow has no openjpeg: it recognises the header, then cannot decode."""
    from PIL import Image as PILImage

    data = jpeg2000_bytes()
    assert sniff_format(data) == "JPEG 2000"
    monkeypatch.delattr(PILImage.core, "jpeg2k_decoder")
    with pytest.raises(UnsupportedFormat) as info:
        decode(data)
    assert info.value.details["format"] == "JPEG 2000"


def test_jpeg2000_codestream_is_named():
    assert sniff_format(b"\xff\x4f\xff\x51\x00\x2f" + b"\x00" * 40) == "JPEG 2000"


# ------------------------------------------------------------------ colour profiles -> sRGB

import profiles  # noqa: E402
from offcut import colour  # noqa: E402


def colour_ramp() -> np.ndarray:
    """Saturated and muted colours, dark and light: 16x16 RGB."""
    rng = np.random.default_rng(7)
    values = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    values[0, :4] = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]
    return values


def lcms_reference(image: Image.Image, icc: bytes, mode: str = "RGB") -> np.ndarray:
    """LittleCMS (CPython's Pillow) converting to its own built-in sRGB: the reference."""
    from PIL import ImageCms

    return np.asarray(ImageCms.profileToProfile(
        image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
        outputMode=mode, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)).astype(int)


@pytest.mark.parametrize(
    ("name", "make", "primaries", "curve"),
    [
        ("adobe", profiles.adobe_like, profiles.ADOBE_PRIMARIES,
         lambda v: v ** profiles.ADOBE_GAMMA),
        ("p3", profiles.p3_like, profiles.P3_PRIMARIES, colour.srgb_decode),
    ],
)
@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP"])
def test_wide_gamut_rgb_sources_become_srgb(name, make, primaries, curve, fmt):
    pixels = colour_ramp()
    icc = make()
    options = {"lossless": True} if fmt == "WEBP" else {}
    decoded = decode(encode(Image.fromarray(pixels), fmt, icc_profile=icc, **options))
    got = decoded.rgb.astype(int)
    expected = profiles.expected_from_primaries(pixels, primaries, curve)
    assert np.abs(got - expected).max() <= 1  # the textbook maths, independently written
    assert np.abs(got - lcms_reference(Image.fromarray(pixels), icc)).max() <= 1
    assert np.abs(got - pixels).mean() > 5  # the conversion really changed something
    assert decoded.info["colour"] == "converted" and "test profile" in decoded.info["profile"]
    assert decoded.icc_profile == colour.srgb_profile()


def test_adobe_rgb_jpeg_is_exported_as_srgb_not_adobe(records):
    """Through the pipeline (the model's output is irrelevant here: a fixed disc stands in)."""
    from offcut import pipeline

    icc = profiles.adobe_like()
    source = Image.fromarray(np.full((64, 64, 3), (60, 140, 90), np.uint8))
    job = pipeline.start(encode(source, "JPEG", quality=100, icc_profile=icc), records["u2netp"])
    cutout = pipeline.complete(job, disc_mask(records["u2netp"].size))
    for fmt in ("png", "jpeg", "webp"):
        data, _ = pipeline.render(cutout, pipeline.ExportOptions(fmt=fmt, background="white"))
        written = Image.open(io.BytesIO(data))
        assert written.info.get("icc_profile") == colour.srgb_profile(), fmt
        centre = np.asarray(written.convert("RGB"))[32, 32].astype(int)
        expected = profiles.expected_from_primaries(
            np.array([[60, 140, 90]]), profiles.ADOBE_PRIMARIES,
            lambda v: v ** profiles.ADOBE_GAMMA)[0]
        assert np.abs(centre - expected).max() <= (6 if fmt == "jpeg" else 2), (fmt, centre)


def disc_mask(side: int) -> np.ndarray:
    """A stand-in model output: a centred disc (float32 (1, 1, side, side))."""
    yy, xx = np.mgrid[:side, :side]
    inside = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side / 3) ** 2
    return inside.astype(np.float32)[None, None]


def test_gray_profile_converts_and_never_lands_in_an_rgba_png(records):
    from offcut import pipeline

    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (64, 1))
    icc = profiles.gray_linear()
    data = encode(Image.fromarray(grey, "L"), "PNG", icc_profile=icc)
    decoded = decode(data)
    expected = np.round(colour.srgb_encode(grey / 255) * 255).astype(int)  # linear -> sRGB
    assert np.abs(decoded.rgb[..., 1].astype(int) - expected).max() <= 1
    assert decoded.info["colour"] == "converted"
    cutout = pipeline.complete(pipeline.start(data, records["u2netp"]),
                               disc_mask(records["u2netp"].size))
    png, _ = pipeline.render(cutout)
    written = Image.open(io.BytesIO(png))
    assert written.mode == "RGBA"
    assert colour.profile_space(written.info.get("icc_profile")) == "RGB"


def test_sixteen_bit_grey_with_gray_profile():
    values = np.array([[0, 257 * 64, 257 * 128, 65535]] * 16, dtype=np.uint16)
    image = Image.new("I;16", (4, 16))
    image.frombytes(values.astype("<u2").tobytes())
    decoded = decode(encode(image, "PNG", icc_profile=profiles.gray_linear()))
    expected = np.round(colour.srgb_encode(np.array([0, 64, 128, 255]) / 255) * 255)
    np.testing.assert_allclose(decoded.rgb[0, :, 0], expected, atol=1)


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG"])
def test_cmyk_with_profile_uses_the_profile(fmt):
    """Pure inks come out as the profile's ink colours, not the naive 255-minus ones."""
    patches = [(255, 0, 0, 0), (0, 255, 0, 0), (0, 0, 255, 0), (0, 0, 0, 255), (0, 0, 0, 0),
               (128, 128, 0, 0)]
    inks = np.zeros((16, 16 * len(patches), 4), np.uint8)
    for index, patch in enumerate(patches):
        inks[:, 16 * index : 16 * (index + 1)] = patch
    icc = profiles.cmyk_profile()
    options = {"quality": 100, "subsampling": 0} if fmt == "JPEG" else {}
    decoded = decode(encode(Image.fromarray(inks, "CMYK"), fmt, icc_profile=icc, **options))
    got = decoded.rgb[8, 8::16].astype(int)
    tolerance = 1 if fmt == "TIFF" else 4
    for index, ink in enumerate("cmyk"):
        assert np.abs(got[index] - profiles.INKS[ink]).max() <= tolerance, ink
    assert np.abs(got[4] - 255).max() <= tolerance  # paper white
    half = profiles._encode8(profiles.ink_colour(128 / 255, 128 / 255, 0, 0))
    assert np.abs(got[5] - half).max() <= tolerance + 1
    naive = np.asarray(Image.fromarray(inks, "CMYK").convert("RGB"))[8, 8].astype(int)
    assert np.abs(naive - profiles.INKS["c"]).max() > 50  # ignoring the profile would show


def test_cmyk_conversion_agrees_with_littlecms():
    noise = np.random.default_rng(3).integers(0, 256, (48, 48, 4), dtype=np.uint8)
    icc = profiles.cmyk_profile()
    got = decode(encode(Image.fromarray(noise, "CMYK"), "TIFF", icc_profile=icc)).rgb.astype(int)
    difference = np.abs(got - lcms_reference(Image.fromarray(noise, "CMYK"), icc))
    # LittleCMS interpolates tetrahedrally in an optimised 8-bit link, we multilinearly in the
    # profile's Lab grid: both are 1.2 levels from the exact ink model on average.
    assert difference.mean() < 1.0 and np.percentile(difference, 99) <= 8
    exact = profiles._encode8(profiles.ink_colour(*(noise.reshape(-1, 4).T / 255)))
    exact = exact.reshape(got.shape)
    assert np.abs(got - exact).mean() < 2.0


def test_srgb_tagged_source_is_untouched():
    pixels = colour_ramp()
    decoded = decode(encode(Image.fromarray(pixels), "PNG", icc_profile=colour.srgb_profile()))
    np.testing.assert_array_equal(decoded.rgb, pixels)
    assert decoded.info["colour"] == "srgb"


def test_damaged_profile_keeps_the_pixels():
    pixels = colour_ramp()
    broken = colour.srgb_profile()[:140] + b"\xff" * 40  # header fine, tag table garbage
    decoded = decode(encode(Image.fromarray(pixels), "PNG", icc_profile=broken))
    np.testing.assert_array_equal(decoded.rgb, pixels)
    assert decoded.info["colour"].startswith("unconverted")
    assert decoded.icc_profile == colour.srgb_profile()


def test_srgb_profile_is_valid_for_littlecms():
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(io.BytesIO(colour.srgb_profile()))
    assert "sRGB" in ImageCms.getProfileDescription(profile)
    pixels = colour_ramp()
    same = lcms_reference(Image.fromarray(pixels), colour.srgb_profile())
    assert np.abs(same - pixels).max() <= 1


def test_profile_fallback_without_littlecms(monkeypatch):
    """Pyodide's Pillow imports ImageCms but raises ImportError on use (no LittleCMS core):
    an unreadable profile then leaves the pixels as they are instead of failing the decode."""
    from PIL import ImageCms

    def missing(*args, **kwargs):
        raise ImportError("The _imagingcms C module is not installed")

    monkeypatch.setattr(ImageCms, "ImageCmsProfile", missing)
    stand_in = colour.build_profile("RGB", "XYZ", [*colour._text_tags("v4 lut stand-in"),
                                                   (b"A2B0", b"mAB \0\0\0\0" + b"\0" * 40)])
    pixels = colour_ramp()
    decoded = decode(encode(Image.fromarray(pixels), "PNG", icc_profile=stand_in))
    np.testing.assert_array_equal(decoded.rgb, pixels)
    assert decoded.info["colour"].startswith("unconverted")


def test_a_photo_over_the_limit_is_shrunk_to_fit_when_asked():
    """The page's "Shrink and continue": a whole-factor reduction to within the limit, for
    JPEG while decoding, upright by EXIF as the full size would be."""
    limit = 1_000_000
    for fmt in ("JPEG", "PNG"):
        image = Image.new("RGB", (1800, 1200), (200, 40, 40))
        image.paste((40, 40, 200), (0, 0, 900, 1200))  # blue left half: orientation visible
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees when shown
        buffer = io.BytesIO()
        image.save(buffer, fmt, exif=exif.tobytes())
        data = buffer.getvalue()
        with pytest.raises(ImageTooLarge):
            decode(data, max_pixels=limit)
        shrunk = decode(data, max_pixels=limit, shrink=True)
        height, width = shrunk.rgb.shape[:2]
        assert width * height <= limit and shrunk.info["shrunk_from"] == [1800, 1200]
        assert (width, height) == (600, 900) if fmt == "PNG" else width * height > limit / 4
        assert width < height  # turned upright, as without shrinking
        top, bottom = shrunk.rgb[5, width // 2], shrunk.rgb[-5, width // 2]
        assert top[2] > 150 and bottom[0] > 150  # the blue half is on top after the turn
    # Far past the limit is a bomb's claim: refused even when asked.
    with pytest.raises(ImageTooLarge):
        decode(data, max_pixels=limit // 10, shrink=True)
