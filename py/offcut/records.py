"""Model records: a model is data (``models/*.json``), not a class.

A record says where the weights come from, how to normalise the input and how to read the
output. Adding a model means adding a JSON file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelRecord:
    """The parts of a model record the pipeline needs.

    Attributes
    ----------
    id : str
        Stable identifier, e.g. ``"u2netp"``.
    input_name : str
        Name of the ONNX input tensor.
    size : int
        Square input side in pixels; the input is ``(1, 3, size, size)`` float32.
    divide_by : float or "max"
        Pixels (0..255) are divided by this first; ``"max"`` divides by the resized image's max.
    resample : str
        Pillow filter that shrinks the photo to ``size`` ("bilinear", "bicubic", "lanczos",
        "box"): what the model was trained and published with.
    mean, std : tuple of 3 floats
        Per-channel ``(x - mean) / std`` applied after the division.
    output_index : int
        Which ONNX output holds the mask, shape ``(1, 1, size, size)``.
    minmax : bool
        Whether the output must be min-max normalised to 0..1 (u2netp), or is 0..1 already.
    refine_radius_scale : float
        Multiplies the edge-refinement filter's radius. IS-Net's mask is already sharp at
        1024 px; half the radius ties bilinear on boundary F instead of losing to it.
    flip : bool
        Run the model a second time on the mirrored photo and average the two outputs
        (mirrored back) before anything else reads them: the input is then two views,
        ``(2, 3, size, size)``, and the output ``(2, 1, size, size)``. Off for both
        models today: for u2netp it raised IoU on the dev subset (0.716 -> 0.748) but
        lowered it on the soft set (0.839 -> 0.815, one photo) and doubled the
        browser-versus-CLI alpha difference on a JPEG (test_app), for twice the model time.
    refine_method : str
        ``"guided"`` or ``"colour"``, see :func:`offcut.refine.refine_coefficients`.
    refine_sharpen, refine_confidence : float or None
        The guided filter's logit gain on the mask and the push towards the side the model
        is sure of (:data:`offcut.refine.SHARPEN`, :data:`offcut.refine.CONFIDENCE_GAMMA`
        when None). A model whose soft output is already close to a matte wants less of
        both (IS-Net: see its record).
    """

    id: str
    input_name: str
    size: int
    divide_by: float | str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output_index: int
    minmax: bool
    raw: dict
    refine_radius_scale: float = 1.0
    resample: str = "bilinear"
    refine_method: str = "guided"
    flip: bool = False
    refine_sharpen: float | None = None
    refine_confidence: float | None = None

    @classmethod
    def from_dict(cls, data: dict) -> ModelRecord:
        inp, out = data["input"], data["output"]
        if inp.get("resample", "bilinear") not in ("bilinear", "bicubic", "lanczos", "box"):
            raise ValueError(f"{data['id']}: unknown resample filter {inp['resample']!r}")
        if data.get("refine_method", "guided") not in ("guided", "colour"):
            raise ValueError(f"{data['id']}: unknown refine method {data['refine_method']!r}")
        divide_by = inp["divide_by"]
        return cls(
            id=data["id"],
            input_name=inp["name"],
            size=int(inp["size"]),
            divide_by=divide_by if divide_by == "max" else float(divide_by),
            mean=tuple(float(v) for v in inp["mean"]),
            std=tuple(float(v) for v in inp["std"]),
            output_index=int(out["index"]),
            minmax=bool(out["minmax"]),
            raw=data,
            refine_radius_scale=float(data.get("refine_radius_scale", 1.0)),
            resample=str(inp.get("resample", "bilinear")),
            refine_method=str(data.get("refine_method", "guided")),
            flip=bool(inp.get("flip", False)),
            refine_sharpen=_optional_float(data.get("refine_sharpen")),
            refine_confidence=_optional_float(data.get("refine_confidence")),
        )


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def default_models_dir() -> Path:
    """``models/`` at the repository root (the package lives in ``py/offcut``)."""
    return Path(__file__).resolve().parents[2] / "models"


def load_records(directory: Path | None = None) -> dict[str, ModelRecord]:
    """Read every ``*.json`` record in ``directory``; returns ``{id: record}``."""
    directory = Path(directory) if directory else default_models_dir()
    records = {}
    for path in sorted(directory.glob("*.json")):
        record = ModelRecord.from_dict(json.loads(path.read_text()))
        records[record.id] = record
    return records
