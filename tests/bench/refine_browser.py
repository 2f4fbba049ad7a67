"""Refinement time and peak memory at several sizes, in Chromium (Pyodide) and on CPython,
on identical inputs: a dev photo scaled up and a smooth synthetic 320 px model mask.

    python tests/bench/refine_browser.py [--mp 1,12,24] [--repeat 3]

Times are medians of ``--repeat`` untraced runs. Peak memory is tracemalloc's (numpy
registers its buffers with it), from one more run around the refinement calls only: the
extra memory refinement needs beyond the decoded image. It is a separate run because
tracing every allocation slows code that makes many small arrays (the tiled foreground
pass: 0.13 -> 0.24 s at 12 MP on CPython) and would skew the times.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

import build  # noqa: E402

MEASURE = """
import io, time, tracemalloc, json
import numpy as np
from PIL import Image
from offcut import foreground, refine
from offcut.finish import quantise_alpha

def measure(jpeg, megapixels, repeat=1):
    if hasattr(jpeg, "to_bytes"):  # a JS Uint8Array in the browser
        jpeg = jpeg.to_bytes()
    source = Image.open(io.BytesIO(jpeg)).convert("RGB")
    width = int((megapixels * 1e6 * source.width / source.height) ** 0.5)
    height = int(width * source.height / source.width)
    rgb = np.asarray(source.resize((width, height), Image.BILINEAR))
    yy, xx = np.mgrid[0:320, 0:320].astype(np.float32)
    low = 1 / (1 + np.exp((np.hypot(xx - 170, yy - 180) - 95) / 3))  # a soft disc
    low = low.astype(np.float32)
    out = {"size": [width, height]}
    for name, refine_edges in (("bilinear", False), ("refined", True)):
        alpha_s, foreground_s = [], []
        for run in range(repeat + 1):
            traced = run == repeat  # the last run measures memory only
            if traced:
                tracemalloc.start()
            t0 = time.perf_counter()
            alpha = refine.upsample_alpha(low, rgb, refine_edges=refine_edges)
            alpha8 = quantise_alpha(alpha)
            del alpha
            t1 = time.perf_counter()
            foreground.estimate_foreground(rgb, alpha8)
            t2 = time.perf_counter()
            if traced:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
            else:
                alpha_s.append(t1 - t0)
                foreground_s.append(t2 - t1)
        out[name] = {"alpha_s": float(np.median(alpha_s)),
                     "foreground_s": float(np.median(foreground_s)), "peak_mib": peak / 2**20}
    return json.dumps(out)
"""

PYODIDE_JS = """async ([code, jpegB64, sizes, repeat]) => {
  const { loadPyodide } = await import('/pyodide/pyodide.mjs');
  const py = await loadPyodide({ indexURL: '/pyodide/' });
  await py.loadPackage(['numpy', 'pillow']);
  const zip = await (await fetch('/py/offcut.zip')).arrayBuffer();
  py.unpackArchive(zip, 'zip', { extractDir: '/home/pyodide/offcut-py' });
  py.runPython("import sys; sys.path.insert(0, '/home/pyodide/offcut-py')");
  py.runPython(code);
  const measure = py.globals.get('measure');
  const jpeg = Uint8Array.from(atob(jpegB64), (c) => c.charCodeAt(0));
  const results = [];
  for (const mp of sizes) results.push(measure(jpeg, mp, repeat));
  return results;
}"""


def report(where: str, megapixels: float, result: dict) -> None:
    naive, refined = result["bilinear"], result["refined"]
    total = refined["alpha_s"] + refined["foreground_s"]
    naive_total = naive["alpha_s"] + naive["foreground_s"]
    print(f"{where:8} {megapixels:>4g} MP {result['size'][0]}x{result['size'][1]}: "
          f"refined alpha {refined['alpha_s']:.2f} s + foreground {refined['foreground_s']:.2f} s "
          f"= {total:.2f} s (bilinear path {naive_total:.2f} s, ratio {total / naive_total:.1f}); "
          f"peak {refined['peak_mib']:.0f} MiB = {refined['peak_mib'] / megapixels:.1f} MiB/MP")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mp", default="1,12,24")
    parser.add_argument("--repeat", type=int, default=1, help="timed runs per size (median)")
    parser.add_argument("--photo", type=Path,
                        default=ROOT.parent / "shared" / "data" / "dev" / "images" / "046.jpg")
    args = parser.parse_args()
    sizes = [float(v) for v in args.mp.split(",")]
    jpeg = args.photo.read_bytes()
    namespace: dict = {}
    exec(MEASURE, namespace)  # noqa: S102 - the same code the browser runs
    for megapixels in sizes:
        result = namespace["measure"](jpeg, megapixels, args.repeat)
        report("cpython", megapixels, json.loads(result))
    from playwright.sync_api import sync_playwright

    server = build.make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + "/NOTICES.txt")
        results = page.evaluate(
            PYODIDE_JS, [MEASURE, base64.b64encode(jpeg).decode(), sizes, args.repeat]
        )
        for megapixels, result in zip(sizes, results, strict=True):
            report("chromium", megapixels, json.loads(result))
        browser.close()


if __name__ == "__main__":
    main()
