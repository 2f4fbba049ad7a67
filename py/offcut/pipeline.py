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
from PIL import Image

from offcut import compose, effects, layout, touchup
from offcut.decode import MIN_SIDE, Decoded, decode
from offcut.encode import FORMATS, MIME_TYPES, encode
from offcut.errors import InvalidOption, NoSubjectFound
from offcut.finish import finish, quantise_alpha
from offcut.foreground import estimate_foreground
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
class Shadow:
    """Drop shadow: opacity 0..1; blur and offset as fractions of the subject's longer side."""

    opacity: float = 0.15
    blur: float = 0.03
    offset: tuple[float, float] = (0.0, 0.02)


@dataclass(frozen=True)
class ExportOptions:
    """How to render a cutout into a file. The browser and the CLI both build one of these.

    Attributes
    ----------
    background : None, "#rrggbb"/"white", "blur" (the original, blurred) or "photo"
        ``"photo"`` uses the bytes given to :func:`render` as ``background_photo``.
    fmt, quality : output encoding; None means the preset's default, else PNG.
    shadow : Shadow or None
    crop : bool
        Crop to the subject's bounding box plus ``margin`` ("5%" of its longer side, or "40px").
    preset : None, a name from :data:`offcut.layout.PRESETS`, or "custom" (``canvas``, ``fill``).
    max_size : int or None
        Downscale so the long edge is at most this.
    mask : bool
        Export the alpha matte alone, as a greyscale PNG.
    strokes : tuple of dict
        Touch-up brush strokes (see :mod:`offcut.touchup`), in source pixels.
    """

    background: str | None = None
    fmt: str | None = None
    quality: int | None = None
    shadow: Shadow | None = None
    crop: bool = False
    margin: str = "5%"
    preset: str | None = None
    canvas: tuple[int, int] | None = None
    fill: float = 0.85
    max_size: int | None = None
    mask: bool = False
    strokes: tuple = ()

    @classmethod
    def from_dict(cls, data: dict | None) -> ExportOptions:
        """From the JSON the browser sends (keys as the attribute names; ``format`` = fmt)."""
        data = dict(data or {})
        fmt = data.get("format", data.get("fmt"))
        fmt = str(fmt).lower() if fmt else None
        if fmt is not None and fmt not in FORMATS:
            raise InvalidOption(f"unknown format {fmt!r}")
        shadow = data.get("shadow")
        if shadow:
            shadow = Shadow(
                opacity=float(shadow.get("opacity", 0.15)),
                blur=float(shadow.get("blur", 0.03)),
                offset=tuple(float(v) for v in shadow.get("offset", (0.0, 0.02))),
            )
        preset = data.get("preset") or None
        if preset is not None and preset != "custom" and preset not in layout.PRESETS:
            raise InvalidOption(f"unknown preset {preset!r}")
        canvas = data.get("canvas")
        return cls(
            background=data.get("background") or None,
            fmt=fmt,
            quality=int(data["quality"]) if data.get("quality") is not None else None,
            shadow=shadow or None,
            crop=bool(data.get("crop", False)),
            margin=str(data.get("margin", "5%")),
            preset=preset,
            canvas=(int(canvas[0]), int(canvas[1])) if canvas else None,
            fill=float(data.get("fill", 0.85)),
            max_size=int(data["max_size"]) if data.get("max_size") else None,
            mask=bool(data.get("mask", False)),
            strokes=tuple(data.get("strokes") or ()),
        )

    def is_plain(self) -> bool:
        """True when the output is the cutout as it is: a full-size transparent PNG."""
        return (self.background is None and self.resolved_format() == "png" and not self.shadow
                and not self.crop and not self.preset and not self.max_size and not self.mask
                and not self.strokes)

    def resolved_format(self) -> str:
        if self.mask:
            return "png"
        if self.fmt:
            return self.fmt
        if self.preset in layout.PRESETS:
            return layout.PRESETS[self.preset].fmt
        return "png"


def start(data: bytes, record: ModelRecord, progress: Progress = _no_progress) -> Job:
    """Decode ``data`` and build the model input (float32 ``(1, 3, S, S)``)."""
    t0 = time.perf_counter()
    progress("decode", 0, 1)
    decoded = decode(data, min_side=MIN_SIDE)
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
    if layout.subject_box(alpha8) is None:
        # A blank, fully transparent "result" would look like success; say what happened.
        raise NoSubjectFound("the model found no subject in this image")
    t1 = time.perf_counter()
    progress("refine", 1, 2)
    colour = estimate_foreground(job.decoded.rgb, alpha8)
    t2 = time.perf_counter()
    progress("refine", 2, 2)
    timings = dict(job.timings, finish=t1 - t0, foreground=t2 - t1)
    return Cutout(colour, alpha8, job.decoded, timings)


