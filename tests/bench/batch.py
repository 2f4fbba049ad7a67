"""Benchmark: a batch through the ``offcut`` command against the model alone, in one process.

    .venv/bin/python tests/bench/batch.py                          # 12 MP, Best, 3 photos
    .venv/bin/python tests/bench/batch.py --size 1080p --model u2netp --count 6
    .venv/bin/python tests/bench/batch.py --memory                 # bytes per pixel in flight

Photos are frames of ../shared/data/dev (854 px) upscaled to the size asked for and saved as
JPEG (quality 92). One model session is loaded first and used by every measurement (its
creation is printed, not counted). Printed per photo:

- ``model``: the model alone on the photos' prepared inputs (the bar);
- ``one by one``: decode -> model -> finish -> render -> write, each photo after the last
  (what the CLI did before offcut.batch);
- ``batch``: the CLI's own batch (cli._run_batch, the pipelined one), same photos, same files.

and each one's ratio to ``model``. The measurements are interleaved ``--rounds`` times and
the best of each is kept: the machine is shared, and the best is the least disturbed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "py"))

from offcut import api, batch, cli, pipeline  # noqa: E402

SIZES = {"12mp": (4000, 3000), "1080p": (1920, 1080), "24mp": (6000, 4000)}


def make_photos(folder: Path, size: tuple[int, int], count: int) -> list[Path]:
    frames = sorted((ROOT.parent / "shared" / "data" / "dev" / "images").glob("*.jpg"))
    if not frames:
        sys.exit("needs ../shared/data/dev/images")
    paths = []
    for number, frame in enumerate(frames[:count]):
        image = Image.open(frame).convert("RGB").resize(size, Image.LANCZOS)
        path = folder / f"photo{number:02d}.jpg"
        image.save(path, "JPEG", quality=92)
        paths.append(path)
    return paths


def model_alone(remover: api.Remover, paths: list[Path]) -> float:
    jobs = [remover.start(path) for path in paths]
    t0 = time.perf_counter()
    for job in jobs:
        remover.infer(job)
    return (time.perf_counter() - t0) / len(paths)


def one_by_one(remover: api.Remover, paths: list[Path], out: Path) -> tuple[float, dict]:
    options = pipeline.ExportOptions()
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    for path in paths:
        job = remover.start(path)
        output = remover.infer(job)
        t1 = time.perf_counter()
        result = remover.complete(job, output)
        t2 = time.perf_counter()
        data, _ = pipeline.render(result, options)
        t3 = time.perf_counter()
        cli.write_atomically(out / pipeline.output_name(path.name), data)
        for name, seconds in [("decode", job.timings["decode"]),
                              ("prepare", job.timings["prepare"]),
                              ("model", job.timings["model"]), ("finish", t2 - t1),
                              ("encode", t3 - t2)]:
            stages[name] = stages.get(name, 0.0) + seconds / len(paths)
    return (time.perf_counter() - t0) / len(paths), stages


def pipelined(remover: api.Remover, folder: Path, out: Path, nice: int) -> float:
    """The CLI's batch with this process's session (no session creation in the time)."""
    batch.HELPER_NICE = nice
    original = cli.load_model
    cli.load_model = lambda args, record: remover
    try:
        t0 = time.perf_counter()
        status = cli.main([str(folder), "-o", str(out), "--overwrite", "-q", "--model",
                           remover.model])
        seconds = time.perf_counter() - t0
    finally:
        cli.load_model = original
    if status != 0:
        sys.exit(f"the batch failed (status {status})")
    return seconds / len(list(folder.glob("*.jpg")))


def memory(remover: api.Remover, path: Path) -> None:
    """Peak bytes traced (numpy and Python) for one photo through every stage."""
    size = Image.open(path).size
    tracemalloc.start()
    job = remover.start(path)
    result = remover.complete(job, remover.infer(job))
    data, _ = pipeline.render(result, pipeline.ExportOptions())
    del result, job
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pixels = size[0] * size[1]
    print(f"one {size[0]}x{size[1]} photo: peak {peak / 2**20:.0f} MiB traced, "
          f"{peak / pixels:.1f} bytes per pixel (offcut.batch counts "
          f"{batch.BYTES_PER_PIXEL}); the PNG is {len(data) / 2**20:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=api.DEFAULT_MODEL)
    parser.add_argument("--size", choices=sorted(SIZES), default="12mp")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", default="default",
                        help="onnxruntime intra-op threads; several, comma-separated, are "
                             "measured side by side (e.g. default,1); the first is the bar")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--nice", default=str(batch.HELPER_NICE),
                        help=f"niceness of the batch's helper threads (default "
                             f"{batch.HELPER_NICE}); several, comma-separated, side by side")
    parser.add_argument("--spin", action="store_true", help="let onnxruntime's threads spin")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="offcut-bench-") as temp:
        folder, out = Path(temp) / "in", Path(temp) / "out"
        folder.mkdir()
        out.mkdir()
        paths = make_photos(folder, SIZES[args.size], args.count)
        nices = [int(n) for n in args.nice.split(",")]
        counts = [None if t == "default" else int(t) for t in args.threads.split(",")]
        removers = {}
        for threads in counts:
            if args.spin:
                from offcut import fetch

                record = api.load_records()[args.model]
                t0 = time.perf_counter()
                remover = api.Remover(args.model, runner=api.make_runner(
                    fetch.runtime_model(record.raw, api.cache_dir()), record, threads,
                    spinning=True))
                remover.load_seconds = time.perf_counter() - t0
            else:
                remover = api.Remover(args.model, threads=threads)
            removers[threads or "default"] = remover
        first = next(iter(removers.values()))
        print(f"{args.model}, {len(paths)} photos of {args.size}, spinning {args.spin}, "
              f"helpers' nice {args.nice}; sessions created in "
              + ", ".join(f"{r.load_seconds:.2f} s" for r in removers.values()))
        if args.memory:
            memory(first, paths[0])
            return
        for remover in removers.values():
            remover.infer(remover.start(paths[0]))  # warm-up: the first run allocates arenas
        best: dict[str, float] = {}
        stages: dict = {}
        for _ in range(args.rounds):
            for threads, remover in removers.items():
                rows = {f"model, {threads} threads": lambda r=remover: model_alone(r, paths),
                        f"one by one, {threads}": None}
                for nice in nices:
                    rows[f"batch, {threads}, nice {nice}"] = \
                        lambda r=remover, n=nice: pipelined(r, folder, out, n)
                for name, measure in rows.items():
                    if measure is None:
                        seconds, measured = one_by_one(remover, paths, out)
                        if remover is first and seconds < best.get(name, float("inf")):
                            stages = measured
                    else:
                        seconds = measure()
                    best[name] = min(best.get(name, float("inf")), seconds)
        print("one by one, per photo: " + ", ".join(f"{name} {seconds:.2f} s"
                                                   for name, seconds in stages.items()))
        bar = next(iter(best.values()))
        for name, seconds in best.items():
            print(f"{name:24} {seconds:6.2f} s per photo   {seconds / bar:.2f}x the first model")
        same = all((out / pipeline.output_name(path.name)).read_bytes() == _render(first, path)
                   for path in paths[:1])
        print(f"batch file == one-by-one render: {same}")


def _render(remover: api.Remover, path: Path) -> bytes:
    job = remover.start(path)
    return pipeline.render(remover.complete(job, remover.infer(job)),
                           pipeline.ExportOptions())[0]


if __name__ == "__main__":
    sys.exit(main())
