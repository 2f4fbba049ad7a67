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
import sys
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from offcut import api, compose, decode, encode, fetch, layout, pipeline
from offcut import batch as pipelined
from offcut.errors import InvalidOption, OffcutError
from offcut.progress_line import ProgressLine, printable
from offcut.records import load_records

#: Temporary files are written beside their target and renamed, so a crash, a full disk or
#: Ctrl-C never leaves a partial file under a real name.
TEMP_PREFIX = ".offcut-"

IMAGE_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif",
    ".avif", ".jfif",
}


def shown(path) -> str:
    """A path as a line shows it: control characters (a newline in a name) escaped."""
    return printable(str(path))


#: Where models are kept (kept here for callers of the CLI module).
cache_dir = api.cache_dir


#: Suffixes of the files offcut writes: only these are opened to look for its marker.
MARKED_SUFFIXES = {".png", ".jpg", ".jpeg", ".jfif", ".webp"}


class NotAFile(OffcutError):
    """An input named on the command line that is neither an image file nor a folder with
    image files in it (a folder named ``x.jpg``, a device, an unreadable folder)."""

    code = "not-a-file"


def written_by_offcut(path: Path) -> bool:
    """Whether ``path`` is a file offcut made: its PNG text or EXIF says ``Software: offcut``
    (:data:`offcut.encode.SOFTWARE`, written by the page and the CLI into every file). Only
    the header is read; a file that cannot be opened is no output (its load reports it)."""
    if path.suffix.lower() not in MARKED_SUFFIXES:
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                return encode.software(image) == encode.SOFTWARE
    except Exception:  # noqa: BLE001 - unreadable or not an image: not one of ours
        return False


@dataclass
class Inputs:
    """What the command line's paths hold, in order.

    Attributes
    ----------
    entries : list of (path, error or None)
        The photos to process, and each named path that gave none (an error its line shows).
    outputs : list of Path
        Files offcut wrote, found in folders and left out (``--include-outputs`` keeps them).
    named_outputs : list of Path
        The same, named on the command line.
    notes : list of str
        Folders and links passed over while searching (a loop, an unreadable folder).
    """

    entries: list[tuple[Path, OffcutError | None]] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    named_outputs: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [path for path, problem in self.entries if problem is None]


def find_inputs(paths: list[str], include_outputs: bool = False) -> Inputs:
    """Files as given; folders searched recursively for image files (by suffix), each folder
    in name order, links followed but no folder searched twice (a link back up is a loop).

    Files offcut wrote (:func:`written_by_offcut`) are left out and counted, unless
    ``include_outputs``: a rerun with the outputs inside the input folder, or a new ``-o``,
    does not cut out its own cutouts, whatever their names. A named path that yields no
    photo gets an entry with its error, so that every path named has a line.
    """
    found = Inputs()
    searched: set[tuple[int, int]] = set()
    for text in paths:
        path = Path(text)
        if path.is_dir():
            before = len(found.entries), len(found.outputs)
            why = _search(path, found, searched, include_outputs)
            if why == ALREADY_SEARCHED:
                found.notes.append(f"{shown(path)}: {why}")
            elif why:
                found.entries.append((path, NotAFile(why)))
            elif (len(found.entries), len(found.outputs)) == before:
                found.entries.append((path, NotAFile("a folder with no image files in it")))
        elif path.exists() and not path.is_file():
            found.entries.append((path, NotAFile("not a regular file")))
        elif not include_outputs and written_by_offcut(path):
            found.named_outputs.append(path)
        else:
            found.entries.append((path, None))  # missing: its load says so, as [io]
    return found


ALREADY_SEARCHED = "a folder already searched (a link loop, or a second way in); skipped"


def _search(folder: Path, found: Inputs, searched: set, include_outputs: bool) -> str | None:
    """Add ``folder``'s photos to ``found``; returns why ``folder`` itself was passed over
    (:data:`ALREADY_SEARCHED`, or that it cannot be read), or None."""
    try:
        status = folder.stat()
        key = (status.st_dev, status.st_ino)
        if key in searched:
            return ALREADY_SEARCHED
        searched.add(key)
        with os.scandir(folder) as listing:
            children = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        return f"a folder that cannot be read ({exc.strerror or exc})"
    for child in children:
        path = folder / child.name
        try:
            is_dir = child.is_dir()
            is_file = not is_dir and child.is_file()
        except OSError:
            is_dir = is_file = False
        if is_dir:
            why = _search(path, found, searched, include_outputs)
            if why:
                found.notes.append(f"{shown(path)}: {why}" if why == ALREADY_SEARCHED
                                   else f"{shown(path)}: {why}; skipped")
        elif not is_file or path.suffix.lower() not in IMAGE_SUFFIXES \
                or child.name.startswith(TEMP_PREFIX):
            continue
        elif not include_outputs and written_by_offcut(path):
            found.outputs.append(path)
        else:
            found.entries.append((path, None))
    return None


