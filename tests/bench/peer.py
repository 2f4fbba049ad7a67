"""offcut against its browser peer, @imgly/background-removal, in one Chromium.

    python tests/bench/peer.py [--sizes 1080p,12mp] [--runs 5] [--photo PATH] [--json]
                               [--skip-startup] [--skip-native] [--memory 24mp]
                               [--peers 1.4.5,1.7.0] [--memory-contenders LABELS]

What it does, on this machine (numbers for the closing notes; it asserts nothing):

* installs each ``--peers`` version of ``@imgly/background-removal`` and esbuild from npm into
  ``.cache/bench/imgly-VERSION/`` and bundles it into one ES module. This is for benchmarking
  only: nothing of it goes into ``dist/``. 1.4.5 ships the same IS-Net "medium" model offcut
  uses (``/models/medium`` in ``@imgly/background-removal-data@1.4.5``, the package build.py
  pins) and runs onnxruntime-web 1.17. 1.7.0 (what users install now) runs onnxruntime-web
  1.21.0 and reads the same model under ``/models/isnet_fp16`` with ``{name, offsets}``
  chunks, and the runtime under ``/onnxruntime-web/ort-wasm-simd-threaded.{wasm,mjs}``: its
  ``resources.json`` is written here, pointing at the 1.4.5 package's chunks (hash and size
  checked) and at onnxruntime-web 1.21.0's own files from npm;
* serves ``dist/`` and each peer's page on their own origins (a peer must not fall under
  offcut's service worker, which adds offcut's CSP), all cross-origin isolated (COOP/COEP), so
  all run WASM with 2 threads;
* opens offcut "Best" (what "Auto" runs unless data saver is on), offcut "Fast" and each peer
  in their own tabs, does one cold run in each, then ``--runs`` warm runs interleaved
  (A B C D A B C D...). offcut's time is the page's own: from handing the photo to the file
  input until the result is on screen (``done``); imgly's is ``removeBackground(blob)`` to its
  PNG blob. Medians, the offcut/imgly ratios against each peer and offcut's stage breakdown
  (the page's run details) are printed;
* samples the proportional set size (PSS) of all the browser's processes every 100 ms and
  prints each contender's peak (in separate browsers, so the numbers do not add up);
* start-up: offcut first visit and ``--repeat-visits`` repeat visits (same profile, with
  their median), load to "accepts a photo" (app.js runs: a photo picked during start-up is
  queued) and to "model ready";
* model only, WASM (offcut's stage time, warm) vs native onnxruntime at 2 threads.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "py")]

from PIL import Image  # noqa: E402

import build  # noqa: E402

PEER_VERSION = "1.4.5"  # the data package's version: its chunks serve every peer
PEERS = ("1.4.5", "1.7.0")
# onnxruntime-web the peer asks for as a peer dependency; its runtime files are served from
# the peer's own resources.json (None: the data package holds them).
PEER_ORT = {"1.4.5": None, "1.7.0": "1.21.0"}
ESBUILD_VERSION = "0.24.2"
BENCH = ROOT / ".cache" / "bench" / f"imgly-{PEER_VERSION}"
CHUNK = 4 * 2**20
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-renderer-backgrounding",
        "--disable-background-timer-throttling", "--disable-backgrounding-occluded-windows"]
SIZES = {"1080p": (1920, 1080), "12mp": (4000, 3000), "24mp": (5656, 4242)}

PEER_PAGE = """<!doctype html><meta charset="utf-8"><title>peer</title>
<script type="module">
import { removeBackground } from './imgly.mjs';
const config = { publicPath: new URL('data/', location.href).href, model: 'medium',
                 output: { format: 'image/png' } };