def render(
    cutout: Cutout,
    options: ExportOptions = ExportOptions(),
    background_photo: bytes | None = None,
) -> tuple[bytes, str]:
    """Encode a cutout with its export options; returns ``(file bytes, mime type)``.

    Order: touch-up strokes -> crop -> canvas preset -> size limit -> shadow -> background.
    """
    alpha8, colour = cutout.alpha, cutout.foreground
    if options.strokes:
        alpha8, colour = touchup.apply_strokes(alpha8, colour, cutout.decoded.rgb,
                                               list(options.strokes))
    height, width = alpha8.shape
    box = (0, 0, width, height)
    if options.crop or options.preset:
        found = layout.subject_box(alpha8)
        if found is not None:
            box = layout.margin_box(found, options.margin if options.crop else 0, width, height)
    layer = Image.fromarray(compose.rgba(colour, alpha8), "RGBA")
    if box != (0, 0, width, height):
        layer = layer.crop(box)
    preset = layout.PRESETS.get(options.preset) if options.preset else None
    if options.preset == "custom":
        if not options.canvas:
            raise InvalidOption("a custom canvas needs a width and height")
        preset = layout.Preset("custom", "Custom", *options.canvas, options.fill, background=None,
                               fmt="png")
    if preset is not None:
        layer, _ = layout.place_on_canvas(layer, preset.width, preset.height, preset.fill,
                                          preset.anchor)
    layer = layout.limit_long_edge(layer, options.max_size)
    pixels = np.asarray(layer, dtype=np.uint8)
    alpha8, colour = np.ascontiguousarray(pixels[..., 3]), np.ascontiguousarray(pixels[..., :3])
    fmt = options.resolved_format()
    if options.mask:
        return encode(alpha8, "png"), MIME_TYPES["PNG"]
    out_h, out_w = alpha8.shape
    shadow8 = None
    if options.shadow is not None:
        shadow8 = effects.drop_shadow(alpha8, options.shadow.opacity, options.shadow.blur,
                                      options.shadow.offset)
    background = _background(options, preset, fmt, cutout, box, (out_w, out_h), background_photo)
    pixels = effects.composite(colour, alpha8, shadow8, background)
    quality = options.quality or (preset.quality if preset else 92)
    data = encode(pixels, fmt, quality=quality, icc_profile=cutout.decoded.icc_profile)
    return data, MIME_TYPES[FORMATS[fmt]]


def _background(options, preset, fmt, cutout, box, size, background_photo):
    """The opaque background array or colour, or None for a transparent result."""
    choice = options.background
    if choice is None and preset is not None:
        choice = preset.background
    if choice is None and FORMATS[fmt] == "JPEG":
        choice = "white"  # JPEG has no transparency
    if choice is None:
        return None
    if choice == "photo":
        if not background_photo:
            raise InvalidOption("choose a background photo first")
        return effects.cover_fit(effects.open_background_photo(background_photo), *size)
    if choice == "blur":
        left, top, right, bottom = box
        original = effects.blurred(cutout.decoded.rgb)[top:bottom, left:right]
        return effects.cover_fit(Image.fromarray(original, "RGB"), *size)
    return compose.parse_colour(choice)


def low_resolution_warning(info: dict, threshold: int = 1500) -> str | None:
    """A warning (not an error) when the source is small: edges look soft when enlarged."""
    long_edge = max(info["width"], info["height"])
    if long_edge < threshold:
        return f"the source's long edge is {long_edge} px (under {threshold}): edges will look " \
               "soft when enlarged"
    return None


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


def output_name(source_name: str, fmt: str = "png", mask: bool = False) -> str:
    """``holiday.JPG`` -> ``holiday-cutout.png`` (``-mask.png`` for a matte); ``image`` when
    there is no stem."""
    stem = PurePath(source_name or "").stem or "image"
    if mask:
        return f"{stem}-mask.png"
    extension = "jpg" if FORMATS.get(fmt.lower()) == "JPEG" else fmt.lower()
    return f"{stem}-cutout.{extension}"
