"""Mask quality scores, numpy only (used by the benchmarks and tests, never by the pipeline).

Ground truth is uint8 with 0 = background, 255 = foreground and 128 = ignore; ignored pixels
are left out of every score. Predictions are float alpha in [0, 1] (or uint8 0..255, which is
scaled), thresholded at 0.5 for the region scores.
"""

from __future__ import annotations

import numpy as np

from offcut.filters import max_filter

#: Ground-truth value that marks pixels left out of every score.
IGNORE = 128


def _as_alpha(pred: np.ndarray) -> np.ndarray:
    """float32 alpha in [0, 1] from a uint8 (0..255) or float prediction."""
    if pred.dtype == np.uint8:
        return pred.astype(np.float32) / np.float32(255)
    return np.asarray(pred, dtype=np.float32)


def boundary(mask: np.ndarray, *, connectivity: int = 8) -> np.ndarray:
    """Pixels of a binary mask with a pixel of the other class among their neighbours.

    Parameters
    ----------
    mask : ndarray of bool, shape (H, W)
    connectivity : 4 or 8

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    mask = np.asarray(mask, dtype=bool)
    # Edge replication: the image border itself is not a boundary.
    padded = np.pad(mask, 1, mode="edge")
    height, width = mask.shape
    if connectivity == 8:
        offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    elif connectivity == 4:
        offsets = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    else:
        raise ValueError("connectivity must be 4 or 8")
    out = np.zeros_like(mask)
    for dy, dx in offsets:
        out |= padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width] != mask
    return out


def boundary_f(
    pred: np.ndarray, gt: np.ndarray, *, tolerance: int = 2, valid: np.ndarray | None = None
) -> float:
    """Boundary F-measure of two binary masks with a pixel tolerance.

    A predicted boundary pixel counts as correct when a ground-truth boundary pixel lies
    within ``tolerance`` pixels (square neighbourhood), and symmetrically for recall.

    Parameters
    ----------
    pred, gt : ndarray of bool, shape (H, W)
    tolerance : int
    valid : ndarray of bool, shape (H, W), optional
        Pixels that count; boundary pixels outside it are dropped from both sides.

    Returns
    -------
    float in [0, 1]; 1.0 when neither mask has a boundary, 0.0 when only one has.
    """
    pred_b = boundary(pred)
    gt_b = boundary(gt)
    if valid is not None:
        pred_b &= valid
        gt_b &= valid
    n_pred, n_gt = int(pred_b.sum()), int(gt_b.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    precision = float((pred_b & max_filter(gt_b, tolerance)).sum()) / n_pred
    recall = float((gt_b & max_filter(pred_b, tolerance)).sum()) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def score(pred: np.ndarray, gt: np.ndarray, *, tolerance: int = 2) -> dict[str, float]:
    """IoU, Dice, alpha MAE and boundary F of one prediction.

    Parameters
    ----------
    pred : ndarray of float32 in [0, 1] or uint8, shape (H, W)
        Predicted alpha.
    gt : ndarray of uint8, shape (H, W)
        0 background, 255 foreground, 128 ignore.
    tolerance : int
        Boundary F tolerance in pixels.

    Returns
    -------
    dict with float values for ``iou``, ``dice``, ``mae`` and ``bf``.
    Empty-versus-empty regions score 1.0 for IoU and Dice.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape}, ground truth {gt.shape}")
    alpha = _as_alpha(pred)
    valid = gt != IGNORE
    truth = gt > IGNORE
    guess = alpha >= 0.5
    inter = int((guess & truth & valid).sum())
    n_guess = int((guess & valid).sum())
    n_truth = int((truth & valid).sum())
    union = n_guess + n_truth - inter
    iou = inter / union if union else 1.0
    dice = 2 * inter / (n_guess + n_truth) if (n_guess + n_truth) else 1.0
    n_valid = int(valid.sum())
    if n_valid:
        error = np.abs(alpha - truth.astype(np.float32))
        mae = float(error[valid].sum(dtype=np.float64) / n_valid)
    else:
        mae = 0.0
    bf = boundary_f(guess, truth, tolerance=tolerance, valid=valid)
    return {"iou": iou, "dice": dice, "mae": mae, "bf": bf}


