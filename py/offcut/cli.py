"""``offcut``: the browser's pipeline on the command line, for batches.

    offcut photo.jpg -o out/
    offcut shoot/ --model u2netp --bg white --format jpeg -o out/

One bad file reports an error and the batch continues; the exit status is 1 if any failed.
The photos go through :class:`offcut.api.Remover`'s steps overlapped (:mod:`offcut.batch`):
the same files, in the same order of lines, as one photo after another.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from offcut import api, compose, decode, fetch, layout, pipeline
from offcut import batch as pipelined
from offcut.errors import InvalidOption, OffcutError
from offcut.progress_line import ProgressLine
from offcut.records import load_records

#: Temporary files are written beside their target and renamed, so a crash, a full disk or
#: Ctrl-C never leaves a partial file under a real name.
TEMP_PREFIX = ".offcut-"

IMAGE_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif",
    ".avif", ".jfif",
}


#: Where models are kept (kept here for callers of the CLI module).
cache_dir = api.cache_dir


#: What this CLI names its outputs: ``<stem>-cutout.<ext>``, ``<stem>-cutout-2.<ext>``,
#: ``<stem>-mask.png``. Such files found inside the output folder are results, not inputs.
OUTPUT_NAME = re.compile(r".+-(cutout(-\d+)?\.(png|jpg|webp)|mask(-\d+)?\.png)$", re.IGNORECASE)


def collect_inputs(paths: list[str], out_dir: Path | None = None) -> list[Path]:
    """Files as given; folders expanded (recursively) to their image files, sorted.

    Files under ``out_dir`` named like this CLI's outputs are left out, so that a rerun with
    the outputs beside the inputs does not cut out its own cutouts.
    """
    out_root = out_dir.resolve() if out_dir is not None else None
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            for candidate in sorted(path.rglob("*")):
                if not candidate.is_file() or candidate.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                if candidate.name.startswith(TEMP_PREFIX):
                    continue
                if out_root is not None and OUTPUT_NAME.match(candidate.name) \
                        and candidate.resolve().is_relative_to(out_root):
                    continue
                found.append(candidate)
        else:
            found.append(path)
    return found


#: ``make_runner(model_path, record, threads)``: an onnxruntime session as a function.
make_runner = api.make_runner


def unique_path(folder: Path, name: str, taken: set[Path]) -> Path:
    """``folder/name``, numbered (``-2``, ``-3``...) when an earlier input of this run has it.

    Only this run's names count, so the same inputs map to the same outputs on a rerun."""
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    number = 2
    while candidate in taken:
        candidate = folder / f"{stem}-{number}{suffix}"
        number += 1
    taken.add(candidate)
    return candidate


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder and a rename:
    ``target`` is either untouched or complete, never partial, whatever happens (a full disk,
    Ctrl-C). The temporary file is removed on any failure."""
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=".part")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def prepare_output_folder(out_dir: Path) -> None:
    """Create ``out_dir`` and check that files can be written there, before any model work.

    Raises
    ------
    InvalidOption with a sentence naming the folder and the reason.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InvalidOption(f"-o {out_dir} is a file; -o takes a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidOption(
            f"cannot create the output folder {out_dir}: {exc.strerror or exc}") from exc
    try:
        handle, probe = tempfile.mkstemp(dir=out_dir, prefix=TEMP_PREFIX, suffix=".probe")
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidOption(
            f"cannot write into the output folder {out_dir}: {exc.strerror or exc}") from exc


def background_choice(text: str | None) -> tuple[str | None, bytes | None]:
    """``--bg`` -> (ExportOptions.background, background photo bytes or None).

    An existing file is a photo (checked to decode now, not after the batch); otherwise the
    text must be a colour or "blur". Text that looks like a file name but names no file is
    reported as a missing file, not as a bad colour.
    """
    if text is None:
        return None, None
    if text == "blur":
        return "blur", None
    path = Path(text)
    if path.is_file():
        try:
            photo = path.read_bytes()
            decode.decode(photo)
        except OffcutError as exc:
            raise InvalidOption(f"--bg {text}: the background photo cannot be used: {exc}") \
                from exc
        except OSError as exc:
            raise InvalidOption(f"--bg {text}: cannot read it: {exc.strerror or exc}") from exc
        return "photo", photo
    if path.is_dir():
        raise InvalidOption(f"--bg {text} is a folder; give a colour or a photo file")
    try:
        compose.parse_colour(text)
        return text, None
    except InvalidOption:
        pass
    if path.suffix or "/" in text or os.sep in text:
        raise InvalidOption(f"--bg {text}: no such file (a background photo must exist)")
    raise InvalidOption(f"--bg {text!r} is neither a colour (#rrggbb, white, black), 'blur', "
                        "nor an existing photo file")


