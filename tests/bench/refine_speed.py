"""Time and peak extra memory of edge refinement at 1, 12 and 24 MP (CPython).

Usage: ``PYTHONPATH=py python tests/bench/refine_speed.py [--sizes 1,12,24] [--model-side 320]
[--repeat 3]``

A synthetic photo-like image (smooth colour field, an ellipse subject with strands) is
built at each size; the model's mask is simulated by downscaling the true alpha to the
model's square input. Timed: naive (bilinear ``upsample_alpha``) versus refined
(``upsample_alpha`` + ``estimate_foreground``), medians of ``--repeat`` untraced runs;
memory is tracemalloc's peak above the inputs from one more, traced run (tracing slows
code that makes many small arrays, so it is kept out of the times). It counts numpy
buffers; Pillow's are outside it: noted, not hidden.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))

from offcut import foreground, refine  # noqa: E402
from offcut.finish import quantise_alpha  # noqa: E402


def make_image(megapixels: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 (H, W, 3), alpha float32 (H, W)) of about ``megapixels`` at 3:2."""
    width = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    height = int(round(width / 1.5))
    # Built at low resolution and upscaled: a 24 MP float64 mgrid would dwarf the benchmark.
    small_w, small_h = 600, 400
    yy, xx = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    rng = np.random.default_rng(seed)
    colour = np.stack(
        [
            128 + 100 * np.sin(xx / 40 + 1),
            128 + 90 * np.cos(yy / 55),
            128 + 80 * np.sin((xx + yy) / 70),
        ],
        axis=2,
    )
    colour += rng.normal(0, 6, colour.shape).astype(np.float32)
    rgb = np.asarray(
        Image.fromarray(np.clip(colour, 0, 255).astype(np.uint8)).resize((width, height))
    )
    radial = np.sqrt(((yy - 230) / 150) ** 2 + ((xx - 300) / 170) ** 2)
    alpha = np.clip((1 - radial) * 40, 0, 1).astype(np.float32)
    alpha = np.asarray(Image.fromarray(alpha, "F").resize((width, height), Image.BILINEAR))
    return np.ascontiguousarray(rgb), alpha


def measure(fn, *args, repeat: int = 1, **kwargs) -> tuple[float, int]:
    """(median seconds of ``repeat`` untraced calls, tracemalloc peak bytes of one more)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - t0)
        del result
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn(*args, **kwargs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return float(np.median(times)), peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,12,24")
    parser.add_argument("--model-side", type=int, default=320)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per call (median)")
    args = parser.parse_args(argv)
    side = args.model_side
    print(f"model side {side}; peak = tracemalloc peak during the call (numpy buffers)\n")
    print(
        "| MP | naive s | refine alpha s | foreground s | refined total s | ratio | "
        "naive peak MB | refined peak MB | refined MB/MP |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for mp in (float(s) for s in args.sizes.split(",")):
        rgb, truth = make_image(mp)
        low = np.asarray(Image.fromarray(truth, "F").resize((side, side), Image.BILINEAR))
        actual = rgb.shape[0] * rgb.shape[1] / 1e6
        repeat = args.repeat
        naive_s, naive_peak = measure(
            refine.upsample_alpha, low, rgb, repeat=repeat, refine_edges=False
        )
        alpha_s, alpha_peak = measure(refine.upsample_alpha, low, rgb, repeat=repeat)
        # The pipeline quantises the alpha before estimating colours: do the same.
        alpha8 = quantise_alpha(refine.upsample_alpha(low, rgb))
        fg_s, fg_peak = measure(foreground.estimate_foreground, rgb, alpha8, repeat=repeat)
        total = alpha_s + fg_s
        peak = max(alpha_peak, fg_peak)
        print(
            f"| {actual:.1f} | {naive_s:.2f} | {alpha_s:.2f} | {fg_s:.2f} | {total:.2f} | "
            f"{total / naive_s:.1f} | {naive_peak / 2**20:.0f} | {peak / 2**20:.0f} | "
            f"{peak / 2**20 / actual:.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
