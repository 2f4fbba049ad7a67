"""Encode uint8 pixels to PNG, JPEG or WebP bytes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from offcut.colour import profile_space
from offcut.errors import InvalidOption

FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

#: Written into every file made here, by the page and the CLI alike: a PNG ``tEXt`` chunk
#: ``Software`` (before the pixels) or the EXIF ``Software`` tag (0x0131) of a JPEG or WebP.
#: The CLI knows its earlier outputs by it, not by their names (see ``offcut.cli``).
SOFTWARE = "offcut"
#: EXIF's Software tag.
SOFTWARE_TAG = 0x0131


def _marker(name: str) -> dict:
    """The save options that write :data:`SOFTWARE` into a ``name`` file."""
    if name == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_text("Software", SOFTWARE)
        return {"pnginfo": info}
    exif = Image.Exif()
    exif[SOFTWARE_TAG] = SOFTWARE
    return {"exif": exif.tobytes()}


def software(image: Image.Image) -> str | None:
    """The Software an opened image names (PNG text or EXIF), or None; never raises."""
    try:
        value = image.info.get("Software")
        if not isinstance(value, str):
            value = image.getexif().get(SOFTWARE_TAG)
    except Exception:  # noqa: BLE001 - a damaged EXIF block names no software
        return None
    return value.strip("\x00 ") if isinstance(value, str) else None


def encode(
    pixels: np.ndarray | Image.Image,
    fmt: str = "png",
    *,
    quality: int = 92,
    icc_profile: bytes | None = None,
    png_compress_level: int = 1,
) -> bytes:
    """Encode an image.

    Parameters
    ----------
    pixels : ndarray of uint8, shape (H, W), (H, W, 3) or (H, W, 4), or an L, RGB or RGBA Image
        RGBA only for PNG and WebP; JPEG has no alpha, so flatten first. HxW is greyscale
        (an alpha matte). An Image is encoded as it is (no array copy of a big one).
    fmt : {"png", "jpeg", "jpg", "webp"}
    quality : int
        1..100 for JPEG and WebP.
    icc_profile : bytes or None
        The pixels' profile (sRGB after decoding), attached so viewers know the colours. A
        profile for another kind of pixels (a GRAY profile on RGB(A), an RGB one on a matte)
        would make an invalid file and is left out.
    png_compress_level : int
        zlib level. 1 is several times faster than 6 for ~10 % larger files: in the browser the
        encode is on the user's critical path.

    Every file carries :data:`SOFTWARE` (see there).
    """
    name = FORMATS.get(fmt.lower())
    if name is None:
        raise InvalidOption(f"unknown format {fmt!r}; use png, jpeg or webp")
    if isinstance(pixels, Image.Image):
        channels = {"L": 1, "RGB": 3, "RGBA": 4}.get(pixels.mode, 0)
        if not channels:
            raise InvalidOption(f"expected an L, RGB or RGBA image, got {pixels.mode}")
    else:
        channels = 1 if pixels.ndim == 2 else (pixels.shape[2] if pixels.ndim == 3 else 0)
        if pixels.dtype != np.uint8 or channels not in (1, 3, 4):
            raise InvalidOption(
                f"expected uint8 HxW(x3/4) pixels, got {pixels.dtype} {pixels.shape}")
    if name == "JPEG" and channels == 4:
        raise InvalidOption("JPEG has no transparency: choose a background colour")
    if not 1 <= int(quality) <= 100:
        raise InvalidOption(f"quality must be 1..100, got {quality}")
    image = (pixels if isinstance(pixels, Image.Image)
             else Image.fromarray(pixels, {1: "L", 3: "RGB", 4: "RGBA"}[channels]))
    options: dict = _marker(name)
    space = profile_space(icc_profile)
    if icc_profile and space in (None, "GRAY" if channels == 1 else "RGB"):
        options["icc_profile"] = icc_profile
    if name == "PNG":
        options["compress_level"] = png_compress_level
    else:
        options["quality"] = int(quality)
    buffer = io.BytesIO()
    image.save(buffer, name, **options)
    return buffer.getvalue()
