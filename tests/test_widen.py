"""tests/bench/widen.js (float16 weights widened before a WASM session; bench-only since the
app's plain WASM build runs float16 weights as fast), run with Node on real and synthetic
models and checked with the onnx package and native onnxruntime."""

import io
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from offcut import fetch
from offcut.prepare import prepare

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"

# Reads a model file, widens it, writes the result; prints "same" when the input came back.
DRIVER = """
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [source, target] = process.argv.slice(-2);
const { widenFloat16 } = await import(pathToFileURL('WIDEN').href);
const bytes = new Uint8Array(readFileSync(source));
const out = widenFloat16(bytes);
writeFileSync(target, out);
console.log(out === bytes ? 'same' : 'widened');
"""


def widen(source: Path, target: Path) -> str:
    script = DRIVER.replace("WIDEN", str(ROOT / "tests" / "bench" / "widen.js"))
    result = subprocess.run(["node", "--no-warnings", "--input-type=module", "-e", script, "--",
                             str(source), str(target)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def half_model(values: np.ndarray) -> onnx.ModelProto:
    """Output = Cast(to float)(Cast(to float16)(x) + weights): a float16 initializer, a Cast to
    float16, a float16 Add and a float output."""
    weights = numpy_helper.from_array(values.astype(np.float16), "weights")
    nodes = [
        helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16),
        helper.make_node("Add", ["x16", "weights"], ["sum16"]),
        helper.make_node("Cast", ["sum16"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes, "half", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [values.size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [values.size])], [weights],
        value_info=[helper.make_tensor_value_info("x16", TensorProto.FLOAT16, [values.size])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])


def test_every_float16_pattern_becomes_the_same_float32(tmp_path):
    patterns = np.arange(65536, dtype=np.uint16).view(np.float16)
    source = tmp_path / "half.onnx"
    onnx.save(half_model(patterns), source)
    assert widen(source, tmp_path / "wide.onnx") == "widened"
    model = onnx.load(tmp_path / "wide.onnx")
    (weights,) = model.graph.initializer
    assert weights.data_type == TensorProto.FLOAT
    got = numpy_helper.to_array(weights)
    expected = patterns.astype(np.float32)
    assert got.dtype == np.float32
    same = (got.view(np.uint32) == expected.view(np.uint32)) | (np.isnan(got) & np.isnan(expected))
    assert same.all()  # zeros of both signs, subnormals, normals, infinities and NaNs
    assert [a.i for n in model.graph.node if n.op_type == "Cast" for a in n.attribute] == [1, 1]
    assert len(model.graph.value_info) == 0
    x = np.linspace(-2, 2, patterns.size, dtype=np.float32)
    finite = np.isfinite(expected)
    y = ort.InferenceSession(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(y[finite], x[finite] + expected[finite], rtol=0, atol=1e-6)


def test_a_float32_model_comes_back_unchanged(tmp_path, records):
    path = fetch.runtime_model(records["u2netp"].raw, CACHE)
    assert widen(path, tmp_path / "out.onnx") == "same"
    assert (tmp_path / "out.onnx").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("cut", [1, 1000, 54321])
def test_a_damaged_model_comes_back_as_it_was(tmp_path, cut):
    data = half_model(np.ones(4, np.float32)).SerializeToString()
    source = tmp_path / "cut.onnx"
    source.write_bytes(data[: len(data) - cut] if cut < len(data) else data[:cut % len(data)])
    assert widen(source, tmp_path / "out.onnx") == "same"
    assert (tmp_path / "out.onnx").read_bytes() == source.read_bytes()


def test_a_model_with_a_subgraph_comes_back_as_it_was(tmp_path):
    # An If node's branches would keep their own float16: nothing is widened then.
    outer = half_model(np.ones(4, np.float32))
    branch = helper.make_graph([helper.make_node("Identity", ["x"], ["z"])], "branch", [],
                               [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])])
    condition = numpy_helper.from_array(np.array(True), "condition")
    outer.graph.initializer.append(condition)
    outer.graph.node.append(helper.make_node("If", ["condition"], ["unused"],
                                             then_branch=branch, else_branch=branch))
    source = tmp_path / "if.onnx"
    onnx.save(outer, source)
    assert widen(source, tmp_path / "out.onnx") == "same"


def test_the_float16_best_model_widens_to_the_same_cutout(tmp_path, records, photo):
    """The widening (a bench-only step now) on the float16 file that Best's int8 one is made
    from (the int8 file's Cast and Mul weights are not plain initializers)."""
    record = records["isnet-medium"]
    served = tmp_path / "float16.onnx"
    served.write_bytes(fetch.served_model(fetch.model_file(record.raw, CACHE).read_bytes(),
                                          record.raw, quantize=False))
    wide = tmp_path / "wide.onnx"
    assert widen(served, wide) == "widened"
    model = onnx.load(wide)
    original = onnx.load(served)
    assert {t.data_type for t in model.graph.initializer} == {TensorProto.FLOAT}
    assert [n.name for n in model.graph.node] == [n.name for n in original.graph.node]
    assert [n.op_type for n in model.graph.node] == [n.op_type for n in original.graph.node]
    for mine, theirs in zip(model.graph.initializer, original.graph.initializer, strict=True):
        assert mine.name == theirs.name
        np.testing.assert_array_equal(numpy_helper.to_array(mine),
                                      numpy_helper.to_array(theirs).astype(np.float32))
    image = np.asarray(Image.open(io.BytesIO(photo[1])).convert("RGB"))
    feed = prepare(image, record)[:1]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    outputs = [ort.InferenceSession(str(path), options).run(None, {"input": feed})[0]
               for path in (served, wide)]
    assert outputs[1].dtype == np.float32
    # The served graph rounds to float16 between layers on this CPU; widened, it does not.
    assert np.abs(outputs[0] - outputs[1]).max() < 2e-3
