"""Native onnxruntime: session creation, run time and peak memory of ONNX files, side by side.

Usage::

    .venv/bin/python tests/bench/quantized.py [--rounds 3] [--runs 2] [--threads 2]
        [--model isnet-medium] [PATH ...]

With no PATH it compares the served float16 IS-Net (before quantization: the reference) with
the served int8 one (both built from the cache like the CLI's). Each file is measured in a
fresh process per round (so peak memory is that file's alone), rounds interleave the files
so that a busy machine slows them alike, and each number is the median over rounds. Ratios
are against the first file. Peak memory is the process's maximum resident set
(``ru_maxrss``) after creating the session, and after the runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))

CHILD = r"""
import json, resource, sys, time
import numpy as np, onnxruntime as ort
path, name = sys.argv[1], sys.argv[5]
threads, runs, size = (int(v) for v in sys.argv[2:5])
feed = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32) - 0.5
options = ort.SessionOptions()
options.intra_op_num_threads = threads
start = time.perf_counter()
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
create = time.perf_counter() - start
created_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
for _ in range(runs):
    start = time.perf_counter()
    session.run(None, {name: feed})
    times.append(time.perf_counter() - start)
print(json.dumps({"create": create, "first": times[0], "steady": min(times),
                  "created_mib": created_rss / 1024,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(path: Path, threads: int, runs: int, size: int, name: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(threads), str(runs),
                          str(size), name], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def default_files(model_id: str, folder: Path) -> list[Path]:
    """The served float16 file and the served int8 file, built from the cache."""
    from offcut import fetch
    from offcut.records import load_records

    raw = load_records()[model_id].raw
    cache = ROOT / ".cache"
    float16 = folder / f"{model_id}.float16.onnx"
    float16.write_bytes(fetch.served_model(fetch.model_file(raw, cache).read_bytes(), raw,
                                           quantize=False))
    return [float16, fetch.runtime_model(raw, cache)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--model", default="isnet-medium")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from offcut.records import load_records

    record = load_records()[args.model]
    with tempfile.TemporaryDirectory() as tmp:
        paths = args.paths or default_files(args.model, Path(tmp))
        results = {path: [] for path in paths}
        for round_number in range(args.rounds):
            for path in paths:
                result = measure(path, args.threads, args.runs, record.size, record.input_name)
                results[path].append(result)
                print(f"round {round_number + 1} {path.name}: {json.dumps(result)}", flush=True)
        keys = ("create", "first", "steady", "created_mib", "peak_mib")
        medians = {p: {k: statistics.median(r[k] for r in rs) for k in keys}
                   for p, rs in results.items()}
        reference = medians[paths[0]]
        print(f"\nmedians over {args.rounds} rounds ({args.threads} threads, {args.runs} runs "
              f"each); ratio against {paths[0].name}")
        for path in paths:
            row = "  ".join(f"{k} {medians[path][k]:.2f} ({medians[path][k] / reference[k]:.3f}x)"
                            for k in keys)
            print(f"{path.name} ({path.stat().st_size / 1e6:.1f} MB): {row}")


if __name__ == "__main__":
    main()
