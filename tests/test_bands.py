"""Posterior time-constant bands from DRT draws with a known answer."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from drtbayes import elements as el
from drtbayes import simulate as sim
from drtbayes.bands import bands_at_soc, time_constant_bands
from drtbayes.errors import DataError, ValueRangeError

TAU = np.logspace(-8, 3, 111)


def _tree(gamma: np.ndarray, labels: list[str], designs: list[str], socs: list[float],
          group: bool = False) -> xr.DataTree:
    """A fit-shaped tree from gamma (unit, sample, tau) with 2 chains."""
    n_u, n_s, _ = gamma.shape
    arr = np.moveaxis(gamma, 0, 1).reshape(2, n_s // 2, n_u, TAU.size)
    dim = "group" if group else "spectrum"
    var = "gamma_group" if group else "gamma"
    coords = {"chain": [0, 1], "draw": np.arange(n_s // 2), "tau": TAU, dim: labels,
              f"{dim}_design" if group else "design": (dim, designs),
              f"{dim}_soc" if group else "soc": (dim, np.array(socs, float))}
    post = xr.Dataset({var: (("chain", "draw", dim, "tau"), arr)}, coords=coords)
    return xr.DataTree.from_dict({"posterior": post})


def _three_process(rng, n, r2=20.0, shift_sd=0.05, contact=True, diffusion=True):
    """Draws of contact RC (1e-5 s) + ZARC (1e-2 s) + Warburg (100 s) symmetric-cell DRTs."""
    out = np.empty((n, TAU.size))
    for i in range(n):
        s = 10 ** rng.normal(0, shift_sd)
        net = el.zarc(2 * r2, 1e-2 * s, 0.8)
        if contact:
            net = net + el.rc(12.0, 1e-5 * s)
        if diffusion:
            net = net + el.warburg_reflective(60.0, 100.0 * s)
        out[i] = sim.smoothed_drt(net, TAU) * np.exp(rng.normal(0, 0.02, TAU.size))
    return out


@pytest.fixture(scope="module")
def synth_bands(tmp_path_factory):
    out = tmp_path_factory.mktemp("simb")
    sim.simulate_study(out, seed=1, fast=True, n_cells_per_design=1, n_pulses=2)
    tree = sim.synthetic_drt_tree(out, n_draws=60, seed=2)
    truth = json.loads((out / "truth.json").read_text())
    return tree, time_constant_bands(tree), truth


def test_boundaries_match_true_drt_minima(synth_bands):
    _tree_, bands, truth = synth_bands
    assert bands.attrs["drtbayes_kind"] == "bands"
    assert list(bands["boundary"].values) == ["contact|charge_transfer",
                                              "charge_transfer|diffusion"]
    assert bands.sizes["sample"] == 120
    for g in bands["group"].values:
        design = str(bands["group_design"].sel(group=g).values)
        soc = float(bands["group_soc"].sel(group=g).values)
        true_edges = truth["designs"][design]["band_edges_at_eis_soc"][f"{soc:g}"]
        est = np.log10(bands["group_boundary_tau"].sel(group=g)).median("sample").values
        # draws are shifted by 0.03 decades sd; the grid has 10 points per decade
        np.testing.assert_allclose(est, np.log10(true_edges), atol=0.15)
    p_res = bands["group_p_resolved"]
    assert float(p_res.where(bands["group_soc"] == 50.0).min()) == 1.0
    # at 0 % SOC the L_SE cathode's charge-transfer arc is ~10x larger, and the simulated contact
    # process (spread 0.25 decade) becomes a shoulder of its fast tail in a quarter of the draws
    assert float(p_res.min()) >= 0.7
    fallback = bands["group_boundary_fallback"]
    assert not fallback.where(bands["group_soc"] == 50.0, False).any()
    assert float(fallback.mean("sample").max()) <= 0.3   # the unresolved draws only
    # band resistances add up to the DRT's integral; peaks sit in their bands
    total = bands["group_band_r"].sum("process")
    integ = np.trapezoid(_tree_["posterior"]["gamma_group"].stack(sample=("chain", "draw"))
                         .transpose("group", "sample", "tau").values, np.log(TAU), axis=-1)
    np.testing.assert_allclose(total.transpose("group", "sample").values, integ, rtol=1e-9)
    pk = np.log10(bands["peak_tau"].median("sample"))
    bd = np.log10(bands["boundary_tau"].median("sample"))
    assert np.all(pk.isel(process=0) < bd.isel(boundary=0))
    assert np.all(pk.isel(process=1) > bd.isel(boundary=0))
    assert np.all(pk.isel(process=2) > bd.isel(boundary=1))


def test_missing_peak_is_recorded_not_defaulted():
    rng = np.random.default_rng(0)
    g = _three_process(rng, 40)
    # in 10 draws the contact process vanishes (a draw that does not resolve it)
    no_contact = _three_process(rng, 10, contact=False)
    gam = np.concatenate([g, no_contact])[None]
    b = time_constant_bands(_tree(gam, ["X/c/soc50"], ["X"], [50.0]))
    res = b["resolved"].isel(spectrum=0).values
    assert res[:40].all() and not res[40:, 0].any() and res[40:, 1:].all()
    assert float(b["p_resolved"].isel(spectrum=0, process=0)) == pytest.approx(0.8)
    assert np.isnan(b["peak_tau"].isel(spectrum=0, process=0).values[40:]).all()
    fb = b["boundary_fallback"].isel(spectrum=0).values
    assert fb[40:, 0].all() and not fb[:40].any()
    bt = b["boundary_tau"].isel(spectrum=0, boundary=0).values
    np.testing.assert_allclose(bt[40:], np.median(bt[:40]), rtol=1e-5)  # median taken in ln tau


def test_no_draw_resolves_a_process_gives_nan_boundary():
    rng = np.random.default_rng(1)
    g = _three_process(rng, 20)
    # a second spectrum that never shows the diffusion process: it borrows the first
    # spectrum's reference, marks diffusion unresolved, and its boundary is NaN
    g2 = _three_process(rng, 20, diffusion=False)
    b = time_constant_bands(_tree(np.stack([g, g2]), ["X/a/soc50", "X/b/soc50"], ["X", "X"],
                                  [50.0, 50.0]))
    assert float(b["p_resolved"].isel(spectrum=1, process=2)) == 0.0
    assert np.isnan(b["boundary_tau"].isel(spectrum=1, boundary=1)).all()
    assert b["boundary_fallback"].isel(spectrum=1, boundary=1).all()
    assert np.isfinite(b["boundary_tau"].isel(spectrum=1, boundary=0)).all()


@pytest.mark.parametrize("processes", [("fast", "slow"),
                                       ("contact", "charge_transfer", "diffusion", "extra")])
def test_process_count_is_configurable(processes):
    rng = np.random.default_rng(2)
    g = _three_process(rng, 20)
    b = time_constant_bands(_tree(g[None], ["X/a/soc50"], ["X"], [50.0]), processes=processes)
    assert b.sizes["process"] == len(processes) and b.sizes["boundary"] == len(processes) - 1
    if len(processes) == 2:
        # the two most prominent peaks are kept: contact (isolated) and charge transfer
        pk = np.log10(b["peak_tau"].isel(spectrum=0).median("sample").values)
        np.testing.assert_allclose(pk, [-5, -2], atol=0.25)
    else:
        # a 4th process that no draw shows is unresolved everywhere, never invented; the
        # three real peaks go to the three fastest processes
        assert float(b["p_resolved"].isel(spectrum=0, process=3)) == 0.0
        assert float(b["p_resolved"].isel(spectrum=0, process=0)) == 1.0
        assert np.isnan(b["boundary_tau"].isel(spectrum=0, boundary=2)).all()


def test_bad_input_raises():
    rng = np.random.default_rng(3)
    tree = _tree(_three_process(rng, 4)[None], ["X/a/soc50"], ["X"], [50.0])
    with pytest.raises(ValueRangeError):
        time_constant_bands(tree, processes=("a",))
    with pytest.raises(DataError):
        time_constant_bands(xr.DataTree.from_dict({"posterior": xr.Dataset({"x": ("a", [1.0])})}))
    with pytest.raises(DataError):
        time_constant_bands(42)


def test_bands_at_soc_interpolates_and_clamps(synth_bands):
    _t, bands, _ = synth_bands
    lb = np.log10(bands["group_boundary_tau"])
    g = bands["group"].values
    d = bands["group_design"].values
    s = bands["group_soc"].values
    at0 = lb.sel(group=g[(d == "S_SE") & (s == 0)][0])
    at50 = lb.sel(group=g[(d == "S_SE") & (s == 50)][0])
    mid = bands_at_soc(bands, design="S_SE", soc=20.0)
    assert mid.dims == ("sample", "boundary")
    np.testing.assert_allclose(mid.values, (0.6 * at0 + 0.4 * at50).values, rtol=1e-12)
    np.testing.assert_allclose(bands_at_soc(bands, design="S_SE", soc=90.0).values, at50.values)
    np.testing.assert_allclose(bands_at_soc(bands, design="S_SE", soc=-5.0).values, at0.values)
    near = bands_at_soc(bands, design="S_SE", soc=30.0, policy="nearest")
    np.testing.assert_allclose(near.values, at50.values)
    with pytest.raises(DataError, match="no DRT of design"):
        bands_at_soc(bands, design="nope", soc=10)
    with pytest.raises(ValueRangeError):
        bands_at_soc(bands, design="S_SE", soc=10, policy="spline")


def test_bands_netcdf_round_trip(synth_bands, tmp_path):
    pytest.importorskip("h5py")
    _t, bands, _ = synth_bands
    bands.to_netcdf(tmp_path / "b.nc", engine="h5netcdf")
    back = xr.load_dataset(tmp_path / "b.nc", engine="h5netcdf")
    xr.testing.assert_allclose(back["group_boundary_tau"], bands["group_boundary_tau"])
    assert back["resolved"].dtype == bool
    np.testing.assert_allclose(bands_at_soc(back, design="L_SE", soc=30).values,
                               bands_at_soc(bands, design="L_SE", soc=30).values)


def test_plot_bands_renders(synth_bands, tmp_path):
    from drtbayes.plots.split import plot_bands

    tree, bands, _ = synth_bands
    ax = plot_bands(tree, bands, group="S_SE/soc0")
    ax.figure.savefig(tmp_path / "bands.png")
    ax2 = plot_bands(tree, bands, spectrum=1)
    ax2.figure.savefig(tmp_path / "bands_spec.png")
    assert (tmp_path / "bands.png").stat().st_size > 20_000


def test_split_arc_in_one_median_stays_one_process():
    """One DRT whose median splits its big charge-transfer arc into three peaks, each side peak
    more prominent than the small contact arc (seen in a poorly mixed fit at 0 % SOC): with the
    process positions common to the fit's clean DRTs, the contact | charge-transfer boundary
    stays between the contact arc and the whole charge-transfer cluster.
    """
    rng = np.random.default_rng(5)
    clean = _three_process(rng, 40)
    split = np.empty((40, TAU.size))
    for i in range(40):
        s = 10 ** rng.normal(0, 0.03)
        net = (el.rc(12.0, 1e-5 * s) + el.zarc(300.0, 2e-2 * s, 0.95)
               + el.zarc(40.0, 4e-3 * s, 0.95) + el.zarc(40.0, 1e-1 * s, 0.95)
               + el.warburg_reflective(60.0, 100.0 * s))
        split[i] = sim.smoothed_drt(net, TAU, 0.08)
    b = time_constant_bands(_tree(np.stack([clean, split]), ["X/a/soc50", "X/b/soc0"],
                                  ["X", "X"], [50.0, 0.0]))
    # the split unit's median does show the side peaks, more prominent than the contact arc
    from scipy.signal import find_peaks
    med = np.median(split, axis=0)
    idx, props = find_peaks(med, prominence=0.05 * med.max())
    assert idx.size >= 5
    contact_prom = props["prominences"][np.argmin(np.abs(np.log10(TAU[idx]) + 5))]
    assert np.sort(props["prominences"])[-3] > contact_prom   # top-3 would drop the contact
    lb = np.log10(b["boundary_tau"].isel(spectrum=1).median("sample").values)
    assert -4.8 < lb[0] < -3.0          # between the contact arc (1e-5) and 4e-3 s
    assert 0.0 < lb[1] < 1.5            # between the charge-transfer cluster and diffusion
    np.testing.assert_allclose(np.log10(b["peak_tau"].isel(spectrum=1).median("sample")),
                               [-5.0, np.log10(2e-2), 1.0], atol=0.2)
