"""Browser and CLI timings for the closing notes: dist size, start-to-ready (cold and warm),
per-stage times for one photo with each model, and refinement at 1/12/24 MP in Chromium.

    python tests/bench/browser_timing.py [--photo PATH] [--skip-isnet] [--mp 1,12,24]

Needs a built dist/ and Debian's Chromium. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import io
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

from PIL import Image  # noqa: E402

import build  # noqa: E402
from offcut import cli, fetch, pipeline  # noqa: E402
from offcut.records import load_records  # noqa: E402

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
PROCESS_JS = """async ([modelId, b64]) => {
  const { OffcutWorker } = await import('/bridge.js');
  const w = new OffcutWorker('/worker.js');
  const t0 = performance.now();
  const info = await w.init(modelId, null, { backend: 'wasm' });
  const ready = performance.now() - t0;
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
    const t1 = performance.now();
    const r = await w.process(bytes, { name: 'x.jpg', refineEdges: true });
    runs.push({ wall: (performance.now() - t1) / 1000, timings: r.timings });
  }
  w.terminate();
  return { ready: ready / 1000, init: info.timings, runs };
}"""


def dist_sizes() -> None:
    import brotli

    raw = packed = 0
    shell_raw = shell_packed = 0
    for path in (ROOT / "dist").rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        size = len(brotli.compress(data, quality=9))
        raw, packed = raw + len(data), packed + size
        if "/models/" not in path.as_posix():
            shell_raw, shell_packed = shell_raw + len(data), shell_packed + size
    mib = 2**20
    print(f"dist/: {raw / mib:.1f} MiB raw, {packed / mib:.1f} MiB brotli; without models "
          f"{shell_raw / mib:.1f} MiB raw, {shell_packed / mib:.1f} MiB brotli")


def start_times(playwright, base: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        for visit in ("cold", "warm"):
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path="/usr/bin/chromium", args=ARGS)
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(base + "/")
            page.wait_for_function("() => document.body.dataset.state === 'ready'",
                                   timeout=300_000)
            print(f"start-to-ready ({visit}, u2netp): {time.perf_counter() - t0:.2f} s")
            context.close()


def stage_line(timings: dict) -> str:
    keys = ["decode", "prepare", "model", "finish", "foreground", "encode"]
    return " ".join(f"{k} {timings.get(k, 0):.2f}" for k in keys)


def photo_bytes(path: Path | None, width: int, height: int) -> bytes:
    source = Image.open(path or ROOT.parent / "shared/data/dev/images/046.jpg").convert("RGB")
    buffer = io.BytesIO()
    source.resize((width, height), Image.BICUBIC).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def browser_stages(browser, base: str, model_id: str, data: bytes) -> dict:
    page = browser.new_page()
    page.goto(base + "/NOTICES.txt")
    result = page.evaluate(PROCESS_JS, [model_id, base64.b64encode(data).decode()])
    page.close()
    return result


def cli_stages(model_id: str, data: bytes) -> dict:
    record = load_records()[model_id]
    run = cli.make_runner(fetch.model_file(record.raw, ROOT / ".cache"), record, None)
    pipeline.cutout(data, record, run)  # warm-up
    t0 = time.perf_counter()
    result = pipeline.cutout(data, record, run)
    t1 = time.perf_counter()
    _, _ = pipeline.render(result)
    result.timings["encode"] = time.perf_counter() - t1
    result.timings["wall"] = time.perf_counter() - t0
    return result.timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--skip-isnet", action="store_true")
    parser.add_argument("--mp", default="1,12,24")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    dist_sizes()
    server = build.make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    hd = photo_bytes(args.photo, 1920, 1080)
    models = ["u2netp"] + ([] if args.skip_isnet else ["isnet-medium"])
    with sync_playwright() as playwright:
        start_times(playwright, base)
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for model_id in models:
            result = browser_stages(browser, base, model_id, hd)
            print(f"browser {model_id} 1920x1080: ready {result['ready']:.2f} s")
            for number, run in enumerate(result["runs"], 1):
                print(f"  run {number}: {stage_line(run['timings'])} | wall {run['wall']:.2f} s")
            timings = cli_stages(model_id, hd)
            print(f"cli     {model_id} 1920x1080: {stage_line(timings)} "
                  f"| wall {timings['wall']:.2f} s")
        for megapixels in (float(v) for v in args.mp.split(",")):
            width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
            data = photo_bytes(args.photo, width, width * 3 // 4)
            run = browser_stages(browser, base, "u2netp", data)["runs"][-1]
            t = run["timings"]
            print(f"browser u2netp {megapixels:g} MP ({width}x{width * 3 // 4}): "
                  f"refine (finish) {t['finish']:.2f} s, foreground {t['foreground']:.2f} s, "
                  f"model {t['model']:.2f} s, ratio refine/model "
                  f"{(t['finish'] + t['foreground']) / t['model']:.2f} | {stage_line(t)}")
        browser.close()


if __name__ == "__main__":
    main()
