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

from offcut import compose, fetch, layout, pipeline
from offcut.errors import InvalidOption, OffcutError
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


def export_options(args) -> tuple[pipeline.ExportOptions, bytes | None]:
    """CLI flags -> the same ExportOptions the browser sends, plus a background photo."""
    background, photo = args.bg, None
    if background and background not in ("blur", "white", "black") and Path(background).is_file():
        background, photo = "photo", Path(background).read_bytes()
    elif background and background != "blur":
        compose.parse_colour(background)  # fail early, before any model work
    shadow = None
    if args.shadow is not None:
        try:
            dx, dy = (float(v) / 100 for v in args.shadow_offset.split(","))
        except ValueError as exc:
            raise InvalidOption(f"--shadow-offset wants X,Y, got {args.shadow_offset!r}") from exc
        shadow = {"opacity": args.shadow / 100, "blur": args.shadow_blur / 100, "offset": [dx, dy]}
    canvas = None
    if args.canvas:
        try:
            canvas = [int(v) for v in args.canvas.lower().split("x")]
        except ValueError as exc:
            raise InvalidOption(f"--canvas wants WxH, got {args.canvas!r}") from exc
    options = pipeline.ExportOptions.from_dict({
        "background": background, "format": args.format, "quality": args.quality,
        "shadow": shadow, "crop": args.crop, "margin": args.margin, "preset": args.preset,
        "canvas": canvas, "fill": args.fill / 100, "max_size": args.max_size, "mask": args.mask,
    })
    if args.preset == "custom" and not canvas:
        raise InvalidOption("--preset custom needs --canvas WxH")
    return options, photo


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
    parser.add_argument("--bg", default=None, metavar="BG",
                        help="background: a colour (#rrggbb, 'white'), 'blur' (the original, "
                             "blurred) or a photo's path; default transparent")
    parser.add_argument("--shadow", nargs="?", const=15.0, type=float, default=None,
                        metavar="OPACITY", help="add a soft drop shadow (opacity %%, default 15)")
    parser.add_argument("--shadow-blur", type=float, default=3.0, metavar="PCT",
                        help="shadow blur, %% of the subject's longer side (default 3)")
    parser.add_argument("--shadow-offset", default="0,2", metavar="X,Y",
                        help="shadow offset, %% of the subject's longer side (default 0,2)")
    parser.add_argument("--crop", action="store_true",
                        help="crop to the subject plus --margin")
    parser.add_argument("--margin", default="5%", help="crop margin: 5%% or 40px (default 5%%)")
    parser.add_argument("--preset", choices=[*sorted(layout.PRESETS), "custom"], default=None,
                        help="output canvas: " + "; ".join(
                            f"{p.name}: {p.width}x{p.height}, fill {p.fill:.0%}"
                            for p in layout.PRESETS.values()) + "; custom: --canvas, --fill")
    parser.add_argument("--canvas", default=None, metavar="WxH", help="custom canvas size")
    parser.add_argument("--fill", type=float, default=85.0, metavar="PCT",
                        help="custom canvas: how much of the frame the subject spans (default 85)")
    parser.add_argument("--format", default=None, choices=["png", "jpeg", "webp"],
                        help="default png (or the preset's format)")
    parser.add_argument("--quality", type=int, default=None, help="JPEG/WebP quality 1-100")
    parser.add_argument("--max-size", type=int, default=None, metavar="PX",
                        help="limit the long edge of the output")
    parser.add_argument("--mask", action="store_true", help="write the alpha matte as a PNG")
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
        options, background_photo = export_options(args)
    except OffcutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: background photo: {exc.strerror or exc}", file=sys.stderr)
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
            encoded, _ = pipeline.render(result, options, background_photo)
            name = pipeline.output_name(path.name, options.resolved_format(), options.mask)
            target = unique_path(out_dir, name, taken)
            target.write_bytes(encoded)
            size = f"{result.alpha.shape[1]}x{result.alpha.shape[0]}"
            bar.line(f"ok    {path} -> {target} (source {size}, {time.perf_counter() - t0:.2f}s)")
            warning = pipeline.low_resolution_warning(result.decoded.info)
            if warning:
                bar.line(f"note  {path}: {warning}")
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
