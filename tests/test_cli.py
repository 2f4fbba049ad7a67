import io

import numpy as np
from PIL import Image

from offcut import cli


def test_batch_continues_past_bad_files(tmp_path, photo, capsys):
    name, data = photo
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(data)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    out = tmp_path / "out"
    status = cli.main([str(folder), "-o", str(out), "--threads", "2"])
    assert status == 1
    errors = capsys.readouterr().err
    assert "broken.jpg: [corrupt-image]" in errors and "empty.png: [empty-file]" in errors
    produced = sorted(p.name for p in out.iterdir())
    assert produced == [f"{name.rsplit('.', 1)[0]}-cutout.png"]
    source = Image.open(io.BytesIO(data))
    assert Image.open(out / produced[0]).size == source.size


def test_flattened_jpeg_output(tmp_path, photo):
    name, data = photo
    (tmp_path / name).write_bytes(data)
    status = cli.main([str(tmp_path / name), "-o", str(tmp_path), "--bg", "white",
                       "--format", "jpeg", "--quality", "80", "-q"])
    assert status == 0
    result = Image.open(tmp_path / f"{name.rsplit('.', 1)[0]}-cutout.jpg")
    assert result.format == "JPEG" and result.mode == "RGB"


def test_bad_colour_is_a_usage_error(tmp_path, photo):
    assert cli.main([str(tmp_path), "--bg", "#zzz"]) == 2


def test_same_stem_twice_does_not_overwrite(tmp_path, photo):
    name, data = photo
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / name).write_bytes(data)
    out = tmp_path / "out"
    assert cli.main([str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out), "-q"]) == 0
    assert len(list(out.iterdir())) == 2
    first, second = (np.asarray(Image.open(p)) for p in sorted(out.iterdir()))
    np.testing.assert_array_equal(first, second)
