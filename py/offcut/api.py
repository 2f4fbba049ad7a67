"""The Python API: ``offcut.remove(image) -> image`` and :class:`Remover`.

    import offcut

    cutout = offcut.remove(open("photo.jpg", "rb").read())        # PNG bytes
    remover = offcut.Remover("u2netp")                              # the model stays loaded
    image = remover.remove(PIL.Image.open("photo.jpg"), background="white")

The options are the browser's export panel, as keyword arguments; they build the same
:class:`offcut.pipeline.ExportOptions` and the same files as the ``offcut`` command.
Bad input raises :class:`offcut.errors.OffcutError` subclasses with the codes the CLI
reports (``corrupt-image``, ``image-too-small``, ``invalid-option``...).
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import numpy as np
from PIL import Image

from offcut import compose, fetch, layout, pipeline
from offcut.decode import MIN_SIDE, Decoded, _srgb_pixels, check_size, decode
from offcut.errors import InvalidOption, OffcutError, OutOfMemory
from offcut.prepare import prepare
from offcut.records import ModelRecord, load_records

#: The model ``remove()`` and the ``offcut`` command use unless told: IS-Net ("Best").
DEFAULT_MODEL = "isnet-medium"

#: What :func:`remove` takes: encoded file bytes, a path, a PIL image or uint8 pixels.
ImageInput = bytes | bytearray | memoryview | str | os.PathLike | Image.Image | np.ndarray
Data = TypeVar("Data", bytes, Image.Image, np.ndarray)


def cache_dir() -> Path:
    """Where models are kept: $OFFCUT_CACHE, the checkout's .cache/, or ~/.cache/offcut."""
    if os.environ.get("OFFCUT_CACHE"):
        return Path(os.environ["OFFCUT_CACHE"])
    checkout = Path(__file__).resolve().parents[2] / ".cache"
    return checkout if checkout.is_dir() else Path.home() / ".cache" / "offcut"