def export_options(args) -> tuple[pipeline.ExportOptions, bytes | None]:
    """CLI flags -> the same ExportOptions the browser sends, plus a background photo."""
    background, photo = background_choice(args.bg)
    shadow = None
    # Checked with or without --shadow: a bad value given on its own is still a mistake.
    try:
        dx, dy = (float(v) / 100 for v in args.shadow_offset.split(","))
    except ValueError as exc:
        raise InvalidOption(f"--shadow-offset wants X,Y, got {args.shadow_offset!r}") from exc
    if args.shadow is not None:
        shadow = {"opacity": args.shadow / 100, "blur": args.shadow_blur / 100, "offset": [dx, dy]}
    layout.parse_margin(args.margin)  # fail early, before any model work
    options = pipeline.ExportOptions.from_dict({
        "background": background, "format": args.format, "quality": args.quality,
        "shadow": shadow, "crop": args.crop, "margin": args.margin, "preset": args.preset,
        "canvas": args.canvas, "fill": args.fill / 100, "max_size": args.max_size,
        "mask": args.mask,
        "edges": {"shift": args.edge_shift, "feather": args.feather, "solid": args.solid},
    })
    if args.preset == "custom" and not args.canvas:
        raise InvalidOption("--preset custom needs --canvas WxH")
    return options, photo


def _number(kind, low, high=None, *, low_open=False):
    """An argparse ``type`` that parses ``kind`` and checks ``low <= value <= high``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        too_low = value <= low if low_open else value < low
        if too_low or (high is not None and value > high) or value != value:
            lower = f"more than {low:g}" if low_open else f"at least {low:g}"
            upper = f" and at most {high:g}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"must be {lower}{upper}, got {text}")
        return value

    return parse


#: The longest side a custom canvas may have (a 100000x1 "canvas" is a typo, not a design).
MAX_CANVAS_SIDE = 20000


def _canvas(text: str) -> tuple[int, int]:
    """``"1200x800"`` -> (1200, 800); each side from the smallest image side to
    :data:`MAX_CANVAS_SIDE`, at most the source pixel limit in all."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants WIDTHxHEIGHT such as 1200x800, got {text!r}") \
            from None
    if min(width, height) < decode.MIN_SIDE or max(width, height) > MAX_CANVAS_SIDE:
        raise argparse.ArgumentTypeError(
            f"each side must be {decode.MIN_SIDE} to {MAX_CANVAS_SIDE} px, got {text}")
    if width * height > decode.MAX_PIXELS:
        raise argparse.ArgumentTypeError(
            f"{text} is {width * height / 1e6:.0f} MP; at most {decode.MAX_PIXELS / 1e6:.0f} MP")
    return width, height


def _help(text: str) -> str:
    """argparse formats help strings with %: a literal percent sign must be doubled."""
    return text.replace("%", "%%")


