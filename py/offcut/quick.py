"""A first look while the chosen model is still busy or still loading ("tiered" results).

The small model runs on a reduced copy of the decoded photo; its mask is upsampled to that
copy only (no full-resolution work), and :func:`offcut.pipeline.preview` composes it with the
user's look at screen size. The chosen model's cutout replaces it when ready; this one is
never saved (the page does not offer to download it).

Steps (sans-IO, like :mod:`offcut.pipeline`): :func:`quick_input` -> the caller runs the small
model -> :func:`quick_cutout` -> :func:`offcut.pipeline.preview`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PIL import Image

from offcut.decode import Decoded
from offcut.finish import finish, quantise_alpha
from offcut.foreground import estimate_foreground
from offcut.pipeline import Cutout, Job
from offcut.prepare import prepare
from offcut.records import ModelRecord

#: The reduced copy's long side is never above this, whatever the screen asks: the look is
#: replaced within seconds, and the time it takes is what the user waits for first.
QUICK_CAP = 1280


def reduced_source(decoded: Decoded, max_side: int) -> Decoded:
    """The decoded photo shrunk so its long side is at most ``max_side`` (itself if smaller).

    Returns
    -------
    Decoded
        ``rgb`` uint8 (h, w, 3) and ``alpha`` uint8 (h, w) or None, C-contiguous; ``info``
        is the source's (its ``width``/``height`` stay the full size).
    """
    height, width = decoded.rgb.shape[:2]
    scale = min(1.0, max(16, int(max_side)) / max(width, height))
    if scale >= 1.0:
        return decoded
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # A box (area) average: antialiased like LANCZOS when shrinking by 2x or more, and about
    # 4x faster on a 12 MP photo (0.06 s vs 0.24 s to 1280 px here), which the user waits for.
    rgb = Image.fromarray(decoded.rgb, "RGB").resize(size, Image.BOX)
    alpha = None
    if decoded.alpha is not None:
        alpha = Image.fromarray(decoded.alpha, "L").resize(size, Image.BOX)
        alpha = np.ascontiguousarray(np.asarray(alpha, dtype=np.uint8))
    return replace(decoded, rgb=np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)),
                   alpha=alpha)


def quick_input(job: Job, record: ModelRecord, max_side: int) -> np.ndarray:
    """The small model's input, from a reduced copy of ``job``'s photo (kept in the job).

    Parameters
    ----------
    job : Job
        From :func:`offcut.pipeline.start` (the chosen model's job; it is not changed but
        for the reduced copy it keeps).
    record : ModelRecord
        The small model's record.
    max_side : int
        The view's long side in device pixels (capped at :data:`QUICK_CAP`).

    Returns
    -------
    ndarray of float32, shape (N, 3, S, S)
        As :func:`offcut.prepare.prepare` for ``record``.
    """
    small = reduced_source(job.decoded, min(int(max_side), QUICK_CAP))
    job.quick = small
    return prepare(small.rgb, record)


def quick_cutout(job: Job, output: np.ndarray, record: ModelRecord) -> Cutout:
    """The small model's output -> a cutout of the reduced copy (plain bilinear edges).

    Parameters
    ----------
    job : Job
        The job :func:`quick_input` prepared.
    output : ndarray of float32
        The small model's output (see :func:`offcut.finish.mask_from_output`).
    record : ModelRecord
        The small model's record.

    Returns
    -------
    Cutout
        ``alpha`` uint8 (h, w) and ``foreground`` uint8 (h, w, 3) at the reduced size;
        ``decoded`` is the reduced copy.
    """
    small = job.quick
    if small is None:
        raise ValueError("quick_input was not called for this job")
    alpha = finish(output, record, small.rgb, refine_edges=False)
    alpha8 = quantise_alpha(alpha, small.alpha)
    colour = estimate_foreground(small.rgb, alpha8)
    return Cutout(colour, alpha8, small)


def full_size(preview_size: tuple[int, int], quick: Decoded, preset: bool,
              max_size: int | None) -> tuple[int, int]:
    """The file size a quick preview stands for, as (width, height).

    The quick cutout is the photo reduced, so sizes that come from the photo scale back up;
    a canvas preset fixes the file's size whatever the photo's, and a size limit caps it.
    """
    if preset:
        return preview_size
    factor = int(quick.info.get("width") or quick.rgb.shape[1]) / quick.rgb.shape[1]
    width, height = preview_size[0] * factor, preview_size[1] * factor
    if max_size and max(width, height) > max_size:
        limit = max_size / max(width, height)
        width, height = width * limit, height * limit
    return max(1, round(width)), max(1, round(height))
