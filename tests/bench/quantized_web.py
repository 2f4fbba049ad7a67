"""onnxruntime-web (plain WASM build, in Node) against native onnxruntime, float16 and int8.

Usage::

    .venv/bin/python tests/bench/quantized_web.py [--threads 1] [--model isnet-medium]

Writes the served float16 and int8 files and one photo's model input (scikit-image's
astronaut) to a temporary folder, runs both files in Node through
``tests/bench/quantized_wasm.mjs`` (``web/node_modules/onnxruntime-web``) and natively, and
prints each one's session creation and run time (WASM), and how far the outputs differ: WASM
against native for the same file, and int8 against float16 on each runtime.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))

from offcut import fetch  # noqa: E402
from offcut.prepare import prepare  # noqa: E402
from offcut.records import load_records  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", default="isnet-medium")
    args = parser.parse_args()
    import onnxruntime as ort
    from skimage import data

    record = load_records()[args.model]
    raw = record.raw
    feed = prepare(data.astronaut(), record)[:1]
    source = fetch.model_file(raw, ROOT / ".cache").read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        files = {"float16": Path(tmp) / "float16.onnx", "int8": Path(tmp) / "int8.onnx"}
        files["float16"].write_bytes(fetch.served_model(source, raw, quantize=False))
        files["int8"].write_bytes(fetch.served_model(source, raw))
        (Path(tmp) / "input.bin").write_bytes(feed.astype("<f4").tobytes())
        dist = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist"
        out = subprocess.run(
            ["node", str(ROOT / "tests" / "bench" / "quantized_wasm.mjs"), str(dist),
             str(Path(tmp) / "input.bin"), str(record.size), str(args.threads),
             *map(str, files.values())], capture_output=True, text=True, check=True)
        timings = json.loads(out.stdout.strip().splitlines()[-1])
        outputs = {}
        for name, path in files.items():
            wasm = np.frombuffer(Path(f"{path}.wasm-out.bin").read_bytes(), "<f4")
            options = ort.SessionOptions()
            options.intra_op_num_threads = 2
            native = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            outputs[name] = {"wasm": wasm, "native": native.run(None, {record.input_name: feed})
                             [record.output_index].reshape(-1)}
    for name, timing in zip(files, timings, strict=True):
        print(f"{name} on WASM ({args.threads} thread(s)): create {timing['create']:.2f} s, "
              f"run {timing['run']:.2f} s, Node RSS {timing['heap_mib']:.0f} MiB")
    ratio = {k: timings[1][k] / timings[0][k] for k in ("create", "run")}
    print(f"int8 / float16 on WASM: create {ratio['create']:.3f}x, run {ratio['run']:.3f}x")

    def differ(a: np.ndarray, b: np.ndarray) -> str:
        d = np.abs(a - b)
        return (f"max {d.max():.2e}, mean {d.mean():.2e}, "
                f"{int(((a > 0.5) != (b > 0.5)).sum())} pixels across 0.5")

    for name in files:
        print(f"{name}: WASM vs native: {differ(outputs[name]['wasm'], outputs[name]['native'])}")
    for runtime in ("wasm", "native"):
        print(f"{runtime}: int8 vs float16: "
              f"{differ(outputs['int8'][runtime], outputs['float16'][runtime])}")


if __name__ == "__main__":
    main()
