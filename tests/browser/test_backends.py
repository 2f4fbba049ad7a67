"""The WebGPU path, on SwiftShader (``--enable-unsafe-webgpu``): too slow for the real models
(~100x WASM), so tiny models made here are injected into the page's model index. They run
through the real worker, ORT session code and Python pipeline."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from browsing import CHROMIUM_ARGS, chromium_path
from support import jpeg_bytes

SIZE = 32


def tiny_model(ceil_mode: int) -> bytes:
    """Conv -> MaxPool(2, stride 2) -> nearest Resize x2 -> Sigmoid, 32x32 in and out.

    ``ceil_mode=1`` is what onnxruntime-web 1.30's WebGPU MaxPool cannot run: the worker must
    fall back to WASM and still process the image.
    """
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(0).normal(0, 0.6, (1, 3, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["conv"], pads=[1, 1, 1, 1], kernel_shape=[3, 3],
                         dilations=[1, 1], strides=[1, 1]),
        helper.make_node("MaxPool", ["conv"], ["pool"], kernel_shape=[2, 2], strides=[2, 2],
                         ceil_mode=ceil_mode),
        helper.make_node("Resize", ["pool", "", "scales"], ["big"], mode="nearest"),
        helper.make_node("Sigmoid", ["big"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, SIZE, SIZE])],
        [numpy_helper.from_array(weights, "w"),
         numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def tiny_entry(model_id: str, data: bytes) -> dict:
    return {
        "id": model_id, "label": model_id, "title": model_id, "licence": "MIT",
        "licence_note": "test model", "homepage": "", "file": f"{model_id}.onnx",
        "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "input": {"name": "input", "size": SIZE, "divide_by": 255, "mean": [0.5] * 3,
                  "std": [0.25] * 3},
        "output": {"index": 0, "minmax": True},
        "parts": [{"url": f"models/{model_id}/000.bin", "bytes": len(data)}],
    }


@pytest.fixture(scope="module")
def webgpu_browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path(), args=[*CHROMIUM_ARGS, "--enable-unsafe-webgpu"]
    )
    yield browser
    browser.close()


def run_backends(browser, base_url: str, model_id: str, data: bytes, image: bytes,
                 cpu_data: bytes | None = None, asked: list | None = None):
    """Each backend's result for the tiny model ``data``; ``cpu_data``: its CPU form (what
    WASM should fetch instead, as Best's int8 file); ``asked`` collects the parts fetched."""
    context = browser.new_context()
    index = json.loads(context.request.get(base_url + "/models/index.json").body())
    entry = tiny_entry(model_id, data)
    files = {"000.bin": data}
    if cpu_data is not None:
        files["cpu-000.bin"] = cpu_data
        entry["cpu"] = {"sha256": hashlib.sha256(cpu_data).hexdigest(), "bytes": len(cpu_data),
                        "parts": [{"url": f"models/{model_id}/cpu-000.bin",
                                   "bytes": len(cpu_data)}]}
    index.append(entry)
    context.route("**/models/index.json", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps(index)))

    def part(route):
        name = route.request.url.rsplit("/", 1)[1]
        if asked is not None:
            asked.append(name)
        route.fulfill(status=200, content_type="application/octet-stream", body=files[name])

    context.route(f"**/models/{model_id}/*.bin", part)
    page = context.new_page()
    page.goto(base_url + "/NOTICES.txt")
    results = page.evaluate(
        """async ([modelId, imageB64]) => {
          const { OffcutWorker } = await import('/bridge.js');
          const out = [];
          for (const backend of ['webgpu', 'wasm']) {
            const worker = new OffcutWorker('/worker.js');
            const warnings = [];
            worker.onWarning = (w) => warnings.push(w.code + ': ' + w.message);
            const info = await worker.init(modelId, null, { backend });
            const bytes = Uint8Array.from(atob(imageB64), (c) => c.charCodeAt(0)).buffer;
            const result = await worker.process(bytes, { name: 'x.jpg', refineEdges: true });
            const preview = new Uint8Array((await worker.render({})).bytes); // the plain PNG
            let binary = '';
            for (let i = 0; i < preview.length; i += 8192) {
              binary += String.fromCharCode(...preview.subarray(i, i + 8192));
            }
            out.push({ asked: backend, initBackend: info.backend, usedBackend: result.backend,
                       warnings, png: btoa(binary) });
            worker.terminate();
          }
          return out;
        }""",
        [model_id, base64.b64encode(image).decode()],
    )
    results.append(page.evaluate(STORED_KEYS))
    context.close()
    return results


#: The keys of the page's IndexedDB model records.
STORED_KEYS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open('offcut', 1);
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction('models').objectStore('models').getAllKeys();
    get.onsuccess = () => resolve(get.result);
    get.onerror = () => reject(get.error);
  };
})"""


def alpha_of(png_b64: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(png_b64))))[..., 3].astype(int)


@pytest.fixture(scope="module")
def small_photo() -> bytes:
    rng = np.random.default_rng(5)
    image = np.zeros((48, 64, 3), np.uint8)
    image[10:40, 16:50] = (230, 80, 40)
    image += rng.integers(0, 20, image.shape, dtype=np.uint8)
    return jpeg_bytes(image)


def test_webgpu_agrees_with_wasm(webgpu_browser, base_url, small_photo):
    gpu, cpu, _ = run_backends(webgpu_browser, base_url, "tiny-floor", tiny_model(0),
                               small_photo)
    assert gpu["initBackend"] == "webgpu" and gpu["usedBackend"] == "webgpu", gpu["warnings"]
    assert not any(w.startswith("webgpu-failed") for w in gpu["warnings"])
    assert cpu["usedBackend"] == "wasm"
    difference = np.abs(alpha_of(gpu["png"]) - alpha_of(cpu["png"]))
    assert difference.max() <= 1


def test_webgpu_failure_falls_back_to_wasm_and_still_processes(
    webgpu_browser, base_url, small_photo
):
    gpu, cpu, _ = run_backends(webgpu_browser, base_url, "tiny-ceil", tiny_model(1), small_photo)
    assert any(w.startswith("webgpu-failed") for w in gpu["warnings"])
    assert gpu["usedBackend"] == "wasm"
    np.testing.assert_array_equal(alpha_of(gpu["png"]), alpha_of(cpu["png"]))


def test_each_backend_fetches_its_own_file_and_keeps_only_it(webgpu_browser, base_url,
                                                             small_photo):
    """A model with a CPU form (Best's int8 file): WebGPU fetches the main file, WASM the CPU
    one; each is stored under its own key, and storing one drops the other."""
    asked = []
    main = tiny_model(0)
    cpu_form = main.replace(b"tiny", b"tinz")  # the graph's name: another file, same model
    assert cpu_form != main
    gpu, cpu, keys = run_backends(webgpu_browser, base_url, "tiny-two", main, small_photo,
                                  cpu_data=cpu_form, asked=asked)
    assert gpu["usedBackend"] == "webgpu" and cpu["usedBackend"] == "wasm", gpu["warnings"]
    assert asked == ["000.bin", "cpu-000.bin"], asked  # each worker had an empty store
    assert "tiny-two:cpu" in keys and "tiny-two" not in keys, keys
    difference = np.abs(alpha_of(gpu["png"]) - alpha_of(cpu["png"]))
    assert difference.max() <= 1
