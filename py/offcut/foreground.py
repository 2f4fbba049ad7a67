"""Foreground colour estimation (background decontamination) for partially transparent pixels.

``estimate_foreground`` is a two-pass blur-fusion foreground estimate (after Forte and
Pitie): a coarse pass at low resolution, then a local pass at full resolution only on
tiles that hold partially transparent pixels. float32 inside, numpy + Pillow only.

How the local pass is kept cheap (it is most of the time on large photos, and it runs in
Pyodide, where every numpy operation costs a few times what it does natively):

* The per-pixel steps (the first fusion, the weighted products, the final fusion) run at
  full resolution, but the 13 px weighted blurs between them run on 2x2 cells: the
  products are summed over each cell (exactly, before any blurring), box-summed over 7x7
  cells, and the resulting estimates are brought back to pixels bilinearly. Blurring at
  half resolution after the nonlinear weighting keeps the quality; downscaling the image
  and alpha *before* weighting did not (synthetic strands over green: 4.3 vs 6.0 units).
* Full-resolution planes are stored as the four phases of the cells ("polyphase"): an
  array of shape (4, cells) whose phase ``2*py + px`` holds pixel ``(2*y + py, 2*x + px)``
  of cell ``(y, x)``. A cell-level plane then broadcasts against all four phases (the
  smooth coarse estimates enter the first fusion once per cell), and the sum over a cell
  is a sum of four contiguous arrays.
* Cell grids are flattened, and window sums and the bilinear upsampling are shifts of
  whole flat arrays (by one cell or one grid row). Results near the grid's edges wrap
  around and are garbage; only the interior, which the margins are sized for, is read.
  Every operation is then one contiguous run; in Pyodide an add over 2-D slices costs
  1.6 to 2.4 times one over as many contiguous values.
* Colour values live in ``255 * c + 0.5`` units throughout (an affine shift every fusion
  and weighted mean preserves), so the final rounding to uint8 is a clip and a truncating
  cast with no extra pass. Clips go through the int32 view of the floats (see
  ``_clip_colour``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Long edge of the coarse foreground/background estimate (the first, wide blur-fusion pass).
#: 256 lost quality (synthetic strands over green: mean error 4.3 -> 5.9 units).
FG_LOW_EDGE = 512
#: Radius of that pass as a fraction of its long edge: ~4.5 %, like Forte and Pitie's 90 px
#: at 2000 px, so background colour reaches into the foreground from far enough away. The
#: blur runs on 2x2 cells of the low-resolution grid with half this radius.
FG_WIDE = 0.045
#: Radius of the second, local pass at full resolution (Forte and Pitie's 6 px); it runs on
#: 2x2 cells with radius ``FG_LOCAL // 2``, a 14 px window.
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
#: Keeps the weighted means finite where a window holds no weight at all (per pixel of the
#: window; the window sums scale it by their pixel count).
FG_EPS = 1e-5
#: Tile side for the full-resolution pass (odd values round up: tiles start on even pixels);
#: only tiles with partial alpha are processed. In Chromium at 12 and 24 MP, 96 to 192 took
#: the same time within noise (the work follows the tiles' area, per-call overhead is
#: small); 256 was ~5 % slower.
FG_TILE = 128

_HALF = np.float32(0.5)
# Bit patterns of 0.5 and 255.5: for floats >= 0 the int32 views order like the values, and
# negative floats (sign bit set) are negative int32, so an integer clip is a float clip.
_LOW_BITS = int(np.float32(0.5).view(np.int32))
_HIGH_BITS = int(np.float32(255.5).view(np.int32))
# Bit 0 of every byte of a uint64 word cleared.
_BYTE_HIGH_BITS = np.uint64(0xFEFEFEFEFEFEFEFE)


def estimate_foreground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours for partially transparent pixels (background decontamination).

    Two blur-fusion passes (Forte and Pitie, "Approximate fast foreground colour
    estimation", 2021): a wide one at low resolution gives smooth foreground and background
    colour estimates, a local one at full resolution refines them. The full-resolution pass
    runs only on ``FG_TILE`` tiles holding partial alpha, each with a margin of 8 pixels,
    so memory is a few tiles' worth whatever the image size.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    alpha : ndarray of uint8 (0..255) or float32 (0..1), shape (H, W)

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        The source where alpha is 0 or full (exactly), the estimate elsewhere.
    """
    out = np.array(rgb, dtype=np.uint8, copy=True)
    # Tiles must start on even pixels to share the global 2x2 cell grid.
    side = max(2, FG_TILE + FG_TILE % 2)
    tiles = _partial_tiles(alpha, side)
    if not tiles:
        return out
    local = _LocalPass(rgb, alpha, *_coarse_estimates(rgb, alpha))
    height, width = alpha.shape
    for ty, tx in tiles:
        y0, x0 = ty * side, tx * side
        y1, x1 = min(y0 + side, height), min(x0 + side, width)
        colours = local.colours(y0, y1, x0, x1)
        keep = _partial(alpha[y0:y1, x0:x1])
        target = out[y0:y1, x0:x1]
        for channel in range(3):
            # copyto with where= is several times faster in Pyodide than a boolean-index
            # assignment, and both write only the partial pixels.
            np.copyto(target[:, :, channel], colours[channel], where=keep)
    return out


