"""Decode image bytes into upright 8-bit RGB plus the source's own alpha, if any.

Handles EXIF orientation, palette and grey modes, CMYK, 16-bit and float images, and takes
the first frame of animations. Formats Pillow cannot read are named in the error (sniffed
from the file's magic bytes) so the UI can say "HEIC is not supported" rather than "corrupt".
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from offcut import colour
from offcut.errors import (
    CorruptImage,
    EmptyFile,
    ImageTooLarge,
    ImageTooSmall,
    NotAnImage,
    UnsupportedFormat,
)
from offcut.strips import to_array

#: Largest source accepted, in pixels. 50 MP keeps the browser (wasm32, 4 GiB address space)
#: well inside its memory with the banded post-processing; larger photos get a clear error.
MAX_PIXELS = 50_000_000
#: Shortest side accepted. The model sees a 320 or 1024 px square: a 1x1 image or a 3 px strip
#: stretched to that holds no subject, and a blank "done" would hide it.
MIN_SIDE = 16

_MAGIC = [
    (4, b"ftypheic", "HEIC"),
    (4, b"ftypheix", "HEIC"),
    (4, b"ftyphevc", "HEIC"),
    (4, b"ftypmif1", "HEIF"),
    (4, b"ftypmsf1", "HEIF"),
    (4, b"ftypavif", "AVIF"),
    (4, b"ftypavis", "AVIF"),
    (0, b"%PDF", "PDF"),
    (0, b"<svg", "SVG"),
    (0, b"<?xml", "SVG"),
    (0, b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (0, b"\xff\x4f\xff\x51", "JPEG 2000"),
    (0, b"\xff\x0a", "JPEG XL"),
    (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
]


#: Pillow refuses a PNG whose compressed chunks (text, and the iCCP colour profile) inflate
#: past 1 MB; camera and printer profiles can be bigger, and browsers read such files. The
#: pixel limits (MAX_PIXELS) still guard the image itself; a chunk may take this much.
PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, 32 * 1024 * 1024)

#: How the image files Pillow reads begin (offset, bytes): a file that starts like none of
#: these, nor like a format in _MAGIC, is not an image at all rather than a damaged one.
_IMAGE_STARTS = [
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"), (0, b"GIF89a"),
    (0, b"BM"),
    (0, b"II*\x00"), (0, b"MM\x00*"), (0, b"II+\x00"), (0, b"MM\x00+"),  # TIFF, BigTIFF
    (8, b"WEBP"),
    (0, b"\x00\x00\x01\x00"),  # ICO
    *[(0, b"P%d" % n) for n in range(1, 8)],  # PNM
    (0, b"8BPS"),  # PSD
    (0, b"qoif"),
    (0, b"DDS "),
]


def looks_like_image(data: bytes) -> bool:
    """Whether ``data`` begins as an image file that Pillow reads, or one in _MAGIC."""
    head = data[:32]
    starts = [*_IMAGE_STARTS, *((offset, magic) for offset, magic, _ in _MAGIC)]
    return any(head[offset : offset + len(magic)] == magic for offset, magic in starts)


#: Pillow's format ids -> the names people know.
_FORMAT_NAMES = {"JPEG2000": "JPEG 2000"}


@dataclass
class Decoded:
    """A decoded, upright image.

    Attributes
    ----------
    rgb : ndarray of uint8, shape (H, W, 3), C-contiguous
    alpha : ndarray of uint8, shape (H, W), or None
        The source's own transparency, kept so that cutting out an already transparent PNG
        never makes hidden pixels visible again.
    icc_profile : bytes or None
        The profile of ``rgb``: sRGB (:func:`offcut.colour.srgb_profile`), since decoding
        converts every tagged source to sRGB. Exports are tagged with it; the source's own
        profile is never copied.
    info : dict
        ``format``, ``mode`` (as stored), ``width``, ``height`` (upright), ``frames``,
        ``orientation`` (EXIF value, 1 when absent), ``profile`` (the source profile's name,
        None when untagged), ``colour`` ("srgb": untagged or sRGB already, "converted",
        or "unconverted: <why>" when a profile could not be applied).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    icc_profile: bytes | None
    info: dict = field(default_factory=dict)


def sniff_format(data: bytes) -> str | None:
    """Name a format Pillow may not read, from its magic bytes; None when unknown."""
    head = data[:32]
    for offset, magic, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    return "SVG" if _svg_text(data[:4096]) else None