window.peerRun = async (url) => {
  const blob = await (await fetch(url)).blob();
  const t0 = performance.now();
  const result = await removeBackground(blob, config);
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, bytes: result.size };
};
window.peerReady = true;
</script>"""


# ------------------------------------------------------------------------------- the peer


def peer_label(version: str) -> str:
    return f"imgly {version}"


def data_package() -> Path:
    """The 1.4.5 data package's files (content-named chunks, resources.json), unpacked once."""
    folder = ROOT / ".cache" / "bench" / f"imgly-data-{PEER_VERSION}"
    if (folder / "resources.json").exists():
        return folder
    archive = ROOT / ".cache" / "downloads" / f"imgly-background-removal-data-{PEER_VERSION}.tgz"
    if not archive.exists():
        build.build()  # fetches (and verifies) the pinned data package offcut uses too
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.startswith("package/dist/"):
                (folder / Path(member.name).name).write_bytes(tar.extractfile(member).read())
    return folder


def ensure_peer(version: str = PEER_VERSION) -> Path:
    """The site folder of peer ``version`` (bundle, data, page), made once under
    ``.cache/bench/imgly-VERSION``."""
    bench = ROOT / ".cache" / "bench" / f"imgly-{version}"
    site = bench / "site"
    if (site / "imgly.mjs").exists() and (site / "data" / "resources.json").exists():
        return site
    bench.mkdir(parents=True, exist_ok=True)
    (bench / "package.json").write_text('{"private": true}\n')
    packages = [f"@imgly/background-removal@{version}", f"esbuild@{ESBUILD_VERSION}"]
    if PEER_ORT[version]:
        packages.append(f"onnxruntime-web@{PEER_ORT[version]}")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", *packages],
                   cwd=bench, check=True)
    # esbuild's platform binary comes from an optional dependency; --ignore-scripts is fine.
    (bench / "entry.mjs").write_text(
        "export { removeBackground } from '@imgly/background-removal';\n")
    site.mkdir(exist_ok=True)
    subprocess.run([str(bench / "node_modules" / ".bin" / "esbuild"), "entry.mjs", "--bundle",
                    "--format=esm", "--platform=browser", "--log-level=warning",
                    f"--outfile={site / 'imgly.mjs'}"], cwd=bench, check=True)
    data = site / "data"
    data.mkdir(exist_ok=True)
    package = data_package()
    if PEER_ORT[version] is None:
        for path in package.iterdir():
            (data / path.name).write_bytes(path.read_bytes())
    else:
        write_resources(data, package, bench / "node_modules" / "onnxruntime-web" / "dist")
    (site / "index.html").write_text(PEER_PAGE)
    return site


def write_resources(data: Path, package: Path, ort_dist: Path) -> None:
    """A resources.json in the 1.7 layout ({name, offsets} chunks) in ``data``: the models
    are the 1.4.5 data package's chunks under their new keys (each chunk's SHA-256 and size
    checked), the runtime is onnxruntime-web's own files, cut into chunks named by hash."""
    import hashlib

    old = json.loads((package / "resources.json").read_text())
    resources = {}
    for key, old_key in (("/models/isnet_fp16", "/models/medium"),
                         ("/models/isnet_quint8", "/models/small")):
        entry, chunks, end = old[old_key], [], 0
        for chunk in entry["chunks"]:
            body = (package / chunk["hash"]).read_bytes()
            start, stop = chunk["offsets"]
            if (start != end or stop - start != len(body)
                    or hashlib.sha256(body).hexdigest() != chunk["hash"]):
                raise RuntimeError(f"{old_key}: chunk {chunk['hash']} does not match")
            (data / chunk["hash"]).write_bytes(body)
            chunks.append({"name": chunk["hash"], "offsets": [start, stop]})
            end = stop
        if end != entry["size"]:
            raise RuntimeError(f"{old_key}: chunks cover {end} of {entry['size']} bytes")
        resources[key] = {"chunks": chunks, "size": entry["size"], "mime": entry["mime"]}
    for name, mime in (("ort-wasm-simd-threaded.wasm", "application/wasm"),
                       ("ort-wasm-simd-threaded.mjs", "text/javascript"),
                       ("ort-wasm-simd-threaded.jsep.wasm", "application/wasm"),
                       ("ort-wasm-simd-threaded.jsep.mjs", "text/javascript")):
        body = (ort_dist / name).read_bytes()
        chunks = []
        for start in range(0, len(body), CHUNK):
            part = body[start:start + CHUNK]
            digest = hashlib.sha256(part).hexdigest()
            (data / digest).write_bytes(part)
            chunks.append({"name": digest, "offsets": [start, start + len(part)]})
        resources[f"/onnxruntime-web/{name}"] = {"chunks": chunks, "size": len(body),
                                                 "mime": mime}
    (data / "resources.json").write_text(json.dumps(resources, indent=1) + "\n")


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """Static files, cross-origin isolated (what the peer's docs ask a host for)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".mjs": "text/javascript", ".wasm": "application/wasm"}

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass


def serve(server) -> str:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


# ------------------------------------------------------------------------------- memory


def browser_pss(profile: str) -> int:
    """Sum of PSS (bytes) over the Chromium processes started with ``profile`` and their
    children."""
    parents: dict[int, int] = {}
    roots = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            if profile in Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace"):
                roots.add(int(entry))
        except OSError:
            continue
    members, grew = set(roots), True
    while grew:
        extra = {pid for pid, parent in parents.items() if parent in members} - members
        members |= extra
        grew = bool(extra)
    total = 0
    for pid in members:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class PeakSampler:
    """Peak of :func:`browser_pss` while it runs, sampled every 100 ms."""

    def __init__(self, profile: str) -> None:
        self.profile, self.peak, self._stop = profile, 0, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, browser_pss(self.profile))
            self._stop.wait(0.1)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------------------- contenders


def parse_timings(text: str) -> dict:
    """The page's run details, ``"read 0.98 s · model 17.40 s · ..."``, as {label: s}."""
    return {label.strip(): float(value)
            for label, value in re.findall(r"([A-Za-z][A-Za-z ]*?) ([\d.]+) s", text)}


