"""Shared fixtures. ``../shared/data/dev`` (real photos with ground truth) is used when it is
beside the checkout; otherwise the tests fall back to scikit-image's public-domain samples."""

from __future__ import annotations

import pytest

from support import CACHE, ROOT, SHARED_DEV, jpeg_bytes


@pytest.fixture(scope="session")
def records():
    from offcut.records import load_records

    return load_records(ROOT / "models")


@pytest.fixture(scope="session")
def model_runner(records):
    """``model_runner(model_id)`` -> ``run(input) -> output`` on CPython onnxruntime."""
    from offcut import cli, fetch

    sessions = {}

    def get(model_id: str):
        if model_id not in sessions:
            record = records[model_id]
            path = fetch.runtime_model(record.raw, CACHE)
            sessions[model_id] = cli.make_runner(path, record, threads=2)
        return sessions[model_id]

    return get


@pytest.fixture(scope="session")
def photo() -> tuple[str, bytes]:
    """(name, JPEG bytes) of a real photo with a clear subject."""
    candidate = SHARED_DEV / "images" / "000.jpg"
    if candidate.exists():
        return candidate.name, candidate.read_bytes()
    from skimage import data

    return "astronaut.jpg", jpeg_bytes(data.astronaut())
