"""Colour bleed on the synthetic hair-over-saturated-background scenes of tests/test_bleed.py.

Usage: ``PYTHONPATH=py python tests/bench/bleed.py``. Prints the mean absolute colour error
(0..255 units) in partially transparent pixels, of the source pixels and of
``estimate_foreground``, per alpha range, plus the alpha MAE of bilinear versus refined
upsampling of a downscaled ground-truth alpha.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "py"), str(ROOT / "tests")]

from test_bleed import make_scene  # noqa: E402

from offcut import foreground, refine  # noqa: E402

SCENES = {"green": (0.0, 1.0, 0.0), "magenta": (1.0, 0.0, 1.0)}
RANGES = ((1, 26), (26, 128), (128, 230), (230, 255))


def main() -> int:
    print("| background | seed | alpha range | pixels | source error | estimate error |")
    print("|---|---|---|---|---|---|")
    for name, colour in SCENES.items():
        for seed in (3, 5):
            fg, alpha8, rgb = make_scene(seed=seed, background=colour)
            t0 = time.perf_counter()
            estimate = foreground.estimate_foreground(rgb, alpha8).astype(np.float32)
            seconds = time.perf_counter() - t0
            truth = fg * 255
            for lo, hi in ((1, 255), *RANGES):
                sel = (alpha8 >= lo) & (alpha8 < hi)
                before = np.abs(rgb[sel] - truth[sel]).mean()
                after = np.abs(estimate[sel] - truth[sel]).mean()
                label = "all partial" if (lo, hi) == (1, 255) else f"{lo}..{hi - 1}"
                print(
                    f"| {name} | {seed} | {label} | {int(sel.sum())} | {before:.1f} | {after:.1f} |"
                )
            print(f"|  |  | ({seconds * 1000:.0f} ms) | | | |")
    print("\nalpha MAE vs ground truth, upsampled from an SxS squashed copy\n")
    print("| seed | S | bilinear | refined | ratio |")
    print("|---|---|---|---|---|")
    for seed in (3, 5):
        _, alpha8, rgb = make_scene(seed=seed)
        truth = alpha8.astype(np.float32) / 255
        for side in (64, 96, 128):
            low = np.asarray(Image.fromarray(truth, "F").resize((side, side), Image.BILINEAR))
            naive = np.abs(refine.upsample_alpha(low, rgb, refine_edges=False) - truth).mean()
            refined = np.abs(refine.upsample_alpha(low, rgb) - truth).mean()
            print(f"| {seed} | {side} | {naive:.4f} | {refined:.4f} | {refined / naive:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
