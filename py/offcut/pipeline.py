"""The sans-IO pipeline: ``start`` (bytes -> model input) and ``complete`` (model output ->
cutout), with the model run by the caller in between (onnxruntime on CPython,
onnxruntime-web in the browser). ``render`` turns a cutout into file bytes.

Progress callbacks everywhere have the signature ``progress(stage, done, total)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

from offcut import compose, refine
from offcut.decode import Decoded, decode
from offcut.encode import FORMATS, MIME_TYPES, encode
from offcut.errors import InvalidOption
from offcut.finish import finish, quantise_alpha
from offcut.prepare import prepare
from offcut.records import ModelRecord

Progress = Callable[[str, int, int], None]


def _no_progress(stage: str, done: int, total: int) -> None:
    return None


@dataclass
class Job:
    """A decoded image waiting for its model output."""

    decoded: Decoded
    record: ModelRecord
    model_input: np.ndarray  # float32 (1, 3, S, S)
    timings: dict = field(default_factory=dict)


@dataclass
class Cutout:
    """A finished cutout at the source's full resolution.

    Attributes
    ----------
    foreground : ndarray of uint8, shape (H, W, 3)
        Estimated foreground colours (the source where alpha is 0 or 255).
    alpha : ndarray of uint8, shape (H, W)
    decoded : Decoded
        The source, kept for backgrounds made from it and for the before view.
    """

    foreground: np.ndarray
    alpha: np.ndarray
    decoded: Decoded
    timings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ExportOptions:
    """How to render a cutout into a file.

    ``background`` is None (transparent) or a colour (``"#rrggbb"``, ``"white"``).
    ``fmt`` is png, jpeg or webp; JPEG needs a background and gets white when none is given.
    """

    background: str | None = None
    fmt: str = "png"
    quality: int = 92

    @classmethod
    def from_dict(cls, data: dict | None) -> ExportOptions:
        data = dict(data or {})
        fmt = str(data.get("format", data.get("fmt", "png"))).lower()
        if fmt not in FORMATS:
            raise InvalidOption(f"unknown format {fmt!r}")
        return cls(
            background=data.get("background") or None,
            fmt=fmt,
            quality=int(data.get("quality", 92)),
        )


def start(data: bytes, record: ModelRecord, progress: Progress = _no_progress) -> Job:
    """Decode ``data`` and build the model input (float32 ``(1, 3, S, S)``)."""
    t0 = time.perf_counter()
    progress("decode", 0, 1)
    decoded = decode(data)
    t1 = time.perf_counter()
    progress("prepare", 0, 1)
    model_input = prepare(decoded.rgb, record)
    t2 = time.perf_counter()
    return Job(decoded, record, model_input, {"decode": t1 - t0, "prepare": t2 - t1})


def complete(
    job: Job,
    output: np.ndarray,
    *,
    refine_edges: bool = True,
    progress: Progress = _no_progress,
) -> Cutout:
    """Model output -> :class:`Cutout` (alpha and decontaminated foreground, full size)."""
    t0 = time.perf_counter()
    progress("refine", 0, 2)
    alpha = finish(output, job.record, job.decoded.rgb, refine_edges=refine_edges)
    alpha8 = quantise_alpha(alpha, job.decoded.alpha)
    del alpha
    t1 = time.perf_counter()
    progress("refine", 1, 2)
    foreground = refine.estimate_foreground(job.decoded.rgb, alpha8)
    t2 = time.perf_counter()
    progress("refine", 2, 2)
    timings = dict(job.timings, finish=t1 - t0, foreground=t2 - t1)
    return Cutout(foreground, alpha8, job.decoded, timings)


def render(cutout: Cutout, options: ExportOptions = ExportOptions()) -> tuple[bytes, str]:
    """Encode a cutout; returns ``(file bytes, mime type)``."""
    background = options.background
    if FORMATS[options.fmt] == "JPEG" and background is None:
        background = "white"
    if background is None:
        pixels = compose.rgba(cutout.foreground, cutout.alpha)
    else:
        pixels = compose.flatten(cutout.foreground, cutout.alpha, compose.parse_colour(background))
    data = encode(
        pixels, options.fmt, quality=options.quality, icc_profile=cutout.decoded.icc_profile
    )
    return data, MIME_TYPES[FORMATS[options.fmt]]


def cutout(
    data: bytes,
    record: ModelRecord,
    run_model: Callable[[np.ndarray], np.ndarray],
    *,
    refine_edges: bool = True,
    progress: Progress = _no_progress,
) -> Cutout:
    """The whole pipeline with a synchronous model runner (the CLI and tests use this)."""
    job = start(data, record, progress)
    t0 = time.perf_counter()
    progress("model", 0, 1)
    output = run_model(job.model_input)
    job.timings["model"] = time.perf_counter() - t0
    progress("model", 1, 1)
    return complete(job, output, refine_edges=refine_edges, progress=progress)


def output_name(source_name: str, fmt: str = "png") -> str:
    """``holiday.JPG`` -> ``holiday-cutout.png``; falls back to ``image`` without a stem."""
    stem = PurePath(source_name or "").stem or "image"
    extension = "jpg" if FORMATS.get(fmt.lower()) == "JPEG" else fmt.lower()
    return f"{stem}-cutout.{extension}"
