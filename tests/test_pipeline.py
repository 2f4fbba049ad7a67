import io

import numpy as np
import pytest
from PIL import Image

from offcut import pipeline
from offcut.errors import InvalidOption
from support import SHARED_DEV


def iou_against_gt(alpha8: np.ndarray, gt: np.ndarray) -> float:
    valid = gt != 128
    predicted, truth = alpha8 >= 128, gt > 128
    return float((predicted & truth & valid).sum() / max(((predicted | truth) & valid).sum(), 1))


def test_cutout_of_a_real_photo_is_full_resolution(records, model_runner, photo):
    name, data = photo
    source = Image.open(io.BytesIO(data))
    result = pipeline.cutout(data, records["u2netp"], model_runner("u2netp"))
    assert result.alpha.dtype == np.uint8 and result.foreground.dtype == np.uint8
    assert result.alpha.shape == (source.height, source.width)
    assert result.foreground.shape == (source.height, source.width, 3)
    # A photo with a subject: some of it is kept, some of it removed.
    coverage = (result.alpha > 127).mean()
    assert 0.02 < coverage < 0.9
    png, mime = pipeline.render(result)
    decoded = Image.open(io.BytesIO(png))
    assert mime == "image/png" and decoded.mode == "RGBA" and decoded.size == source.size
    np.testing.assert_array_equal(np.asarray(decoded)[..., 3], result.alpha)


@pytest.mark.skipif(not SHARED_DEV.exists(), reason="needs ../shared/data/dev (ground truth)")
@pytest.mark.parametrize("model_id", ["u2netp", "isnet-medium"])
def test_mask_matches_ground_truth_on_an_easy_photo(records, model_runner, model_id):
    data = (SHARED_DEV / "images" / "046.jpg").read_bytes()
    gt = np.asarray(Image.open(SHARED_DEV / "gt" / "046.png").convert("L"))
    result = pipeline.cutout(data, records[model_id], model_runner(model_id))
    assert iou_against_gt(result.alpha, gt) >= 0.9


def test_flattened_jpeg_defaults_to_white(records, model_runner, photo):
    _, data = photo
    result = pipeline.cutout(data, records["u2netp"], model_runner("u2netp"))
    jpeg, mime = pipeline.render(result, pipeline.ExportOptions(fmt="jpeg", quality=95))
    assert mime == "image/jpeg"
    pixels = np.asarray(Image.open(io.BytesIO(jpeg)))
    background = result.alpha == 0
    assert pixels[background].mean() > 250  # white where the background was removed


def test_flatten_on_colour_is_exact_where_fully_transparent(records, model_runner, photo):
    _, data = photo
    result = pipeline.cutout(data, records["u2netp"], model_runner("u2netp"))
    png, _ = pipeline.render(result, pipeline.ExportOptions(background="#1e90ff"))
    pixels = np.asarray(Image.open(io.BytesIO(png)))
    assert pixels.shape[2] == 3
    assert (pixels[result.alpha == 0] == (30, 144, 255)).all()
    opaque = result.alpha == 255
    np.testing.assert_array_equal(pixels[opaque], result.decoded.rgb[opaque])


def test_progress_reports_every_stage(records, model_runner, photo):
    seen = []
    pipeline.cutout(photo[1], records["u2netp"], model_runner("u2netp"),
                    progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [stage for stage, _, _ in seen]
    for stage in ("decode", "prepare", "model", "refine"):
        assert stage in stages
    assert all(0 <= done <= total for _, done, total in seen)


def test_export_options_validate():
    assert pipeline.ExportOptions.from_dict({"format": "JPEG"}).fmt == "jpeg"
    with pytest.raises(InvalidOption):
        pipeline.ExportOptions.from_dict({"format": "bmp"})


@pytest.mark.parametrize(
    ("source", "fmt", "expected"),
    [("holiday.JPG", "png", "holiday-cutout.png"), ("a.b.heic", "jpeg", "a.b-cutout.jpg"),
     ("", "webp", "image-cutout.webp")],
)
def test_output_name(source, fmt, expected):
    assert pipeline.output_name(source, fmt) == expected
