"""Alpha that follows colour in the model's uncertain band: a local colour model.

Where the model is sure (a trimap from its own output), the image gives samples of the
foreground and the background colour. Near each pixel of the uncertain band their local means
``F`` and ``B`` (box filters over the confident pixels only) define a line in colour space,
and the pixel's alpha is where its colour ``I`` projects onto that line::

    alpha = (I - B) . (F - B) / |F - B|^2

That is linear in ``I``, so it is returned as the same ``(a, b)`` coefficients as the guided
filter (``alpha = sum_c a[c] * I[c] + b``) and evaluated against the full-resolution image
in tiles by :mod:`offcut.refine`: hair against sky gets the fraction its colour says, not the
width of the model's blur. Where ``F`` and ``B`` are alike the colour says nothing, so the
model's own value is kept (a smooth blend on ``|F - B|``).

float32 throughout, numpy only.
"""

from __future__ import annotations

import numpy as np

from offcut.filters import box_mean

#: Model values at or beyond this distance from 0 or 1 count as known (the trimap).
KNOWN = 0.05
#: Colour distance (squared, RGB in [0, 1]) at which the colour model gets half the say;
#: below it foreground and background are too alike to tell apart.
SEPARATION = 0.01
#: The colour model's say shrinks where the model is sure: by ``1 - |2p - 1| ** DOUBT_POWER``.
DOUBT_POWER = 0.0
#: Regularises the projection's division.
EPS = 1e-4


def colour_coefficients(
    guide: np.ndarray, p: np.ndarray, radius: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel linear alpha model from local foreground and background colour means.

    Parameters
    ----------
    guide : ndarray of float32, shape (3, H, W), values in [0, 1]
        Planar colour image.
    p : ndarray of float32, shape (H, W), values in [0, 1]
        The model's alpha at the same resolution; values within ``KNOWN`` of 1 (of 0) are the
        foreground (background) samples.
    radius : int
        Box radius for the colour means.

    Returns
    -------
    a : ndarray of float32, shape (3, H, W)
    b : ndarray of float32, shape (H, W)
        ``alpha = sum_c a[c] * guide[c] + b`` wherever the colour model applies.
    weight : ndarray of float32, shape (H, W), in [0, 1]
        How much the colour model is trusted; 0 where no foreground or no background sample
        is in reach or their colours are alike (there ``a = 0`` and ``b = p``).
    """
    guide = np.asarray(guide, dtype=np.float32)
    p = np.asarray(p, dtype=np.float32)
    fg = (p >= 1 - KNOWN).astype(np.float32)
    bg = (p <= KNOWN).astype(np.float32)
    # One stacked box pass: the two counts and the six masked colour sums.
    stats = box_mean(np.concatenate([fg[None], bg[None], guide * fg, guide * bg]), radius)
    n_fg, n_bg = stats[0], stats[1]
    tiny = np.float32(1e-6)
    fore = stats[2:5] / np.maximum(n_fg, tiny)
    back = stats[5:8] / np.maximum(n_bg, tiny)
    del stats
    d = fore - back
    dist = (d * d).sum(axis=0)
    # Both sides must be represented in the window (a few percent of it), else no say.
    present = np.clip(np.minimum(n_fg, n_bg) * np.float32(20), 0, 1)
    weight = (present * dist / (dist + np.float32(SEPARATION))).astype(np.float32)
    if DOUBT_POWER:
        weight *= 1 - np.abs(2 * p - 1) ** np.float32(DOUBT_POWER)
    scale = weight / (dist + np.float32(EPS))
    a = d * scale
    b = (1 - weight) * p - (back * d).sum(axis=0) * scale
    return a.astype(np.float32), b.astype(np.float32), weight
