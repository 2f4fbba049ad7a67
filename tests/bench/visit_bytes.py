"""Bytes a visit moves from the server: a first visit in a fresh profile, until the service
worker has installed (everything it keeps is then on the device) and the app is ready.

    python tests/bench/visit_bytes.py [DIST ...]

Each DIST (default: dist/) is served by build.py's server, which counts what it sends. Prints,
per DIST, the files served (raw bytes, and what gzip -6 would make of them, i.e. what a host
that compresses would send), split into model parts and everything else. Needs Debian's
Chromium; prints numbers, asserts nothing.
"""

from __future__ import annotations

import functools
import gzip
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py"), str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

import build  # noqa: E402
from browsing import CHROMIUM_ARGS, chromium_path, wait_for_state  # noqa: E402


class CountingHandler(build.Handler):
    served: list  # (path, bytes) of every 200 answer, shared by the server's threads

    def send_response(self, code, message=None):
        if code == 200:
            path = self.translate_path(self.path)
            if Path(path).is_dir():
                path = str(Path(path) / "index.html")
            self.served.append((Path(path), Path(path).stat().st_size))
        super().send_response(code, message)


@functools.cache
def gzipped(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6))


def first_visit(dist: Path) -> list[tuple[Path, int]]:
    from playwright.sync_api import sync_playwright

    served: list = []
    handler = type("Handler", (CountingHandler,), {"served": served})
    server = build.http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(dist)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = context.new_page()
            page.goto(url)
            wait_for_state(page, "ready")
            page.evaluate("navigator.serviceWorker.ready.then(() => true)")
            page.wait_for_function("navigator.serviceWorker.controller !== null",
                                   timeout=120_000)
            context.close()
    finally:
        server.shutdown()
        server.server_close()
    return served


def main() -> None:
    for dist in [Path(p).resolve() for p in sys.argv[1:]] or [build.DIST]:
        served = first_visit(dist)
        models = [(p, n) for p, n in served if "/models/" in p.as_posix()
                  and p.name != "index.json"]
        rest = [(p, n) for p, n in served if (p, n) not in models]
        print(f"{dist}: {len(served)} requests")
        for label, group in (("app and runtime", rest), ("model parts", models)):
            raw = sum(n for _, n in group)
            packed = sum(gzipped(p) for p, _ in group)
            print(f"  {label}: {len(group)} requests, {raw / 2**20:.2f} MiB raw, "
                  f"{packed / 2**20:.2f} MiB gzip")
        by_file: dict = {}
        for path, size in rest:
            by_file.setdefault(path.relative_to(dist).as_posix(), []).append(size)
        for name, sizes in sorted(by_file.items(), key=lambda item: -sum(item[1]))[:12]:
            print(f"    {name}: {len(sizes)}x {sizes[0] / 2**20:.2f} MiB")


if __name__ == "__main__":
    main()
