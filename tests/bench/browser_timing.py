"""Browser and CLI timings for the closing notes: dist size, start-to-ready (cold and warm),
per-stage times for one photo with each model, and refinement at 1/12/24 MP in Chromium.

    python tests/bench/browser_timing.py [--photo PATH] [--skip-isnet] [--mp 1,12,24]
    python tests/bench/browser_timing.py --first-result OTHER_DIST [--rounds 2] [--mp 12]

``--first-result`` compares, interleaved in one Chromium (A B A B), the time from handing a
photo to the worker until the first result is decoded on the main thread, for OTHER_DIST (e.g.
an older build, whose process() returned a full-size PNG) and this dist/ (which returns a
screen-size render): u2netp ("Fast"), warm (the second photo of each page), with the stage
breakdown, and this build's full-size download (render) time.

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


FIRST_RESULT_JS = """async ([modelId, b64, side]) => {
  const { OffcutWorker } = await import('/bridge.js');
  const w = new OffcutWorker('/worker.js');
  await w.init(modelId, null, { backend: 'wasm' });
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
    const options = { name: 'x.jpg', refineEdges: true };
    if (side) options.preview = { options: {}, maxSide: side, knownBefore: '' };
    const t0 = performance.now();
    const r = await w.process(bytes, options);
    const t1 = performance.now();
    // What the page does next: show it (an <img> of the PNG, decoded).
    const blob = side ? r.preview.after : new Blob([r.preview], { type: 'image/png' });
    const image = new Image();
    image.src = URL.createObjectURL(blob);
    await image.decode();
    const t2 = performance.now();
    let download = null;
    if (side) {
      const t3 = performance.now();
      await w.render({});
      download = (performance.now() - t3) / 1000;
    }
    runs.push({ result: (t1 - t0) / 1000, shown: (t2 - t0) / 1000, timings: r.timings,
                download, size: [image.naturalWidth, image.naturalHeight] });
  }
  w.terminate();
  return runs[runs.length - 1];
}"""


def first_result(browser, bases: dict, data: bytes, rounds: int, side: int) -> None:
    """Interleaved pick-to-first-result timings: {label: base URL}; the last label gets
    ``side`` (a preview payload), the others the old protocol."""
    encoded = base64.b64encode(data).decode()
    results: dict = {label: [] for label in bases}
    for _ in range(rounds):
        for number, (label, base) in enumerate(bases.items()):
            page = browser.new_page()
            page.goto(base + "/NOTICES.txt")
            with_preview = side if number == len(bases) - 1 else 0
            results[label].append(page.evaluate(FIRST_RESULT_JS,
                                                ["u2netp", encoded, with_preview]))
            page.close()
    keys = ["decode", "prepare", "model", "finish", "foreground", "encode", "preview"]
    for label, runs in results.items():
        for run in runs:
            t = run["timings"]
            stages = " ".join(f"{k} {t[k]:.2f}" for k in keys if k in t)
            extra = (f" | download (full-size PNG) {run['download']:.2f} s"
                     if run["download"] else "")
            print(f"{label}: first result shown {run['shown']:.2f} s (worker {run['result']:.2f} s,"
                  f" image {run['size'][0]}x{run['size'][1]}) | {stages}{extra}")
    before, after = (sorted(r["shown"] for r in results[label]) for label in bases)
    print(f"median shown: {before[len(before) // 2]:.2f} s -> {after[len(after) // 2]:.2f} s "
          f"(ratio {after[len(after) // 2] / before[len(before) // 2]:.2f})")


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
    run = cli.make_runner(fetch.runtime_model(record.raw, ROOT / ".cache"), record, None)
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
    parser.add_argument("--first-result", type=Path, default=None, metavar="OTHER_DIST")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--side", type=int, default=890,
                        help="preview side in device px (a 1280x800 window's viewer: ~890)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if args.first_result:
        servers = {"other": build.make_server("127.0.0.1", 0, args.first_result),
                   "this": build.make_server("127.0.0.1", 0)}
        for server in servers.values():
            threading.Thread(target=server.serve_forever, daemon=True).start()
        bases = {f"{label} ({server.server_address[1]})":
                 f"http://127.0.0.1:{server.server_address[1]}"
                 for label, server in servers.items()}
        megapixels = float(args.mp.split(",")[0])
        width = int((megapixels * 1e6 * 4 / 3) ** 0.5)
        data = photo_bytes(args.photo, width, width * 3 // 4)
        print(f"{width}x{width * 3 // 4} JPEG, u2netp, WASM, warm")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            first_result(browser, bases, data, args.rounds, args.side)
            browser.close()
        return

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
