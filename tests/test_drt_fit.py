"""Tests of the Bayesian DRT fit (fast set) against analytic ground truth.

Synthetic spectra: 1 MHz .. 10 mHz, 10 points per decade (81 points), 1 % proportional noise.
Ground truth from drtbayes.elements (ZARC: analytic DRT; Warburg elements: exact RC ladders).
The accuracy targets of issue 3 with full sampling are in test_drt_accuracy.py (slow); here a
small NUTS fit of the 1-ZARC case and the Laplace path of the 3-process case keep the fast set
under a minute once the model is compiled.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from drtbayes import elements as el
from drtbayes.drt import DRTResult, fit_drt
from drtbayes.drt.kernels import drt_kernels, quadrature_weights, tau_grid
from drtbayes.errors import ApproximationWarning, DataError, PresetError, TooFewPointsError
from drtbayes.io import make_spectrum

FREQ = el.log_frequencies(1e6, 1e-2, 10)
NOISE = 0.01


# --------------------------------------------------------------------------- ground truth
def case(name: str) -> dict:
    """A synthetic spectrum's truth: network, R_inf, R_pol, true peak taus, analytic gamma."""
    zarc = el.zarc
    if name == "one_zarc":
        net = el.RCNetwork(10.0) + zarc(50.0, 1e-3, 0.8)
        peaks, gamma = [1e-3], lambda t: el.zarc_gamma(t, 50.0, 1e-3, 0.8)
    elif name == "two_zarc":
        net = el.RCNetwork(10.0) + zarc(30.0, 1e-4, 0.85) + zarc(40.0, 1e-3, 0.85)
        peaks = [1e-4, 1e-3]
        gamma = lambda t: el.zarc_gamma(t, 30.0, 1e-4, 0.85) + el.zarc_gamma(t, 40.0, 1e-3, 0.85)
    elif name == "rc_zarc":
        net = el.RCNetwork(10.0) + el.rc(20.0, 1e-5) + zarc(40.0, 1e-2, 0.75)
        peaks, gamma = [1e-5, 1e-2], None
    elif name == "warburg_t":
        # ladder R_k = 8R/((2k-1)^2 pi^2): the first element (81 % of R) is the resolved peak
        net = el.RCNetwork(10.0) + el.warburg_transmissive(50.0, 1.0)
        peaks, gamma = [4.0 / np.pi**2], None
    elif name == "warburg_r":
        # 1/(j w C) with C = tau/R plus a ladder summing to R/3; first element at tau/pi^2
        net = el.RCNetwork(10.0) + el.warburg_reflective(50.0, 10.0)
        peaks, gamma = [10.0 / np.pi**2], None
    elif name == "three_process":
        # symmetric-cell-like: contact arc, charge-transfer ZARC, diffusion with capacitive tail
        net = (el.RCNetwork(5.0) + zarc(8.0, 1e-5, 0.9) + zarc(30.0, 1e-2, 0.8)
               + el.warburg_reflective(25.0, 100.0))
        peaks, gamma = [1e-5, 1e-2, 100.0 / np.pi**2], None
    else:  # pragma: no cover
        raise KeyError(name)
    return {"net": net, "r_inf": net.r_inf_ohm, "r_pol": net.r_pol_ohm, "peaks": peaks,
            "gamma": gamma, "c_f": net.c_series_f}


def noisy_spectrum(name: str, seed: int = 0, **meta) -> xr.Dataset:
    z = case(name)["net"].impedance(FREQ)
    rng = np.random.default_rng(seed)
    z = z + NOISE * np.abs(z) * (rng.standard_normal(FREQ.size)
                                 + 1j * rng.standard_normal(FREQ.size))
    meta = {"design": "D", "cell": "c1", "soc": 50.0, **meta}
    return make_spectrum(FREQ, z, source=f"synthetic:{name}", **meta)