def build_parser(records: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offcut", description="Remove the background of photos, locally.",
        epilog="Existing outputs are kept (a rerun resumes a batch); --overwrite replaces them.",
    )
    parser.add_argument("inputs", nargs="+", help="image files or folders")
    parser.add_argument("-o", "--output", default=".", help="output folder (default: .)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace outputs that already exist (default: keep them, skip)")
    parser.add_argument("--model", choices=sorted(records), default=api.DEFAULT_MODEL,
                        help="isnet-medium (Best, 46 MB, the default) or u2netp (Fast, 4.6 MB)")
    parser.add_argument("--no-refine", action="store_true",
                        help="plain bilinear edges instead of edge-aware refinement")
    parser.add_argument("--solid", action="store_true",
                        help="make the inside of the subject fully opaque (a see-through plush "
                             "toy or glass); the soft edge stays")
    parser.add_argument("--edge-shift", type=_number(int, -50, 50), default=0, metavar="PX",
                        help="move the edge out (+) or in (-) by PX pixels; in trims a halo")
    parser.add_argument("--feather", type=_number(float, 0, 50), default=0.0, metavar="PX",
                        help="soften the edge with a blur of PX pixels")
    parser.add_argument("--bg", default=None, metavar="BG",
                        help="background: a colour (#rrggbb, 'white'; sRGB), 'blur' (the "
                             "original, blurred) or a photo's path; default transparent")
    parser.add_argument("--shadow", nargs="?", const=15.0, type=_number(float, 0, 100),
                        default=None, metavar="OPACITY",
                        help=_help("add a soft drop shadow (opacity %, default 15)"))
    parser.add_argument("--shadow-blur", type=_number(float, 0, 100), default=3.0,
                        metavar="PCT",
                        help=_help("shadow blur, % of the subject's longer side (default 3)"))
    parser.add_argument("--shadow-offset", default="0,2", metavar="X,Y",
                        help=_help("shadow offset, % of the subject's longer side (default 0,2)"))
    parser.add_argument("--crop", action="store_true",
                        help="crop to the subject plus --margin")
    parser.add_argument("--margin", default="5%",
                        help=_help("crop margin: 5% or 40px (default 5%)"))
    parser.add_argument("--preset", choices=[*sorted(layout.PRESETS), "custom"], default=None,
                        help=_help("output canvas: " + "; ".join(
                            f"{p.name}: {p.width}x{p.height}, fill {p.fill:.0%}"
                            for p in layout.PRESETS.values()) + "; custom: --canvas, --fill"))
    parser.add_argument("--canvas", default=None, type=_canvas, metavar="WxH",
                        help="custom canvas size")
    parser.add_argument("--fill", type=_number(float, 0, 100, low_open=True), default=85.0,
                        metavar="PCT",
                        help=_help("custom canvas: % of the frame the subject spans (default 85)"))
    parser.add_argument("--format", default=None, choices=["png", "jpeg", "webp"],
                        help="default png (or the preset's format)")
    parser.add_argument("--quality", type=_number(int, 1, 100), default=None,
                        help="JPEG/WebP quality 1-100 (default 92)")
    parser.add_argument("--max-size", type=_number(int, 1), default=None, metavar="PX",
                        help="limit the long edge of the output")
    parser.add_argument("--mask", action="store_true", help="write the alpha matte as a PNG")
    parser.add_argument("--threads", type=_number(int, 1), default=None,
                        help="onnxruntime threads")
    parser.add_argument("--model-file", type=Path, default=None,
                        help="use this ONNX file instead of the cached, verified one")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    return parser


def load_model(args, record) -> api.Remover:
    """The model, loaded once for the batch, or InvalidOption/FetchError with a one-line
    reason."""
    return api.Remover(record.id, threads=args.threads, model_file=args.model_file)


class Batch:
    """Counts and deferred notes of one run, and the summary line."""

    def __init__(self, total: int):
        self.total = total
        self.failed = 0
        #: Targets complete on disk. "done" is counted from this set, filled the moment a file
        #: is renamed into place, so an interrupt anywhere after that still counts the file.
        self.written: set[Path] = set()
        self.skipped: list[Path] = []
        self.small: list[tuple[Path, int]] = []

    @property
    def done(self) -> int:
        return len(self.written)

    def summary(self) -> str:
        parts = [f"{self.done} done", f"{self.failed} failed", f"{len(self.skipped)} skipped"]
        return ", ".join(parts) + f" (of {self.total})"


@dataclass
class Task:
    """One input of the batch and the file it becomes."""

    path: Path
    target: Path


@dataclass
class Finished:
    """What the consumer needs of a finished photo: the file's bytes and the source's facts
    (the full-size arrays are dropped in the finish stage, so photos waiting to be written
    hold only their encoded file)."""

    data: bytes
    info: dict
    timings: dict


def _stages(remover: api.Remover, refine: bool, options, background_photo) -> pipelined.Stages:
    """The three steps of one photo, as the CLI has always run them."""

    def load(task: Task):
        return remover.start(task.path)

    def infer(job, stopper):
        if remover.stoppable:
            return pipelined.onnx_stop(remover.infer, job, stopper)
        return remover.infer(job)

    def finish(task: Task, job, output) -> Finished:
        result = remover.complete(job, output, refine)
        encoded, _ = pipeline.render(result, options, background_photo)
        return Finished(encoded, result.decoded.info, result.timings)

    return pipelined.Stages(load, infer, finish)


def _ok_line(path, target, finished: Finished) -> str:
    size = f"{finished.info['width']}x{finished.info['height']}"
    return f"ok    {path} -> {target} (source {size}, {finished.timings['file']:.2f}s)"


