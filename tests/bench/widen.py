"""WASM session creation and first/steady runs of each model as served (float16 weights for
IS-Net) and widened to float32 in the page (tests/bench/widen.js), interleaved in one Chromium, on
either build of onnxruntime-web the app ships: ``@plain`` (ort.wasm.min.mjs, what the app uses
for WASM) or ``@jsep`` (ort.min.mjs, the Asyncify build the app uses for WebGPU).

    python tests/bench/widen.py --order served@plain,served@jsep --runs 3

    python tests/bench/widen.py [--rounds 3] [--model isnet-medium]

Each round creates a fresh session of A then B (A B A B ...), on ORT's WASM backend with the
worker's thread count, and runs the model's input for a real photo twice (``--photo``; a
synthetic input was 2x slower on u2netp, likely from denormal floats). Prints medians and the ratio
widened/served, and the largest output difference. Needs a built dist/; asserts nothing.

Every run has a worker of its own (in one worker, whichever session came second was up to 2x
faster, whatever its model). ``--memory`` instead runs each configuration (served/widened x
session options) in a fresh browser of its own, one round, and prints the peak PSS of the
browser's processes (its run times are not comparable: sampling /proc slows the browser).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py"), str(ROOT / "tests" / "bench")]

import base64  # noqa: E402

import numpy as np  # noqa: E402
from peer import PeakSampler, fresh_browser  # noqa: E402
from PIL import Image  # noqa: E402

import build  # noqa: E402
from offcut.prepare import prepare  # noqa: E402
from offcut.records import load_records  # noqa: E402

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]

#: Runs in a module worker (where the app runs ORT), away from the page's main thread; the
#: widener (widen.js, bench-only since the app's WASM build runs float16 weights as fast) is
#: inlined into it.
WORKER_JS = ((Path(__file__).parent / "widen.js").read_text().replace("export function", "function")
             + (Path(__file__).parent / "widen_worker.js").read_text())

# One fresh worker (a new ORT instance, as in the app) per variant and round: within one
# worker, whichever session came second ran up to 2x faster, whatever its model.
PAGE_JS = """async ([modelId, rounds, source, variants, options, inputBase64, runs = 2,
                      pause = 0]) => {
  const raw = Uint8Array.from(atob(inputBase64), (c) => c.charCodeAt(0));
  const input = new Float32Array(raw.buffer);
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const once = (variant) => new Promise((resolve, reject) => {
    const worker = new Worker(url, { type: 'module' });
    worker.onmessage = ({ data }) => { worker.terminate(); resolve(data); };
    worker.onerror = (e) => { worker.terminate(); reject(new Error(e.message)); };
    const origin = location.origin;
    worker.postMessage({ modelId, rounds: 1, origin, input, runs, pause, variants: [variant],
      options });
  });
  const rows = [];
  const outputs = {};
  let info = null;
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of variants) {
      info = await once(variant);
      rows.push(...info.rows);
      outputs[variant] = info.output;
    }
  }
  let diff = null;
  const [first, second] = Object.values(outputs);
  if (first && second) {
    diff = 0;
    for (let i = 0; i < first.length; i += 1) {
      diff = Math.max(diff, Math.abs(first[i] - second[i]));
    }
  }
  return { rows, diff, modelBytes: info.modelBytes, widenedBytes: info.widenedBytes,
           threads: info.threads, isolated: info.isolated };
}"""


#: Session options tried by --memory: ORT's defaults, without the arena / memory pattern, and
#: two session config entries that change where weights live.
MEMORY_OPTIONS = {
    "default": {},
    "no-arena": {"enableCpuMemArena": False},
    "no-pattern": {"enableMemPattern": False},
    "no-prepack": {"extra": {"session": {"disable_prepacking": "1"}}},
    "init-alloc": {"extra": {"session": {"use_device_allocator_for_initializers": "1"}}},
    # Without level 3 (layout): no NCHWc-blocked copies of weights and activations.
    "extended": {"graphOptimizationLevel": "extended"},
    "basic": {"graphOptimizationLevel": "basic"},
}


def model_input(model: str, photo: Path) -> str:
    """Base64 of the float32 input offcut gives ``model`` for ``photo`` (one view)."""
    if photo.exists():
        rgb = np.asarray(Image.open(photo).convert("RGB"))
    else:  # ../shared is absent: a public-domain sample
        from skimage import data as samples

        rgb = samples.astronaut()
    record = load_records(ROOT / "models")[model]
    return base64.b64encode(prepare(rgb, record)[:1].tobytes()).decode()


def memory(base: str, model: str, variants: list[str], labels: list[str], feed: str) -> None:
    from playwright.sync_api import sync_playwright

    print(f"{model}: peak PSS of a fresh browser, one session + two runs (MiB, seconds)")
    with sync_playwright() as p:
        for variant in variants:
            for label in labels:
                options = MEMORY_OPTIONS[label]
                profile, context = fresh_browser(p, "offcut-widen-mem-")
                try:
                    page = context.new_page()
                    page.goto(base + "NOTICES.txt")
                    with PeakSampler(profile) as sampler:
                        result = page.evaluate(PAGE_JS, [model, 1, WORKER_JS, [variant], options,
                                                          feed])
                finally:
                    context.close()
                (row,) = result["rows"]
                print(f"{variant:8} {label:11} peak {sampler.peak / 2**20:6.0f}  create "
                      f"{row['create']:5.2f}  first {row['first']:5.2f}  "
                      f"steady {row['steady']:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="isnet-medium")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--runs", type=int, default=2,
                        help="runs per session ('steady' is the last; all are listed)")
    parser.add_argument("--pause", type=float, default=0, help="seconds of idle between runs")
    parser.add_argument("--photo", type=Path,
                        default=ROOT.parent / "shared" / "data" / "dev" / "images" / "046.jpg")
    parser.add_argument("--order", default="served@plain,widened@plain",
                        help="variants (served|float16|widened|--file NAME, @plain|jsep), in order")
    parser.add_argument("--file", action="append", default=[], metavar="NAME=PATH",
                        help="an ONNX file to run as variant NAME (e.g. NAME@plain)")
    parser.add_argument("--options", default=",".join(MEMORY_OPTIONS),
                        help="--memory: which session options, from " + ", ".join(MEMORY_OPTIONS))
    args = parser.parse_args()
    feed = model_input(args.model, args.photo)
    # Files the variants name, put in dist/ for the run: 'float16' (the patched float16 file
    # the served one is made from) and each --file NAME=PATH.
    extra = {}
    for item in args.file:
        name, path = item.split("=", 1)
        extra[build.DIST / f"bench-{name}.onnx"] = Path(path).read_bytes()
    if "float16" in args.order:
        from offcut import fetch

        raw = load_records(ROOT / "models")[args.model].raw
        source = fetch.model_file(raw, ROOT / ".cache").read_bytes()
        extra[build.DIST / "bench-float16.onnx"] = fetch.served_model(source, raw,
                                                                      quantize=False)
    try:
        for target, data in extra.items():
            target.write_bytes(data)
        run(args, feed)
    finally:
        for target in extra:
            target.unlink(missing_ok=True)


def run(args: argparse.Namespace, feed: str) -> None:
    from playwright.sync_api import sync_playwright

    server = build.make_server(port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    if args.memory:
        memory(base, args.model, args.order.split(","), args.options.split(","), feed)
        server.shutdown()
        return
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        page.goto(base + "NOTICES.txt")
        result = page.evaluate(PAGE_JS, [args.model, args.rounds, WORKER_JS,
                                          args.order.split(","), {}, feed, args.runs,
                                          args.pause])
        browser.close()
    server.shutdown()
    print(f"{args.model}: served {result['modelBytes'] / 1e6:.1f} MB, widened "
          f"{result['widenedBytes'] / 1e6:.1f} MB; "
          f"largest output difference {result['diff'] or 0:.2e}; {result['threads']} threads, "
          f"cross-origin isolated: {result['isolated']}")
    print(f"{'':15} {'widen':>7} {'create':>7} {'first':>7} {'steady':>7}  (medians of "
          f"{args.rounds}, seconds)")
    for row in result["rows"]:
        runs = " ".join(f"{t:.2f}" for t in [row["first"], *row["later"]])
        print(f"  {row['variant']}: runs {runs}")
    medians = {}
    for variant in dict.fromkeys(r["variant"] for r in result["rows"]):
        rows = [r for r in result["rows"] if r["variant"] == variant]
        medians[variant] = {k: statistics.median(r[k] for r in rows)
                            for k in ("widen", "create", "first", "steady")}
        m = medians[variant]
        print(f"{variant:15} {m['widen']:7.2f} {m['create']:7.2f} {m['first']:7.2f} "
              f"{m['steady']:7.2f}")
    if len(medians) < 2:
        return
    names = list(medians)
    a, b = medians[names[0]], medians[names[1]]
    ratio = {k: b[k] / a[k] for k in ("create", "first", "steady")}
    print(f"{'2nd / 1st':15} {'':7} {ratio['create']:7.2f} {ratio['first']:7.2f} "
          f"{ratio['steady']:7.2f}")
    ready_a = a["widen"] + a["create"] + a["first"]
    ready_b = b["widen"] + b["create"] + b["first"]
    print(f"widen + session + first run: {names[0]} {ready_a:.2f} s, {names[1]} {ready_b:.2f} s "
          f"({ready_b / ready_a:.2f}x)")


if __name__ == "__main__":
    main()
