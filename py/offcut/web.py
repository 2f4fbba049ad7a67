"""The browser seam: the only module that imports ``pyodide``/``js``.

The worker (web/worker.js) calls these functions. Each returns a plain JS object:
``{ok: true, ...}`` or ``{ok: false, code, message, details}``, so the worker never has to
parse Python tracebacks. State between calls (the decoded image, the last cutout) lives here.
"""

from __future__ import annotations

import json
import time
import traceback

import numpy as np
from js import Object
from pyodide.ffi import to_js

from offcut import pipeline, quick
from offcut.errors import OffcutError
from offcut.records import ModelRecord

_state: dict = {"job": None, "cutout": None}


def _js(value: dict):
    return to_js(value, dict_converter=Object.fromEntries)


def _guarded(function):
    """Turn exceptions into ``{ok: false, code, message, details}``."""

    def wrapper(*args):
        try:
            return _js({"ok": True, **function(*args)})
        except OffcutError as exc:
            error = {"code": exc.code, "message": str(exc), "details": exc.details}
        except MemoryError:
            error = {"code": "out-of-memory", "message": "Python ran out of memory", "details": {}}
        except Exception as exc:  # noqa: BLE001 - the seam reports every failure to the UI
            error = {"code": "internal", "message": f"{type(exc).__name__}: {exc}",
                     "details": {"trace": traceback.format_exc(limit=6)}}
        return _js({"ok": False, **error})

    wrapper.__name__ = function.__name__
    return wrapper


def _progress(callback):
    if callback is None:
        return lambda stage, done, total: None
    return lambda stage, done, total: callback(stage, done, total)


@_guarded
def start(data, record_json: str, progress=None, shrink: bool = False) -> dict:
    """Decode image bytes (a JS Uint8Array) and return the model input as a Float32Array.
    ``shrink``: a photo over the pixel limit is reduced to fit, not refused."""
    # Free the previous image before decoding the next one.
    _state["job"] = _state["cutout"] = None
    record = ModelRecord.from_dict(json.loads(record_json))
    return _started(pipeline.start(data.to_bytes(), record, _progress(progress),
                                   shrink=bool(shrink)))


@_guarded
def start_pixels(pixels, width: int, height: int, fmt: str, record_json: str,
                 progress=None) -> dict:
    """Like :func:`start`, for RGBA pixels the browser decoded (a JS Uint8Array,
    ``width * height * 4`` bytes, upright, not premultiplied)."""
    _state["job"] = _state["cutout"] = None
    record = ModelRecord.from_dict(json.loads(record_json))
    rgba = np.frombuffer(pixels.to_bytes(), dtype=np.uint8).reshape(int(height), int(width), 4)
    return _started(pipeline.start_pixels(rgba, record, str(fmt), _progress(progress)))


def _started(job) -> dict:
    _state["job"] = job
    info = job.decoded.info
    return {
        "input": memoryview(job.model_input.reshape(-1)),
        "shape": list(job.model_input.shape),
        "width": info["width"],
        "height": info["height"],
        "info": info,
    }


@_guarded
def complete(output, refine_edges: bool, progress=None) -> dict:
    """Take the model's mask (a JS Float32Array) and finish the cutout at full resolution
    (refined alpha and foreground colours, kept for every later preview and download).
    Nothing is encoded here: :func:`preview` shows it, :func:`render` saves it."""
    job = _state["job"]
    if job is None:
        raise OffcutError("no image is waiting for a model output")
    mask = np.frombuffer(output.to_bytes(), dtype=np.float32)
    report = _progress(progress)
    cutout = pipeline.complete(job, mask, refine_edges=bool(refine_edges), progress=report)
    _state["cutout"], _state["job"] = cutout, None
    return {
        "width": int(cutout.alpha.shape[1]),
        "height": int(cutout.alpha.shape[0]),
        "timings": cutout.timings,
    }


@_guarded
def refinish(refine_edges: bool, progress=None) -> dict:
    """Make the last cutout again with edge refinement on or off, from the model output it
    was made from (no model run); answers as :func:`complete` does."""
    cutout = pipeline.refinish(_cutout(), refine_edges=bool(refine_edges),
                               progress=_progress(progress))
    _state["cutout"] = cutout
    return {
        "width": int(cutout.alpha.shape[1]),
        "height": int(cutout.alpha.shape[0]),
        "timings": cutout.timings,
    }