def check_accuracy(res: DRTResult, name: str, *, spectrum: int = 0, rel_tol: float = 0.03,
                   peak_tol_dec: float = 0.15, coverage: bool = False,
                   peaks: list[float] | None = None) -> dict:
    """Assert the issue-3 targets for one spectrum; return the measured figures.

    ``peaks`` (tau, s) replaces the case's true peaks in the peak check.
    """
    truth = dict(case(name))
    if peaks is not None:
        truth["peaks"] = peaks
    post = res.posterior.isel(spectrum=spectrum)
    r_inf = float(post["r_inf"].median())
    r_pol = float(post["r_pol"].median())
    lab = res.spectra[spectrum]
    peaks = res.summary_dict()[lab]["peaks"]
    found = np.log10([p["tau_s"]["median"] for p in peaks])
    out = {"r_inf_err": r_inf / truth["r_inf"] - 1, "r_pol_err": r_pol / truth["r_pol"] - 1,
           "peak_err_dec": []}
    assert abs(out["r_inf_err"]) <= rel_tol, (name, r_inf, truth["r_inf"])
    assert abs(out["r_pol_err"]) <= rel_tol, (name, r_pol, truth["r_pol"])
    for t in truth["peaks"]:
        assert found.size, (name, "no peaks found")
        d = float(np.min(np.abs(found - np.log10(t))))
        out["peak_err_dec"].append(d)
        assert d <= peak_tol_dec, (name, t, 10**found)
    if coverage:
        g = post["gamma"].stack(sample=("chain", "draw")).transpose("sample", "tau").values
        lo, hi = np.quantile(g, [0.025, 0.975], axis=0)
        tg = truth["gamma"](res.tau)
        sel = tg > 0.05 * tg.max()
        out["coverage"] = float(np.mean((lo[sel] <= tg[sel]) & (tg[sel] <= hi[sel])))
        assert out["coverage"] >= 0.9, (name, out["coverage"])
    return out


# --------------------------------------------------------------------------- kernels
def test_kernel_quadrature_reproduces_zarc_impedance():
    tau = tau_grid(FREQ, points_per_decade=6, extend_decades=4)
    kr, ki = drt_kernels(FREQ, tau)
    g = el.zarc_gamma(tau, 50.0, 1e-3, 0.8)
    z = el.zarc_impedance(FREQ, 50.0, 1e-3, 0.8)
    err = np.abs(kr @ g + 1j * (ki @ g) - z) / np.abs(z)
    # trapezoid on a uniform ln-tau grid converges exponentially for smooth gamma: 6 points per
    # decade leave < 0.1 % error, well below the 1 % noise
    assert err.max() < 1e-3
    assert quadrature_weights(tau) @ g == pytest.approx(50.0, rel=2e-3)


def test_tau_grid_extends_at_least_one_decade():
    tau = tau_grid(FREQ, points_per_decade=6, extend_decades=1.0)
    assert tau[0] <= 1 / (2 * np.pi * FREQ.max()) / 10 * (1 + 1e-9)
    assert tau[-1] >= 1 / (2 * np.pi * FREQ.min()) * 10 * (1 - 1e-9)
    assert np.allclose(np.diff(np.log10(tau)), 1 / 6)


# --------------------------------------------------------------------------- NUTS (small)
@pytest.fixture(scope="module")
def one_zarc_nuts() -> DRTResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_drt(noisy_spectrum("one_zarc"), "drt-single", draws=300, tune=300, chains=2,
                       seed=7, progress=False)


def test_nuts_one_zarc_recovers_truth(one_zarc_nuts):
    res = one_zarc_nuts
    assert res.method == "nuts"
    # 600 draws: medians are stable to well under the 3 % / 0.15 decade targets
    check_accuracy(res, "one_zarc")
    tree = res.tree
    assert tree["posterior"]["gamma"].dims == ("chain", "draw", "spectrum", "tau")
    assert tree["posterior"]["gamma_group"].dims == ("chain", "draw", "group", "tau")
    assert tree["posterior_predictive"]["z_real"].dims == ("chain", "draw", "spectrum",
                                                           "frequency")
    assert "diverging" in tree["sample_stats"]
    assert np.all(np.diff(res.tau) > 0)
    assert np.all(np.diff(tree["observed_data"]["frequency"].values) < 0)
    for key in ("drtbayes_version", "preset_toml", "seed", "input_sha256", "created_utc"):
        assert key in tree.attrs
    # the sampler settings used: the caller's overrides over the preset's target_accept
    assert json.loads(tree.attrs["sampler"]) == {"draws": 300, "tune": 300, "chains": 2,
                                                 "target_accept": 0.98}
    diag = res.diagnostics[res.spectra[0]]
    assert set(diag) == {"rhat_max", "ess_bulk_min", "divergences", "gate_pass"}
    # the posterior predictive covers the data: ~95 % of points inside the 95 % band
    pp = tree["posterior_predictive"]["z_real"].stack(s=("chain", "draw")).values[0]
    lo, hi = np.quantile(pp, [0.025, 0.975], axis=-1)
    obs = tree["observed_data"]["z_real"].values[0]
    assert np.mean((lo <= obs) & (obs <= hi)) > 0.85


