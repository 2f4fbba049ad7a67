"""Box and guided filters in plain numpy (float32 in, float32 out).

Everything here runs at a bounded *working* resolution (about a megapixel), never at the
full 50 MP source size; the callers in :mod:`offcut.refine` take care of that.
"""

from __future__ import annotations

import numpy as np


def max_filter(mask: np.ndarray, radius: int) -> np.ndarray:
    """Square (2r+1)x(2r+1) maximum filter built from shifted slices; edges replicate.

    Parameters
    ----------
    mask : ndarray of bool or numbers, shape (H, W)
    radius : int

    Returns
    -------
    ndarray, same shape and dtype as ``mask``
    """
    if radius <= 0:
        return mask.copy()
    # Separable: a row pass then a column pass, each an elementwise max of 2r+1 shifts.
    height, width = mask.shape
    padded = np.pad(mask, ((radius, radius), (0, 0)), mode="edge")
    out = padded[0:height].copy()
    for shift in range(1, 2 * radius + 1):
        np.maximum(out, padded[shift : shift + height], out=out)
    padded = np.pad(out, ((0, 0), (radius, radius)), mode="edge")
    out = padded[:, 0:width].copy()
    for shift in range(1, 2 * radius + 1):
        np.maximum(out, padded[:, shift : shift + width], out=out)
    return out


