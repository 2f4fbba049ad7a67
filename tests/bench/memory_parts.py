"""What holds the memory of a big photo: per contender, after one cold and one warm run.

    python tests/bench/memory_parts.py [--size 24mp] [--contenders LABELS] [--photo PATH]

For each contender (peer.py's labels: "offcut Best", "offcut Fast", "imgly 1.4.5",
"imgly 1.7.0"), in a fresh Chromium: the peak PSS of its processes during the two runs, split
by process type (browser, renderer, GPU, utility), and, after the runs, what
``performance.measureUserAgentSpecificMemory()`` attributes to the page and to each worker
(JavaScript and WebAssembly memory: a WASM heap never shrinks, so after the runs it is its
peak). Both pages are cross-origin isolated, which that API needs. Prints numbers, asserts
nothing.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py"), str(ROOT / "tests" / "bench")]

from peer import (  # noqa: E402
    ARGS,
    PEERS,
    SIZES,
    IsolatedHandler,
    ensure_peer,
    make_photo,
    open_tab,
    peer_label,
    serve,
)

import build  # noqa: E402

MIB = 2**20


def pss_by_type(profile: str) -> dict[str, int]:
    """PSS (bytes) of the Chromium processes of ``profile``, by ``--type=`` (browser: none)."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
                cmdlines[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().decode(
                    errors="replace")
            except OSError:
                continue
    members = {pid for pid, line in cmdlines.items() if profile in line}
    grew = True
    while grew:
        extra = {pid for pid, parent in parents.items() if parent in members} - members
        members |= extra
        grew = bool(extra)
    sums: dict[str, int] = {}
    for pid in members:
        # Chromium's children rewrite their command line as one space-separated title.
        line = cmdlines.get(pid, "").replace("\0", " ")
        kind = re.search(r"--type=(\S+)", line)
        kind = kind.group(1) if kind else "browser"
        sub = re.search(r"--utility-sub-type=(\S+)", line)
        if sub:
            kind += " " + sub.group(1).rsplit(".", 1)[-1]
        try:
            for row in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if row.startswith("Pss:"):
                    sums[kind] = sums.get(kind, 0) + int(row.split()[1]) * 1024
        except OSError:
            continue
    return sums


class Sampler:
    """Per-type PSS at the moment the total peaked, sampled every 100 ms."""

    def __init__(self, profile: str) -> None:
        self.profile, self.peak, self.parts = profile, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            parts = pss_by_type(self.profile)
            if sum(parts.values()) > self.peak:
                self.peak, self.parts = sum(parts.values()), parts
            self._stop.wait(0.1)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


MEASURE = """async () => {
  if (!crossOriginIsolated || !performance.measureUserAgentSpecificMemory) return null;
  const result = await performance.measureUserAgentSpecificMemory();
  const parts = {};
  for (const entry of result.breakdown) {
    if (!entry.bytes) continue;
    const names = entry.attribution.map((a) => `${a.scope} ${a.url.split('/').pop() || '/'}`);
    const key = names.join(' + ') || (entry.types.join(',') || 'shared');
    parts[key] = (parts[key] || 0) + entry.bytes;
  }
  return { total: result.bytes, parts };
}"""


def measure(playwright, bases: dict, photo: Path, label: str) -> dict:
    profile = tempfile.mkdtemp(prefix="offcut-memparts-")
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path="/usr/bin/chromium",
        args=[*ARGS, "--enable-blink-features=ForceEagerMeasureMemory"],
        viewport={"width": 1280, "height": 800})
    try:
        with Sampler(profile) as sampler:
            tab = open_tab(context, bases, label)
            for _ in range(2):
                tab.run(photo)
        after = tab.page.evaluate(MEASURE)
        return {"peak": sampler.peak, "peak_parts": sampler.parts, "js_wasm_after": after}
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="24mp")
    parser.add_argument("--contenders", default="offcut Best,offcut Fast,"
                        + ",".join(peer_label(v) for v in PEERS))
    parser.add_argument("--photo", type=Path,
                        default=ROOT.parent / "shared" / "data" / "dev" / "images" / "046.jpg")
    args = parser.parse_args()
    labels = [label for label in args.contenders.split(",") if label]
    if not (build.DIST / "index.html").exists():
        build.build()
    photos = Path(tempfile.mkdtemp(prefix="offcut-memparts-photos-"))
    photo = make_photo(args.photo, SIZES[args.size], photos)
    servers = [build.make_server("127.0.0.1", 0)]
    bases = {"offcut": serve(servers[0])}
    for label in labels:
        if label.startswith("imgly"):
            site = ensure_peer(label.split()[1])
            (site / "photos").mkdir(exist_ok=True)
            (site / "photos" / photo.name).write_bytes(photo.read_bytes())
            servers.append(http.server.ThreadingHTTPServer(
                ("127.0.0.1", 0), functools.partial(IsolatedHandler, directory=str(site))))
            bases[label] = serve(servers[-1])
    from playwright.sync_api import sync_playwright

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with sync_playwright() as playwright:
        for label in labels:
            result = measure(playwright, bases, photo, label)
            print(f"\n## {label}, {args.size}: peak PSS {result['peak'] / MIB:.0f} MiB")
            print("  at the peak, by process: " + ", ".join(
                f"{kind} {size / MIB:.0f}" for kind, size in
                sorted(result["peak_parts"].items(), key=lambda item: -item[1])))
            after = result["js_wasm_after"]
            if after:
                print(f"  JS + WASM memory after the runs: {after['total'] / MIB:.0f} MiB")
                for key, size in sorted(after["parts"].items(), key=lambda item: -item[1]):
                    if size >= MIB:
                        print(f"    {key}: {size / MIB:.0f} MiB")
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for server in servers:
        server.shutdown()


if __name__ == "__main__":
    main()
