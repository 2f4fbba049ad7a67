"""``offcut``: the browser's pipeline on the command line, for batches.

    offcut photo.jpg -o out/
    offcut shoot/ --model isnet-medium --bg white --format jpeg -o out/

One bad file reports an error and the batch continues; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from offcut import compose, decode, fetch, layout, pipeline
from offcut.errors import InvalidOption, OffcutError
from offcut.records import load_records

#: Temporary files are written beside their target and renamed, so a crash, a full disk or
#: Ctrl-C never leaves a partial file under a real name.
TEMP_PREFIX = ".offcut-"

IMAGE_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif",
    ".avif", ".jfif",
}


def cache_dir() -> Path:
    """Where models are kept: $OFFCUT_CACHE, the checkout's .cache/, or ~/.cache/offcut."""
    if os.environ.get("OFFCUT_CACHE"):
        return Path(os.environ["OFFCUT_CACHE"])
    checkout = Path(__file__).resolve().parents[2] / ".cache"
    return checkout if checkout.is_dir() else Path.home() / ".cache" / "offcut"


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


def make_runner(model_path: Path, record, threads: int | None):
    """An onnxruntime session wrapped as ``run(input) -> mask output``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
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

    def run(model_input):
        # The models take one view at a time (their batch size is fixed at 1).
        return np.concatenate([
            session.run([output_name], {record.input_name: model_input[i : i + 1]})[0]
            for i in range(len(model_input))])

    return run


class ProgressBar:
    """One line per file; a redrawn bar when stderr is a terminal."""

    def __init__(self, total: int, quiet: bool = False):
        self.total, self.quiet = total, quiet
        self.tty = sys.stderr.isatty()

    def stage(self, index: int, name: str, stage: str) -> None:
        if self.quiet or not self.tty:
            return
        width = 24
        filled = int(width * index / max(self.total, 1))
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r[{bar}] {index}/{self.total} {name[:40]:40} {stage:10}")
        sys.stderr.flush()

    def line(self, text: str, always: bool = False) -> None:
        """Print a line; with --quiet only errors (and ``always`` lines: the summary)."""
        if self.tty and not self.quiet:
            sys.stderr.write("\r" + " " * 100 + "\r")
        if not self.quiet or always or text.startswith("error"):
            print(text, file=sys.stderr, flush=True)


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
    if args.shadow is not None:
        try:
            dx, dy = (float(v) / 100 for v in args.shadow_offset.split(","))
        except ValueError as exc:
            raise InvalidOption(f"--shadow-offset wants X,Y, got {args.shadow_offset!r}") from exc
        shadow = {"opacity": args.shadow / 100, "blur": args.shadow_blur / 100, "offset": [dx, dy]}
    layout.parse_margin(args.margin)  # fail early, before any model work
    options = pipeline.ExportOptions.from_dict({
        "background": background, "format": args.format, "quality": args.quality,
        "shadow": shadow, "crop": args.crop, "margin": args.margin, "preset": args.preset,
        "canvas": args.canvas, "fill": args.fill / 100, "max_size": args.max_size,
        "mask": args.mask,
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


def _canvas(text: str) -> tuple[int, int]:
    """``"1200x800"`` -> (1200, 800); both sides >= 1, at most the source pixel limit."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants WIDTHxHEIGHT such as 1200x800, got {text!r}") \
            from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"width and height must be at least 1 px, got {text}")
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
    parser.add_argument("--model", choices=sorted(records), default="u2netp",
                        help="u2netp (fast, 4.6 MB) or isnet-medium (best, 88 MB)")
    parser.add_argument("--no-refine", action="store_true",
                        help="plain bilinear edges instead of edge-aware refinement")
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


def load_model(args, record):
    """The model runner, or InvalidOption/FetchError with a one-line reason."""
    if args.model_file is None:
        return make_runner(fetch.runtime_model(record.raw, cache_dir()), record, args.threads)
    path = args.model_file
    if not path.is_file():
        raise InvalidOption(f"--model-file {path}: no such file")
    try:
        run = make_runner(path, record, args.threads)
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InvalidOption(f"--model-file {path} is not a usable ONNX model for {record.id}: "
                            f"{reason}") from exc
    return run


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


def _process(path, target, args, record, run_model, options, background_photo, bar, index,
             written):
    """Cut out one file and write it; returns the Cutout. ``written`` (a set) gets ``target``
    the moment the file is complete, so an interrupt right after still counts it."""
    t0 = time.perf_counter()
    data = path.read_bytes()
    result = pipeline.cutout(
        data, record, run_model, refine_edges=not args.no_refine,
        progress=lambda stage, done, total, i=index, n=path.name: bar.stage(i, n, stage),
    )
    encoded, _ = pipeline.render(result, options, background_photo)
    write_atomically(target, encoded)
    written.add(target)
    result.timings["file"] = time.perf_counter() - t0
    return result


def _ok_line(path, target, result) -> str:
    size = f"{result.alpha.shape[1]}x{result.alpha.shape[0]}"
    return f"ok    {path} -> {target} (source {size}, {result.timings['file']:.2f}s)"


def _report_notes(batch: Batch, bar: ProgressBar, threshold: int = 1500) -> None:
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
        run_model = load_model(args, record)
    except OffcutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except fetch.FetchError as exc:
        print(f"error: could not get the model: {exc}", file=sys.stderr)
        return 2
    bar = ProgressBar(len(inputs), args.quiet)
    batch = Batch(len(inputs))
    try:
        _run_batch(inputs, out_dir, args, record, run_model, options, background_photo, bar,
                   batch)
    except KeyboardInterrupt:
        # Anywhere in the loop (a file's work, its "ok" line, the notes): finished files stay.
        bar.line("interrupted; finished files kept, nothing partial left behind")
        _report_notes(batch, bar)
        bar.line(batch.summary(), always=True)
        return 130
    _report_notes(batch, bar)
    bar.line(batch.summary(), always=True)
    return 1 if batch.failed else 0


def _run_batch(inputs, out_dir, args, record, run_model, options, background_photo, bar,
               batch: Batch) -> None:
    """Cut out every input in turn; one file's error is counted and the batch goes on."""
    taken: set[Path] = set()
    fmt = options.resolved_format()
    for index, path in enumerate(inputs):
        target = unique_path(out_dir, pipeline.output_name(path.name, fmt, options.mask), taken)
        if target.exists() and not args.overwrite:
            batch.skipped.append(target)
            continue
        try:
            result = _process(path, target, args, record, run_model, options,
                              background_photo, bar, index, batch.written)
        except KeyboardInterrupt:
            if target not in batch.written:
                bar.line(f"interrupted during {path}: nothing written for it")
            raise
        except OffcutError as exc:
            batch.failed += 1
            bar.line(f"error {path}: [{exc.code}] {exc}")
            continue
        except MemoryError:
            batch.failed += 1
            bar.line(f"error {path}: [out-of-memory] ran out of memory on this image")
            continue
        except OSError as exc:
            batch.failed += 1
            bar.line(f"error {path}: [io] {exc.strerror or exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one file's bug must not end the batch
            batch.failed += 1
            bar.line(f"error {path}: [internal] {type(exc).__name__}: {exc}")
            continue
        bar.line(_ok_line(path, target, result))
        frames = result.decoded.info.get("frames", 1)
        if frames > 1:
            bar.line(f"note  {path}: an animation of {frames} frames; the first frame was used")
        long_edge = max(result.decoded.info["width"], result.decoded.info["height"])
        if pipeline.low_resolution_warning(result.decoded.info):
            batch.small.append((path, long_edge))

if __name__ == "__main__":
    sys.exit(main())
