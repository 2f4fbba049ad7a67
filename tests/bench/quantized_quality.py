"""Quality of the int8-weight IS-Net against the float16 file it is made from.

Usage::

    .venv/bin/python tests/bench/quantized_quality.py [--data DIR ...] [--every N]
        [--limit N] [--threads 2] [--form fold] [--keep-below N]

Both served files (float16 after the pooling patch, and int8 from it) run on every photo of
each data folder (default ``../shared/data/dev`` and ``../shared/data/soft``); each output is
finished as the product does (``plain``: bilinear, ``refined``: edge refinement) and scored:
IoU, boundary F and alpha MAE against a binary ground truth, SAD, MSE, gradient, band and IoU
against a soft matte (``tests/bench/mattes.py``'s scores). Per-image scores are kept in
``.cache/bench/quantized/`` so an interrupted run resumes. It prints the means, the int8
minus float16 differences (and ratios), and how far the raw outputs differ.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import mattes  # noqa: E402

from offcut import fetch  # noqa: E402
from offcut.onnx_quantize import quantize_weights  # noqa: E402
from offcut.prepare import prepare  # noqa: E402
from offcut.records import load_records  # noqa: E402

FINISHES = ("plain", "refined")


def sessions(record, threads: int, form: str, keep_below: int) -> dict:
    """``{"float16": session, "int8": session}``: the record's served float16 file, and the
    int8 one made from it with ``form`` and ``keep_below`` (the served one when they are the
    record's)."""
    import onnxruntime as ort

    raw = record.raw
    float16 = fetch.served_model(fetch.model_file(raw, ROOT / ".cache").read_bytes(), raw,
                                 quantize=False)
    int8 = quantize_weights(float16, form, keep_below)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return {name: ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
            for name, model in (("float16", float16), ("int8", int8))}


def score_folder(record, models: dict, data: Path, every: int, limit: int, store: Path) -> dict:
    """Per-image scores ``{model: {finish: {metric: [..]}}}`` plus raw output differences."""
    store.mkdir(parents=True, exist_ok=True)
    images = sorted((data / "images").glob("*"))[::every]
    if limit:
        images = images[:limit]
    rows = []
    start = time.perf_counter()
    for count, image_path in enumerate(images, 1):
        cached = store / f"{image_path.stem}.json"
        if cached.exists():
            rows.append(json.loads(cached.read_text()))
            continue
        rgb = mattes.load_rgb(image_path)
        gt, soft = mattes.load_gt(data, image_path.stem)
        feed = prepare(rgb, record)[:1]
        row = {"soft": soft}
        outputs = {}
        for name, session in models.items():
            output = session.run(None, {record.input_name: feed})[record.output_index]
            outputs[name] = np.asarray(output, np.float32).reshape(record.size, record.size)
            for finish in FINISHES:
                scores = {}
                alpha = mattes.VARIANTS[finish][0](outputs[name], record, rgb, None)
                mattes.add_scores(scores, alpha, gt, soft)
                row[f"{name}/{finish}"] = {k: v[0] for k, v in scores.items()}
        diff = np.abs(outputs["int8"] - outputs["float16"])
        row["raw_max"], row["raw_mean"] = float(diff.max()), float(diff.mean())
        cached.write_text(json.dumps(row))
        rows.append(row)
        if count % 10 == 0:
            rate = (time.perf_counter() - start) / count
            print(f"  {data.name}: {count}/{len(images)}, {rate:.1f} s/image", flush=True)
    return rows


def report(label: str, rows: list[dict]) -> None:
    keys = mattes.SOFT_KEYS if rows[0]["soft"] else mattes.BINARY_KEYS
    print(f"\n{label}: {len(rows)} images; raw output |int8 - float16|: max "
          f"{max(r['raw_max'] for r in rows):.4f}, mean of means "
          f"{np.mean([r['raw_mean'] for r in rows]):.2e}")
    print("| finish | weights | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for finish in FINISHES:
        means = {m: {k: float(np.mean([r[f"{m}/{finish}"][k] for r in rows])) for k in keys}
                 for m in ("float16", "int8")}
        for m in ("float16", "int8"):
            print(f"| {finish} | {m} | " + " | ".join(f"{means[m][k]:.4f}" for k in keys) + " |")
        delta = " | ".join(f"{means['int8'][k] - means['float16'][k]:+.4f} "
                           f"({means['int8'][k] / max(means['float16'][k], 1e-12):.4f}x)"
                           for k in keys)
        print(f"| {finish} | int8 - float16 | {delta} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--form", default="fold", choices=("fold", "dequantize"))
    parser.add_argument("--model", default="isnet-medium")
    parser.add_argument("--keep-below", type=int, default=-1,
                        help="weights smaller than this stay float16 (default: the record's)")
    args = parser.parse_args(argv)
    shared = ROOT.parent / "shared" / "data"
    folders = args.data or [shared / "soft", shared / "dev"]
    record = load_records()[args.model]
    keep = args.keep_below
    if keep < 0:
        keep = int(record.raw["served"].get("float16_below", 0))
    models = sessions(record, args.threads, args.form, keep)
    for data in folders:
        variant = f"{record.id}-{args.form}-{keep}"
        store = ROOT / ".cache" / "bench" / "quantized" / variant / data.name
        rows = score_folder(record, models, data, args.every, args.limit, store)
        report(f"{record.id} ({args.form}, float16 below {keep}) on {data.name}", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
