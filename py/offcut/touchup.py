"""Touch-up: brush strokes that restore or erase parts of the mask, at full resolution.

Strokes are recorded by the UI in source-image pixel coordinates, so the same list applies
to the full-resolution alpha whatever zoom the user painted at.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from offcut.errors import InvalidOption


def _stroke_mask(stroke: dict, width: int, height: int):
    """Rasterise one stroke into (box, uint8 mask for that box)."""
    points = [(float(x), float(y)) for x, y in stroke["points"]]
    radius = float(stroke["radius"])
    softness = float(stroke.get("softness", 0.5))
    if radius <= 0 or not points or not 0 <= softness <= 1:
        raise InvalidOption(f"bad brush stroke: radius {radius}, softness {softness}")
    blur = softness * radius / 2
    reach = radius + 3 * blur + 2
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    left, top = max(0, int(min(xs) - reach)), max(0, int(min(ys) - reach))
    right, bottom = min(width, int(max(xs) + reach) + 1), min(height, int(max(ys) + reach) + 1)
    if right <= left or bottom <= top:
        return None, None
    # Shrink the hard core by the blur so the soft brush keeps its nominal radius at 50%.
    core = max(0.5, radius - blur)
    canvas = Image.new("L", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(canvas)
    local = [(x - left, y - top) for x, y in points]
    if len(local) > 1:
        draw.line(local, fill=255, width=max(1, int(round(2 * core))), joint="curve")
    for x, y in local:
        draw.ellipse((x - core, y - core, x + core, y + core), fill=255)
    mask = np.asarray(canvas, dtype=np.uint8)
    if blur > 0:
        mask = np.asarray(canvas.filter(ImageFilter.GaussianBlur(blur)), dtype=np.uint8)
        # A small soft dot never reaches 255 after blurring: the brush must act fully at its
        # centre, so stretch the peak back to 255.
        peak = int(mask.max())
        if 0 < peak < 255:
            mask = ((mask.astype(np.uint32) * 255 + peak // 2) // peak).astype(np.uint8)
    return (left, top, right, bottom), mask


def apply_strokes(
    alpha8: np.ndarray, foreground: np.ndarray, source: np.ndarray, strokes: list[dict]
) -> tuple[np.ndarray, np.ndarray]:
    """Apply brush strokes in order.

    Parameters
    ----------
    alpha8 : ndarray of uint8, shape (H, W)
    foreground : ndarray of uint8, shape (H, W, 3)
    source : ndarray of uint8, shape (H, W, 3)
        The original photo: restored pixels take its colours.
    strokes : list of dict
        ``{"mode": "restore"|"erase", "radius": px, "softness": 0..1, "points": [[x, y], ...]}``

    Returns
    -------
    (alpha8, foreground): new arrays; the inputs are not modified.
    """
    alpha = alpha8.copy()
    colour = foreground.copy()
    height, width = alpha.shape
    for stroke in strokes:
        mode = stroke.get("mode")
        if mode not in ("restore", "erase"):
            raise InvalidOption(f"unknown brush mode {mode!r}")
        box, mask = _stroke_mask(stroke, width, height)
        if box is None:
            continue
        rows, cols = slice(box[1], box[3]), slice(box[0], box[2])
        region = alpha[rows, cols]
        if mode == "restore":
            raised = np.maximum(region, mask)
            # Pixels the brush made more opaque show the photo's own colours.
            grew = raised > region
            colour[rows, cols][grew] = source[rows, cols][grew]
            alpha[rows, cols] = raised
        else:
            alpha[rows, cols] = np.minimum(region, 255 - mask)
    return alpha, colour
