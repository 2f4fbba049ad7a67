"""Foreground colour estimation: contract, the fast layout against a plain reference, helpers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_bleed import make_scene

from offcut import foreground


def test_foreground_dtypes_and_exact_opaque_and_constant():
    rng = np.random.default_rng(4)
    rgb = (rng.random((90, 110, 3)) * 255).astype(np.uint8)
    alpha = np.zeros((90, 110), dtype=np.uint8)
    alpha[20:70, 30:80] = 255
    alpha[20:70, 28:30] = 128
    out = foreground.estimate_foreground(rgb, alpha)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    opaque = alpha == 255
    assert np.array_equal(out[opaque], rgb[opaque])
    assert np.array_equal(out[alpha == 0], rgb[alpha == 0])
    # No partial alpha at all: the source comes back untouched.
    binary = np.where(alpha == 128, 0, alpha).astype(np.uint8)
    assert np.array_equal(foreground.estimate_foreground(rgb, binary), rgb)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (3, 2), (9, 13), (130, 67)])
def test_odd_and_tiny_shapes_keep_the_contract(shape):
    rng = np.random.default_rng(sum(shape))
    rgb = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    alpha = rng.integers(0, 256, shape, dtype=np.uint8)
    alpha[rng.random(shape) < 0.3] = 0
    alpha[rng.random(shape) < 0.3] = 255
    # uint8, float, and a non-contiguous view (the fast partial-column test needs rows).
    for a in (alpha, alpha.astype(np.float32) / 255, np.asfortranarray(alpha)):
        out = foreground.estimate_foreground(rgb, a)
        assert out.dtype == np.uint8 and out.shape == rgb.shape
        pure = (alpha == 0) | (alpha == 255)
        assert np.array_equal(out[pure], rgb[pure])


def test_tiles_agree_exactly_with_one_tile(monkeypatch):
    _, alpha8, rgb = make_scene(200, 260)
    monkeypatch.setattr(foreground, "FG_TILE", 1024)
    whole = foreground.estimate_foreground(rgb, alpha8)
    # Tiles start on even pixels, so every tile sees the same global 2x2 cell grid and the
    # same sums: the result does not depend on the tiling at all.
    for tile in (48, 64, 130, 37):  # an odd size is rounded up to an even one
        monkeypatch.setattr(foreground, "FG_TILE", tile)
        assert np.array_equal(foreground.estimate_foreground(rgb, alpha8), whole), tile


def test_float_and_uint8_alpha_agree():
    _, alpha8, rgb = make_scene(200, 260, seed=5)
    by_uint8 = foreground.estimate_foreground(rgb, alpha8).astype(np.int16)
    by_float = foreground.estimate_foreground(rgb, alpha8.astype(np.float32) / 255)
    assert np.abs(by_uint8 - by_float).max() <= 1


def test_uniform_colour_stays_that_colour():
    # Foreground and background the same colour: any estimate must return it where the
    # foreground weighs anything (faint strand tips drift, as in the original method).
    _, alpha8, _ = make_scene(200, 260)
    rgb = np.empty(alpha8.shape + (3,), dtype=np.uint8)
    rgb[:] = (200, 90, 30)
    out = foreground.estimate_foreground(rgb, alpha8).astype(np.int16)
    error = np.abs(out - rgb).max(axis=2)
    partial = (alpha8 > 0) & (alpha8 < 255)
    assert error[(alpha8 >= 128) & partial].max() <= 1
    assert error[partial].mean() < 1.0


def _reference(rgb: np.ndarray, alpha8: np.ndarray) -> np.ndarray:
    """The same estimate written plainly: whole-image planes, explicit loops, np.clip."""
    low, (cell_y, cell_x) = foreground._coarse_estimates(rgb, alpha8)
    height, width = alpha8.shape
    pad = 8  # four cells, as the tiles' margin; the tiles repeat edge pixels there too
    rgb_p = np.pad(rgb, ((pad, pad + height % 2), (pad, pad + width % 2), (0, 0)), mode="edge")
    a_p = np.pad(alpha8, ((pad, pad + height % 2), (pad, pad + width % 2)), mode="edge")
    image = rgb_p.transpose(2, 0, 1).astype(np.float32) + np.float32(0.5)
    a = a_p.astype(np.float32) / np.float32(255)
    ch, cw = a.shape[0] // 2, a.shape[1] // 2

    def centres(cells, cell, length):
        return np.clip((2 * np.arange(-4, cells - 4) + 1) / cell - 0.5, 0, length - 1)

    ys = centres(ch, cell_y, low.shape[1] - 1)
    xs = centres(cw, cell_x, low.shape[2] - 1)
    hats = []
    for plane in low[:, :-1, :-1]:
        by_rows = np.stack([np.interp(ys, np.arange(plane.shape[0]), c) for c in plane.T], 1)
        hats.append(np.stack([np.interp(xs, np.arange(plane.shape[1]), r) for r in by_rows]))
    hats = np.repeat(np.repeat(np.array(hats, dtype=np.float32), 2, axis=1), 2, axis=2)
    fg_hat, bg_hat = hats[:3], hats[3:]
    tf = np.float32(foreground.FG_TRUST)
    den = 1 + a * a / tf + (1 - a) ** 2
    k = (image - a * fg_hat - (1 - a) * bg_hat) / den
    f1 = np.clip(fg_hat + a / tf * k, 0.5, 255.5)
    b1 = np.clip(bg_hat + (1 - a) * k, 0.5, 255.5)
    wf, wb = a**4, (1 - a) ** 4
    products = np.concatenate([f1 * wf, wf[None], b1 * wb, wb[None]])
    cells = products.reshape(8, ch, 2, cw, 2).sum(axis=(2, 4))
    r = foreground.FG_LOCAL // 2
    sums = np.zeros_like(cells)
    padded = np.pad(cells, ((0, 0), (r, r), (r, r)))
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            sums += padded[:, dy : dy + ch, dx : dx + cw]
    eps = np.float32(foreground.FG_EPS * 4 * (2 * r + 1) ** 2)
    means = np.concatenate([sums[0:3] / (sums[3] + eps), sums[4:7] / (sums[7] + eps)])
    # Bilinear 2x: a pixel sits a quarter cell from its cell's centre.
    up = np.empty((6, 2 * ch, 2 * cw), dtype=np.float32)
    edge = np.pad(means, ((0, 0), (1, 1), (1, 1)), mode="edge")
    for py in (0, 1):
        for px in (0, 1):
            # Offsets into ``edge`` of the neighbour on this pixel's side (0: before, 2: after).
            vy, vx = 2 * py, 2 * px
            near = edge[:, 1 : 1 + ch, 1 : 1 + cw]
            vert = edge[:, vy : vy + ch, 1 : 1 + cw]
            horiz = edge[:, 1 : 1 + ch, vx : vx + cw]
            diag = edge[:, vy : vy + ch, vx : vx + cw]
            up[:, py::2, px::2] = (9 * near + 3 * vert + 3 * horiz + diag) / 16
    fg_hat, bg_hat = up[:3], up[3:]
    k = (image - a * fg_hat - (1 - a) * bg_hat) / den
    colour = np.clip(fg_hat + a / tf * k, 0.5, 255.5).astype(np.uint8)
    colour = colour[:, pad : pad + height, pad : pad + width].transpose(1, 2, 0)
    partial = (alpha8 > 0) & (alpha8 < 255)
    return np.where(partial[:, :, None], colour, rgb)


@pytest.mark.parametrize("shape", [(120, 170), (97, 131)])
def test_fast_layout_matches_plain_reference(monkeypatch, shape):
    fg, alpha8, rgb = make_scene(*shape, seed=5, background=(0.2, 0.8, 0.3))
    # A textured background, so that misplaced pixels or phases show.
    rng = np.random.default_rng(1)
    rgb = np.clip(rgb.astype(np.int16) + rng.integers(-40, 41, rgb.shape), 0, 255).astype(np.uint8)
    monkeypatch.setattr(foreground, "FG_TILE", 64)
    fast = foreground.estimate_foreground(rgb, alpha8).astype(np.int16)
    slow = _reference(rgb, alpha8).astype(np.int16)
    difference = np.abs(fast - slow)
    # Sums in another order round differently at ~1e-6, which can flip a level.
    assert difference.max() <= 1, difference.max()
    assert (difference > 0).mean() < 0.01


def test_partial_columns_matches_the_plain_mask():
    rng = np.random.default_rng(7)
    for width in (1, 7, 8, 9, 64, 205):
        band = np.where(rng.random((5, width)) < 0.5, 0, 255).astype(np.uint8)
        expected = np.zeros(width, dtype=bool)
        for value in range(1, 255):  # every partial value, each in its own column
            column = rng.integers(width)
            trial = band.copy()
            trial[rng.integers(5), column] = value
            flags = foreground._partial_columns(trial)
            assert flags[column] and flags.sum() == 1, (width, value)
        assert np.array_equal(foreground._partial_columns(band), expected)
        assert np.array_equal(foreground._partial_columns(band[:, ::-1]), expected)


def test_clip_colour_equals_float_clip():
    x = np.array([-1e9, -3.0, -0.0, 0.0, 0.25, 0.5, 0.75, 17.3, 255.5, 255.6, 1e30],
                 dtype=np.float32)
    expected = np.clip(x, np.float32(0.5), np.float32(255.5))
    assert np.array_equal(foreground._clip_colour(x.copy()), expected)


def test_window_sums_match_brute_force():
    rng = np.random.default_rng(2)
    rows, row = 15, 19
    x = rng.random((2, rows * row)).astype(np.float32)
    for radius in (1, 3, 4):
        sums = foreground._window_sums(x, radius, row)
        grid = x.reshape(2, rows, row)
        size = 2 * radius + 1
        for y in range(rows - 2 * radius):
            for col in range(row - 2 * radius):
                expected = grid[:, y : y + size, col : col + size].sum(axis=(1, 2))
                np.testing.assert_allclose(sums[:, y * row + col], expected, rtol=1e-5)


def test_upsample_phases_match_pillow_bilinear():
    rng = np.random.default_rng(3)
    rows, row = 9, 11
    values = rng.random((2, rows, row)).astype(np.float32)
    phases, length = foreground._upsample_phases(values.reshape(2, -1), row, (rows - 2) * row)
    grid = np.empty((2, 4, (rows - 2) * row), dtype=np.float32)
    grid[:, :, :length] = phases[:, :, :length]
    grid = grid.reshape(2, 4, rows - 2, row)[:, :, :, : row - 2] / 16
    for plane in range(2):
        image = Image.fromarray(values[plane], "F").resize((2 * row, 2 * rows), Image.BILINEAR)
        full = np.asarray(image)
        for phase in range(4):
            py, px = divmod(phase, 2)
            expected = full[2 + py : 2 * rows - 2 : 2, 2 + px : 2 * row - 2 : 2]
            np.testing.assert_allclose(grid[plane, phase], expected, atol=1e-5)


def test_power_is_repeated_multiplication():
    x = np.linspace(0, 1, 11, dtype=np.float32)
    for exponent in (1, 2, 3, 4, 8):
        result = foreground._power(x, exponent)
        assert result.dtype == np.float32
        np.testing.assert_allclose(result, x.astype(np.float64) ** exponent, atol=1e-6)
