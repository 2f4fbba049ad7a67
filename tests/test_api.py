"""offcut.remove() and Remover: the kinds in and out, the options, the errors and their codes
(the same as the CLI's), threads sharing one Remover."""

from __future__ import annotations

import inspect
import io
import re
import threading

import numpy as np
import pytest
from PIL import Image

import offcut
from offcut import api, cli, pipeline
from offcut.errors import OffcutError
from support import jpeg_bytes

FAST = "u2netp"  # these tests are about the API, not the model


@pytest.fixture(scope="module")
def remover():
    return api.Remover(FAST, threads=2)


@pytest.fixture(scope="module")
def small(photo) -> bytes:
    """The shared photo at 320 px wide: cheap for every step."""
    image = Image.open(io.BytesIO(photo[1])).convert("RGB")
    return jpeg_bytes(np.asarray(image.resize((320, round(320 * image.height / image.width)))))


def cli_file(tmp_path, data: bytes, *flags) -> bytes:
    """What the ``offcut`` command writes for ``data`` with ``flags``."""
    source = tmp_path / "in" / "photo.jpg"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    out = tmp_path / "out"
    assert cli.main(["--model", FAST, str(source), "-o", str(out), "--overwrite", "-q",
                     *flags]) == 0
    (written,) = list(out.iterdir())
    return written.read_bytes()


def test_top_level_names_and_defaults():
    assert offcut.remove is api.remove and offcut.Remover is api.Remover
    assert api.DEFAULT_MODEL == "isnet-medium"
    assert inspect.signature(offcut.remove).parameters["model"].default == "isnet-medium"
    assert inspect.signature(api.Remover).parameters["model"].default == "isnet-medium"
    parser = cli.build_parser(api.load_records())
    assert parser.parse_args(["x.jpg"]).model == "isnet-medium"
    expected = {"model", "background", "shadow", "crop", "preset", "format", "quality",
                "max_size", "mask", "refine"}
    assert expected <= set(inspect.signature(offcut.remove).parameters)


def test_bytes_and_path_give_the_clis_file(tmp_path, small):
    made = offcut.remove(small, model=FAST)
    assert isinstance(made, bytes) and made == cli_file(tmp_path, small)
    path = tmp_path / "photo.jpg"
    path.write_bytes(small)
    assert offcut.remove(path, model=FAST) == made
    assert offcut.remove(str(path), model=FAST) == made


@pytest.mark.parametrize(
    ("options", "flags"),
    [
        ({"background": "white", "format": "jpeg", "quality": 80},
         ["--bg", "white", "--format", "jpeg", "--quality", "80"]),
        ({"crop": True, "margin": "40px", "shadow": 0.3},
         ["--crop", "--margin", "40px", "--shadow", "30"]),
        ({"preset": "social", "max_size": 500}, ["--preset", "social", "--max-size", "500"]),
        ({"mask": True, "refine": False}, ["--mask", "--no-refine"]),
        ({"background": "blur", "format": "webp"}, ["--bg", "blur", "--format", "webp"]),
    ],
)
def test_options_are_the_clis_flags(tmp_path, small, remover, options, flags):
    assert remover.remove(small, **options) == cli_file(tmp_path, small, *flags)


def test_edges_are_the_browsers_edge_options(small, remover):
    plain = remover.remove(small)
    shifted = remover.remove(small, edges={"shift": -3, "feather": 1.5})
    expected, _ = pipeline.render(remover.cutout(small), pipeline.ExportOptions.from_dict(
        {"edges": {"shift": -3, "feather": 1.5}}))
    assert shifted == expected and shifted != plain
    with pytest.raises(OffcutError, match="edges="):
        remover.remove(small, edges={"grow": 2})


def test_pil_in_gives_the_files_pixels(small, remover):
    image = Image.open(io.BytesIO(small))
    result = remover.remove(image)
    assert isinstance(result, Image.Image) and result.mode == "RGBA"
    assert result.size == image.size
    from_file = np.asarray(Image.open(io.BytesIO(remover.remove(small))))
    np.testing.assert_array_equal(np.asarray(result), from_file)
    on_white = remover.remove(image, background="white", crop=True)
    np.testing.assert_array_equal(
        np.asarray(on_white),
        np.asarray(Image.open(io.BytesIO(remover.remove(small, background="white",
                                                        crop=True)))))
    matte = remover.remove(image, mask=True)
    assert matte.mode == "L" and 0 < np.asarray(matte).mean() < 255
    # Cropped to the subject's box (plus the margin), whatever the photo: scikit-image's
    # astronaut, used without ../shared, fills the frame's whole width.
    cropped = pipeline.geometry(np.asarray(matte), pipeline.ExportOptions(crop=True)).size
    assert on_white.mode == "RGB" and on_white.size == cropped


