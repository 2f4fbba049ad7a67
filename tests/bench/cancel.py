"""How fast Cancel takes effect, and what it costs the next photo (issue 11 item 4).

    python tests/bench/cancel.py [--dist DIST] [--rounds 2] [--big-mp 24]

One page, Fast model, warm: the next photo alone (its own time, click to result), then for
each round a big photo cancelled as soon as the model stage starts, and the next photo picked
right after the click. Each photo starts once the spare worker is ready (up to 2 minutes; a
build without one just waits that long once). Prints: how long the spare took to boot and the
renderer's memory (RSS of this browser's renderer processes, where the workers live) before and
after; then per round click to the page leaving 'processing', click to the busy worker closing
(never, on a build without restart-on-cancel), click to the next photo's result, and that minus
the photo's own time. Needs a built dist/ and Debian's Chromium; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py"), str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

import build  # noqa: E402
from browsing import CHROMIUM_ARGS, chromium_path  # noqa: E402
from support import SHARED_DEV, jpeg_bytes  # noqa: E402

STATE = "() => document.body.dataset.state"
SPARE_READY = "() => document.body.dataset.spare === 'ready'"
IN_MODEL = "() => document.getElementById('progress-stage').textContent === 'Finding the subject'"


def photos(folder: Path, big_mp: float) -> tuple[Path, Path, Path]:
    source = SHARED_DEV / "images" / "046.jpg"
    if source.exists():
        rgb = np.asarray(Image.open(source).convert("RGB"))
    else:
        from skimage import data

        rgb = data.astronaut()
    small, other, big = folder / "small.jpg", folder / "other.jpg", folder / "big.jpg"
    small.write_bytes(jpeg_bytes(rgb))
    other.write_bytes(jpeg_bytes(np.ascontiguousarray(rgb[:, ::-1])))
    width = int((big_mp * 1e6 * 1.5) ** 0.5)
    Image.fromarray(rgb).resize((width, width * 2 // 3), Image.BILINEAR).save(big, quality=90)
    return small, other, big


def until(page, predicate: str, timeout_s: float = 600) -> float:
    page.wait_for_function(predicate, timeout=timeout_s * 1000, polling=20)
    return time.perf_counter()


def renderer_mib(tag: str) -> float:
    """RSS of the renderer processes below the browser launched with ``tag``, in MiB."""
    parents, cmdlines = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdlines[entry.name] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = (entry / "stat").read_text()
            parents[entry.name] = stat.rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
    roots = {pid for pid, cmd in cmdlines.items() if tag in cmd}
    total = 0
    for pid, cmd in cmdlines.items():
        up, seen = pid, 0
        while up in parents and up not in roots and seen < 10:
            up, seen = parents[up], seen + 1
        if up in roots and "--type=renderer" in cmd:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def wait_spare(page) -> float | None:
    t0 = time.perf_counter()
    try:
        return until(page, SPARE_READY, timeout_s=120) - t0
    except Exception:  # noqa: BLE001 - a build without a spare: say so, go on
        return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--big-mp", type=float, default=24)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    server = build.make_server("127.0.0.1", 0, args.dist)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    small, other, big = photos(Path(tempfile.mkdtemp()), args.big_mp)
    rows = []
    with sync_playwright() as playwright:
        tag = f"--offcut-bench={os.getpid()}"  # an unknown switch, to find this browser's processes
        browser = playwright.chromium.launch(executable_path=chromium_path(),
                                             args=[*CHROMIUM_ARGS, tag])
        page = browser.new_page()
        workers: list = []
        page.on("worker", lambda w: workers.append(w) if w.url.endswith("/worker.js") else None)
        page.goto(url)
        until(page, "() => document.body.dataset.state === 'ready'")
        page.set_input_files("#file-input", str(small))
        until(page, "() => document.body.dataset.state === 'done'")
        before = renderer_mib(tag)
        spare = wait_spare(page)
        page.wait_for_timeout(2000)  # let a garbage collection or two pass
        print(f"spare ready {spare:.1f} s after the first result; " if spare is not None
              else "no spare worker; ", end="")
        print(f"renderer RSS {before:.0f} MiB before, {renderer_mib(tag):.0f} MiB after",
              flush=True)
        # The next photo's own time: warm engine, nothing cancelled.
        alone = []
        for photo in (other, small):
            t0 = time.perf_counter()
            page.set_input_files("#file-input", str(photo))
            until(page, "() => document.body.dataset.state === 'processing'")
            alone.append(until(page, "() => document.body.dataset.state === 'done'") - t0)
        own = statistics.median(alone)
        print(f"next photo alone (warm): {', '.join(f'{s:.2f}' for s in alone)} s")
        for round_ in range(args.rounds):
            if spare is not None:
                wait_spare(page)
            # The spare, when there is one, started after the worker now busy.
            busy = workers[-2] if spare is not None else workers[-1]
            closed: list = []
            busy.on("close", lambda w, closed=closed: closed.append(time.perf_counter()))
            page.set_input_files("#file-input", str(big))
            until(page, IN_MODEL)
            t0 = time.perf_counter()
            page.click("#cancel")
            left = until(page, "() => document.body.dataset.state !== 'processing'") - t0
            page.set_input_files("#file-input", str(other if round_ % 2 else small))
            until(page, "() => document.body.dataset.state === 'processing'")
            done = until(page, "() => document.body.dataset.state === 'done'") - t0
            close = (closed[0] - t0) if closed else float("nan")
            rows.append((left, close, done, done - own))
            print(f"round {round_ + 1}: UI idle {left:.2f} s, worker closed {close:.2f} s, "
                  f"next result {done:.2f} s (own time + {done - own:.2f} s)", flush=True)
        browser.close()
    server.shutdown()


if __name__ == "__main__":
    main()
