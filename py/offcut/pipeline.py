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

from offcut import compose, effects, layout, strips, touchup
from offcut.decode import MIN_SIDE, Decoded, check_size, decode
from offcut.edges import EdgeOptions, apply_edges
from offcut.encode import FORMATS, MIME_TYPES, encode
from offcut.errors import InvalidOption, NoSubjectFound
from offcut.finish import finish, with_source_alpha
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
    model_input: np.ndarray  # float32 (N, 3, S, S): N views, see offcut.prepare
    timings: dict = field(default_factory=dict)
    #: A reduced copy of ``decoded`` for a first look by a small model (offcut.quick).
    quick: Decoded | None = None


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
    #: The model's output and record it was finished from: :func:`refinish` makes the cutout
    #: again with other edge settings, without running the model (float32, model size).
    model_output: np.ndarray | None = field(default=None, repr=False, compare=False)
    record: ModelRecord | None = field(default=None, repr=False, compare=False)
    refined: bool = True
    #: Work reused by every render of this cutout (strokes applied, the reduced copy for
    #: previews, the decoded background photo); see :func:`preview`.
    cache: dict = field(default_factory=dict, repr=False, compare=False)


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
    edges : EdgeOptions
        Edge shift, feather and a solid inside (:mod:`offcut.edges`), applied to the alpha
        before the strokes.
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
    edges: EdgeOptions = EdgeOptions()

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
            edges=_edge_options(data.get("edges")),
        )

    def is_plain(self) -> bool:
        """True when the output is the cutout as it is: a full-size transparent PNG."""
        return (self.background is None and self.resolved_format() == "png" and not self.shadow
                and not self.crop and not self.preset and not self.max_size and not self.mask
                and not self.strokes and not self.edges.active)

    def resolved_format(self) -> str:
        if self.mask:
            return "png"
        if self.fmt:
            return self.fmt
        if self.preset in layout.PRESETS:
            return layout.PRESETS[self.preset].fmt
        return "png"


def start(data: bytes, record: ModelRecord, progress: Progress = _no_progress, *,
          shrink: bool = False) -> Job:
    """Decode ``data`` and build the model input (float32 ``(1, 3, S, S)``). ``shrink``: a
    photo over the pixel limit is reduced to fit (see :func:`offcut.decode.decode`)."""
    t0 = time.perf_counter()
    progress("decode", 0, 1)
    decoded = decode(data, min_side=MIN_SIDE, shrink=shrink)
    t1 = time.perf_counter()
    progress("prepare", 0, 1)
    model_input = prepare(decoded.rgb, record)
    t2 = time.perf_counter()
    return Job(decoded, record, model_input, {"decode": t1 - t0, "prepare": t2 - t1})


def start_pixels(
    rgba: np.ndarray, record: ModelRecord, fmt: str = "unknown", progress: Progress = _no_progress
) -> Job:
    """Like :func:`start`, for pixels another decoder produced (the browser's, for formats
    Pillow cannot read here: AVIF, HEIC in Safari, JPEG 2000).

    Parameters
    ----------
    rgba : ndarray of uint8, shape (H, W, 4)
        Upright (the decoder applied the EXIF orientation), not premultiplied.
    fmt : str
        The format's name, for ``info``.
    """
    t0 = time.perf_counter()
    progress("decode", 0, 1)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise InvalidOption(f"pixels must be uint8 (H, W, 4), got {rgba.dtype} {rgba.shape}")
    height, width = rgba.shape[:2]
    check_size(width, height, min_side=MIN_SIDE)  # the same limits as our own decoder's
    alpha = np.ascontiguousarray(rgba[..., 3])
    decoded = Decoded(
        rgb=np.ascontiguousarray(rgba[..., :3]),
        alpha=None if alpha.min() == 255 else alpha,
        icc_profile=None,
        info={"format": fmt, "mode": "RGBA", "width": width, "height": height, "frames": 1,
              "orientation": 1, "decoder": "browser"},
    )
    t1 = time.perf_counter()
    progress("prepare", 0, 1)
    model_input = prepare(decoded.rgb, record)
    return Job(decoded, record, model_input, {"decode": t1 - t0,
                                              "prepare": time.perf_counter() - t1})


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
    # Quantised tile by tile: a full-size float32 alpha would be 96 MB at 24 MP.
    alpha8 = with_source_alpha(finish(output, job.record, job.decoded.rgb,
                                      refine_edges=refine_edges, dtype=np.uint8),
                               job.decoded.alpha)
    if layout.subject_box(alpha8) is None:
        # A blank, fully transparent "result" would look like success; say what happened.
        raise NoSubjectFound("the model found no subject in this image")
    t1 = time.perf_counter()
    progress("refine", 1, 2)
    colour = estimate_foreground(job.decoded.rgb, alpha8)
    t2 = time.perf_counter()
    progress("refine", 2, 2)
    timings = dict(job.timings, finish=t1 - t0, foreground=t2 - t1)
    return Cutout(colour, alpha8, job.decoded, timings, model_output=output, record=job.record,
                  refined=refine_edges)


