"""Progress lines on stderr while a long stage works: draws done, chains done, an ETA.

No terminal tricks (no carriage returns, no colours): the lines read the same in a terminal,
a log file and a CI job. Silent when ``enabled`` is False.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

__all__ = ["NutsProgress", "format_eta"]

#: Seconds between two progress lines (the promise is one line at least every 10 s).
INTERVAL_S = 5.0


def format_eta(seconds: float) -> str:
    """``"1 min 05 s"``, ``"42 s"``, or ``"?"`` when not known yet."""
    if not seconds >= 0 or seconds == float("inf"):
        return "?"
    s = int(round(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"


class NutsProgress:
    """nutpie ``progress_callback``: one line per ``interval_s`` with draws done and an ETA.

    Parameters
    ----------
    label
        What is sampled (``"DRT fit"``, ``"SOC model R2"``).
    enabled
        False: never prints.
    interval_s
        Seconds between lines.
    stream
        Where lines go (default ``sys.stderr``, looked up at print time).
    clock
        Monotonic clock in seconds (a fake one in tests).

    Notes
    -----
    nutpie calls it from a background thread with one ``ChainProgress`` per chain
    (``finished_draws``, ``total_draws`` = tune + draws, ``divergences``, ``tuning``); the ETA
    is the elapsed time scaled by the draws still to come.
    """

    def __init__(self, label: str, *, enabled: bool = True, interval_s: float = INTERVAL_S,
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.label = label
        self.enabled = bool(enabled)
        self.interval_s = float(interval_s)
        self._stream = stream
        self._clock = clock
        self._t0: float | None = None
        self._last: float | None = None
        self._lock = threading.Lock()
        self.lines: list[str] = []

    def _write(self, line: str) -> None:
        self.lines.append(line)
        stream = self._stream if self._stream is not None else sys.stderr
        print(line, file=stream, flush=True)

    def __call__(self, chains: Sequence[Any]) -> None:
        """Print a line when ``interval_s`` has passed since the last (nutpie's callback)."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            if self._t0 is None:
                self._t0 = self._last = now
                return
            if now - self._last < self.interval_s:  # type: ignore[operator]
                return
            self._last = now
            self._write(self.line(chains, now - self._t0))

    def line(self, chains: Sequence[Any], elapsed_s: float) -> str:
        """Return the progress line for these chain states after ``elapsed_s`` seconds."""
        done = sum(int(c.finished_draws) for c in chains)
        total = sum(int(c.total_draws) for c in chains)
        chains_done = sum(int(c.finished_draws) >= int(c.total_draws) for c in chains)
        tuning = any(bool(getattr(c, "tuning", False)) for c in chains)
        div = sum(int(getattr(c, "divergences", 0)) for c in chains)
        eta = elapsed_s * (total - done) / done if done else float("nan")
        phase = "warm-up" if tuning else "sampling"
        return (f"  {self.label}: {done}/{total} draws ({phase}), {chains_done}/{len(chains)} "
                f"chains done, {div} divergent, {format_eta(elapsed_s)} elapsed, "
                f"ETA {format_eta(eta)}")

    def finish(self) -> None:
        """Forget the clock (the reporter can be reused for the next run)."""
        self._t0 = self._last = None
