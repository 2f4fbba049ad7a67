"""Mask quality on the dev set: naive bilinear upsampling versus edge refinement.

Usage::

    PYTHONPATH=py python tests/bench/quality.py [--limit N] [--models u2netp,isnet-medium]
        [--models-dir DIR] [--data DIR] [--cache DIR] [--outputs-only] [--from-gt SIDE]

Each model runs once per image (onnxruntime, CPU); its low-resolution mask is cached as
``<cache>/<model id>/<stem>.npy`` so re-scoring after a change to ``refine`` is cheap.
Scores are per-image means of IoU, Dice (alpha >= 0.5), alpha MAE, boundary F (2 px) and
two "haze" scores over the ground truth's background farther than ``HAZE_GAP`` px from its
boundary: the mean alpha there, and the fraction of those pixels with alpha above
``HAZE_LEVEL`` (faint smudges next to the subject show up in both; so do gross model errors).

``--from-gt SIDE`` is the control without model error: the "model's mask" is the ground truth
itself squashed to SIDE x SIDE (as a model's input is), so the scores measure the upsampling
alone: how much of the boundary is lost by the low resolution and what refinement recovers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))

from offcut import metrics, refine  # noqa: E402
from offcut.filters import max_filter  # noqa: E402
from offcut.finish import mask_from_output  # noqa: E402
from offcut.prepare import prepare  # noqa: E402
from offcut.records import load_records  # noqa: E402

METRICS = ("iou", "dice", "mae", "bf", "haze", "hazef")
#: Background pixels closer than this to the ground truth's boundary do not count as haze.
HAZE_GAP = 3
#: Alpha above this counts as visible haze.
HAZE_LEVEL = 0.05


def haze(alpha8: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """Mean alpha and fraction above ``HAZE_LEVEL`` over background far from the boundary."""
    truth = gt > metrics.IGNORE
    far = (gt < metrics.IGNORE) & ~max_filter(metrics.boundary(truth), HAZE_GAP)
    if not far.any():
        return {"haze": 0.0, "hazef": 0.0}
    alpha = alpha8[far].astype(np.float32) / np.float32(255)
    return {"haze": float(alpha.mean()), "hazef": float((alpha > HAZE_LEVEL).mean())}


def model_path(models_dir: Path, filename: str) -> Path | None:
    """The record's file under ``models_dir`` (``build.py`` puts it there), else None."""
    candidate = models_dir / filename
    return candidate if candidate.is_file() else None


def load_rgb(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) pixels of an image file."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def low_masks(record, path: Path | None, images: list[Path], cache: Path) -> dict[str, Path]:
    """Run the model where no cached low-resolution mask exists; returns ``{stem: npy path}``."""
    folder = cache / record.id
    folder.mkdir(parents=True, exist_ok=True)
    todo = [p for p in images if not (folder / f"{p.stem}.npy").is_file()]
    if todo:
        if path is None:
            raise SystemExit(f"no model file for {record.id} and {len(todo)} masks not cached")
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        start = time.perf_counter()
        for count, image_path in enumerate(todo, 1):
            rgb = load_rgb(image_path)
            views = prepare(rgb, record)
            output = np.concatenate([session.run(None, {record.input_name: views[i : i + 1]})
                                     [record.output_index] for i in range(len(views))])
            low = mask_from_output(output, record)
            np.save(folder / f"{image_path.stem}.npy", low)
            if count % 20 == 0 or count == len(todo):
                rate = (time.perf_counter() - start) / count
                print(f"  {record.id}: {count}/{len(todo)} run, {rate:.2f} s/image", flush=True)
    return {p.stem: folder / f"{p.stem}.npy" for p in images}


def gt_mask(gt: np.ndarray, side: int) -> np.ndarray:
    """A perfect model's mask: the ground truth (ignore counted as foreground) squashed to
    ``side`` x ``side`` with Pillow's antialiasing bilinear, float32 in [0, 1]."""
    truth = (gt >= metrics.IGNORE).astype(np.float32)
    return np.clip(refine.resize_float(truth, side, side), 0.0, 1.0)


