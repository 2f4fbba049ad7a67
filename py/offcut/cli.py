"""``offcut``: the browser's pipeline on the command line, for batches.

    offcut photo.jpg -o out/
    offcut shoot/ --model isnet-medium --bg white --format jpeg -o out/

One bad file reports an error and the batch continues; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from offcut import fetch, pipeline
from offcut.errors import OffcutError
from offcut.records import load_records

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


def collect_inputs(paths: list[str]) -> list[Path]:
    """Files as given; folders expanded (recursively) to their image files, sorted."""
    found: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
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
    output_name = session.get_outputs()[record.output_index].name

    def run(model_input):
        return session.run([output_name], {record.input_name: model_input})[0]

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

    def line(self, text: str) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\r" + " " * 100 + "\r")
        if not self.quiet or text.startswith("error"):
            print(text, file=sys.stderr, flush=True)


def unique_path(folder: Path, name: str, taken: set[Path]) -> Path:
    candidate = folder / name
    stem, suffix = candidate.stem, candidate.suffix
    number = 2
    while candidate in taken:
        candidate = folder / f"{stem}-{number}{suffix}"
        number += 1
    taken.add(candidate)
    return candidate


def build_parser(records: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offcut", description="Remove the background of photos, locally."
    )
    parser.add_argument("inputs", nargs="+", help="image files or folders")
    parser.add_argument("-o", "--output", default=".", help="output folder (default: .)")
    parser.add_argument("--model", choices=sorted(records), default="u2netp",
                        help="u2netp (fast, 4.6 MB) or isnet-medium (best, 88 MB)")
    parser.add_argument("--no-refine", action="store_true",
                        help="plain bilinear edges instead of edge-aware refinement")
    parser.add_argument("--bg", default=None,
                        help="flatten onto a colour (#rrggbb or 'white'); default transparent")
    parser.add_argument("--format", default="png", choices=["png", "jpeg", "webp"])
    parser.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality 1-100")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    parser.add_argument("--model-file", type=Path, default=None,
                        help="use this ONNX file instead of the cached, verified one")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    records = load_records()
    args = build_parser(records).parse_args(argv)
    record = records[args.model]
    try:
        options = pipeline.ExportOptions.from_dict(
            {"background": args.bg, "format": args.format, "quality": args.quality}
        )
        if args.bg:
            from offcut.compose import parse_colour

            parse_colour(args.bg)
    except OffcutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    inputs = collect_inputs(args.inputs)
    if not inputs:
        print("error: no image files found", file=sys.stderr)
        return 2
    try:
        model_path = args.model_file or fetch.model_file(record.raw, cache_dir())
    except fetch.FetchError as exc:
        print(f"error: could not get the model: {exc}", file=sys.stderr)
        return 2
    run_model = make_runner(model_path, record, args.threads)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = ProgressBar(len(inputs), args.quiet)
    taken: set[Path] = set()
    failures = 0
    for index, path in enumerate(inputs):
        t0 = time.perf_counter()
        try:
            data = path.read_bytes()
            result = pipeline.cutout(
                data, record, run_model, refine_edges=not args.no_refine,
                progress=lambda stage, done, total, i=index, n=path.name: bar.stage(i, n, stage),
            )
            encoded, _ = pipeline.render(result, options)
            target = unique_path(out_dir, pipeline.output_name(path.name, options.fmt), taken)
            target.write_bytes(encoded)
            size = f"{result.alpha.shape[1]}x{result.alpha.shape[0]}"
            bar.line(f"ok    {path} -> {target} ({size}, {time.perf_counter() - t0:.2f}s)")
        except OffcutError as exc:
            failures += 1
            bar.line(f"error {path}: [{exc.code}] {exc}")
        except OSError as exc:
            failures += 1
            bar.line(f"error {path}: [io] {exc.strerror or exc}")
    done = len(inputs) - failures
    bar.line(f"{done} of {len(inputs)} done" + (f", {failures} failed" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