def make_runner(model_path: Path, record: ModelRecord, threads: int | None = None,
                spinning: bool = False):
    """An onnxruntime session wrapped as ``run(input, run_options=None) -> mask output``.

    Parameters
    ----------
    model_path : Path
        The ONNX file.
    record : ModelRecord
        Names the input tensor and the output index.
    threads : int or None
        onnxruntime's intra-op threads; None is its default (one per physical core).
    spinning : bool
        Let idle pool threads busy-wait for the next operator (onnxruntime's default).

    Returns
    -------
    callable
        ``run(model_input, run_options=None)``: ``model_input`` float32 (N, 3, S, S) ->
        the model's output for each view, concatenated on axis 0. ``run_options`` (an
        ``onnxruntime.RunOptions``) lets another thread stop a run (``terminate = True``).
        Safe to call from several threads at once (onnxruntime's ``run`` is).

    Raises
    ------
    InvalidOption
        The file lacks the record's input or output.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # Between operators the pool's threads would spin, holding both cores of a small machine
    # while a batch decodes and encodes the neighbouring photos on them (see docs/python.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    session = onnxruntime.InferenceSession(
        str(model_path), options, providers=["CPUExecutionProvider"]
    )
    inputs = [tensor.name for tensor in session.get_inputs()]
    outputs = session.get_outputs()
    if record.input_name not in inputs or record.output_index >= len(outputs):
        raise InvalidOption(f"{model_path.name} does not have {record.id}'s input "
                            f"{record.input_name!r} and output #{record.output_index} "
                            f"(it has inputs {inputs})")
    output_name = outputs[record.output_index].name

    def run(model_input, run_options=None):
        # The models take one view at a time (their batch size is fixed at 1).
        return np.concatenate([
            session.run([output_name], {record.input_name: model_input[i : i + 1]},
                        run_options)[0]
            for i in range(len(model_input))])

    return run


def _load_runner(record: ModelRecord, threads: int | None, model_file: Path | None):
    """The cached, verified model (fetched on first use) or ``model_file``, as a runner."""
    if model_file is None:
        return make_runner(fetch.runtime_model(record.raw, cache_dir()), record, threads)
    path = Path(model_file)
    if not path.is_file():
        raise InvalidOption(f"model file {path}: no such file")
    try:
        return make_runner(path, record, threads)
    except (KeyboardInterrupt, MemoryError):
        raise
    except OffcutError:
        raise
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InvalidOption(f"model file {path} is not a usable ONNX model for {record.id}: "
                            f"{reason}") from exc


# ----------------------------------------------------------------------------- options


def _shadow(value) -> dict | None:
    """``shadow=`` -> the browser's shadow dict: True (defaults), an opacity 0..1, a dict
    (``opacity``, ``blur``, ``offset``) or a :class:`offcut.pipeline.Shadow`."""
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, pipeline.Shadow):
        return {"opacity": value.opacity, "blur": value.blur, "offset": list(value.offset)}
    if isinstance(value, dict):
        unknown = set(value) - {"opacity", "blur", "offset"}
        if unknown:
            raise InvalidOption(f"shadow= takes opacity, blur and offset, not {sorted(unknown)}")
        return dict(value)
    if isinstance(value, int | float):
        return {"opacity": float(value)}
    raise InvalidOption(f"shadow= wants True, an opacity 0..1 or a dict, got {value!r}")


def _background(value) -> tuple[str | None, bytes | None]:
    """``background=`` -> (ExportOptions.background, background photo bytes or None).

    A string is a colour (``"#rrggbb"``, ``"white"``) or ``"blur"``; bytes, a Path or a PIL
    image is a background photo (checked to decode now, before any model work).
    """
    if value is None:
        return None, None
    if isinstance(value, str):
        if value != "blur":
            compose.parse_colour(value)
        return value, None
    if isinstance(value, Image.Image):
        buffer = io.BytesIO()
        value.save(buffer, "PNG", compress_level=1)
        return "photo", buffer.getvalue()
    if isinstance(value, os.PathLike):
        value = Path(value).read_bytes()
    if isinstance(value, bytes | bytearray | memoryview):
        photo = bytes(value)
        decode(photo)  # a bad photo is the caller's error now, not after the model ran
        return "photo", photo
    raise InvalidOption(f"background= wants a colour, 'blur' or a photo, got "
                        f"{type(value).__name__}")


def _positive(name: str, value, low: int, high: int | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low \
            or (high is not None and value > high):
        upper = f"..{high}" if high is not None else " or more"
        raise InvalidOption(f"{name}= must be an integer {low}{upper}, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """The options of one :meth:`Remover.remove` call, checked.

    Attributes
    ----------
    export : ExportOptions
        How the cutout is rendered.
    background_photo : bytes or None
        Encoded background photo for ``background="photo"``.
    refine : bool
        Edge-aware refinement of the matte (the CLI's ``--no-refine`` is False).
    """

    export: pipeline.ExportOptions
    background_photo: bytes | None
    refine: bool


def settings(
    *,
    background=None,
    shadow=None,
    crop: bool = False,
    margin: str | float = "5%",
    preset: str | None = None,
    canvas: tuple[int, int] | None = None,
    fill: float = 0.85,
    format: str | None = None,  # noqa: A002 - the browser's and the CLI's name for it
    quality: int | None = None,
    max_size: int | None = None,
    mask: bool = False,
    refine: bool = True,
    edges: dict | None = None,
) -> Settings:
    """Check the keyword options of :func:`remove` and build its :class:`Settings`.

    Every check runs here, before any model work. Raises InvalidOption with one sentence.
    """
    background_name, photo = _background(background)
    _positive("quality", quality, 1, 100)
    _positive("max_size", max_size, 1)
    layout.parse_margin(margin)
    if canvas is not None:
        if len(canvas) != 2 or any(int(side) < 1 for side in canvas):
            raise InvalidOption(f"canvas= wants (width, height) of at least 1 px, got {canvas}")
    if preset == "custom" and canvas is None:
        raise InvalidOption("preset='custom' needs canvas=(width, height)")
    if not 0 < float(fill) <= 1:
        raise InvalidOption(f"fill= must be in (0, 1], got {fill}")
    if edges is not None:
        if not isinstance(edges, dict) or set(edges) - {"shift", "feather", "solid"}:
            raise InvalidOption(f"edges= takes a dict of shift, feather and solid, got {edges!r}")
    export = pipeline.ExportOptions.from_dict({
        "background": background_name, "format": format, "quality": quality,
        "shadow": _shadow(shadow), "crop": bool(crop), "margin": str(margin), "preset": preset,
        "canvas": canvas, "fill": float(fill), "max_size": max_size, "mask": bool(mask),
        "edges": edges,
    })
    if export.shadow is not None:
        if not 0 <= export.shadow.opacity <= 1 or export.shadow.blur < 0:
            raise InvalidOption(f"shadow opacity must be 0..1 and blur >= 0, got {shadow!r}")
    return Settings(export, photo, bool(refine))


# ----------------------------------------------------------------------------- inputs


def _decoded_image(image: Image.Image) -> Decoded:
    """A PIL image -> :class:`Decoded`, through the decoder's own mode and colour handling.

    Its pixels are taken as they are: an EXIF orientation in ``image.info`` is not applied
    (a PIL image is what the caller sees, perhaps already turned).
    """
    check_size(*image.size, min_side=MIN_SIDE)
    try:
        image.load()
        rgb, alpha, colour_info = _srgb_pixels(image, image.info.get("icc_profile"))
    except (OSError, ValueError) as exc:
        from offcut.errors import CorruptImage

        raise CorruptImage(f"the image cannot be read: {exc}") from exc
    from offcut import colour

    info = {"format": image.format or "PIL", "mode": image.mode, "width": int(rgb.shape[1]),
            "height": int(rgb.shape[0]), "frames": 1, "orientation": 1, **colour_info}
    return Decoded(rgb=rgb, alpha=alpha, icc_profile=colour.srgb_profile(), info=info)


def _decoded_array(array: np.ndarray) -> Decoded:
    """uint8 (H, W, 3) or (H, W, 4) sRGB pixels -> :class:`Decoded` (alpha kept if any < 255)."""
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim != 3 \
            or array.shape[2] not in (3, 4):
        raise InvalidOption(f"pixels must be uint8 (H, W, 3) or (H, W, 4), got "
                            f"{getattr(array, 'dtype', type(array).__name__)} "
                            f"{getattr(array, 'shape', '')}")
    height, width = array.shape[:2]
    check_size(width, height, min_side=MIN_SIDE)
    alpha = None
    if array.shape[2] == 4:
        alpha = np.ascontiguousarray(array[..., 3])
        alpha = None if alpha.min() == 255 else alpha
    from offcut import colour

    return Decoded(rgb=np.ascontiguousarray(array[..., :3]), alpha=alpha,
                   icc_profile=colour.srgb_profile(),
                   info={"format": "array", "mode": "RGBA" if array.shape[2] == 4 else "RGB",
                         "width": width, "height": height, "frames": 1, "orientation": 1,
                         "colour": "srgb", "profile": None})


def read_input(data: ImageInput) -> tuple[str, Decoded]:
    """(kind, decoded) for any input :func:`remove` takes; kind is "bytes", "image" or
    "array" (a path reads as bytes).

    Raises
    ------
    EmptyFile, CorruptImage, UnsupportedFormat, ImageTooLarge, ImageTooSmall
        As the CLI reports them.
    InvalidOption
        Something that is not an image (a number, a float array...).
    OSError
        A path that cannot be read (the CLI's ``[io]``).
    """
    if isinstance(data, str | os.PathLike):
        data = Path(data).read_bytes()
    if isinstance(data, bytes | bytearray | memoryview):
        return "bytes", decode(bytes(data), min_side=MIN_SIDE)
    if isinstance(data, Image.Image):
        return "image", _decoded_image(data)
    if isinstance(data, np.ndarray):
        return "array", _decoded_array(data)
    raise InvalidOption(f"remove() takes bytes, a path, a PIL image or a uint8 array, not "
                        f"{type(data).__name__}")


# ----------------------------------------------------------------------------- the remover


class Remover:
    """A loaded model and the pipeline around it; reuse it for many photos.

    One instance may be shared by threads: the only state is the onnxruntime session,
    whose ``run`` is thread-safe; every call's arrays are its own.

    Parameters
    ----------
    model : str
        A model id from ``models/*.json``: ``"isnet-medium"`` (Best, 45.9 MB, the default) or
        ``"u2netp"`` (fast, 4.6 MB).
    threads : int or None
        onnxruntime's intra-op threads (default: one per physical core).
    model_file : path or None
        An ONNX file to use instead of the cached, verified one.
    runner : callable or None
        ``run(model_input) -> output`` instead of onnxruntime (tests, other runtimes).

    Raises
    ------
    InvalidOption
        An unknown model id or an unusable ``model_file``.
    offcut.fetch.FetchError
        The model could not be downloaded or failed its checksum.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, threads: int | None = None,
                 model_file: str | os.PathLike | None = None,
                 runner: Callable[..., np.ndarray] | None = None):
        records = load_records()
        if model not in records:
            raise InvalidOption(f"unknown model {model!r}; choose from {sorted(records)}")
        self.record: ModelRecord = records[model]
        t0 = time.perf_counter()
        self._run = runner or _load_runner(self.record, threads,
                                           None if model_file is None else Path(model_file))
        #: True when runs take onnxruntime ``RunOptions`` (another thread may stop them).
        self.stoppable = runner is None
        #: Seconds spent creating the session (0 when a runner was given).
        self.load_seconds = time.perf_counter() - t0 if runner is None else 0.0

    @property
    def model(self) -> str:
        """The model's id."""
        return self.record.id

    # The three steps, for callers that overlap them (offcut.batch) ---------------------

    def start(self, data: ImageInput) -> pipeline.Job:
        """Decode ``data`` and build the model input (no model work)."""
        t0 = time.perf_counter()
        _, decoded = read_input(data)
        t1 = time.perf_counter()
        model_input = prepare(decoded.rgb, self.record)
        return pipeline.Job(decoded, self.record, model_input,
                            {"decode": t1 - t0, "prepare": time.perf_counter() - t1})

    def infer(self, job: pipeline.Job, run_options=None) -> np.ndarray:
        """Run the model on ``job.model_input``; float32 output, one mask per view.

        ``run_options`` (an ``onnxruntime.RunOptions``) lets another thread stop the run.
        """
        t0 = time.perf_counter()
        output = self._run(job.model_input) if run_options is None \
            else self._run(job.model_input, run_options)
        job.timings["model"] = time.perf_counter() - t0
        return output

    def complete(self, job: pipeline.Job, output: np.ndarray, refine: bool = True
                 ) -> pipeline.Cutout:
        """Model output -> full-resolution :class:`offcut.pipeline.Cutout`.

        Raises NoSubjectFound when nothing was kept.
        """
        return pipeline.complete(job, output, refine_edges=refine)

    # One call ---------------------------------------------------------------------------

    def cutout(self, data: ImageInput, *, refine: bool = True) -> pipeline.Cutout:
        """The cutout of ``data`` before any export option: foreground colours (uint8
        (H, W, 3)) and alpha (uint8 (H, W)) at the source's size."""
        with _memory_as_error():
            job = self.start(data)
            return self.complete(job, self.infer(job), refine)

    @overload
    def remove(self, data: bytes | bytearray | memoryview | str | os.PathLike, **options: Any
               ) -> bytes: ...
    @overload
    def remove(self, data: Image.Image, **options: Any) -> Image.Image: ...
    @overload
    def remove(self, data: np.ndarray, **options: Any) -> np.ndarray: ...

    def remove(self, data, **options):
        """Remove the background of one image; returns the same kind it was given.

        Parameters
        ----------
        data : bytes, path, PIL.Image.Image or ndarray of uint8, shape (H, W, 3) or (H, W, 4)
            Encoded file bytes (any format the CLI reads), a path to such a file, a PIL
            image, or sRGB pixels.
        **options
            The keyword options of :func:`remove` (except ``model``).

        Returns
        -------
        bytes, PIL.Image.Image or ndarray of uint8
            Bytes (or a path) in: the encoded file the CLI would write (PNG unless ``format``
            or a preset says otherwise). A PIL image in: an ``RGBA`` image (``RGB`` on a
            background, ``L`` with ``mask=True``). An array in: uint8 (H, W, 4), (H, W, 3)
            on a background, or (H, W) with ``mask=True``.

        Raises
        ------
        OffcutError
            With the CLI's codes: ``empty-file``, ``corrupt-image``, ``unsupported-format``,
            ``image-too-large``, ``image-too-small``, ``no-subject``, ``invalid-option``,
            ``out-of-memory``.
        """
        if "model" in options:
            if options.pop("model") != self.model:
                raise InvalidOption(f"this Remover holds {self.model}; make another for a "
                                    "different model (or call offcut.remove(model=...))")
        chosen = settings(**options)
        kind = _kind(data)
        if kind != "bytes" and (chosen.export.fmt or chosen.export.quality):
            raise InvalidOption("format= and quality= apply to encoded bytes; a PIL image or "
                                "an array comes back as pixels")
        cut = self.cutout(data, refine=chosen.refine)
        with _memory_as_error():
            return _output(cut, chosen, kind)


def _kind(data) -> str:
    if isinstance(data, Image.Image):
        return "image"
    if isinstance(data, np.ndarray):
        return "array"
    return "bytes"


class _memory_as_error:
    """Turn MemoryError into :class:`OutOfMemory` (code ``out-of-memory``, as the CLI says)."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is not None and issubclass(kind, MemoryError):
            raise OutOfMemory("ran out of memory on this image") from value
        return False


def _output(cut: pipeline.Cutout, chosen: Settings, kind: str):
    """The rendered result in the kind the caller gave."""
    if kind == "bytes":
        return pipeline.render(cut, chosen.export, chosen.background_photo)[0]
    if chosen.export.is_plain():
        # The file would be exactly this RGBA image: no encode and decode of it.
        image = compose.rgba_image(cut.foreground, cut.alpha)
    else:
        # Any other option: the PNG the CLI would write, decoded, so the pixels are that
        # file's by construction (one code path for crop, canvas, shadow and backgrounds).
        encoded = pipeline.render(cut, chosen.export, chosen.background_photo)[0]
        image = Image.open(io.BytesIO(encoded))
        image.load()
    if kind == "image":
        return image.copy() if image.readonly else image
    return np.array(image, dtype=np.uint8)


# ----------------------------------------------------------------------------- remove()

_removers: dict[tuple[str, int | None], Remover] = {}
_removers_lock = threading.Lock()


def remover(model: str = DEFAULT_MODEL, threads: int | None = None) -> Remover:
    """The process's shared :class:`Remover` for ``model``, created on first use."""
    key = (model, threads)
    with _removers_lock:
        if key not in _removers:
            _removers[key] = Remover(model, threads=threads)
        return _removers[key]


@overload
def remove(data: bytes | bytearray | memoryview | str | os.PathLike, *, model: str = ...,
           **options: Any) -> bytes: ...
@overload
def remove(data: Image.Image, *, model: str = ..., **options: Any) -> Image.Image: ...
@overload
def remove(data: np.ndarray, *, model: str = ..., **options: Any) -> np.ndarray: ...


def remove(
    data,
    *,
    model: str = DEFAULT_MODEL,
    background: str | bytes | os.PathLike | Image.Image | None = None,
    shadow: bool | float | dict | pipeline.Shadow | None = None,
    crop: bool = False,
    margin: str | float = "5%",
    preset: Literal["marketplace", "social", "passport", "custom"] | None = None,
    canvas: tuple[int, int] | None = None,
    fill: float = 0.85,
    format: Literal["png", "jpeg", "webp"] | None = None,  # noqa: A002 - the browser's name
    quality: int | None = None,
    max_size: int | None = None,
    mask: bool = False,
    refine: bool = True,
    edges: dict | None = None,
):
    """Remove the background of one image, as the browser and the ``offcut`` command do.

    The model is loaded on the first call for it and kept (see :func:`remover`); for
    explicit control, make a :class:`Remover`.

    Parameters
    ----------
    data : bytes, str or path, PIL.Image.Image, or ndarray of uint8 shape (H, W, 3|4)
        The photo: encoded file bytes or a path (JPEG, PNG, WebP, TIFF, GIF, BMP...), a PIL
        image (any mode; its ICC profile is honoured), or sRGB pixels.
    model : {"isnet-medium", "u2netp"}
        Best (IS-Net, 45.9 MB int8, the default) or Fast (U2-Netp, 4.6 MB).
    background : None, str, bytes, path or PIL.Image.Image
        Transparent (None), a colour (``"#rrggbb"``, ``"white"``), ``"blur"`` (the original,
        blurred) or a background photo (cover-fitted).
    shadow : None, True, float, dict or Shadow
        A soft drop shadow: True for the defaults, an opacity 0..1, or
        ``{"opacity": 0.15, "blur": 0.03, "offset": (0, 0.02)}`` (fractions of the subject's
        longer side).
    crop : bool
        Crop to the subject plus ``margin`` (``"5%"`` of its longer side or ``"40px"``).
    preset : {"marketplace", "social", "passport", "custom"} or None
        An output canvas; ``"custom"`` takes ``canvas=(width, height)`` and ``fill`` (0..1].
    format : {"png", "jpeg", "webp"} or None
        Encoding of a bytes result (PNG unless a preset says otherwise); JPEG is on white
        unless ``background`` says otherwise.
    quality : int or None
        JPEG/WebP quality 1..100 (default 92).
    max_size : int or None
        Limit the output's long edge (px).
    mask : bool
        Return the alpha matte alone (greyscale).
    refine : bool
        Edge-aware refinement of the matte (default True).
    edges : dict or None
        ``{"shift": px, "feather": px, "solid": bool}``: move the edge out (+) or in (-),
        soften it, make the inside opaque (the browser's Edges controls).

    Returns
    -------
    bytes, PIL.Image.Image or ndarray of uint8
        The same kind as ``data`` (a path gives bytes): see :meth:`Remover.remove`.

    Raises
    ------
    OffcutError
        ``empty-file``, ``corrupt-image``, ``unsupported-format``, ``image-too-large``,
        ``image-too-small``, ``no-subject``, ``invalid-option``, ``out-of-memory``: the codes
        the CLI prints for the same input.
    OSError
        A path that cannot be read.

    Examples
    --------
    >>> import offcut
    >>> png = offcut.remove(open("photo.jpg", "rb").read())            # doctest: +SKIP
    >>> jpeg = offcut.remove("photo.jpg", background="white", format="jpeg")  # doctest: +SKIP
    """
    options = dict(background=background, shadow=shadow, crop=crop, margin=margin,
                   preset=preset, canvas=canvas, fill=fill, format=format, quality=quality,
                   max_size=max_size, mask=mask, refine=refine, edges=edges)
    settings(**options)  # bad options fail before the model is loaded
    return remover(model).remove(data, **options)
