"""The numpy scorer on masks with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from offcut import metrics


def _square(size=40, top=10, left=10, side=20):
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[top : top + side, left : left + side] = 255
    return mask


def test_perfect_prediction_scores_one():
    gt = _square()
    scores = metrics.score(gt.astype(np.float32) / 255, gt)
    assert scores == {"iou": 1.0, "dice": 1.0, "mae": 0.0, "bf": 1.0}
    assert metrics.score(gt, gt)["iou"] == 1.0  # uint8 predictions are scaled


def test_iou_dice_and_mae_of_a_shifted_square():
    gt = _square()
    pred = _square(left=12).astype(np.float32) / 255
    scores = metrics.score(pred, gt)
    inter, union = 18 * 20, 22 * 20
    assert scores["iou"] == pytest.approx(inter / union)
    assert scores["dice"] == pytest.approx(2 * inter / 800)
    assert scores["mae"] == pytest.approx(80 / 1600)
    # A 2 px shift is within the boundary tolerance.
    assert scores["bf"] == pytest.approx(1.0)


def test_boundary_f_drops_beyond_tolerance():
    gt = _square()
    assert metrics.score(_square(left=14), gt)["bf"] < 0.7
    assert metrics.score(_square(left=13), gt, tolerance=3)["bf"] == pytest.approx(1.0)


def test_ignored_pixels_are_left_out():
    gt = _square()
    gt[0:5, :] = metrics.IGNORE
    pred = np.zeros((40, 40), dtype=np.float32)
    pred[10:30, 10:30] = 1
    pred[0:4, :] = 1  # wrong, but ignored (its boundary too)
    assert metrics.score(pred, gt) == {"iou": 1.0, "dice": 1.0, "mae": 0.0, "bf": 1.0}


def test_threshold_is_half_and_empty_cases():
    gt = np.zeros((10, 10), dtype=np.uint8)
    pred = np.full((10, 10), 0.49, dtype=np.float32)
    scores = metrics.score(pred, gt)
    assert scores["iou"] == 1.0 and scores["bf"] == 1.0
    assert scores["mae"] == pytest.approx(0.49, abs=1e-6)
    pred[5, 5] = 0.5
    assert metrics.score(pred, gt)["iou"] == 0.0
    assert metrics.score(pred, gt)["bf"] == 0.0


def test_boundary_and_max_filter():
    mask = np.zeros((7, 7), dtype=bool)
    mask[2:5, 2:5] = True
    b8 = metrics.boundary(mask)
    b4 = metrics.boundary(mask, connectivity=4)
    assert b8.sum() == 8 + 16  # the ring inside plus the ring outside
    assert b4.sum() == 8 + 12  # outside corners are only diagonal neighbours
    dot = np.zeros((9, 9), dtype=bool)
    dot[4, 4] = True
    assert metrics.max_filter(dot, 2).sum() == 25
    with pytest.raises(ValueError):
        metrics.score(np.zeros((3, 3)), np.zeros((4, 4), dtype=np.uint8))
