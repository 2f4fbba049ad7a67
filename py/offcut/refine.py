"""Edge refinement: the model's mask -> alpha at the source's full resolution.

``upsample_alpha`` is a fast colour guided filter (He, Sun and Tang) restricted to an
uncertainty band around the model's edge: its linear coefficients are solved at a bounded
working resolution and evaluated against the full-resolution image in tiles (tiles away
from the edge are filled without it), so memory stays bounded whatever the source size.

Foreground colours for the partially transparent pixels are in :mod:`offcut.foreground`.

Everything is float32 and numpy + Pillow only, so it runs unchanged in Pyodide.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from offcut import matting
from offcut.filters import (
    apply_coefficients,
    box_mean,
    guided_coefficients,
    max_filter,
    planar_rgb,
)
from offcut.strips import shrink

#: Smallest long edge of the working resolution for the guided filter's coefficients; the
#: working long edge is the larger of this and the model's own side (no model detail is lost),
#: never more than the source. Above it the coefficients are upsampled (fast guided filter).
#: 512, 640 and 854 (full size) scored the same on the dev set (u2netp); cost grows with area.
WORK_LONG_EDGE = 640
#: Guided-filter radius per pixel of working long edge: 6 px at 854 px measured best on the
#: dev set (3 to 10 were within 0.003 boundary F; 16 smeared edges).
RADIUS_PER_PIXEL = 6 / 854
#: Lower bound on the radius, in the model's own pixels at the working resolution. Only binds
#: when a photo is several times larger than the model's input: on the dev set with the mask
#: shrunk to stand in for a 4000 px photo (quality.py --mask-scale 0.2165), u2netp's boundary
#: F gain over bilinear went from +2.4 % (no bound) to +3.8 % (1.0); 0.75: +3.5 %, 1.5: +3.3 %,
#: 2.0: +1.6 %. At the dev frames' own size it never binds (scores unchanged).
RADIUS_PER_MODEL_PIXEL = 1.0
#: Regularisation: 1e-4 (colour steps of ~0.01 count as edges) beat 1e-3 and 1e-2.
EPS = 1e-4
#: Model values outside (UNSURE, 1 - UNSURE) count as confident and snap to exactly 0 or 1.
UNSURE = 0.02
#: Logit gain applied to the model's mask before filtering. The filter regresses the
#: sharpened mask onto colour, so edges move to colour edges while thin soft structures
#: survive. 0 (a binary mask) scored best on the dev set's binary ground truth (boundary F
#: +0.7 % vs +0.4 %) but erased the synthetic hair strands (alpha MAE up to 26 % worse than
#: bilinear); 2 lowers that MAE by 15-23 %.
SHARPEN = 2.0
#: Colour-model radius per pixel of working long edge (``method="colour"``), and the factor
#: of its wide pass.
COLOUR_RADIUS_PER_PIXEL = 6 / 854
COLOUR_REACH = 8
#: Output values this close to 0 or 1 snap there: no faint haze over the background.
SNAP = 1e-3
#: Faint values are pushed towards the side the model is sure of: a refined value ``q`` below
#: 0.5 becomes ``0.5 * (2q) ** g`` (mirrored above 0.5) with
#: ``g = 1 + CONFIDENCE_GAMMA * |2p - 1| ** CONFIDENCE_POWER``, ``p`` the model's bilinear
#: mask. The 0.5 crossing does not move (IoU and boundary F are unchanged), but where the
#: model is sure of the background a colour lookalike's 0.2 becomes ~0 (the "smudges" next to
#: a silver car on a grey road), while strands the model half sees keep their soft values.
#: Dev set, u2netp, far-background pixels above 0.05: 3.8 % (off) -> 3.4 % (8, 8); (4, 1) gave
#: 2.9 % but made the synthetic strands 13 % worse than bilinear at 128 px (tests/bench/
#: bleed.py), while (8, 8) makes them 2-3 % better than no push at all.
CONFIDENCE_GAMMA = 8.0
CONFIDENCE_POWER = 8.0
#: Pillow's ``reducing_gap`` for shrinking a big photo to the working resolution. At 9 MP the
#: alpha changed on 0.4 % of pixels, by at most 6/255, against an exact bilinear shrink (046 at
#: 4000x2250, u2netp), and upsampling took 0.16 s instead of 0.19 s.
REDUCING_GAP = 2.0
#: Side of the full-resolution tiles of ``upsample_alpha``; tiles away from the edge are
#: filled without resampling.
ALPHA_TILE = 256

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


def resize_box(image: Image.Image, width: int, height: int, crop: tuple) -> np.ndarray:
    """The ``crop`` = (left, top, right, bottom) region of ``image`` resized to
    ``(width, height)``, computed alone (same sampling positions as the full resize).

    Returns
    -------
    ndarray of float32, shape (bottom - top, right - left)
    """
    left, top, right, bottom = crop
    sx, sy = image.width / width, image.height / height
    box = (left * sx, top * sy, right * sx, bottom * sy)
    return np.asarray(image.resize((right - left, bottom - top), Image.BILINEAR, box=box))


def refine_coefficients(
    low: np.ndarray, guide_rgb: np.ndarray, radius_scale: float = 1.0, method: str = "guided",
    sharpen: float = SHARPEN,
) -> tuple[np.ndarray, np.ndarray]:
    """Guided-filter coefficients at the working resolution, blended into the confident mask.

    Parameters
    ----------
    low : ndarray of float32, shape (h, w), values in [0, 1]
        The model's mask (any resolution; resized here).
    guide_rgb : ndarray of uint8, shape (H, W, 3)
        The source at the working resolution.
    radius_scale : float
        Multiplies the radius (see ``upsample_alpha``).
    method : "guided" or "colour"
        The guided filter on the sharpened mask, or :mod:`offcut.matting`'s colour model
        (falling back to the guided filter where the colours cannot tell the sides apart).
    sharpen : float
        The logit gain on the mask before the guided filter (0: the mask thresholded).

    Returns
    -------
    a : ndarray of float32, shape (3, H, W)
    b : ndarray of float32, shape (H, W)
        ``alpha = sum_c a[c] * rgb[c] / 255 + b``; outside the uncertainty band ``a`` is 0
        and ``b`` is exactly 0 or 1.
    """
    height, width = guide_rgb.shape[:2]
    long_edge = max(height, width)
    # The model's edge is smeared over about one of its own pixels: when those are large
    # (a big photo, a small model) the window must reach across them to find the colour edge.
    radius = max(2, round(radius_scale * max(RADIUS_PER_PIXEL * long_edge,
                                             RADIUS_PER_MODEL_PIXEL * long_edge / max(low.shape))))
    coarse = np.clip(resize_float(low, width, height), 0.0, 1.0)
    # The filter regresses a sharpened mask onto colour: edges move to colour edges and
    # softness comes from where colours really mix (hair against sky) more than from the
    # model's blur, which is as wide as its low resolution.
    hard = (coarse >= 0.5).astype(np.float32)
    src = hard if sharpen == 0 else _sharpen(coarse, sharpen)
    unsure = (coarse > UNSURE) & (coarse < 1 - UNSURE)
    if not unsure.any():
        return np.zeros((3, height, width), dtype=np.float32), hard
    guide = planar_rgb(guide_rgb)
    if method == "colour":
        # Where colour cannot tell the sides apart the model's own soft value stays: on the
        # soft set that beat falling back to the guided filter (gradient error 0.27 vs 0.31,
        # isnet-medium, 8 photos), which sharpens what it cannot resolve.
        a, b = np.zeros((3, height, width), dtype=np.float32), coarse.copy()
        # Two reaches: the local one follows fine structure; the wide one reaches the
        # sure foreground and background across a region the model left grey (a second
        # flower at 0.6), which the local windows cannot see past. Each one's fallback to
        # the model's value is replaced by the next: local, then wide, then the model.
        for reach in (COLOUR_REACH, 1):
            r = max(radius, round(reach * COLOUR_RADIUS_PER_PIXEL * long_edge))
            ca, cb, trust = matting.colour_coefficients(guide, coarse, r)
            cb -= (1 - trust) * coarse
            a = ca + (1 - trust) * a
            b = cb + (1 - trust) * b
        # Averaged like the guided filter's own coefficients: no seams between windows.
        coef = box_mean(np.concatenate([a, b[None]]), radius)
        a, b = coef[:3], coef[3]
    elif method == "guided":
        a, b = guided_coefficients(guide, src, radius, EPS)
    else:
        raise ValueError(f"unknown refine method {method!r}")
    # Only near the model's uncertain edge may the filter change anything; the smooth
    # weight avoids a seam where the band ends.
    weight = box_mean(max_filter(unsure, radius + 2).astype(np.float32), 2)
    a *= weight
    b *= weight
    b += (1 - weight) * hard
    return a, b


def _sharpen(p: np.ndarray, gain: float) -> np.ndarray:
    """Multiply the logit of ``p`` by ``gain`` (float32 in, float32 out)."""
    p = np.clip(p, np.float32(1e-4), np.float32(1 - 1e-4))
    logit = np.log(p / (1 - p)) * np.float32(gain)
    return (1 / (1 + np.exp(-logit))).astype(np.float32)


def upsample_alpha(
    low: np.ndarray, rgb: np.ndarray, *, refine_edges: bool = True, radius_scale: float = 1.0,
    method: str = "guided", sharpen: float | None = None, confidence: float | None = None,
    dtype=np.float32,
) -> np.ndarray:
    """Low-resolution mask -> alpha at ``rgb``'s resolution.

    Parameters
    ----------
    low : ndarray of float32, shape (h, w), values in [0, 1]
        The model's mask; its aspect ratio need not match ``rgb``'s.
    rgb : ndarray of uint8, shape (H, W, 3)
        The source, the guide for the edges.
    refine_edges : bool
        False gives plain bilinear upsampling.
    radius_scale : float
        Multiplies the guided filter's radius; a per-model setting (a model whose mask is
        already sharp at the photo's scale wants a smaller window).
    method : str
        See :func:`refine_coefficients`.
    sharpen, confidence : float or None
        Per-model :data:`SHARPEN` and :data:`CONFIDENCE_GAMMA` (those when None).
    dtype : np.float32 or np.uint8
        uint8 gives :func:`quantise` of the float result, made tile by tile: no full-size
        float32 alpha (96 MB at 24 MP) is ever held.

    Returns
    -------
    ndarray of float32 or uint8, shape (H, W), values in [0, 1] or [0, 255]
        Exactly 0 or 1 (255) away from the model's uncertain edge.
    """
    height, width = rgb.shape[:2]
    if np.dtype(dtype) not in (np.float32, np.uint8):
        raise ValueError(f"alpha is float32 or uint8, not {np.dtype(dtype)}")
    as_float = np.dtype(dtype) == np.float32
    if not refine_edges:
        plain = np.clip(resize_float(low, width, height), 0.0, 1.0)
        return plain if as_float else quantise(plain)
    sharpen = SHARPEN if sharpen is None else sharpen
    confidence = CONFIDENCE_GAMMA if confidence is None else confidence
    scale = min(1.0, max(WORK_LONG_EDGE, *low.shape) / max(height, width))
    work_w, work_h = max(1, round(width * scale)), max(1, round(height * scale))
    low_image = Image.fromarray(np.ascontiguousarray(low, dtype=np.float32), "F")
    if (work_w, work_h) == (width, height):
        a, b = refine_coefficients(low, rgb, radius_scale, method, sharpen)
        q = _finish(apply_coefficients(a, b, planar_rgb(rgb)))
        if method != "colour":
            q = _confident(q, resize_box(low_image, width, height, (0, 0, width, height)),
                           confidence)
        return q if as_float else quantise(q)
    # Pillow's BILINEAR antialiases when shrinking, which is what the guide needs; the
    # reducing gap box-averages by an integer factor first (12 MP: 45 -> 22 ms, CPython).
    small = np.asarray(shrink(rgb, (work_w, work_h), Image.BILINEAR, REDUCING_GAP))
    a, b = refine_coefficients(low, small, radius_scale, method, sharpen)
    del small
    coef = [Image.fromarray(plane, "F") for plane in (a[0], a[1], a[2], b)]
    # Where the guide has no say (a = 0) and b is one constant, the tile's alpha is that
    # constant: most of a photo is confidently inside or outside the subject, so only the
    # tiles along the edge pay for resampling and the guide.
    idle = (np.abs(a).max(axis=0) == 0) & ((b == 0) | (b == 1))
    alpha = np.empty((height, width), dtype=np.float32 if as_float else np.uint8)
    top_value = 1 if as_float else 255
    sy, sx = work_h / height, work_w / width
    for top in range(0, height, ALPHA_TILE):
        bottom = min(top + ALPHA_TILE, height)
        fy0, fy1 = max(0, int(top * sy) - 2), min(work_h, int(bottom * sy) + 3)
        for left in range(0, width, ALPHA_TILE):
            right = min(left + ALPHA_TILE, width)
            fx0, fx1 = max(0, int(left * sx) - 2), min(work_w, int(right * sx) + 3)
            footprint = b[fy0:fy1, fx0:fx1]
            if idle[fy0:fy1, fx0:fx1].all() and footprint.min() == footprint.max():
                alpha[top:bottom, left:right] = footprint[0, 0] * top_value
                continue
            crop = (left, top, right, bottom)
            a_tile = np.stack([resize_box(c, width, height, crop) for c in coef[:3]])
            b_tile = resize_box(coef[3], width, height, crop)
            q = _finish(apply_coefficients(a_tile, b_tile,
                                           planar_rgb(rgb[top:bottom, left:right])))
            # The colour model's values are measured, not guessed: no push (on the soft set
            # it raised the gradient error by 8 %).
            if method != "colour":
                q = _confident(q, resize_box(low_image, width, height, crop), confidence)
            if as_float:
                alpha[top:bottom, left:right] = q
            else:
                quantise(q, out=alpha[top:bottom, left:right])
    return alpha


#: Rows per band in :func:`quantise`: its float temporaries stay a band's size (at 24 MP,
#: whole-image temporaries grew Pyodide's heap, which never shrinks, by 190 MiB).
BAND_ROWS = 256


def quantise(alpha: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """float32 alpha -> uint8 ``round(clip(alpha, 0, 1) * 255)``, a band of rows at a time.

    Parameters
    ----------
    alpha : ndarray of float32, shape (H, W)
    out : ndarray of uint8, shape (H, W), optional
        Written in place (may be a view) and returned.
    """
    if out is None:
        out = np.empty(alpha.shape, dtype=np.uint8)
    for top in range(0, alpha.shape[0], BAND_ROWS):
        band = np.clip(alpha[top : top + BAND_ROWS], 0.0, 1.0)
        band *= np.float32(255)
        band += np.float32(0.5)
        np.copyto(out[top : top + BAND_ROWS], band, casting="unsafe")
    return out


def _confident(q: np.ndarray, p: np.ndarray, gamma_max: float = CONFIDENCE_GAMMA) -> np.ndarray:
    """Push partial values of ``q`` towards the side the model ``p`` is sure of (in place).

    ``q < 0.5`` becomes ``0.5 * (2q) ** g`` and ``q > 0.5`` its mirror image, with
    ``g = 1 + gamma_max * |2p - 1| ** CONFIDENCE_POWER``: monotonic, 0.5 stays 0.5.
    Only the partial pixels (a thin band) are computed.
    """
    flat = q.reshape(-1)
    index = np.flatnonzero((flat > 0) & (flat < 1))
    if index.size == 0 or gamma_max == 0:
        return q
    value = flat[index]
    conf = np.abs(np.clip(p.reshape(-1)[index], 0.0, 1.0) * np.float32(2) - np.float32(1))
    if CONFIDENCE_POWER != 1:
        conf = conf ** np.float32(CONFIDENCE_POWER)
    gamma = np.float32(1) + np.float32(gamma_max) * conf
    upper = value > 0.5
    x = np.where(upper, 1 - value, value) * np.float32(2)
    y = np.float32(0.5) * np.exp(gamma * np.log(x))
    value = np.where(upper, 1 - y, y)
    value[value < SNAP] = 0.0
    value[value > 1 - SNAP] = 1.0
    flat[index] = value
    return q


def _finish(q: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and snap values within ``SNAP`` of 0 or 1 (in place, float32)."""
    np.clip(q, 0.0, 1.0, out=q)
    q[q < SNAP] = 0.0
    q[q > 1 - SNAP] = 1.0
    return q
