"""A first visit over a slow link: page open to the first cutout and to Best's result.

    python tests/bench/first_visit.py [--mbit 40] [--latency-ms 20] [--size 12mp]
                                      [--photo PATH] [--dist DIST] [--json]

``dist/`` (or ``--dist``) is served the way a CDN would serve it: text, JavaScript, JSON and
WebAssembly gzip-compressed (level 6) when the browser asks for it; model parts, zips, wheels
and images as they are. Every response waits ``--latency-ms`` before its first byte, and all
responses share one link of ``--mbit`` Mbit/s (a token bucket in the server, so the page's
fetches, its workers' and the service worker's precache all take turns on it, as on a real
link; Chromium's ``Network.emulateNetworkConditions`` applies per DevTools target and would
leave the service worker's and workers' requests unthrottled). The server is HTTP/1.x, with
Chromium's 6 connections per host (a CDN would multiplex over HTTP/2).

A fresh profile opens the page with the default model (Auto: Best, with first looks from
Fast) and picks a photo as soon as the page takes one. Printed: seconds from opening the page
to "accepts a photo", to the first cutout on screen (Fast's first look), to Best's result;
the bytes the server had sent (after compression) by each of those moments, split into model
parts and the rest; and the load average. Prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py"), str(ROOT / "tests" / "bench")]

from peer import ARGS, SIZES, make_photo, parse_timings, watch_first_look  # noqa: E402

import build  # noqa: E402

COMPRESSED_TYPES = ("text/", "application/javascript", "application/json", "application/wasm",
                    "image/svg+xml", "application/manifest+json")
SLICE = 16 * 1024


class Link:
    """One shared link: ``rate`` bytes/s for everything sent, in order of asking; a log of
    (epoch seconds, bytes so far, model bytes so far)."""

    def __init__(self, rate: float) -> None:
        self.rate, self.free = rate, 0.0
        self.lock = threading.Lock()
        self.sent = self.model = 0
        self.log: list[tuple[float, int, int]] = []
        self.files: list[tuple[str, float, int]] = []  # (name, epoch when sent, bytes)

    def send(self, out, data: bytes, model: bool, name: str = "") -> None:
        for start in range(0, len(data), SLICE):
            part = data[start:start + SLICE]
            with self.lock:
                now = time.monotonic()
                begin = max(now, self.free)
                self.free = begin + len(part) / self.rate
                wait = self.free - now
            time.sleep(wait)
            out.write(part)
            with self.lock:
                self.sent += len(part)
                self.model += len(part) if model else 0
                self.log.append((time.time(), self.sent, self.model))
        with self.lock:
            self.files.append((name, time.time(), len(data)))

    def files_by(self, epoch: float, top: int = 8) -> list[tuple[str, int]]:
        """The ``top`` names with the most bytes sent (whole responses) by ``epoch``."""
        sums: dict[str, int] = {}
        with self.lock:
            for name, when, size in self.files:
                if when <= epoch:
                    sums[name] = sums.get(name, 0) + size
        return sorted(sums.items(), key=lambda item: -item[1])[:top]

    def at(self, epoch: float) -> tuple[int, int]:
        """(bytes, model bytes) sent by ``epoch``."""
        with self.lock:
            sent = [(total, model) for when, total, model in self.log if when <= epoch]
        return sent[-1] if sent else (0, 0)


@functools.cache
def gzipped(path: Path, mtime: float) -> bytes:
    return gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)


class CdnHandler(build.Handler):
    link: Link
    latency: float

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            super().do_GET()
            return
        kind = self.guess_type(str(path))
        packed = ("gzip" in self.headers.get("Accept-Encoding", "")
                  and kind.startswith(COMPRESSED_TYPES))
        body = gzipped(path, path.stat().st_mtime) if packed else path.read_bytes()
        time.sleep(self.latency)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        if packed:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.end_headers()
        name = path.relative_to(Path(self.directory)).as_posix()
        # A model's or a big binary's parts count as one name.
        name = name.rsplit(".", 1)[0] if name.rsplit(".", 1)[-1].isdigit() else name
        name = name.rsplit("/", 1)[0] if name.startswith("models/") and name.endswith(".bin") \
            else name
        self.link.send(self.wfile, body, "/models/" in path.as_posix()
                       and path.name != "index.json", name)


def visit(base: str, link: Link, photo: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", args=ARGS,
            viewport={"width": 1280, "height": 800})
        try:
            page = context.new_page()
            opened = time.time()
            t0 = time.perf_counter()
            page.goto(base + "/", wait_until="commit", timeout=600_000)
            page.wait_for_function("() => !!document.body && !!document.body.dataset.state",
                                   timeout=600_000)
            accepts = time.perf_counter() - t0
            accepts_epoch = time.time()
            watch_first_look(page)
            page.set_input_files("#file-input", str(photo))
            page.wait_for_function(
                "() => ['done', 'error'].includes(document.body.dataset.state)",
                timeout=900_000)
            done = time.perf_counter() - t0
            done_epoch = time.time()
            if page.evaluate("document.body.dataset.state") == "error":
                raise RuntimeError(page.locator("#error").inner_text())
            look = page.evaluate("() => window.benchLook")
            origin = page.evaluate("() => performance.timeOrigin") / 1000
            timings = page.locator("#result-timings").text_content() or ""
            model = page.evaluate("() => document.querySelector('input[name=model]:checked')"
                                  "?.value")
            # The visit's whole cost: until the service worker has installed (offline-ready).
            page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                                   timeout=600_000)
            page.wait_for_timeout(1000)
            installed_epoch = time.time()
        finally:
            context.close()
    shown_epoch = origin + look["shown"] / 1000 if look and look["shown"] is not None else None
    result = {"accepts_s": accepts, "result_s": done, "model_choice": model,
              "result_stages_s": parse_timings(timings),
              "first_cutout_s": shown_epoch - opened if shown_epoch else None,
              "bytes_by_accepts": link.at(accepts_epoch),
              "bytes_by_first_cutout": link.at(shown_epoch) if shown_epoch else None,
              "bytes_by_result": link.at(done_epoch),
              "bytes_by_install": link.at(installed_epoch),
              "files_by_first_cutout": link.files_by(shown_epoch) if shown_epoch else None,
              "requests": len(link.files)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbit", type=float, default=40.0, help="link speed, Mbit/s")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="wait before each response's first byte")
    parser.add_argument("--size", default="12mp", help=f"photo size, from {', '.join(SIZES)}")
    parser.add_argument("--photo", type=Path,
                        default=ROOT.parent / "shared" / "data" / "dev" / "images" / "046.jpg")
    parser.add_argument("--dist", type=Path, default=build.DIST)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.photo.exists():
        from PIL import Image
        from skimage import data as samples

        args.photo = Path(tempfile.mkdtemp()) / "astronaut.png"
        Image.fromarray(samples.astronaut()).save(args.photo)
    if not (args.dist / "index.html").exists():
        build.build()
    photo = make_photo(args.photo, SIZES[args.size], Path(tempfile.mkdtemp()))
    link = Link(args.mbit * 1e6 / 8)
    handler = type("Handler", (CdnHandler,), {"link": link, "latency": args.latency_ms / 1000})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(args.dist)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    load = os.getloadavg()
    try:
        result = visit(f"http://127.0.0.1:{server.server_address[1]}", link, photo)
    finally:
        server.shutdown()
    result.update(load_average_start=load, load_average_end=os.getloadavg(), mbit=args.mbit,
                  latency_ms=args.latency_ms, size=args.size)
    mib = 2**20

    def moved(pair) -> str:
        return ("-" if pair is None else
                f"{pair[0] / mib:.1f} MiB ({pair[1] / mib:.1f} MiB of it model parts)")

    print(f"first visit, {args.mbit:g} Mbit/s, {args.latency_ms:g} ms before each response, "
          f"{args.size} photo picked when the page takes one (model: {result['model_choice']})")
    print(f"accepts a photo: {result['accepts_s']:.2f} s, {moved(result['bytes_by_accepts'])}")
    first = result["first_cutout_s"]
    print(f"first cutout on screen: {'-' if first is None else f'{first:.2f} s'}, "
          f"{moved(result['bytes_by_first_cutout'])}")
    print(f"result: {result['result_s']:.2f} s, {moved(result['bytes_by_result'])}")
    print(f"service worker installed, whole visit: {moved(result['bytes_by_install'])}")
    if result["files_by_first_cutout"]:
        print("most bytes by the first cutout: " + ", ".join(
            f"{name} {size / mib:.1f}" for name, size in result["files_by_first_cutout"]))
    print("result's stages: " + " · ".join(f"{k} {v:.2f}"
                                           for k, v in result["result_stages_s"].items()))
    print("load average: start " + " ".join(f"{x:.2f}" for x in load) + ", end "
          + " ".join(f"{x:.2f}" for x in result["load_average_end"]))
    if args.json:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
