"""Int8 weights per output channel (offcut.onnx_quantize) and the served int8 IS-Net."""

import hashlib
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from offcut import fetch
from offcut.onnx_quantize import LEVELS, conv_weights, quantize_channels, quantize_weights
from support import CACHE, ROOT, astronaut_outputs

#: The issue's budget for the served file.
MAX_BYTES = 46_000_000


def conv_model(weight: np.ndarray, opset: int = 15) -> bytes:
    """float32 in, a float16 Conv (weight ``weight``, a bias) and ReLU, float32 out: IS-Net's
    layer in miniature, with its Cast at each end."""
    out = weight.shape[0]
    nodes = [
        helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16),
        helper.make_node("Conv", ["x16", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Cast", ["r"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes, "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, weight.shape[1], 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out, 8, 8])],
        initializer=[numpy_helper.from_array(weight.astype(np.float16), "w"),
                     numpy_helper.from_array(np.linspace(-1, 1, out).astype(np.float16), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model.SerializeToString()


def run(model: bytes, x: np.ndarray, **options) -> np.ndarray:
    session_options = ort.SessionOptions()
    for key, value in options.items():
        setattr(session_options, key, value)
    session = ort.InferenceSession(model, session_options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def stored(model: bytes, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The int8 steps and the float32 scale per channel the quantized ``model`` stores."""
    tensors = {t.name: numpy_helper.to_array(t)
               for t in onnx.load_from_string(model).graph.initializer}
    return tensors[f"{name}.int8"], tensors[f"{name}.scale"].reshape(-1)


def test_every_weight_is_within_half_a_step_and_none_is_clipped():
    rng = np.random.default_rng(1)
    weight = rng.normal(0, 0.05, (6, 4, 3, 3)).astype(np.float16)
    weight[1] = 0  # an all-zero channel
    weight[2, 0, 0, 0] = -1.0  # the channel's largest weight is negative
    weight[3] *= 1e-3  # a channel of tiny weights keeps its own fine steps
    q, scale = quantize_channels(weight)
    assert q.dtype == np.int8 and q.shape == weight.shape
    assert scale.dtype == np.float32 and scale.shape == (6,)
    error = np.abs(q.astype(np.float64) * scale[:, None, None, None] - weight)
    assert (error.reshape(6, -1).max(axis=1) <= scale / 2).all()
    assert np.abs(q).max() <= LEVELS and (q != -128).all()
    # The largest weight of each non-zero channel takes (nearly) all 127 steps.
    assert (np.abs(q).reshape(6, -1).max(axis=1)[[0, 2, 3, 4, 5]] == LEVELS).all()
    assert q[2, 0, 0, 0] == -LEVELS
    assert (q[1] == 0).all() and scale[1] == 1
    assert scale[3] < scale[0] / 100


def test_the_scale_is_rounded_up_so_that_the_largest_weight_is_not_clipped():
    # 1/127 and 3/127 are not float32 numbers; rounded to nearest, one of them rounds down,
    # and its largest weight would then need more than 127 steps.
    weight = np.array([1.0, 3.0, 5.0, 7.0]).reshape(4, 1, 1, 1)
    q, scale = quantize_channels(weight)
    assert (scale.astype(np.float64) >= weight.reshape(-1) / LEVELS).all()
    assert (q.reshape(-1) == LEVELS).all()


@pytest.mark.parametrize("form", ["fold", "dequantize"])
def test_a_quantized_conv_computes_with_the_dequantized_weights(form):
    rng = np.random.default_rng(2)
    weight = rng.normal(0, 0.2, (5, 3, 3, 3)).astype(np.float16)
    source = conv_model(weight)
    quantized = quantize_weights(source, form)
    assert conv_weights(quantized) == {}  # no float16 Conv weight left
    q, scale = stored(quantized, "w")
    # The float16 graph with the weights int8 * scale stand for: what the int8 one computes.
    rounded = (q.astype(np.float32) * scale[:, None, None, None]).astype(np.float16)
    reference = conv_model(rounded)
    x = rng.normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    got, expected = run(quantized, x), run(reference, x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3)
    # ... and it is close to the float16 original too.
    assert np.abs(got - run(source, x)).max() < 0.05
    ops = [n.op_type for n in onnx.load_from_string(quantized).graph.node]
    expected_ops = {"fold": ["Cast", "Mul", "Cast"], "dequantize": ["DequantizeLinear", "Cast"]}
    assert ops[:-4] == expected_ops[form]


def test_the_folded_form_leaves_no_dequantizing_node_to_run(tmp_path):
    """onnxruntime folds Cast and Mul on constants into the weights while it creates the
    session (the convolutions then get constant weights, as from the float16 file); it
    keeps DequantizeLinear, which would run on every call."""
    weight = np.random.default_rng(3).normal(0, 0.2, (4, 2, 3, 3)).astype(np.float16)
    left = {}
    for form in ("fold", "dequantize"):
        path = tmp_path / f"{form}.onnx"
        run(quantize_weights(conv_model(weight), form), np.ones((1, 2, 8, 8), np.float32),
            optimized_model_filepath=str(path),
            graph_optimization_level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
        graph = onnx.load(path).graph
        left[form] = {n.op_type for n in graph.node} & {"Mul", "DequantizeLinear"}
        int8 = [t.name for t in graph.initializer if t.data_type == TensorProto.INT8]
        assert bool(int8) == (form == "dequantize")
    assert left == {"fold": set(), "dequantize": {"DequantizeLinear"}}


def test_weights_below_the_threshold_stay_float16():
    weight = np.random.default_rng(4).normal(0, 0.2, (4, 2, 3, 3)).astype(np.float16)
    model = conv_model(weight)
    assert conv_weights(quantize_weights(model, keep_below=weight.size)) == {}
    with pytest.raises(ValueError, match="no float16 Conv"):
        quantize_weights(model, keep_below=weight.size + 1)  # nothing left to quantize


def test_an_old_opset_or_a_graph_without_float16_convs_is_refused():
    weight = np.ones((2, 2, 3, 3), np.float16)
    with pytest.raises(ValueError, match="opset"):
        quantize_weights(conv_model(weight, opset=11))
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    with pytest.raises(ValueError, match="no float16 Conv"):
        quantize_weights(model.SerializeToString())
    with pytest.raises(ValueError, match="form"):
        quantize_weights(conv_model(weight), "int4")


@pytest.fixture(scope="module")
def isnet():
    """(record, float16 served bytes, int8 served bytes as fetch builds them)."""
    raw = json.loads((ROOT / "models" / "isnet-medium.json").read_text())
    source = fetch.model_file(raw, CACHE).read_bytes()
    return raw, fetch.served_model(source, raw, quantize=False), fetch.served_model(source, raw)


def test_the_served_int8_file_is_reproducible_pinned_and_small(isnet):
    raw, float16, int8 = isnet
    again = quantize_weights(float16, keep_below=raw["served"]["float16_below"])
    assert again == int8  # built twice, byte for byte (served_model also checked the pin)
    assert hashlib.sha256(again).hexdigest() == raw["served"]["sha256"]
    assert len(int8) == raw["served"]["bytes"] <= MAX_BYTES
    assert len(int8) < len(float16) * 0.53


def test_every_served_weight_is_within_half_a_step_of_the_float16_one(isnet):
    raw, float16, int8 = isnet
    weights = conv_weights(float16)
    assert len(weights) == 119
    small = {k: v for k, v in weights.items() if v.size < raw["served"]["float16_below"]}
    # The small layers stay float16, untouched; they are under 4% of the weights.
    kept = conv_weights(int8)
    assert kept.keys() == small.keys() and 0 < len(small) < 119
    assert all(np.array_equal(kept[k], v) for k, v in small.items())
    assert sum(v.size for v in small.values()) < 0.04 * sum(v.size for v in weights.values())
    for name, weight in weights.items():
        if name in small:
            continue
        q, scale = stored(int8, name)
        error = np.abs(q.astype(np.float64) * scale[:, None, None, None] - weight)
        assert (error.reshape(len(scale), -1).max(axis=1) <= scale / 2).all(), name


def test_the_int8_model_gives_the_float16_models_mask(isnet, records):
    _, float16, int8 = isnet
    outputs = astronaut_outputs([float16, int8], records["isnet-medium"])
    diff = np.abs(outputs[1] - outputs[0])
    # Measured on this photo: max 0.022, mean 1.3e-4, 32 of 1M pixels on the other side of
    # 0.5 (with every weight int8: 0.029, 3.3e-4 and 58).
    assert diff.max() < 0.05 and diff.mean() < 5e-4
    masks = [output > 0.5 for output in outputs]
    assert (masks[0] != masks[1]).mean() < 1e-4
    assert 0.3 < masks[0].mean() < 0.7  # a real subject, not an empty or full mask
