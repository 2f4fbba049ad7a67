"""The bytecode build.py ships for Pyodide (py/stdlib.zip, py/bytecode.zip): Pyodide is booted
in Node from dist/ the way web/python-host.js boots it, and every module offcut's start imports must
come from bytecode that Python accepts, not from its source."""

import json
import re
import shutil
import subprocess

import pytest

import build
from support import ROOT

DIST = ROOT / "dist"
pytestmark = [
    pytest.mark.skipif(not (DIST / "py" / "bytecode.zip").exists(), reason="dist/ not built"),
    pytest.mark.skipif(shutil.which("node") is None, reason="needs Node (the build does too)"),
]

#: Boots as web/python-host.js does; prints the report of CHECK_PY.
BOOT_JS = r"""
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [dist, offcutDir] = process.argv.slice(-2);
const { loadPyodide } = await import(pathToFileURL(dist + '/pyodide/pyodide.mjs').href);
const pyodide = await loadPyodide({ indexURL: dist + '/pyodide/',
                                    stdLibURL: dist + '/py/stdlib.zip' });
const lock = JSON.parse(readFileSync(dist + '/pyodide/pyodide-lock.json', 'utf8'));
const site = pyodide.runPython("import site; site.getsitepackages()[0]");
for (const name of ['numpy', 'pillow']) {
  const wheel = new Uint8Array(readFileSync(dist + '/pyodide/' + lock.packages[name].file_name));
  pyodide.unpackArchive(wheel.buffer, 'wheel', { extractDir: site });
}
const archive = (name) => new Uint8Array(readFileSync(dist + '/py/' + name)).buffer;
pyodide.unpackArchive(archive('offcut.zip'), 'zip', { extractDir: offcutDir });
pyodide.unpackArchive(archive('bytecode.zip'), 'zip', { extractDir: '/' });
pyodide.globals.set('offcut_dir', offcutDir);
console.log(pyodide.runPython(readFileSync(0, 'utf8')));
"""

#: For each module loaded from Python source or bytecode: where it came from and whether its
#: cached bytecode is one Python uses without recompiling.
CHECK_PY = r"""
import importlib.util, json, sys
sys.path.insert(0, offcut_dir)
import offcut.web

def usable(pyc, source):
    # 16-byte header: magic, flags (1 = hash-based, not checked), source hash.
    return (pyc[:4] == importlib.util.MAGIC_NUMBER and int.from_bytes(pyc[4:8], "little") == 1
            and pyc[8:16] == importlib.util.source_hash(source))

report = {}
for name, module in list(sys.modules.items()):
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    if ".zip/" in origin:  # zipimport: __file__ names the file it loaded
        report[name] = {"kind": "stdlib", "file": module.__file__}
    elif origin.endswith(".py"):
        cached = importlib.util.cache_from_source(origin)
        try:
            ok = usable(open(cached, "rb").read(), open(origin, "rb").read())
        except FileNotFoundError:
            ok = False
        report[name] = {"kind": "file", "file": origin, "usable": ok}
json.dumps(report)
"""


@pytest.fixture(scope="module")
def report():
    result = subprocess.run(
        ["node", "--no-warnings", "--input-type=module", "-e", BOOT_JS, "--", str(DIST),
         build.OFFCUT_PY_DIR], input=CHECK_PY, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_worker_unpacks_offcut_where_its_bytecode_was_made_for():
    worker = (ROOT / "web" / "python-host.js").read_text()
    assert re.search(r"const OFFCUT_PY_DIR = '([^']+)'", worker).group(1) == build.OFFCUT_PY_DIR


def test_standard_library_modules_load_from_bytecode(report):
    stdlib = {name: entry["file"] for name, entry in report.items() if entry["kind"] == "stdlib"}
    assert {"re", "json", "dataclasses", "zipfile"} <= stdlib.keys()
    from_source = sorted(name for name, path in stdlib.items() if not path.endswith(".pyc"))
    assert from_source == []


def test_numpy_pillow_and_offcut_have_usable_bytecode(report):
    files = {name: entry for name, entry in report.items() if entry["kind"] == "file"}
    assert {"numpy", "numpy._core.multiarray", "PIL.Image", "offcut.web",
            "offcut.pipeline"} <= files.keys()
    assert sorted(name for name, entry in files.items() if not entry["usable"]) == []
