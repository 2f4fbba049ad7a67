"""The hostile-input matrix: every input below goes through the real ``offcut`` CLI (one batch,
in its own process) and through the pipeline on CPython (with the real u2netp model), and each
has one fixed expectation: a cutout, or a named error code.

Set ``OFFCUT_MATRIX_OUT=path.md`` to have the matrix written out as a Markdown table.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, features

import profiles
from offcut import colour, pipeline
from offcut.errors import OffcutError
from support import ROOT

WIDTH, HEIGHT = 160, 120  # not square: a missed EXIF rotation shows in the output's size
CUTOUT = "cutout"


def base_image() -> Image.Image:
    """A real photo with a clear subject (scikit-image's astronaut, public domain)."""
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((WIDTH, HEIGHT), Image.LANCZOS)


def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, body: bytes, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header claiming a huge size, with almost no data (a decompression-bomb shape)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 256)) + png_chunk(b"IEND", b""))


def bad_crc_png(image: Image.Image) -> bytes:
    data = bytearray(save(image, "PNG"))
    data[29] ^= 0xFF  # the IHDR chunk's CRC (8 signature + 4 length + 4 type + 13 data)
    return bytes(data)


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    """A JPEG whose stored pixels need EXIF ``orientation`` to look like ``image``."""
    undo = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
            4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
            6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_270}[orientation]
    stored = image.transpose(undo) if undo is not None else image
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(stored, "JPEG", quality=92, exif=exif.tobytes())


def animation(image: Image.Image, fmt: str) -> bytes:
    frames = [image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), image.rotate(180)]
    options = {"loop": 0, "duration": 100}
    if fmt == "PNG":
        options["default_image"] = False
    return save(frames[0], fmt, save_all=True, append_images=frames[1:], **options)


def bilevel_60mp() -> bytes:
    """A real 60 MP PNG (1-bit: a few kB on disk)."""
    return save(Image.new("1", (8944, 6708), 1), "PNG")


def sixteen_bit_grey(image: Image.Image, fmt: str) -> bytes:
    grey = np.asarray(image.convert("L")).astype(np.uint16) * 257
    wide = Image.new("I;16", image.size)
    wide.frombytes(grey.astype("<u2").tobytes())
    return save(wide, fmt)


def float_tiff(image: Image.Image) -> bytes:
    return save(Image.fromarray(np.asarray(image.convert("L"), np.float32) / 255, "F"), "TIFF")


def float_tiff_with_inf_and_nan(image: Image.Image) -> bytes:
    """A float image with one +inf, one -inf and one NaN sample: the rest must still show."""
    pixels = np.asarray(image.convert("L"), np.float32) / 255
    pixels[0, 0], pixels[0, 1], pixels[0, 2] = np.inf, -np.inf, np.nan
    return save(Image.fromarray(pixels, "F"), "TIFF")


def palette_with_transparency(image: Image.Image) -> bytes:
    palette = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    pixels = np.asarray(palette).copy()
    pixels[:4, :4] = 255  # a transparent corner in the unused 256th entry
    out = Image.fromarray(pixels, "P")
    out.putpalette(palette.getpalette())
    return save(out, "PNG", transparency=255)


def grey_alpha(image: Image.Image) -> bytes:
    grey = image.convert("L")
    alpha = Image.new("L", image.size, 255)
    alpha.paste(0, (0, 0, 10, 10))
    return save(Image.merge("LA", (grey, alpha)), "PNG")


def corrupt_exif(image: Image.Image) -> bytes:
    data = save(image, "JPEG", quality=92)
    junk = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x13" * 40
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk + data[2:]


def svg() -> bytes:
    return (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" '
            b'height="100"><circle cx="50" cy="50" r="40" fill="red"/></svg>')


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def avif(image: Image.Image) -> bytes:
    if features.check("avif"):
        return save(image, "AVIF", quality=90)
    # A Pillow without AVIF cannot write one either: the container's header is what counts.
    return b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 200


def _jpeg(image):
    return save(image, "JPEG", quality=92)


def _png(image):
    return save(image, "PNG")


