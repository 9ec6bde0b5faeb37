"""Averaging over with / without series C, the window's R_pol, and the two cases of issue 28.

Fast: the stacking weight against optima known in closed form, the window quadrature against
an integral done by scipy, and the averaged Laplace fit of the issue's slow-tail spectrum.
Slow (NUTS): the two cases of issue 28 with the defaults.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy.integrate import quad

from drtbayes import elements as el
from drtbayes.drt import fit_drt
from drtbayes.drt.averaging import stacking_weight
from drtbayes.drt.kernels import window_quadrature_weights
from drtbayes.io import make_spectrum
from drtbayes.presets import load_preset

FREQ = el.log_frequencies(1e6, 1e-2, 10)
#: the issue's slow-tail circuit: contact 20 ohm, charge transfer 45 ohm, a ZARC of 120 ohm at
#: 2 s (phi 0.7) whose tail runs past 10 mHz; R_pol 185 ohm
TAIL_R_POL = 185.0


def _tail_spectrum(seed: int = 0):
    z = (5 + el.zarc_impedance(FREQ, 20, 1e-5, 0.9) + el.zarc_impedance(FREQ, 45, 1e-2, 0.85)
         + el.zarc_impedance(FREQ, 120, 2.0, 0.7))
    rng = np.random.default_rng(seed)
    z = z + 0.01 * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))
    return make_spectrum(FREQ, z)


def _rc_zarc_spectrum(seed: int = 0):
    z = 5 + el.rc_impedance(FREQ, 25, 1e-5) + el.zarc_impedance(FREQ, 60, 1e-2, 0.75)
    rng = np.random.default_rng(seed)
    z = z + 0.01 * np.abs(z) * (rng.standard_normal(z.size) + 1j * rng.standard_normal(z.size))
    return make_spectrum(FREQ, z)


def _fit(spec, model="drt-single", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_drt(spec, model, progress=False, seed=0, **kw)


def test_stacking_weight_closed_form_optima():
    """Symmetric evidence gives 1/2; one model better at every point gives that model all."""
    big, small = np.log(0.9), np.log(0.1)
    a = np.r_[np.full(10, big), np.full(10, small)]
    b = np.r_[np.full(10, small), np.full(10, big)]
    assert stacking_weight(a, b) == pytest.approx(0.5, abs=1e-3)
    assert stacking_weight(np.full(20, big), np.full(20, small)) == 1.0
    assert stacking_weight(np.full(20, small), np.full(20, big)) == 0.0
    # 15 points favour A, 5 favour B (densities 0.9 / 0.1): the optimum by brute force
    a = np.r_[np.full(15, big), np.full(5, small)]
    b = np.r_[np.full(15, small), np.full(5, big)]
    grid = np.linspace(0, 1, 100001)
    obj = (15 * np.log(grid * 0.9 + (1 - grid) * 0.1)
           + 5 * np.log(grid * 0.1 + (1 - grid) * 0.9))
    assert stacking_weight(a, b) == pytest.approx(grid[np.argmax(obj)], abs=1e-3)


def test_window_weights_integrate_the_window_only():
    """The window weights times gamma equal scipy's integral of the same smooth gamma."""
    tau = np.logspace(-8, 3, 67)
    log_g = lambda x: -0.5 * (x / np.log(10) + 2) ** 2  # noqa: E731
    g = np.exp(log_g(np.log(tau)))
    w = window_quadrature_weights(tau, 1e6, 1e-1)            # tau from 1e-6 to 10 s
    exact = quad(lambda x: np.exp(log_g(x)), np.log(1e-6), np.log(10.0))[0]
    assert w @ g == pytest.approx(exact, rel=1e-3)
    assert w[np.log10(tau) < -6.01].sum() == 0 and w[np.log10(tau) > 1.01].sum() == 0


def test_average_preset_is_refused_with_pooling(tmp_path):
    """'average' with a hierarchical preset is a clear preset error, not a silent mix."""
    from drtbayes.errors import PresetError

    text = load_preset("drt-hierarchical")["preset_toml"].replace(
        "series_capacitance = true", 'series_capacitance = "average"')
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(PresetError, match="average"):
        load_preset(p)


def test_averaged_fit_widens_r_pol_to_the_open_tail_fast():
    """Laplace, slow-tail spectrum: the averaged R_pol interval reaches the true 185 ohm."""
    preset = load_preset("drt-single")
    preset["model"]["series_capacitance"] = "average"
    res = _fit(_tail_spectrum(), preset, fast=True)
    lab = res.spectra[0]
    info = json.loads(res.tree.attrs["averaging"])[lab]
    assert 0.0 < info["weight_with_c"] < 1.0
    # without C the tail carries on, with C it stops at the window: the two differ
    assert info["r_pol_without_c"] > info["r_pol_with_c"]
    r_pol = res.posterior["r_pol"].values.ravel()
    lo, hi = np.quantile(r_pol, [0.025, 0.975])
    assert lo <= TAIL_R_POL <= hi * 1.005, (lo, hi)
    # the window's R_pol is the part the data see: it is below the total
    assert np.median(res.posterior["r_pol_window"].values) < np.median(r_pol)


