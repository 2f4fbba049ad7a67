"""offcut.batch (the overlapped stages) and offcut.progress_line, without timing asserts:
overlap and bounds are shown with events and counters."""

from __future__ import annotations

import io
import os
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from offcut import batch, cli, pipeline
from offcut.progress_line import ProgressLine, duration
from support import jpeg_bytes

WAIT = 60  # seconds an event may take before the test fails (never reached when it works)


class Tracker:
    """Counts the photos inside the stages at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inside = 0
        self.peak = 0
        self.order: list[tuple[str, int]] = []

    def enter(self, stage: str, item: int) -> None:
        with self.lock:
            self.order.append((stage, item))

    def photo_started(self) -> None:
        with self.lock:
            self.inside += 1
            self.peak = max(self.peak, self.inside)

    def photo_done(self) -> None:
        with self.lock:
            self.inside -= 1


def stages_for(tracker: Tracker, fail: dict | None = None) -> batch.Stages:
    fail = fail or {}

    def load(item):
        tracker.photo_started()
        tracker.enter("load", item)
        if fail.get(item) == "load":
            raise ValueError(f"cannot load {item}")
        return item * 10

    def infer(job, stopper):
        tracker.enter("model", job // 10)
        return job + 1

    def finish(item, job, output):
        tracker.enter("finish", item)
        if fail.get(item) == "finish":
            raise MemoryError
        return f"{item}:{output}"

    return batch.Stages(load, infer, finish)


def drain(pipe, items, tracker):
    """Consume as the CLI does; returns each item's result or exception type."""
    results = []
    for item, future in pipe.run(items):
        try:
            results.append((item, future.result()[1]))
        except Exception as exc:  # noqa: BLE001 - recorded for the assertions
            results.append((item, type(exc).__name__))
        tracker.photo_done()
    return results


def test_results_come_in_input_order_with_each_errors_own():
    tracker = Tracker()
    with batch.Pipeline(stages_for(tracker, {2: "load", 4: "finish"}), budget=1 << 40) as pipe:
        results = drain(pipe, range(7), tracker)
    assert results == [(0, "0:1"), (1, "1:11"), (2, "ValueError"), (3, "3:31"),
                       (4, "MemoryError"), (5, "5:51"), (6, "6:61")]
    models = [item for stage, item in tracker.order if stage == "model"]
    assert models == [0, 1, 3, 4, 5, 6]  # one model, in order; a failed load skips it


@pytest.mark.parametrize(("max_in_flight", "budget", "cost", "expect"),
                         [(2, 1 << 40, 1, 2), (4, 1 << 40, 1, 4), (4, 250, 100, 2),
                          (4, 50, 100, 1)])
def test_photos_in_flight_are_bounded_by_count_and_memory(max_in_flight, budget, cost, expect):
    tracker = Tracker()
    release = threading.Event()
    admitted = threading.Semaphore(0)

    base = stages_for(tracker)

    def finish(item, job, output):
        admitted.release()
        # The first photo's finish waits until as many photos as allowed were loaded, so the
        # peak reaches the bound when the bound works (and no more when it is exceeded).
        if item == 0:
            release.wait(WAIT)
        return base.finish(item, job, output)

    def load(item):
        value = base.load(item)
        if tracker.peak >= expect:
            release.set()
        return value

    stages = batch.Stages(load, base.infer, finish)
    with batch.Pipeline(stages, budget=budget, max_in_flight=max_in_flight,
                        cost=lambda item: cost) as pipe:
        results = drain(pipe, range(8), tracker)
    assert [item for item, _ in results] == list(range(8))
    assert tracker.peak == expect and pipe.peak_in_flight == expect


def test_the_next_photo_loads_while_the_previous_one_finishes():
    """Overlap without timing: photo 0's finish waits for photo 1's load (and photo 1's model
    for photo 0's finish to start), which deadlocks unless the stages run at once."""
    one_loaded, zero_finishing = threading.Event(), threading.Event()

    def load(item):
        if item == 1:
            one_loaded.set()
        return item

    def infer(job, stopper):
        if job == 1:
            assert zero_finishing.wait(WAIT), "photo 0's finish never started"
        return job

    def finish(item, job, output):
        if item == 0:
            zero_finishing.set()
            assert one_loaded.wait(WAIT), "photo 1 was not loaded while photo 0 finished"
        return item

    with batch.Pipeline(batch.Stages(load, infer, finish), budget=1 << 40) as pipe:
        assert [future.result()[1] for _, future in pipe.run(range(3))] == [0, 1, 2]


