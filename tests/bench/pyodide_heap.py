"""Pyodide's heap after each step of the pipeline, at 12 and 24 MP (a benchmark, not a test).

Pyodide's WebAssembly memory only grows: the largest set of arrays alive at once in any step
is what the tab holds from then on. This runs the built ``dist/`` (its Pyodide, wheels and
offcut.zip) in Node, the same code the worker runs, with a stand-in model output.

    python3 tests/bench/pyodide_heap.py [--sizes 12mp,24mp] [--model isnet-medium]
        [--reference-zip OLD.zip]   # another offcut.zip, run in the same process, for a ratio
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE)]

from peer import SIZES, make_photo  # noqa: E402  (after the path above)


def run(photo: Path, model: str, zip_path: Path | None) -> list[dict]:
    command = ["node", str(HERE / "pyodide_heap.mjs"), str(ROOT / "dist"), str(photo),
               str(ROOT / "models" / f"{model}.json")]
    if zip_path:
        command.append(str(zip_path))
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12mp,24mp")
    parser.add_argument("--model", default="isnet-medium")
    parser.add_argument("--photo", type=Path,
                        default=ROOT.parent / "shared/data/dev/images/046.jpg")
    parser.add_argument("--reference-zip", type=Path)
    args = parser.parse_args()
    if not args.photo.exists():  # a fresh clone: scikit-image's public-domain astronaut
        from PIL import Image
        from skimage import data as samples

        args.photo = Path(tempfile.mkdtemp()) / "astronaut.png"
        Image.fromarray(samples.astronaut()).save(args.photo)
    for size in args.sizes.split(","):
        photo = make_photo(args.photo, SIZES[size], Path(tempfile.mkdtemp()))
        now = run(photo, args.model, None)
        then = run(photo, args.model, args.reference_zip) if args.reference_zip else None
        print(f"{size} ({args.model}): heap MiB after each step"
              + (" (this / reference)" if then else ""))
        for i, row in enumerate(now):
            line = f"  {row['step']:18s} {row['heap']:7.0f}  {row['seconds']:6.2f} s"
            if then:
                ref = then[i]
                line += (f"   ref {ref['heap']:7.0f}  {ref['seconds']:6.2f} s"
                         f"   ratio {row['heap'] / ref['heap']:.2f}")
            print(line)


if __name__ == "__main__":
    main()
