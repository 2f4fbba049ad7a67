"""Static QDQ int8 models for CPUs (offcut.onnx_qdq) and IS-Net's CPU file."""

import collections
import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from offcut import fetch, onnx_qdq
from offcut.onnx_qdq import quantize_static
from support import CACHE, ROOT, astronaut_outputs

SIDE = 16


def small_net(dtype: int) -> onnx.ModelProto:
    """IS-Net's parts in miniature: Conv+ReLU, MaxPool, a Resize whose size is read from
    another tensor's shape, Concat, a residual Add that is also an output, Sigmoid.
    ``dtype`` FLOAT16: as the float16 file (casts at the ends and around the Resize);
    FLOAT: the float32 reference."""
    rng = np.random.default_rng(7)
    half = dtype == TensorProto.FLOAT16
    np_type = np.float16 if half else np.float32

    def weight(name, out, inp):
        return [numpy_helper.from_array(rng.normal(0, 0.4, (out, inp, 3, 3)).astype(np_type),
                                        f"{name}.w"),
                numpy_helper.from_array(rng.normal(0, 0.1, out).astype(np_type), f"{name}.b")]

    def const(name, values):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(
            np.array(values, np.int64), name))

    initializers = weight("c1", 4, 3) + weight("c2", 4, 4) + weight("c3", 4, 8) \
        + weight("c4", 1, 4)
    nodes = [helper.make_node("Cast", ["x"], ["x16"], to=dtype)] if half else []
    x = "x16" if half else "x"
    nodes += [
        helper.make_node("Conv", [x, "c1.w", "c1.b"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2.w", "c2.b"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Shape", ["r1"], ["s"]),
        const("start", [2]), const("end", [4]), const("axes", [0]), const("lead", [1, 4]),
        helper.make_node("Slice", ["s", "start", "end", "axes"], ["hw"]),
        helper.make_node("Concat", ["lead", "hw"], ["sizes"], axis=0),
    ]
    if half:
        nodes += [helper.make_node("Cast", ["r2"], ["r2f"], to=TensorProto.FLOAT),
                  helper.make_node("Resize", ["r2f", "", "", "sizes"], ["upf"], mode="linear"),
                  helper.make_node("Cast", ["upf"], ["up"], to=dtype)]
    else:
        nodes.append(helper.make_node("Resize", ["r2", "", "", "sizes"], ["up"], mode="linear"))
    nodes += [
        helper.make_node("Concat", ["up", "r1"], ["cat"], axis=1),
        helper.make_node("Conv", ["cat", "c3.w", "c3.b"], ["c3"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c3"], ["r3"]),
        helper.make_node("Add", ["r3", "r1"], ["res"]),
        helper.make_node("Conv", ["res", "c4.w", "c4.b"], ["c4"], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["c4"], ["sig"]),
    ]
    if half:
        nodes += [helper.make_node("Cast", ["sig"], ["mask"], to=TensorProto.FLOAT),
                  helper.make_node("Cast", ["res"], ["side"], to=TensorProto.FLOAT)]
    else:
        nodes += [helper.make_node("Identity", ["sig"], ["mask"]),
                  helper.make_node("Identity", ["res"], ["side"])]
    graph = helper.make_graph(
        nodes, "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("mask", TensorProto.FLOAT, [1, 1, SIDE, SIDE]),
         helper.make_tensor_value_info("side", TensorProto.FLOAT, [1, 4, SIDE, SIDE])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    return onnx.shape_inference.infer_shapes(model)  # the recorded shapes Shape reads


def run(model: bytes, x: np.ndarray, outputs=None) -> list[np.ndarray]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(outputs, {"x": x})


def photo_like(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = rng.random((1, 3, SIDE // 4, SIDE // 4)).repeat(4, axis=2).repeat(4, axis=3)
    return (smooth - 0.5).astype(np.float32)


def calibrated_table() -> dict[str, tuple[float, int]]:
    """Scale and zero point of each quantized tensor, from its range on a few inputs (as the
    real table is made), under the names the QDQ graph gives them."""
    reference = small_net(TensorProto.FLOAT)
    names = ["x", "r1", "p1", "r2", "up", "cat", "r3", "res", "c4", "sig"]
    for name in names:
        reference.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    low = dict.fromkeys(names, 0.0)
    high = dict.fromkeys(names, 0.0)
    for seed in range(4):
        for name, value in zip(names, run(reference.SerializeToString(), photo_like(seed), names),
                               strict=True):
            low[name], high[name] = min(low[name], value.min()), max(high[name], value.max())
    table = {}
    for name in names:
        scale = (high[name] - low[name]) / 255
        table[name] = (float(scale), int(round(-low[name] / scale)))
    table["mask"] = table.pop("sig")  # the Sigmoid writes the graph output
    table["upf"] = table.pop("up")  # the Resize's own output (its casts go)
    return table


@pytest.fixture(scope="module")
def quantized() -> bytes:
    return quantize_static(small_net(TensorProto.FLOAT16).SerializeToString(), calibrated_table())


def test_every_convolution_reads_and_writes_quantized_tensors(quantized):
    graph = onnx.load_from_string(quantized).graph
    onnx.checker.check_model(onnx.load_from_string(quantized), full_check=True)
    ops = collections.Counter(n.op_type for n in graph.node)
    # No casts, no ReLUs (the Q after a convolution clips at its zero point 0), no shape
    # arithmetic (the Resize's size is a constant), Add as Sum (see the module).
    assert not {"Cast", "Relu", "Shape", "Slice", "Constant", "Add"} & set(ops)
    assert ops["QuantizeLinear"] == 10 and ops["Sum"] == 1 and ops["Identity"] == 1
    producer = {o: n for n in graph.node for o in n.output}
    for node in graph.node:
        if node.op_type in ("Conv", "Concat", "MaxPool", "Resize", "Sum", "Sigmoid"):
            data = node.input[:3] if node.op_type == "Conv" else node.input[:1]
            assert all(producer[i].op_type == "DequantizeLinear" for i in data), node.name
            (consumer,) = [n for n in graph.node if node.output[0] in n.input]
            assert consumer.op_type == "QuantizeLinear", node.name
    types = {t.name: t.data_type for t in graph.initializer}
    assert sum(1 for t in types.values() if t == TensorProto.INT8) == 8  # 4 weights + 4 zeros
    assert not [t for t in types.values() if t == TensorProto.FLOAT16]


def test_the_quantized_model_computes_what_the_float_one_does(quantized):
    reference = small_net(TensorProto.FLOAT).SerializeToString()
    for seed in (11, 12):
        x = photo_like(seed)
        want, got = run(reference, x), run(quantized, x)
        for name, a, b in zip(("mask", "side"), want, got, strict=True):
            spread = a.max() - a.min()
            assert a.shape == b.shape and np.abs(a - b).mean() < 0.02 * spread, name
        # Measured: means 0.3-0.8% of the spread, the mask's worst pixel 0.08 and 0.10 off
        # (eight-bit steps through four layers of random weights); a wrong scale, zero point
        # or wire is off by far more.
        assert np.abs(want[0] - got[0]).max() < 0.15


def test_the_build_is_deterministic_and_checks_its_table():
    data = small_net(TensorProto.FLOAT16).SerializeToString()
    table = calibrated_table()
    assert quantize_static(data, table) == quantize_static(data, dict(reversed(table.items())))
    with pytest.raises(ValueError, match="missing"):
        quantize_static(data, {k: v for k, v in table.items() if k != "cat"})
    with pytest.raises(ValueError, match="unused"):
        quantize_static(data, {**table, "nowhere": (0.1, 0)})
    with pytest.raises(ValueError, match="zero point 0"):
        quantize_static(data, {**table, "r1": (table["r1"][0], 3)})


def test_a_big_sum_runs_in_strips_with_the_same_result(monkeypatch):
    data = small_net(TensorProto.FLOAT16).SerializeToString()
    table = calibrated_table()
    whole = quantize_static(data, table)
    monkeypatch.setattr(onnx_qdq, "SUM_STRIP_VALUES", 300)  # the residual sum has 1024
    strips = quantize_static(data, table)
    graph = onnx.load_from_string(strips).graph
    ops = collections.Counter(n.op_type for n in graph.node)
    assert ops["Sum"] == 4 and ops["Slice"] == 8 and ops["Concat"] == 2  # and the model's own
    order = [n.op_type for n in graph.node]
    first = order.index("Slice")  # strip by strip: each strip's nodes together
    assert order[first:first + 12] == ["Slice", "DequantizeLinear"] * 2 \
        + ["Sum", "QuantizeLinear"] + ["Slice", "DequantizeLinear"] * 2 \
        + ["Sum", "QuantizeLinear"]
    for seed in (21, 22):
        x = photo_like(seed)
        for a, b in zip(run(whole, x), run(strips, x), strict=True):
            np.testing.assert_array_equal(a, b)


# --- IS-Net's CPU file -------------------------------------------------------------------

@pytest.fixture(scope="module")
def isnet_files():
    """(record, the WebGPU file, the CPU file), as the build makes them."""
    raw = json.loads((ROOT / "models" / "isnet-medium.json").read_text())
    return (raw, fetch.runtime_model(raw, CACHE, "gpu").read_bytes(),
            fetch.runtime_model(raw, CACHE, "cpu").read_bytes())


def test_the_cpu_file_is_pinned_reproducible_and_small(isnet_files):
    raw, gpu, cpu = isnet_files
    source = fetch.model_file(raw, CACHE).read_bytes()
    assert fetch.cpu_model(source, raw) == cpu  # built again, byte for byte
    assert hashlib.sha256(cpu).hexdigest() == raw["served"]["cpu"]["sha256"]
    assert len(cpu) == raw["served"]["cpu"]["bytes"] <= 46_000_000
    ops = collections.Counter(n.op_type for n in onnx.load_from_string(cpu).graph.node)
    assert ops["Conv"] == 119 and ops["Relu"] == 0 and ops["Add"] == 0
    # 259 activations, and the five big residual sums in 24 strips (each strip's own Q).
    assert ops["QuantizeLinear"] == 259 - 5 + 24 and ops["Sum"] == 11 - 5 + 24


def test_the_cpu_file_gives_the_webgpu_files_mask(isnet_files, records):
    _, gpu, cpu = isnet_files
    outputs = astronaut_outputs([gpu, cpu], records["isnet-medium"])
    diff = np.abs(outputs[1] - outputs[0])
    masks = [output > 0.5 for output in outputs]
    # Measured on this photo: max 0.18, mean 1.5e-3, 0.055% of the pixels on the other side
    # of 0.5 (the int8-weight file against the float16 one: 0.022, 1.3e-4, 0.003%).
    assert diff.mean() < 5e-3
    assert (masks[0] != masks[1]).mean() < 5e-3
    assert 0.3 < masks[0].mean() < 0.7
