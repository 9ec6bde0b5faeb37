"""The one result protocol: save/load checks, tidy summaries, and the ArviZ hand-off.

ArviZ calls are tried on fresh and on loaded results, and on saved files opened with
``xr.open_datatree`` (issues 23 and 26).
"""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from drtbayes import elements as el
from drtbayes.drt import DRTResult, fit_drt
from drtbayes.io import make_spectrum
from drtbayes.results import ResultError, load
from drtbayes.soc import SocModelResult, fit_soc_model, simulate_split

FREQ = np.logspace(6, -2, 50)


@pytest.fixture(scope="module")
def drt_fit():
    """Return a two-spectrum hierarchical Laplace fit of one ZARC (R_pol 50 ohm)."""
    net = el.RCNetwork(10.0) + el.zarc(50.0, 1e-3, 0.8)
    spectra = []
    for i, cell in enumerate(("c1", "c2")):
        rng = np.random.default_rng(i)
        z = net.impedance(FREQ)
        z = z + 0.002 * np.abs(z) * (rng.standard_normal(FREQ.size)
                                     + 1j * rng.standard_normal(FREQ.size))
        spectra.append(make_spectrum(FREQ, z, design="D", cell=cell, soc=50.0,
                                     source=f"synthetic:{cell}"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_drt(spectra, "drt-hierarchical", fast=True, seed=0, progress=False,
                       draws=200)


@pytest.fixture(scope="module")
def soc_fit():
    """Return a Laplace SOC model of a simulated two-design split."""
    split, _ = simulate_split(seed=0, n_pulses=25, n_samples=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_soc_model(split, components=("R2",), fast=True, seed=0, draws=200)


def _both(result, tmp_path, name):
    path = result.save(tmp_path / name)
    return [result, load(path)], path


def test_arviz_summary_hdi_and_trace_on_fresh_and_loaded_results(drt_fit, soc_fit, tmp_path):
    """az.summary, az.hdi and az.plot_trace accept the result objects as they are."""
    import arviz as az
    import matplotlib

    matplotlib.use("Agg")
    for result, name, var in ((drt_fit, "fit.nc", "r_pol"), (soc_fit, "soc.nc", "rw2_sd")):
        results, path = _both(result, tmp_path, name)
        for res in results:
            s = az.summary(res, var_names=[var])
            # the Laplace posterior of r_pol is centred on the circuit's 50 ohm
            post = np.asarray(res.posterior[var].values)
            assert s["mean"].to_numpy(dtype=float) == pytest.approx(
                np.mean(post.reshape(post.shape[0] * post.shape[1], -1), axis=0), rel=0.05)
            h = az.hdi(res, var_names=[var])
            lo, hi = np.asarray(h[var].values).reshape(-1, 2).T
            assert np.all(lo < hi)
            az.plot_trace(res, var_names=[var])
        # a saved posterior as ArviZ opens it, with every variable
        with xr.open_datatree(path) as tree:
            full = az.summary(tree)
        assert len(full) > 10
    s = az.summary(drt_fit, var_names=["r_pol"])
    assert s["mean"].to_numpy(dtype=float) == pytest.approx([50.0, 50.0], rel=0.05)
    matplotlib.pyplot.close("all")


def test_results_keep_their_class_labels_and_numbers_through_save_load(drt_fit, soc_fit,
                                                                        tmp_path):
    """Loaded results have the labels back on their groups and the same numbers."""
    for result, name in ((drt_fit, "a.nc"), (soc_fit, "b.nc")):
        (fresh, back), _ = _both(result, tmp_path, name)
        assert type(back) is type(fresh) and isinstance(back, type(fresh))
        xr.testing.assert_identical(back.tree["posterior"].to_dataset(),
                                    fresh.tree["posterior"].to_dataset())
        assert "labels" not in back.tree.children
        clone = pickle.loads(pickle.dumps(fresh))
        assert type(clone) is type(fresh)
    assert list(drt_fit.posterior["design"].values) == ["D", "D"]
    assert isinstance(drt_fit, DRTResult) and not isinstance(drt_fit, SocModelResult)
    with pytest.raises(FileExistsError):
        drt_fit.save(tmp_path / "a.nc")
    with pytest.raises(ResultError, match="expected 'soc_model'"):
        SocModelResult.load(tmp_path / "a.nc")


def test_summaries_are_tidy_dataframes(drt_fit, soc_fit):
    """summary() is one row per unit and quantity; the nested dict is summary_dict()."""
    df = drt_fit.summary()
    assert isinstance(df, pd.DataFrame)
    r_pol = df[df["quantity"] == "r_pol"]
    assert list(r_pol["cell"]) == ["c1", "c2"]
    assert r_pol["median"].to_numpy() == pytest.approx([50.0, 50.0], rel=0.03)
    assert (r_pol["hdi95_lo"] < r_pol["median"]).all() and (r_pol["median"]
                                                             < r_pol["hdi95_hi"]).all()
    assert set(drt_fit.summary_dict()) >= {"_method", "_preset"}
    sm = soc_fit.summary()
    assert set(sm["design"]) == {"L_SE", "S_SE"} and set(sm["component"]) == {"R2"}
    assert len(sm) == 2 * soc_fit.soc.size
    assert (sm["r_lo95"] <= sm["r_median"]).all() and (sm["r_median"] <= sm["r_hi95"]).all()
    assert soc_fit.summary_dict()["method"] == "laplace"


def test_diagnostics_read_in_one_shape_and_approximations_record_none(drt_fit, soc_fit,
                                                                     tmp_path):
    """Laplace fits of both models record no sampler diagnostics (the gate is about MCMC) but
    say what they drew; an old SOC file with one record for the whole fit reads as unit ->
    record (NUTS records per component are tested in test_compare's sampling test).
    """
    from drtbayes.conventions import SOC_WHOLE_FIT

    for result, name in ((drt_fit, "fit.nc"), (soc_fit, "soc.nc")):
        for res in _both(result, tmp_path, name)[0]:
            assert res.diagnostics == {}
    assert json.loads(soc_fit.tree.attrs["sampler"]) == {"draws": 200, "chains": 1}
    old = soc_fit.tree.copy()
    record = {"chains": 4, "draws": 1000, "rhat_max": 1.02, "ess_bulk_min": 900.0,
              "divergences": 0, "gate_pass": False, "problems": ["R-hat max 1.020 > 1.01"]}
    old.attrs["diagnostics"] = json.dumps(record)
    assert type(soc_fit)(old).diagnostics == {SOC_WHOLE_FIT: record}
