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


@pytest.mark.parametrize("name", CASES)
def test_nuts_accuracy(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_drt(noisy_spectrum(name, seed=11), "drt-single", seed=3, progress=False)
    figures = check_accuracy(res, name, coverage=case(name)["gamma"] is not None)
    print(name, figures, res.diagnostics)


@pytest.mark.xfail(
    strict=True,
    reason="known gap (issue 3): the three-process spectrum's diffusion peak sits next to the "
           "low-frequency edge (first ladder element 10.1 s, window edge 16 s) and trades against "
           "the series C, which comes out low. On noise draw 7 it comes out at 6.7 s, 0.18 decade "
           "off (target 0.15), and on draw 4 R_pol is 3.6 % off (target 3 %); draws 0-3, 5, 6 "
           "and the test's draw 11 (0.143 decade) meet every target. With C known to 10 % "
           "(capacitance_f, the test below) the peak is within the target on 12 of 12 draws "
           "(docs/model.md, 'Known series capacitance')")
def test_nuts_three_process_every_noise_draw():
    # the target holds per noise draw, not on average: eight draws, every one must meet it
    missed = []
    for noise_seed in range(8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit_drt(noisy_spectrum("three_process", seed=noise_seed), "drt-single",
                          seed=3, progress=False)
        try:
            check_accuracy(res, "three_process")
        except AssertionError as err:
            missed.append((noise_seed, str(err)[:120]))
    assert not missed, missed


def test_nuts_three_process_with_known_capacitance():
    # the same noise draw as the known gap above, with C given to 10 % (a symmetric cell's
    # chemical capacitance from GITT): the diffusion peak comes out within the target
    truth = case("three_process")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_drt(noisy_spectrum("three_process", seed=11), "drt-single", seed=3,
                      progress=False, capacitance_f=truth["c_f"], capacitance_rel_sd=0.1)
    figures = check_accuracy(res, "three_process")
    c = res.summary()[res.spectra[0]]["c"]
    assert c["hdi95"][0] <= truth["c_f"] <= c["hdi95"][1]
    print("three_process, C known", figures, c, res.diagnostics)


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
