import io

import numpy as np
from PIL import Image

from offcut import cli

#: Tests that do not care about the model ask for the small one (the default is IS-Net).
FAST = ["--model", "u2netp"]


def test_batch_continues_past_bad_files(tmp_path, photo, capsys):
    name, data = photo
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(data)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    out = tmp_path / "out"
    status = cli.main([*FAST, str(folder), "-o", str(out), "--threads", "2"])
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
    status = cli.main([*FAST, str(tmp_path / name), "-o", str(tmp_path), "--bg", "white",
                       "--format", "jpeg", "--quality", "80", "-q"])
    assert status == 0
    result = Image.open(tmp_path / f"{name.rsplit('.', 1)[0]}-cutout.jpg")
    assert result.format == "JPEG" and result.mode == "RGB"


def test_bad_colour_is_a_usage_error(tmp_path, photo):
    assert cli.main([*FAST, str(tmp_path), "--bg", "#zzz"]) == 2


def test_same_stem_twice_does_not_overwrite(tmp_path, photo):
    name, data = photo
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / name).write_bytes(data)
    out = tmp_path / "out"
    assert cli.main([*FAST, str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out), "-q"]) == 0
    assert len(list(out.iterdir())) == 2
    first, second = (np.asarray(Image.open(p)) for p in sorted(out.iterdir()))
    np.testing.assert_array_equal(first, second)


# ------------------------------------------------------------------ batches that never lose files

import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from support import ROOT, small_shots, write_files  # noqa: E402


@pytest.fixture(scope="module")
def small_photos(photo):
    """Three small JPEGs of a real photo (different crops): cheap for the model."""
    return small_shots(photo[1], [None, (0, 0, 400, 400), (50, 20, 450, 480)])




