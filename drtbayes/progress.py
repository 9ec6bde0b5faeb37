"""Progress lines on stderr while a long stage works: draws done, chains done, an ETA.

No terminal tricks (no carriage returns, no colours): the lines read the same in a terminal,
a log file and a CI job. Silent when ``enabled`` is False.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["Heartbeat", "NutsProgress", "activity", "format_eta", "mark_line"]

#: Seconds between two progress lines (the promise is one line at least every 10 s).
INTERVAL_S = 5.0
#: Seconds of silence after which a stage says what it is still doing.
HEARTBEAT_S = 7.0

# When the last progress line of any reporter was written, and what the run is doing now: the
# heartbeat fills the silences between stage lines and NUTS lines (compiling, empirical-Bayes
# searches, band and split loops, writing figures), which a user cannot tell from a hang.
_STATE: dict[str, Any] = {"last": time.monotonic(), "activity": ""}
_STATE_LOCK = threading.Lock()


def mark_line(now: float | None = None) -> None:
    """Record that a progress line was just written (by any reporter)."""
    with _STATE_LOCK:
        _STATE["last"] = time.monotonic() if now is None else now


@contextmanager
def activity(text: str) -> Iterator[None]:
    """Name what the run is doing inside this block, for the heartbeat's lines.

    Cheap (a dict update) and silent by itself: computation code may use it without any
    output of its own, and without knowing whether anybody reports progress.
    """
    with _STATE_LOCK:
        before = _STATE["activity"]
        _STATE["activity"] = text
    try:
        yield
    finally:
        with _STATE_LOCK:
            _STATE["activity"] = before


class Heartbeat:
    """A background thread that writes a line after ``interval_s`` without any progress line.

    Parameters
    ----------
    label
        The stage (``"[2/7] eis_fit"``).
    write
        Writes one line (the stage reporter's writer, so that it is also recorded).
    interval_s
        Silence that triggers a line.
    clock
        Monotonic clock in seconds.
    poll_s
        How often the thread looks.
    """

    def __init__(self, label: str, write: Callable[[str], None], *,
                 interval_s: float = HEARTBEAT_S, clock: Callable[[], float] = time.monotonic,
                 poll_s: float = 0.5) -> None:
        self.label = label
        self._write = write
        self.interval_s = float(interval_s)
        self._clock = clock
        self._poll_s = float(poll_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = clock()

    def check(self) -> str | None:
        """Write (and return) the heartbeat line if the silence has lasted ``interval_s``."""
        now = self._clock()
        with _STATE_LOCK:
            quiet_s = now - _STATE["last"]
            what = _STATE["activity"]
        if quiet_s < self.interval_s:
            return None
        line = (f"      ... {self.label}: {what or 'working'}, "
                f"{format_eta(now - self._t0)} into the stage")
        mark_line(now)
        self._write(line)
        return line

    def __enter__(self) -> Heartbeat:
        """Start the thread (the silence counts from the last line of any reporter)."""
        def run() -> None:
            while not self._stop.wait(self._poll_s):
                self.check()

        self._thread = threading.Thread(target=run, name="drtbayes-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


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
        mark_line()

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
