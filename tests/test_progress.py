"""Progress lines inside NUTS fits (drtbayes.progress), driven by a fake clock."""

from __future__ import annotations

import io
from dataclasses import dataclass

from drtbayes.progress import NutsProgress, format_eta


@dataclass
class _Chain:
    finished_draws: int
    total_draws: int = 1500
    divergences: int = 0
    tuning: bool = True


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_lines_come_at_the_interval_with_draws_chains_and_eta():
    """Lines come at the interval with draws chains and eta."""
    clock, out = _Clock(), io.StringIO()
    rep = NutsProgress("SOC model R2", interval_s=5.0, stream=out, clock=clock)
    chains = [_Chain(0), _Chain(0)]
    rep(chains)                      # first call: starts the clock, no line
    for step in range(1, 41):        # nutpie calls back every 0.5 s
        clock.t += 0.5
        for c in chains:
            c.finished_draws = 15 * step
        rep(chains)
    lines = out.getvalue().splitlines()
    # 20 s of sampling at one line per 5 s: 4 lines, never more than 10 s apart
    assert len(lines) == 4 and lines == rep.lines
    # after 20 s, 1200 of 3000 draws: 1800 to go at 60 draws/s -> 30 s
    assert lines[-1] == ("  SOC model R2: 1200/3000 draws (warm-up), 0/2 chains done, "
                         "0 divergent, 20 s elapsed, ETA 30 s")


def test_finished_chains_divergences_and_the_sampling_phase_are_reported():
    """Finished chains divergences and the sampling phase are reported."""
    clock, out = _Clock(), io.StringIO()
    rep = NutsProgress("DRT fit", interval_s=5.0, stream=out, clock=clock)
    rep([_Chain(0), _Chain(0)])
    clock.t += 90.0
    rep([_Chain(1500, tuning=False, divergences=2), _Chain(1000, tuning=False)])
    assert out.getvalue().strip().endswith(
        "2500/3000 draws (sampling), 1/2 chains done, 2 divergent, 1 min 30 s elapsed, "
        "ETA 18 s")


def test_silent_when_disabled():
    """Silent when disabled."""
    clock, out = _Clock(), io.StringIO()
    rep = NutsProgress("x", enabled=False, stream=out, clock=clock)
    for _ in range(3):
        clock.t += 60.0
        rep([_Chain(10)])
    assert out.getvalue() == "" and rep.lines == []


def test_format_eta():
    """Format eta."""
    assert format_eta(65.2) == "1 min 05 s"
    assert format_eta(9.6) == "10 s"
    assert format_eta(float("nan")) == "?"


def test_heartbeat_fills_a_silence_with_the_current_activity():
    """A silence of the heartbeat interval gets one line naming what runs; a line resets it."""
    from drtbayes.progress import Heartbeat, activity, mark_line

    clock, lines = _Clock(), []
    beat = Heartbeat("[3/7] bands", lines.append, interval_s=8.0, clock=clock)
    mark_line(clock.t)
    clock.t += 7.9
    assert beat.check() is None
    clock.t += 0.2
    with activity("time-constant bands of 12 spectra"):
        line = beat.check()
    assert line == "      ... [3/7] bands: time-constant bands of 12 spectra, 8 s into the stage"
    assert lines == [line]
    clock.t += 5.0
    mark_line(clock.t)           # another reporter wrote a line: the silence starts again
    clock.t += 7.0
    assert beat.check() is None
    clock.t += 1.5
    assert beat.check().endswith(": working, 22 s into the stage")  # no activity named


def test_stage_in_a_log_never_stays_silent_for_ten_seconds():
    """A stage in a log (not a terminal) writes a line at least every 10 s while it works."""
    import time

    import drtbayes.progress as prog_mod
    from drtbayes.pipeline import Progress

    out = io.StringIO()
    p = Progress(stream=out)
    stamps = []

    class _Stamped(io.StringIO):
        def write(self, text):
            stamps.append(time.monotonic())
            return super().write(text)

    p.stream = _Stamped()
    try:
        import drtbayes.pipeline as pl
        orig = pl.Heartbeat
        pl.Heartbeat = lambda label, write: orig(label, write, interval_s=0.2, poll_s=0.05)
        with p.stage(2, 7, "eis_fit"), prog_mod.activity("compiling"):
            time.sleep(1.0)
    finally:
        pl.Heartbeat = orig
    text = p.stream.getvalue()
    assert text.startswith("      ... [2/7] eis_fit: compiling, 0 s into the stage\n")
    assert text.rstrip().splitlines()[-1].startswith("[2/7] eis_fit: done in")
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps) < 0.5, gaps
