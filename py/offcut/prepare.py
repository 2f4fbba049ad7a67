"""``prepare``: image -> model input tensor, as the model record says."""

from __future__ import annotations

import numpy as np
from PIL import Image

from offcut.records import ModelRecord
from offcut.strips import shrink

#: Record names of Pillow's filters for the shrink to the model's input.
RESAMPLE = {
    "bilinear": Image.BILINEAR,
    "bicubic": Image.BICUBIC,
    "lanczos": Image.LANCZOS,
    "box": Image.BOX,
}


#: Pillow shrinks by a whole factor with a box filter first while the image stays at least this
#: many times the target, then applies the filter. 12 MP -> 320x320 LANCZOS: 0.126 s -> 0.031 s
#: on CPython, pixels within 3/255 of the exact filter (mean 0.21/255); 2.0 was 0.022 s but up
#: to 5/255 off.
REDUCING_GAP = 3.0


def prepare(rgb: np.ndarray, record: ModelRecord) -> np.ndarray:
    """Resize and normalise an image for the model.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (H, W, 3)
    record : ModelRecord

    Returns
    -------
    ndarray of float32, shape (N, 3, S, S), C-contiguous
        ``S = record.size``; values ``(pixel / divide_by - mean) / std`` per channel.
        ``N = 2`` when ``record.flip`` (the second view mirrored left to right), else 1;
        the model runs once per view.
    """
    size = record.size
    # Pillow's filters are antialiased when shrinking (support grows with the scale factor).
    # The model's scores depend on matching its published pipeline: u2netp was released
    # with a LANCZOS shrink, and a BILINEAR one cost it IoU on real photos (see the record).
    small = shrink(rgb, (size, size), RESAMPLE[record.resample], REDUCING_GAP)
    pixels = np.asarray(small, dtype=np.float32)
    divisor = max(float(pixels.max()), 1.0) if record.divide_by == "max" else record.divide_by
    pixels /= np.float32(divisor)
    pixels -= np.asarray(record.mean, dtype=np.float32)
    pixels /= np.asarray(record.std, dtype=np.float32)
    planes = pixels.transpose(2, 0, 1)
    if record.flip:
        return np.ascontiguousarray(np.stack([planes, planes[:, :, ::-1]]))
    return np.ascontiguousarray(planes[None])
