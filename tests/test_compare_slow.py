"""Slow coverage study of the crossover SOC (issue 5 ground truth): >= 20 replicate studies.

Runs benchmarks/bench_crossover_coverage.py's study (about 15-20 min on 2 busy cores):
coverage of the 95 % HDI >= 90 %, mean |median - truth| <= 3 % SOC, and p_crossing < 0.1 for
designs that never cross.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_crossover_coverage.py"


@pytest.mark.slow
def test_crossover_coverage_over_replicate_studies():
    spec = importlib.util.spec_from_file_location("bench_crossover_coverage", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.run_coverage_study(20, 5, seed=0, components=("R2",), verbose=False)
    fig = res["components"]["R2"]
    assert fig["coverage"] >= 0.90, res
    assert fig["mean_abs_err"] <= 3.0, res
    assert res["never_p_crossing_max"] < 0.1, res
