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