def refinish(cutout: Cutout, *, refine_edges: bool, progress: Progress = _no_progress) -> Cutout:
    """The cutout made again from the same model output with edge refinement on or off: what
    :func:`complete` would give, without running the model again (about a second at 12 MP,
    against seconds to tens of seconds for Best's model)."""
    if cutout.model_output is None or cutout.record is None:
        raise InvalidOption("this cutout keeps no model output to finish again")
    if cutout.refined == refine_edges:
        return cutout
    timings = {k: v for k, v in cutout.timings.items() if k not in ("finish", "foreground")}
    job = Job(cutout.decoded, cutout.record, np.empty((0,), np.float32), timings)
    return complete(job, cutout.model_output, refine_edges=refine_edges, progress=progress)


#: The longest side a preview is ever rendered at, whatever the screen asks.
PREVIEW_CAP = 2560
#: Previews come from a copy of the cutout reduced to this long side (made once per image),
#: unless the output shows a small part of the photo larger than that copy holds.
REDUCED_SIDE = 2560


@dataclass(frozen=True)
class Geometry:
    """Where the source lands in the output, in full-resolution output pixels.

    Attributes
    ----------
    box : (left, top, right, bottom)
        The part of the source kept (source pixels, exclusive).
    size : (width, height)
        The output file's size.
    place : (x, y, width, height)
        Where ``box`` is drawn in the output. It fills the output unless a canvas preset
        leaves room around it.
    canvas : bool
        True when a canvas preset places the subject on a larger, transparent canvas.
    """

    box: tuple[int, int, int, int]
    size: tuple[int, int]
    place: tuple[float, float, float, float]
    canvas: bool


@dataclass
class Preview:
    """A render at screen resolution of exactly what :func:`render` would save.

    Attributes
    ----------
    after : ndarray of uint8, shape (h, w, 4), or None
        The composition (background, shadow, crop, canvas), RGBA (None from
        :func:`preview_before`).
    before : ndarray of uint8, shape (h, w, 4), or None
        The original photo through the same crop and canvas, for the before/after view
        (None when :func:`preview` was asked to leave it out).
    size : (width, height)
        The full-size file's pixel size (``after`` has the same aspect, smaller).
    """

    after: np.ndarray | None
    before: np.ndarray | None
    size: tuple[int, int]


def _edge_options(data: dict | None) -> EdgeOptions:
    """``{"shift": px, "feather": px, "solid": bool}`` (any key may be left out)."""
    data = data or {}
    try:
        return EdgeOptions(shift=int(data.get("shift", 0)), feather=float(data.get("feather", 0)),
                           solid=bool(data.get("solid", False)))
    except (TypeError, ValueError) as exc:
        raise InvalidOption(f"bad edge options {data!r}: {exc}") from exc


def _preset(options: ExportOptions):
    if options.preset == "custom":
        if not options.canvas:
            raise InvalidOption("a custom canvas needs a width and height")
        return layout.Preset("custom", "Custom", *options.canvas, options.fill, background=None,
                             fmt="png")
    return layout.PRESETS.get(options.preset) if options.preset else None