def _box_sum_axis(x: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """Sum over the window ``[i - r, i + r]`` clipped to the array, along one axis.

    Built from about ``2 log2(2r + 1)`` whole-array additions of shifted slices (binary
    decomposition of the window length) rather than a cumulative sum: numpy's cumsum along
    a non-last axis is slow, and a float32 running sum over thousands of values loses ~1e-4,
    the order of the guided filter's eps. Here every sum has at most 2r + 1 terms.
    """
    n = x.shape[axis]
    length = 2 * radius + 1

    def cut(array: np.ndarray, start: int, stop: int) -> np.ndarray:
        index = [slice(None)] * array.ndim
        index[axis] = slice(start, stop)
        return array[tuple(index)]

    pad = [(0, 0)] * x.ndim
    pad[axis] = (radius, radius)
    # Zero padding makes the clipped windows plain sums; the caller divides by true counts.
    cur = np.pad(x, pad)
    out = None
    offset, size = 0, 1
    while True:
        if length & size:
            part = cut(cur, offset, offset + n)
            out = part.copy() if out is None else np.add(out, part, out=out)
            offset += size
        if size * 2 > length:
            break
        m = cur.shape[axis]
        cur = cut(cur, 0, m - size) + cut(cur, size, m)
        size *= 2
    return out


def _counts(n: int, radius: int) -> np.ndarray:
    """Number of in-range samples in each clipped window of a length-``n`` axis (float32)."""
    idx = np.arange(n)
    return (np.minimum(idx + radius, n - 1) - np.maximum(idx - radius, 0) + 1).astype(np.float32)


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)x(2r+1) window, windows clipped at the borders (no padding bias).

    Parameters
    ----------
    x : ndarray of float32, shape (H, W) or (C, H, W)
        Planes (if any) are filtered independently; planar layout keeps every slice
        contiguous, which is what makes the shifted additions fast.
    radius : int
        Window radius in pixels; 0 returns a copy.

    Returns
    -------
    ndarray of float32, same shape as ``x``
    """
    x = np.asarray(x, dtype=np.float32)
    if radius <= 0:
        return x.copy()
    height, width = x.shape[-2:]
    counts = _counts(height, radius)[:, None] * _counts(width, radius)[None, :]
    if x.ndim == 2:
        out = _box_sum_axis(_box_sum_axis(x, radius, 0), radius, 1)
        out /= counts
        return out
    # A plane at a time: the shifted sums hold about five copies of what they filter, and at
    # 13 planes of 1024x683 that grew Pyodide's heap (which never shrinks) by 185 MiB.
    out = np.empty_like(x)
    for plane, target in zip(x, out, strict=True):
        np.divide(_box_sum_axis(_box_sum_axis(plane, radius, 0), radius, 1), counts, out=target)
    return out


def guided_coefficients(
    guide: np.ndarray, src: np.ndarray, radius: int, eps: float
) -> tuple[np.ndarray, np.ndarray]:
    """Colour guided filter (He, Sun and Tang): the averaged linear coefficients.

    The filter output is ``q = sum_c a[c] * guide[c] + b``. Returning ``a`` and ``b``
    instead of ``q`` lets the caller evaluate them against a *larger* guide after upsampling
    them (the "fast guided filter"), so the expensive part runs at low resolution.

    Parameters
    ----------
    guide : ndarray of float32, shape (3, H, W), values roughly in [0, 1]
        Planar colour guide.
    src : ndarray of float32, shape (H, W)
        The signal to filter (an alpha estimate).
    radius : int
        Box radius in guide pixels.
    eps : float
        Regularisation; larger means smoother (edges weaker than ``sqrt(eps)`` are ignored).

    Returns
    -------
    a : ndarray of float32, shape (3, H, W)
    b : ndarray of float32, shape (H, W)
    """
    guide = np.asarray(guide, dtype=np.float32)
    src = np.asarray(src, dtype=np.float32)
    r, g, bl = guide
    # One stacked box pass over all 13 statistics: fewer Python-level calls in Pyodide.
    stats = np.stack(
        [r, g, bl, src, r * src, g * src, bl * src, r * r, r * g, r * bl, g * g, g * bl, bl * bl]
    )
    means = box_mean(stats, radius)
    del stats
    mr, mg, mb, mp = means[0], means[1], means[2], means[3]
    cov_r = means[4] - mr * mp
    cov_g = means[5] - mg * mp
    cov_b = means[6] - mb * mp
    e = np.float32(eps)
    s_rr = means[7] - mr * mr + e
    s_rg = means[8] - mr * mg
    s_rb = means[9] - mr * mb
    s_gg = means[10] - mg * mg + e
    s_gb = means[11] - mg * mb
    s_bb = means[12] - mb * mb + e
    del means
    # Closed-form inverse of the symmetric 3x3 covariance via its adjugate, per pixel.
    i_rr = s_gg * s_bb - s_gb * s_gb
    i_rg = s_rb * s_gb - s_rg * s_bb
    i_rb = s_rg * s_gb - s_rb * s_gg
    i_gg = s_rr * s_bb - s_rb * s_rb
    i_gb = s_rg * s_rb - s_rr * s_gb
    i_bb = s_rr * s_gg - s_rg * s_rg
    det = s_rr * i_rr + s_rg * i_rg + s_rb * i_rb
    # eps > 0 keeps the matrix positive definite, so det > 0 up to rounding.
    inv_det = np.float32(1) / np.maximum(det, np.float32(1e-30))
    coef = np.empty((4,) + src.shape, dtype=np.float32)
    coef[0] = (i_rr * cov_r + i_rg * cov_g + i_rb * cov_b) * inv_det
    coef[1] = (i_rg * cov_r + i_gg * cov_g + i_gb * cov_b) * inv_det
    coef[2] = (i_rb * cov_r + i_gb * cov_g + i_bb * cov_b) * inv_det
    coef[3] = mp - coef[0] * mr - coef[1] * mg - coef[2] * mb
    # Averaging the coefficients over the windows that cover each pixel (the filter's 2nd box).
    coef = box_mean(coef, radius)
    return coef[:3], coef[3]


def apply_coefficients(a: np.ndarray, b: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """``q = sum_c a[c] * guide[c] + b``; a and guide (3, H, W), b and q (H, W), float32."""
    q = a[0] * guide[0]
    q += a[1] * guide[1]
    q += a[2] * guide[2]
    q += b
    return q


def planar_rgb(rgb: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> float32 (3, H, W) in [0, 1]: the planar layout the box filters want."""
    guide = np.empty((3,) + rgb.shape[:2], dtype=np.float32)
    for channel in range(3):
        np.multiply(rgb[:, :, channel], np.float32(1 / 255), out=guide[channel])
    return guide
