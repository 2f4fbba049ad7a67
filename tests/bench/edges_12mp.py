"""Time of each edge step at 12 MP (CPython): plain bilinear, guided filter, colour model.

Usage::

    PYTHONPATH=py python tests/bench/edges_12mp.py [--data ../shared/data/soft] [--stem GT01]
        [--model isnet-medium] [--repeat 2]

One soft-set photo is upscaled to 4000 x 3000 and its cached raw model output (see
``outputs.py``) stands in for the model's; prints the best of ``--repeat`` runs per method.
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

from offcut.finish import finish  # noqa: E402
from offcut.records import load_records  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=ROOT.parent / "shared" / "data" / "soft")
    parser.add_argument("--stem", default="GT01")
    parser.add_argument("--model", default="isnet-medium")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    record = replace(load_records()[args.model], flip=False)
    with Image.open(next((args.data / "images").glob(f"{args.stem}.*"))) as image:
        rgb = np.asarray(image.convert("RGB").resize((4000, 3000), Image.LANCZOS))
    raw = outputs.load(outputs.key(record), record.size, args.data, args.stem)
    print(f"{args.model} output, {args.stem} at 4000x3000")
    for label, method, refine_edges in (("plain", "guided", False), ("guided", "guided", True),
                                        ("colour", "colour", True)):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            finish(raw, replace(record, refine_method=method), rgb, refine_edges=refine_edges)
            best = min(best, time.perf_counter() - t0)
        print(f"| {label} | {best:.2f} s |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
