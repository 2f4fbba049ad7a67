"""Progress of a batch that a person reads: done/total, photos per minute, time left.

On a terminal: one status line, redrawn in place under the per-file lines. Elsewhere (a log,
a pipe, CI): no redrawing; a plain ``progress`` line at most every ``plain_every`` seconds,
so a long batch's log still says how far it got. ``quiet``: nothing but errors and the
summary.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from collections.abc import Callable
from typing import TextIO


def duration(seconds: float) -> str:
    """``42`` -> ``"42 s"``, ``130`` -> ``"2 min 10 s"``, ``7300`` -> ``"2 h 2 min"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s" if minutes < 10 else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


#: What would break a line or drive the terminal: C0 and C1 controls, DEL, the Unicode line
#: and paragraph separators, and the lone surrogates that stand for the bytes of a file name
#: that is not UTF-8.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if char in _NAMED:
        return _NAMED[char]
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte code - 0xDC00
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` on one line: control characters escaped as Python writes them (a newline in
    a file name as ``\\n``, ESC as ``\\x1b``); everything else as it is."""
    return _UNPRINTABLE.sub(_escape, text)


class ProgressLine:
    """The batch's progress on stderr.

    Parameters
    ----------
    total : int
        Photos in the batch (skipped ones included: they count as done at once).
    quiet : bool
        Only errors and ``always`` lines. Every line is :func:`printable`: one line each.
    stream : text stream
        Default ``sys.stderr``.
    tty : bool or None
        Redraw in place; default: whether ``stream`` is a terminal.
    clock : callable
        Seconds, monotonic (tests pass their own).
    plain_every : float
        Seconds between plain progress lines when not on a terminal.
    """

    def __init__(self, total: int, quiet: bool = False, *, stream: TextIO | None = None,
                 tty: bool | None = None, clock: Callable[[], float] = time.monotonic,
                 plain_every: float = 30.0):
        self.total, self.quiet = total, quiet
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.clock, self.plain_every = clock, plain_every
        self.started = clock()
        self.finished = 0  # photos the model worked on (written or failed)
        self.skipped = 0
        self.current = ""
        self._shown = False
        self._closed = False
        self._last_plain = self.started

    # ---------------------------------------------------------------- numbers

    @property
    def done(self) -> int:
        return self.finished + self.skipped

    def rate(self) -> float | None:
        """Photos per minute so far (skipped ones excluded: they take no time)."""
        elapsed = self.clock() - self.started
        if self.finished == 0 or elapsed <= 0:
            return None
        return 60.0 * self.finished / elapsed

    def left(self) -> float | None:
        """Seconds until the batch is done at the rate so far."""
        rate = self.rate()
        if rate is None:
            return None
        return (self.total - self.done) * 60.0 / rate

    def status(self) -> str:
        """``"7/40 · 12.3 photos/min · about 2 min 40 s left"``."""
        parts = [f"{self.done}/{self.total}"]
        rate = self.rate()
        if rate is None:
            parts.append("first photo…" if self.done < self.total else "")
        else:
            parts.append(f"{rate:.1f} photos/min")
            if self.done < self.total:
                parts.append(f"about {duration(self.left())} left")
        return " · ".join(part for part in parts if part)

    # ---------------------------------------------------------------- events

    def working_on(self, name: str) -> None:
        """The photo whose result is awaited next (shown on the terminal's line)."""
        self.current = printable(name)
        self._draw()

    def advance(self, skipped: bool = False) -> None:
        """One more photo done (or skipped)."""
        if skipped:
            self.skipped += 1
        else:
            self.finished += 1
        self._draw()
        if not self.tty and not self.quiet and not skipped and self.done < self.total:
            now = self.clock()
            if now - self._last_plain >= self.plain_every:
                self._last_plain = now
                self._print(f"progress {self.status()}")

    def line(self, text: str, always: bool = False) -> None:
        """A line above the status: with ``quiet`` only errors and ``always`` lines."""
        if self.quiet and not always and not text.startswith("error"):
            return
        self._clear()
        self._print(printable(text))
        self._draw()

    def close(self) -> None:
        """Remove the status line for good (before the summary): later lines are plain."""
        self._clear()
        self._closed = True

    # ---------------------------------------------------------------- drawing

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False

    def _draw(self) -> None:
        if not self.tty or self.quiet or self._closed:
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        text = self.status()
        if self.current and self.done < self.total:
            room = width - len(text) - 3
            if room > 8:
                name = self.current if len(self.current) <= room else \
                    "…" + self.current[-(room - 1):]
                text = f"{text} · {name}"
        self.stream.write("\r\x1b[K" + text[:width])
        self.stream.flush()
        self._shown = True
