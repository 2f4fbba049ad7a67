"""WASM session creation and first/steady runs of each model as served (float16 weights for
IS-Net) and widened to float32 in the page (web/widen.js), interleaved in one Chromium.

    python tests/bench/widen.py [--rounds 3] [--model isnet-medium]

Each round creates a fresh session of A then B (A B A B ...), on ORT's WASM backend with the
worker's thread count, and runs a fixed 1024x1024 input twice. Prints medians and the ratio
widened/served, and the largest output difference. Needs a built dist/; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

import build  # noqa: E402

ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]

#: Runs in a module worker (where the app runs ORT), away from the page's main thread.
WORKER_JS = (Path(__file__).parent / "widen_worker.js").read_text()

PAGE_JS = """async ([modelId, rounds, source]) => {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const worker = new Worker(url, { type: 'module' });
  return await new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) => resolve(data);
    worker.onerror = (e) => reject(new Error(e.message));
    worker.postMessage({ modelId, rounds, origin: location.origin });
  });
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="isnet-medium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = build.make_server(port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        page.goto(base)
        result = page.evaluate(PAGE_JS, [args.model, args.rounds, WORKER_JS])
        browser.close()
    server.shutdown()
    print(f"{args.model}: served {result['modelBytes'] / 1e6:.1f} MB, widened "
          f"{result['widenedBytes'] / 1e6:.1f} MB; largest output difference {result['diff']:.2e}")
    print(f"{'':10} {'widen':>7} {'create':>7} {'first':>7} {'steady':>7}  (medians of "
          f"{args.rounds}, seconds)")
    medians = {}
    for variant in ("served", "widened"):
        rows = [r for r in result["rows"] if r["variant"] == variant]
        medians[variant] = {k: statistics.median(r[k] for r in rows)
                            for k in ("widen", "create", "first", "steady")}
        m = medians[variant]
        print(f"{variant:10} {m['widen']:7.2f} {m['create']:7.2f} {m['first']:7.2f} "
              f"{m['steady']:7.2f}")
    a, b = medians["served"], medians["widened"]
    ratio = {k: b[k] / a[k] for k in ("create", "first", "steady")}
    print(f"{'ratio w/s':10} {'':7} {ratio['create']:7.2f} {ratio['first']:7.2f} "
          f"{ratio['steady']:7.2f}")
    ready_a = a["create"] + a["first"]
    ready_b = b["widen"] + b["create"] + b["first"]
    print(f"session + first run: served {ready_a:.2f} s, widened {ready_b:.2f} s "
          f"({ready_b / ready_a:.2f}x)")


if __name__ == "__main__":
    main()
