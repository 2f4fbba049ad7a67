"""The built site (``python3 build.py test`` builds dist/ before pytest runs)."""

import hashlib
import json
import re

import pytest

from support import ROOT

DIST = ROOT / "dist"
pytestmark = pytest.mark.skipif(not (DIST / "index.html").exists(), reason="dist/ not built")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pyodide_wheels_match_the_lock():
    lock = json.loads((DIST / "pyodide" / "pyodide-lock.json").read_text())
    assert sorted(lock["packages"]) == ["numpy", "pillow"]
    assert lock["info"]["version"] == "0.27.7"
    for entry in lock["packages"].values():
        assert sha256(DIST / "pyodide" / entry["file_name"]) == entry["sha256"]


def test_model_parts_reassemble_to_the_pinned_hash():
    index = json.loads((DIST / "models" / "index.json").read_text())
    assert {entry["id"] for entry in index} == {"u2netp", "isnet-medium"}
    for entry in index:
        digest = hashlib.sha256()
        for part in entry["parts"]:
            data = (DIST / part["url"]).read_bytes()
            assert len(data) == part["bytes"] <= 4 * 1024 * 1024
            digest.update(data)
        assert digest.hexdigest() == entry["sha256"]


def test_notices_name_every_shipped_asset():
    notices = (DIST / "NOTICES.txt").read_text()
    for needle in ("Pyodide 0.27.7", "MPL-2.0", "numpy 2.0.2", "Pillow 10.2.0",
                   "onnxruntime-web 1.30.0", "u2netp", "Apache-2.0", "isnet-medium", "AGPL-3.0"):
        assert needle in notices, needle
    # Each file a browser may download is named by its hash: Best's two, Fast's one.
    for entry in json.loads((DIST / "models" / "index.json").read_text()):
        assert entry["sha256"] in notices and entry["source_sha256"] in notices
        if "cpu" in entry:
            assert entry["cpu"]["sha256"] in notices


def test_page_has_a_strict_csp_and_no_third_party_origin():
    html = (DIST / "index.html").read_text()
    csp = re.search(r'http-equiv="Content-Security-Policy"\s+content="([^"]+)"', html)
    assert csp, "no CSP meta tag"
    policy = csp.group(1)
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    for path in DIST.rglob("*"):
        if path.suffix in (".html", ".js", ".css") and path.parent.name not in ("ort", "pyodide"):
            text = path.read_text()
            assert not re.search(r"""(src|href)=["']https?://""", text), path
            assert "fetch('http" not in text and 'fetch("http' not in text, path


def test_service_worker_has_a_build_id_and_precache_list():
    sw = (DIST / "sw.js").read_text()
    manifest = json.loads((DIST / "precache.json").read_text())
    assert "__BUILD_ID__" not in sw and manifest["build"] in sw
    assert "index.html" in manifest["files"] and "worker.js" in manifest["files"]
    # Everything needed to start, models/index.json included; the model parts live in IndexedDB.
    assert "models/index.json" in manifest["files"] and "py/offcut.zip" in manifest["files"]
    assert [n for n in manifest["files"] if n.startswith("models/")] == ["models/index.json"]


def test_precache_manifest_hashes_every_file_and_the_service_worker_has_them():
    manifest = json.loads((DIST / "precache.json").read_text())
    assert sorted(manifest["sha256"]) == manifest["files"]
    for name, digest in manifest["sha256"].items():
        assert sha256(DIST / name) == digest, name
    sw = (DIST / "sw.js").read_text()
    inlined = re.search(r"const FILES = (\{.*?\});", sw, re.S)
    assert inlined and json.loads(inlined.group(1)) == manifest["sha256"]


def test_no_file_is_over_a_hosts_per_file_limit_and_split_binaries_rejoin():
    """Some static hosts refuse files over 25 MiB (onnxruntime's JSEP binary is 27 MiB): such
    files are served in parts, which join to exactly the npm package's file."""
    import build

    largest = max(p.stat().st_size for p in DIST.rglob("*") if p.is_file())
    assert largest <= build.HOST_FILE_LIMIT
    split = json.loads((DIST / "ort" / "split.json").read_text())
    assert "ort-wasm-simd-threaded.jsep.wasm" in split
    npm = ROOT / "web" / "node_modules" / "onnxruntime-web" / "dist"
    for name, parts in split.items():
        assert len(parts) >= 2 and not (DIST / "ort" / name).exists()
        joined = b"".join((DIST / "ort" / part).read_bytes() for part in parts)
        assert hashlib.sha256(joined).digest() == hashlib.sha256((npm / name).read_bytes()).digest()


def test_only_webgpu_files_are_left_for_later_and_the_service_worker_has_them():
    """The JSEP build (ort.min.mjs, its .mjs and its binary's parts) is only loaded by WebGPU
    sessions: sw.js keeps it when first used, not at install. Everything WASM needs stays in."""
    manifest = json.loads((DIST / "precache.json").read_text())
    split = json.loads((DIST / "ort" / "split.json").read_text())
    jsep_parts = [f"ort/{part}" for part in split["ort-wasm-simd-threaded.jsep.wasm"]]
    assert sorted(manifest["lazy"]) == sorted(
        ["ort/ort.min.mjs", "ort/ort-wasm-simd-threaded.jsep.mjs", *jsep_parts])
    assert set(manifest["lazy"]) <= set(manifest["files"])
    for needed in ("ort/ort.wasm.min.mjs", "ort/ort-wasm-simd-threaded.mjs",
                   "ort/ort-wasm-simd-threaded.wasm", "ort/split.json"):
        assert needed in manifest["files"] and needed not in manifest["lazy"], needed
    sw = (DIST / "sw.js").read_text()
    inlined = re.search(r"const LAZY = new Set\((\[.*?\])\);", sw, re.S)
    assert inlined and json.loads(inlined.group(1)) == manifest["lazy"]


def test_two_builds_of_the_same_sources_are_byte_identical(tmp_path):
    """Zips with the clock's time in them gave every build a new id, and every returning
    visitor downloaded the whole app again. Two builds (7 s each here) must agree on every
    byte, precache.json and sw.js (the build id) included."""
    import shutil

    import build

    first, second = tmp_path / "one", tmp_path / "two"
    try:
        build.build(first)
        build.build(second)
        assert (first / "precache.json").read_text() == (second / "precache.json").read_text()
        assert (first / "sw.js").read_text() == (second / "sw.js").read_text()
        names = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
        assert names == sorted(
            p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file())
        for name in names:
            assert (first / name).read_bytes() == (second / name).read_bytes(), name
    finally:
        shutil.rmtree(first, ignore_errors=True)
        shutil.rmtree(second, ignore_errors=True)
