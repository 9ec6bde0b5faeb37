"""The circuit prior of the calibration benchmark (benchmarks/_circuits.py) and its slow run.

Fast: the generator's analytic truths checked independently (the HN DRT integrates to R and
its DRT transform reproduces the closed-form impedance; the Warburg lines sum to R; the
window's R_pol never exceeds R_pol). Slow: 20 NUTS replicates of bench_drt_circuits against
the issue-28 target (90 % intervals covering 85-95 %), an expected failure until the defaults
meet it (docs/validation.md, "Calibration over a prior on circuits").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _circuits as C  # noqa: E402


def test_hn_drt_integrates_to_r_and_reproduces_the_impedance():
    """gamma_HN d ln tau sums to R; its DRT integral equals the closed-form impedance."""
    t = np.logspace(-14, 10, 240001)
    g = C.gamma("hn", t, 2.0, 1e-3, 0.7, 0.6)
    assert np.trapezoid(g, np.log(t)) == pytest.approx(2.0, rel=1e-3)
    f = np.array([0.3, 30.0, 3e3])
    z_drt = [np.trapezoid(g / (1 + 2j * np.pi * fi * t), np.log(t)) for fi in f]
    np.testing.assert_allclose(z_drt, C.impedance("hn", f, 2.0, 1e-3, 0.7, 0.6), rtol=2e-3)


def test_warburg_lines_sum_to_r_and_match_the_impedance():
    """The transmissive Warburg's RC lines: sum R, and their impedance is tanh(x)/x."""
    r_k, tau_k = C.warburg_lines(3.0, 10.0, n=20000)
    assert r_k.sum() == pytest.approx(3.0, rel=1e-4)
    f = np.array([1e-3, 0.1, 10.0])
    z = (r_k[None, :] / (1 + 2j * np.pi * f[:, None] * tau_k[None, :])).sum(1)
    np.testing.assert_allclose(z, C.impedance("warburg_fl", f, 3.0, 10.0), rtol=1e-3)


def test_draws_are_reproducible_and_truths_consistent():
    """Same seed, same circuit; window R_pol <= R_pol; 1-4 processes; noise 0.1-2 %."""
    for i in range(30):
        a = C.draw_circuit(np.random.default_rng([0, i]))
        b = C.draw_circuit(np.random.default_rng([0, i]))
        assert a.describe() == b.describe()
        assert 1 <= len(a.processes) <= 4
        assert 0.001 <= a.noise_rel <= 0.02
        assert a.r_pol_window_ohm() <= a.r_pol_ohm * (1 + 1e-6)


@pytest.mark.slow
@pytest.mark.xfail(reason="issue 28 target not met yet: 40 NUTS replicates gave 90 % "
                   "coverage R_inf 45 %, R_pol 33 %, peak tau 68 % (docs/validation.md)",
                   strict=False)
def test_circuit_calibration_20_replicates():
    """20 NUTS replicates: 90 % intervals of R_inf, R_pol, peak taus cover 85-95 %."""
    import bench_drt_circuits as bench

    s = bench.summarise(bench.run(20))
    # 20 replicates: a binomial 90 % proportion has sd ~7 %, so the band is widened to 75-100 %
    for key in ("r_inf/all", "r_pol/all", "peak_tau/all"):
        assert 0.75 <= s[key]["0.9"] <= 1.0, (key, s[key])
