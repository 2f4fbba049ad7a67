"""One list of security headers: build.py's server sends it, the built service worker adds it,
and the README's host snippets copy it."""

from __future__ import annotations

import json
import re
import threading
import urllib.request

import pytest

import build
from support import ROOT

README = (ROOT / "README.md").read_text()


def fenced_block(after: str) -> str:
    """The first fenced code block after the line containing ``after``."""
    start = README.index(after)
    match = re.search(r"```[a-z]*\n(.*?)```", README[start:], re.S)
    assert match, f"no code block after {after!r}"
    return match.group(1)


def test_readme_headers_file_lists_every_security_header():
    block = fenced_block("(`dist/_headers`)")
    every_file = block.split("\n/\n")[0]
    assert every_file.startswith("/*\n")
    found = dict(line.strip().split(": ", 1) for line in every_file.splitlines()[1:])
    assert found == build.SECURITY_HEADERS
    for path in ("/", "/index.html", "/sw.js", "/precache.json"):
        assert f"\n{path}\n  Cache-Control: no-cache" in "\n" + block


def test_readme_nginx_snippet_lists_every_security_header():
    block = fenced_block("nginx (")
    found = dict(re.findall(r'add_header (\S+) "(.*)" always;', block))
    assert found == build.SECURITY_HEADERS


@pytest.mark.skipif(not (build.DIST / "sw.js").exists(), reason="dist/ not built")
def test_built_service_worker_carries_the_same_headers():
    sw = (build.DIST / "sw.js").read_text()
    match = re.search(r"const HEADERS = (\{.*?\});", sw)
    assert match and json.loads(match.group(1)) == build.SECURITY_HEADERS


def test_build_server_sends_every_security_header(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "a.wasm").write_bytes(b"\0asm")
    server = build.make_server("127.0.0.1", 0, tmp_path)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        for path, cache in (("/", "no-cache"), ("/a.wasm", None)):
            with urllib.request.urlopen(base + path) as response:
                for name, value in build.SECURITY_HEADERS.items():
                    assert response.headers[name] == value, (path, name)
                assert response.headers["Cache-Control"] == cache
    finally:
        server.shutdown()
        server.server_close()