def evaluate(
    record_id: str, masks: dict[str, Path] | int, images: list[Path], gt_dir: Path,
    mask_scale: float = 1.0, radius_scale: float = 1.0,
) -> dict:
    """Per-image scores for both paths; returns ``{"naive": {...}, "refined": {...}}`` of lists.

    ``mask_scale`` < 1 shrinks the model's mask first, to stand in for a photo that many times
    larger than these 854 px frames (12 MP against a 320 px model is ~4.6x the dev frames'
    upsampling factor) while still scoring against the dev ground truth. An int ``masks``
    is a side for :func:`gt_mask` instead of model outputs.
    """
    results = {name: {m: [] for m in METRICS} for name in ("naive", "refined")}
    seconds = {"naive": 0.0, "refined": 0.0}
    for image_path in images:
        rgb = load_rgb(image_path)
        gt = np.asarray(Image.open(gt_dir / f"{image_path.stem}.png").convert("L"))
        low = gt_mask(gt, masks) if isinstance(masks, int) else np.load(masks[image_path.stem])
        if mask_scale != 1.0:
            side = max(8, round(low.shape[0] * mask_scale))
            low = np.clip(refine.resize_float(low, side, side), 0, 1)
        for name, refine_edges in (("naive", False), ("refined", True)):
            t0 = time.perf_counter()
            alpha = refine.upsample_alpha(
                low, rgb, refine_edges=refine_edges, radius_scale=radius_scale
            )
            seconds[name] += time.perf_counter() - t0
            # Score what the product ships: alpha quantised to uint8.
            alpha8 = (np.clip(alpha, 0, 1) * np.float32(255) + np.float32(0.5)).astype(np.uint8)
            for key, value in {**metrics.score(alpha8, gt), **haze(alpha8, gt)}.items():
                results[name][key].append(value)
    results["seconds"] = seconds
    return results


def print_table(all_results: dict, count: int) -> None:
    """Markdown table of per-image means plus a refined/naive ratio row per model."""
    print(f"\nper-image means over {count} images\n")
    print(
        "| model | path | IoU | Dice | alpha MAE | boundary F | haze | haze > "
        f"{HAZE_LEVEL} | upsample ms/img |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for model_id, results in all_results.items():
        means = {}
        for name in ("naive", "refined"):
            means[name] = {m: float(np.mean(results[name][m])) for m in METRICS}
            ms = 1000 * results["seconds"][name] / count
            row = " | ".join(f"{means[name][m]:.4f}" for m in METRICS)
            print(f"| {model_id} | {name} | {row} | {ms:.1f} |")
        ratio = " | ".join(
            f"{means['refined'][m] / max(means['naive'][m], 1e-12):.3f}" for m in METRICS
        )
        print(f"| {model_id} | refined/naive | {ratio} | |")
    print()
    for model_id, results in all_results.items():
        diff = np.asarray(results["refined"]["bf"]) - np.asarray(results["naive"]["bf"])
        iou = np.asarray(results["refined"]["iou"]) - np.asarray(results["naive"]["iou"])
        print(
            f"{model_id}: boundary F better on {int((diff > 0).sum())}, worse on "
            f"{int((diff < 0).sum())} images; IoU better on {int((iou > 0).sum())}, "
            f"worse on {int((iou < 0).sum())}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=ROOT / ".cache" / "models")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dev")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "bench")
    parser.add_argument("--limit", type=int, default=0, help="first N images only")
    parser.add_argument("--models", default="", help="comma-separated model ids (default all)")
    parser.add_argument("--outputs-only", action="store_true", help="fill the cache, no scores")
    parser.add_argument("--mask-scale", type=float, default=1.0,
                        help="shrink the model's mask first (simulates larger photos)")
    parser.add_argument("--radius-scale", default="",
                        help="override the records' refine_radius_scale, e.g. isnet-medium=0.5")
    parser.add_argument("--from-gt", type=int, default=0, metavar="SIDE",
                        help="score upsampling alone: the mask is the ground truth at SIDE px")
    args = parser.parse_args(argv)
    radius_scales = {
        key: float(value)
        for key, value in (item.split("=") for item in args.radius_scale.split(",") if item)
    }

    images = sorted((args.data / "images").glob("*"))
    if args.limit:
        images = images[: args.limit]
    records = load_records()
    wanted = [m for m in args.models.split(",") if m] or list(records)
    all_results = {}
    for model_id in wanted:
        record = records[model_id]
        scale = radius_scales.get(model_id, record.refine_radius_scale)
        radius_scales[model_id] = scale
        if args.from_gt:
            # The model's radius setting on a perfect mask of the model's own size.
            label = f"ground truth at {args.from_gt} px, {model_id} settings"
            all_results[label] = evaluate(model_id, args.from_gt, images, args.data / "gt",
                                          args.mask_scale, scale)
            continue
        path = model_path(args.models_dir, record.raw["file"])
        masks = low_masks(record, path, images, args.cache)
        if not args.outputs_only:
            all_results[model_id] = evaluate(model_id, masks, images, args.data / "gt",
                                             args.mask_scale, scale)
    if all_results:
        print(f"mask scale {args.mask_scale}; radius scales {radius_scales}")
        print_table(all_results, len(images))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
