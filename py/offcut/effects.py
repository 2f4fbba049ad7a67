"""Shadow and backgrounds, with integer blending so every platform gives the same pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from offcut.errors import InvalidOption

#: Rows per band in :func:`composite`: bounds the temporaries whatever the image size.
BAND_ROWS = 256


def drop_shadow(
    alpha8: np.ndarray, opacity: float, blur: float, offset: tuple[float, float]
) -> np.ndarray:
    """A soft drop shadow from the cutout's alpha.

    Parameters
    ----------
    alpha8 : ndarray of uint8, shape (H, W)
    opacity : float
        Peak shadow opacity, 0.10..0.40 in the UI (0.15 by default).
    blur : float
        Gaussian radius as a fraction of the subject's longer side.
    offset : (float, float)
        (x, y) shift as fractions of the subject's longer side (positive: right, down).

    Returns
    -------
    ndarray of uint8, shape (H, W): the shadow's alpha. Zero beyond blur + offset of the subject.
    """
    if not 0 <= opacity <= 1:
        raise InvalidOption(f"shadow opacity must be 0..1, got {opacity}")
    from offcut.layout import subject_box

    box = subject_box(alpha8)
    if box is None or opacity == 0:
        return np.zeros_like(alpha8)
    extent = max(box[2] - box[0], box[3] - box[1])
    dx, dy = (int(round(v * extent)) for v in offset)
    radius = max(0.0, blur * extent)
    shifted = np.zeros_like(alpha8)
    height, width = alpha8.shape
    src = alpha8[max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    shadow = Image.fromarray(shifted, "L")
    if radius > 0:
        shadow = shadow.filter(ImageFilter.GaussianBlur(radius))
    level = int(round(opacity * 255))
    return ((np.asarray(shadow, dtype=np.uint32) * level + 127) // 255).astype(np.uint8)


def cover_fit(image: Image.Image, width: int, height: int) -> np.ndarray:
    """Scale and centre-crop an image to fill ``width x height`` (uint8 HxWx3)."""
    fitted = ImageOps.fit(image.convert("RGB"), (width, height), Image.LANCZOS)
    return np.asarray(fitted, dtype=np.uint8)


def blurred(rgb: np.ndarray, strength: float = 0.02) -> np.ndarray:
    """A heavily blurred copy (radius = ``strength`` x the long edge), for a soft backdrop.

    Blurs a 4x smaller copy and scales it back: the same look for a fraction of the time.
    """
    height, width = rgb.shape[:2]
    small_size = (max(1, width // 4), max(1, height // 4))
    small = Image.fromarray(rgb, "RGB").resize(small_size, Image.BILINEAR)
    small = small.filter(ImageFilter.GaussianBlur(strength * max(width, height) / 4))
    return np.asarray(small.resize((width, height), Image.BILINEAR), dtype=np.uint8)


def open_background_photo(data: bytes) -> Image.Image:
    """Decode a user-chosen background photo (upright)."""
    from offcut.decode import decode

    return Image.fromarray(decode(data).rgb, "RGB")


def composite(
    colour: np.ndarray,
    alpha8: np.ndarray,
    shadow8: np.ndarray | None,
    background: np.ndarray | tuple[int, int, int] | None,
) -> np.ndarray:
    """Blend subject, shadow and background with exact integer arithmetic, in row bands.

    Integer blending gives identical pixels on every platform; the bands keep the uint32
    temporaries to a few MB whatever the image size.

    Parameters
    ----------
    colour : ndarray of uint8, shape (H, W, 3)
        Foreground colours (decontaminated).
    alpha8 : ndarray of uint8, shape (H, W)
    shadow8 : ndarray of uint8, shape (H, W), or None
        Shadow alpha (black), drawn under the subject.
    background : ndarray of uint8 (H, W, 3), (r, g, b), or None for transparent output.

    Returns
    -------
    ndarray of uint8, shape (H, W, 3) for an opaque background, (H, W, 4) for transparent.
    """
    channels = 4 if background is None else 3
    out = np.empty(alpha8.shape + (channels,), np.uint8)
    solid = background is not None and not isinstance(background, np.ndarray)
    for top in range(0, alpha8.shape[0], BAND_ROWS):
        rows = slice(top, min(top + BAND_ROWS, alpha8.shape[0]))
        if background is None:
            band_bg = None
        elif solid:
            band_bg = np.asarray(background, dtype=np.uint32).reshape(1, 1, 3)
        else:
            band_bg = background[rows].astype(np.uint32)
        band_shadow = None if shadow8 is None else shadow8[rows]
        out[rows] = _blend(colour[rows], alpha8[rows], band_shadow, band_bg)
    return out


def _blend(colour, alpha8, shadow8, background) -> np.ndarray:
    """One band of :func:`composite`; ``background`` is uint32 (h, w, 3), (1, 1, 3) or None."""
    a = alpha8.astype(np.uint32)[..., None]
    fg = colour.astype(np.uint32)
    if background is None:
        out = np.empty(alpha8.shape + (4,), np.uint8)
        if shadow8 is None:
            out[..., :3], out[..., 3] = colour, alpha8
            return out
        s = shadow8.astype(np.uint32)[..., None]
        # Subject over a black shadow, both partly transparent: premultiplied "over".
        total = a + (s * (255 - a) + 127) // 255
        rgb = np.where(total > 0, (fg * a + total // 2) // np.maximum(total, 1), 0)
        out[..., :3], out[..., 3] = rgb.astype(np.uint8), total[..., 0].astype(np.uint8)
        return out
    bg = background
    if shadow8 is not None:
        s = shadow8.astype(np.uint32)[..., None]
        bg = (bg * (255 - s) + 127) // 255
    return ((fg * a + bg * (255 - a) + 127) // 255).astype(np.uint8)