def test_arrays_in_and_out(small, remover):
    rgb = np.asarray(Image.open(io.BytesIO(small)).convert("RGB"))
    rgba = remover.remove(rgb)
    assert rgba.dtype == np.uint8 and rgba.shape == (*rgb.shape[:2], 4)
    np.testing.assert_array_equal(rgba, np.asarray(Image.open(io.BytesIO(remover.remove(small)))))
    # An RGBA source's own transparency is kept: what was hidden stays hidden.
    holed = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    holed[:, : rgb.shape[1] // 4, 3] = 0
    again = remover.remove(holed)
    assert (again[:, : rgb.shape[1] // 4, 3] == 0).all()
    assert remover.remove(rgb, background="#102030").shape == rgb.shape
    assert remover.remove(rgb, mask=True).shape == rgb.shape[:2]


def test_pil_modes_and_profiles_go_through_the_decoder(small, remover):
    image = Image.open(io.BytesIO(small))
    for mode in ("L", "P", "CMYK", "RGBA"):
        result = remover.remove(image.convert(mode))
        assert result.mode == "RGBA" and result.size == image.size, mode


def shot_of_code(tmp_path, data: bytes, name: str) -> str:
    """The code the CLI prints for ``data``, e.g. ``corrupt-image``."""
    source = tmp_path / name
    source.write_bytes(data)
    captured = io.StringIO()
    import contextlib

    with contextlib.redirect_stderr(captured):
        cli.main(["--model", FAST, str(source), "-o", str(tmp_path / "out"), "--overwrite"])
    match = re.search(r"error .*?: \[([a-z-]+)\]", captured.getvalue())
    assert match, captured.getvalue()
    return match.group(1)


def huge_png() -> bytes:
    """A 56 MP PNG (over the 50 MP limit) that is cheap to make: one bit a pixel."""
    buffer = io.BytesIO()
    Image.new("1", (8000, 7000)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.png", b"", "empty-file"),
        ("broken.jpg", b"\xff\xd8\xff\xe0 not a jpeg at all", "corrupt-image"),
        ("photo.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
         "unsupported-format"),
        ("huge.png", "HUGE", "image-too-large"),
        ("tiny.png", None, "image-too-small"),
    ],
)
def test_bad_input_raises_the_clis_code(tmp_path, remover, name, data, code):
    if data == "HUGE":
        data = huge_png()
    if data is None:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), "red").save(buffer, "PNG")
        data = buffer.getvalue()
    with pytest.raises(OffcutError) as raised:
        remover.remove(data)
    assert raised.value.code == code
    assert shot_of_code(tmp_path, data, name) == code


def test_no_subject_and_out_of_memory_have_the_clis_codes(tmp_path, small, monkeypatch):
    def nothing(model_input):
        size = model_input.shape[-1]
        return np.full((len(model_input), 1, size, size), -20.0, np.float32)

    with pytest.raises(OffcutError) as raised:
        api.Remover(FAST, runner=nothing).remove(small)
    assert raised.value.code == "no-subject"

    def exhausted(model_input):
        raise MemoryError

    with pytest.raises(OffcutError) as raised:
        api.Remover(FAST, runner=exhausted).remove(small)
    assert raised.value.code == "out-of-memory"
    # The CLI says the same for the same two faults.
    for runner, code in ((nothing, "no-subject"), (exhausted, "out-of-memory")):
        monkeypatch.setattr(cli, "load_model",
                            lambda args, record, runner=runner: api.Remover(FAST, runner=runner))
        assert shot_of_code(tmp_path, small, "photo.jpg") == code


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 0}, {"quality": 101}, {"max_size": 0}, {"format": "gif"},
        {"background": "#zzz"}, {"background": 42}, {"preset": "poster"},
        {"preset": "custom"}, {"margin": "lots"}, {"shadow": "dark"}, {"fill": 0},
        {"shadow": {"opacity": 2}}, {"canvas": (0, 10), "preset": "custom"},
    ],
)
def test_bad_options_are_invalid_option_before_any_model_work(small, options, monkeypatch):
    monkeypatch.setattr(api, "remover", lambda *a, **k: pytest.fail("model loaded"))
    with pytest.raises(OffcutError) as raised:
        offcut.remove(small, model=FAST, **options)
    assert raised.value.code == "invalid-option"


@pytest.mark.parametrize(
    "data",
    [np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), np.uint8), 42, [1, 2, 3]],
)
def test_things_that_are_not_images_are_invalid_option(remover, data):
    with pytest.raises(OffcutError) as raised:
        remover.remove(data)
    assert raised.value.code == "invalid-option"


def test_format_applies_to_bytes_only_and_model_must_match(small, remover):
    with pytest.raises(OffcutError, match="format"):
        remover.remove(Image.open(io.BytesIO(small)), format="jpeg")
    with pytest.raises(OffcutError, match="holds u2netp"):
        remover.remove(small, model="isnet-medium")
    with pytest.raises(OffcutError, match="unknown model"):
        api.Remover("no-such-model")


def test_a_missing_path_is_an_os_error_as_the_cli_reports_io(tmp_path, remover):
    with pytest.raises(FileNotFoundError):
        remover.remove(tmp_path / "missing.jpg")


def test_one_remover_shared_by_threads_gives_each_call_its_own_result(photo, remover):
    image = Image.open(io.BytesIO(photo[1])).convert("RGB")
    crops = [jpeg_bytes(np.asarray(image.crop(box).resize((200, 200))))
             for box in [(0, 0, 400, 400), (50, 20, 450, 480), (300, 0, 700, 400),
                         (100, 80, 500, 480)]]
    expected = [remover.remove(data) for data in crops]
    results: dict[int, bytes] = {}
    start = threading.Barrier(len(crops))

    def work(number: int) -> None:
        start.wait()
        for _ in range(2):
            results[number] = remover.remove(crops[number])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(crops))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [results[n] for n in range(len(crops))] == expected
    assert len(set(expected)) == len(crops)  # four different photos, four different files


def test_the_module_level_remover_is_made_once(monkeypatch):
    made = []

    class Counting:
        def __init__(self, model, threads=None):
            made.append(model)

    monkeypatch.setattr(api, "Remover", Counting)
    monkeypatch.setattr(api, "_removers", {})
    first, second = api.remover("u2netp"), api.remover("u2netp")
    assert first is second and made == ["u2netp"]


def test_cutout_is_float_free_uint8(small, remover):
    result = remover.cutout(small)
    assert isinstance(result, pipeline.Cutout)
    assert result.alpha.dtype == np.uint8 and result.foreground.dtype == np.uint8
    assert result.foreground.shape == (*result.alpha.shape, 3)