def collect_inputs(paths: list[str], out_dir: Path | None = None,
                   include_outputs: bool = False) -> list[Path]:
    """The photos of :func:`find_inputs`, as paths (``out_dir`` is unused: outputs are known
    by their marker wherever they are; kept for callers)."""
    return find_inputs(paths, include_outputs).files


def output_name(path: Path, fmt: str = "png", mask: bool = False) -> str:
    """:func:`offcut.pipeline.output_name` of a source path (never a hidden file)."""
    return pipeline.output_name(path.name, fmt, mask)


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
        epilog="Folders are searched recursively (links followed, each folder once). Every "
               "file offcut writes says 'Software: offcut' inside; such files are not taken "
               "as photos (a note counts them) unless --include-outputs, whatever their "
               "names. Existing outputs are kept (a rerun resumes a batch); --overwrite "
               "replaces them. Outputs are named <name>-cutout.<ext>, never hidden (leading "
               "dots are left out).",
    )
    parser.add_argument("inputs", nargs="+", help="image files or folders")
    parser.add_argument("-o", "--output", default=".", help="output folder (default: .)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace outputs that already exist (default: keep them, skip)")
    parser.add_argument("--include-outputs", action="store_true",
                        help="also take files offcut wrote (marked 'Software: offcut') as "
                             "photos; by default they are skipped with a note")
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


@dataclass(eq=False)  # compared and hashed as itself: the key of its warnings
class Task:
    """One input of the batch and the file it becomes (none for a named path that holds no
    photo: ``problem`` is its error, raised by its load so that its line comes in order)."""

    path: Path
    target: Path | None
    problem: OffcutError | None = None


#: The key of work whose warnings nobody reads (a header read only to estimate memory).
UNHEARD = object()


class FileWarnings:
    """Python warnings raised while a file is worked on (Pillow's "Corrupt EXIF data"...),
    kept as that file's notes instead of raw text on stderr.

    The stages run on threads: each says whose work it does with :meth:`about` (a
    thread-local key), and the one process-wide hook files each warning under that key.
    """

    def __init__(self):
        self._local = threading.local()
        self._lock = threading.Lock()
        self._kept: dict = {}

    @contextmanager
    def about(self, key):
        previous = getattr(self._local, "key", None)
        self._local.key = key
        try:
            yield
        finally:
            self._local.key = previous

    def _show(self, message, category, filename, lineno, file=None, line=None) -> None:
        key = getattr(self._local, "key", None)
        if key is UNHEARD:
            return
        text = " ".join(str(message).split()) or getattr(category, "__name__", "warning")
        with self._lock:  # called inside the code that warned: it must not raise
            kept = self._kept.setdefault(key, [])
            if text not in kept:
                kept.append(text)

    def take(self, key) -> list[str]:
        """The warnings filed under ``key`` (each once), forgotten."""
        with self._lock:
            return self._kept.pop(key, [])

    @contextmanager
    def installed(self):
        """Every warning of the process goes to :meth:`_show` (each time, not once per
        place) until the block ends."""
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = self._show
            yield self


@dataclass
class Finished:
    """What the consumer needs of a finished photo: the file's bytes and the source's facts
    (the full-size arrays are dropped in the finish stage, so photos waiting to be written
    hold only their encoded file)."""

    data: bytes
    info: dict
    timings: dict


def _stages(remover: api.Remover, refine: bool, options, background_photo,
            heard: FileWarnings) -> pipelined.Stages:
    """The three steps of one photo, as the CLI has always run them; warnings are filed
    under the task."""

    def load(task: Task):
        if task.problem is not None:
            raise task.problem
        with heard.about(task):
            return task, remover.start(task.path)

    def infer(loaded, stopper):
        task, job = loaded
        with heard.about(task):
            if remover.stoppable:
                return pipelined.onnx_stop(remover.infer, job, stopper)
            return remover.infer(job)

    def finish(task: Task, loaded, output) -> Finished:
        with heard.about(task):
            result = remover.complete(loaded[1], output, refine)
            encoded, _ = pipeline.render(result, options, background_photo)
        return Finished(encoded, result.decoded.info, result.timings)

    return pipelined.Stages(load, infer, finish)


def _ok_line(path, target, finished: Finished) -> str:
    size = f"{finished.info['width']}x{finished.info['height']}"
    return (f"ok    {shown(path)} -> {shown(target)} (source {size}, "
            f"{finished.timings['file']:.2f}s)")


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _input_notes(found: Inputs) -> list[str]:
    """The notes on what the search passed over, said before the first photo."""
    lines = [f"note  {shown(path)}: written by offcut (Software: offcut); skipped, "
             "--include-outputs takes it as a photo" for path in found.named_outputs]
    if found.outputs:
        count = len(found.outputs)
        lines.append(f"note  skipped {_plural(count, 'file', 'files')} offcut wrote earlier "
                     f"(e.g. {shown(found.outputs[0])}); --include-outputs takes "
                     f"{'it' if count == 1 else 'them'} as photos")
    lines += [f"note  {text}" for text in found.notes]
    return lines