def _svg_text(text: bytes) -> bool:
    """Whether ``text`` opens as an SVG after a byte-order mark, blank space and comments (an
    editor's "<!-- Generator: ... -->" line comes first in many)."""
    rest = text.lstrip(b"\xef\xbb\xbf \t\r\n")
    while rest.startswith(b"<!--") and b"-->" in rest:
        rest = rest[rest.index(b"-->") + 3 :].lstrip(b" \t\r\n")
    lowered = rest[:16].lower()
    return lowered.startswith((b"<svg", b"<?xml", b"<!doctype svg"))


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale a 16-bit or float single-channel array to uint8."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        # The range from finite samples only: one +inf pixel made the scale 0 (all black).
        finite = np.isfinite(array)
        top = float(array[finite].max()) if finite.any() else 1.0
        scale = np.float32(255.0 if top <= 1.0 else 255.0 / top)
        # NaN is 0; +inf and -inf are the ends of the range.
        clean = np.nan_to_num(array, nan=0.0, posinf=max(top, 1.0), neginf=0.0)
        return np.clip(clean * scale + np.float32(0.5), 0, 255).astype(np.uint8)
    # Integer images from Pillow ('I', 'I;16') hold 16-bit samples; >8 keeps the top byte.
    return np.clip(array.astype(np.int64) >> 8, 0, 255).astype(np.uint8)