def test_default_fit_passes_the_gate():
    """The presets' default: the smoothness at its marginal posterior mode (empirical Bayes),
    NUTS for the rest. Sampled, the smoothness had bulk ESS 130-330 of the 4000 draws on this
    spectrum (and R-hat up to 1.03): the gate failed. Given it, bulk ESS ~1000-2000.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_drt(noisy_spectrum("two_zarc", seed=0), "drt-single", seed=1, progress=False)
    d = res.diagnostics[res.spectra[0]]
    assert d["gate_pass"], d
    assert d["ess_bulk_min"] >= 400 and d["divergences"] == 0
    eb = json.loads(res.tree.attrs["timing"])["empirical_bayes"]
    smooth = res.posterior["smoothness"]
    np.testing.assert_allclose(smooth.values, eb["smoothness"], rtol=1e-12)
    assert smooth.attrs["inference"].startswith("empirical Bayes")
    check_accuracy(res, "two_zarc")


def test_empirical_bayes_smoothness_lies_in_the_sampled_posterior():
    """The empirical-Bayes smoothness sits in the bulk of the smoothness posterior sampled with
    everything else (``inference = "sampled"``): inside its central 80 %. A search stuck on
    its bound (2.5 prior sd from the median) or at the prior median regardless of the data
    fails this; the two spectra's values also differ in the direction of their posteriors.
    """
    from drtbayes.presets import load_preset

    # one fit with C each ("auto" would add the fit without C on the three-process tail; the
    # smoothness, not the averaging, is under test here)
    with_c = load_preset("drt-single")
    with_c["model"]["series_capacitance"] = True
    sampled = load_preset("drt-single")
    sampled["model"]["series_capacitance"] = True
    sampled["hyperpriors"]["inference"] = "sampled"
    figures = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("two_zarc", "three_process"):
            spec = noisy_spectrum(name, seed=11)
            eb = fit_drt(spec, with_c, seed=3, draws=300, tune=300, chains=2,
                         progress=False)
            full = fit_drt(spec, sampled, seed=3, draws=500, chains=4, progress=False)
            s_eb = float(eb.posterior["smoothness"].values.ravel()[0])
            s_full = full.posterior["smoothness"].values.ravel()
            lo, hi = np.quantile(s_full, [0.1, 0.9])
            assert lo < s_eb < hi, (name, s_eb, lo, hi)
            figures[name] = (s_eb, float(np.median(s_full)))
            print(name, "eb", round(s_eb, 2), "sampled 10/50/90 %", np.round([lo, np.median(s_full), hi], 2))
    # the sharp three-process spectrum wants a rougher field than the 2-ZARC one, both ways
    assert figures["three_process"][0] > figures["two_zarc"][0]
    assert figures["three_process"][1] > figures["two_zarc"][1]


def test_nuts_same_seed_same_draws(one_zarc_nuts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = fit_drt(noisy_spectrum("one_zarc"), "drt-single", draws=300, tune=300,
                        chains=2, seed=7, progress=False)
        other = fit_drt(noisy_spectrum("one_zarc"), "drt-single", draws=300, tune=300,
                        chains=2, seed=8, progress=False)
    a = one_zarc_nuts.tree
    np.testing.assert_array_equal(a["posterior"]["gamma"].values,
                                  again.tree["posterior"]["gamma"].values)
    np.testing.assert_array_equal(a["posterior_predictive"]["z_imag"].values,
                                  again.tree["posterior_predictive"]["z_imag"].values)
    assert not np.array_equal(a["posterior"]["gamma"].values, other.tree["posterior"]["gamma"].values)
    # same shape: the compiled model came from the cache
    assert json.loads(again.tree.attrs["timing"])["compiled_cache_hit"] is True


# --------------------------------------------------------------------------- Laplace
def test_true_circuit_profile_of_the_three_process_diffusion_peak():
    # the oracle of test_drt_accuracy.py: the true circuit fitted to the noise-free spectrum
    # with the test's noise level (1 % of |Z|) finds the first ladder line where it is, and its
    # 95 % profile interval is bounded below but runs to the end of the grid above (2.5, i.e.
    # tau_W 30 x the truth): over 10 mHz .. 1 MHz a longer Warburg with R_W ~ sqrt(tau_W) fits
    # as well, so no estimator can be held to 0.15 decade on that peak from the data alone
    from oracle_circuit import TRUE_FIRST_LINE, diffusion_profile

    truth = case("three_process")
    z = truth["net"].impedance(FREQ)
    prof = diffusion_profile(FREQ, z, NOISE * np.abs(z))
    assert abs(prof["first_line_ml"] - TRUE_FIRST_LINE) <= 0.02
    assert prof["chi2"].min() < 0.05
    assert prof["r_pol_ml"] == pytest.approx(truth["r_pol"], rel=2e-3)
    lo, hi = prof["interval95"]
    assert 0.7 < lo < TRUE_FIRST_LINE - 0.15
    assert hi == pytest.approx(prof["grid"][-1])


def test_fast_three_process_recovers_truth():
    spec = noisy_spectrum("three_process", seed=3)
    with pytest.warns(ApproximationWarning):
        res = fit_drt(spec, "drt-single", fast=True, seed=1, progress=False)
    assert res.method == "laplace" and res.tree.attrs["method"] == "laplace"
    check_accuracy(res, "three_process")
    c_med = float(res.posterior["c_f"].median())
    assert c_med == pytest.approx(case("three_process")["c_f"], rel=0.1)
    js = res.to_json_summary()
    entry = js[res.spectra[0]]
    assert entry["method"] == "laplace" and entry["diagnostics"]["gate_pass"] is None
    json.dumps(js, allow_nan=False)


def test_known_capacitance_prior_moves_c_and_the_slow_peak():
    # noise seed 4: with C free the Laplace fit puts C 25 % low (95 % interval 2.6-3.6 F, truth
    # 4 F) and the diffusion peak (first ladder element 10.1 s, next to the 16 s window end)
    # 0.09-0.18 decade early (depending on the draw seed); told C to 10 % both come back
    # (docs/model.md, "Known series capacitance"). NUTS: test_drt_accuracy.py
    spec = noisy_spectrum("three_process", seed=4)
    truth = case("three_process")
    slow = np.log10(truth["peaks"][-1])
    out = {}
    for c in (None, truth["c_f"]):
        with pytest.warns(ApproximationWarning):
            res = fit_drt(spec, "drt-single", fast=True, seed=1, progress=False,
                          capacitance_f=c)
        summ = res.summary_dict()[res.spectra[0]]
        found = np.log10([p["tau_s"]["median"] for p in summ["peaks"]])
        out[c] = (float(found[np.argmin(np.abs(found - slow))] - slow), summ["c"])
    (err_free, c_free), (err_known, c_known) = out[None], out[truth["c_f"]]
    assert c_free["median"] < 0.8 * truth["c_f"] and c_free["hdi95"][1] < truth["c_f"]
    assert err_free < 0 and abs(err_known) <= 0.15
    lo, hi = c_known["hdi95"]
    assert lo <= truth["c_f"] <= hi
    assert json.loads(res.tree.attrs["capacitance_prior"]) == {
        res.spectra[0]: {"c_f": truth["c_f"], "log_sd": 0.1}}


def test_known_capacitance_bad_values_are_data_errors():
    from drtbayes.errors import ValueRangeError
    from drtbayes.presets import load_preset

    spec = noisy_spectrum("one_zarc")
    for kw, match in [({"capacitance_f": -1.0}, "must be > 0 F"),
                      ({"capacitance_f": "big"}, "not a number"),
                      ({"capacitance_f": [1.0, 2.0]}, "2 values of capacitance_f for 1 spectra"),
                      ({"capacitance_f": 1.0, "capacitance_rel_sd": 0.0}, "capacitance_rel_sd"),
                      ({"capacitance_f": 1.0, "capacitance_rel_sd": float("nan")},
                       "capacitance_rel_sd")]:
        with pytest.raises(ValueRangeError, match=match):
            fit_drt(spec, "drt-single", fast=True, progress=False, **kw)
    no_c = load_preset("drt-single")
    no_c["model"]["series_capacitance"] = False
    with pytest.raises(DataError, match="no series capacitance"):
        fit_drt(spec, no_c, fast=True, progress=False, capacitance_f=1.0)


# --------------------------------------------------------------------------- stacks, io
def test_stack_with_missing_points_hierarchical_roundtrip(tmp_path):
    from drtbayes.io import stack_spectra
    from drtbayes.results import load

    a = noisy_spectrum("one_zarc", seed=1, design="A", cell="c1")
    b = noisy_spectrum("one_zarc", seed=2, design="A", cell="c2")
    b = b.isel(frequency=slice(5, None))  # b lacks the 5 highest frequencies
    stack = stack_spectra([a, b])
    with pytest.warns(ApproximationWarning):
        res = fit_drt(stack, "drt-hierarchical", fast=True, seed=0, progress=False, draws=200)
    post = res.tree["posterior"]
    assert post.sizes["spectrum"] == 2 and post.sizes["group"] == 1
    assert list(post["spectrum_group"].values) == ["A/soc50"] * 2
    assert list(post["group_design"].values) == ["A"]
    pp = res.tree["posterior_predictive"]["z_real"].values
    assert np.isnan(pp[:, :, 1, :5]).all() and np.isfinite(pp[:, :, 1, 5:]).all()
    # both spectra share the truth: their R_pol agree with it
    assert np.allclose(post["r_pol"].median(("chain", "draw")).values, 50.0, rtol=0.03)
    path = res.save(tmp_path / "fit.nc")
    with pytest.raises(FileExistsError):
        res.save(path)
    back = load(path)
    assert isinstance(back, DRTResult)
    xr.testing.assert_identical(back.tree, res.tree)
    assert back.tree.attrs == res.tree.attrs
    assert back.to_json_summary() == res.to_json_summary()


def test_bad_inputs_raise_data_errors():
    spec = noisy_spectrum("one_zarc")
    with pytest.raises(TooFewPointsError, match="at least 10"):
        fit_drt(spec.isel(frequency=slice(0, 8)), "drt-single", fast=True)
    with pytest.raises(DataError, match="not a spectrum"):
        fit_drt([spec, "file.csv"], "drt-single", fast=True)
    with pytest.raises(PresetError, match="kind"):
        fit_drt(spec, "gitt-split", fast=True)
    with pytest.raises(DataError, match="z_real"):
        fit_drt(spec.drop_vars("z_imag"), "drt-single", fast=True)


def test_results_load_dispatch(tmp_path):
    from drtbayes.results import BandsResult, ResultError, SplitResult, load

    ds = xr.Dataset({"x": ("a", [1.0, 2.0])}, attrs={"drtbayes_kind": "bands"})
    ds.to_netcdf(tmp_path / "b.nc", engine="h5netcdf")
    # a bands file without the schema's variables is refused, naming what is missing
    with pytest.raises(ResultError, match=r"bands result lacks \['boundary_tau'"):
        load(tmp_path / "b.nc")
    split = xr.Dataset({"resistance": (("pulse", "component", "sample"), np.ones((2, 1, 3)))},
                       attrs={"drtbayes_kind": "split", "drtbayes_version": "0.1.0"})
    split.to_netcdf(tmp_path / "s.nc", engine="h5netcdf")
    back = load(tmp_path / "s.nc")
    assert isinstance(back, SplitResult)
    xr.testing.assert_equal(back.dataset, split)
    # the kind is checked by the class that loads it
    with pytest.raises(ResultError, match="drtbayes_kind = 'split', expected 'bands'"):
        BandsResult.load(tmp_path / "s.nc")
    # a newer layout or a newer major version is refused with what to do
    split.attrs["drtbayes_schema"] = 99
    split.to_netcdf(tmp_path / "s99.nc", engine="h5netcdf")
    with pytest.raises(ResultError, match="newer than this drtbayes reads"):
        load(tmp_path / "s99.nc")
    split.attrs.update(drtbayes_schema=1, drtbayes_version="7.0.0")
    split.to_netcdf(tmp_path / "s7.nc", engine="h5netcdf")
    with pytest.raises(ResultError, match="upgrade drtbayes"):
        load(tmp_path / "s7.nc")
    ds.attrs["drtbayes_kind"] = "mystery"
    ds.to_netcdf(tmp_path / "m.nc", engine="h5netcdf")
    with pytest.raises(DataError, match="unknown result kind"):
        load(tmp_path / "m.nc")
    with pytest.raises(DataError, match="not found"):
        load(tmp_path / "none.nc")


@pytest.mark.parametrize("kw, match", [
    ({"target_accept": 1.0}, "target_accept = 1: must lie strictly between 0 and 1"),
    ({"target_accept": 0.0}, "target_accept = 0: must lie strictly between 0 and 1"),
    ({"draws": 0}, "draws = 0: must be at least 1"),
    ({"chains": 0}, "chains = 0: must be at least 1"),
    ({"tune": -5}, "tune = -5: must be at least 0"),
])
def test_bad_sampler_settings_are_preset_errors(kw, match):
    from drtbayes.errors import PresetError

    with pytest.raises(PresetError, match=match):
        fit_drt(noisy_spectrum("one_zarc"), "drt-single", progress=False, **kw)



def test_fast_hierarchical_design_level_drt_matches_its_cells():
    """--fast on a hierarchical group: the joint mode runs along the ridge where the design
    DRT falls and both cells' deviations rise (on the demo: cell sd at its bound 0.9, design
    DRT 3-6x too small); the empirical-Bayes hyperparameters keep the design DRT at the cells'.
    """
    spectra = []
    for k, factor in enumerate((0.93, 1.07)):
        z = 5.0 + el.zarc_impedance(FREQ, 10.0 * factor, 1e-3, 0.8) + el.zarc_impedance(
            FREQ, 40.0 * factor, 1e-1, 0.85)
        rng = np.random.default_rng(40 + k)
        z = z + NOISE * np.abs(z) * (rng.standard_normal(FREQ.size)
                                     + 1j * rng.standard_normal(FREQ.size))
        spectra.append(make_spectrum(FREQ, z, design="A", cell=f"c{k}", soc=50.0))
    with pytest.warns(ApproximationWarning):
        res = fit_drt(spectra, "drt-hierarchical", fast=True, seed=2, progress=False)
    post = res.posterior
    info = json.loads(res.tree.attrs["timing"])["laplace"]
    assert info["hyperparameters"] == "empirical Bayes"
    r_pol = post["r_pol"].median(("chain", "draw")).values
    np.testing.assert_allclose(r_pol, [50.0 * 0.93, 50.0 * 1.07], rtol=0.03)
    design = np.trapezoid(post["gamma_group"].median(("chain", "draw")).values[0],
                          np.log(res.tau))
    # the design level sits between its two cells (geometric mean of ln gamma: ~50 ohm)
    assert r_pol.min() < design < r_pol.max()
    # ln R_pol of the cells differ by ln(1.07/0.93) = 0.14: a cell sd of that order, far
    # from the bound 0.9 where the joint mode ends (0.89 before the empirical-Bayes search)
    cell_sd = float(post["cell_sd"].median())
    assert 0.02 < cell_sd < 0.3
    # and the Gaussian around that mode predicts the data: ~95 % inside the 95 % band
    pp = res.tree["posterior_predictive"]["z_real"]
    lo, hi = pp.quantile(0.025, ("chain", "draw")), pp.quantile(0.975, ("chain", "draw"))
    obs = res.tree["observed_data"]["z_real"]
    assert float(((obs >= lo) & (obs <= hi)).mean()) > 0.85


def test_a_failed_gate_is_refitted_once_with_the_retry_settings():
    """A NUTS fit that fails the gate is run again with ``[sampler.retry]`` (longer warm-up,
    more draws); the result is the second fit, with the first one's diagnostics on record, and
    only the second fit's failure warns. Forced here by a gate no fit can pass (bulk ESS
    above a million).
    """
    import re

    from drtbayes.errors import SamplingWarning
    from drtbayes.presets import load_preset

    preset = load_preset("drt-single")
    preset["preset_toml"] = re.sub(r"(?m)^ess_bulk_min = .*$", "ess_bulk_min = 1000000",
                                   preset["preset_toml"])
    preset["sampler"] = {**preset["sampler"], "draws": 100, "tune": 100, "chains": 2,
                         "retry": {"draws": 150, "tune": 200, "target_accept": 0.99}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_drt(noisy_spectrum("one_zarc", seed=2), preset, seed=4, progress=False)
    record = json.loads(res.tree.attrs["gate_retry"])
    assert record["settings"] == {"draws": 150, "tune": 200, "target_accept": 0.99}
    assert record["first_diagnostics"][res.spectra[0]]["gate_pass"] is False
    assert res.posterior.sizes["draw"] == 150 and res.posterior.sizes["chain"] == 2
    assert json.loads(res.tree.attrs["sampler"])["tune"] == 200
    assert res.diagnostics[res.spectra[0]]["gate_pass"] is False
    assert sum(issubclass(w.category, SamplingWarning) for w in caught) == 1
    timing = json.loads(res.tree.attrs["timing"])
    assert timing["wall_s"] > timing["first_fit_wall_s"] > 0
