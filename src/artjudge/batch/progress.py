"""Progress of a batch run: total, rate and ETA, on a terminal and in a log.

A run can take hours, so the user needs to know how far it is and when it will end, not
just that something moves. The total is counted by a background pass over the inputs (the
scoring stream never waits for it); the count advances per scored image. On a terminal
it is a tqdm bar; when stderr goes to a file or a pipe, plain lines every ``interval``
seconds (and a last one), since a bar's carriage returns make an unreadable log.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal, TextIO

Mode = Literal["bar", "lines", "off"]

#: Seconds between two plain progress lines in a log.
LINE_INTERVAL_S = 15.0


def choose_mode(enabled: bool, stream: TextIO) -> Mode:
    """``bar`` on a terminal, ``lines`` otherwise, ``off`` when progress is not wanted."""
    if not enabled:
        return "off"
    isatty = getattr(stream, "isatty", None)
    return "bar" if isatty is not None and isatty() else "lines"


def format_duration(seconds: float) -> str:
    """``1h02m``, ``4m05s`` or ``12s``: short enough for a progress line."""
    s = max(0, round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


class BatchProgress:
    """Counts scored rows against the total and reports them (bar, plain lines, or nothing).

    ``done`` starts at the rows an earlier run already finished (a resume); the rate is
    measured from the first row this run finished (so neither the model's loading time nor
    the resumed rows distort the ETA).
    """

    def __init__(
        self,
        mode: Mode,
        *,
        done: int = 0,
        failed: int = 0,
        stream: TextIO | None = None,
        interval: float = LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        desc: str = "batch",
    ) -> None:
        self.mode = mode
        self.desc = desc
        self.done = done
        self.failed = failed
        self.total: int | None = None
        self.stream = sys.stderr if stream is None else stream
        self.interval = interval
        self._clock = clock
        self._first: tuple[float, int] | None = None  # (time, done) at the first finished row
        self._last_line = -float("inf")
        self._lines_done = -1  # ``done`` at the last plain line
        self._lock = threading.Lock()
        self._bar: Any = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self._bar = tqdm(initial=done, unit="img", desc=desc, dynamic_ncols=True, file=self.stream)

    # -- counting ------------------------------------------------------------------------
    def count_total_in_background(self, rows: Callable[[], Iterable[Any]]) -> threading.Thread | None:
        """Count the inputs on a daemon thread; the total appears when the count finishes."""
        if self.mode == "off":
            return None

        def count() -> None:
            try:
                n = sum(1 for _ in rows())
            except Exception:  # the scoring stream reports unreadable inputs; the total stays unknown
                return
            self.set_total(n)

        th = threading.Thread(target=count, name="artjudge-batch-count", daemon=True)
        th.start()
        return th

    def set_total(self, total: int) -> None:
        with self._lock:
            self.total = total
            if self._bar is not None:
                self._bar.total = total
                self._bar.refresh()

    def advance(self, n: int = 1, failed: int = 0) -> None:
        """``n`` more rows finished (``failed`` of them with an error)."""
        with self._lock:
            self.done += n
            self.failed += failed
            if self._first is None:
                self._first = (self._clock(), self.done)
            if self._bar is not None:
                self._bar.update(n)
                if failed:
                    self._bar.set_postfix(failed=self.failed, refresh=False)
            elif self.mode == "lines" and self._clock() - self._last_line >= self.interval:
                self._write_line()

    def reset(self, done: int, failed: int) -> None:
        """Set the counts to the authoritative ones (after a stream is redone partition by partition)."""
        with self._lock:
            if self._bar is not None:
                self._bar.n = done
                self._bar.refresh()
            self.done, self.failed = done, failed

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            elif self.mode == "lines" and self._lines_done != self.done:  # no repeat of the last line
                self._write_line()

    def message(self, text: str) -> None:
        """One line of news (a skipped input): above the bar on a terminal, a plain line in a log."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                self.stream.write(text + "\n")
                self.stream.flush()

    # -- reporting -----------------------------------------------------------------------
    def rate(self) -> float:
        """Rows a second since this run's first finished row (0 until a second one finishes)."""
        if self._first is None:
            return 0.0
        elapsed = self._clock() - self._first[0]
        new = self.done - self._first[1]
        return new / elapsed if elapsed > 0 and new > 0 else 0.0

    def line(self) -> str:
        """One plain line: done/total (percent), rate, ETA, failures."""
        rate = self.rate()
        if self.total:
            head = f"{self.done:,}/{self.total:,} images ({100 * self.done / self.total:.1f}%)"
            left = max(0, self.total - self.done)
            eta = format_duration(left / rate) if rate > 0 else "?"
        else:
            head = f"{self.done:,}/? images (counting the inputs)"
            eta = "?"
        return f"{self.desc}: {head}, {rate:.2f} img/s, ETA {eta}, {self.failed:,} failed"

    def _write_line(self) -> None:
        self._last_line = self._clock()
        self._lines_done = self.done
        self.stream.write(self.line() + "\n")
        self.stream.flush()