def _report_notes(batch: Batch, bar: ProgressLine, threshold: int = 1500) -> None:
    if batch.skipped:
        count = len(batch.skipped)
        bar.line(f"note  {count} output{'s' if count > 1 else ''} already existed and "
                 f"{'were' if count > 1 else 'was'} kept (e.g. {batch.skipped[0]}); "
                 "--overwrite replaces them")
    if len(batch.small) == 1:
        path, long_edge = batch.small[0]
        bar.line(f"note  {path}: the long edge is {long_edge} px (under {threshold}): "
                 "edges will look soft when enlarged")
    elif batch.small:
        smallest = min(edge for _, edge in batch.small)
        bar.line(f"note  {len(batch.small)} sources have a long edge under {threshold} px "
                 f"(smallest {smallest} px): edges will look soft when enlarged")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 some file failed, 2 usage, 130 Ctrl-C)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("\ninterrupted before any file was processed", file=sys.stderr, flush=True)
        return 130


def _main(argv: list[str] | None) -> int:
    records = load_records()
    args = build_parser(records).parse_args(argv)
    record = records[args.model]
    out_dir = Path(args.output)
    try:
        options, background_photo = export_options(args)
        inputs = collect_inputs(args.inputs, out_dir)
        if not inputs:
            print("error: no image files found", file=sys.stderr)
            return 2
        prepare_output_folder(out_dir)
        remover = load_model(args, record)
    except OffcutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except fetch.FetchError as exc:
        print(f"error: could not get the model: {exc}", file=sys.stderr)
        return 2
    bar = ProgressLine(len(inputs), args.quiet)
    batch = Batch(len(inputs))
    try:
        _run_batch(inputs, out_dir, args, remover, options, background_photo, bar, batch)
    except KeyboardInterrupt:
        # Anywhere in the loop (a file's work, its "ok" line, the notes): finished files stay.
        bar.line("interrupted; finished files kept, nothing partial left behind")
        _report_notes(batch, bar)
        bar.close()
        bar.line(batch.summary(), always=True)
        return 130
    _report_notes(batch, bar)
    bar.close()
    bar.line(batch.summary(), always=True)
    return 1 if batch.failed else 0


def _run_batch(inputs, out_dir, args, remover, options, background_photo, bar: ProgressLine,
               batch: Batch) -> None:
    """Cut out every input; one file's error is counted and the batch goes on.

    The photos' steps overlap (:class:`offcut.batch.Pipeline`), but each file is written and
    reported here, in input order, by this thread: where Ctrl-C lands is where it always did.
    """
    taken: set[Path] = set()
    fmt = options.resolved_format()

    def tasks():
        # Lazily, as photos are admitted: an output that exists is checked just before its
        # photo would start, as in a one-by-one run.
        for path in inputs:
            target = unique_path(out_dir, pipeline.output_name(path.name, fmt, options.mask),
                                 taken)
            if target.exists() and not args.overwrite:
                batch.skipped.append(target)
                bar.advance(skipped=True)
                continue
            yield Task(path, target)

    stages = _stages(remover, not args.no_refine, options, background_photo)
    with pipelined.Pipeline(stages, cost=lambda task: pipelined.photo_cost(task.path)) as pipe:
        for task, future in pipe.run(tasks()):
            path, target = task.path, task.target
            bar.working_on(str(path))
            try:
                seconds, finished = future.result()
                started = time.perf_counter() - seconds  # the time of its stages, then the write
                write_atomically(target, finished.data)
                batch.written.add(target)
            except KeyboardInterrupt:
                if target not in batch.written:
                    bar.line(f"interrupted during {path}: nothing written for it")
                raise
            except OffcutError as exc:
                batch.failed += 1
                bar.advance()
                bar.line(f"error {path}: [{exc.code}] {exc}")
                continue
            except MemoryError:
                batch.failed += 1
                bar.advance()
                bar.line(f"error {path}: [out-of-memory] ran out of memory on this image")
                continue
            except OSError as exc:
                batch.failed += 1
                bar.advance()
                bar.line(f"error {path}: [io] {exc.strerror or exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - one file's bug must not end the batch
                batch.failed += 1
                bar.advance()
                bar.line(f"error {path}: [internal] {type(exc).__name__}: {exc}")
                continue
            finished.timings["file"] = time.perf_counter() - started
            bar.advance()
            bar.line(_ok_line(path, target, finished))
            frames = finished.info.get("frames", 1)
            if frames > 1:
                bar.line(f"note  {path}: an animation of {frames} frames; the first frame was "
                         "used")
            long_edge = max(finished.info["width"], finished.info["height"])
            if pipeline.low_resolution_warning(finished.info):
                batch.small.append((path, long_edge))


if __name__ == "__main__":
    sys.exit(main())