@_guarded
def preview(options_json: str, max_side: int, background_photo=None, known_before: str = "",
            with_before: bool = True) -> dict:
    """Render the last cutout as :func:`render` would, at screen resolution (RGBA pixels).

    ``before`` (the original through the same crop and canvas) is left out when its key
    equals ``known_before``, or when ``with_before`` is false (then :func:`before` makes it
    later, and ``before_key`` is empty).
    """
    cutout = _cutout()
    t0 = time.perf_counter()
    options = pipeline.ExportOptions.from_dict(json.loads(options_json))
    photo = background_photo.to_bytes() if background_photo is not None else None
    shown = pipeline.preview(cutout, options, photo, int(max_side), before=bool(with_before))
    return _shown(shown, shown.size, options, known_before, t0)


@_guarded
def before(options_json: str, max_side: int) -> dict:
    """Only the ``before`` :func:`preview` would give with these arguments, and its key."""
    cutout = _cutout()
    t0 = time.perf_counter()
    options = pipeline.ExportOptions.from_dict(json.loads(options_json))
    shown = pipeline.preview_before(cutout, options, int(max_side))
    height, width = shown.before.shape[:2]
    return {
        "before": memoryview(shown.before.reshape(-1)),
        "before_key": _before_key(shown.size, width, height, options),
        "width": width,
        "height": height,
        "seconds": time.perf_counter() - t0,
    }


def _cutout():
    cutout = _state["cutout"]
    if cutout is None:
        raise OffcutError("there is no cutout to show yet")
    return cutout


def _before_key(size, width: int, height: int, options, key_prefix: str = "") -> str:
    """What a ``before`` depends on: equal keys, equal pixels."""
    return key_prefix + repr((size, width, height, options.crop, options.margin, options.preset,
                              options.canvas, options.fill, options.max_size, options.strokes,
                              options.edges))


def _shown(shown: pipeline.Preview, size, options, known_before: str, t0: float,
           key_prefix: str = "") -> dict:
    """A preview as the worker sends it on (pixels as zero-copy views, the before's key)."""
    height, width = shown.after.shape[:2]
    before_key = _before_key(size, width, height, options, key_prefix)
    if shown.before is None:
        before, before_key = None, ""
    else:
        before = None if before_key == known_before else memoryview(shown.before.reshape(-1))
    return {
        "after": memoryview(shown.after.reshape(-1)),
        "before": before,
        "before_key": before_key,
        "width": width,
        "height": height,
        "out_width": int(size[0]),
        "out_height": int(size[1]),
        "seconds": time.perf_counter() - t0,
    }


@_guarded
def quick_start(record_json: str, max_side: int) -> dict:
    """The small model's input for a first look at the image :func:`start` decoded
    (``offcut.quick``): ``{input: Float32Array view, shape}``."""
    job = _state["job"]
    if job is None:
        raise OffcutError("no image is waiting for a model output")
    record = ModelRecord.from_dict(json.loads(record_json))
    model_input = quick.quick_input(job, record, int(max_side))
    return {"input": memoryview(model_input.reshape(-1)), "shape": list(model_input.shape)}


@_guarded
def quick_preview(output, record_json: str, options_json: str, max_side: int,
                  background_photo=None) -> dict:
    """The small model's output -> the first look, composed as :func:`preview` composes a
    cutout (RGBA pixels at screen size; ``out_width``/``out_height`` are the file's)."""
    job = _state["job"]
    if job is None or job.quick is None:
        raise OffcutError("quick_start was not called for this image")
    t0 = time.perf_counter()
    record = ModelRecord.from_dict(json.loads(record_json))
    mask = np.frombuffer(output.to_bytes(), dtype=np.float32)
    cutout = quick.quick_cutout(job, mask, record)
    options = pipeline.ExportOptions.from_dict(json.loads(options_json))
    photo = background_photo.to_bytes() if background_photo is not None else None
    shown = pipeline.preview(cutout, options, photo, int(max_side))
    size = quick.full_size(shown.size, job.quick, bool(options.preset), options.max_size)
    # Its own "before" key: the chosen model's view always sends its own before image.
    return _shown(shown, size, options, "", t0, key_prefix="quick:")


@_guarded
def render(options_json: str, background_photo=None, progress=None) -> dict:
    """Render the last cutout at full size with export options (see
    ``pipeline.ExportOptions``); ``background_photo`` is a JS Uint8Array when the background
    is a photo."""
    cutout = _state["cutout"]
    if cutout is None:
        raise OffcutError("there is no cutout to export yet")
    options = pipeline.ExportOptions.from_dict(json.loads(options_json))
    report = _progress(progress)
    report("encode", 0, 1)
    photo = background_photo.to_bytes() if background_photo is not None else None
    data, mime = pipeline.render(cutout, options, photo)
    report("encode", 1, 1)
    return {"bytes": memoryview(data), "mime": mime, "format": options.resolved_format()}
