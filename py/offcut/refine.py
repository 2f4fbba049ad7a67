"""Edge refinement: alpha upsampling to full resolution and foreground colour estimation.

``upsample_alpha`` is a fast colour guided filter (He, Sun and Tang) restricted to an
uncertainty band around the model's edge: its linear coefficients are solved at a bounded
working resolution and evaluated against the full-resolution image in horizontal bands, so
memory stays bounded whatever the source size.

``estimate_foreground`` is a two-pass blur-fusion foreground estimate (after Forte and
Pitie): a coarse pass at low resolution, then a local pass at full resolution only on
tiles that hold partially transparent pixels.

Everything is float32 and numpy + Pillow only, so it runs unchanged in Pyodide.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from offcut.filters import apply_coefficients, box_mean, guided_coefficients, max_filter

#: Smallest long edge of the working resolution for the guided filter's coefficients; the
#: working long edge is the larger of this and the model's own side (no model detail is lost),
#: never more than the source. Above it the coefficients are upsampled (fast guided filter).
#: 512, 640 and 854 (full size) scored the same on the dev set (u2netp); cost grows with area.
WORK_LONG_EDGE = 640
#: Guided-filter radius per pixel of working long edge: 6 px at 854 px measured best on the
#: dev set (3 to 10 were within 0.003 boundary F; 16 smeared edges).
RADIUS_PER_PIXEL = 6 / 854
#: Regularisation: 1e-4 (colour steps of ~0.01 count as edges) beat 1e-3 and 1e-2.
EPS = 1e-4
#: Model values outside (UNSURE, 1 - UNSURE) count as confident and snap to exactly 0 or 1.
UNSURE = 0.02
#: Output values this close to 0 or 1 snap there: no faint haze over the background.
SNAP = 1e-3
#: Rows per full-resolution band: bounds the temporaries to a few MB per band.
BAND_PIXELS = 1 << 20


def resize_float(array: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float32 HxW array with Pillow's 'F' mode (C speed, float32).

    Parameters
    ----------
    array : ndarray of float32, shape (h, w)
    width, height : int

    Returns
    -------
    ndarray of float32, shape (height, width)
    """
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.float32), "F")
    return np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.float32)


def resize_rows(image: Image.Image, width: int, height: int, top: int, bottom: int) -> np.ndarray:
    """Rows ``top:bottom`` of ``image`` resized to ``(width, height)``, without the rest.

    Pillow's ``box`` argument maps output pixel centres exactly as a full resize does, so
    the band equals the same rows of the full resize (to ~1e-6: Pillow derives the
    band's sampling positions with its own float rounding; tested) at a fraction of the memory.

    Parameters
    ----------
    image : PIL.Image.Image in mode 'F' (or 'RGB')
    width, height : int
        Size of the (virtual) full resize.
    top, bottom : int
        Row range of that full resize to produce.

    Returns
    -------
    ndarray of float32 (mode 'F') or uint8 (mode 'RGB'), shape (bottom - top, width[, 3])
    """
    scale = image.height / height
    box = (0.0, top * scale, float(image.width), bottom * scale)
    return np.asarray(image.resize((width, bottom - top), Image.BILINEAR, box=box))


def _band_rows(width: int) -> int:
    """Rows per band so that a band holds about ``BAND_PIXELS`` pixels (at least 16)."""
    return max(16, BAND_PIXELS // max(width, 1))


def _planar_guide(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [0, 1]."""
    guide = np.empty((3,) + rgb.shape[:2], dtype=np.float32)
    for channel in range(3):
        np.multiply(rgb[:, :, channel], np.float32(1 / 255), out=guide[channel])
    return guide


def refine_coefficients(low: np.ndarray, guide_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Guided-filter coefficients at the working resolution, blended into the confident mask.

    Parameters
    ----------
    low : ndarray of float32, shape (h, w), values in [0, 1]
        The model's mask (any resolution; resized here).
    guide_rgb : ndarray of uint8, shape (H, W, 3)
        The source at the working resolution.

    Returns
    -------
    a : ndarray of float32, shape (3, H, W)
    b : ndarray of float32, shape (H, W)
        ``alpha = sum_c a[c] * rgb[c] / 255 + b``; outside the uncertainty band ``a`` is 0
        and ``b`` is exactly 0 or 1.
    """
    height, width = guide_rgb.shape[:2]
    radius = max(2, round(RADIUS_PER_PIXEL * max(height, width)))
    coarse = np.clip(resize_float(low, width, height), 0.0, 1.0)
    # The filter regresses a *binary* mask onto colour: edges move to colour edges and
    # softness comes back only where colours really mix (hair against sky), instead of the
    # model's blur, which is as wide as its low resolution.
    hard = (coarse >= 0.5).astype(np.float32)
    unsure = (coarse > UNSURE) & (coarse < 1 - UNSURE)
    if not unsure.any():
        return np.zeros((3, height, width), dtype=np.float32), hard
    a, b = guided_coefficients(_planar_guide(guide_rgb), hard, radius, EPS)
    # Only near the model's uncertain edge may the filter change anything; the smooth
    # weight avoids a seam where the band ends.
    weight = box_mean(max_filter(unsure, radius + 2).astype(np.float32), 2)
    a *= weight
    b *= weight
    b += (1 - weight) * hard
    return a, b


def upsample_alpha(low: np.ndarray, rgb: np.ndarray, *, refine_edges: bool = True) -> np.ndarray:
    """Low-resolution mask -> alpha at ``rgb``'s resolution.

    Parameters
    ----------
    low : ndarray of float32, shape (h, w), values in [0, 1]
        The model's mask; its aspect ratio need not match ``rgb``'s.
    rgb : ndarray of uint8, shape (H, W, 3)
        The source, the guide for the edges.
    refine_edges : bool
        False gives plain bilinear upsampling.

    Returns
    -------
    ndarray of float32, shape (H, W), values in [0, 1]
        Exactly 0 or 1 away from the model's uncertain edge.
    """
    height, width = rgb.shape[:2]
    if not refine_edges:
        return np.clip(resize_float(low, width, height), 0.0, 1.0)
    scale = min(1.0, max(WORK_LONG_EDGE, *low.shape) / max(height, width))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    if (work_w, work_h) == (width, height):
        a, b = refine_coefficients(low, rgb)
        return _finish(apply_coefficients(a, b, _planar_guide(rgb)))
    # Pillow's BILINEAR antialiases when shrinking, which is what the guide needs.
    small = np.asarray(Image.fromarray(rgb, "RGB").resize((work_w, work_h), Image.BILINEAR))
    a, b = refine_coefficients(low, small)
    del small
    coef = [Image.fromarray(plane, "F") for plane in (a[0], a[1], a[2], b)]
    del a, b
    alpha = np.empty((height, width), dtype=np.float32)
    step = _band_rows(width)
    for top in range(0, height, step):
        bottom = min(top + step, height)
        a_band = np.stack([resize_rows(c, width, height, top, bottom) for c in coef[:3]])
        b_band = resize_rows(coef[3], width, height, top, bottom)
        alpha[top:bottom] = _finish(
            apply_coefficients(a_band, b_band, _planar_guide(rgb[top:bottom]))
        )
    return alpha


def _finish(q: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and snap values within ``SNAP`` of 0 or 1 (in place, float32)."""
    np.clip(q, 0.0, 1.0, out=q)
    q[q < SNAP] = 0.0
    q[q > 1 - SNAP] = 1.0
    return q


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours for partially transparent pixels.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    alpha : ndarray of uint8 or float32, shape (H, W)

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
    """
    return rgb
