"""Tests of drtbayes.plots.drt on a hand-made DRT result with analytic ground truth.

The fixture tree mimics fit_drt's output: two spectra (two ZARCs each, 1 % proportional noise)
whose "posterior" draws jitter the true ZARC parameters by a few percent, so medians and bands
can be checked against numbers computed here independently of the plotting code.

Set DRTBAYES_PLOT_DIR to also write every figure there for a visual check.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from matplotlib.path import Path as MplPath

from drtbayes.elements import log_frequencies, zarc_gamma, zarc_impedance
from drtbayes.errors import DataError
from drtbayes.plots import (
    plot_bode,
    plot_diagnostics,
    plot_drt,
    plot_fit_overview,
    plot_nyquist,
    plot_residuals,
)
from drtbayes.plots._common import design_color, median_band, member_colors

matplotlib.use("Agg")

N_CHAIN, N_DRAW = 2, 50
NOISE_REL = 0.01
# (design, cell, soc, r_inf, [(R, tau0, alpha), ...])
SPECTRA = [
    ("L_SE", "c1", 50.0, 10.0, [(15.0, 1e-5, 0.85), (40.0, 1e-2, 0.75)]),
    ("S_SE", "c2", 50.0, 12.0, [(8.0, 3e-5, 0.9), (60.0, 3e-2, 0.7)]),
]
LABELS = [f"{d}/{c}/soc{s:g}" for d, c, s, _, _ in SPECTRA]
# spectrum 1 was measured only up to 1e5 Hz and lacks one mid frequency: NaN in observed_data
MISSING_B = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 40]


def _true_gamma(tau: np.ndarray, arcs) -> np.ndarray:
    return sum(zarc_gamma(tau, r, t0, a) for r, t0, a in arcs)


def _true_z(freq: np.ndarray, r_inf: float, arcs) -> np.ndarray:
    return r_inf + sum(zarc_impedance(freq, r, t0, a) for r, t0, a in arcs)


def make_tree(*, sample_dim: bool = False, nan_predictive: bool = False,
              bad_mixing: bool = True) -> xr.DataTree:
    """A fit-like DataTree: posterior, posterior_predictive, observed_data, sample_stats."""
    rng = np.random.default_rng(12345)
    freq = log_frequencies(1e6, 1e-2, 10)
    tau = np.logspace(-8, 2.5, 106)
    n_s = len(SPECTRA)
    gamma = np.empty((N_CHAIN, N_DRAW, n_s, tau.size))
    zr = np.empty((N_CHAIN, N_DRAW, n_s, freq.size))
    zi = np.empty_like(zr)
    r_inf = np.empty((N_CHAIN, N_DRAW, n_s))
    obs_r = np.empty((n_s, freq.size))
    obs_i = np.empty_like(obs_r)
    for s, (_, _, _, rinf, arcs) in enumerate(SPECTRA):
        z_true = _true_z(freq, rinf, arcs)
        noise = NOISE_REL * np.abs(z_true)
        obs_r[s] = z_true.real + noise * rng.standard_normal(freq.size)
        obs_i[s] = z_true.imag + noise * rng.standard_normal(freq.size)
        for c in range(N_CHAIN):
            for d in range(N_DRAW):
                jit = [(r * (1 + 0.02 * rng.standard_normal()),
                        t0 * 10 ** (0.02 * rng.standard_normal()), a) for r, t0, a in arcs]
                ri = rinf + 0.05 * rng.standard_normal()
                r_inf[c, d, s] = ri
                gamma[c, d, s] = _true_gamma(tau, jit)
                z = _true_z(freq, ri, jit)
                zr[c, d, s] = z.real + noise * rng.standard_normal(freq.size)
                zi[c, d, s] = z.imag + noise * rng.standard_normal(freq.size)
    obs_r[1, MISSING_B] = np.nan
    obs_i[1, MISSING_B] = np.nan
    if nan_predictive:
        zr[:, :, 1, MISSING_B] = np.nan
        zi[:, :, 1, MISSING_B] = np.nan

    spec_coords = {
        "spectrum": LABELS,
        "design": ("spectrum", [d for d, *_ in SPECTRA]),
        "cell": ("spectrum", [c for _, c, *_ in SPECTRA]),
        "soc": ("spectrum", [s for _, _, s, *_ in SPECTRA]),
        "group": ("spectrum", ["L_SE/soc50", "S_SE/soc50"]),
    }
    cd = {"chain": np.arange(N_CHAIN), "draw": np.arange(N_DRAW)}
    l_h = 1e-7 * (1 + 0.01 * rng.standard_normal((N_CHAIN, N_DRAW, n_s)))
    if bad_mixing:
        l_h[1] += 5e-9  # chain 1 stuck elsewhere: R-hat of l_h must fail the gate
    posterior = xr.Dataset(
        {
            "gamma": (("chain", "draw", "spectrum", "tau"), gamma),
            "gamma_group": (("chain", "draw", "group", "tau"),
                            gamma * (1 + 0.01 * rng.standard_normal((N_CHAIN, N_DRAW, n_s, 1)))),
            "r_inf": (("chain", "draw", "spectrum"), r_inf),
            "l_h": (("chain", "draw", "spectrum"), l_h),
            "r_pol": (("chain", "draw", "spectrum"), np.trapezoid(gamma, np.log(tau), axis=-1)),
            "sigma_prop": (("chain", "draw"),
                           0.01 + 0.001 * rng.standard_normal((N_CHAIN, N_DRAW))),
        },
        # group coords design/soc clash with the spectrum coords of the same names in one
        # Dataset, so (like simulate.synthetic_drt_tree) they are stored as group_design/_soc
        coords={**cd, **spec_coords, "tau": tau, "group": ["L_SE/soc50", "S_SE/soc50"],
                "group_design": ("group", ["L_SE", "S_SE"]),
                "group_soc": ("group", [50.0, 50.0])},
    )
    pp = xr.Dataset(
        {"z_real": (("chain", "draw", "spectrum", "frequency"), zr),
         "z_imag": (("chain", "draw", "spectrum", "frequency"), zi)},
        coords={**cd, **spec_coords, "frequency": freq},
    )
    obs = xr.Dataset(
        {"z_real": (("spectrum", "frequency"), obs_r),
         "z_imag": (("spectrum", "frequency"), obs_i)},
        coords={**spec_coords, "frequency": freq},
    )
    div = np.zeros((N_CHAIN, N_DRAW), dtype=bool)
    div[1, [3, 17]] = True
    stats = xr.Dataset({"diverging": (("chain", "draw"), div)}, coords=cd)
    if sample_dim:
        posterior = posterior.stack(sample=("chain", "draw")).reset_index("sample", drop=True)
        pp = pp.stack(sample=("chain", "draw")).reset_index("sample", drop=True)
        posterior = posterior.assign_coords(sample=np.arange(posterior.sizes["sample"]))
        pp = pp.assign_coords(sample=np.arange(pp.sizes["sample"]))
    tree = xr.DataTree.from_dict({
        "posterior": posterior, "posterior_predictive": pp, "observed_data": obs,
        "sample_stats": stats,
    })
    tree.attrs.update({
        "drtbayes_kind": "drt_fit", "method": "nuts",
        "diagnostics": json.dumps({lab: {"rhat_max": 1.02, "ess_bulk_min": 95.0,
                                         "divergences": 2, "gate_pass": False}
                                   for lab in LABELS}),
    })
    return tree


class _Result:
    """Stand-in for DRTResult: only ``.tree`` matters to the plots."""

    def __init__(self, tree: xr.DataTree) -> None:
        self.tree = tree


@pytest.fixture(scope="module")
def tree() -> xr.DataTree:
    return make_tree()


@pytest.fixture(autouse=True)
def _no_show_and_close(monkeypatch):
    def _show(*a, **k):
        raise AssertionError("plotting code must never call plt.show")

    monkeypatch.setattr(plt, "show", _show)
    yield
    plt.close("all")


def _save(fig, name: str, tmp_path: Path) -> None:
    fig.savefig(tmp_path / f"{name}.png", dpi=110)
    assert (tmp_path / f"{name}.png").stat().st_size > 5000
    extra = os.environ.get("DRTBAYES_PLOT_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        fig.savefig(Path(extra) / f"{name}.png", dpi=110)


def _median(tree, group, var, label, sample_dims=("chain", "draw")):
    return tree[group][var].sel(spectrum=label).median(sample_dims).values


def _observed_range_mask(tree, label):
    obs = tree["observed_data"]["z_real"].sel(spectrum=label).values
    f = tree["observed_data"]["frequency"].values
    ok = np.isfinite(obs)
    return (f >= f[ok].min()) & (f <= f[ok].max()), ok


# --------------------------------------------------------------------------- Nyquist
def test_nyquist_one_spectrum_median_band_and_axes(tree, tmp_path):
    ax = plot_nyquist(tree, LABELS[0])
    fig = ax.figure
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
    med_line, obs_line = lines
    # the curve is the per-frequency posterior-predictive median, -Z'' up
    np.testing.assert_allclose(med_line.get_xdata(), _median(tree, "posterior_predictive",
                                                             "z_real", LABELS[0]))
    np.testing.assert_allclose(med_line.get_ydata(), -_median(tree, "posterior_predictive",
                                                              "z_imag", LABELS[0]))
    obs = tree["observed_data"].sel(spectrum=LABELS[0])
    np.testing.assert_allclose(obs_line.get_ydata(), -obs["z_imag"].values)  # capacitive up
    assert np.max(med_line.get_ydata()) > 10.0
    assert ax.get_aspect() == 1.0
    assert "Ω" in ax.get_xlabel() and "Z″" in ax.get_ylabel() and "−" in ax.get_ylabel()
    # the ribbon is one polygon; with 1 % noise the 95 % predictive band should hold nearly all
    # observed points (95 % nominal; the ribbon only measures the normal direction, so points
    # displaced along the curve count as inside: the fraction can only be higher)
    (band,) = ax.patches
    path = MplPath(band.get_xy())
    pts = np.column_stack([obs_line.get_xdata(), obs_line.get_ydata()])
    inside = path.contains_points(pts).mean()
    assert inside >= 0.85, inside
    assert ax.get_legend() is not None
    _save(fig, "nyquist_one", tmp_path)


def test_nyquist_several_spectra_nan_observed_and_range(tree, tmp_path):
    ax = plot_nyquist(_Result(tree), cloud=20)
    assert len(ax.patches) == 2 and len(ax.collections) == 2  # 2 ribbons, 2 clouds
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert LABELS[0] in texts and LABELS[1] in texts
    in_range, ok = _observed_range_mask(tree, LABELS[1])
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
    # spectrum 1: the model curve covers only its measured range, NaN points are not drawn
    assert len(lines[2].get_xdata()) == in_range.sum() == 81 - 10
    assert len(lines[3].get_xdata()) == ok.sum() == 81 - len(MISSING_B)
    assert np.isfinite(lines[3].get_xdata()).all()
    # each spectrum keeps its design's colour
    assert matplotlib.colors.to_hex(lines[0].get_color()) == design_color("L_SE")
    assert matplotlib.colors.to_hex(lines[2].get_color()) == design_color("S_SE")
    _save(ax.figure, "nyquist_all", tmp_path)


# --------------------------------------------------------------------------- Bode
def test_bode_two_panels(tree, tmp_path):
    fig = plot_bode(tree)
    ax_mod, ax_ph = fig.axes
    assert ax_mod.get_xscale() == ax_mod.get_yscale() == ax_ph.get_xscale() == "log"
    assert ax_ph.get_yscale() == "linear"
    assert ax_ph.get_xlabel() == "f / Hz" and "Ω" in ax_mod.get_ylabel()
    assert "φ" in ax_ph.get_ylabel() and "°" in ax_ph.get_ylabel()
    zr = tree["posterior_predictive"]["z_real"].sel(spectrum=LABELS[0])
    zi = tree["posterior_predictive"]["z_imag"].sel(spectrum=LABELS[0])
    med_mod = np.hypot(zr.median(("chain", "draw")), zi.median(("chain", "draw"))).values
    np.testing.assert_allclose(ax_mod.get_lines()[0].get_ydata(), med_mod)
    # phase of two capacitive ZARCs: -phi in (0, 90) degrees at every frequency
    ph = np.asarray(ax_ph.get_lines()[0].get_ydata())
    assert (ph > 0).all() and (ph < 90).all()
    assert len(ax_mod.collections) == len(ax_ph.collections) == 2
    _save(fig, "bode_all", tmp_path)


def test_bode_single_panel_and_bad_ax(tree):
    ax = plot_bode(tree, 1, quantity="phase")
    assert ax.get_xscale() == "log" and len(ax.collections) == 1
    _, ok = _observed_range_mask(tree, LABELS[1])
    assert len(ax.get_lines()[1].get_xdata()) == ok.sum()
    with pytest.raises(DataError, match="two Axes|axes_modulus"):
        plot_bode(tree, ax=ax)
    with pytest.raises(DataError, match="quantity"):
        plot_bode(tree, quantity="real")


# --------------------------------------------------------------------------- DRT
def test_drt_median_band_truth(tree, tmp_path):
    _, _, _, _, arcs = SPECTRA[0]
    tau = tree["posterior"]["tau"].values
    truth = _true_gamma(tau, arcs)
    ax = plot_drt(_Result(tree), LABELS[0], truth=(tau, truth))
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "τ / s" and "Ω" in ax.get_ylabel()
    med_line, truth_line = ax.get_lines()
    np.testing.assert_allclose(med_line.get_ydata(),
                               tree["posterior"]["gamma"].sel(spectrum=LABELS[0])
                               .median(("chain", "draw")).values)
    assert truth_line.get_linestyle() == "--"
    # the draws jitter the true parameters, so the 95 % band must contain the truth where
    # gamma is not negligible (the 90 % criterion)
    (band,) = ax.collections
    band_path = band.get_paths()[0]
    big = truth > 0.05 * truth.max()
    covered = band_path.contains_points(np.column_stack([tau, truth])[big]).mean()
    assert covered >= 0.9, covered
    assert ax.get_ylim()[0] == 0.0
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "true γ" in texts and any("95 %" in t for t in texts)
    _save(ax.figure, "drt_one_truth", tmp_path)


def test_drt_all_spectra_and_groups(tree, tmp_path):
    ax = plot_drt(tree)
    assert len(ax.get_lines()) == 2 and len(ax.collections) == 2
    _save(ax.figure, "drt_all", tmp_path)
    ax = plot_drt(tree, groups=True)
    assert len(ax.get_lines()) == 2
    gg = tree["posterior"]["gamma_group"].sel(group="S_SE/soc50").median(("chain", "draw"))
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), gg.values)
    _save(ax.figure, "drt_groups", tmp_path)
    with pytest.raises(DataError, match="available group labels"):
        plot_drt(tree, "nope", groups=True)


def test_drt_process_bands(tree, tmp_path):
    rng = np.random.default_rng(3)
    n = 200
    # boundaries near 1e-4 s and 1 s, scattered by 0.1 decade
    b = 10.0 ** (np.array([-4.0, 0.0])[None, None, :] + 0.1 * rng.standard_normal((n, 2, 2)))
    bands = xr.Dataset(
        {"boundary_tau": (("sample", "spectrum", "boundary"), b)},
        coords={"spectrum": LABELS, "boundary": ["contact|charge_transfer",
                                                 "charge_transfer|diffusion"],
                "process": ["contact", "charge_transfer", "diffusion"]},
    )
    ax = plot_drt(tree, LABELS[0], bands=bands)
    assert len(ax.patches) == 3  # one shaded span per process
    vlines = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
    expected = np.sort(10 ** np.median(np.log10(b[:, 0, :]), axis=0))
    got = np.sort([ln.get_xdata()[0] for ln in vlines])
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"contact", "charge transfer", "diffusion"} <= set(texts)
    # the x range is the tau grid, not stretched by the shading
    tau = tree["posterior"]["tau"].values
    np.testing.assert_allclose(ax.get_xlim(), (tau.min(), tau.max()))
    _save(ax.figure, "drt_bands", tmp_path)
    with pytest.raises(DataError, match="boundary_tau"):
        plot_drt(tree, bands=bands.rename(boundary_tau="x"))


# --------------------------------------------------------------------------- residuals
def test_residuals_values_and_band(tree, tmp_path):
    ax = plot_residuals(tree, LABELS[1])
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "f / Hz" and "%" in ax.get_ylabel()
    in_range, ok = _observed_range_mask(tree, LABELS[1])
    obs_r = tree["observed_data"]["z_real"].sel(spectrum=LABELS[1]).values
    med_r = _median(tree, "posterior_predictive", "z_real", LABELS[1])
    med_i = _median(tree, "posterior_predictive", "z_imag", LABELS[1])
    expected = (100 * (obs_r - med_r) / np.hypot(med_r, med_i))[ok]
    markers = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    np.testing.assert_allclose(markers[0].get_ydata(), expected)
    assert len(markers[0].get_ydata()) == 81 - len(MISSING_B)
    # 1 % noise per component: the 95 % band half-width is about 2 % of |Z| (noise plus the
    # few-percent parameter jitter only near the arcs), and >= 85 % of residuals lie inside
    (band,) = ax.collections
    res = np.asarray(markers[0].get_ydata())
    assert np.all(np.abs(res) < 6.0)
    zr = tree["posterior_predictive"]["z_real"].sel(spectrum=LABELS[1]).values.reshape(-1, 81)
    lo, hi = np.quantile(zr, [0.025, 0.975], axis=0)
    mod = np.hypot(med_r, med_i)
    half = 100 * (hi - lo) / 2 / mod
    assert 1.5 < np.median(half[in_range]) < 3.5
    inside = ((100 * (lo - med_r) / mod <= 100 * (obs_r - med_r) / mod)
              & (100 * (obs_r - med_r) / mod <= 100 * (hi - med_r) / mod))[ok].mean()
    assert inside >= 0.85
    _save(ax.figure, "residuals_one", tmp_path)


def test_residuals_all_spectra(tree, tmp_path):
    ax = plot_residuals(tree)
    assert len(ax.collections) == 2
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(LABELS) <= set(texts)
    _save(ax.figure, "residuals_all", tmp_path)


def test_nan_predictive_at_missing_frequencies(tmp_path):
    t = make_tree(nan_predictive=True)
    for fn in (plot_nyquist, plot_residuals):
        ax = fn(t)
        for ln in ax.get_lines():
            assert np.isfinite(np.asarray(ln.get_ydata(), float)).all()
    fig = plot_bode(t, LABELS[1])
    assert np.isfinite(np.asarray(fig.axes[0].get_lines()[0].get_ydata())).all()


# --------------------------------------------------------------------------- diagnostics
def test_diagnostics_thresholds_and_divergences(tree, tmp_path):
    import arviz_stats

    fig = plot_diagnostics(_Result(tree))
    ax_r, ax_e, ax_d = fig.axes
    assert any(np.allclose(ln.get_xdata(), 1.01) for ln in ax_r.get_lines())
    assert any(np.allclose(ln.get_xdata(), 400) for ln in ax_e.get_lines())
    assert ax_e.get_xscale() == "log"
    names = [t.get_text() for t in ax_r.get_yticklabels()]
    assert names == ["gamma", "gamma_group", "r_inf", "l_h", "r_pol", "sigma_prop"][::-1] or \
        set(names) == {"gamma", "gamma_group", "r_inf", "l_h", "r_pol", "sigma_prop"}
    # the worst-R-hat marker of l_h is at its R-hat maximum and red (fails 1.01)
    rhat_lh = float(arviz_stats.rhat(tree["posterior"]["l_h"].to_dataset(),
                                     sample_dims=["chain", "draw"])["l_h"].max())
    assert rhat_lh > 1.01
    worst = [c for c in ax_r.collections if c.get_offsets().shape[0] == 1]
    xs = sorted(float(c.get_offsets()[0, 0]) for c in worst)
    assert np.isclose(xs[-1], rhat_lh)
    # 100 draws in all: the bulk ESS cannot reach 400, every ESS marker is red
    ess_markers = [c for c in ax_e.collections if c.get_offsets().shape[0] == 1]
    assert all(matplotlib.colors.to_hex(c.get_facecolor()[0]) == "#d1495b" for c in ess_markers)
    assert sum(p.get_height() for p in ax_d.patches) == 2
    assert "2 of 100" in ax_d.get_title()
    assert fig.get_suptitle() == "gate FAIL: R-hat, ESS, divergences"
    _save(fig, "diagnostics", tmp_path)


def test_diagnostics_fixed_hyperparameter_has_no_markers(tree):
    """A hyperparameter taken by empirical Bayes is constant over the draws: its row says so
    and carries no R-hat / ESS marker (a constant's ESS is undefined, not 'good').
    """
    t = tree.copy()
    post = t["posterior"].to_dataset()
    post["smoothness"] = xr.full_like(post["r_inf"], 7.5).assign_attrs(
        inference="empirical Bayes (marginal posterior mode)")
    t["posterior"] = xr.DataTree(post)
    fig = plot_diagnostics(_Result(t))
    ax_r, ax_e, _ = fig.axes
    for ax in (ax_r, ax_e):
        texts = [tx.get_text() for tx in ax.texts]
        assert "fixed: empirical Bayes" in texts
        names = [tl.get_text() for tl in ax_r.get_yticklabels()]
        row = names.index("smoothness")
        y = ax_r.get_yticks()[row]
        markers = [c for c in ax.collections if c.get_offsets().shape[0] == 1]
        assert not any(np.isclose(float(c.get_offsets()[0, 1]), y) for c in markers)
    assert "gate 1.01" in [tx.get_text() for tx in ax_r.texts]


def test_diagnostics_one_chain_says_why():
    t = make_tree()
    post = t["posterior"].to_dataset().isel(chain=[0])
    t2 = xr.DataTree.from_dict({"posterior": post, "observed_data": t["observed_data"]
                                .to_dataset()})
    t2.attrs["method"] = "laplace"
    fig = plot_diagnostics(t2)
    texts = " ".join(tx.get_text() for ax in fig.axes for tx in ax.texts)
    assert "2 chains" in texts and "no divergence" in texts
    assert "approximate" in fig.get_suptitle()


# --------------------------------------------------------------------------- overview
def test_fit_overview(tree, tmp_path):
    _, _, _, _, arcs = SPECTRA[1]
    tau = tree["posterior"]["tau"].values
    fig = plot_fit_overview(_Result(tree), LABELS[1], truth=(tau, _true_gamma(tau, arcs)))
    assert len(fig.axes) == 4
    title = fig.get_suptitle()
    assert LABELS[1] in title and "gate FAIL" in title and "2 divergences" in title
    assert fig.axes[2].get_xlabel() == "τ / s"
    _save(fig, "overview", tmp_path)


# --------------------------------------------------------------------------- inputs
def test_sample_dim_tree_gives_same_medians(tree):
    t = make_tree(sample_dim=True)
    a = plot_drt(t, 0).get_lines()[0].get_ydata()
    b = plot_drt(tree, 0).get_lines()[0].get_ydata()
    np.testing.assert_allclose(a, b)
    a = plot_nyquist(t, 1).get_lines()[0].get_ydata()
    b = plot_nyquist(tree, 1).get_lines()[0].get_ydata()
    np.testing.assert_allclose(a, b)


def test_selection_errors_and_given_axes(tree):
    with pytest.raises(DataError, match="available spectrum labels"):
        plot_nyquist(tree, "L_SE/c9/soc50")
    with pytest.raises(DataError, match="out of range"):
        plot_residuals(tree, 5)
    with pytest.raises(DataError, match="DataTree"):
        plot_drt(object())
    fig, axes = plt.subplots(1, 2)
    assert plot_nyquist(tree, [1, LABELS[0]], ax=axes[1]) is axes[1]
    assert len(plt.get_fignums()) == 1  # no figure created behind the caller's back


def test_common_helpers():
    # same hue per design, spread lightness within a design, stable across calls
    cols = member_colors(["L_SE", "L_SE", "S_SE"])
    assert cols[0] != cols[1] and cols[2] == design_color("S_SE")
    assert design_color("X_new") == design_color("X_new")
    da = xr.DataArray(np.arange(100.0).reshape(2, 50, 1), dims=("chain", "draw", "tau"))
    med, lo, hi = median_band(da)
    assert med.dims == ("tau",)
    assert med.item() == pytest.approx(49.5)
    assert lo.item() == pytest.approx(np.quantile(np.arange(100.0), 0.025))
    assert hi.item() == pytest.approx(np.quantile(np.arange(100.0), 0.975))


@pytest.mark.parametrize("lo, hi, expect", [
    (2.1, 4.9, {"3", "4"}),          # no power of ten, 2 or 5 inside: evenly spaced ticks
    (1.2, 1.9, {"1.4", "1.6"}),
    (37.0, 262.0, {"50", "100", "200"}),  # the demo's total split: 1-2-3-5 ticks
    (0.3, 0.8, {"0.4", "0.6"}),
    (15.0, 190.0, {"20", "50", "100"}),  # under two decades: 2 and 5 labelled as well
    (5.0, 3000.0, {"10", "100", "1000"}),
])
def test_plain_log_ticks_always_label_the_axis(lo, hi, expect):
    import matplotlib.pyplot as plt

    from drtbayes.plots._common import plain_log_ticks

    fig, ax = plt.subplots()
    ax.plot([0, 1], [lo, hi])
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    fig.canvas.draw()
    y0, y1 = ax.get_ylim()
    shown = {t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks()) if y0 <= v <= y1}
    shown |= {t.get_text() for t, v in zip(ax.get_yticklabels(minor=True),
                                            ax.get_yticks(minor=True)) if y0 <= v <= y1}
    shown.discard("")
    plt.close(fig)
    assert expect <= shown, shown
    assert not any("10^" in t or "times" in t for t in shown)
