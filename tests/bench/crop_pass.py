"""A second model pass on the subject's crop, scored against plain (``--no-refine``).

Usage::

    PYTHONPATH=py python tests/bench/crop_pass.py [--data ../shared/data/soft] \
        [--models isnet-medium] [--every K] [--pad 0.1] [--max-area 0.7]

The first pass is the cached whole-photo output (``tests/bench/outputs.py``). Its bilinear mask
gives the subject's box (alpha > 0.5, padded by ``--pad`` of the box's longer side); when the
box covers less than ``--max-area`` of the photo, the model runs again on that crop at its
full input size, so the subject's edges are seen at a higher effective resolution. Variants:

- ``crop``: inside the box, the crop's mask replaces the first pass's (a linear ramp at box
  sides inside the photo, so there is no seam);
- ``crop-mean``: inside the box, the mean of the two passes.

Per-image means and ratios to ``plain`` are printed as in ``mattes.py``, with the fraction of
photos that got a second pass and its model time (native onnxruntime, 2 threads).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import mattes  # noqa: E402
import outputs  # noqa: E402

from offcut.finish import finish  # noqa: E402
from offcut.records import load_records  # noqa: E402


def subject_box(mask: np.ndarray, pad: float, max_area: float) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the padded box around ``mask > 0.5``, or None when there is no
    subject or the box is too large for a second pass to see it any closer."""
    rows = np.flatnonzero((mask > 0.5).any(axis=1))
    cols = np.flatnonzero((mask > 0.5).any(axis=0))
    if rows.size == 0:
        return None
    height, width = mask.shape
    margin = int(round(pad * max(rows[-1] - rows[0], cols[-1] - cols[0]))) + 8
    y0, y1 = max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)
    x0, x1 = max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin)
    if (y1 - y0) * (x1 - x0) > max_area * height * width:
        return None
    return int(y0), int(y1), int(x0), int(x1)


def seam_weight(box: tuple[int, int, int, int], shape: tuple[int, int],
                ramp: int = 16) -> np.ndarray:
    """float32 weight of the crop's mask over its box: 1 inside, falling linearly to 0 over
    ``ramp`` pixels at each side that lies inside the photo (sides on the border keep 1)."""
    y0, y1, x0, x1 = box
    height, width = shape

    def profile(n: int, low_inside: bool, high_inside: bool) -> np.ndarray:
        w = np.ones(n, dtype=np.float32)
        r = min(ramp, n // 4)
        if r > 0:
            edge = (np.arange(r, dtype=np.float32) + 1) / (r + 1)
            if low_inside:
                w[:r] = np.minimum(w[:r], edge)
            if high_inside:
                w[-r:] = np.minimum(w[-r:], edge[::-1])
        return w

    wy = profile(y1 - y0, y0 > 0, y1 < height)
    wx = profile(x1 - x0, x0 > 0, x1 < width)
    return np.outer(wy, wx).astype(np.float32)


def with_crop_pass(full: np.ndarray, rgb: np.ndarray, record, session, box,
                   mode: str) -> np.ndarray:
    """``full`` (H, W) float32 with the second pass's mask merged into ``box``."""
    y0, y1, x0, x1 = box
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    second = finish(outputs.run_one(session, record, crop), record, crop, refine_edges=False)
    first = full[y0:y1, x0:x1]
    inner = second if mode == "crop" else (second + first) * np.float32(0.5)
    weight = seam_weight(box, full.shape)
    out = full.copy()
    out[y0:y1, x0:x1] = weight * inner + (1 - weight) * first
    return out


def evaluate(record, data: Path, every: int, pad: float, max_area: float) -> dict:
    images = sorted((data / "images").glob("*"))[::every]
    outputs.fill(record, data, record.size, False, 0, every)
    session = outputs.session_for(record, record.size)
    names = ("plain", "crop", "crop-mean")
    scores = {n: {} for n in names}
    seconds, passes = [], 0
    for image_path in images:
        rgb = mattes.load_rgb(image_path)
        gt, soft = mattes.load_gt(data, image_path.stem)
        raw = outputs.load(outputs.key(record), record.size, data, image_path.stem)
        full = finish(raw, record, rgb, refine_edges=False)
        box = subject_box(full, pad, max_area)
        alphas = {"plain": full}
        if box is None:
            alphas["crop"] = alphas["crop-mean"] = full
        else:
            passes += 1
            t0 = time.perf_counter()
            alphas["crop"] = with_crop_pass(full, rgb, record, session, box, "crop")
            seconds.append(time.perf_counter() - t0)
            alphas["crop-mean"] = with_crop_pass(full, rgb, record, session, box, "mean")
        for name, alpha in alphas.items():
            mattes.add_scores(scores[name], alpha, gt, soft)
        if box is not None:
            line = " ".join(f"{n} {scores[n][('sad' if soft else 'iou')][-1]:.3f}" for n in names)
            print(f"  {image_path.stem}: box {box} of {rgb.shape[:2]}: {line}", flush=True)
    return {"scores": scores, "count": len(images), "soft": soft, "passes": passes,
            "second_s": float(np.median(seconds)) if seconds else 0.0,
            "seconds": dict.fromkeys(names, 0.0),
            "model_s": float(np.median(outputs.load_seconds(outputs.key(record), record.size, data)
                                       or [0.0]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--models", default="isnet-medium")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--pad", type=float, default=0.1)
    parser.add_argument("--max-area", type=float, default=0.7)
    args = parser.parse_args(argv)
    datas = args.data or [ROOT.parent / "shared" / "data" / "soft"]
    records = load_records()
    for model_id in args.models.split(","):
        record = records[model_id]
        for data in datas:
            result = evaluate(record, data, args.every, args.pad, args.max_area)
            mattes.print_table(f"{model_id} on {data.name}", result)
            print(f"second pass on {result['passes']}/{result['count']} photos, "
                  f"{result['second_s']:.2f} s each (median, crop pass incl. finish)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