def geometry(alpha8: np.ndarray, options: ExportOptions) -> Geometry:
    """Crop box, canvas placement and size limit for ``options``, in full-resolution pixels.

    Parameters
    ----------
    alpha8 : ndarray of uint8, shape (H, W)
        The cutout's alpha (after touch-up strokes).
    """
    height, width = alpha8.shape
    box = (0, 0, width, height)
    if options.crop or options.preset:
        found = layout.subject_box(alpha8)
        if found is not None:
            box = layout.margin_box(found, options.margin if options.crop else 0, width, height)
    box_w, box_h = box[2] - box[0], box[3] - box[1]
    preset = _preset(options)
    if preset is None:
        size, place = (box_w, box_h), (0.0, 0.0, float(box_w), float(box_h))
    else:
        if not 0 < preset.fill <= 1:
            raise InvalidOption(f"fill must be in (0, 1], got {preset.fill}")
        scale = preset.fill * min(preset.width / box_w, preset.height / box_h)
        layer_w, layer_h = max(1, round(box_w * scale)), max(1, round(box_h * scale))
        x = (preset.width - layer_w) // 2
        y = preset.height - layer_h if preset.anchor == "bottom" else (preset.height - layer_h) // 2
        size, place = (preset.width, preset.height), (float(x), float(y), float(layer_w),
                                                      float(layer_h))
    if options.max_size and max(size) > options.max_size:
        limit = options.max_size / max(size)
        limited = (max(1, round(size[0] * limit)), max(1, round(size[1] * limit)))
        factors = (limited[0] / size[0], limited[1] / size[1])
        place = (place[0] * factors[0], place[1] * factors[1], place[2] * factors[0],
                 place[3] * factors[1])
        size = limited
    return Geometry(box, size, place, preset is not None)


def render(
    cutout: Cutout,
    options: ExportOptions = ExportOptions(),
    background_photo: bytes | None = None,
) -> tuple[bytes, str]:
    """Encode a cutout with its export options at full size; returns ``(file bytes, mime)``.

    Order: touch-up strokes -> crop -> canvas preset -> size limit -> shadow -> background.
    :func:`preview` runs the same composition at screen resolution.
    """
    fmt = options.resolved_format()
    pixels, preset, _ = _compose(cutout, options, background_photo, None)
    if options.mask:
        return encode(pixels, "png"), MIME_TYPES["PNG"]
    quality = options.quality or (preset.quality if preset else 92)
    data = encode(pixels, fmt, quality=quality, icc_profile=cutout.decoded.icc_profile)
    return data, MIME_TYPES[FORMATS[fmt]]


def preview(
    cutout: Cutout,
    options: ExportOptions = ExportOptions(),
    background_photo: bytes | None = None,
    max_side: int = 1024,
    before: bool = True,
) -> Preview:
    """What :func:`render` would save, composed by the same code at screen resolution.

    The output's long side is at most ``max_side`` (capped by :data:`PREVIEW_CAP`, never
    larger than the file). No full-resolution work is done after the first call for an
    image: the cutout is reduced once and kept (see :func:`_reduced`). ``before=False``
    leaves ``Preview.before`` out (None); :func:`preview_before` makes it later.
    """
    max_side = _preview_side(max_side)
    after, _, shape = _compose(cutout, options, background_photo, max_side)
    after = np.asarray(after, dtype=np.uint8)
    if after.ndim == 2:  # the mask alone: show it as grey
        after = np.repeat(after[..., None], 3, axis=2)
    if after.shape[2] == 3:
        after = np.dstack([after, np.full(after.shape[:2], 255, np.uint8)])
    original = _before(cutout, options, shape, after.shape[:2]) if before else None
    return Preview(np.ascontiguousarray(after), original, shape.size)


def preview_before(cutout: Cutout, options: ExportOptions = ExportOptions(),
                   max_side: int = 1024) -> Preview:
    """Only the ``before`` of :func:`preview` with the same arguments (``after`` is None).

    A new result's first view leads with the cutout, so its original can come a moment
    after it, outside the time the user waits for the photo.
    """
    alpha8, _ = _stroked(cutout, options)
    shape = geometry(alpha8, options)
    width, height = _view_size(shape, _preview_side(max_side))
    return Preview(None, _before(cutout, options, shape, (height, width)), shape.size)


def _preview_side(max_side: int) -> int:
    return max(16, min(int(max_side), PREVIEW_CAP))


def _view_size(shape: Geometry, max_side: int) -> tuple[int, int]:
    """(width, height) of a view of the file whose long side is at most ``max_side``."""
    scale = min(1.0, max_side / max(shape.size))
    return max(1, round(shape.size[0] * scale)), max(1, round(shape.size[1] * scale))


def _edited_key(options: ExportOptions) -> str:
    """What the edited alpha depends on: the edge options and the strokes."""
    return repr((options.edges, options.strokes))


