"""A batch that keeps the cores busy: the next photos are decoded and prepared, and the
previous ones finished and encoded, while the model runs on the current one.

Three stages, each a small thread pool fed in input order:

    load (read, decode, model input) -> model (one run at a time) -> finish (matte, colours,
    render to file bytes)

Results come back in input order, to one consumer (the CLI writes and reports them), so the
files and the order of the lines are those of a one-by-one run. At most ``max_in_flight``
photos, and at most ``budget`` bytes of their estimated working memory, are admitted and not
yet consumed: memory stays bounded whatever the batch's length.

Why threads and not processes: onnxruntime, Pillow's codecs and numpy's large-array loops
all release the GIL, and a second process would hold a second copy of the model (46 MB for
IS-Net, plus its arena) and pickle 12 MP arrays between stages.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")

#: Working memory of one photo in flight, in bytes per source pixel: the file's bytes, the
#: decoded RGB (3), the matte (1) and foreground colours (3), the RGBA image that is encoded
#: (4), the encoded file (~2) and the finishing steps' banded temporaries. Measured peak of
#: one 12 MP photo through all stages: see tests/bench/batch.py --memory.
BYTES_PER_PIXEL = 20
#: A photo whose header cannot be read (it will fail in its load stage) is counted as this.
DEFAULT_PIXELS = 12_000_000
#: Beyond one photo per stage and one waiting, more in flight only holds more memory.
MAX_IN_FLIGHT = 4
#: The niceness of the finish threads. The model's run is the batch's critical path and
#: onnxruntime splits each operator across every core: a matte or an encode holding one of
#: those cores for its time slice stalls the other model threads at the next join. Nicer,
#: the finish threads give a core back to the model at once and use the moments the model
#: leaves it idle (IS-Net on 2 threads used the second core ~60 %). The load threads stay
#: at the model's priority: the model waits for their output, and a machine busy with other
#: work would starve them (see docs/python.md).
HELPER_NICE = 10


def _lower_priority(nice: int) -> Callable[[], None]:
    """A thread initializer that makes the calling thread ``nice`` steps nicer (Linux:
    threads are scheduled as tasks of their own; elsewhere, nothing)."""

    def initializer() -> None:
        if nice <= 0 or not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
            return
        try:
            thread = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread)
                           + nice)
        except OSError:
            pass  # a sandbox that forbids it: the batch is only less well overlapped

    return initializer


class Cancelled(Exception):
    """A stage was skipped because the batch was stopped (Ctrl-C)."""


def available_memory() -> int | None:
    """Bytes of memory available to new work (Linux ``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_budget() -> int:
    """Half the memory available now (the model's session is already loaded): 1 GiB when
    it cannot be read."""
    available = available_memory()
    return available // 2 if available else 1 << 30


def photo_cost(path: Path) -> int:
    """Estimated working memory of ``path``'s photo, from its header (no pixels decoded)."""
    from PIL import Image

    try:
        previous, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            with Image.open(path) as image:
                pixels = image.size[0] * image.size[1]
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    except Exception:  # noqa: BLE001 - any unreadable header: its load stage reports it
        pixels = DEFAULT_PIXELS
    return pixels * BYTES_PER_PIXEL


@dataclass
class Stages(Generic[Item]):
    """What one photo goes through; each callable runs on a worker thread.

    Attributes
    ----------
    load : callable(item) -> job
        Read and decode; build the model input.
    infer : callable(job, stop) -> output
        The model. ``stop`` is a :class:`Stopper` the run may register with, so that
        Ctrl-C ends a run in progress.
    finish : callable(item, job, output) -> result
        Everything after the model, up to the bytes to write.
    """

    load: Callable[[Item], Any]
    infer: Callable[[Any, Stopper], Any]
    finish: Callable[[Item, Any, Any], Any]


class Stopper:
    """Cancellation shared by the stages: an event, and hooks that end work in progress."""

    def __init__(self):
        self.event = threading.Event()
        self._hooks: set[Callable[[], None]] = set()
        self._lock = threading.Lock()

    def check(self) -> None:
        """Raise :class:`Cancelled` once the batch is stopped."""
        if self.event.is_set():
            raise Cancelled("the batch was stopped")

    def register(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call ``hook`` on :meth:`stop` (at once if already stopped); returns an
        unregister function."""
        with self._lock:
            self._hooks.add(hook)
        if self.event.is_set():
            hook()

        def unregister() -> None:
            with self._lock:
                self._hooks.discard(hook)

        return unregister

    def stop(self) -> None:
        self.event.set()
        with self._lock:
            hooks = list(self._hooks)
        for hook in hooks:
            hook()


@dataclass
class Pipeline(Generic[Item]):
    """Overlap the stages of many photos; see the module's docstring.

    Use as a context manager: leaving it (normally or by an exception, Ctrl-C included)
    stops every stage and waits for the worker threads, so nothing runs on after it.

    Attributes
    ----------
    stages : Stages
    budget : int
        Bytes of estimated working memory admitted at once (one photo is always admitted).
    max_in_flight : int
        Photos admitted and not yet consumed.
    cost : callable(item) -> int
        A photo's estimated working memory.
    load_workers, finish_workers : int
        Threads of the stages around the model (the model has one: its runs use every core).
    """

    stages: Stages
    budget: int = field(default_factory=default_budget)
    max_in_flight: int = MAX_IN_FLIGHT
    cost: Callable[[Any], int] = lambda item: DEFAULT_PIXELS * BYTES_PER_PIXEL
    load_workers: int = 1
    finish_workers: int = 1
    #: Niceness added to the finish threads (0: as the model's; None:
    #: :data:`HELPER_NICE` as it is when the pipeline starts).
    helper_nice: int | None = None
    stopper: Stopper = field(default_factory=Stopper)
    #: The largest number of photos that were in flight at once (for tests and benchmarks).
    peak_in_flight: int = 0

    def __enter__(self) -> Pipeline[Item]:
        helper = _lower_priority(HELPER_NICE if self.helper_nice is None else self.helper_nice)
        self._load = ThreadPoolExecutor(self.load_workers, thread_name_prefix="offcut-load")
        self._model = ThreadPoolExecutor(1, thread_name_prefix="offcut-model")
        self._finish = ThreadPoolExecutor(self.finish_workers, thread_name_prefix="offcut-finish",
                                          initializer=helper)
        self._pending: deque[tuple[Any, list[Future]]] = deque()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close()

    def close(self) -> None:
        """Stop: cancel what has not started, end a model run in progress, wait for the
        threads (a stage already running finishes its current step)."""
        self.stopper.stop()
        for _, futures in self._pending:
            for future in futures:
                future.cancel()
        self._pending.clear()
        for pool in (self._load, self._model, self._finish):
            pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, item) -> list[Future]:
        stop, stages = self.stopper, self.stages

        # Each stage adds its own seconds: a photo's time is its work, not its wait in line.
        def load():
            stop.check()
            t0 = time.perf_counter()
            job = stages.load(item)
            return time.perf_counter() - t0, job

        def infer(loaded: Future):
            seconds, job = loaded.result()
            stop.check()
            t0 = time.perf_counter()
            output = stages.infer(job, stop)
            return seconds + time.perf_counter() - t0, job, output

        def finish(inferred: Future):
            seconds, job, output = inferred.result()
            stop.check()
            t0 = time.perf_counter()
            result = stages.finish(item, job, output)
            return seconds + time.perf_counter() - t0, result

        loaded = self._load.submit(load)
        inferred = self._model.submit(infer, loaded)
        finished = self._finish.submit(finish, inferred)
        return [loaded, inferred, finished]

    def run(self, items: Iterable[Item]) -> Iterator[tuple[Item, Future]]:
        """Yield ``(item, future)`` in input order; ``future.result()`` is
        ``(seconds of work in the stages, finish's result)`` or raises the exception of the
        stage that failed.

        ``items`` is consumed lazily, as photos are admitted.
        """
        used = 0
        costs: deque[int] = deque()
        for item in items:
            cost = max(0, int(self.cost(item)))
            while self._pending and (len(self._pending) >= self.max_in_flight
                                     or used + cost > self.budget):
                done_item, futures = self._pending.popleft()
                used -= costs.popleft()
                yield done_item, futures[-1]
            self._pending.append((item, self._submit(item)))
            costs.append(cost)
            used += cost
            self.peak_in_flight = max(self.peak_in_flight, len(self._pending))
        while self._pending:
            done_item, futures = self._pending.popleft()
            costs.popleft()
            yield done_item, futures[-1]


def onnx_stop(run: Callable, job, stopper: Stopper):
    """Run ``run(job, run_options)`` so that :meth:`Stopper.stop` ends it (onnxruntime's
    ``RunOptions.terminate``); the model's error after a stop becomes :class:`Cancelled`."""
    import onnxruntime

    options = onnxruntime.RunOptions()

    def terminate() -> None:
        options.terminate = True

    unregister = stopper.register(terminate)
    try:
        return run(job, options)
    except Exception as exc:
        if stopper.event.is_set():
            raise Cancelled("the model run was stopped") from exc
        raise
    finally:
        unregister()


__all__ = ["Cancelled", "CancelledError", "Pipeline", "Stages", "Stopper", "available_memory",
           "default_budget", "onnx_stop", "photo_cost"]
