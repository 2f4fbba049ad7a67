"""Edges on real mattes: pipeline variants scored against soft (or binary) ground truth.

Usage::

    PYTHONPATH=py python tests/bench/mattes.py [--data ../shared/data/soft] \
        [--models isnet-medium,u2netp] [--variants refined,plain,...] [--size S] [--every K]

``--data`` is any folder with ``images/`` and either ``alpha/`` (soft 8-bit mattes: SAD, MSE,
gradient and band error, IoU; ``offcut.metrics.matte_scores``) or ``gt/`` (binary masks with
128 = ignore: IoU, boundary F, alpha MAE; ``offcut.metrics.score``), matched by file stem.
Model outputs come from the cache that ``tests/bench/outputs.py`` fills (it is filled here
when a photo is missing), so a variant costs only its own step. Every variant's alpha is
quantised to uint8 as the product ships it. The table gives per-image means and, per model,
each variant's ratio to ``plain`` (= ``--no-refine``, bilinear upsampling of the model's
output, one view).

Variants: ``plain``, ``refined`` (guided filter), ``colour`` (:mod:`offcut.matting`'s
colour model); a ``flip-`` prefix averages the output with the model's run on the mirrored
photo (the record's ``input.flip``); ``gainG-`` multiplies the output's logit by G (a
calibration). ``--every 4`` on ``../shared/data/dev`` is the usual dev subset (52 photos).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import outputs  # noqa: E402

from offcut import metrics  # noqa: E402
from offcut.finish import finish, mask_from_output, quantise_alpha  # noqa: E402
from offcut.records import load_records  # noqa: E402

SOFT_KEYS = ("sad", "mse", "grad", "band", "iou")
BINARY_KEYS = ("iou", "bf", "mae")


def _calibrated(raw, record, gain):
    """The model's mask (after min-max) with its logit multiplied by ``gain``; the record
    returned alongside no longer min-max scales it again."""
    p = np.clip(mask_from_output(raw, record), np.float32(1e-4), np.float32(1 - 1e-4))
    p = 1 / (1 + np.exp(-gain * np.log(p / (1 - p))))
    return p.astype(np.float32), replace(record, minmax=False)


def _variant(method: str | None, flip: bool = False, gain: float = 1.0):
    """A variant: ``method`` None is plain bilinear (``--no-refine``), else the refine method;
    ``flip`` averages the model's output with its run on the mirrored photo; ``gain``
    calibrates the output's logit."""

    def run(raw, record, rgb, flipped):
        if flip:
            raw = (raw + flipped) / 2
        if gain != 1.0:
            raw, record = _calibrated(raw, record, gain)
        if method is not None:
            record = replace(record, refine_method=method)
        return finish(raw, record, rgb, refine_edges=method is not None)

    return run, flip


#: name -> (function(raw, record, rgb, flipped_raw) -> float alpha (H, W), needs flip)
VARIANTS = {
    "plain": _variant(None),
    "refined": _variant("guided"),
    "colour": _variant("colour"),
    "flip-plain": _variant(None, True),
    "flip-refined": _variant("guided", True),
    "flip-colour": _variant("colour", True),
    **{f"gain{g:g}-plain": _variant(None, False, g) for g in (0.5, 0.75, 1.5, 2.0)},
    **{f"gain{g:g}-colour": _variant("colour", False, g) for g in (0.75, 1.5)},
}


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def load_gt(data: Path, stem: str) -> tuple[np.ndarray, bool]:
    """Ground truth uint8 (H, W) and whether it is a soft matte."""
    soft = (data / "alpha").is_dir()
    folder = data / ("alpha" if soft else "gt")
    path = next(folder.glob(f"{stem}.*"))
    with Image.open(path) as image:
        return np.asarray(image.convert("L")), soft


def add_scores(into: dict, alpha: np.ndarray, gt: np.ndarray, soft: bool) -> None:
    """Score float alpha, quantised to uint8 as the product ships it, against ``gt``; append
    each metric to ``into[metric]``."""
    alpha8 = quantise_alpha(alpha)
    scores = metrics.matte_scores(alpha8, gt) if soft else metrics.score(alpha8, gt)
    for key, value in scores.items():
        into.setdefault(key, []).append(value)


def evaluate(record, data: Path, names: list[str], size: int, every: int = 1,
             limit: int = 0) -> dict:
    """``{variant: {metric: [per image]}}`` plus ``seconds`` per variant and model seconds."""
    images = sorted((data / "images").glob("*"))[::every]
    if limit:
        images = images[:limit]
    need_flip = any(VARIANTS[n][1] for n in names)
    outputs.fill(record, data, size, False, limit, every)
    if need_flip:
        outputs.fill(record, data, size, True, limit, every)
    # Cached outputs are one view each; the flip variants average them here.
    rec = replace(record, size=size, flip=False)
    results = {n: {} for n in names}
    seconds = dict.fromkeys(names, 0.0)
    for image_path in images:
        rgb = load_rgb(image_path)
        gt, soft = load_gt(data, image_path.stem)
        raw = outputs.load(outputs.key(record), size, data, image_path.stem)
        flipped = (outputs.load(outputs.key(record), size, data, image_path.stem, True)
                   if need_flip else None)
        for name in names:
            t0 = time.perf_counter()
            alpha = VARIANTS[name][0](raw, rec, rgb, flipped)
            seconds[name] += time.perf_counter() - t0
            add_scores(results[name], alpha, gt, soft)
    model_s = outputs.load_seconds(outputs.key(record), size, data)
    return {"scores": results, "seconds": seconds, "count": len(images),
            "model_s": float(np.median(model_s)) if model_s else 0.0, "soft": soft}


def print_table(label: str, result: dict) -> None:
    keys = SOFT_KEYS if result["soft"] else BINARY_KEYS
    n = result["count"]
    scores = result["scores"]
    means = {v: {k: float(np.mean(scores[v][k])) for k in keys} for v in scores}
    print(f"\n{label}: per-image means over {n} images; model {result['model_s']:.2f} s/image "
          "(median, native ORT)")
    head = " | ".join(k if k != "mse" else "MSE x1e3" for k in keys)
    ratio_head = " | ".join(f"{k} ratio" for k in keys)
    print(f"| variant | {head} | {ratio_head} | ms/img |")
    print("|---" * (2 * len(keys) + 2) + "|")
    base = means.get("plain")
    for name, m in means.items():
        vals = " | ".join(f"{m[k] * (1000 if k == 'mse' else 1):.4g}" for k in keys)
        ratios = " | ".join(f"{m[k] / max(base[k], 1e-12):.3f}" if base else "" for k in keys)
        ms = 1000 * result["seconds"][name] / n
        print(f"| {name} | {vals} | {ratios} | {ms:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--models", default="isnet-medium")
    parser.add_argument("--variants", default="plain,refined")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args(argv)
    datas = args.data or [ROOT.parent / "shared" / "data" / "soft"]
    records = load_records()
    names = [v for v in args.variants.split(",") if v]
    for model_id in args.models.split(","):
        record = records[model_id]
        for data in datas:
            size = args.size or record.size
            result = evaluate(record, data, names, size, args.every, args.limit)
            print_table(f"{model_id} at {size} on {data.name}", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
