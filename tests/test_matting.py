"""The colour-model matting step (offcut.matting) and the refine method that uses it."""

import numpy as np
import pytest
from PIL import Image

from offcut import matting, refine
from offcut.filters import apply_coefficients, planar_rgb

FORE = np.array([230, 40, 30], np.float32)
BACK = np.array([30, 60, 200], np.float32)


def _composite(truth: np.ndarray) -> np.ndarray:
    """uint8 image ``truth * FORE + (1 - truth) * BACK``."""
    return (truth[..., None] * FORE + (1 - truth[..., None]) * BACK + 0.5).astype(np.uint8)


def _ramp(width=240, start=100, length=40, height=60):
    x = np.arange(width, dtype=np.float32)
    return np.broadcast_to(np.clip((x - start) / length, 0, 1), (height, width)).astype(
        np.float32)


def _alpha(p, rgb, radius):
    guide = planar_rgb(rgb)
    a, b, weight = matting.colour_coefficients(guide, p, radius)
    return apply_coefficients(a, b, guide), weight


def test_known_soft_ramp_is_recovered_from_a_hard_guess():
    truth = _ramp()
    rgb = _composite(truth)
    # The model is sure only outside the ramp (100..140) and inside it guesses nearly hard.
    x = np.arange(truth.shape[1])
    guess = np.where(x < 100, 0.0, np.where(x >= 140, 1.0, np.where(x < 120, 0.1, 0.9)))
    p = np.broadcast_to(guess.astype(np.float32), truth.shape)
    alpha, weight = _alpha(p, rgb, 45)
    assert alpha.dtype == np.float32
    middle = slice(100, 140)
    assert np.abs(alpha[:, middle] - truth[:, middle]).max() < 0.03
    # The guess itself is far off there: the colour, not the guess, gave the ramp.
    assert np.abs(p[:, middle] - truth[:, middle]).max() > 0.2
    assert weight[:, middle].min() > 0.9


def test_step_stays_sharp():
    truth = np.zeros((40, 120), np.float32)
    truth[:, 60:] = 1
    rgb = _composite(truth)
    x = np.arange(120, dtype=np.float32)
    p = np.broadcast_to(np.clip((x - 50) / 20, 0, 1), truth.shape).astype(np.float32)
    alpha, _ = _alpha(p, rgb, 25)
    np.testing.assert_allclose(np.clip(alpha, 0, 1), truth, atol=0.02)


def test_alike_colours_keep_the_models_value():
    # A constant image: no colour tells the sides apart, so the model's own value stays.
    rgb = np.full((30, 50, 3), 120, np.uint8)
    p = np.broadcast_to(np.linspace(0, 1, 50, dtype=np.float32), (30, 50)).copy()
    alpha, weight = _alpha(p, rgb, 5)
    assert weight.max() == 0
    np.testing.assert_allclose(alpha, p, atol=1e-6)


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_constant_mask_is_unchanged(value):
    rng = np.random.default_rng(3)
    rgb = (rng.random((50, 70, 3)) * 255).astype(np.uint8)
    low = np.full((20, 20), value, dtype=np.float32)
    out = refine.upsample_alpha(low, rgb, method="colour")
    assert out.dtype == np.float32
    assert np.array_equal(out, np.full((50, 70), value, dtype=np.float32))


@pytest.mark.parametrize("big", [False, True])
def test_colour_refine_beats_bilinear_on_a_soft_edge(monkeypatch, big):
    # Full pipeline step, also through the tiled path for large photos.
    if big:
        monkeypatch.setattr(refine, "WORK_LONG_EDGE", 64)
        monkeypatch.setattr(refine, "ALPHA_TILE", 32)
    truth = _ramp(width=240, start=96, length=48, height=80)
    rgb = _composite(truth)
    step = (truth >= 0.5).astype(np.float32)
    low = np.asarray(Image.fromarray(step, "F").resize((24, 24), Image.BILINEAR))
    plain = refine.upsample_alpha(low, rgb, refine_edges=False)
    colour = refine.upsample_alpha(low, rgb, method="colour")
    assert colour.dtype == np.float32 and colour.shape == truth.shape
    assert np.abs(colour - truth).mean() < np.abs(plain - truth).mean()


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        refine.upsample_alpha(np.full((4, 4), 0.5, np.float32), np.zeros((8, 8, 3), np.uint8),
                              method="nope")
