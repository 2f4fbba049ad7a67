"""Mixed precision IS-Net: int8 activations (static QDQ) where they cost little quality.

Usage::

    .venv/bin/python tests/bench/mixed_precision.py build        # float32, ranges, sensitivity
    .venv/bin/python tests/bench/mixed_precision.py speed [--variants all,keep4,...]
    .venv/bin/python tests/bench/mixed_precision.py quality --variants keep4 [--every 4]
        [--data ../shared/data/dev --data ../shared/data/soft]
    .venv/bin/python tests/bench/mixed_precision.py table [--every 4]
    .venv/bin/python tests/bench/mixed_precision.py check --variants g-all   # WASM vs native
    .venv/bin/python tests/bench/mixed_precision.py export --variants g-all  # -> models/ranges/

The variant ``cpu`` is the shipped CPU file (``fetch.runtime_model(..., "cpu")``, written by
``offcut.onnx_qdq`` from the exported table): ``quality --variants cpu`` scores it.

``build`` makes a float32 IS-Net from the patched float16 file (``fetch.served_model(...,
quantize=False)``), runs ``onnxruntime.quantization.quant_pre_process`` on it, and computes the
activation ranges (MinMax) on 16 dev photos prepared as offcut prepares them. Every variant is
then ``quantize_static`` (QDQ, per-channel int8 weights, uint8 activations by default, ``s8``
in a name for int8 activations) from those cached ranges. Sensitivity: one block (``conv_in``,
``stage1`` .. ``stage6``, ``stage5d`` .. ``stage1d``, ``side``, ``top``: the rest) quantized
alone, mean |output - float32 output| on 8 photos. ``keepK`` keeps the K most sensitive
blocks in float and quantizes the rest; ``all`` quantizes everything. Range prefixes: ``p-``
percentile (99.99, 4 photos) everywhere, ``h-`` MinMax in the encoder and percentile in the
decoder, ``g-`` MinMax in ``conv_in`` and ``stage1`` only (``g-all``: the candidate in
docs/quality.md, "Mixed precision").

``speed``: native onnxruntime (2 threads) and onnxruntime-web's plain WASM build
(``ort.wasm.min.mjs``, the app's WASM path, in Node, 1 thread: 2 threads do not start in
Node) per variant, each ratio against the served int8-weight file timed in the same run, a
fresh process per session, sessions interleaved. ``quality``: dev IoU / boundary F (plain and
refined finishes, ``tests/bench/mattes.py``) and soft-matte SAD of a variant, against the
served file's scores cached by ``tests/bench/quantized_quality.py``
(``.cache/bench/quantized/isnet-medium-fold-100000``; computed here when missing). Files and
per-photo scores are cached under ``.cache/bench/mixed/`` so an interrupted run resumes.
Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

import mattes  # noqa: E402

from offcut import fetch  # noqa: E402
from offcut.prepare import prepare  # noqa: E402
from offcut.records import load_records  # noqa: E402

STORE = ROOT / ".cache" / "bench" / "mixed"
SHARED = ROOT.parent / "shared" / "data"
SERVED_SCORES = ROOT / ".cache" / "bench" / "quantized" / "isnet-medium-fold-100000"
ORT_DIST = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist"
BLOCKS = ("conv_in", "stage1", "stage2", "stage3", "stage4", "stage5", "stage6", "stage5d",
          "stage4d", "stage3d", "stage2d", "stage1d", "side", "top")
FINISHES = ("plain", "refined")

WASM_JS = """
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [ortDist, inputPath, side, threads, model, runs, outPath] = process.argv.slice(2);
const ort = await import(pathToFileURL(`${ortDist}/ort.wasm.min.mjs`).href);
ort.env.wasm.numThreads = Number(threads);
ort.env.wasm.wasmPaths = pathToFileURL(`${ortDist}/`).href;
const bytes = readFileSync(inputPath);
const input = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
let start = performance.now();
const session = await ort.InferenceSession.create(readFileSync(model),
  { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
const create = (performance.now() - start) / 1000;
const feed = new ort.Tensor('float32', input, [1, 3, Number(side), Number(side)]);
const times = [];
for (let i = 0; i < Number(runs); i++) {
  start = performance.now();
  const outputs = await session.run({ [session.inputNames[0]]: feed });
  times.push((performance.now() - start) / 1000);
  if (outPath) {
    const data = outputs[session.outputNames[0]].data;
    writeFileSync(outPath, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
}
console.log(JSON.stringify({ create, times }));
"""


def record():
    return load_records()["isnet-medium"]


def dev_images() -> list[Path]:
    return sorted((SHARED / "dev" / "images").glob("*"))


def feed(path: Path, rec) -> np.ndarray:
    return np.ascontiguousarray(prepare(mattes.load_rgb(path), rec)[:1], np.float32)


def session(path: Path, threads: int = 2):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


# --- models -------------------------------------------------------------------------------

def served_path() -> Path:
    """The int8-weight file (float compute: what WebGPU downloads, and WASM did before
    the CPU file)."""
    rec = record()
    return fetch.runtime_model(rec.raw, ROOT / ".cache", "gpu")


def float32_path() -> Path:
    """Float32 IS-Net from the patched float16 file, pre-processed for quantization."""
    import onnx
    from onnx import TensorProto, numpy_helper
    from onnxruntime.quantization.shape_inference import quant_pre_process

    target = STORE / "float32.onnx"
    if target.exists():
        return target
    STORE.mkdir(parents=True, exist_ok=True)
    raw = record().raw
    float16 = fetch.served_model(fetch.model_file(raw, ROOT / ".cache").read_bytes(), raw,
                                 quantize=False)
    model = onnx.load_from_string(float16)
    graph = model.graph
    for i, init in enumerate(graph.initializer):
        if init.data_type == TensorProto.FLOAT16:
            graph.initializer[i].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(init).astype(np.float32), init.name))
    for node in graph.node:
        for attr in node.attribute:
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT16:
                attr.i = TensorProto.FLOAT
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT16:
                attr.t.CopyFrom(numpy_helper.from_array(
                    numpy_helper.to_array(attr.t).astype(np.float32), attr.t.name))
    for info in list(graph.value_info) + list(graph.input) + list(graph.output):
        if info.type.tensor_type.elem_type == TensorProto.FLOAT16:
            info.type.tensor_type.elem_type = TensorProto.FLOAT
    # Casts float32 -> float32 (the float16 file's casts at the input and outputs) go.
    types = {i.name: i.type.tensor_type.elem_type for i in
             list(onnx.shape_inference.infer_shapes(model).graph.value_info)
             + list(graph.input) + list(graph.output)}
    types.update({i.name: i.data_type for i in graph.initializer})
    rename, keep = {}, []
    outputs = {o.name for o in graph.output}
    for node in graph.node:
        if (node.op_type == "Cast" and node.attribute[0].i == TensorProto.FLOAT
                and types.get(node.input[0]) == TensorProto.FLOAT):
            if node.output[0] in outputs:  # keep the graph's output names
                node.op_type = "Identity"
                del node.attribute[:]
            else:
                rename[node.output[0]] = node.input[0]
                continue
        keep.append(node)
    for node in keep:
        node.input[:] = [rename.get(n, n) for n in node.input]
    del graph.node[:]
    graph.node.extend(keep)
    del graph.value_info[:]
    plain = STORE / "float32-plain.onnx"
    onnx.save(model, plain)
    quant_pre_process(str(plain), str(target), skip_symbolic_shape=True)
    plain.unlink()
    return target


def block_of(name: str) -> str:
    part = name.strip("/").split("/")[0]
    if part.startswith("side"):
        return "side"
    return part if part in BLOCKS else "top"


def ranges_path() -> Path:
    """MinMax activation ranges on 16 dev photos (a calibration cache onnxruntime reads)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quantize_static

    cache = STORE / "ranges.json"
    if cache.exists():
        return cache
    rec = record()

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.paths = iter(dev_images()[1::13][:16])

        def get_next(self):
            path = next(self.paths, None)
            return None if path is None else {rec.input_name: feed(path, rec)}

    start = time.perf_counter()
    quantize_static(str(float32_path()), str(STORE / "all.onnx"), Reader(),
                    per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8, calibration_cache_path=str(cache))
    print(f"ranges: {time.perf_counter() - start:.0f} s", flush=True)
    return cache


def percentile_ranges_path(photos: int = 4, percentile: float = 99.99) -> Path:
    """Activation ranges from histograms (``percentile`` of each tensor's values) on a few
    dev photos, one photo at a time (each run keeps every activation in memory)."""
    from onnxruntime.quantization import CalibrationDataReader
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        create_calibrator,
        save_tensors_data,
    )

    cache = STORE / "ranges-percentile.json"
    if cache.exists():
        return cache
    rec = record()

    class One(CalibrationDataReader):
        def __init__(self, path):
            self.left = [path]

        def get_next(self):
            return {rec.input_name: feed(self.left.pop(), rec)} if self.left else None

    start = time.perf_counter()
    calibrator = create_calibrator(
        str(float32_path()), None, augmented_model_path=str(STORE / "augmented.onnx"),
        calibrate_method=CalibrationMethod.Percentile,
        extra_options={"percentile": percentile})
    for path in dev_images()[1::13][:photos]:
        calibrator.collect_data(One(path))
    save_tensors_data(calibrator.compute_data(), cache)
    del calibrator
    (STORE / "augmented.onnx").unlink(missing_ok=True)
    print(f"percentile ranges: {time.perf_counter() - start:.0f} s", flush=True)
    return cache


DECODER = ("stage5d", "stage4d", "stage3d", "stage2d", "stage1d", "side", "top")


def hybrid_ranges_path(first_only: bool = False) -> Path:
    """MinMax ranges for the encoder's tensors, percentile ranges for the decoder's (the
    decoder stages, side outputs and the rest): the encoder lost boundary F with percentile
    ranges, the decoder lost much more with MinMax ones. ``first_only``: MinMax only for
    ``conv_in`` and ``stage1`` (the full-resolution encoder), percentile elsewhere."""
    from onnxruntime.quantization.calibrate import (
        CalibrationMethod,
        TensorsData,
        load_tensors_data,
        save_tensors_data,
    )

    cache = STORE / ("ranges-hybrid-first.json" if first_only else "ranges-hybrid.json")
    if cache.exists():
        return cache
    minmax = load_tensors_data(ranges_path()).data
    percentile = load_tensors_data(percentile_ranges_path()).data
    def decoder(name):
        if first_only:
            return block_of(name) not in ("conv_in", "stage1") and name != "input"
        return block_of(name) in DECODER and not name.startswith("/pool") and name != "input"

    merged = {name: (percentile[name] if decoder(name) and name in percentile
                     else minmax[name]) for name in minmax}
    merged = {k: (v.range_value if hasattr(v, "range_value") else v) for k, v in merged.items()}
    save_tensors_data(TensorsData(CalibrationMethod.MinMax, merged), cache)
    return cache


def variant_path(name: str) -> Path:
    """``all``, ``onlyBLOCK`` (that block alone quantized), ``keepK`` (the K most sensitive
    blocks in float), ``keep-A+B`` (those blocks in float); an ``s8-`` prefix: int8
    activations; a ``p-`` prefix: percentile ranges (:func:`percentile_ranges_path`); ``h-``:
    MinMax ranges in the encoder, percentile ranges in the decoder (:func:`hybrid_ranges_path`);
    ``g-``: MinMax ranges only in ``conv_in`` and ``stage1``. ``cpu``: the shipped CPU file
    (``g-all``'s scales and zero points, written by :mod:`offcut.onnx_qdq`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_static

    if name == "cpu":  # the shipped CPU file, built by offcut.onnx_qdq from the pinned table
        return fetch.runtime_model(record().raw, ROOT / ".cache", "cpu")
    target = STORE / f"{name}.onnx"
    if target.exists():
        return target
    from onnxruntime.quantization.calibrate import CalibrationMethod

    ranges, method = ranges_path(), CalibrationMethod.MinMax
    activation = QuantType.QUInt8
    base = name
    if base.startswith("s8-"):
        activation, base = QuantType.QInt8, base[3:]
    if base.startswith("p-"):
        ranges, method, base = percentile_ranges_path(), CalibrationMethod.Percentile, base[2:]
    if base.startswith("h-"):
        ranges, base = hybrid_ranges_path(), base[2:]
    if base.startswith("g-"):
        ranges, base = hybrid_ranges_path(first_only=True), base[2:]
    nodes = [n.name for n in onnx.load(str(float32_path()), load_external_data=False).graph.node]
    exclude, only = [], None
    if base.startswith("only"):
        only = [n for n in nodes if block_of(n) == base[4:]]
    elif base.startswith("keep-"):
        kept = set(base[5:].split("+"))
        exclude = [n for n in nodes if block_of(n) in kept]
    elif base.startswith("keep"):
        kept = set(sensitive_order()[:int(base[4:])])
        exclude = [n for n in nodes if block_of(n) in kept]
    elif base != "all":
        raise SystemExit(f"unknown variant {name!r}")
    quantize_static(str(float32_path()), str(target), None, nodes_to_quantize=only,
                    nodes_to_exclude=exclude, per_channel=True, weight_type=QuantType.QInt8,
                    activation_type=activation, calibrate_method=method,
                    calibration_cache_path=str(ranges))
    return target


def kept_blocks(name: str) -> str:
    base = name.removeprefix("s8-").removeprefix("p-").removeprefix("h-").removeprefix("g-")
    if base.startswith("keep-"):
        return ",".join(base[5:].split("+"))
    if base.startswith("keep") and (STORE / "sensitivity.json").exists():
        return ",".join(sensitive_order()[:int(base[4:])]) or "-"
    if base.startswith("only"):
        return f"all but {base[4:]}"
    return "-" if base == "all" else ""


# --- sensitivity --------------------------------------------------------------------------

def outputs_of(path: Path, photos: list[Path]) -> list[np.ndarray]:
    rec = record()
    sess = session(path)
    outs = [np.asarray(sess.run([sess.get_outputs()[rec.output_index].name],
                                {rec.input_name: feed(p, rec)})[0], np.float32)
            for p in photos]
    del sess
    return outs


def sensitivity() -> dict:
    """``{block: mean |output - float32 output|}`` with that block alone quantized."""
    cache = STORE / "sensitivity.json"
    result = json.loads(cache.read_text()) if cache.exists() else {}
    photos = dev_images()[3::26][:8]
    reference = None
    for block in BLOCKS:
        if block in result:
            continue
        if reference is None:
            reference = outputs_of(float32_path(), photos)
        start = time.perf_counter()
        outs = outputs_of(variant_path(f"only{block}"), photos)
        result[block] = float(np.mean([np.abs(a - b).mean() for a, b in zip(outs, reference,
                                                                         strict=True)]))
        cache.write_text(json.dumps(result, indent=1))
        print(f"  only {block}: {result[block]:.5f} ({time.perf_counter() - start:.0f} s)",
              flush=True)
    return result


def sensitive_order() -> list[str]:
    result = json.loads((STORE / "sensitivity.json").read_text())
    return sorted(result, key=result.get, reverse=True)


# --- speed --------------------------------------------------------------------------------

def speed(names: list[str], rounds: int, wasm_threads: int) -> dict:
    """Native and WASM run-time ratios against the served file, sessions interleaved."""
    rec = record()
    photo = dev_images()[3]
    x = feed(photo, rec)
    inp = STORE / "input.bin"
    x.tofile(inp)
    runner = STORE / "wasm_runner.mjs"
    runner.write_text(WASM_JS)
    paths = {"served": served_path(), **{n: variant_path(n) for n in names}}
    native = {n: [] for n in paths}
    wasm = {n: [] for n in paths}
    for r in range(rounds):
        for name, path in paths.items():
            sess = session(path)
            sess.run(None, {rec.input_name: x})
            t0 = time.perf_counter()
            sess.run(None, {rec.input_name: x})
            native[name].append(time.perf_counter() - t0)
            del sess
            out = subprocess.run(["node", str(runner), str(ORT_DIST), str(inp), str(rec.size),
                                  str(wasm_threads), str(path), "2"], capture_output=True,
                                 text=True, check=True).stdout
            wasm[name].append(json.loads(out.strip().splitlines()[-1])["times"])
            print(f"  round {r + 1} {name}: native {native[name][-1]:.2f} s, wasm "
                  f"{wasm[name][-1]}", flush=True)
    result = {}
    for name in paths:
        w = np.median([t[-1] for t in wasm[name]])
        w0 = np.median([t[-1] for t in wasm["served"]])
        n = np.median(native[name])
        n0 = np.median(native["served"])
        result[name] = {"native_s": float(n), "native_ratio": float(n / n0),
                        "wasm_s": float(w), "wasm_ratio": float(w / w0),
                        "wasm_first_ratio": float(np.median([t[0] for t in wasm[name]])
                                                  / np.median([t[0] for t in wasm["served"]])),
                        "mb": path.stat().st_size / 1e6 if (path := paths[name]) else 0}
    cache = STORE / "speed.json"
    old = json.loads(cache.read_text()) if cache.exists() else {}
    old.update({k: v for k, v in result.items() if k != "served"})
    cache.write_text(json.dumps(old, indent=1))
    return result


def check(name: str) -> None:
    """Largest and mean difference between the WASM and the native output of a variant (and
    of the served file) on one photo."""
    rec = record()
    x = feed(dev_images()[3], rec)
    inp = STORE / "input.bin"
    x.tofile(inp)
    runner = STORE / "wasm_runner.mjs"
    runner.write_text(WASM_JS)
    for label, path in (("served", served_path()), (name, variant_path(name))):
        out = STORE / "wasm-out.bin"
        subprocess.run(["node", str(runner), str(ORT_DIST), str(inp), str(rec.size), "1",
                        str(path), "1", str(out)], capture_output=True, check=True)
        wasm = np.fromfile(out, np.float32)
        sess = session(path)
        native = np.asarray(sess.run(None, {rec.input_name: x})[rec.output_index]).ravel()
        del sess
        diff = np.abs(wasm - native)
        print(f"{label}: |wasm - native| max {diff.max():.4f}, mean {diff.mean():.2e}, "
              f"pixels off by > 0.1: {(diff > 0.1).sum()}")


# --- quality ------------------------------------------------------------------------------

def scores(name: str, data: Path, every: int) -> list[dict]:
    """Per-photo ``{finish: {metric: value}}`` for a variant (``served``: the served file, its
    scores from quantized_quality.py's cache when there)."""
    rec = record()
    images = sorted((data / "images").glob("*"))[::every]
    store = STORE / "scores" / name / data.name
    store.mkdir(parents=True, exist_ok=True)
    rows, sess = [], None
    start = time.perf_counter()
    for count, image in enumerate(images, 1):
        cached = store / f"{image.stem}.json"
        if not cached.exists() and name == "served":
            old = SERVED_SCORES / data.name / f"{image.stem}.json"
            if old.exists():
                row = json.loads(old.read_text())
                cached.write_text(json.dumps({f: row[f"int8/{f}"] for f in FINISHES}))
        if cached.exists():
            rows.append(json.loads(cached.read_text()))
            continue
        if sess is None:
            sess = session(served_path() if name == "served" else variant_path(name))
        rgb = mattes.load_rgb(image)
        gt, soft = mattes.load_gt(data, image.stem)
        out = sess.run(None, {rec.input_name: prepare(rgb, rec)[:1]})[rec.output_index]
        out = np.asarray(out, np.float32).reshape(rec.size, rec.size)
        row = {}
        for finish in FINISHES:
            got = {}
            mattes.add_scores(got, mattes.VARIANTS[finish][0](out, rec, rgb, None), gt, soft)
            row[finish] = {k: v[0] for k, v in got.items()}
        cached.write_text(json.dumps(row))
        rows.append(row)
        if count % 10 == 0:
            print(f"  {name} {data.name}: {count}/{len(images)}, "
                  f"{(time.perf_counter() - start) / count:.1f} s/photo", flush=True)
    return rows


def scored(name: str, data: Path, every: int) -> bool:
    """Whether every photo of the subset has cached scores for the variant."""
    images = sorted((data / "images").glob("*"))[::every]
    return all((STORE / "scores" / name / data.name / f"{i.stem}.json").exists()
               for i in images)


def deltas(name: str, every: int, soft_every: int = 1) -> dict:
    """Variant minus served (only where the variant's scores are all cached): dev IoU/BF per
    finish, soft SAD in % per finish."""
    out = {}
    for data, step in ((SHARED / "dev", every), (SHARED / "soft", soft_every)):
        if not scored(name, data, step):
            continue
        ours, base = scores(name, data, step), scores("served", data, step)
        if data.name == "dev":
            for finish in FINISHES:
                for key in ("iou", "bf"):
                    a = np.mean([r[finish][key] for r in ours])
                    b = np.mean([r[finish][key] for r in base])
                    out[f"{key}_{finish}"] = float(a - b)
            out["dev_n"] = len(ours)
        else:
            for finish in FINISHES:
                a = np.mean([r[finish]["sad"] for r in ours])
                b = np.mean([r[finish]["sad"] for r in base])
                out[f"sad_{finish}_pct"] = float(100 * (a / b - 1))
            out["soft_n"] = len(ours)
    return out


def table(every: int) -> None:
    speeds = json.loads((STORE / "speed.json").read_text()) if (STORE / "speed.json").exists() \
        else {}
    names = sorted({p.name for p in (STORE / "scores").glob("*")} - {"served"} | set(speeds))
    print("\n| variant | kept float | MB | WASM ratio | native ratio | dIoU plain | dBF plain "
          "| dIoU refined | dBF refined | dev n | SAD plain % | SAD refined % |")
    print("|---" * 12 + "|")
    for name in names:
        # p-, h- and g- variants have the graph of the plain one (only their ranges differ).
        plain = name.removeprefix("p-").removeprefix("h-").removeprefix("g-")
        s = speeds.get(name) or speeds.get(plain, {})
        d = deltas(name, every) if (STORE / "scores" / name).is_dir() else {}

        def f(key, fmt, d=d):
            return format(d[key], fmt) if key in d else ""

        print(f"| {name} | {kept_blocks(name)} | {s.get('mb', 0):.1f} | "
              f"{s.get('wasm_ratio', float('nan')):.2f} | {s.get('native_ratio', float('nan')):.2f}"
              f" | {f('iou_plain', '+.4f')} | {f('bf_plain', '+.4f')} | {f('iou_refined', '+.4f')}"
              f" | {f('bf_refined', '+.4f')} | {d.get('dev_n', '')} | {f('sad_plain_pct', '+.1f')}"
              f" | {f('sad_refined_pct', '+.1f')} |")


def export_table(name: str) -> None:
    """Write a variant's activation scales and zero points as offcut.onnx_qdq's table
    (``models/ranges/isnet-medium.json``: how the shipped one was made from ``g-all``).
    onnxruntime names a graph output's quantized input ``NAME_QuantizeLinear_Input``."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(variant_path(name))).graph
    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    table = {node.input[0].removesuffix("_QuantizeLinear_Input"):
             [float(values[node.input[1]]), int(values[node.input[2]])]
             for node in graph.node if node.op_type == "QuantizeLinear"}
    target = ROOT / "models" / "ranges" / "isnet-medium.json"
    doc = json.loads(target.read_text()) if target.exists() else {"about": ""}
    doc["activations"] = {k: table[k] for k in sorted(table)}
    target.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(table)} tensors -> {target.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("build", "speed", "quality", "table", "check",
                                         "export"))
    parser.add_argument("--variants", default="all")
    parser.add_argument("--every", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--wasm-threads", type=int, default=1)
    parser.add_argument("--data", type=Path, action="append")
    args = parser.parse_args(argv)
    names = [v for v in args.variants.split(",") if v]
    if args.step == "build":
        float32_path()
        ranges_path()
        for block, value in sorted(sensitivity().items(), key=lambda kv: -kv[1]):
            print(f"| {block} | {value:.5f} |")
    elif args.step == "speed":
        for name, row in speed(names, args.rounds, args.wasm_threads).items():
            print(f"{name}: {json.dumps(row)}")
    elif args.step == "quality":
        for name in names:
            for data in args.data or [SHARED / "dev"]:
                scores(name, data, args.every if data.name == "dev" else 1)
            print(name, json.dumps(deltas(name, args.every)))
    elif args.step == "check":
        for name in names:
            check(name)
    elif args.step == "export":
        export_table(names[0])
    else:
        table(args.every)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
