"""Raw model outputs cached per photo, so every pipeline variant is scored without the model.

Usage (fills the cache; other bench scripts read it)::

    PYTHONPATH=py python tests/bench/outputs.py --data ../shared/data/soft \
        [--models isnet-medium,u2netp] [--size 768] [--flip] [--limit N] [--every K]

The cache is ``bench-out/raw/<model id>-<size>[-flip]/<data folder name>/<stem>.npz``
holding ``output``: the model's output tensor named by the record, float16, shape (S, S),
*before* ``finish.mask_from_output`` (so min-max scaling and calibration can be varied).
``--flip`` runs the model on the horizontally mirrored input and stores the output mirrored
back. ``--size`` runs the model at another square input size: the ONNX graph's fixed input
shape is rewritten (in memory) to that size; the run fails loudly if the graph cannot take it.
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

from offcut.prepare import prepare  # noqa: E402
from offcut.records import load_records  # noqa: E402

OUT = ROOT / "bench-out" / "raw"


def load_rgb(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) pixels of an image file."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def key(record) -> str:
    """Cache key of a record: its id, plus its input filter when that is not bilinear (the
    outputs depend on it)."""
    return record.id if record.resample == "bilinear" else f"{record.id}-{record.resample}"


def variant_name(model_id: str, size: int, flip: bool = False) -> str:
    return f"{model_id}-{size}" + ("-flip" if flip else "")


def cache_dir(model_id: str, size: int, data: Path, flip: bool = False) -> Path:
    return OUT / variant_name(model_id, size, flip) / data.name


def model_bytes(record, size: int) -> bytes:
    """The record's ONNX file, its input (and output) shape set to ``size`` when it differs."""
    path = ROOT / ".cache" / "models" / record.raw["file"]
    data = path.read_bytes()
    if size == record.size:
        return data
    import onnx

    model = onnx.load_from_string(data)
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[2].dim_value = size
            dims[3].dim_value = size
    # The side outputs are feature maps at other scales: leave their sizes to the run.
    for value in model.graph.output:
        for dim in value.type.tensor_type.shape.dim[2:]:
            dim.dim_param = "side"
    # Shapes inferred at the old size would contradict the new one.
    del model.graph.value_info[:]
    _scale_traced_sizes(model, size / record.size)
    return model.SerializeToString()


def _scale_traced_sizes(model, factor: float) -> None:
    """Scale the resize targets the exporter traced as constants (IS-Net's ``[32 32]``,
    ``[512 512]``, ``[1024 1024]``: spatial sizes at the pinned input size) by ``factor``."""
    from onnx import numpy_helper

    concat_inputs = {name for node in model.graph.node if node.op_type == "Concat"
                     for name in node.input}
    for node in model.graph.node:
        if node.op_type != "Constant" or node.output[0] not in concat_inputs:
            continue
        value = numpy_helper.to_array(node.attribute[0].t)
        if value.shape == (2,) and value.dtype.kind == "i" and value[0] == value[1] >= 8:
            scaled = np.round(value * factor).astype(value.dtype)
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(scaled))


def session_for(record, size: int, threads: int = 2):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes(record, size), options,
                                providers=["CPUExecutionProvider"])


def run_one(session, record, rgb: np.ndarray, flip: bool = False) -> np.ndarray:
    """Raw output (S, S) float32 of one photo (mirrored back when ``flip``)."""
    if flip:
        rgb = np.ascontiguousarray(rgb[:, ::-1])
    model_input = prepare(rgb, replace(record, flip=False))
    output = session.run(None, {record.input_name: model_input})[record.output_index]
    output = np.asarray(output, dtype=np.float32).reshape(record.size, record.size)
    return np.ascontiguousarray(output[:, ::-1]) if flip else output


def fill(record, data: Path, size: int, flip: bool = False, limit: int = 0, every: int = 1,
         threads: int = 2) -> dict[str, float]:
    """Run the model where no cached output exists; returns ``{stem: model seconds}``."""
    session_record, record = record, replace(record, size=size)
    folder = cache_dir(key(record), size, data, flip)
    folder.mkdir(parents=True, exist_ok=True)
    images = sorted((data / "images").glob("*"))[::every]
    if limit:
        images = images[:limit]
    todo = [p for p in images if not (folder / f"{p.stem}.npz").is_file()]
    seconds = {}
    if not todo:
        return seconds
    # The record as pinned: model_bytes() rewrites its file when ``size`` differs.
    session = session_for(session_record, size, threads)
    for count, image_path in enumerate(todo, 1):
        rgb = load_rgb(image_path)
        t0 = time.perf_counter()
        output = run_one(session, record, rgb, flip)
        seconds[image_path.stem] = time.perf_counter() - t0
        np.savez_compressed(folder / f"{image_path.stem}.npz", output=output.astype(np.float16),
                            seconds=seconds[image_path.stem])
        if count % 10 == 0 or count == len(todo):
            print(f"  {folder.relative_to(OUT)}: {count}/{len(todo)}, "
                  f"{np.median(list(seconds.values())):.2f} s/image (median)", flush=True)
    return seconds


def load(model_id: str, size: int, data: Path, stem: str, flip: bool = False) -> np.ndarray:
    """A cached raw output, float32 (S, S)."""
    with np.load(cache_dir(model_id, size, data, flip) / f"{stem}.npz") as npz:
        return npz["output"].astype(np.float32)


def load_seconds(model_id: str, size: int, data: Path, flip: bool = False) -> list[float]:
    """Model seconds recorded with each cached output."""
    out = []
    for path in sorted(cache_dir(model_id, size, data, flip).glob("*.npz")):
        with np.load(path) as npz:
            out.append(float(npz["seconds"]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--models", default="isnet-medium")
    parser.add_argument("--size", type=int, default=0, help="input side (default: record's)")
    parser.add_argument("--flip", action="store_true")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--every", type=int, default=1, help="every K-th photo only")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    records = load_records()
    for model_id in args.models.split(","):
        record = records[model_id]
        for data in args.data:
            fill(record, data, args.size or record.size, args.flip, args.limit, args.every,
                 args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
