"""Accuracy targets of issue 3 with full NUTS sampling (slow: run with ``pytest -m slow``).

Targets per case: each true peak's tau within 0.15 decade of the posterior median peak; R_pol
and R_inf medians within 3 %; for the ZARC-only cases the 95 % band of gamma covers the analytic
gamma on >= 90 % of the grid where gamma > 5 % of its maximum. (The Warburg and RC cases have
discrete-ladder or delta truths, which a smooth DRT cannot cover point-wise, so the coverage
criterion is restricted to the ZARC cases; their peak check uses the dominant ladder element.)
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from drtbayes import elements as el
from drtbayes.drt import fit_drt
from drtbayes.io import make_spectrum

from test_drt_fit import FREQ, NOISE, case, check_accuracy, noisy_spectrum

pytestmark = pytest.mark.slow

CASES = ["one_zarc", "two_zarc", "rc_zarc", "warburg_t", "warburg_r", "three_process"]


_KNOWN_GAP = pytest.mark.xfail(
    strict=True,
    reason="known gap (issue 3): the diffusion peak next to the low-frequency edge (first ladder "
           "element 10.1 s, window edge 16 s, series C) comes out at 6.7 s on this noise draw, "
           "0.18 decade off (target 0.15); over noise seeds 0-7 and 11 at the preset defaults "
           "6 of 9 are within 0.15 decade (errors 0.01-0.13) and three are not (seeds 4, 7, 11: "
           "0.33, 0.18, 0.18 decade, C 28, 9, 11 % low): the "
           "slowest element, whose -Z'' maximum lies just below 10 mHz, trades against C. "
           "Noise-free the peak is 0.06 decade off; the same with the C prior log-uniform, the "
           "slow tail prior at 0-4 per decade, 8 tau points per decade, or the smoothness fixed "
           "at 7, 12 or 20")


@pytest.mark.parametrize("name", [pytest.param(c, marks=_KNOWN_GAP) if c == "three_process"
                                  else c for c in CASES])
def test_nuts_accuracy(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_drt(noisy_spectrum(name, seed=11), "drt-single", seed=3, progress=False)
    figures = check_accuracy(res, name, coverage=case(name)["gamma"] is not None)
    print(name, figures, res.diagnostics)


def _design_spectra(design: str, arcs, r_inf=10.0):
    out = []
    for k, factor in enumerate((0.93, 1.07)):
        z = r_inf + sum(el.zarc_impedance(FREQ, r * factor, t, a) for r, t, a in arcs)
        rng = np.random.default_rng(hash((design, k)) % 2**32)
        z = z + NOISE * np.abs(z) * (rng.standard_normal(FREQ.size)
                                     + 1j * rng.standard_normal(FREQ.size))
        out.append(make_spectrum(FREQ, z, design=design, cell=f"c{k}", soc=50.0))
    return out


def test_hierarchical_design_level_drt():
    arcs = {"A": [(20.0, 1e-4, 0.8), (40.0, 1e-2, 0.8)],
            "B": [(40.0, 1e-4, 0.8), (20.0, 1e-2, 0.8)]}
    spectra = _design_spectra("A", arcs["A"]) + _design_spectra("B", arcs["B"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_drt(spectra, "drt-hierarchical", seed=5, progress=False)
    post = res.posterior
    tau = res.tau
    gg = post["gamma_group"]
    assert list(post["group_design"].values) == ["A", "B"]
    ln_tau = np.log(tau)
    for g, d in enumerate(("A", "B")):
        truth = sum(el.zarc_gamma(tau, r, t, a) for r, t, a in arcs[d])
        med = gg.isel(group=g).median(("chain", "draw")).values
        # the design-level DRT integrates to the design's R_pol (cells at 0.93 / 1.07 of it)
        assert np.trapezoid(med, ln_tau) == pytest.approx(60.0, rel=0.05)
        for _, t, _ in arcs[d]:
            i = np.argmin(np.abs(ln_tau - np.log(t)))
            assert med[i] == pytest.approx(truth[i], rel=0.2)
    # the contrast is resolved where the designs differ: A has more slow, B more fast resistance
    ga = gg.isel(group=0).stack(s=("chain", "draw")).values
    gb = gg.isel(group=1).stack(s=("chain", "draw")).values
    i_fast = np.argmin(np.abs(tau - 1e-4))
    i_slow = np.argmin(np.abs(tau - 1e-2))
    assert np.mean(ga[i_fast] < gb[i_fast]) > 0.95
    assert np.mean(ga[i_slow] > gb[i_slow]) > 0.95
    print("hierarchical", res.diagnostics)