def test_auto_averages_only_an_open_tail_fast():
    """``series_capacitance = "auto"`` (drt-single's default): the open slow tail is mixed,
    the closed RC + ZARC spectrum is one fit with C, draw for draw.
    """
    auto = load_preset("drt-single")
    assert auto["model"]["series_capacitance"] == "auto"
    res = _fit(_tail_spectrum(), auto, fast=True)
    info = json.loads(res.tree.attrs["averaging"])[res.spectra[0]]
    # -Z'' at 10 mHz is half the largest: the 2 s ZARC's tail runs past the window
    assert info["mixed"] and info["reactance_ratio"] > 0.3 and info["c_share"] > 0.05
    assert 0.0 < info["weight_with_c"] < 1.0
    closed = _rc_zarc_spectrum()
    res = _fit(closed, auto, fast=True)
    info = json.loads(res.tree.attrs["averaging"])[res.spectra[0]]
    assert not info["mixed"] and info["reactance_ratio"] < 0.05
    with_c = load_preset("drt-single")
    with_c["model"]["series_capacitance"] = True
    ref = _fit(closed, with_c, fast=True)
    assert np.array_equal(res.posterior["r_pol"].values, ref.posterior["r_pol"].values)


def test_averaging_fits_with_different_draw_counts_fast():
    """One of the two fits rerun with more draws (the gate retry) still mixes, in the with-C
    fit's layout.
    """
    from drtbayes.drt.averaging import average_with_and_without_capacitance

    def fit(spectra, preset, *, seed, **kw):
        n = 300 if preset["model"]["series_capacitance"] is True else 500
        return fit_drt(spectra, preset, seed=seed, **{**kw, "draws": n})

    preset = load_preset("drt-single")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = average_with_and_without_capacitance(fit, _tail_spectrum(), preset, 0,
                                                   only_open_tails=True, fast=True,
                                                   progress=False)
    info = json.loads(res.tree.attrs["averaging"])[res.spectra[0]]
    assert info["mixed"] and 0.0 < info["weight_with_c"] < 1.0
    r_pol = res.posterior["r_pol"].values
    assert r_pol.shape[1] == 300
    # both fits' answers are in the mixture
    assert r_pol.min() < info["r_pol_with_c"] < info["r_pol_without_c"] < r_pol.max()


def test_an_unsampleable_fit_without_c_is_not_mixed_and_r_pol_is_not_determined_fast():
    """Where the fit without C fails the gate (a capacitive tail its DRT cannot end), the
    with-C posterior is kept draw for draw and the verdict says R_pol past the window is
    not determined.
    """
    from drtbayes.drt.averaging import average_with_and_without_capacitance

    def fit(spectra, preset, *, seed, **kw):
        res = fit_drt(spectra, preset, seed=seed, **kw)
        if preset["model"]["series_capacitance"] is False:
            res.tree.attrs["diagnostics"] = json.dumps({res.spectra[0]: {
                "rhat_max": 1.27, "ess_bulk_min": 11.0, "divergences": 0, "gate_pass": False}})
        return res

    spec = _tail_spectrum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = average_with_and_without_capacitance(fit, spec, load_preset("drt-single"), 0,
                                                   only_open_tails=True, fast=True,
                                                   progress=False)
        with_c = load_preset("drt-single")
        with_c["model"]["series_capacitance"] = True
        ref = fit_drt(spec, with_c, seed=0, fast=True, progress=False)
    lab = res.spectra[0]
    info = json.loads(res.tree.attrs["averaging"])[lab]
    assert not info["mixed"] and info["r_pol_determined"] is False
    assert info["without_c_rhat"] == 1.27
    assert np.array_equal(res.posterior["r_pol"].values, ref.posterior["r_pol"].values)
    reasons = json.loads(res.tree.attrs["trust"])[lab]["reasons"]
    assert any("R_pol past the measured window is not determined" in r for r in reasons)


@pytest.mark.slow
def test_issue28_slow_tail_r_pol_interval_covers():
    """Issue 28: R_pol's 95 % interval of the slow-tail spectrum includes the true 185 ohm."""
    res = _fit(_tail_spectrum())
    r_pol = res.summary_dict()[res.spectra[0]]["r_pol"]
    lo, hi = r_pol["hdi95"]
    assert lo <= TAIL_R_POL <= hi, r_pol


@pytest.mark.slow
def test_issue28_broad_zarc_keeps_its_centre():
    """Issue 28: RC + broad ZARC: the ZARC's peak within 0.15 decade, its interval covering."""
    res = _fit(_rc_zarc_spectrum())
    peaks = res.summary_dict()[res.spectra[0]]["peaks"]
    zarc = min(peaks, key=lambda p: abs(np.log10(p["tau_s"]["median"]) + 2))
    assert abs(np.log10(zarc["tau_s"]["median"]) + 2) <= 0.15, zarc
    lo, hi = zarc["tau_s"]["hdi95"]
    assert lo <= 1e-2 <= hi, zarc