class OffcutTab:
    def __init__(self, context, base: str, model: str) -> None:
        self.page = context.new_page()
        self.model = model
        self.page.goto(base + "/")
        self._wait("ready", 300)
        selector = "#model-best" if model == "isnet-medium" else "#model-fast"
        if not self.page.locator(selector).is_checked():
            self.page.locator(selector).check(force=True)
            self._wait("ready", 300)

    def _wait(self, state: str, timeout_s: float) -> None:
        self.page.wait_for_function(
            "s => ['error', s].includes(document.body.dataset.state)", arg=state,
            timeout=timeout_s * 1000)
        if self.page.evaluate("document.body.dataset.state") == "error":
            raise RuntimeError(self.page.locator("#error").inner_text())

    def run(self, photo: Path) -> dict:
        # A marker state the app never sets, so "done" below is this run's.
        self.page.evaluate("document.body.dataset.state = 'bench'")
        watch_first_look(self.page)
        t0 = time.perf_counter()
        self.page.set_input_files("#file-input", str(photo))
        self._wait("done", 600)
        seconds = time.perf_counter() - t0
        stages = parse_timings(self.page.locator("#result-timings").text_content() or "")
        return {"seconds": seconds, "first_cutout": first_cutout_seconds(self.page, seconds),
                "first_look": first_look_stages(self.page), "stages": stages}


def watch_first_look(page) -> None:
    """Record (page clock) when the file is picked and when a first look is first shown."""
    page.evaluate("""() => {
        window.benchLook = { picked: null, shown: null };
        document.getElementById('file-input').addEventListener('change', () => {
            window.benchLook.picked = performance.now();
        }, { once: true });
        const note = document.getElementById('interim-note');
        const observer = new MutationObserver(() => {
            if (!note.hidden && window.benchLook.shown === null) {
                window.benchLook.shown = performance.now();
                observer.disconnect();
            }
        });
        observer.observe(note, { attributes: true, attributeFilter: ['hidden'] });
    }""")


def first_cutout_seconds(page, done_seconds: float) -> float:
    """Pick to the first cutout on screen: the first look when there was one, else the
    result (``done_seconds``)."""
    look = page.evaluate("() => window.benchLook")
    if look and look["picked"] is not None and look["shown"] is not None:
        return (look["shown"] - look["picked"]) / 1000
    return done_seconds


def first_look_stages(page) -> dict:
    """The first look's own stages (prepare, model, compose, encode), seconds; {} if none."""
    text = page.evaluate("() => document.getElementById('interim-note')?.dataset.stages || ''")
    return json.loads(text) if text else {}