def _stroked(cutout: Cutout, options: ExportOptions) -> tuple[np.ndarray, np.ndarray]:
    """(alpha8, colour) with the edge options, then the touch-up strokes applied (kept for the
    last options: a slider moved again reuses nothing, a background changed reuses it all)."""
    if not options.strokes and not options.edges.active:
        return cutout.alpha, cutout.foreground
    key = _edited_key(options)
    cached = cutout.cache.get("strokes")
    if cached is None or cached[0] != key:
        cached = None  # let the old edit go before making the new one (Pyodide's heap)
        cutout.cache.pop("strokes", None)
        alpha8, colour = apply_edges(cutout.alpha, options.edges), cutout.foreground
        if options.strokes:
            alpha8, colour = touchup.apply_strokes(alpha8, colour, cutout.decoded.rgb,
                                                   list(options.strokes))
        cached = cutout.cache["strokes"] = (key, alpha8, colour)
        cutout.cache.pop("reduced", None)
    return cached[1], cached[2]


def _reduced(cutout: Cutout, options: ExportOptions, alpha8, colour):
    """(factor, RGBA image) of the cutout at :data:`REDUCED_SIDE`, made once."""
    key = _edited_key(options)
    cached = cutout.cache.get("reduced")
    if cached is None or cached[0] != key:
        height, width = alpha8.shape
        # A whole-pixel box reduction to at most REDUCED_SIDE (4000 px -> 2000, 6000 -> 2000):
        # an exact area average (premultiplied for RGBA, like resize), about 7x faster than a
        # LANCZOS shrink of a 12 MP photo, and the views are resampled from it once more.
        # In strips: no full-size RGBA image exists for it (96 MB at 24 MP).
        step = _reduction(width, height)
        layer = strips.reduce(colour, "RGBA", (step, step), alpha=alpha8)
        cached = cutout.cache["reduced"] = (key, layer.size[0] / width, layer)
    return cached[1], cached[2]


def _reduced_source(cutout: Cutout):
    """(factor, RGB image) of the original photo, reduced as :func:`_reduced`, made once
    (only views that show the original need it)."""
    cached = cutout.cache.get("reduced source")
    if cached is None:
        rgb = cutout.decoded.rgb
        height, width = rgb.shape[:2]
        step = _reduction(width, height)
        source = strips.reduce(rgb, "RGB", (step, step))
        cached = cutout.cache["reduced source"] = (source.size[0] / width, source)
    return cached