def test_leaving_early_stops_the_model_and_runs_nothing_more():
    loads, stopped, in_model = [], threading.Event(), threading.Event()

    def load(item):
        loads.append(item)
        return item

    def infer(job, stopper):
        if job == 1:
            stopper.register(stopped.set)
            in_model.set()
            assert stopped.wait(WAIT)
            raise batch.Cancelled("stopped")
        return job

    stages = batch.Stages(load, infer, lambda item, job, output: item)
    with pytest.raises(KeyboardInterrupt), \
            batch.Pipeline(stages, budget=1 << 40, max_in_flight=2) as pipe:
        for item, future in pipe.run(range(50)):
            assert future.result()[1] == item
            assert in_model.wait(WAIT)
            raise KeyboardInterrupt  # as Ctrl-C lands in the consumer
    assert stopped.is_set()  # the model run in progress was told to stop
    assert len(loads) <= 3  # never more than admitted (2) plus the one being admitted


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_finish_threads_are_nicer_than_the_model_and_load():
    seen = {}

    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def load(item):
        seen["load"] = nice()
        return item

    def infer(job, stopper):
        seen["model"] = nice()
        return job

    def finish(item, job, output):
        seen["finish"] = nice()
        return item

    with batch.Pipeline(batch.Stages(load, infer, finish), helper_nice=5) as pipe:
        list(pipe.run([1]))
    assert seen["load"] == seen["model"]
    assert seen["finish"] == seen["model"] + 5 or seen["model"] >= 15


def test_photo_cost_reads_the_header_only(tmp_path):
    path = tmp_path / "p.png"
    Image.new("RGB", (300, 200)).save(path)
    assert batch.photo_cost(path) == 300 * 200 * batch.BYTES_PER_PIXEL
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    assert batch.photo_cost(tmp_path / "bad.jpg") == batch.DEFAULT_PIXELS * batch.BYTES_PER_PIXEL
    assert batch.default_budget() > 0


# ------------------------------------------------------------------ the CLI's batch, same files


@pytest.fixture(scope="module")
def shots(photo):
    image = Image.open(io.BytesIO(photo[1])).convert("RGB")
    return [(f"shot{n}.jpg", jpeg_bytes(np.asarray(image.crop(box).resize((240, 200)))))
            for n, box in enumerate([(0, 0, 400, 400), (50, 20, 450, 480), (300, 0, 700, 400),
                                     (100, 80, 500, 480)])]


@pytest.mark.parametrize("flags", [[], ["--bg", "white", "--format", "jpeg", "--crop"]])
def test_the_batch_writes_what_one_photo_at_a_time_makes(tmp_path, shots, model_runner,
                                                         records, flags, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in shots:
        (folder / name).write_bytes(data)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    out = tmp_path / "out"
    assert cli.main(["--model", "u2netp", str(folder), "-o", str(out), *flags]) == 1
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith(("ok", "error"))]
    names = sorted([name for name, _ in shots] + ["broken.jpg"])
    assert [line.split()[1].rsplit("/", 1)[1].rstrip(":") for line in lines] == names

    parser = cli.build_parser(records)
    options, _ = cli.export_options(parser.parse_args(["x", *flags]))
    run = model_runner("u2netp")
    for name, data in shots:
        one = pipeline.cutout(data, records["u2netp"], run)
        expected, _ = pipeline.render(one, options)
        target = out / pipeline.output_name(name, options.resolved_format())
        assert target.read_bytes() == expected, name


# ------------------------------------------------------------------------------ progress


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_on_a_terminal_is_one_redrawn_line():
    stream, clock = io.StringIO(), Clock()
    bar = ProgressLine(10, stream=stream, tty=True, clock=clock)
    bar.working_on("shoot/a.jpg")
    clock.now += 30
    bar.advance()
    bar.line("ok    a.jpg")
    clock.now += 30
    bar.advance()
    text = stream.getvalue()
    assert "\r\x1b[K" in text and "\n" not in text.replace("ok    a.jpg\n", "")
    last = text.rsplit("\r\x1b[K", 1)[1]
    # 2 photos in 60 s: 2 a minute, 8 left -> about 4 min.
    assert last.startswith("2/10 · 2.0 photos/min · about 4 min 00 s left")
    assert "ok    a.jpg\n" in text
    bar.close()
    bar.line("2 done, 0 failed, 0 skipped (of 10)", always=True)
    assert stream.getvalue().endswith("\r\x1b[K2 done, 0 failed, 0 skipped (of 10)\n")


def test_progress_elsewhere_is_plain_lines_now_and_then():
    stream, clock = io.StringIO(), Clock()
    bar = ProgressLine(100, stream=stream, tty=False, clock=clock, plain_every=30)
    for _ in range(10):
        clock.now += 6
        bar.advance()
    bar.line("ok    last.jpg")
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    progress = [line for line in text.splitlines() if line.startswith("progress")]
    assert progress == ["progress 5/100 · 10.0 photos/min · about 9 min 30 s left",
                        "progress 10/100 · 10.0 photos/min · about 9 min 00 s left"]


def test_quiet_progress_prints_only_errors_and_the_summary():
    stream = io.StringIO()
    bar = ProgressLine(3, quiet=True, stream=stream, tty=True, clock=Clock())
    bar.working_on("a.jpg")
    bar.advance()
    bar.line("ok    a.jpg")
    bar.line("error b.jpg: [corrupt-image] damaged")
    bar.line("1 done, 1 failed, 0 skipped (of 3)", always=True)
    assert stream.getvalue().splitlines() == ["error b.jpg: [corrupt-image] damaged",
                                              "1 done, 1 failed, 0 skipped (of 3)"]


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "0 s"), (42, "42 s"), (130, "2 min 10 s"),
                                               (1500, "25 min"), (7300, "2 h 01 min")])
def test_durations_read_as_a_person_says_them(seconds, text):
    assert duration(seconds) == text