class PeerTab:
    def __init__(self, context, base: str) -> None:
        self.page = context.new_page()
        self.base = base
        self.page.goto(base + "/index.html")
        self.page.wait_for_function("() => window.peerReady === true", timeout=60_000)

    def run(self, photo: Path) -> dict:
        """``photo`` must lie in the peer site's ``photos/`` folder (make_photo puts it there)."""
        return self.page.evaluate("url => peerRun(url)", f"{self.base}/photos/{photo.name}")


OFFCUT = ("offcut Best", "offcut Fast")


def contenders(peers: list[str]) -> tuple[str, ...]:
    return OFFCUT + tuple(peer_label(version) for version in peers)


def open_tab(context, bases: dict, label: str):
    """A tab of one contender, loaded and ready for a photo (``bases``: label -> origin for
    the peers, "offcut" -> offcut's)."""
    if label.startswith("imgly"):
        return PeerTab(context, bases[label])
    return OffcutTab(context, bases["offcut"],
                     "isnet-medium" if label == "offcut Best" else "u2netp")


def fresh_browser(playwright, prefix: str):
    """(profile folder, browser context) of a new Chromium with its own profile."""
    profile = tempfile.mkdtemp(prefix=prefix)
    context = playwright.chromium.launch_persistent_context(
        profile, executable_path="/usr/bin/chromium", args=ARGS,
        viewport={"width": 1280, "height": 800})
    return profile, context


# ------------------------------------------------------------------------------- the runs


def make_photo(source: Path, size: tuple[int, int], folder: Path) -> Path:
    image = Image.open(source).convert("RGB").resize(size, Image.BICUBIC)
    path = folder / f"photo-{size[0]}x{size[1]}.jpg"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    path.write_bytes(buffer.getvalue())
    return path


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def side_by_side(playwright, bases: dict, photo: Path, runs: int,
                 labels: tuple[str, ...]) -> dict:
    """Cold run then ``runs`` interleaved warm runs of each contender in one browser."""
    _, context = fresh_browser(playwright, "offcut-peer-")
    try:
        tabs = {label: open_tab(context, bases, label) for label in labels}

        def once(label: str) -> dict:
            tabs[label].page.bring_to_front()
            return tabs[label].run(photo)

        results = {label: {"cold": once(label), "warm": []} for label in tabs}
        for _ in range(runs):
            for label in tabs:
                results[label]["warm"].append(once(label))
        return results
    finally:
        context.close()


def peak_memory(playwright, bases: dict, photo: Path, label: str) -> int:
    """Peak PSS of a fresh browser doing one cold and one warm run of one contender."""
    profile, context = fresh_browser(playwright, "offcut-peer-mem-")
    try:
        with PeakSampler(profile) as sampler:
            tab = open_tab(context, bases, label)
            for _ in range(2):
                tab.run(photo)
        return sampler.peak
    finally:
        context.close()


def start_up(playwright, base: str, photo: Path, repeats: int = 5) -> dict:
    """One profile, visited ``repeats + 2`` times: a first visit, then ``repeats`` repeat
    visits with the default model (load to the page taking a photo, and to 'ready': model
    ready; their medians too, since Chromium's compiled-code cache makes one early repeat
    visit slower and the later ones faster), then "Best" is chosen (downloaded and cached),
    and a repeat visit with Best picks ``photo`` the moment the page takes it: load to the
    first cutout on screen, to Best's model ready, to Best's cutout."""
    profile = tempfile.mkdtemp(prefix="offcut-peer-start-")
    times = {}
    visits = (["first visit"] + [f"repeat visit {n}" for n in range(1, repeats + 1)]
              + ["repeat visit, Best, photo at load"])
    for visit in visits:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", args=ARGS)
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(base + "/")
        # Function form: an expression string would be eval'd, which offcut's CSP forbids.
        # app.js sets a state as soon as it runs; from then on a photo picked while the
        # engine boots goes to the worker at once.
        page.wait_for_function("() => !!document.body.dataset.state", timeout=300_000)
        accepts = time.perf_counter() - t0
        if visit.endswith("photo at load"):
            watch_first_look(page)
            page.set_input_files("#file-input", str(photo))
            page.wait_for_function("() => document.body.dataset.state === 'done'",
                                   timeout=600_000)
            done = time.perf_counter() - t0
            look = page.evaluate("() => window.benchLook")
            model_run = float(parse_timings(page.locator("#result-timings").text_content()
                                            or "").get("model", float("nan")))
            times[visit] = {"accepts": accepts,
                            "first_cutout": (look["shown"] - look["picked"]) / 1000
                            + accepts if look["shown"] is not None else done,
                            "result": done, "model_run_s": model_run}
        else:
            page.wait_for_function("() => document.body.dataset.state === 'ready'",
                                   timeout=300_000)
            times[visit] = {"accepts": accepts, "ready": time.perf_counter() - t0}
            if visit == visits[-2]:  # choose Best: downloaded and cached for the next one
                page.locator("#model-best").check(force=True)
                page.wait_for_function("() => document.body.dataset.state === 'ready'",
                                       timeout=600_000)
        context.close()
    repeat = [times[v] for v in visits[1:-1]]
    if repeat:
        times["repeat visits, median"] = {
            key: median([t[key] for t in repeat]) for key in ("accepts", "ready")}
    return times