#: (file name, how to make its bytes from the base image, expectation: a cutout or a code).
CASES = [
    ("zero-byte.jpg", lambda image: b"", "empty-file"),
    ("truncated.jpg", lambda image: _jpeg(image)[: len(_jpeg(image)) // 3], "corrupt-image"),
    ("truncated.png", lambda image: _png(image)[: len(_png(image)) // 2], "corrupt-image"),
    ("bad-crc.png", bad_crc_png, "corrupt-image"),
    ("text-as.jpg", lambda image: b"This is a text file, saved with a .jpg name.\n" * 20,
     "not-an-image"),
    ("html-as.png", lambda image: b"<!doctype html><html><body>not a picture</body></html>",
     "not-an-image"),
    ("zip-as.png", lambda image: b"PK\x03\x04" + bytes(200), "not-an-image"),
    ("comment-first.svg", lambda image: b"<!-- Generator: a drawing program -->\n"
     b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"/>', "unsupported-format"),
    ("big-icc-profile.png", lambda image: save(image, "PNG", icc_profile=bytes(2_000_000)),
     CUTOUT),
    ("animated.gif", lambda image: animation(image, "GIF"), CUTOUT),
    ("animated.webp", lambda image: animation(image, "WEBP"), CUTOUT),
    ("animated-apng.png", lambda image: animation(image, "PNG"), CUTOUT),
    ("one-pixel.png", lambda image: save(Image.new("RGB", (1, 1), "red"), "PNG"),
     "image-too-small"),
    ("strip-3x20000.png", lambda image: save(Image.new("RGB", (3, 20000), "red"), "PNG"),
     "image-too-small"),
    ("strip-20000x3.png", lambda image: save(Image.new("RGB", (20000, 3), "red"), "PNG"),
     "image-too-small"),
    ("bomb-30000x30000.png", lambda image: png_claiming(30000, 30000), "image-too-large"),
    ("bomb-10000x10000.png", lambda image: png_claiming(10000, 10000), "image-too-large"),
    ("sixty-megapixels.png", lambda image: bilevel_60mp(), "image-too-large"),
    ("cmyk.jpg", lambda image: save(image.convert("CMYK"), "JPEG", quality=95), CUTOUT),
    ("cmyk-profile.jpg", lambda image: save(image.convert("CMYK"), "JPEG", quality=95,
                                            icc_profile=profiles.cmyk_profile()), CUTOUT),
    ("grey-16bit.png", lambda image: sixteen_bit_grey(image, "PNG"), CUTOUT),
    ("grey-16bit.tif", lambda image: sixteen_bit_grey(image, "TIFF"), CUTOUT),
    ("float.tif", float_tiff, CUTOUT),
    ("float-inf-nan.tif", float_tiff_with_inf_and_nan, CUTOUT),
    ("palette-trns.png", palette_with_transparency, CUTOUT),
    ("grey-alpha-la.png", grey_alpha, CUTOUT),
    *[(f"exif-orientation-{n}.jpg", lambda image, n=n: with_orientation(image, n), CUTOUT)
      for n in range(1, 9)],
    ("corrupt-exif.jpg", corrupt_exif, CUTOUT),
    ("adobe-rgb.jpg", lambda image: save(image, "JPEG", quality=92,
                                         icc_profile=profiles.adobe_like()), CUTOUT),
    ("display-p3.png", lambda image: save(image, "PNG", icc_profile=profiles.p3_like()),
     CUTOUT),
    ("grey-profile.png", lambda image: save(image.convert("L"), "PNG",
                                            icc_profile=profiles.gray_linear()), CUTOUT),
    ("srgb-profile.jpg", lambda image: save(image, "JPEG", quality=92,
                                            icc_profile=colour.srgb_profile()), CUTOUT),
    ("progressive.jpg", lambda image: save(image, "JPEG", quality=92, progressive=True),
     CUTOUT),
    ("lzw.tif", lambda image: save(image, "TIFF", compression="tiff_lzw"), CUTOUT),
    ("bitmap.bmp", lambda image: save(image, "BMP"), CUTOUT),
    ("icon.ico", lambda image: save(image.resize((128, 128)), "ICO", sizes=[(128, 128)]),
     CUTOUT),
    ("jpeg2000.jp2", lambda image: save(image, "JPEG2000"),
     CUTOUT if features.check("jpg_2000") else "unsupported-format"),
    ("photo.avif", avif, CUTOUT if features.check("avif") else "unsupported-format"),
    ("fake.heic",
     lambda image: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 300,
     "unsupported-format"),
    ("drawing.svg", lambda image: svg(), "unsupported-format"),
    ("document.pdf", lambda image: pdf(), "unsupported-format"),
    ("jpeg-xl.jxl", lambda image: b"\xff\x0a" + b"\x00" * 100, "unsupported-format"),
    ("trailing-junk.jpg", lambda image: _jpeg(image) + os.urandom(4096), CUTOUT),
    ("trailing-junk.png", lambda image: _png(image) + b"junk after IEND" * 100, CUTOUT),
    ("lossy.webp", lambda image: save(image, "WEBP", quality=85), CUTOUT),
    ("фото 写真 🌄.jpg", _jpeg, CUTOUT),
    ("transparent-everywhere.png",
     lambda image: save(Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0)), "PNG"),
     "no-subject"),
]
NAMES = [name for name, _, _ in CASES]
assert len(NAMES) >= 40 and len(set(NAMES)) == len(NAMES)
EXPECTED = {name: expected for name, _, expected in CASES}


def cases() -> list[tuple[str, bytes, str]]:
    """(file name, bytes, expectation) for every case."""
    image = base_image()
    return [(name, make(image), expected) for name, make, expected in CASES]


def expected_size(name: str) -> tuple[int, int]:
    return (128, 128) if name == "icon.ico" else (WIDTH, HEIGHT)


@pytest.fixture(scope="module")
def matrix_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    rows = cases()
    for name, data, _ in rows:
        (folder / name).write_bytes(data)
    return folder, rows


_OUTPUTS: dict = {}


def remembered(run_model):
    """The real model, run once per distinct model input (several cases decode to the very
    same pixels: lossless formats, trailing junk, a renamed file)."""

    def run(model_input):
        key = hashlib.sha256(model_input.tobytes()).hexdigest()
        if key not in _OUTPUTS:
            _OUTPUTS[key] = run_model(model_input)
        return _OUTPUTS[key]

    return run


def pipeline_result(data: bytes, record, run_model) -> tuple[str, str, object]:
    """(cutout or error code, message, Cutout or None) as the browser's seam reports them."""
    try:
        result = pipeline.cutout(data, record, run_model)
        png, _ = pipeline.render(result)
    except OffcutError as exc:
        return exc.code, str(exc), None
    except MemoryError:
        return "out-of-memory", "MemoryError", None
    return CUTOUT, "", (result, png)


@pytest.fixture(scope="module")
def cli_results(matrix_inputs, tmp_path_factory):
    """One real CLI batch over every input: {name: (result, message)}, and the raw output."""
    folder, rows = matrix_inputs
    out = tmp_path_factory.mktemp("hostile-out")
    paths = [str(folder / name) for name, _, _ in rows]
    process = subprocess.run(
        [sys.executable, "-m", "offcut.cli", *paths, "-o", str(out), "--threads", "2",
         "--model", "u2netp"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    results, notes = {}, {}
    for line in process.stderr.splitlines():
        if line.startswith("ok    "):
            source, _, rest = line[6:].partition(" -> ")
            results[Path(source).name] = (CUTOUT, rest.rsplit(" (source ", 1)[0])
        elif line.startswith("error "):
            path, _, rest = line[6:].partition(": [")
            code, _, message = rest.partition("] ")
            results[Path(path).name] = (code, message)
        elif line.startswith("note  ") and ": " in line:
            notes[Path(line[6:].split(": ")[0]).name] = line
    return results, notes, process, out


def test_the_cli_survives_the_whole_matrix(cli_results, matrix_inputs):
    results, _, process, _ = cli_results
    _, rows = matrix_inputs
    assert "Traceback" not in process.stderr
    failed = sum(1 for _, _, expected in rows if expected != CUTOUT)
    assert process.returncode == 1  # some inputs are meant to fail
    assert f"{len(rows) - failed} done, {failed} failed, 0 skipped (of {len(rows)})" \
        in process.stderr, process.stderr[-3000:]
    assert set(results) == {name for name, _, _ in rows}


@pytest.mark.parametrize("name", NAMES)
def test_hostile_input(name, matrix_inputs, cli_results, records, model_runner, request):
    folder, _ = matrix_inputs
    expected = EXPECTED[name]
    data = (folder / name).read_bytes()
    outcome, message, made = pipeline_result(data, records["u2netp"],
                                             remembered(model_runner("u2netp")))
    cli_outcome, cli_message = cli_results[0].get(name, ("missing", ""))
    shown = message or ("" if cli_outcome == CUTOUT else cli_message)
    request.config.stash.setdefault(MATRIX, {})[name] = (outcome, cli_outcome, shown)
    assert outcome == expected, message
    assert cli_outcome == expected, cli_message
    if expected != CUTOUT:
        return
    result, png = made
    written = Image.open(io.BytesIO(png))
    assert written.mode == "RGBA" and written.size == expected_size(name)
    assert colour.profile_space(written.info.get("icc_profile")) == "RGB"
    assert (result.alpha > 127).mean() > 0.05  # a subject was kept
    cli_image = Image.open(cli_message)  # for a cutout, the CLI's line names the file written
    assert cli_image.size == expected_size(name) and cli_image.mode == "RGBA"
    # The CLI gives the pipeline's pixels (same code, same model, same machine).
    np.testing.assert_array_equal(np.asarray(cli_image)[..., 3], result.alpha)
    if name.startswith("animated"):
        assert result.decoded.info["frames"] == 3
        assert "first frame" in cli_results[1].get(name, ""), "the CLI must say so"


MATRIX = pytest.StashKey[dict]()


@pytest.fixture(scope="module", autouse=True)
def write_matrix(request):
    yield
    target = os.environ.get("OFFCUT_MATRIX_OUT")
    matrix = request.config.stash.get(MATRIX, {})
    if not target or not matrix:
        return
    lines = ["| input | expected | CLI | pipeline | message |", "|---|---|---|---|---|"]
    for name, expected in EXPECTED.items():
        outcome, cli_outcome, message = matrix.get(name, ("not run", "not run", ""))
        lines.append(f"| `{name}` | {expected} | {cli_outcome} | {outcome} "
                     f"| {message.replace('|', '/')[:110]} |")
    Path(target).write_text("\n".join(lines) + "\n")


def test_one_infinite_sample_does_not_blacken_a_float_image():
    from skimage import data as samples

    from offcut.decode import decode

    image = Image.fromarray(samples.astronaut())
    plain = decode(float_tiff(image)).rgb
    spoiled = decode(float_tiff_with_inf_and_nan(image)).rgb
    assert plain.mean() > 40
    # Only the three spoiled samples differ.
    assert (np.any(plain != spoiled, axis=2)).sum() <= 3