class _LocalPass:
    """The full-resolution pass, one tile at a time.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    alpha : ndarray of uint8 or float32, shape (H, W)
    low : ndarray of float32, shape (6, h, w)
        Coarse F (planes 0-2) and B (3-5) estimates in ``255 * c + 0.5`` units, one sample
        per low-resolution cell, the last row and column repeated.
    cell : tuple of float
        Height and width of a low-resolution cell in source pixels.
    """

    def __init__(self, rgb: np.ndarray, alpha: np.ndarray, low: np.ndarray, cell: tuple):
        self.rgb, self.alpha, self.low = rgb, alpha, low
        self.radius = FG_LOCAL // 2
        # Cells of margin around a tile: the box radius, plus one for the bilinear upsample.
        self.margin = self.radius + 1
        height, width = alpha.shape
        self.rows = _axis_samples(-(-height // 2), cell[0], low.shape[1], self.margin)
        self.cols = _axis_samples(-(-width // 2), cell[1], low.shape[2], self.margin)
        # Window sums run over 4 pixels per cell; the upsample returns 16 times its input.
        self.eps = np.float32(FG_EPS * 4 * (2 * self.radius + 1) ** 2)

    def colours(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Estimated colours of the tile ``[y0, y1) x [x0, x1)`` (y0, x0 even).

        Returns
        -------
        ndarray of uint8, shape (3, y1 - y0, x1 - x0)
            Planar; meaningful where alpha is partial.
        """
        m, r = self.margin, self.radius
        cy0, cx0 = y0 // 2, x0 // 2
        cy1, cx1 = -(-y1 // 2), -(-x1 // 2)
        inner_h, inner_w = cy1 - cy0, cx1 - cx0
        row = inner_w + 2 * m  # cells per grid row
        cells = (inner_h + 2 * m) * row
        box = (2 * (cy0 - m), 2 * (cy1 + m), 2 * (cx0 - m), 2 * (cx1 + m))
        image = _phases(_region(self.rgb, *box), colour=True).reshape(3, 4, cells)
        a = _phases(_region(self.alpha, *box), colour=False).reshape(4, cells)
        rows = [v[cy0 : cy1 + 2 * m] for v in self.rows]
        cols = [v[cx0 : cx1 + 2 * m] for v in self.cols]
        hat = _sample(self.low, rows, cols).reshape(2, 3, 1, cells)
        fg_hat, bg_hat = hat

        # First fusion (trust_bg = 1), with the coarse estimates as priors:
        # k = (I - a*F - (1-a)*B) / den, F1 = F + (a/tf)*k, B1 = B + (1-a)*k.
        rest = 1 - a
        k = image - bg_hat
        k -= a * (fg_hat - bg_hat)
        inv_den = _inverse_denominator(a)
        # Weighted products (F1*wf, wf, B1*wb, wb), summed over each cell's four phases.
        products = np.empty((2, 4, 4, cells), dtype=np.float32)
        for index, (prior, gain, base) in enumerate(
            ((fg_hat, a * np.float32(1 / FG_TRUST), a), (bg_hat, rest, rest))
        ):
            weight = _power(base, FG_POWER_LOCAL)
            values = products[index, :3]
            np.multiply(k, gain * inv_den, out=values)
            values += prior
            _clip_colour(values)
            values *= weight
            products[index, 3] = weight
        del k, inv_den
        sums = products[:, :, 0] + products[:, :, 1]
        sums += products[:, :, 2]
        sums += products[:, :, 3]
        del products
        sums = _window_sums(sums.reshape(8, cells), r, row).reshape(2, 4, -1)

        # Weighted means (1/16 folded in for the upsample), as F and F - B.
        scale = sums[:, 3] + self.eps
        scale *= np.float32(16)
        np.reciprocal(scale, out=scale)
        means = sums[:, :3] * scale[:, None]
        np.subtract(means[0], means[1], out=means[1])
        del sums, scale
        upsampled, length = _upsample_phases(means.reshape(6, -1), row, inner_h * row)
        fg_hat, diff = upsampled[:3, :, :length], upsampled[3:, :, :length]

        # Second fusion, kept for F only: F = F^ + g*(I - F^ + (1-a)*(F^ - B^)),
        # g = (a/tf) / den. ``start`` is the first inner cell on the flat grid.
        start = m * row + m
        inner = slice(start, start + length)
        colour = image[:, :, inner] - fg_hat
        diff *= rest[:, inner]
        colour += diff
        gain = _inverse_denominator(a[:, inner])
        gain *= a[:, inner]
        gain *= np.float32(1 / FG_TRUST)
        colour *= gain
        colour += fg_hat
        _clip_colour(colour)
        del diff, gain, upsampled

        # Back to planar pixels: phase p of cell (y, x) is pixel (2y + p // 2, 2x + p % 2).
        grid = np.empty((3, 4, inner_h * row), dtype=np.float32)
        grid[:, :, :length] = colour
        grid = grid.reshape(3, 4, inner_h, row)
        planar = np.empty((3, 2 * inner_h, 2 * inner_w), dtype=np.uint8)
        for phase in range(4):
            # Truncation of values in [0.5, 255.5] rounds 255*c to the nearest level.
            np.copyto(planar[:, phase // 2 :: 2, phase % 2 :: 2], grid[:, phase, :, :inner_w],
                      casting="unsafe")
        return planar[:, : y1 - y0, : x1 - x0]


def _coarse_estimates(rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, tuple]:
    """First blur-fusion pass at low resolution: smooth F and B estimates.

    The image and the alpha are shrunk separately (not their product) to ``FG_LOW_EDGE``,
    an approximation that only matters at a scale the wide blur removes anyway. The
    weighted products are then summed over 2x2 cells and box-summed with half the radius:
    a quarter of the work of blurring the low-resolution grid itself, and the same quality
    (synthetic strands over green: 4.2 units, against 4.3).

    Returns
    -------
    low : ndarray of float32, shape (6, h2 + 1, w2 + 1)
        F (planes 0-2) and B (3-5) in ``255 * c + 0.5`` units per cell, the last row and
        column repeated so that bilinear sampling always has a right/lower neighbour.
    cell : tuple of float
        (height, width) of one cell in source pixels.
    """
    height, width = alpha.shape
    scale = min(1.0, FG_LOW_EDGE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = _shrink(rgb, size)
    if alpha.dtype == np.uint8:
        a = _shrink(alpha, size).astype(np.float32) * np.float32(1 / 255)
    else:
        a = np.clip(_shrink(np.asarray(alpha, dtype=np.float32), size), 0, 1)
    h, w = a.shape
    h2, w2 = -(-h // 2), -(-w // 2)
    radius = max(1, round(FG_WIDE * max(size) / 2))
    # Zero weight outside the image: the padded windows are the windows clipped at the
    # borders. Padding is ``radius`` cells, so output index k is cell k.
    pad = 2 * radius
    planes = np.zeros((8, 2 * h2 + 2 * pad, 2 * w2 + 2 * pad), dtype=np.float32)
    core = planes[:, pad : pad + h, pad : pad + w]
    weight_fg = _power(a, FG_POWER_WIDE)
    weight_bg = _power(1 - a, FG_POWER_WIDE)
    for channel in range(3):
        np.add(small[:, :, channel], _HALF, out=core[channel])
        np.multiply(core[channel], weight_fg, out=core[channel + 4])
        core[channel] *= weight_bg
    core[3] = weight_bg
    core[7] = weight_fg
    cells = planes[:, 0::2, 0::2] + planes[:, 1::2, 0::2]
    cells += planes[:, 0::2, 1::2]
    cells += planes[:, 1::2, 1::2]
    del planes, core
    row = cells.shape[2]
    sums = _window_sums(cells.reshape(8, -1), radius, row)
    # Back to (8, h2, w2): whole grid rows again (the missing tail is never read).
    padded = np.empty((8, h2 * row), dtype=np.float32)
    padded[:, : sums.shape[1]] = sums
    sums = padded.reshape(8, h2, row)[:, :, :w2]
    eps = np.float32(FG_EPS * 4 * (2 * radius + 1) ** 2)
    low = np.empty((6, h2 + 1, w2 + 1), dtype=np.float32)
    np.divide(sums[4:7], sums[7] + eps, out=low[0:3, :h2, :w2])
    np.divide(sums[0:3], sums[3] + eps, out=low[3:6, :h2, :w2])
    low[:, h2] = low[:, h2 - 1]
    low[:, :, w2] = low[:, :, w2 - 1]
    return low, (2 * height / h, 2 * width / w)


def _shrink(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize to ``size`` (width, height) after point-sampling to about twice it.

    Sampling every ``step``-th row in numpy (a cheap copy of whole rows) and every
    ``step``-th column with Pillow's nearest filter avoids handing Pillow the full image:
    at 12 MP in Chromium 8 ms instead of 15 (a strided numpy copy) or 26 (a reducing-gap
    resize of the full image).

    Parameters
    ----------
    array : ndarray of uint8 (H, W, 3) or (H, W), or float32 (H, W)

    Returns
    -------
    ndarray, same dtype, shape (size[1], size[0]) (+ (3,))
    """
    height, width = array.shape[:2]
    if size == (width, height):
        return array
    step = max(1, int(min(width / size[0], height / size[1]) / 2))
    if step > 1:
        # Sample near the middle of each step x step block.
        rows = np.ascontiguousarray(array[step // 2 :: step])
        image = Image.fromarray(rows).resize((-(-width // step), rows.shape[0]), Image.NEAREST)
    else:
        image = Image.fromarray(np.ascontiguousarray(array))
    return np.asarray(image.resize(size, Image.BILINEAR))


def _partial(alpha: np.ndarray) -> np.ndarray:
    """Boolean mask of partially transparent pixels (0 < alpha < full)."""
    if alpha.dtype == np.uint8:
        # One pass: alpha - 1 wraps 0 to 255, so partial is (alpha - 1) < 254.
        return np.subtract(alpha, 1, dtype=np.uint8) < 254
    return (alpha > 0) & (alpha < 1)


def _partial_tiles(alpha: np.ndarray, side: int) -> list[tuple[int, int]]:
    """(tile row, tile column) of every ``side`` x ``side`` tile holding partial alpha."""
    height, width = alpha.shape
    columns = -(-width // side)
    tiles = []
    for top in range(0, height, side):
        flags = _partial_columns(alpha[top : top + side])
        flags = np.pad(flags, (0, columns * side - width)).reshape(columns, side)
        tiles.extend((top // side, int(tx)) for tx in np.flatnonzero(flags.any(axis=1)))
    return tiles


def _partial_columns(band: np.ndarray) -> np.ndarray:
    """Whether each column of ``band`` (rows, W) holds a partially transparent pixel.

    For uint8 rows this works on 8 pixels at a time: a byte is 0 or 255 exactly when all
    its bits are equal, i.e. when ``byte ^ (byte << 1)`` is zero outside bit 0. On a uint64
    view the shift carries bits across bytes, but only into bit 0, which is masked out, so
    the test holds for every byte (either byte order). OR-ing the rows first leaves one
    word per 8 columns; about twice as fast as ``(band - 1).min(axis=0)`` in Pyodide.
    """
    width = band.shape[1]
    if band.dtype != np.uint8:
        return _partial(band).any(axis=0)
    whole = width - width % 8 if band.strides[1] == 1 else 0
    flags = np.empty(width, dtype=bool)
    if whole:
        words = band[:, :whole].view(np.uint64)
        mixed = words << np.uint64(1)
        mixed ^= words
        bits = np.bitwise_or.reduce(mixed, axis=0)
        bits &= _BYTE_HIGH_BITS
        flags[:whole] = bits.view(np.uint8) != 0
    flags[whole:] = _partial(band[:, whole:]).any(axis=0)
    return flags


def _axis_samples(cells: int, cell: float, low: int, margin: int) -> tuple:
    """Where the centres of full-resolution 2x2 cells fall on the low-resolution grid.

    Parameters
    ----------
    cells : int
        Number of 2x2 cells along the axis (``ceil(n / 2)``).
    cell : float
        Size of a low-resolution cell in source pixels.
    low : int
        Length of the low-resolution axis including its repeated last sample.
    margin : int
        Extra cells before and after (their positions clamp to the edge).

    Returns
    -------
    index : ndarray of intp, shape (cells + 2 * margin,)
        Lower neighbour on the low grid, in ``[0, low - 2]``.
    weight : ndarray of float32, same shape
        Weight of the upper neighbour (bilinear, edges clamped).
    """
    centre = 2 * np.arange(-margin, cells + margin, dtype=np.float64) + 1
    position = np.clip(centre / cell - 0.5, 0, low - 2)
    index = np.minimum(np.floor(position).astype(np.intp), low - 2)
    return index, (position - index).astype(np.float32)


def _sample(low: np.ndarray, rows: list, cols: list) -> np.ndarray:
    """Bilinear samples of the (C, h, w) planes ``low`` at a grid of positions.

    ``rows`` and ``cols`` are ``[index, weight]`` pairs from ``_axis_samples``. Returns
    float32 (C, len(rows[0]), len(cols[0])), C-contiguous.
    """
    (iy, wy), (ix, wx) = rows, cols
    y0, x0 = iy[0], ix[0]
    patch = low[:, y0 : iy[-1] + 2, x0 : ix[-1] + 2]
    # Columns first, on the few low-resolution rows. Fancy indexing on the last axis
    # returns a non-contiguous array (slow to compute with): copy it while it is small.
    left = np.ascontiguousarray(patch[:, :, ix - x0])
    right = np.ascontiguousarray(patch[:, :, ix - x0 + 1])
    right -= left
    right *= wx
    left += right
    # Rows: np.take along a non-last axis copies whole rows and returns a C-order array.
    top = np.take(left, iy - y0, axis=1)
    bottom = np.take(left, iy - y0 + 1, axis=1)
    bottom -= top
    bottom *= wy[:, None]
    top += bottom
    return top


def _region(array: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """``array[y0:y1, x0:x1]``, edge pixels repeated where the box leaves the array."""
    height, width = array.shape[:2]
    if y0 >= 0 and x0 >= 0 and y1 <= height and x1 <= width:
        return array[y0:y1, x0:x1]
    rows = np.clip(np.arange(y0, y1), 0, height - 1)
    cols = np.clip(np.arange(x0, x1), 0, width - 1)
    return array[rows[:, None], cols[None, :]]


def _phases(tile: np.ndarray, colour: bool) -> np.ndarray:
    """Even-sized tile -> float32 polyphase planes.

    Parameters
    ----------
    tile : ndarray of uint8, shape (2h, 2w, 3) if ``colour``; else alpha, uint8 or float,
        shape (2h, 2w)

    Returns
    -------
    ndarray of float32, shape (3, 4, h, w) (colour, in ``255 * c + 0.5`` units) or
    (4, h, w) (alpha in [0, 1]); phase ``2*py + px`` holds pixel ``(2y + py, 2x + px)``.
    """
    h, w = tile.shape[0] // 2, tile.shape[1] // 2
    if colour:
        view = tile.reshape(h, 2, w, 2, 3).transpose(4, 1, 3, 0, 2)
        out = np.empty((3, 2, 2, h, w), dtype=np.float32)
        # A plain converting copy then an add: one mixed-type add is twice as slow in Pyodide.
        np.copyto(out, view)
        out += _HALF
        return out.reshape(3, 4, h, w)
    view = tile.reshape(h, 2, w, 2).transpose(1, 3, 0, 2)
    out = np.empty((2, 2, h, w), dtype=np.float32)
    if tile.dtype == np.uint8:
        np.multiply(view, np.float32(1 / 255), out=out)
    else:
        np.clip(view, 0, 1, out=out)
    return out.reshape(4, h, w)


def _inverse_denominator(a: np.ndarray) -> np.ndarray:
    """``1 / (1 + a^2/tf + (1-a)^2)`` (tf = ``FG_TRUST``, background trust 1), as the
    polynomial ``(c*a - 2)*a + 2`` with ``c = 1/tf + 1``: fewer passes. float32, new array."""
    den = a * np.float32(1 / FG_TRUST + 1)
    den -= np.float32(2)
    den *= a
    den += np.float32(2)
    return np.reciprocal(den, out=den)


def _power(x: np.ndarray, exponent: int) -> np.ndarray:
    """``x ** exponent`` for an integer exponent >= 1 by repeated multiplication (new array).

    numpy's float ``**`` calls ``powf`` per element: about 20 times slower for ``x**4``.
    """
    out = x.copy()
    done = 1
    while done * 2 <= exponent:
        out *= out
        done *= 2
    while done < exponent:
        out *= x
        done += 1
    return out


def _clip_colour(x: np.ndarray) -> np.ndarray:
    """Clip float32 ``x`` to [0.5, 255.5] in place, through its int32 view.

    Same result as ``np.clip`` for non-NaN values, and five times faster in Pyodide, where
    the float clip loop is several times slower than an add.
    """
    bits = x.view(np.int32)
    np.clip(bits, _LOW_BITS, _HIGH_BITS, out=bits)
    return x


def _window_sums(x: np.ndarray, radius: int, row: int) -> np.ndarray:
    """Sums over (2r+1) x (2r+1) windows of flat grids.

    Parameters
    ----------
    x : ndarray of float32, shape (C, N)
        C grids of ``N / row`` rows of ``row`` cells, flattened.
    radius : int
    row : int

    Returns
    -------
    ndarray of float32, shape (C, N - 2r*row - 2r)
        Index k is the window whose top-left cell is k. Windows that cross a row's end wrap
        into the next row: the caller reads only those that do not.

    Each direction adds shifted copies, window length ``2r+1`` split into powers of two
    (every sum has at most 2r+1 terms: no cumulative-sum round-off on tiny weights).
    """
    length = 2 * radius + 1
    for step in (row, 1):
        n = x.shape[1] - 2 * radius * step
        runs = [x]  # runs[j][:, k] = sum of 2**j cells from k on
        while 2 ** len(runs) <= length:
            prev, shift = runs[-1], 2 ** (len(runs) - 1) * step
            runs.append(prev[:, : prev.shape[1] - shift] + prev[:, shift:])
        total, offset = None, 0
        for j in range(len(runs) - 1, -1, -1):
            if length & (1 << j):
                part = runs[j][:, offset * step : offset * step + n]
                total = part.copy() if total is None else np.add(total, part, out=total)
                offset += 1 << j
        x = total
    return x


def _upsample_phases(values: np.ndarray, row: int, size: int) -> tuple[np.ndarray, int]:
    """Bilinear 2x upsampling of flat cell grids into the four pixel phases, times 16.

    Pixel (py, px) of a cell sits a quarter cell from its centre, so its value is
    ``(9*v + 3*v_y + 3*v_x + v_xy) / 16`` with the neighbours on its side: done as two
    separable ``3*v + v_neighbour`` passes.

    Parameters
    ----------
    values : ndarray of float32, shape (C, L)
        Flat grids with ``row`` cells per row.
    row, size : int
        Row length; length of the output's last axis (>= the valid length).

    Returns
    -------
    phases : ndarray of float32, shape (C, 4, size)
        ``phases[:, p, k]`` belongs to cell ``k + row + 1`` of ``values``' indexing.
    length : int
        Valid entries along the last axis, ``L - 2*row - 2``; the rest is uninitialised.
    """
    count = values.shape[1] - 2 * row
    three = values[:, row : row + count] * np.float32(3)
    above = three + values[:, :count]
    below = np.add(three, values[:, 2 * row :], out=three)
    length = count - 2
    out = np.empty((values.shape[0], 4, size), dtype=np.float32)
    for py, rows in ((0, above), (1, below)):
        three = rows[:, 1 : 1 + length] * np.float32(3)
        np.add(three, rows[:, :length], out=out[:, 2 * py, :length])
        np.add(three, rows[:, 2:], out=out[:, 2 * py + 1, :length])
    return out, length
