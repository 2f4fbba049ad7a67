"""``finish``: raw model output -> alpha matte at the source's full resolution."""

from __future__ import annotations

import numpy as np

from offcut import refine
from offcut.errors import ModelOutputError
from offcut.records import ModelRecord


def mask_from_output(output: np.ndarray, record: ModelRecord) -> np.ndarray:
    """Read the model's low-resolution mask.

    Parameters
    ----------
    output : ndarray, shape (N, 1, S, S) or (S, S)
        The output tensor named by ``record.output_index``, one per view of
        :func:`offcut.prepare.prepare` (``N = 2`` when ``record.flip``).
    record : ModelRecord

    Returns
    -------
    ndarray of float32, shape (S, S), values in [0, 1]
    """
    mask = np.asarray(output, dtype=np.float32).reshape(-1)
    side, views = record.size, 2 if record.flip else 1
    if mask.size != views * side * side:
        raise ModelOutputError(f"expected {views}x{side}x{side} values from {record.id}, "
                               f"got {mask.size}")
    if not np.isfinite(mask).all():
        raise ModelOutputError(f"{record.id} returned NaN or infinite values")
    if views == 2:
        # The mirrored view's output, mirrored back, averaged with the plain one: the
        # model's left-right biases cancel (u2netp, dev subset: IoU 0.716 -> 0.748, but
        # soft set 0.839 -> 0.815 from one photo; no record turns it on yet, see the record
        # docs).
        pair = mask.reshape(2, side, side)
        mask = (pair[0] + pair[1][:, ::-1]) * np.float32(0.5)
    mask = mask.reshape(side, side)
    if record.minmax:
        low, high = float(mask.min()), float(mask.max())
        # A flat output means the model saw no subject: an empty mask, not a division by zero.
        mask = (mask - np.float32(low)) / np.float32(high - low) if high > low else mask * 0
    return np.clip(mask, 0.0, 1.0).astype(np.float32, copy=False)


def quantise_alpha(alpha: np.ndarray, source_alpha: np.ndarray | None = None) -> np.ndarray:
    """float32 alpha in [0, 1] -> uint8, multiplied by the source's own alpha when it has one.

    Returns
    -------
    ndarray of uint8, shape (H, W)
        ``round(clip(alpha) * 255)``, times ``source_alpha / 255`` (rounded) when given.
    """
    return with_source_alpha(refine.quantise(alpha), source_alpha)


def with_source_alpha(alpha8: np.ndarray, source_alpha: np.ndarray | None) -> np.ndarray:
    """``alpha8`` times ``source_alpha / 255``, rounded, in place (and returned), so that an
    already transparent source never shows what it hid. None leaves ``alpha8`` as it is.

    Parameters
    ----------
    alpha8, source_alpha : ndarray of uint8, shape (H, W)
    """
    if source_alpha is not None:
        for top in range(0, alpha8.shape[0], refine.BAND_ROWS):  # temporaries of a band
            rows = slice(top, top + refine.BAND_ROWS)
            product = alpha8[rows].astype(np.uint16) * source_alpha[rows] + 127
            np.copyto(alpha8[rows], product // 255, casting="unsafe")
    return alpha8


def finish(
    output: np.ndarray,
    record: ModelRecord,
    rgb: np.ndarray,
    *,
    refine_edges: bool = True,
    dtype=np.float32,
) -> np.ndarray:
    """Model output -> full-resolution alpha.

    Parameters
    ----------
    output : ndarray
        The model's mask tensor (see :func:`mask_from_output`).
    record : ModelRecord
    rgb : ndarray of uint8, shape (H, W, 3)
        The decoded source, used as the guide for edge-aware upsampling.
    refine_edges : bool
        Edge-aware upsampling (default) or plain bilinear.
    dtype : np.float32 or np.uint8
        See :func:`offcut.refine.upsample_alpha`.

    Returns
    -------
    ndarray of float32 in [0, 1] or uint8, shape (H, W)
    """
    low = mask_from_output(output, record)
    return refine.upsample_alpha(low, rgb, refine_edges=refine_edges,
                                 radius_scale=record.refine_radius_scale,
                                 method=record.refine_method,
                                 sharpen=record.refine_sharpen,
                                 confidence=record.refine_confidence,
                                 dtype=dtype)