def native_model_seconds(model_id: str, runs: int = 5) -> float:
    """Median model-only time of native onnxruntime with 2 intra-op threads."""
    import numpy as np
    import onnxruntime as ort

    from offcut import fetch
    from offcut.records import load_records

    record = load_records()[model_id]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(fetch.runtime_model(record.raw, ROOT / ".cache")), options,
                                   providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    side = record.size
    tensor = np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)
    session.run(None, {name: tensor})
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, {name: tensor})
        times.append(time.perf_counter() - t0)
    return median(times)


# ------------------------------------------------------------------------------- report


def summarise(size: str, results: dict) -> dict:
    summary = {}
    for label, result in results.items():
        warm = [run["seconds"] for run in result["warm"]]
        entry = {"cold_s": result["cold"]["seconds"], "warm_median_s": median(warm),
                 "warm_s": warm}
        if label in OFFCUT:
            entry["first_cutout_median_s"] = median([run["first_cutout"]
                                                     for run in result["warm"]])
            keys = {key for run in result["warm"] for key in run["stages"]}
            entry["stages_median_s"] = {key: median([run["stages"].get(key, 0.0)
                                                     for run in result["warm"]])
                                        for key in sorted(keys)}
        summary[label] = entry
    peers = [label for label in summary if label not in OFFCUT]
    for label in OFFCUT:
        summary[label]["ratio_to"] = {peer: summary[label]["warm_median_s"]
                                      / summary[peer]["warm_median_s"] for peer in peers}
        summary[label]["first_cutout_ratio_to"] = {
            peer: summary[label]["first_cutout_median_s"] / summary[peer]["warm_median_s"]
            for peer in peers}
        if peers:  # the first peer's, under the key earlier reports used
            summary[label]["ratio_to_imgly"] = summary[label]["ratio_to"][peers[0]]
    runs = len(next(iter(results.values()))["warm"])
    print(f"\n## {size}: warm medians of {runs} interleaved runs")
    print("| contender | cold (s) | warm median (s) | "
          + " | ".join(f"/ {peer}" for peer in peers)
          + " | first cutout on screen (s) | " + " | ".join(f"/ {peer}" for peer in peers) + " |")
    print("|---" * (3 + 2 * len(peers)) + "|---|")
    for label, entry in summary.items():
        ratios = entry.get("ratio_to", {})
        first = entry.get("first_cutout_median_s")
        first_ratios = entry.get("first_cutout_ratio_to", {})
        print(f"| {label} | {entry['cold_s']:.2f} | {entry['warm_median_s']:.2f} | "
              + " | ".join(f"{ratios[p]:.2f}x" if p in ratios else "" for p in peers)
              + f" | {'' if first is None else f'{first:.2f}'} | "
              + " | ".join(f"{first_ratios[p]:.2f}x" if p in first_ratios else ""
                           for p in peers) + " |")
    for label in ("offcut Best", "offcut Fast"):
        stages = summary[label]["stages_median_s"]
        print(f"{label} stages: " + " · ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1080p,12mp", help=f"from {', '.join(SIZES)}")
    parser.add_argument("--runs", type=int, default=5, help="warm runs per contender")
    parser.add_argument("--photo", type=Path,
                        default=ROOT.parent / "shared" / "data" / "dev" / "images" / "046.jpg")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--repeat-visits", type=int, default=5,
                        help="repeat visits with the default model in the start-up runs")
    parser.add_argument("--skip-native", action="store_true")
    parser.add_argument("--memory", default="12mp",
                        help="photo size for the peak-memory runs ('' to skip)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"imgly versions to compare with, from {', '.join(PEERS)}")
    parser.add_argument("--memory-contenders", default="",
                        help="comma-separated labels for the memory runs (default: all)")
    args = parser.parse_args()
    peers = [v for v in args.peers.split(",") if v]
    unknown = [v for v in peers if v not in PEERS]
    if unknown:
        parser.error(f"unknown peer version(s) {', '.join(unknown)}: from {', '.join(PEERS)}")
    labels = contenders(peers)
    sizes = [size for size in args.sizes.split(",") if size]
    if not args.photo.exists():
        from skimage import data as samples  # a public-domain sample when ../shared is absent

        args.photo = Path(tempfile.mkdtemp()) / "astronaut.png"
        Image.fromarray(samples.astronaut()).save(args.photo)
    if not (build.DIST / "index.html").exists():
        build.build()
    sites = {peer_label(version): ensure_peer(version) for version in peers}
    # Every photo goes to each peer's photos/ folder (PeerTab fetches it from its own origin).
    photos = Path(tempfile.mkdtemp(prefix="offcut-peer-photos-"))
    report: dict = {"machine": f"{os.cpu_count()} cores", "load_average": os.getloadavg(),
                    "peers": peers, "sizes": {}}
    offcut_server = build.make_server("127.0.0.1", 0)
    servers = [offcut_server]
    bases = {"offcut": serve(offcut_server)}
    for label, site in sites.items():
        (site / "photos").mkdir(exist_ok=True)
        servers.append(http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(IsolatedHandler, directory=str(site))))
        bases[label] = serve(servers[-1])

    def photo_of(size: str) -> Path:
        photo = make_photo(args.photo, SIZES[size], photos)
        for site in sites.values():
            (site / "photos" / photo.name).write_bytes(photo.read_bytes())
        return photo

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        if not args.skip_startup:
            report["start_up"] = start_up(playwright, bases["offcut"], photo_of("12mp"),
                                          args.repeat_visits)
            print("\n## offcut start-up, seconds from load")
            for visit, times in report["start_up"].items():
                print(f"{visit}: " + ", ".join(f"{k} {v:.2f}" for k, v in times.items()))
        for size in sizes:
            results = side_by_side(playwright, bases, photo_of(size), args.runs, labels)
            report["sizes"][size] = summarise(size, results)
            print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.memory:
            photo = photo_of(args.memory)
            report["peak_pss_mib"] = {}
            print(f"\n## peak PSS of the browser's processes, {args.memory}, one browser each")
            chosen = [label for label in args.memory_contenders.split(",") if label] or labels
            for label in chosen:
                peak = peak_memory(playwright, bases, photo, label) / 2**20
                report["peak_pss_mib"][label] = peak
                print(f"{label}: {peak:.0f} MiB")
    report["load_average_end"] = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if not args.skip_native and sizes:
        report["model_only"] = {}
        print("\n## model only: WASM (offcut's warm stage time) vs native onnxruntime, 2 threads")
        first = report["sizes"][sizes[0]]
        for label, model_id in (("offcut Best", "isnet-medium"), ("offcut Fast", "u2netp")):
            wasm = first[label]["stages_median_s"].get("model", float("nan"))
            native = native_model_seconds(model_id)
            report["model_only"][model_id] = {"wasm_s": wasm, "native_s": native}
            print(f"{model_id}: WASM {wasm:.2f} s, native {native:.2f} s, "
                  f"ratio {wasm / native:.2f}x")
    for server in servers:
        server.shutdown()
    if args.json:
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
