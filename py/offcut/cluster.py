"""Catalogues too big for one machine: the ``offcut`` batch on a Dask cluster.

    from dask.distributed import Client
    from offcut.cluster import remove_files

    client = Client("tcp://scheduler:8786")          # or LocalCluster(), dask-jobqueue...
    report = remove_files(client, ["/shared/shoot"], "/shared/out", model="isnet-medium",
                          background="white", format="jpeg")

Each worker process loads the model once, on its first photo, and keeps it as its
:class:`offcut.api.Remover` (:func:`offcut.api.remover`, one per process and model); every
photo it gets after that is only the pipeline's work. The client names the outputs with the
CLI's own rules, so the files are byte for byte the ones ``offcut`` writes, each written
atomically by the worker that made it. Inputs and outputs are paths that every worker can
read and write (a shared file system): photos do not travel through the scheduler.

Needs ``pip install 'offcut[distributed]'`` (Dask's ``distributed``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offcut import api, cli, pipeline
from offcut.errors import OffcutError


@dataclass
class Report:
    """What a cluster run did, in input order.

    Attributes
    ----------
    lines : list of str
        The CLI's per-file lines: ``ok    <source> -> <target>`` or
        ``error <source>: [code] reason``.
    written, failed, skipped : list of Path
        Targets written, sources that failed, targets that existed and were kept.
    """

    lines: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    failed: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        total = len(self.written) + len(self.failed) + len(self.skipped)
        return (f"{len(self.written)} done, {len(self.failed)} failed, "
                f"{len(self.skipped)} skipped (of {total})")


def cut_file(source: str, target: str, model: str, threads: int | None,
             options: dict[str, Any]) -> tuple[str, str]:
    """On a worker: cut out ``source`` into ``target`` with the worker's Remover.

    Returns
    -------
    (status, text)
        ``("ok", "")`` or ``(code, reason)`` with the CLI's codes (``io`` for a file that
        cannot be read or written). Errors are returned, not raised: one photo's failure is
        a line in the report, as in the CLI, not a task Dask retries or that ends a gather.
    """
    try:
        data = api.remover(model, threads).remove(Path(source).read_bytes(), **options)
        cli.write_atomically(Path(target), data)
    except OffcutError as exc:
        return exc.code, str(exc)
    except MemoryError:
        return "out-of-memory", "ran out of memory on this image"
    except OSError as exc:
        return "io", str(exc.strerror or exc)
    return "ok", ""


def remove_files(client, inputs: list[str | os.PathLike], out_dir: str | os.PathLike, *,
                 model: str = api.DEFAULT_MODEL, threads: int | None = None,
                 overwrite: bool = False, **options: Any) -> Report:
    """Cut out every photo of ``inputs`` (files or folders, as the CLI takes them) on the
    workers of ``client``; outputs in ``out_dir`` named as the CLI names them.

    Parameters
    ----------
    client : dask.distributed.Client
    inputs : list of paths
        Files, and folders searched recursively (the CLI's :func:`offcut.cli.collect_inputs`).
    out_dir : path
        Created if needed; must be writable by the workers.
    model : str
        As :func:`offcut.remove`.
    threads : int or None
        onnxruntime threads per worker process (default: all its cores; give
        cores / workers when several worker processes share a machine).
    overwrite : bool
        Replace existing outputs (default: keep them, as the CLI does).
    **options
        :func:`offcut.remove`'s options (``background``, ``format``, ``crop``...).

    Returns
    -------
    Report

    Raises
    ------
    InvalidOption
        A bad option or output folder, before any task is sent.
    """
    chosen = api.settings(**options)  # fail here, not on every worker
    out = Path(out_dir)
    cli.prepare_output_folder(out)
    fmt = chosen.export.resolved_format()
    taken: set[Path] = set()
    report = Report()
    work: list[tuple[Path, Path]] = []
    for source in cli.collect_inputs([str(p) for p in inputs], out):
        target = cli.unique_path(out, pipeline.output_name(source.name, fmt, chosen.export.mask),
                                 taken)
        if target.exists() and not overwrite:
            report.skipped.append(target)
        else:
            work.append((source, target))
    futures = client.map(cut_file, [str(s) for s, _ in work], [str(t) for _, t in work],
                         model=model, threads=threads, options=options, pure=False)
    try:
        results = client.gather(futures)
    finally:
        client.cancel(futures)  # Ctrl-C on the client: nothing more is started
    for (source, target), (status, text) in zip(work, results, strict=True):
        if status == "ok":
            report.written.append(target)
            report.lines.append(f"ok    {source} -> {target}")
        else:
            report.failed.append(source)
            report.lines.append(f"error {source}: [{status}] {text}")
    return report
