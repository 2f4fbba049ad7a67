"""Paths and small helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DEV = ROOT.parent / "shared" / "data" / "dev"
CACHE = ROOT / ".cache"
if str(ROOT / "py") not in sys.path:
    sys.path.insert(0, str(ROOT / "py"))
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # build.py, for its server


def jpeg_bytes(rgb: np.ndarray, quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def subject_photo(folder: Path) -> Path:
    """A JPEG photo with an obvious subject: the shared dev set's 046 when ``../shared`` is
    here, else scikit-image's public-domain astronaut written into ``folder``."""
    source = SHARED_DEV / "images" / "046.jpg"
    if source.exists():
        return source
    from skimage import data

    path = folder / "astronaut.jpg"
    path.write_bytes(jpeg_bytes(data.astronaut()))
    return path


def small_shots(data: bytes, boxes) -> list[tuple[str, bytes]]:
    """Small JPEGs (160x160) of crops of a photo, named ``shot0.jpg``...: cheap for a model.
    ``boxes`` are PIL crop boxes; None is the whole photo."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    shots = []
    for number, box in enumerate(boxes):
        buffer = io.BytesIO()
        (image.crop(box) if box else image).resize((160, 160)).save(buffer, "JPEG", quality=92)
        shots.append((f"shot{number}.jpg", buffer.getvalue()))
    return shots


def write_files(folder: Path, files) -> Path:
    """Write ``(name, bytes)`` pairs into ``folder`` (made if needed); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)
    return folder


def astronaut_outputs(models: list[bytes], record) -> list[np.ndarray]:
    """Each ONNX model's raw output, flat float32, on scikit-image's astronaut prepared for
    ``record`` (a public-domain photo, there on a fresh clone): onnxruntime, 2 threads."""
    import onnxruntime as ort
    from skimage import data

    from offcut.prepare import prepare

    feed = prepare(data.astronaut(), record)[:1]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return [ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
            .run(None, {record.input_name: feed})[record.output_index].reshape(-1)
            for model in models]