def _normalise_mode(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (rgb uint8 HxWx3, alpha uint8 HxW or None) for any Pillow mode."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        grey = _to_uint8(to_array(image))
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2)), None
    has_alpha = mode in ("RGBA", "LA", "La", "PA", "RGBa") or (
        mode == "P" and "transparency" in image.info
    ) or (mode in ("L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = to_array(image if mode == "RGBA" else image.convert("RGBA"))
        alpha = np.ascontiguousarray(rgba[:, :, 3])
        rgb = np.ascontiguousarray(rgba[:, :, :3])
        return rgb, (None if alpha.min() == 255 else alpha)
    # convert() copies even when the mode is already RGB: skip it for the common case.
    return to_array(image if mode == "RGB" else image.convert("RGB")), None


#: How far past the pixel limit a photo may be and still be shrunk to fit when the user asks:
#: further is a decompression bomb's claim, not a camera's photo.
SHRINK_LIMIT = 4


def decode(data: bytes, max_pixels: int = MAX_PIXELS, min_side: int = 1, *,
           shrink: bool = False) -> Decoded:
    """Decode ``data`` (the whole file) into an upright :class:`Decoded`.

    Parameters
    ----------
    data : bytes
    max_pixels : int
        Larger images raise ImageTooLarge before any pixel is decoded.
    min_side : int
        Images with a shorter side raise ImageTooSmall (the pipeline passes
        :data:`MIN_SIDE`; a background photo may be 1x1).
    shrink : bool
        A photo over ``max_pixels`` (up to :data:`SHRINK_LIMIT` times it) is reduced by a
        whole factor to fit instead of refused (JPEG: while decoding); ``info["shrunk_from"]``
        holds its own size.

    Raises
    ------
    EmptyFile, UnsupportedFormat, CorruptImage, ImageTooLarge, ImageTooSmall
    """
    if not data:
        raise EmptyFile("the file is empty (0 bytes)")
    # Pillow's own guard (DecompressionBombError past ~179 MP, a warning past ~89 MP) would
    # fire inside open() with no size attached; ours runs below, on the header's size.
    previous_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return _decode(data, max_pixels, min_side, shrink)
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit


def check_size(width: int, height: int, *, max_pixels: int = MAX_PIXELS,
               min_side: int = 1) -> None:
    """The size limits, for any decoder (ours on the header, the browser's on its pixels).

    Raises
    ------
    ImageTooLarge
        Over ``max_pixels`` pixels; ``details`` has ``width``, ``height`` and ``limit``.
    ImageTooSmall
        A side under ``min_side``; ``details`` has ``width``, ``height`` and ``min_side``.
    """
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{width}x{height} is {width * height / 1e6:.1f} MP; "
            f"the limit is {max_pixels / 1e6:.0f} MP",
            width=width,
            height=height,
            limit=max_pixels,
        )
    if min(width, height) < min_side:
        raise ImageTooSmall(
            f"{width}x{height} is too small: the shorter side must be at least {min_side} px",
            width=width,
            height=height,
            min_side=min_side,
        )


def _unsupported(data: bytes, image_format: str | None = None) -> UnsupportedFormat | None:
    """An UnsupportedFormat error when the file is a format this Pillow cannot read."""
    name = sniff_format(data) or image_format
    if name:
        return UnsupportedFormat(f"{name} images cannot be decoded here", format=name)
    return None


def _decode(data: bytes, max_pixels: int, min_side: int, shrink: bool = False) -> Decoded:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        unsupported = _unsupported(data)
        if unsupported:
            raise unsupported from exc
        if not looks_like_image(data):
            raise NotAnImage("the file does not start like any image format") from exc
        raise CorruptImage("not a readable image (unknown or damaged format)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the image header is damaged: {exc}") from exc
    width, height = image.size
    factor = 1
    if shrink and max_pixels < width * height <= SHRINK_LIMIT * max_pixels:
        factor = math.ceil(math.sqrt(width * height / max_pixels))
        while math.ceil(width / factor) * math.ceil(height / factor) > max_pixels:
            factor += 1
        if image.format == "JPEG":  # decoded at 1/2, 1/4 or 1/8 already: less memory
            image.draft(image.mode, (math.ceil(width / factor), math.ceil(height / factor)))
    else:
        check_size(width, height, max_pixels=max_pixels, min_side=min_side)
    stored_mode = image.mode
    try:
        frames = getattr(image, "n_frames", 1)
        image.seek(0)
        orientation = int(image.getexif().get(0x0112, 1) or 1)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow identifies JPEG 2000 from its header even without openjpeg (Pyodide's build
        # has none) and fails only here, with "decoder jpeg2k not available".
        if "not available" in str(exc) or sniff_format(data) == "JPEG 2000":
            unsupported = _unsupported(data, _FORMAT_NAMES.get(image.format, image.format))
            if unsupported:
                raise unsupported from exc
        raise CorruptImage(f"the image data is damaged: {exc}") from exc
    if factor > 1:
        image = _shrunk(image, width, height, max_pixels, min_side)
    try:
        icc = image.info.get("icc_profile")
        # In place: a copy of the whole image when nothing is to be turned (the common case)
        # is 96 MB at 24 MP, for nothing.
        ImageOps.exif_transpose(image, in_place=True)
        rgb, alpha, colour_info = _srgb_pixels(image, icc)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImage(f"the image data is damaged: {exc}") from exc
    info = {
        "format": image.format or "unknown",
        "mode": stored_mode,
        "width": int(rgb.shape[1]),
        "height": int(rgb.shape[0]),
        "frames": int(frames),
        "orientation": orientation,
        **colour_info,
    }
    if factor > 1:
        info["shrunk_from"] = [int(width), int(height)]
    return Decoded(rgb=rgb, alpha=alpha, icc_profile=colour.srgb_profile(), info=info)


def _shrunk(image: Image.Image, width: int, height: int, max_pixels: int,
            min_side: int) -> Image.Image:
    """``image`` (loaded; a JPEG maybe drafted smaller already) box-reduced by a whole factor
    until it holds at most ``max_pixels``; its info (EXIF orientation, profile) is kept."""
    factor = 1
    while math.ceil(image.width / factor) * math.ceil(image.height / factor) > max_pixels:
        factor += 1
    reduced = image
    if factor > 1:
        try:
            reduced = image.reduce(factor)
        except ValueError:  # a mode reduce() does not take (palette, bilevel): as RGB(A)
            has_alpha = "transparency" in image.info or image.mode in ("PA", "LA")
            reduced = image.convert("RGBA" if has_alpha else "RGB").reduce(factor)
        reduced.info = dict(image.info)
        reduced.format = image.format
    check_size(reduced.width, reduced.height, max_pixels=max_pixels, min_side=min_side)
    return reduced


_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _srgb_pixels(image: Image.Image, icc: bytes | None):
    """(rgb uint8 HxWx3 in sRGB, alpha uint8 HxW or None, info) for any mode and profile."""
    try:
        profile = colour.read_profile(icc)
    except colour.UnsupportedProfile as exc:
        # Not one this module reads: LittleCMS where Pillow has it (CPython), else as it is.
        converted = colour.imagecms_to_srgb(image, icc)
        _, alpha = _normalise_mode(image)
        if converted is not None:
            rgb = to_array(converted)
            return rgb, alpha, {"profile": "(ImageCms)", "colour": "converted"}
        rgb, alpha = _normalise_mode(image)
        return rgb, alpha, {"profile": None, "colour": f"unconverted: {exc}"}
    if profile is None:
        rgb, alpha = _normalise_mode(image)
        return rgb, alpha, {"profile": None, "colour": "srgb"}
    info = {"profile": profile.name or profile.space, "colour": "converted"}
    if profile.space == "CMYK" and image.mode == "CMYK":
        return colour.to_srgb(to_array(image), profile), None, info
    rgb, alpha = _normalise_mode(image)
    grey = image.mode in _GREY_MODES
    if profile.is_srgb:
        return rgb, alpha, {**info, "colour": "srgb"}
    if profile.space == "RGB" and not grey and image.mode != "CMYK":
        return colour.to_srgb(rgb, profile), alpha, info
    if profile.space == "GRAY" and grey:
        return colour.to_srgb(rgb[:, :, :1], profile), alpha, info
    return rgb, alpha, {**info, "colour": f"unconverted: a {profile.space} profile on a "
                                          f"{image.mode} image"}