# ------------------------------------------------------------------ soft (true alpha) mattes

#: Gaussian derivative scale of the gradient error (the alphamatting.com benchmark's 1.4).
GRADIENT_SIGMA = 1.4
#: The transition band is the ground truth's partial pixels dilated by this many pixels
#: (4-connected steps, so a diamond: what the issue's reference numbers used).
BAND_DILATION = 5


def _gaussian_kernels(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Sampled Gaussian (summing to 1) and its derivative, radius ``round(4 sigma)``, float64.

    The derivative kernel is ``-x / sigma**2`` times the Gaussian, as a correlation kernel
    (a rising step gives a positive response).
    """
    half = int(4 * sigma + 0.5)
    x = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(x**2) / (2 * sigma**2))
    gauss /= gauss.sum()
    return gauss, x * gauss / sigma**2


def _filter_axis(image: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Correlate ``image`` with a 1-D ``kernel`` along ``axis``; edges mirror (c b a | a b c)."""
    half = len(kernel) // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (half, half)
    padded = np.pad(image, pad, mode="symmetric")
    n = image.shape[axis]
    out = np.zeros(image.shape, dtype=np.float64)
    for k, weight in enumerate(kernel):
        out += weight * (padded[k : k + n] if axis == 0 else padded[:, k : k + n])
    return out


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """Gradient magnitude by Gaussian derivative filters, float64 (H, W).

    ``sqrt(gx**2 + gy**2)`` with ``gx`` the Gaussian-smoothed x derivative (unit-sum
    Gaussian, truncated at 4 sigma): a unit step peaks at ``1 / (sigma * sqrt(2 pi))``.
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    gauss, dgauss = _gaussian_kernels(sigma)
    gx = _filter_axis(_filter_axis(alpha, gauss, 0), dgauss, 1)
    gy = _filter_axis(_filter_axis(alpha, dgauss, 0), gauss, 1)
    return np.sqrt(gx**2 + gy**2)


def transition_band(gt: np.ndarray, dilation: int = BAND_DILATION) -> np.ndarray:
    """Pixels whose ground truth is strictly between 0 and 1, plus every pixel within
    ``dilation`` 4-connected steps of one (a diamond).

    Parameters
    ----------
    gt : ndarray of float in [0, 1], shape (H, W)

    Returns
    -------
    ndarray of bool, shape (H, W)
    """
    band = (gt > 0) & (gt < 1)
    for _ in range(dilation):
        grown = band.copy()
        grown[1:] |= band[:-1]
        grown[:-1] |= band[1:]
        grown[:, 1:] |= band[:, :-1]
        grown[:, :-1] |= band[:, 1:]
        band = grown
    return band


def matte_scores(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Whole-image matting errors of one predicted alpha against a soft ground truth.

    Parameters
    ----------
    pred, gt : ndarray, shape (H, W)
        float alpha in [0, 1], or uint8 0..255 (scaled).

    Returns
    -------
    dict of float:
        ``sad``: sum |pred - gt| / 1000; ``mse``: mean squared error; ``grad``: sum of the
        squared difference of gradient magnitudes (sigma 1.4) / 1000; ``band``: mean |pred -
        gt| inside :func:`transition_band` (0 when it is empty); ``iou``: of pred >= 0.5 and
        gt >= 0.5 (1 when both are empty).
    """
    if pred.shape != gt.shape:
        raise ValueError(f"shape mismatch: prediction {pred.shape}, ground truth {gt.shape}")
    a = _as_alpha(pred).astype(np.float64)
    g = _as_alpha(gt).astype(np.float64)
    error = np.abs(a - g)
    band = transition_band(g)
    diff = gradient_magnitude(a) - gradient_magnitude(g)
    guess, truth = a >= 0.5, g >= 0.5
    union = int((guess | truth).sum())
    return {
        "sad": float(error.sum() / 1000),
        "mse": float((error**2).mean()),
        "grad": float((diff**2).sum() / 1000),
        "band": float(error[band].mean()) if band.any() else 0.0,
        "iou": float((guess & truth).sum() / union) if union else 1.0,
    }