def _report_notes(batch: Batch, bar: ProgressLine, threshold: int = 1500) -> None:
    if batch.skipped:
        count = len(batch.skipped)
        bar.line(f"note  {count} output{'s' if count > 1 else ''} already existed and "
                 f"{'were' if count > 1 else 'was'} kept (e.g. {shown(batch.skipped[0])}); "
                 "--overwrite replaces them")
    if len(batch.small) == 1:
        path, long_edge = batch.small[0]
        bar.line(f"note  {shown(path)}: the long edge is {long_edge} px (under {threshold}): "
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
        found = find_inputs(args.inputs, args.include_outputs)
        if not found.files:
            for line in _input_notes(found):
                print(printable(line), file=sys.stderr)
            for path, problem in found.entries:
                print(f"error {shown(path)}: [{problem.code}] {printable(str(problem))}",
                      file=sys.stderr)
            skipped = len(found.outputs) + len(found.named_outputs)
            print("error: no image files found" + (
                f" ({_plural(skipped, 'file', 'files')} offcut wrote skipped; "
                "--include-outputs takes them)" if skipped else ""), file=sys.stderr)
            return 2
        prepare_output_folder(out_dir)
        remover = load_model(args, record)
    except OffcutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except fetch.FetchError as exc:
        print(f"error: could not get the model: {exc}", file=sys.stderr)
        return 2
    bar = ProgressLine(len(found.entries), args.quiet)
    batch = Batch(len(found.entries))
    for line in _input_notes(found):
        bar.line(line)
    try:
        with FileWarnings().installed() as heard:
            _run_batch(found.entries, out_dir, args, remover, options, background_photo, bar,
                       batch, heard)
            for text in heard.take(None):  # raised outside any one file's work
                bar.line(f"note  {text}")
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


def _run_batch(entries, out_dir, args, remover, options, background_photo, bar: ProgressLine,
               batch: Batch, heard: FileWarnings) -> None:
    """Cut out every input; one file's error is counted and the batch goes on.

    The photos' steps overlap (:class:`offcut.batch.Pipeline`), but each file is written and
    reported here, in input order, by this thread: where Ctrl-C lands is where it always did.
    """
    taken: set[Path] = set()
    fmt = options.resolved_format()

    def tasks():
        # Lazily, as photos are admitted: an output that exists is checked just before its
        # photo would start, as in a one-by-one run.
        for path, problem in entries:
            if problem is not None:
                yield Task(path, None, problem)
                continue
            target = unique_path(out_dir, output_name(path, fmt, options.mask), taken)
            if target.exists() and not args.overwrite:
                batch.skipped.append(target)
                bar.advance(skipped=True)
                continue
            yield Task(path, target)

    def cost(task: Task) -> int:
        if task.problem is not None:
            return 0
        with heard.about(UNHEARD):
            return pipelined.photo_cost(task.path)

    stages = _stages(remover, not args.no_refine, options, background_photo, heard)
    with pipelined.Pipeline(stages, cost=cost) as pipe:
        for task, future in pipe.run(tasks()):
            path = task.path
            bar.working_on(shown(path))
            try:
                _run_one(task, future, bar, batch)
            finally:
                for text in heard.take(task):
                    bar.line(f"note  {shown(path)}: {printable(text)}")


def _run_one(task: Task, future, bar: ProgressLine, batch: Batch) -> None:
    """Write one finished photo and print its line (or its error's)."""
    path, target = task.path, task.target
    try:
        seconds, finished = future.result()
        started = time.perf_counter() - seconds  # the time of its stages, then the write
        write_atomically(target, finished.data)
        batch.written.add(target)
    except KeyboardInterrupt:
        if target not in batch.written:
            bar.line(f"interrupted during {shown(path)}: nothing written for it")
        raise
    except Exception as exc:  # noqa: BLE001 - one file's failure must not end the batch
        batch.failed += 1
        bar.advance()
        bar.line(f"error {shown(path)}: {_reason(exc)}")
        return
    finished.timings["file"] = time.perf_counter() - started
    bar.advance()
    bar.line(_ok_line(path, target, finished))
    frames = finished.info.get("frames", 1)
    if frames > 1:
        bar.line(f"note  {shown(path)}: an animation of {frames} frames; the first frame was "
                 "used")
    long_edge = max(finished.info["width"], finished.info["height"])
    if pipeline.low_resolution_warning(finished.info):
        batch.small.append((path, long_edge))


def _reason(exc: Exception) -> str:
    """``[code] reason`` of a file's error line."""
    if isinstance(exc, OffcutError):
        return f"[{exc.code}] {exc}"
    if isinstance(exc, MemoryError):
        return "[out-of-memory] ran out of memory on this image"
    if isinstance(exc, OSError):
        return f"[io] {exc.strerror or exc}"
    return f"[internal] {type(exc).__name__}: {exc}"


if __name__ == "__main__":
    sys.exit(main())
