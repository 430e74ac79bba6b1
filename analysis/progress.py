"""Progress of long work: a tqdm bar on a terminal, otherwise a line now and then with what is done, what is left and the rate."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

PER_SECONDS = {"s": 1.0, "min": 60.0}


def duration(seconds: float) -> str:
    """``12 s``, ``48 min``, ``2 h 05 min``: as precise as a person waiting needs."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 100:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 100:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def on_terminal(stream: TextIO) -> bool:
    """A bar redraws itself in place, which only a person at a terminal wants; a log file gets lines."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """Counts work done out of ``total``; ``emit`` gets the periodic lines when there is no terminal.

    A line is written when ``every_seconds`` have passed or another ``every_fraction`` of the work is
    done since the last one, whichever comes first, and once at the end:
    ``replay: 1,440 of 4,320 minutes (33%), 60.0 min/min, 48 min left``. ``per`` is the rate's time unit
    ("s" or "min"); ``short`` is the unit in the rate (``min`` for minutes).
    """

    def __init__(self, label: str, total: int, unit: str, emit: Callable[[str], None], *, short: str | None = None,
                 per: str = "s", every_seconds: float = 10.0, every_fraction: float = 0.1,
                 bar_stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic):
        self.label, self.total, self.unit, self.short, self.per = label, total, unit, short or unit, per
        self.done = 0
        self._emit = emit
        self._clock = clock
        self._started = self._last_time = clock()
        self._every_seconds = every_seconds
        self._step = max(1, int(total * every_fraction))
        self._next_mark = self._step
        self._finished = False
        if bar_stream is not None:
            from tqdm import tqdm  # only for a terminal: `python app.py` need not load it
        self._bar = (tqdm(total=total, desc=label, unit=self.short, file=bar_stream, mininterval=0.5, dynamic_ncols=True)
                     if bar_stream is not None else None)

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.update(count)
            return
        if self.done >= self.total:
            self.finish()
            return
        now = self._clock()
        if self.done >= self._next_mark or now - self._last_time >= self._every_seconds:
            self._emit(self.line(now))
            self._last_time = now
            self._next_mark = (self.done // self._step + 1) * self._step

    def finish(self) -> None:
        """The last line (or the bar closed); said once, also when the work stopped early."""
        if self._finished:
            return
        self._finished = True
        if self._bar is not None:
            self._bar.close()
        else:
            self._emit(self.line(self._clock()))

    @property
    def has_bar(self) -> bool:
        return self._bar is not None

    def close(self) -> None:
        """Stop without a last line (the work was cancelled); a bar is closed."""
        self._finished = True
        if self._bar is not None:
            self._bar.close()

    def line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed  # per second, averaged since the start: steady enough to predict the rest
        shown = rate * PER_SECONDS[self.per]
        share = min(round(100 * self.done / self.total), 99) if self.done < self.total else 100  # 100% only when done
        speed = f"{shown:,.0f}" if shown >= 100 else f"{shown:.1f}"
        text = f"{self.label}: {self.done:,} of {self.total:,} {self.unit} ({share:.0f}%), {speed} {self.short}/{self.per}"
        if self.done >= self.total:
            return f"{text}, done in {duration(elapsed)}"
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        return f"{text}, {duration(left) if left != float('inf') else 'time left unknown'} left"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.finish()
        else:  # failed: the error says why, a "done" line would not be true
            self.close()


def progress_for(label: str, total: int, unit: str, emit: Callable[[str], None], stream: TextIO | None = None,
                 **options: object) -> Progress:
    """A bar when ``stream`` (default stderr) is a terminal, periodic lines through ``emit`` otherwise."""
    stream = sys.stderr if stream is None else stream
    return Progress(label, total, unit, emit, bar_stream=stream if on_terminal(stream) else None, **options)  # type: ignore[arg-type]