def run_cli(args, **kwargs) -> subprocess.CompletedProcess:
    """The real ``offcut`` command in its own process."""
    return subprocess.run([sys.executable, "-m", "offcut.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".offcut-*"))


def test_offcut_help_and_build_help_print():
    """`offcut --help` crashed on a bare % in a help string (issue 9, item 8)."""
    result = run_cli(["--help"])
    assert result.returncode == 0, result.stderr
    assert "--overwrite" in result.stdout and "fill 85%" in result.stdout
    for sub in ([], ["build"], ["serve"], ["test"]):
        shown = subprocess.run([sys.executable, "build.py", *sub, "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0 and shown.stdout.startswith("usage:"), (sub, shown.stderr)
    serve_help = subprocess.run([sys.executable, "build.py", "serve", "--help"], cwd=ROOT,
                                capture_output=True, text=True, timeout=60).stdout
    assert "--port" in serve_help


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--max-size", "-5"], "--max-size"),
        (["--max-size", "0"], "--max-size"),
        (["--quality", "0"], "--quality"),
        (["--quality", "101"], "--quality"),
        (["--canvas", "0x0", "--preset", "custom"], "--canvas"),
        (["--canvas", "axb", "--preset", "custom"], "--canvas"),
        (["--fill", "0"], "--fill"),
        (["--shadow", "-1"], "--shadow"),
        (["--threads", "0"], "--threads"),
        (["--bg", "missing.jpg"], "missing.jpg: no such file"),
        (["--bg", "nocolour"], "neither a colour"),
        (["--margin", "lots"], "not a margin"),
        (["--preset", "custom"], "needs --canvas"),
        (["--model-file", "MISSING.onnx"], "MISSING.onnx: no such file"),
        (["--model-file", "GARBAGE"], "not a usable ONNX model"),
    ],
)
def test_bad_options_are_one_clear_line_before_any_work(tmp_path, small_photos, capsys, argv,
                                                        says, monkeypatch):
    folder = write_files(tmp_path / "in", small_photos[:1])
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x08\x01 this is not a protobuf model \xff\xff")
    argv = [str(garbage) if a == "GARBAGE" else a for a in argv]
    monkeypatch.setattr(cli.api.Remover, "start",
                        lambda *a, **k: pytest.fail("model work started before the check"))
    out = tmp_path / "out"
    try:
        status = cli.main([*FAST, str(folder), "-o", str(out), *argv])
    except SystemExit as exit_:  # argparse's own checks exit with its usage line
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert says in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(("error:", "offcut: error:"))
    assert not out.exists() or not any(out.iterdir())


def test_output_that_is_a_file_or_cannot_be_created(tmp_path, small_photos, capsys, monkeypatch):
    folder = write_files(tmp_path / "in", small_photos[:1])
    monkeypatch.setattr(cli, "load_model", lambda *a: pytest.fail("model loaded before check"))
    a_file = tmp_path / "already.png"
    a_file.write_bytes(b"keep me")
    assert cli.main([*FAST, str(folder), "-o", str(a_file)]) == 2
    assert "is a file" in capsys.readouterr().err and a_file.read_bytes() == b"keep me"
    assert cli.main([*FAST, str(folder), "-o", str(a_file / "sub")]) == 2
    assert "cannot create the output folder" in capsys.readouterr().err


def test_read_only_output_folder_is_refused_up_front():
    """Run as an unprivileged user (root may write anywhere): a clear message, exit 2."""
    base = Path(tempfile.mkdtemp(prefix="offcut-ro-", dir="/tmp"))
    try:
        base.chmod(0o755)
        source = base / "in.png"
        Image.new("RGB", (32, 32), "red").save(source)
        source.chmod(0o644)
        locked = base / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        command = [sys.executable, "-m", "offcut.cli", *FAST, str(source), "-o", str(locked)]
        if os.geteuid() == 0:
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(base)}
        result = subprocess.run(command, capture_output=True, text=True, cwd=base, env=env,
                                timeout=120)
        assert result.returncode == 2, result.stderr
        assert f"cannot write into the output folder {locked}" in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        for path in sorted(base.rglob("*"), reverse=True):
            path.chmod(0o755) if path.is_dir() else path.unlink()
        for path in sorted(base.rglob("*"), reverse=True):
            path.rmdir()
        base.rmdir()


def test_failures_of_any_kind_do_not_end_the_batch(tmp_path, small_photos, capsys, monkeypatch):
    """MemoryError, ValueError or a bug in one file: a one-line error, the rest goes on."""
    folder = write_files(tmp_path / "in", small_photos)
    real_render = cli.pipeline.render
    faults = {"shot0.jpg": MemoryError(), "shot1.jpg": ValueError("bad canvas")}

    def render(result, options, photo):
        for name, fault in faults.items():
            if result.decoded.rgb.tobytes()[:64] == seen[name]:
                raise fault
        return real_render(result, options, photo)

    from offcut.decode import decode

    seen = {name: decode(data).rgb.tobytes()[:64] for name, data in small_photos}
    monkeypatch.setattr(cli.pipeline, "render", render)
    out = tmp_path / "out"
    assert cli.main([*FAST, str(folder), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "shot0.jpg: [out-of-memory]" in err
    assert "shot1.jpg: [internal] ValueError: bad canvas" in err
    assert "Traceback" not in err
    assert "1 done, 2 failed, 0 skipped (of 3)" in err
    assert sorted(p.name for p in out.iterdir()) == ["shot2-cutout.png"]


def test_existing_outputs_are_kept_and_a_rerun_resumes(tmp_path, small_photos, capsys):
    folder = write_files(tmp_path / "in", small_photos[:2])
    out = tmp_path / "out"
    out.mkdir()
    earlier = out / "shot0-cutout.png"
    earlier.write_bytes(b"an earlier good result")
    assert cli.main([*FAST, str(folder), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert earlier.read_bytes() == b"an earlier good result"
    assert "1 done, 0 failed, 1 skipped (of 2)" in err and "--overwrite" in err
    made = (out / "shot1-cutout.png").stat().st_mtime_ns
    assert cli.main([*FAST, str(folder), "-o", str(out), "--overwrite"]) == 0
    assert "2 done, 0 failed, 0 skipped (of 2)" in capsys.readouterr().err
    assert Image.open(earlier).size == (160, 160)
    assert (out / "shot1-cutout.png").stat().st_mtime_ns >= made


def test_outputs_beside_the_inputs_are_not_taken_as_inputs(tmp_path, small_photos, capsys):
    folder = write_files(tmp_path / "in", small_photos[:1])
    assert cli.main([*FAST, str(folder), "-o", str(folder)]) == 0
    assert "(of 1)" in capsys.readouterr().err
    assert cli.main([*FAST, str(folder), "-o", str(folder), "--overwrite"]) == 0
    assert "1 done, 0 failed, 0 skipped (of 1)" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["shot0-cutout.png", "shot0.jpg"]


def test_a_failed_write_leaves_no_partial_file(tmp_path, small_photos):
    """A file-size limit makes the write fail half-way, as a full disk does."""
    folder = write_files(tmp_path / "in", small_photos[:2])
    out = tmp_path / "out"
    out.mkdir()

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        # Under the smallest of these outputs (13 KB since transparent pixels are (0, 0, 0, 0)).
        resource.setrlimit(resource.RLIMIT_FSIZE, (6_000, 6_000))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    result = run_cli([*FAST, folder, "-o", out, "--threads", "2"], preexec_fn=limit, env=env)
    assert list(out.iterdir()) == []  # no truncated PNG under its final name, no temp file
    assert result.returncode == 1, result.stderr
    assert "[io] File too large" in result.stderr and "Traceback" not in result.stderr
    assert "0 done, 2 failed" in result.stderr


def test_ctrl_c_keeps_finished_files_and_leaves_no_partial(tmp_path, small_photos):
    folder = tmp_path / "in"
    for copy in range(6):
        write_files(folder, [(f"{copy}-{name}", data) for name, data in small_photos[:1]])
    out = tmp_path / "out"
    # A job started with "&" by a non-interactive shell inherits SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler: give the child the default disposition.
    process = subprocess.Popen([sys.executable, "-m", "offcut.cli", *FAST, str(folder), "-o",
                                str(out), "--threads", "2"], cwd=ROOT, stderr=subprocess.PIPE,
                               text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if line.startswith("ok"):
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=120)
    err = "".join(lines) + rest
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted" in err
    done = int(err.strip().splitlines()[-1].split(" done")[0])
    assert 1 <= done < 6 and f"{done} done, 0 failed, 0 skipped (of 6)" in err
    written = sorted(out.iterdir())
    assert len(written) == done and leftovers(out) == []
    for path in written:
        assert Image.open(path).size == (160, 160)  # complete files only


def test_interrupt_while_writing_leaves_no_temp_file(tmp_path, small_photos, monkeypatch, capsys):
    folder = write_files(tmp_path / "in", small_photos[:1])
    out = tmp_path / "out"

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.os, "replace", interrupted)
    assert cli.main([*FAST, str(folder), "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted during" in err and "0 done, 0 failed, 0 skipped (of 1)" in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("where", ["_ok_line", "low_resolution_warning"])
def test_interrupt_between_files_counts_the_files_on_disk(tmp_path, small_photos, monkeypatch,
                                                          capsys, where):
    # CI once saw Ctrl-C land while the "ok" line was printed: the run said "interrupted before
    # any file was processed" with a finished file on disk.
    folder = write_files(tmp_path / "in", small_photos[:2])
    out = tmp_path / "out"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    owner = cli if where == "_ok_line" else cli.pipeline
    monkeypatch.setattr(owner, where, interrupted)
    assert cli.main([*FAST, str(folder), "-o", str(out)]) == 130
    err = capsys.readouterr().err
    assert "before any file" not in err and "interrupted" in err
    assert err.strip().splitlines()[-1] == "1 done, 0 failed, 0 skipped (of 2)"
    assert len(list(out.iterdir())) == 1


def test_small_sources_get_one_note_with_a_count(tmp_path, small_photos, capsys):
    folder = write_files(tmp_path / "in", small_photos)
    assert cli.main([*FAST, str(folder), "-o", str(tmp_path / "out")]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "under 1500" in line]
    assert notes == ["note  3 sources have a long edge under 1500 px (smallest 160 px): edges "
                     "will look soft when enlarged"]


# --------------------------------------------------------------------------- build.py serve


def test_serve_on_a_busy_port_says_so_and_leaves_dist_alone():
    import socket

    dist = ROOT / "dist"
    dist.mkdir(exist_ok=True)
    marker = dist / "serve-busy-port-marker.txt"
    marker.write_text("must survive")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        try:
            result = subprocess.run([sys.executable, "build.py", "serve", "--port", str(port)],
                                    cwd=ROOT, capture_output=True, text=True, timeout=600)
            assert result.returncode != 0
            message = result.stderr.strip().splitlines()
            assert len(message) == 1, result.stderr
            assert f"port {port}" in message[0] and "--port" in message[0]
            assert marker.exists()  # dist/ was not wiped and rebuilt
        finally:
            marker.unlink(missing_ok=True)
