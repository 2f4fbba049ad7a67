"""Edge refinement on small synthetic arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from offcut import filters, refine


def _step_scene(height=120, width=160, edge=70):
    """Left dark blue, right bright orange; alpha 1 right of ``edge``, 0 left of it."""
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:, :edge] = (20, 30, 120)
    rgb[:, edge:] = (230, 150, 40)
    truth = np.zeros((height, width), dtype=np.float32)
    truth[:, edge:] = 1
    return rgb, truth


def _ramp_scene(height=60, width=200):
    """A grey ramp left to right, the same alpha ramp, and that alpha squashed to 50x50."""
    ramp = np.linspace(0, 1, width, dtype=np.float32)
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[:] = (ramp[None, :, None] * 255).astype(np.uint8)
    truth = np.broadcast_to(ramp, (height, width)).astype(np.float32)
    low = np.asarray(Image.fromarray(truth, "F").resize((50, 50), Image.BILINEAR))
    return rgb, truth, low


def test_box_mean_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.random((2, 23, 31)).astype(np.float32)
    for radius in (1, 3, 6, 40):
        got = filters.box_mean(x, radius)
        want = np.zeros_like(x)
        for i in range(23):
            for j in range(31):
                window = x[
                    :, max(0, i - radius) : i + radius + 1, max(0, j - radius) : j + radius + 1
                ]
                want[:, i, j] = window.mean(axis=(1, 2))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=2e-6)


def test_guided_coefficients_match_per_window_least_squares():
    rng = np.random.default_rng(1)
    guide = rng.random((3, 14, 17)).astype(np.float32)
    src = rng.random((14, 17)).astype(np.float32)
    radius, eps = 2, 1e-2
    a_ref = np.zeros((3, 14, 17), dtype=np.float64)
    b_ref = np.zeros((14, 17), dtype=np.float64)
    for i in range(14):
        for j in range(17):
            rows, cols = (
                slice(max(0, i - radius), i + radius + 1),
                slice(max(0, j - radius), j + radius + 1),
            )
            g = guide[:, rows, cols].reshape(3, -1).astype(np.float64)
            p = src[rows, cols].reshape(-1).astype(np.float64)
            mu = g.mean(axis=1)
            cov = np.cov(g, bias=True) + eps * np.eye(3)
            a = np.linalg.solve(cov, (g * p).mean(axis=1) - mu * p.mean())
            a_ref[:, i, j], b_ref[i, j] = a, p.mean() - a @ mu
    a, b = filters.guided_coefficients(guide, src, radius, eps)
    assert a.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_allclose(a, filters.box_mean(a_ref.astype(np.float32), radius), atol=1e-5)
    np.testing.assert_allclose(b, filters.box_mean(b_ref.astype(np.float32), radius), atol=1e-5)


def test_tile_resize_equals_region_of_full_resize():
    rng = np.random.default_rng(2)
    image = Image.fromarray(rng.random((37, 53)).astype(np.float32), "F")
    full = np.asarray(image.resize((301, 211), Image.BILINEAR))
    tiled = np.empty_like(full)
    for top in range(0, 211, 16):
        for left in range(0, 301, 40):
            crop = (left, top, min(left + 40, 301), min(top + 16, 211))
            tiled[crop[1]:crop[3], crop[0]:crop[2]] = refine.resize_box(image, 301, 211, crop)
    # Pillow derives a tile's sample positions with its own float rounding: ~1 ulp-level.
    np.testing.assert_allclose(tiled, full, atol=2e-6)


def test_tiled_upsample_equals_one_tile(monkeypatch):
    """Small tiles (most of them filled without resampling) give the same alpha as one
    tile covering the image (everything resampled and filtered)."""
    rgb, truth = _step_scene(300, 400, 170)
    low = np.asarray(Image.fromarray(truth, "F").resize((40, 40), Image.BILINEAR))
    monkeypatch.setattr(refine, "WORK_LONG_EDGE", 100)  # below the source: the tiled path
    monkeypatch.setattr(refine, "ALPHA_TILE", 1000)
    whole = refine.upsample_alpha(low, rgb)
    monkeypatch.setattr(refine, "ALPHA_TILE", 37)
    tiled = refine.upsample_alpha(low, rgb)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert ((tiled == 0) | (tiled == 1)).mean() > 0.5  # the skipped tiles are exact 0/1


@pytest.mark.parametrize("big", [False, True])
def test_step_edge_stays_sharp(monkeypatch, big):
    rgb, truth = _step_scene()
    if big:
        monkeypatch.setattr(refine, "WORK_LONG_EDGE", 64)
    low = np.asarray(Image.fromarray(truth, "F").resize((32, 32), Image.BILINEAR))
    naive = refine.upsample_alpha(low, rgb, refine_edges=False)
    refined = refine.upsample_alpha(low, rgb)
    assert refined.dtype == np.float32 and refined.shape == truth.shape
    # The colour edge is exact, so the refined alpha is near-binary and right.
    assert np.abs(refined - truth).mean() < 0.5 * np.abs(naive - truth).mean()
    assert np.abs(refined - truth).max() < 0.2
    assert ((refined > 0.05) & (refined < 0.95)).sum() <= ((naive > 0.05) & (naive < 0.95)).sum()


def test_soft_ramp_stays_soft():
    # A smooth colour ramp with a matching alpha ramp: nothing to snap to.
    rgb, truth, low = _ramp_scene()
    refined = refine.upsample_alpha(low, rgb)
    # The logit gain steepens the ramp a little, but it stays a graded, monotonic ramp.
    middle = refined[:, 50:150]
    assert ((middle > 0.05) & (middle < 0.95)).all()
    assert np.all(np.diff(refined, axis=1) >= -1e-6)
    assert np.abs(refined - truth).max() < 0.2


def test_constant_mask_is_unchanged():
    rng = np.random.default_rng(3)
    rgb = (rng.random((50, 70, 3)) * 255).astype(np.uint8)
    for value in (0.0, 1.0):
        low = np.full((20, 20), value, dtype=np.float32)
        out = refine.upsample_alpha(low, rgb)
        assert out.dtype == np.float32
        assert np.array_equal(out, np.full((50, 70), value, dtype=np.float32))


def test_confident_regions_snap_to_exact_zero_and_one():
    rgb, truth = _step_scene()
    low = np.asarray(Image.fromarray(truth, "F").resize((32, 32), Image.BILINEAR))
    low = np.clip(low * 0.98 + 0.005, 0, 1)  # model haze: never exactly 0 or 1
    out = refine.upsample_alpha(low, rgb)
    assert np.all(out[:, :40] == 0.0)
    assert np.all(out[:, 100:] == 1.0)


def test_refine_off_is_plain_bilinear():
    rgb, truth = _step_scene()
    low = np.asarray(Image.fromarray(truth, "F").resize((32, 32), Image.BILINEAR))
    out = refine.upsample_alpha(low, rgb, refine_edges=False)
    np.testing.assert_array_equal(out, np.clip(refine.resize_float(low, 160, 120), 0, 1))


def test_confidence_keeps_the_half_crossing_and_order():
    q = np.linspace(0, 1, 101, dtype=np.float32)[None].repeat(3, axis=0)
    p = np.array([[0.02], [0.5], [0.97]], dtype=np.float32).repeat(101, axis=1)
    out = refine._confident(q.copy(), p)
    assert np.all(np.diff(out, axis=1) >= 0)
    assert np.all((out >= 0.5) == (q >= 0.5))
    # Unsure model: unchanged; sure model: faint values pushed to its side.
    np.testing.assert_allclose(out[1], q[1], atol=1e-6)
    assert out[0, 20] < 0.02 and out[2, 80] > 0.98


def test_lookalike_background_leaves_no_haze(monkeypatch):
    # Background right next to the subject holds a patch of the subject's colour (a silver
    # car beside a grey road); the model's soft edge says "background" there.
    rgb, truth = _step_scene(120, 160, 80)
    rgb[40:80, 66:74] = (230, 150, 40)
    low = np.asarray(Image.fromarray(truth, "F").resize((24, 24), Image.BILINEAR))
    patch = (slice(40, 80), slice(66, 72))
    monkeypatch.setattr(refine, "CONFIDENCE_GAMMA", 0.0)
    plain = refine.upsample_alpha(low, rgb)[patch].mean()
    monkeypatch.undo()
    out = refine.upsample_alpha(low, rgb)
    assert out[patch].mean() < 0.5 * plain, (out[patch].mean(), plain)
    assert out[patch].mean() < 0.05


def test_less_sharpening_keeps_a_soft_ramp_closer_to_its_truth():
    # IS-Net's record asks for a logit gain of 1 instead of 2: a ramp the colours follow keeps
    # its slope, where the default steepens it.
    rgb, truth, low = _ramp_scene()
    errors = {}
    for gain in (1.0, 2.0):
        out = refine.upsample_alpha(low, rgb, sharpen=gain, confidence=0.0)
        assert out.dtype == np.float32
        errors[gain] = np.abs(out - truth)[:, 20:180].mean()
    assert errors[1.0] < 0.5 * errors[2.0]
    assert errors[1.0] < 0.02


def test_the_confidence_push_grows_with_its_gamma_and_keeps_one_half():
    q = np.array([0.3, 0.5, 0.7], dtype=np.float32)
    sure_background = np.full(3, 0.02, dtype=np.float32)
    pushed = {g: refine._confident(q.copy(), sure_background, g) for g in (0.0, 2.0, 8.0)}
    np.testing.assert_array_equal(pushed[0.0], q)  # gamma 0: no push at all
    assert pushed[8.0][0] < pushed[2.0][0] < 0.3 and pushed[8.0][2] > pushed[2.0][2] > 0.7
    assert all(value[1] == np.float32(0.5) for value in pushed.values())
    assert all(value.dtype == np.float32 for value in pushed.values())


def test_records_carry_their_refinement_settings(records):
    from offcut.records import ModelRecord

    best, fast = records["isnet-medium"], records["u2netp"]
    assert (best.refine_sharpen, best.refine_confidence) == (1.0, 2.0)
    assert (fast.refine_sharpen, fast.refine_confidence) == (None, None)  # the defaults
    raw = dict(fast.raw, refine_sharpen=0, refine_confidence="3")
    assert ModelRecord.from_dict(raw).refine_sharpen == 0.0
    assert ModelRecord.from_dict(raw).refine_confidence == 3.0
