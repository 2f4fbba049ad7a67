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


# ---------------------------------------------------------------- soft mattes, known answers


def test_matte_scores_of_a_perfect_matte_are_zero_and_iou_one():
    gt = np.tile(np.linspace(0, 1, 30, dtype=np.float32), (20, 1))
    scores = metrics.matte_scores(gt, gt)
    assert scores == {"sad": 0.0, "mse": 0.0, "grad": 0.0, "band": 0.0, "iou": 1.0}


def test_matte_sad_mse_and_iou_of_a_constant_offset():
    gt = np.zeros((10, 20), dtype=np.float32)
    gt[:, 10:] = 1.0
    pred = np.clip(gt + np.float32(0.25), 0, 1)  # background 0.25, foreground stays 1
    scores = metrics.matte_scores(pred, gt)
    assert scores["sad"] == pytest.approx(100 * 0.25 / 1000)
    assert scores["mse"] == pytest.approx(100 * 0.0625 / 200)
    assert scores["iou"] == 1.0  # 0.25 stays below 0.5
    # No partial ground truth: the band is empty and scores 0.
    assert scores["band"] == 0.0


def test_matte_band_is_the_partial_pixels_dilated_by_five():
    single = np.zeros((21, 21), dtype=np.float32)
    single[10, 10] = 0.5
    band = metrics.transition_band(single)
    yy, xx = np.mgrid[-10:11, -10:11]
    np.testing.assert_array_equal(band, np.abs(yy) + np.abs(xx) <= 5)  # a diamond
    gt = np.zeros((40, 40), dtype=np.uint8)
    gt[:, 20:] = 255
    gt[:, 20] = 128  # one partial column
    band = metrics.transition_band(gt.astype(np.float32) / 255)
    assert band[:, 15:26].all() and not band[:, :15].any() and not band[:, 26:].any()
    pred = gt.astype(np.float32) / 255
    pred[:, 0] = 1.0  # an error outside the band does not count there
    pred[:, 18] = 0.5  # one inside it does: 0.5 over 11 columns
    assert metrics.matte_scores(pred, gt)["band"] == pytest.approx(0.5 / 11)


def test_gradient_magnitude_of_a_unit_step_peaks_at_the_gaussian_peak_and_a_ramp_is_flat():
    step = np.zeros((9, 30))
    step[:, 15:] = 1.0
    magnitude = metrics.gradient_magnitude(step)
    assert np.argmax(magnitude[4]) in (14, 15)
    # A unit step filtered by a Gaussian derivative is the Gaussian: peak 1/(s sqrt(2pi)),
    # sampled here half a pixel off the step.
    sigma = metrics.GRADIENT_SIGMA
    assert magnitude[4].max() == pytest.approx(1 / (sigma * np.sqrt(2 * np.pi)), rel=0.06)
    assert magnitude[4, :5].max() < 1e-9  # far from the step: no gradient
    ramp = np.tile(np.arange(40, dtype=np.float64) / 100, (9, 1))
    # A linear ramp has its own slope everywhere away from the borders.
    inner = metrics.gradient_magnitude(ramp)[4, 8:32]
    np.testing.assert_allclose(inner, 0.01, rtol=1e-3)


def test_gradient_error_grows_when_a_sharp_edge_is_blurred():
    gt = np.zeros((20, 40), dtype=np.float32)
    gt[:, 20:] = 1.0
    blurred = np.tile(np.clip((np.arange(40) - 14) / 12, 0, 1), (20, 1)).astype(np.float32)
    assert metrics.matte_scores(blurred, gt)["grad"] > metrics.matte_scores(gt, gt)["grad"]


def test_matte_scores_accept_uint8_and_refuse_a_shape_mismatch():
    gt = np.full((8, 8), 255, dtype=np.uint8)
    assert metrics.matte_scores(gt, gt)["sad"] == 0.0
    with pytest.raises(ValueError):
        metrics.matte_scores(gt, gt[:4])
