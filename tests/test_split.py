"""GITT split against simulated records with a known answer (issue 4 ground-truth tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from drtbayes import simulate as sim
from drtbayes.bands import time_constant_bands
from drtbayes.errors import DataError
from drtbayes.io import read_gitt
from drtbayes.split import split_gitt

COMPS = ("R1", "R2", "R3", "total")


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("split_study")
    # fast study: 20 pulses of 5 % SOC (360 s at 0.5 C), 1500 s rests, 1 ms first sample
    sim.simulate_study(out, seed=11, fast=True, n_cells_per_design=1)
    truth = json.loads((out / "truth.json").read_text())
    bands = time_constant_bands(sim.synthetic_drt_tree(out, n_draws=50, seed=4))
    return out, truth, bands


@pytest.fixture(scope="module")
def split_s1(study):
    out, truth, bands = study
    g = read_gitt(out / "gitt/S1.csv", design="S_SE", cell="S1", capacity_mah=2.4,
                  area_cm2=0.785)
    return g, split_gitt(g, bands, seed=7, n_samples=300)


def _truth_matrix(truth, cell, soc):
    tc = truth["cells"][cell]
    idx = [int(np.argmin(np.abs(np.array(truth["pulse_soc"]) - s))) for s in soc]
    return np.array([[tc[c][i] for c in COMPS] for i in idx])


def _scores(sp, truth, cell):
    soc = sp["soc"].values
    tr = _truth_matrix(truth, cell, soc)
    r = sp["resistance"].transpose("pulse", "component", "sample").values
    med = np.median(r, axis=2)
    lo, hi = np.quantile(r, [0.05, 0.95], axis=2)
    m = (soc >= 10) & (soc <= 90)
    err = np.abs(med - tr)[m] / tr[m]
    cov = ((lo <= tr) & (tr <= hi))[m]
    return err, cov, ((hi - lo) / tr)[m]


def test_split_recovers_truth_with_calibrated_intervals(study, split_s1):
    _out, truth, _b = study
    _g, sp = split_s1
    err, cov, _w = _scores(sp, truth, "S1")
    assert err.shape[0] == 16  # pulses at 12.5 ... 87.5 % SOC
    # issue 4: medians of R1, R2, R3 within 10 %, total within 3 %; the observed errors are
    # ~1-6 % for the parts (limited by the DRT inversion near the band edges) and < 1 % total
    assert np.all(err[:, :3] < 0.10), err.max(0)
    assert np.all(err[:, 3] < 0.03), err.max(0)
    # 90 % intervals cover the truth for >= 80 % of pulses
    assert np.all(cov.mean(0) >= 0.8), cov.mean(0)
    assert bool(sp["resolved"].all())
    assert set(np.unique(sp["fallback_reason"].values)) == {""}  # 1 ms sampling: no notes


def test_split_contract(study, split_s1):
    _out, truth, _b = study
    g, sp = split_s1
    assert sp.attrs["drtbayes_kind"] == "split"
    assert sp.attrs["preset"] == "gitt-split" and "[pulse_grid]" in sp.attrs["preset_toml"]
    assert sp["resistance"].dims == ("pulse", "component", "sample")
    assert list(sp["component"].values) == list(COMPS)
    assert sp.sizes["sample"] == 300 and sp.sizes["pulse"] == 20
    for c in ("soc", "design", "cell", "t_start"):
        assert c in sp.coords and sp[c].dims == ("pulse",)
    assert set(sp["design"].values) == {"S_SE"}
    np.testing.assert_allclose(sp["soc"].values, truth["pulse_soc"], atol=0.05)
    # total = R1 + R2 + R3 draw by draw
    r = sp["resistance"]
    np.testing.assert_allclose(r.sel(component=["R1", "R2", "R3"]).sum("component"),
                               r.sel(component="total"), rtol=1e-9)
    np.testing.assert_allclose(sp["resistance_area"], r * 0.785)
    # the fit reproduces the transient to the noise level (0.1 mV)
    # (below 10 % SOC the OCV curvature over a 5 % pulse is not linear in the charge)
    assert float(sp["fit_rmse_v"].where(sp["soc"] > 10).max()) < 0.3e-3
    assert float(sp["noise_sd_v"].median()) == pytest.approx(1e-4, rel=0.2)
    assert sp["fit_time_s"].dims == ("pulse", "fit_point")
    ok = np.isfinite(sp["fit_v_median"].values)
    assert np.all(sp["fit_v_lo95"].values[ok] <= sp["fit_v_hi95"].values[ok])


def test_same_seed_same_numbers_and_several_records(study, split_s1):
    out, truth, bands = study
    g, sp = split_s1
    sub = g.isel(time=slice(0, int(np.searchsorted(g["time"].values, float(sp["t_start"][2])))))
    a = split_gitt(sub, bands, seed=3, n_samples=50)
    b = split_gitt(sub, bands, seed=3, n_samples=50)
    xr.testing.assert_identical(a["resistance"], b["resistance"])
    gl = read_gitt(out / "gitt/L1.csv", design="L_SE", cell="L1", capacity_mah=2.4)
    subl = gl.isel(time=slice(0, int(np.searchsorted(gl["time"].values, float(sp["t_start"][2])))))
    both = split_gitt([sub, subl], bands, seed=3, n_samples=50)
    assert both.sizes["pulse"] == a.sizes["pulse"] + 2
    assert list(both["cell"].values) == ["S1", "S1", "L1", "L1"]
    assert both["pulse"].to_index().is_unique
    assert "resistance_area" not in both  # L1 was read without an area


def _decimate(g: xr.Dataset, first_s: float) -> xr.Dataset:
    """Drop every sample within ``first_s`` after a current change (slow instrument)."""
    t, i = g["time"].values, g["current"].values
    steps = t[1:][np.abs(np.diff(i)) > 1e-5]
    since = t[:, None] - steps[None, :]
    drop = np.any((since > 1e-9) & (since < first_s), axis=1)
    return g.isel(time=np.flatnonzero(~drop))


def test_unresolved_band_falls_back_on_eis_ratio_with_wide_intervals(study, split_s1):
    out, truth, bands = study
    g, sp_fine = split_s1
    coarse = _decimate(g.isel(time=slice(0, int(np.searchsorted(g["time"].values,
                                                                float(sp_fine["t_start"][8]))))),
                       1.0)
    sp = split_gitt(coarse, bands, seed=1, n_samples=300)
    assert float(sp["first_sample_s"].min()) >= 1.0
    res = sp["resolved"]
    assert not res.sel(component="R2").any() and not res.sel(component="R1").any()
    assert res.sel(component="R3").all() and res.sel(component="total").all()
    reason = str(sp["fallback_reason"].sel(component="R2").values[0])
    assert "first sample" in reason and "EIS posterior ratio" in reason
    assert "merged" in str(sp["fallback_reason"].sel(component="R1").values[0])
    tr = _truth_matrix(truth, "S1", sp["soc"].values)
    r = sp["resistance"].transpose("pulse", "component", "sample").values
    med = np.median(r, axis=2)
    # the total and R3 are still measured; R1 + R2 together are measured, their ratio is not
    np.testing.assert_allclose(med[:, 3], tr[:, 3], rtol=0.03)
    # R3 is observed, but with nothing before 1 s the slow tail of the charge transfer is
    # harder to tell from diffusion: 15 % instead of 10 %
    # (known gap: its 90 % intervals then cover the truth for only ~60 % of pulses); the
    # result says so in a note
    np.testing.assert_allclose(med[:, 2], tr[:, 2], rtol=0.15)
    assert all(str(x).startswith("note: the band starts")
               for x in sp["fallback_reason"].sel(component="R3").values)
    np.testing.assert_allclose(np.median(r[:, 0] + r[:, 1], axis=1), tr[:, 0] + tr[:, 1],
                               rtol=0.03)
    # intervals of R2 much wider than with 1 ms sampling, and they cover the truth
    w_coarse = np.subtract(*np.quantile(r[:, 1], [0.95, 0.05], axis=1)) / tr[:, 1]
    rf = sp_fine["resistance"].sel(component="R2").isel(pulse=slice(0, 8)).values
    w_fine = np.subtract(*np.quantile(rf, [0.95, 0.05], axis=1)) / tr[:, 1]
    assert np.all(w_coarse > 4 * w_fine)
    lo, hi = np.quantile(r[:, 1], [0.025, 0.975], axis=1)
    assert np.mean((lo <= tr[:, 1]) & (tr[:, 1] <= hi)) >= 0.75


def test_bad_inputs_raise(study, split_s1):
    out, truth, bands = study
    g, _sp = split_s1
    nodesign = g.assign_attrs(design="")
    with pytest.raises(DataError, match="has no design"):
        split_gitt(nodesign, bands, n_samples=10)
    with pytest.raises(DataError, match="3 processes"):
        split_gitt(g, bands.isel(process=[0, 1], boundary=[0]).assign_attrs(
            processes='["a", "b"]'), n_samples=10)
    with pytest.raises(DataError, match="gamma_median"):
        split_gitt(g, bands.drop_vars(["gamma_median", "group_gamma_median"]), n_samples=10)


def test_split_plots_render(study, split_s1, tmp_path):
    from drtbayes.plots.split import plot_components_vs_soc, plot_pulse_fits

    g, sp = split_s1
    ax = plot_pulse_fits(g, sp)
    ax.figure.savefig(tmp_path / "pulse_fits.png")
    fig = plot_components_vs_soc(sp)
    fig.savefig(tmp_path / "components.png")
    assert (tmp_path / "pulse_fits.png").stat().st_size > 20_000
    assert (tmp_path / "components.png").stat().st_size > 20_000


@pytest.mark.slow
def test_full_study_100_pulses_accuracy_and_coverage(tmp_path):
    """Issue 4 at full size: 4 cells x 100 pulses of 1 % (72 s, 5000 s rest)."""
    sim.simulate_study(tmp_path, seed=0)
    truth = json.loads((tmp_path / "truth.json").read_text())
    bands = time_constant_bands(sim.synthetic_drt_tree(tmp_path, n_draws=100, seed=0))
    for cell, c in truth["cells"].items():
        g = read_gitt(tmp_path / f"gitt/{cell}.csv", design=c["design"], cell=cell,
                      capacity_mah=2.4)
        sp = split_gitt(g, bands, seed=1)
        err, cov, _w = _scores(sp, truth, cell)
        assert err.shape[0] == 80  # pulses at 10.5 ... 89.5 %
        assert np.all(err[:, :3] < 0.10), (cell, err.max(0))
        assert np.all(err[:, 3] < 0.03), (cell, err.max(0))
        assert np.all(cov.mean(0) >= 0.8), (cell, cov.mean(0))


def test_preset_errors_name_the_key(split_s1, study):
    import tomllib
    from pathlib import Path

    from drtbayes.errors import PresetError

    g, _sp = split_s1
    cfg = tomllib.loads((Path(__file__).parents[1] / "models/gitt-split.toml").read_text())
    del cfg["window"]["pre_rest_s"]
    with pytest.raises(PresetError, match=r"\[window\] pre_rest_s"):
        split_gitt(g, study[2], preset=cfg)
    with pytest.raises(PresetError):
        split_gitt(g, study[2], preset="no-such-preset")


def test_cli_split_gitt_matches_api(study, split_s1, tmp_path, capsys):
    """`drtbayes split-gitt RECORD --bands bands.nc --capacity-mah X --out split.nc`."""
    from drtbayes.cli import main

    out, truth, bands = study
    bands_nc = tmp_path / "bands.nc"
    bands.to_netcdf(bands_nc, engine="h5netcdf")
    target = tmp_path / "split.nc"
    argv = ["split-gitt", str(out / "gitt/S1.csv"), "--bands", str(bands_nc),
            "--capacity-mah", "2.4", "--area-cm2", "0.785", "--design", "S_SE", "--cell", "S1",
            "--samples", "300", "--seed", "7", "--out", str(target)]
    assert main(argv) == 0
    assert "20 pulses" in capsys.readouterr().out
    got = xr.load_dataset(target, engine="h5netcdf")
    # same record, bands and seed as the API call: the same numbers
    np.testing.assert_allclose(got["resistance"].values, split_s1[1]["resistance"].values)
    # and the total matches the simulated truth to the 3 %
    err, _cov, _w = _scores(got, truth, "S1")
    assert np.max(err[:, 3]) < 0.03
    # an existing output is never overwritten without --force: one line, exit 2
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
