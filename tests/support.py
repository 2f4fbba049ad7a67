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
