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


def _planar_guide(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [0, 1]."""
    guide = np.empty((3,) + rgb.shape[:2], dtype=np.float32)
    for channel in range(3):
        np.multiply(rgb[:, :, channel], np.float32(1 / 255), out=guide[channel])
    return guide


def refine_coefficients(
    low: np.ndarray, guide_rgb: np.ndarray, radius_scale: float = 1.0
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
    src = hard if SHARPEN == 0 else _sharpen(coarse, SHARPEN)
    unsure = (coarse > UNSURE) & (coarse < 1 - UNSURE)
    if not unsure.any():
        return np.zeros((3, height, width), dtype=np.float32), hard
    a, b = guided_coefficients(_planar_guide(guide_rgb), src, radius, EPS)
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
    low: np.ndarray, rgb: np.ndarray, *, refine_edges: bool = True, radius_scale: float = 1.0
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
    low_image = Image.fromarray(np.ascontiguousarray(low, dtype=np.float32), "F")
    if (work_w, work_h) == (width, height):
        a, b = refine_coefficients(low, rgb, radius_scale)
        q = _finish(apply_coefficients(a, b, _planar_guide(rgb)))
        return _confident(q, resize_box(low_image, width, height, (0, 0, width, height)))
    # Pillow's BILINEAR antialiases when shrinking, which is what the guide needs.
    small = np.asarray(Image.fromarray(rgb, "RGB").resize((work_w, work_h), Image.BILINEAR))
    a, b = refine_coefficients(low, small, radius_scale)
    del small
    coef = [Image.fromarray(plane, "F") for plane in (a[0], a[1], a[2], b)]
    # Where the guide has no say (a = 0) and b is one constant, the tile's alpha is that
    # constant: most of a photo is confidently inside or outside the subject, so only the
    # tiles along the edge pay for resampling and the guide.
    idle = (np.abs(a).max(axis=0) == 0) & ((b == 0) | (b == 1))
    alpha = np.empty((height, width), dtype=np.float32)
    sy, sx = work_h / height, work_w / width
    for top in range(0, height, ALPHA_TILE):
        bottom = min(top + ALPHA_TILE, height)
        fy0, fy1 = max(0, int(top * sy) - 2), min(work_h, int(bottom * sy) + 3)
        for left in range(0, width, ALPHA_TILE):
            right = min(left + ALPHA_TILE, width)
            fx0, fx1 = max(0, int(left * sx) - 2), min(work_w, int(right * sx) + 3)
            footprint = b[fy0:fy1, fx0:fx1]
            if idle[fy0:fy1, fx0:fx1].all() and footprint.min() == footprint.max():
                alpha[top:bottom, left:right] = footprint[0, 0]
                continue
            crop = (left, top, right, bottom)
            a_tile = np.stack([resize_box(c, width, height, crop) for c in coef[:3]])
            b_tile = resize_box(coef[3], width, height, crop)
            q = _finish(apply_coefficients(a_tile, b_tile,
                                           _planar_guide(rgb[top:bottom, left:right])))
            alpha[top:bottom, left:right] = _confident(
                q, resize_box(low_image, width, height, crop))
    return alpha


def _confident(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Push partial values of ``q`` towards the side the model ``p`` is sure of (in place).

    ``q < 0.5`` becomes ``0.5 * (2q) ** g`` and ``q > 0.5`` its mirror image, with
    ``g = 1 + CONFIDENCE_GAMMA * |2p - 1| ** CONFIDENCE_POWER``: monotonic, 0.5 stays 0.5.
    Only the partial pixels (a thin band) are computed.
    """
    flat = q.reshape(-1)
    index = np.flatnonzero((flat > 0) & (flat < 1))
    if index.size == 0 or CONFIDENCE_GAMMA == 0:
        return q
    value = flat[index]
    conf = np.abs(np.clip(p.reshape(-1)[index], 0.0, 1.0) * np.float32(2) - np.float32(1))
    if CONFIDENCE_POWER != 1:
        conf = conf ** np.float32(CONFIDENCE_POWER)
    gamma = np.float32(1) + np.float32(CONFIDENCE_GAMMA) * conf
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


def _alpha_unit(alpha: np.ndarray) -> np.ndarray:
    """uint8 (0..255) or float alpha -> float32 in [0, 1] (a new array)."""
    if alpha.dtype == np.uint8:
        return alpha.astype(np.float32) * np.float32(1 / 255)
    return np.clip(alpha, 0.0, 1.0).astype(np.float32)


def _partial(alpha: np.ndarray) -> np.ndarray:
    """Boolean mask of partially transparent pixels (0 < alpha < full)."""
    full = 255 if alpha.dtype == np.uint8 else 1.0
    return (alpha > 0) & (alpha < full)


def _fusion(
    image: np.ndarray,
    alpha: np.ndarray,
    fg_hat: np.ndarray,
    bg_hat: np.ndarray,
    trust_fg: float = 1.0,
    trust_bg: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """One blur-fusion correction: split the compositing residual between F and B.

    Minimises ``|I - a*F - (1-a)*B|^2 + tf*|F - F_hat|^2 + tb*|B - B_hat|^2`` per pixel,
    whose closed form with ``r = I - a*F_hat - (1-a)*B_hat`` and
    ``k = r / (1 + a^2/tf + (1-a)^2/tb)`` is ``F = F_hat + a*k/tf``, ``B = B_hat + (1-a)*k/tb``.
    A small ``trust_fg`` lets the compositing equation override a poor foreground guess
    (strands far from the body) once the background guess is good.

    Parameters
    ----------
    image, fg_hat, bg_hat : ndarray of float32, shape (3, h, w)
    alpha : ndarray of float32, shape (h, w)
    trust_fg, trust_bg : float
        Weights of the priors (larger: stay closer to the estimate).

    Returns
    -------
    fg, bg : ndarray of float32, shape (3, h, w), clipped to [0, 1]
    """
    tf, tb = np.float32(trust_fg), np.float32(trust_bg)
    rest = 1 - alpha
    k = image - alpha * fg_hat - rest * bg_hat
    k /= 1 + alpha * alpha / tf + rest * rest / tb
    fg = np.clip(fg_hat + (alpha / tf) * k, 0.0, 1.0)
    bg = np.clip(bg_hat + (rest / tb) * k, 0.0, 1.0)
    return fg, bg


def _weighted_blur(values: np.ndarray, weight: np.ndarray, radius: int) -> np.ndarray:
    """``box(values * weight) / box(weight)`` per plane; values (3, h, w), weight (h, w)."""
    stacked = np.concatenate([values * weight, weight[None]])
    blurred = box_mean(stacked, radius)
    return blurred[:3] / (blurred[3] + np.float32(FG_EPS))


#: Long edge of the coarse foreground/background estimate (the first, wide blur-fusion pass).
FG_LOW_EDGE = 512
#: Radius of that pass as a fraction of its long edge: ~4.5 %, like Forte and Pitie's 90 px
#: at 2000 px, so background colour reaches into the foreground from far enough away.
FG_WIDE = 0.045
#: Radius of the second, local pass at full resolution (Forte and Pitie's 6 px).
FG_LOCAL = 6
#: Weight of the foreground prior in the corrections (background prior: 1). Small: where
#: the background guess is good the compositing equation decides F (synthetic strands over
#: green: mean error 40 -> 4.4 units going from 1.0 to 0.02; 0.01 and below gained little).
FG_TRUST = 0.02
#: Weights ``alpha**p`` / ``(1-alpha)**p`` of the wide and local blurs: colours of nearly
#: pure pixels only, since a half-transparent pixel's colour is half background. Plain
#: alpha weights (Forte and Pitie's) left 26 units of error on the synthetic strands, 8 and 4
#: leave 4.4 (16 and 8 gave 3-4: no clear gain for a riskier, emptier weight).
FG_POWER_WIDE = 8
FG_POWER_LOCAL = 4
#: Keeps the weighted means finite where a window holds no weight at all.
FG_EPS = 1e-5
#: Tile side for the full-resolution pass; only tiles with partial alpha are processed. The
#: work follows the area of the tiles the edge crosses: at 12 MP 128 took 0.33 s, 256 0.37 s
#: (CPython; 64 was no faster, its per-tile overhead cancels the smaller area).
FG_TILE = 128


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours for partially transparent pixels (background decontamination).

    Two blur-fusion passes (Forte and Pitie, "Approximate fast foreground colour
    estimation", 2021): a wide one at low resolution gives smooth foreground and background
    colour estimates, a local one at full resolution refines them. The full-resolution pass
    runs only on ``FG_TILE`` tiles holding partial alpha, each with a halo of ``FG_LOCAL``
    pixels, so memory is a few tiles' worth whatever the image size.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    alpha : ndarray of uint8 (0..255) or float32 (0..1), shape (H, W)

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        The source where alpha is 0 or full (exactly), the estimate elsewhere.
    """
    height, width = alpha.shape
    out = np.array(rgb, dtype=np.uint8, copy=True)
    tiles = _partial_tiles(alpha)
    if not tiles:
        return out
    fg_low, bg_low = _coarse_estimates(rgb, alpha)
    low_h, low_w = fg_low[0].height, fg_low[0].width
    sy, sx = low_h / height, low_w / width
    halo = FG_LOCAL
    for ty, tx in tiles:
        y0, x0 = ty * FG_TILE, tx * FG_TILE
        y1, x1 = min(y0 + FG_TILE, height), min(x0 + FG_TILE, width)
        cy0, cx0 = max(y0 - halo, 0), max(x0 - halo, 0)
        cy1, cx1 = min(y1 + halo, height), min(x1 + halo, width)
        size = (cx1 - cx0, cy1 - cy0)
        box = (cx0 * sx, cy0 * sy, cx1 * sx, cy1 * sy)
        # Same sampling positions as a full-size bilinear upsample, for this crop only.
        fg_hat = np.stack([np.asarray(p.resize(size, Image.BILINEAR, box=box)) for p in fg_low])
        bg_hat = np.stack([np.asarray(p.resize(size, Image.BILINEAR, box=box)) for p in bg_low])
        image = _planar_guide(rgb[cy0:cy1, cx0:cx1])
        a = _alpha_unit(alpha[cy0:cy1, cx0:cx1])
        fg, bg = _fusion(image, a, fg_hat, bg_hat, FG_TRUST, 1.0)
        fg_hat = _weighted_blur(fg, a**FG_POWER_LOCAL, FG_LOCAL)
        bg_hat = _weighted_blur(bg, (1 - a) ** FG_POWER_LOCAL, FG_LOCAL)
        fg, _ = _fusion(image, a, fg_hat, bg_hat, FG_TRUST, 1.0)
        inner = (slice(y0 - cy0, y1 - cy0), slice(x0 - cx0, x1 - cx0))
        colours = (fg[:, inner[0], inner[1]] * np.float32(255) + np.float32(0.5)).astype(np.uint8)
        keep = _partial(alpha[y0:y1, x0:x1])
        target = out[y0:y1, x0:x1]
        target[keep] = colours.transpose(1, 2, 0)[keep]
    return out


def _partial_tiles(alpha: np.ndarray) -> list[tuple[int, int]]:
    """(tile row, tile column) of every ``FG_TILE`` tile holding partial alpha."""
    tiles = []
    for top in range(0, alpha.shape[0], FG_TILE):
        columns = np.flatnonzero(_partial(alpha[top : top + FG_TILE]).any(axis=0))
        tiles.extend((top // FG_TILE, int(tx)) for tx in np.unique(columns // FG_TILE))
    return tiles


def _coarse_estimates(rgb: np.ndarray, alpha: np.ndarray) -> tuple[list, list]:
    """First blur-fusion pass at low resolution; returns Pillow 'F' planes (F, then B).

    Downscaling the image and the alpha separately (not their product) is an approximation
    that only matters at a scale the wide blur removes anyway.
    """
    height, width = alpha.shape
    scale = min(1.0, FG_LOW_EDGE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(rgb, "RGB").resize(size, Image.BILINEAR))
    a = resize_float(_alpha_unit(alpha), *size) if scale < 1 else _alpha_unit(alpha)
    image = _planar_guide(small)
    radius = max(2, round(FG_WIDE * max(size)))
    fg = _weighted_blur(image, a**FG_POWER_WIDE, radius)
    bg = _weighted_blur(image, (1 - a) ** FG_POWER_WIDE, radius)
    planes = [Image.fromarray(np.ascontiguousarray(p), "F") for p in (*fg, *bg)]
    return planes[:3], planes[3:]
