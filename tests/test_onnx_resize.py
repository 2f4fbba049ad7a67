"""Running a model at another input size by editing its protobuf (offcut.onnx_resize)."""

import struct

import numpy as np
import onnxruntime
import pytest

from offcut import fetch
from offcut.onnx_resize import _encode, _fields, resize_input
from support import CACHE


def tiny_model(side: int) -> bytes:
    """A graph whose output is its input resized to a traced constant size (side/2) and back
    up to the input's own size: the shape of IS-Net's traced resizes, in miniature."""
    from onnx import TensorProto, checker, helper

    # Raw little-endian int64, as torch's exporter writes constants.
    half = helper.make_node("Constant", [], ["half"], value=helper.make_tensor(
        "half", TensorProto.INT64, [2], struct.pack("<2q", side // 2, side // 2), raw=True))
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "two"], ["nc"]),
        half,
        helper.make_node("Concat", ["nc", "half"], ["small_size"], axis=0),
        helper.make_node("Resize", ["x", "", "", "small_size"], ["small"], mode="linear"),
        helper.make_node("Resize", ["small", "", "", "shape"], ["y"], mode="linear"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, side, side])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, side, side])],
        initializer=[helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
                     helper.make_tensor("two", TensorProto.INT64, [1], [2])],
        value_info=[helper.make_tensor_value_info("small", TensorProto.FLOAT,
                                                  [1, 1, side // 2, side // 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    checker.check_model(model)
    return model.SerializeToString()


def run(model: bytes, x: np.ndarray) -> np.ndarray:
    session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_protobuf_round_trip_is_byte_exact():
    model = tiny_model(64)
    assert _encode(_fields(model)) == model


def test_same_size_returns_the_same_bytes():
    model = tiny_model(64)
    assert resize_input(model, 64, 64) is model


def test_resized_model_takes_the_new_size_and_scales_the_traced_constant():
    x = np.random.default_rng(0).random((1, 1, 48, 48), dtype=np.float32)
    with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument):
        run(tiny_model(64), x)
    resized = resize_input(tiny_model(64), 48, 64)
    # Exactly what a model exported at 48 computes: the traced size became 24.
    np.testing.assert_array_equal(run(resized, x), run(tiny_model(48), x))
    assert struct.pack("<2q", 24, 24) in resized


def test_a_graph_without_traced_sizes_is_refused():
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "plain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 8, 8])])
    model = helper.make_model(graph).SerializeToString()
    with pytest.raises(ValueError, match="traced resize sizes"):
        resize_input(model, 16, 8)


def test_runtime_model_is_the_served_file(records):
    record = records["isnet-medium"].raw
    path = fetch.runtime_model(record, CACHE)  # the CLI's: the page's WASM file
    assert fetch.sha256_file(path) == record["served"]["cpu"]["sha256"]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[2:] == [record["input"]["size"]] * 2
