"""Model records, the fetched files, and the patch applied for WebGPU."""

import hashlib
import json

import numpy as np
import onnxruntime
import pytest

from offcut import fetch
from offcut.decode import decode
from offcut.onnx_resize import resize_input
from offcut.prepare import prepare
from support import CACHE, ROOT, jpeg_bytes

RECORDS = sorted((ROOT / "models").glob("*.json"))


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_record_has_everything_the_pipeline_and_build_need(path):
    record = json.loads(path.read_text())
    assert record["id"] == path.stem
    for key in ("label", "title", "licence", "licence_note", "file", "sha256", "bytes", "source"):
        assert record[key], key
    assert record["input"]["size"] > 0 and len(record["input"]["mean"]) == 3
    assert record["source"]["registry"] in ("pypi", "npm")
    assert len(record["sha256"]) == 64


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_patched_model_gives_bit_identical_outputs(path, records):
    """The browser's copy has MaxPool ceil_mode switched off (WebGPU lacks it); that must not
    change a single output value at the model's input size."""
    raw = json.loads(path.read_text())
    source = fetch.model_file(raw, CACHE).read_bytes()
    assert hashlib.sha256(source).hexdigest() == raw["sha256"]
    inp = raw["input"]
    # The source at the record's input size, before the pooling patch.
    original = resize_input(source, inp["size"], inp.get("exported_size", inp["size"]))
    patched = fetch.served_model(source, raw, quantize=False)
    assert patched != original and len(patched) == len(original)
    record = records[raw["id"]]
    rng = np.random.default_rng(3)
    model_input = prepare(decode(jpeg_bytes(rng.integers(0, 256, (97, 131, 3), np.uint8))).rgb,
                          record)
    outputs = [
        onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"]).run(
            None, {record.input_name: model_input[:1]})[record.output_index]
        for model in (original, patched)
    ]
    np.testing.assert_array_equal(outputs[0], outputs[1])


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.stem)
def test_served_file_is_pinned_at_each_step(path, tmp_path):
    """With int8 weights, the patched float16 file and the int8 one each have a pin; WebGPU's
    file (runtime_model 'gpu') is the last step's, byte for byte what the build serves. A CPU
    form has its own pin, and is the file the CLI runs."""
    raw = json.loads(path.read_text())
    served = raw["served"]
    source = fetch.model_file(raw, CACHE).read_bytes()
    patched = fetch.served_model(source, raw, quantize=False)
    final = fetch.runtime_model(raw, CACHE, "gpu").read_bytes()
    assert hashlib.sha256(final).hexdigest() == served["sha256"]
    cpu = fetch.runtime_model(raw, CACHE, "cpu")
    assert fetch.sha256_file(cpu) == (served["cpu"]["sha256"] if "cpu" in served
                                      else served["sha256"])
    if served.get("weights"):
        assert served["weights"] == "int8-per-channel"
        assert hashlib.sha256(patched).hexdigest() == served["patched_sha256"]
        assert len(final) == served["bytes"] < len(patched) / 1.9
    else:
        assert "patched_sha256" not in served and final == patched
    # A bad pin on the int8 step is refused even though the patch itself checks out.
    if served.get("weights"):
        wrong = {**raw, "served": {**served, "sha256": "0" * 64}}
        with pytest.raises(fetch.FetchError, match="int8 model"):
            fetch.served_model(source, wrong)
    if "cpu" in served:
        wrong = {**raw, "served": {**served, "cpu": {**served["cpu"], "sha256": "0" * 64}}}
        with pytest.raises(fetch.FetchError, match="CPU model"):
            fetch.cpu_model(source, wrong)


def test_tampered_bytes_are_refused():
    with pytest.raises(fetch.FetchError, match="does not match"):
        fetch.check_sha256(b"tampered", "0" * 64, "model x", "test")


def test_patch_refuses_an_unexpected_result():
    record = {"id": "x", "served": {"patch": "pooling-floor-mode", "sha256": "0" * 64}}
    with pytest.raises(fetch.FetchError):
        fetch.served_model(b"\n\tceil_mode\x18\x01", record)