def _reduction(width: int, height: int) -> int:
    """The whole-pixel factor that brings the long side to at most :data:`REDUCED_SIDE`."""
    return -(-max(width, height) // REDUCED_SIDE)


def _draw(image: Image.Image, factor: float, shape: Geometry, out_size, canvas_mode: str,
          exact: bool) -> Image.Image:
    """Draw ``shape.box`` of ``image`` (the source scaled by ``factor``) into an output of
    ``out_size`` (the file's size scaled by out_size / shape.size)."""
    scale_x, scale_y = out_size[0] / shape.size[0], out_size[1] / shape.size[1]
    x, y, w, h = shape.place
    target = (max(1, round(w * scale_x)), max(1, round(h * scale_y)))
    # Crop first: resampling then repeats the box's edge pixels instead of reading what lies
    # beyond it, as the full-size render does (a subject standing on the edge stays on it).
    crop = tuple(round(v * factor) for v in shape.box)
    layer = image.crop(crop) if crop != (0, 0, *image.size) else image
    if layer.size != target:
        # Pillow resamples RGBA premultiplied, so transparent pixels' colours never bleed in.
        layer = layer.resize(target, Image.LANCZOS, reducing_gap=None if exact else 3.0)
    if not shape.canvas:
        return layer
    canvas = Image.new(canvas_mode, out_size, (0,) * len(canvas_mode))
    canvas.paste(layer, (round(x * scale_x), round(y * scale_y)))
    return canvas


def _compose(cutout, options, background_photo, max_side):
    """(output, preset, geometry): the output at full size when ``max_side`` is None.

    The output is uint8 pixels (H, W) for the mask, (H, W, 3) on a background, or, for a
    transparent result, an RGBA ``Image`` (encoded as it is).
    """
    alpha8, colour = _stroked(cutout, options)
    shape = geometry(alpha8, options)
    preset = _preset(options)
    if max_side is None and _whole(shape, alpha8.shape):
        # The file is the cutout's own pixels: composed from its arrays, with no full-size
        # copy of them (Pyodide's heap never shrinks: a 50 MP download kept ~600 MB more).
        layer, out_size = None, shape.size
    else:
        layer, out_size = _layer(cutout, options, shape, alpha8, colour, max_side)
    if options.mask:
        mask = alpha8 if layer is None else np.asarray(layer.getchannel("A"), dtype=np.uint8)
        return mask, preset, shape
    fmt = options.resolved_format()
    background = _background(options, preset, fmt, cutout, shape, out_size, background_photo,
                             max_side)
    if background is None and options.shadow is None:
        # Transparent: the RGBA layer is the file, byte for byte what composite would make.
        # rgba_image clears what alpha hides; a drawn layer is cleared again, since
        # resampling can leave a level of colour under a pixel whose alpha rounds to 0.
        if layer is None:
            return compose.rgba_image(colour, alpha8), preset, shape
        return compose.clear_hidden(layer), preset, shape
    if layer is not None:
        pixels = np.asarray(layer, dtype=np.uint8)
        del layer
        alpha8, colour = np.ascontiguousarray(pixels[..., 3]), np.ascontiguousarray(pixels[..., :3])
        del pixels
    shadow8 = None
    if options.shadow is not None:
        shadow8 = effects.drop_shadow(alpha8, options.shadow.opacity, options.shadow.blur,
                                      options.shadow.offset)
    return effects.composite(colour, alpha8, shadow8, background), preset, shape


def _whole(shape: Geometry, source_shape) -> bool:
    """True when the file is the whole source at its own size (no crop, canvas or limit)."""
    height, width = source_shape[:2]
    # Without a canvas the box fills the output, so these two say it all.
    return (not shape.canvas and tuple(shape.box) == (0, 0, width, height)
            and tuple(shape.size) == (width, height))


def _layer(cutout, options, shape: Geometry, alpha8, colour, max_side):
    """(RGBA Image of the subject drawn as the output places it, output size)."""
    if max_side is None:
        out_size, factor, exact = shape.size, 1.0, True
        layer_source = compose.rgba_image(colour, alpha8)
    else:
        out_size = _view_size(shape, max_side)
        needed = out_size[0] / shape.size[0] * shape.place[2] / (shape.box[2] - shape.box[0])
        factor, layer_source = _reduced(cutout, options, alpha8, colour)
        if factor < needed:  # a small part of a big photo, enlarged: use the full size
            factor, layer_source = 1.0, compose.rgba_image(colour, alpha8)
        exact = False
    return _draw(layer_source, factor, shape, out_size, "RGBA", exact), out_size


def _before(cutout, options, shape: Geometry, out_shape) -> np.ndarray:
    """The original photo through the output's crop and canvas, RGBA (h, w, 4)."""
    factor, source = _reduced_source(cutout)
    out_size = (out_shape[1], out_shape[0])
    drawn = _draw(source.convert("RGBA") if shape.canvas else source, factor, shape, out_size,
                  "RGBA", False)
    return np.ascontiguousarray(np.asarray(drawn.convert("RGBA"), dtype=np.uint8))


def _background(options, preset, fmt, cutout, shape, size, background_photo, max_side):
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
        key = ("photo", len(background_photo), hash(background_photo))
        cached = cutout.cache.get("photo")
        if cached is None or cached[0] != key:
            cached = cutout.cache["photo"] = (key,
                                              effects.open_background_photo(background_photo))
        return effects.cover_fit(cached[1], *size)
    if choice == "blur":
        if max_side is None:
            factor, rgb = 1.0, cutout.decoded.rgb
        else:
            factor, source = _reduced_source(cutout)
            rgb = np.asarray(source, dtype=np.uint8)
        left, top, right, bottom = (round(v * factor) for v in shape.box)
        original = effects.blurred(rgb)[top:bottom, left:right]
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
    there is no stem. Never a hidden file: leading dots are left out (``.beach.jpg`` ->
    ``beach-cutout.png``, ``..jpg`` -> ``image-cutout.png``)."""
    stem = PurePath(source_name or "").stem.lstrip(".") or "image"
    if mask:
        return f"{stem}-mask.png"
    extension = "jpg" if FORMATS.get(fmt.lower()) == "JPEG" else fmt.lower()
    return f"{stem}-cutout.{extension}"
