"""Shadow and backgrounds, with integer blending so every platform gives the same pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from offcut.errors import InvalidOption

#: Rows per band in :func:`composite`: bounds the temporaries whatever the image size.
BAND_ROWS = 256


#: The ground shadow is the silhouette squashed to this share of the subject's height: a
#: flat footprint, as the shadow a soft overhead light casts on a table top.
GROUND_SQUASH = 0.10
#: The contact shadow: the bottom rows of the silhouette (this share of the subject's
#: height), squashed flat: the dark line where the subject touches the ground.
CONTACT_ROWS = 0.03
#: How much of the peak opacity the wide ground shadow reaches (the contact one reaches 1).
GROUND_LEVEL = 0.6


def drop_shadow(
    alpha8: np.ndarray, opacity: float, blur: float, offset: tuple[float, float]
) -> np.ndarray:
    """A soft ground shadow under the subject, from the cutout's alpha.

    Two parts, both flat footprints of the silhouette sitting on the subject's bottom edge: a
    wide, soft ground shadow (the whole silhouette squashed to
    :data:`GROUND_SQUASH` of its height, at :data:`GROUND_LEVEL` of the peak) and a narrow,
    darker contact shadow (the silhouette's bottom :data:`CONTACT_ROWS`). The subject is
    drawn over it, so what shows is the part on the ground in front of and beside its base:
    the look of a product photographed on a table, not a grey halo around its outline.
    Every length is a fraction of the subject's size, so a preview rendered small has the
    same shadow as the full-size file.

    Parameters
    ----------
    alpha8 : ndarray of uint8, shape (H, W)
    opacity : float
        Peak shadow opacity, 0.10..0.40 in the UI (0.15 by default).
    blur : float
        Softness: the ground shadow's Gaussian radius as a fraction of the subject's longer
        side (the contact shadow uses a quarter of it).
    offset : (float, float)
        (x, y) shift of the ground shadow as fractions of the subject's longer side
        (positive: right, down, i.e. further in front of the subject).

    Returns
    -------
    ndarray of uint8, shape (H, W): the shadow's alpha. Zero above the subject's lower part
    and beyond blur + offset of its base.
    """
    if not 0 <= opacity <= 1:
        raise InvalidOption(f"shadow opacity must be 0..1, got {opacity}")
    from offcut.layout import subject_box

    box = subject_box(alpha8)
    shadow = np.zeros_like(alpha8)
    if box is None or opacity == 0:
        return shadow
    left, top, right, bottom = box
    box_w, box_h = right - left, bottom - top
    extent = max(box_w, box_h)
    dx, dy = (v * extent for v in offset)
    radius = max(0.0, blur * extent)
    silhouette = Image.fromarray(np.ascontiguousarray(alpha8[top:bottom, left:right]), "L")
    ground = _footprint(silhouette, max(1, round(GROUND_SQUASH * box_h)))
    contact_rows = max(1, round(CONTACT_ROWS * box_h))
    contact = _footprint(silhouette.crop((0, box_h - contact_rows, box_w, box_h)),
                         max(1, round(contact_rows / 2)))
    parts = (
        # The ground footprint's centre sits on the base, moved by the offset.
        (ground, left + dx, bottom + dy - ground.shape[0] / 2, radius, GROUND_LEVEL),
        # The contact line starts at the base whatever the offset; it only softens a little.
        (contact, left, bottom - 1, radius / 4, 1.0),
    )
    total = np.zeros(alpha8.shape, np.float32)
    height, width = alpha8.shape
    for footprint, x, y, sigma, level in parts:
        pad = int(np.ceil(3 * sigma)) + 2
        x0, y0 = int(round(x)) - pad, int(round(y)) - pad
        local = np.zeros((footprint.shape[0] + 2 * pad, footprint.shape[1] + 2 * pad), np.uint8)
        local[pad : pad + footprint.shape[0], pad : pad + footprint.shape[1]] = footprint
        layer = Image.fromarray(local, "L")
        if sigma > 0:
            layer = layer.filter(ImageFilter.GaussianBlur(sigma))
        soft = np.asarray(layer, dtype=np.float32) * level
        # Clip the local window to the frame.
        top_clip, left_clip = max(0, -y0), max(0, -x0)
        rows = min(soft.shape[0], height - y0) - top_clip
        cols = min(soft.shape[1], width - x0) - left_clip
        if rows <= 0 or cols <= 0:
            continue
        window = total[y0 + top_clip : y0 + top_clip + rows, x0 + left_clip : x0 + left_clip + cols]
        np.maximum(window, soft[top_clip : top_clip + rows, left_clip : left_clip + cols],
                   out=window)
    return np.clip(total * opacity + 0.5, 0, 255).astype(np.uint8)


def _footprint(silhouette: Image.Image, rows: int) -> np.ndarray:
    """A silhouette squashed to ``rows`` rows (uint8), stretched so its darkest point is 255:
    a column's value says how much of the subject stands over it."""
    flat = np.asarray(silhouette.resize((silhouette.width, rows), Image.BOX), dtype=np.float32)
    peak = float(flat.max())
    if peak <= 0:
        return np.zeros(flat.shape, np.uint8)
    return np.clip(flat * (255 / peak) + 0.5, 0, 255).astype(np.uint8)


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
