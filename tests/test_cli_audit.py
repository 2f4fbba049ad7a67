"""The CLI's inputs and lines (issue 23, item 11): earlier outputs are known by the marker
every output carries, not by their names; each path named gets a line; Pillow's warnings, odd
names and link loops neither leak raw text, split lines nor hang."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from offcut import cli
from support import ROOT, small_shots, write_files

FAST = ["--model", "u2netp"]
#: The shape of every line the CLI prints to stderr.
LINE_STARTS = ("ok    ", "error ", "note  ", "progress ", "interrupted")


@pytest.fixture(scope="module")
def shots(photo):
    """Two small JPEGs of a real photo (different crops): cheap for the model."""
    return small_shots(photo[1], [None, (50, 20, 450, 480)])




def summary_of(err: str) -> str:
    return err.strip().splitlines()[-1]


def run_cli(args) -> subprocess.CompletedProcess:
    """The real command in its own process: what reaches stderr, warnings included."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "offcut.cli", *FAST, *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)


# ------------------------------------------------------------------ the marker


@pytest.mark.parametrize(("fmt", "channels"), [("png", 4), ("png", 1), ("jpeg", 3),
                                               ("webp", 4)])
def test_every_encoded_file_says_offcut_made_it(fmt, channels):
    import numpy as np

    from offcut import encode

    pixels = np.zeros((24, 32, channels), np.uint8).squeeze()
    with Image.open(io.BytesIO(encode.encode(pixels, fmt))) as image:
        assert encode.software(image) == encode.SOFTWARE == "offcut"
    with Image.open(io.BytesIO(encode.encode(pixels[..., :3] if channels == 4 else pixels,
                                             "png"))) as plain:
        assert plain.info["Software"] == "offcut"  # a PNG text chunk, before the pixels


def test_outputs_kept_inside_the_input_folder_are_not_cut_out_again(tmp_path, shots, capsys):
    """`offcut shoot -o shoot/out1` then `offcut shoot -o out2`: out2 holds the shoot's
    cutouts only, not cutouts of out1's cutouts and masks; a note counts what was skipped."""
    shoot = write_files(tmp_path / "shoot", shots)
    assert cli.main([*FAST, str(shoot), "-o", str(shoot / "out1"), "-q"]) == 0
    assert cli.main([*FAST, str(shoot), "-o", str(shoot / "out1"), "--mask", "-q"]) == 0
    capsys.readouterr()
    out2 = tmp_path / "out2"
    assert cli.main([*FAST, str(shoot), "-o", str(out2)]) == 0
    err = capsys.readouterr().err
    assert sorted(p.name for p in out2.iterdir()) == ["shot0-cutout.png", "shot1-cutout.png"]
    assert "note  skipped 4 files offcut wrote earlier" in err and "--include-outputs" in err
    assert summary_of(err) == "2 done, 0 failed, 0 skipped (of 2)"


def test_a_photo_named_like_an_output_is_a_photo(tmp_path, shots, capsys):
    """A source the user named `x-cutout.png` (no marker) inside -o is cut out, not dropped
    with "no image files"."""
    out = tmp_path / "out"
    out.mkdir()
    Image.open(io.BytesIO(shots[0][1])).save(out / "x-cutout.png")
    assert cli.main([*FAST, str(out), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert (out / "x-cutout-cutout.png").is_file()
    assert summary_of(err) == "1 done, 0 failed, 0 skipped (of 1)"


def test_a_named_output_is_skipped_with_a_line_unless_included(tmp_path, shots, capsys):
    folder = write_files(tmp_path / "in", shots[:1])
    first = tmp_path / "first"
    assert cli.main([*FAST, str(folder), "-o", str(first), "-q"]) == 0
    made = first / "shot0-cutout.png"
    capsys.readouterr()
    again = tmp_path / "again"
    assert cli.main([*FAST, str(made), "-o", str(again)]) == 2
    err = capsys.readouterr().err
    assert f"note  {made}: written by offcut" in err and "--include-outputs" in err
    assert err.strip().splitlines()[-1].startswith("error: no image files found (1 file")
    assert cli.main([*FAST, str(made), "-o", str(again), "--include-outputs"]) == 0
    assert (again / "shot0-cutout-cutout.png").is_file()


# ------------------------------------------------------------------ one line per thing


def corrupt_exif(data: bytes) -> bytes:
    junk = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x13" * 40
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk + data[2:]


def test_odd_inputs_each_get_one_clean_line(tmp_path, shots):
    """Pillow's warnings become notes of their file; a newline in a name is escaped; a
    folder named x.jpg gets an error line; a link loop is a note; `..jpg` is no hidden file."""
    data = shots[0][1]
    folder = write_files(tmp_path / "in", [("a\nb.jpg", data), ("..jpg", data),
                                           (".beach.jpg", data), ("exif.jpg", corrupt_exif(data))])
    (folder / "loop").mkdir()
    (folder / "loop" / "back").symlink_to("..")
    empty = tmp_path / "x.jpg"
    empty.mkdir()
    out = tmp_path / "out"
    result = run_cli([folder, empty, "-o", out])
    err = result.stderr
    assert result.returncode == 1, err
    lines = err.strip().splitlines()
    assert all(line.startswith(LINE_STARTS) for line in lines[:-1]), err
    assert "Warning" not in err and "Traceback" not in err
    assert f"note  {folder / 'exif.jpg'}: Corrupt EXIF data." in err
    assert f"ok    {folder}/a\\nb.jpg -> {out}/a\\nb-cutout.png" in err
    assert f"error {empty}: [not-a-file] a folder with no image files in it" in lines
    assert any(line.startswith(f"note  {folder / 'loop' / 'back'}: a folder already searched")
               for line in lines), err
    assert lines[-1] == "4 done, 1 failed, 0 skipped (of 5)"
    made = sorted(p.name for p in out.iterdir())
    assert made == ["a\nb-cutout.png", "beach-cutout.png", "exif-cutout.png",
                    "image-cutout.png"]


def test_a_named_file_that_is_no_file_gets_an_error_line(tmp_path, shots, capsys):
    folder = write_files(tmp_path / "in", shots[:1])
    assert cli.main([*FAST, str(folder), "/dev/null", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "error /dev/null: [not-a-file] not a regular file" in err
    assert summary_of(err) == "1 done, 1 failed, 0 skipped (of 2)"


@pytest.mark.parametrize(("name", "expected"), [
    ("..jpg", "image-cutout.png"), (".beach.jpg", "beach-cutout.png"),
    ("...", "image-cutout.png"), ("holiday.JPG", "holiday-cutout.png"),
    ("a.b.heic", "a.b-cutout.png"),
])
def test_an_output_name_never_starts_with_a_dot(name, expected):
    assert cli.output_name(Path(name)) == expected


def test_printable_keeps_a_line_one_line():
    from offcut.progress_line import printable

    name = "a\nb\r\x1b[2J\x7f\u2028" + b"\xff".decode("utf-8", "surrogateescape") + "é.jpg"
    assert printable(name) == "a\\nb\\r\\x1b[2J\\x7f\\u2028\\xffé.jpg"
