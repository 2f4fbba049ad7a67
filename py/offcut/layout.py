"""Crop and canvas: where the subject goes in the output.

Presets are data. Sizes and fill ratios follow the common published requirements; the
"fill" is the fraction of the canvas the subject's bounding box spans along its limiting
dimension (``max(box_w / W, box_h / H)`` after scaling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from offcut.errors import InvalidOption


@dataclass(frozen=True)
class Preset:
    """An output canvas specification.

    Attributes
    ----------
    width, height : int
        Canvas size in pixels.
    fill : float
        Fraction of the canvas the subject spans along its limiting dimension.
    anchor : {"center", "bottom"}
        Where the subject sits; portraits stand on the bottom edge (shoulders cut by it).
    background : str or None
        Default background (a preset may require white; the user's choice is used otherwise).
    fmt, quality : str, int
        Default encoding.
    """

    name: str
    title: str
    width: int
    height: int
    fill: float
    anchor: str = "center"
    background: str | None = "#ffffff"
    fmt: str = "jpeg"
    quality: int = 92
    note: str = ""


PRESETS = {
    "marketplace": Preset(
        "marketplace", "Marketplace main image", 2000, 2000, 0.85,
        note="Pure white #FFFFFF, square 2000x2000 JPEG, product spanning ~85% of the frame "
             "(what the large marketplaces ask for a main listing image; 2000 px enables zoom).",
    ),
    "social": Preset(
        "social", "Square social post", 1080, 1080, 0.8, background=None, fmt="png",
        note="1080x1080, the subject spanning 80%; keeps the chosen background.",
    ),
    "passport": Preset(
        "passport", "Passport-style portrait", 827, 1063, 0.9, anchor="bottom",
        note="35x45 mm at 600 dpi (827x1063), plain white; the whole subject is fitted, "
             "standing on the bottom edge and spanning 90% of the height, so start from a "
             "head-and-shoulders photo. Check your authority's exact rules before submitting.",
    ),
}


def subject_box(alpha8: np.ndarray, threshold: int = 64) -> tuple[int, int, int, int] | None:
    """Bounding box ``(left, top, right, bottom)`` (exclusive) of pixels with alpha > threshold.

    The threshold (a quarter opaque) keeps faint specks and wisps from widening the box.

    Parameters
    ----------
    alpha8 : ndarray of uint8, shape (H, W)

    Returns
    -------
    tuple of int, or None when nothing is kept.
    """
    rows = np.flatnonzero((alpha8 > threshold).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero((alpha8[rows[0] : rows[-1] + 1] > threshold).any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def parse_margin(text: str | float | int | None) -> tuple[float, str]:
    """``"5%"`` -> (5.0, "%"), ``"40px"``/``40`` -> (40.0, "px")."""
    if text is None or text == "":
        return 0.0, "%"
    value = str(text).strip().lower()
    unit = "%" if value.endswith("%") else "px"
    number = value.rstrip("%").removesuffix("px").strip()
    try:
        amount = float(number)
    except ValueError as exc:
        raise InvalidOption(f"not a margin: {text!r} (use e.g. 5% or 40px)") from exc
    if amount < 0:
        raise InvalidOption("the margin cannot be negative")
    return amount, unit


def margin_box(
    box: tuple[int, int, int, int], margin: str | float | None, width: int, height: int
) -> tuple[int, int, int, int]:
    """Grow ``box`` by a margin (% of the box's longer side, or px), clipped to the image."""
    amount, unit = parse_margin(margin)
    left, top, right, bottom = box
    pad = amount / 100 * max(right - left, bottom - top) if unit == "%" else amount
    pad = int(round(pad))
    return max(0, left - pad), max(0, top - pad), min(width, right + pad), min(height, bottom + pad)


def place_on_canvas(
    layer: Image.Image, width: int, height: int, fill: float, anchor: str = "center"
) -> tuple[Image.Image, tuple[float, int, int]]:
    """Scale an RGBA layer (cropped to the subject) so it spans ``fill`` of a canvas, and
    paste it onto a transparent canvas.

    Returns
    -------
    canvas : PIL.Image in mode RGBA, size (width, height)
    transform : (scale, x, y) applied to the layer
    """
    if not 0 < fill <= 1:
        raise InvalidOption(f"fill must be in (0, 1], got {fill}")
    scale = fill * min(width / layer.width, height / layer.height)
    size = (max(1, round(layer.width * scale)), max(1, round(layer.height * scale)))
    # Pillow resamples RGBA premultiplied, so transparent pixels' colours never bleed in.
    scaled = layer.resize(size, Image.LANCZOS)
    x = (width - size[0]) // 2
    y = height - size[1] if anchor == "bottom" else (height - size[1]) // 2
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    canvas.paste(scaled, (x, y))
    return canvas, (scale, x, y)


def limit_long_edge(image: Image.Image, max_size: int | None) -> Image.Image:
    """Downscale so the long edge is at most ``max_size`` (never upscales)."""
    if not max_size or max(image.size) <= max_size:
        return image
    scale = max_size / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.LANCZOS)
