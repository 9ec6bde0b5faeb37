"""Simulation-based calibration (SBC, Talts et al. 2018) helpers for drtbayes' models.

SBC checks a Bayesian fitting procedure as a whole: draw parameters from the prior, simulate data
from them, fit the data with the same model, and look at the rank of each true value among
(thinned) posterior draws. When the fit returns the exact posterior, the rank is uniform on
``0..L`` (``L`` thinned draws) whatever the model; systematic shapes of the rank histogram show
bias (a slope), over-confident posteriors (a U) or over-dispersed ones (a hump).

Two generators are defined here, each drawing from the prior *exactly as the PyMC model defines
it* (using the model's own grids, kernels and bases):

* :class:`DrtGenerator`: the single-spectrum DRT model (preset ``drt-single``) on a fixed
  frequency grid, fitted with :func:`drtbayes.fit_drt` (NUTS);
* :class:`SocGenerator`: the SOC-curve model (preset ``soc-spline``) on fixed pulse SOCs, fitted
  with :func:`drtbayes.compare.fit_soc_model` (NUTS).

Both models scale their priors by the data (DRT: ``z_scale`` = median |Z| of the observed
points; SOC: the level's prior mean is the mean of the observed log R). The generators simulate
in the model's unit-free frame (``z_scale`` = 1 ohm; level mean 0) and keep a replicate only when
the data's own scale falls within ``tol`` of that frame (rejection on the data). Selecting on
the data alone leaves p(theta | y) unchanged, so the ranks stay uniform under a correct fit;
the residual mismatch of the prior (a shift of ``tol`` in a prior with sd 2-4) is negligible.

Plain numpy here (plus the model-building helpers of drtbayes); the script is ``sbc.py``.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "thin", "sbc_rank", "chi2_uniform", "summarise", "DrtGenerator", "SocGenerator",
    "run_sbc", "plot_ranks", "write_json", "DRT_FREQUENCIES",
]

#: Frequency grid of the DRT SBC: 100 kHz to 10 mHz, 6 points per decade (43 points).
DRT_FREQUENCIES = 10.0 ** np.linspace(5.0, -2.0, 43)


# --------------------------------------------------------------------------------------------
# ranks and the uniformity test
# --------------------------------------------------------------------------------------------


def thin(draws: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws equally spaced through the flattened (chain-major) posterior sample.

    With a few hundred draws per chain the spacing (about every 10th draw) is longer than the
    autocorrelation time of NUTS on these models, as SBC needs (Talts et al. 2018, sec. 5.1).
    """
    flat = np.asarray(draws, dtype=float).reshape(-1)
    if flat.size < n:
        raise ValueError(f"only {flat.size} posterior draws, need at least {n} to thin")
    idx = np.round(np.linspace(0, flat.size - 1, n)).astype(int)
    return flat[idx]


def sbc_rank(true_value: float, draws: np.ndarray, rng: np.random.Generator) -> int:
    """Rank of ``true_value`` among ``draws``: the number of draws below it, in ``0..len(draws)``.

    Ties (possible only for discrete or clipped quantities) are broken at random. A non-finite
    true value or draw makes the rank meaningless: it raises.
    """
    d = np.asarray(draws, dtype=float)
    if not (np.isfinite(true_value) and np.all(np.isfinite(d))):
        raise ValueError("sbc_rank: non-finite true value or draws")
    below = int(np.sum(d < true_value))
    ties = int(np.sum(d == true_value))
    return below + (int(rng.integers(0, ties + 1)) if ties else 0)


def chi2_uniform(ranks: Sequence[int], n_draws: int, n_bins: int, *, n_mc: int = 20000,
                 seed: int = 0) -> dict[str, Any]:
    """Chi-square test that ranks in ``0..n_draws`` are uniform, on ``n_bins`` equal bins.

    ``n_draws + 1`` (the number of possible ranks) must be a multiple of ``n_bins``, so that every
    bin holds the same number of rank values and has the same probability under uniformity.
    When the expected count per bin is below 5 the chi-square distribution is a poor
    approximation and the p-value comes from ``n_mc`` multinomial simulations of the same
    statistic instead (``method`` says which).

    Returns
    -------
    dict
        ``counts`` (per bin), ``expected``, ``stat``, ``df``, ``p``, ``method``, ``n``.
    """
    from scipy import stats

    ranks = np.asarray(ranks, dtype=int)
    if ranks.size == 0:
        raise ValueError("chi2_uniform: no ranks")
    if (n_draws + 1) % n_bins:
        raise ValueError(f"{n_draws + 1} rank values do not split into {n_bins} equal bins")
    if ranks.min() < 0 or ranks.max() > n_draws:
        raise ValueError(f"ranks outside 0..{n_draws}")
    width = (n_draws + 1) // n_bins
    counts = np.bincount(ranks // width, minlength=n_bins)
    n = int(ranks.size)
    expected = n / n_bins
    stat = float(np.sum((counts - expected) ** 2) / expected)
    if expected >= 5:
        p = float(stats.chi2.sf(stat, n_bins - 1))
        method = "chi2"
    else:
        rng = np.random.default_rng(seed)
        sim = rng.multinomial(n, np.full(n_bins, 1.0 / n_bins), size=n_mc)
        sim_stat = np.sum((sim - expected) ** 2, axis=1) / expected
        p = float((1 + np.sum(sim_stat >= stat - 1e-12)) / (1 + n_mc))
        method = f"monte-carlo ({n_mc})"
    return {"counts": counts.tolist(), "expected": expected, "stat": stat, "df": n_bins - 1,
            "p": p, "method": method, "n": n}


def summarise(records: list[dict], quantities: Sequence[str], n_draws: int, n_bins: int,
              *, alpha: float = 0.01) -> dict[str, Any]:
    """Per-quantity chi-square results over the replicates, and the overall verdict.

    A quantity is *flagged* when its p-value is below ``alpha / len(quantities)`` (Bonferroni:
    the chance that a correctly calibrated fit flags any quantity is at most ``alpha``).
    """
    out: dict[str, Any] = {"alpha": alpha, "threshold": alpha / len(quantities),
                           "n_draws": n_draws, "n_bins": n_bins, "quantities": {}}
    for q in quantities:
        ranks = [r["ranks"][q] for r in records if q in r["ranks"]]
        res = chi2_uniform(ranks, n_draws, n_bins)
        res["mean_rank_frac"] = float(np.mean(ranks) / n_draws)
        res["flagged"] = bool(res["p"] < out["threshold"])
        out["quantities"][q] = res
    out["any_flagged"] = any(v["flagged"] for v in out["quantities"].values())
    out["min_p"] = min(v["p"] for v in out["quantities"].values())
    return out


# --------------------------------------------------------------------------------------------
# DRT model
# --------------------------------------------------------------------------------------------


def _half_normal(rng: np.random.Generator, scale: float) -> float:
    return float(abs(rng.normal(0.0, scale)))


class DrtGenerator:
    """Prior draws and simulated spectra of the single-spectrum DRT model on a fixed grid.

    The prior is that of :func:`drtbayes.drt.model.build_model` with ``pooling = "none"``:

    * ``smoothness ~ LogNormal(smoothness_log_median, smoothness_log_sd)``;
    * ``f | smoothness`` Gaussian with mean ``level_mean`` (the model's tau-dependent level) and
      precision ``I / level_sd**2 + D'D / rw_sd**2``, ``rw_sd = smoothness * h**1.5``: the
      ``Normal(level_mean, level_sd)`` of ``f_group`` times the ``smoothness_prior`` Potential,
      whose ``log det`` term makes exactly this conditional (so it is sampled directly here;
      ``pm.sample_prior_predictive`` would ignore the Potential);
    * ``r_inf_rel, l_rel, elastance_rel, sigma_const, sigma_prop`` HalfNormal with the preset's
      scales (and ``nu - 1 ~ Gamma`` for a Student-t preset, not used by the SBC runs).

    Data: ``Z = r_inf + K gamma + j(l w/w_max - el w_min/w)``, ``gamma = exp(f)`` (z_scale = 1
    ohm), real and imaginary parts each plus noise of sd
    ``sigma_const + (relative_floor + sigma_prop) * |Z|`` (the model's noise).
    The model evaluates that sd at the *observed* |Z| (a plug-in that has no exact generative
    form); the generator uses the noise-free |Z|, which differs by a fraction of order
    ``sigma_prop`` (a few %) of the sd.
    """

    def __init__(self, frequency_hz: np.ndarray = DRT_FREQUENCIES,
                 preset: str | dict = "drt-single", *,
                 gamma_tau: Sequence[float] = (1e-4, 1e-2, 1.0), tol: float = 0.02):
        from drtbayes import load_preset
        from drtbayes.drt.kernels import quadrature_weights, second_difference
        from drtbayes.drt.model import prepare_inputs

        preset = copy.deepcopy(load_preset(preset) if not isinstance(preset, dict) else preset)
        # SBC checks the Bayesian model itself, whose smoothness the generator draws from its
        # hyperprior: the fits sample it ([hyperpriors] inference = "sampled"). The presets'
        # empirical-Bayes default is checked by the coverage benchmark
        # (bench_drt_calibration.py) instead.
        preset["hyperpriors"]["inference"] = "sampled"
        preset["preset_toml"] = preset["preset_toml"].replace('inference = "empirical_bayes"',
                                                              'inference = "sampled"')
        self.preset = preset
        if self.preset["model"]["pooling"] != "none":
            raise ValueError("DrtGenerator simulates single spectra: use a preset with "
                             "pooling = 'none' (drt-single, drt-robust)")
        self.frequency_hz = np.sort(np.asarray(frequency_hz, dtype=float))[::-1]
        ones = np.ones((1, self.frequency_hz.size))
        inputs = prepare_inputs(self.frequency_hz, ones, -ones, np.zeros(1, dtype=int), 1,
                                self.preset)
        self.tau = inputs.tau_s
        self.k_real, self.k_imag = inputs.k_real, inputs.k_imag
        self.level_mean = inputs.level_mean
        omega = 2 * np.pi * self.frequency_hz
        self.omega_max, self.omega_min = inputs.omega_max, inputs.omega_min
        self.omega_rel = omega / self.omega_max
        self.inv_omega_rel = self.omega_min / omega
        self.q = quadrature_weights(self.tau)
        n_tau = self.tau.size
        d2 = second_difference(n_tau)
        self.dtd = d2.T @ d2
        self.h = 1.0 / float(self.preset["tau_grid"]["points_per_decade"])
        self.tol = float(tol)
        # grid points of the gamma quantities: the nearest grid tau to each requested tau
        self.gamma_idx = {}
        for t in gamma_tau:
            j = int(np.argmin(np.abs(np.log10(self.tau) - np.log10(t))))
            self.gamma_idx[f"gamma@{self.tau[j]:.2g}s"] = j
        self.quantities = ["r_inf", "r_pol", "log_smoothness", *self.gamma_idx, "l_h", "c_f",
                           "sigma_const", "sigma_prop"]

    # prior ------------------------------------------------------------------------------
    def draw_prior(self, rng: np.random.Generator) -> dict[str, Any]:
        """One draw of every model variable (scaled units, z_scale = 1 ohm)."""
        pri, hyp, noi = self.preset["priors"], self.preset["hyperpriors"], self.preset["noise"]
        mdl = self.preset["model"]
        smooth = float(np.exp(rng.normal(float(hyp["smoothness_log_median"]),
                                         float(hyp["smoothness_log_sd"]))))
        rw_sd = smooth * self.h**1.5
        level_sd = float(pri["log_gamma_level_sd"])
        prec = np.eye(self.tau.size) / level_sd**2 + self.dtd / rw_sd**2
        chol = np.linalg.cholesky(prec)
        f = self.level_mean + np.linalg.solve(chol.T, rng.standard_normal(self.tau.size))
        theta = {
            "smoothness": smooth,
            "f": f,
            "r_inf_rel": _half_normal(rng, float(pri["r_inf_scale"])),
            "l_rel": _half_normal(rng, float(pri["inductance_scale"])) if mdl["inductance"]
            else 0.0,
            "elastance_rel": _half_normal(rng, float(pri["elastance_scale"]))
            if mdl["series_capacitance"] else 0.0,
            "sigma_const": _half_normal(rng, float(noi["constant_scale"])),
            "sigma_prop": _half_normal(rng, float(noi["proportional_scale"])),
        }
        return theta

    def impedance(self, theta: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Noise-free model impedance (ohm) of a parameter draw."""
        g = np.exp(theta["f"])
        zr = theta["r_inf_rel"] + self.k_real @ g
        zi = (self.k_imag @ g + theta["l_rel"] * self.omega_rel
              - theta["elastance_rel"] * self.inv_omega_rel)
        return zr, zi

    def simulate(self, theta: dict[str, Any], rng: np.random.Generator, *,
                 noise: str = "normal", nu: float = 2.0) -> np.ndarray:
        """A noisy complex spectrum: Normal noise (the model's) or Student-t(``nu``) noise."""
        zr, zi = self.impedance(theta)
        floor = float(self.preset["noise"].get("relative_floor", 0.0))
        sd = theta["sigma_const"] + (floor + theta["sigma_prop"]) * np.hypot(zr, zi)
        if noise == "normal":
            e = rng.standard_normal((2, zr.size))
        elif noise == "student_t":
            e = rng.standard_t(nu, size=(2, zr.size))
        else:
            raise ValueError(f"noise={noise!r}")
        return (zr + sd * e[0]) + 1j * (zi + sd * e[1])

    def accept(self, z: np.ndarray) -> bool:
        """Keep a replicate when the fit's z_scale (median |Z|) is within ``tol`` of 1 ohm."""
        return bool(abs(math.log(float(np.median(np.abs(z))))) < self.tol)

    def true_quantities(self, theta: dict[str, Any]) -> dict[str, float]:
        g = np.exp(theta["f"])
        out = {
            "r_inf": theta["r_inf_rel"],
            "r_pol": float(g @ self.q),
            "log_smoothness": math.log(theta["smoothness"]),
            "l_h": theta["l_rel"] / self.omega_max,
            "c_f": 1.0 / (theta["elastance_rel"] * self.omega_min),
            "sigma_const": theta["sigma_const"],
            "sigma_prop": theta["sigma_prop"],
        }
        for name, j in self.gamma_idx.items():
            out[name] = float(g[j])
        return out

    def posterior_quantities(self, result: Any) -> dict[str, np.ndarray]:
        """The same quantities' draws (chain, draw) from a :class:`DRTResult` of one spectrum."""
        post = result.posterior
        one = {"spectrum": 0}
        out = {
            "r_inf": post["r_inf"].isel(one).values,
            "r_pol": post["r_pol"].isel(one).values,
            "log_smoothness": np.log(post["smoothness"].isel(group=0).values
                                     if "group" in post["smoothness"].dims
                                     else post["smoothness"].values),
            "l_h": post["l_h"].isel(one).values,
            "c_f": post["c_f"].isel(one).values,
            "sigma_const": post["sigma_const"].isel(one).values,
            "sigma_prop": post["sigma_prop"].isel(one).values,
        }
        gamma = post["gamma"].isel(one)
        if not np.allclose(gamma["tau"].values, self.tau, rtol=1e-9):
            raise RuntimeError("the fit's tau grid differs from the generator's")
        for name, j in self.gamma_idx.items():
            out[name] = gamma.isel(tau=j).values
        return out

    def replicate(self, i: int, rng: np.random.Generator, *, fit_kwargs: dict[str, Any],
                  noise: str = "normal", nu: float = 2.0, fit_model: str | dict | None = None,
                  max_tries: int = 100000) -> tuple[dict[str, float], dict[str, np.ndarray], dict]:
        """Draw (with rejection on the data's scale), simulate, fit; truth, draws and info."""
        from drtbayes import fit_drt, make_spectrum
        from drtbayes.errors import SamplingWarning

        for tries in range(1, max_tries + 1):
            theta = self.draw_prior(rng)
            z = self.simulate(theta, rng, noise=noise, nu=nu)
            if self.accept(z):
                break
        else:  # pragma: no cover
            raise RuntimeError("no prior draw passed the scale selection")
        spec = make_spectrum(self.frequency_hz, z, imag_sign="as-is", design="sbc",
                             cell=f"rep{i}", source=f"sbc replicate {i}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            res = fit_drt(spec, self.preset if fit_model is None else fit_model,
                          progress=False, **fit_kwargs)
        diag = json.loads(res.tree.attrs["diagnostics"])
        d = next(iter(diag.values())) if diag else {}
        timing = json.loads(res.tree.attrs.get("timing", "{}"))
        info = {"tries": tries, "z_scale": float(res.tree.attrs.get("z_scale_ohm", np.nan)),
                "divergences": int(d.get("divergences", -1)),
                "rhat_max": float(d.get("rhat_max", np.nan)),
                "ess_bulk_min": float(d.get("ess_bulk_min", np.nan)),
                "gate_pass": bool(d.get("gate_pass", False)),
                "fit_wall_s": float(timing.get("wall_s", np.nan))}
        return self.true_quantities(theta), self.posterior_quantities(res), info


# --------------------------------------------------------------------------------------------
# SOC-curve model
# --------------------------------------------------------------------------------------------


@dataclass
class SocGenerator:
    """Prior draws and simulated per-pulse split summaries of the SOC-curve model.

    One component (``R2``), ``n_designs`` designs with ``n_cells`` replicate cells each and
    ``n_pulses`` pulses per cell at fixed SOCs. The pulse summaries' sds (``y_sd``, what the
    split would report) are fixed covariates drawn once from ``sd_range``. The prior is that of
    ``drtbayes.compare._build_model`` (level, trend, wiggle_z, rw2_sd, cell_z, cell_mean_z,
    cell_sd, extra_sd), using the model's own spline basis, random-walk-2 map and cell
    centering; the observed pulse means are ``mu + sqrt(y_sd**2 + extra_sd**2) * t_nu`` as in
    its likelihood. The level's prior mean in the model is the mean of the observed log R; the
    generator uses 0 and keeps a replicate when that mean is within ``tol`` of 0.

    ``sd_misreport`` (negative control): the pulses really scatter with ``sd_misreport * y_sd``
    but the split summary (and so the fit) says ``y_sd``.
    """

    n_designs: int = 2
    n_cells: int = 2
    n_pulses: int = 15
    soc_range: tuple[float, float] = (2.0, 98.0)
    sd_range: tuple[float, float] = (0.03, 0.15)
    n_samples: int = 40
    tol: float = 0.02
    sd_misreport: float = 1.0
    soc_points: tuple[float, ...] = (10.0, 50.0, 90.0)
    preset: str = "soc-spline"
    component: str = "R2"
    quantities: list[str] = field(init=False)

    def __post_init__(self) -> None:
        from drtbayes.compare import (
            _cell_centering,
            _load_soc_preset,
            _make_basis,
            _rw2_matrix,
            _soc_grid,
        )

        _, self.cfg, _ = _load_soc_preset(self.preset)
        self.priors = self.cfg["priors"]
        lo, hi = self.soc_range
        soc_cell = np.linspace(hi, lo, self.n_pulses)
        self.designs = [f"D{j}" for j in range(self.n_designs)]
        n_cell_total = self.n_designs * self.n_cells
        self.cell_design_idx = np.repeat(np.arange(self.n_designs), self.n_cells)
        self.pulse_cell = np.repeat(np.arange(n_cell_total), self.n_pulses)
        self.pulse_design = self.cell_design_idx[self.pulse_cell]
        self.pulse_soc = np.tile(soc_cell, n_cell_total)
        self.basis = _make_basis(lo, hi, self.cfg["spline"])
        self.g = self.basis.greville()
        self.rw2 = _rw2_matrix(self.g)
        self.centering = _cell_centering(self.cell_design_idx)
        self.b_pulse = self.basis.matrix(self.pulse_soc)
        self.grid = _soc_grid(lo, hi, float(self.cfg["spline"].get("grid_step_pct", 1.0)))
        self.grid_idx = {s: int(np.argmin(np.abs(self.grid - s))) for s in self.soc_points}
        self.b_grid = self.basis.matrix(self.grid)
        rng = np.random.default_rng(20240917)  # fixed covariates, the same in every replicate
        self.y_sd = rng.uniform(*self.sd_range, self.pulse_soc.size)
        names = [f"log_r[D0]@{s:g}%" for s in self.soc_points]
        if self.n_designs > 1:
            names.append(f"log_r[D1-D0]@{self.soc_points[len(self.soc_points) // 2]:g}%")
        self.quantities = [*names, "trend[D0]", "rw2_sd", "cell_sd", "extra_sd"]

    def draw_prior(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        p = self.priors
        nb = self.basis.n_basis
        nc = self.n_designs * self.n_cells
        return {
            "level": rng.normal(0.0, float(p["level_sd"]), (self.n_designs, 1)),
            "trend": rng.normal(0.0, float(p["trend_sd"]), (self.n_designs, 1)),
            "wiggle_z": rng.standard_normal((self.n_designs, 1, nb - 2)),
            "rw2_sd": np.abs(rng.normal(0.0, float(p["rw2_sd_scale"]), 1)),
            "cell_z": rng.standard_normal((nc, 1)),
            "cell_mean_z": rng.standard_normal((self.n_designs, 1)),
            "cell_sd": np.abs(rng.normal(0.0, float(p["cell_sd_scale"]), 1)),
            "extra_sd": np.abs(rng.normal(0.0, float(p["extra_noise_scale"]), 1)),
        }

    def simulate(self, theta: dict[str, np.ndarray], rng: np.random.Generator, *,
                 nu: float | None = None) -> np.ndarray:
        """Per-pulse posterior means of log R (the model's likelihood; ``nu`` overrides)."""
        beta = (theta["level"][:, :, None] + theta["trend"][:, :, None] * self.g[None, None, :]
                + theta["rw2_sd"][None, :, None] * np.einsum("dkm,jm->dkj", theta["wiggle_z"],
                                                              self.rw2))
        cell_dev = theta["cell_sd"][None, :] * (self.centering @ theta["cell_z"])
        mu = np.sum(self.b_pulse * beta[self.pulse_design, 0], axis=-1) + cell_dev[
            self.pulse_cell, 0]
        sd = np.sqrt((self.sd_misreport * self.y_sd) ** 2 + theta["extra_sd"][0] ** 2)
        lik = str(self.priors.get("likelihood", "student_t"))
        if nu is None:
            nu = float(self.priors.get("student_t_nu", 5.0)) if lik == "student_t" else np.inf
        e = rng.standard_normal(mu.size) if not np.isfinite(nu) else rng.standard_t(nu, mu.size)
        return mu + sd * e

    def accept(self, y: np.ndarray) -> bool:
        return bool(abs(float(np.mean(y))) < self.tol)

    def split_dataset(self, y: np.ndarray, rng: np.random.Generator):
        """A split-layout Dataset whose per-pulse log-R mean and sd are exactly ``y``, ``y_sd``."""
        import xarray as xr

        z = rng.standard_normal((y.size, self.n_samples))
        z = (z - z.mean(axis=1, keepdims=True)) / z.std(axis=1, ddof=1, keepdims=True)
        draws = np.exp(y[:, None] + self.y_sd[:, None] * z)
        cells = np.array([f"{self.designs[self.cell_design_idx[c]]}-c{c}"
                          for c in self.pulse_cell])
        return xr.Dataset(
            {"resistance": (("pulse", "component", "sample"), draws[:, None, :])},
            coords={"pulse": np.arange(y.size), "component": [self.component],
                    "sample": np.arange(self.n_samples),
                    "soc": ("pulse", self.pulse_soc),
                    "design": ("pulse", np.array(self.designs)[self.pulse_design]),
                    "cell": ("pulse", cells)},
        )

    def _curves(self, params: dict[str, np.ndarray]) -> np.ndarray:
        from drtbayes.compare import _curves_from_params

        log_r, _, _ = _curves_from_params(params, self.b_grid, self.rw2, self.g,
                                          self.cell_design_idx)
        return log_r  # (chain, draw, design, comp, soc)

    def _named(self, log_r: np.ndarray, trend: np.ndarray, rw2_sd: np.ndarray,
               cell_sd: np.ndarray, extra_sd: np.ndarray) -> dict[str, np.ndarray]:
        out = {}
        for s, j in self.grid_idx.items():
            out[f"log_r[D0]@{s:g}%"] = log_r[:, :, 0, 0, j]
        if self.n_designs > 1:
            s = self.soc_points[len(self.soc_points) // 2]
            j = self.grid_idx[s]
            out[f"log_r[D1-D0]@{s:g}%"] = log_r[:, :, 1, 0, j] - log_r[:, :, 0, 0, j]
        out["trend[D0]"] = trend[:, :, 0, 0]
        out["rw2_sd"] = rw2_sd[:, :, 0]
        out["cell_sd"] = cell_sd[:, :, 0]
        out["extra_sd"] = extra_sd[:, :, 0]
        return out

    def true_quantities(self, theta: dict[str, np.ndarray]) -> dict[str, float]:
        params = {k: v[None, None] for k, v in theta.items()}
        named = self._named(self._curves(params), params["trend"], params["rw2_sd"],
                            params["cell_sd"], params["extra_sd"])
        return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in named.items()}

    def posterior_quantities(self, result: Any) -> dict[str, np.ndarray]:
        post = result.posterior
        if not np.allclose(post["soc"].values, self.grid):
            raise RuntimeError("the fit's SOC grid differs from the generator's")
        if list(post["design"].values) != self.designs:
            raise RuntimeError("design order of the fit differs from the generator's")
        return self._named(post["log_r"].values, post["trend"].values, post["rw2_sd"].values,
                           post["cell_sd"].values, post["extra_sd"].values)

    def replicate(self, i: int, rng: np.random.Generator, *, fit_kwargs: dict[str, Any],
                  nu: float | None = None, max_tries: int = 1_000_000
                  ) -> tuple[dict[str, float], dict[str, np.ndarray], dict]:
        from drtbayes.compare import fit_soc_model
        from drtbayes.errors import SamplingWarning

        for tries in range(1, max_tries + 1):
            theta = self.draw_prior(rng)
            y = self.simulate(theta, rng, nu=nu)
            if self.accept(y):
                break
        else:  # pragma: no cover
            raise RuntimeError("no prior draw passed the level selection")
        split = self.split_dataset(y, rng)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            res = fit_soc_model(split, components=(self.component,), preset=self.preset,
                                **fit_kwargs)
        d = res.diagnostics
        info = {"tries": tries, "divergences": int(d.get("divergences", -1)),
                "rhat_max": float(d.get("rhat_max") or np.nan),
                "ess_bulk_min": float(d.get("ess_bulk_min") or np.nan),
                "gate_pass": bool(d.get("gate_pass", False)),
                "fit_wall_s": round(time.perf_counter() - t0, 3)}
        return self.true_quantities(theta), self.posterior_quantities(res), info


# --------------------------------------------------------------------------------------------
# driver, output
# --------------------------------------------------------------------------------------------


def _ess(post: dict[str, np.ndarray]) -> dict[str, float]:
    """Bulk ESS of each quantity's (chain, draw) draws (NaN with a single chain)."""
    import arviz_stats

    out = {}
    for q, v in post.items():
        v = np.asarray(v, dtype=float)
        if v.ndim != 2 or v.shape[0] < 2:
            out[q] = float("nan")
            continue
        out[q] = round(float(arviz_stats.ess(v, chain_axis=0, draw_axis=1, method="bulk")), 1)
    return out


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically (temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1, default=float)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def run_sbc(generator: Any, n_rep: int, *, seed: int = 0, n_draws: int = 99, n_bins: int = 10,
            fit_kwargs: dict[str, Any] | None = None, sim_kwargs: dict[str, Any] | None = None,
            fit_seed_base: int = 0, checkpoint: Callable[[dict], None] | None = None,
            log: Callable[[str], None] | None = None, alpha: float = 0.01) -> dict[str, Any]:
    """Run ``n_rep`` SBC replicates of ``generator``; ranks, per-replicate info and summary.

    Replicate ``i`` uses its own random stream (``SeedSequence(seed).spawn``) and fit seed
    ``fit_seed_base + i``, so any replicate can be rerun on its own. A replicate whose fit
    raises is recorded with its error and left out of the ranks (none did in the recorded runs).
    """
    fit_kwargs = dict(fit_kwargs or {})
    sim_kwargs = dict(sim_kwargs or {})
    streams = np.random.SeedSequence(seed).spawn(n_rep)
    records: list[dict] = []
    failures: list[dict] = []
    t_start = time.perf_counter()
    out: dict[str, Any] = {}
    for i in range(n_rep):
        rng = np.random.default_rng(streams[i])
        t0 = time.perf_counter()
        try:
            truth, post, info = generator.replicate(
                i, rng, fit_kwargs={**fit_kwargs, "seed": fit_seed_base + i}, **sim_kwargs)
        except Exception as exc:  # recorded, reported, not hidden
            failures.append({"replicate": i, "error": f"{type(exc).__name__}: {exc}"})
            if log:
                log(f"rep {i}: FAILED {type(exc).__name__}: {exc}")
            continue
        ranks = {q: sbc_rank(truth[q], thin(post[q], n_draws), rng) for q in generator.quantities}
        info["ess_bulk"] = _ess(post)
        info["wall_s"] = round(time.perf_counter() - t0, 3)
        records.append({"replicate": i, "ranks": ranks, "truth": truth, **info})
        if log:
            log(f"rep {i}: {info['wall_s']:.1f} s, div={info['divergences']}, "
                f"rhat={info['rhat_max']:.3f}, ess={info['ess_bulk_min']:.0f}, "
                f"tries={info['tries']}, ranks={ranks}")
        out = {"records": records, "failures": failures, "quantities": generator.quantities,
               "n_draws": n_draws, "n_bins": n_bins, "seed": seed, "fit_kwargs": fit_kwargs,
               "sim_kwargs": sim_kwargs, "runtime_s": round(time.perf_counter() - t_start, 1)}
        if checkpoint:
            checkpoint(out)
    if not records:
        raise RuntimeError(f"every SBC replicate failed: {failures[:3]}")
    out["summary"] = summarise(records, generator.quantities, n_draws, n_bins, alpha=alpha)
    out["runtime_s"] = round(time.perf_counter() - t_start, 1)
    out["n_replicates"] = len(records)
    out["divergent_fits"] = int(sum(r["divergences"] > 0 for r in records))
    out["gate_failures"] = int(sum(not r["gate_pass"] for r in records))
    return out


def plot_ranks(results: dict[str, dict], path: str | os.PathLike, *, title: str = "",
               dpi: int = 72) -> Path:
    """Rank histograms: one row per run (label -> run_sbc output), one panel per quantity.

    Each panel shows the counts per bin, the expected count and the band that holds a bin's
    count with 99 % probability under uniformity (binomial quantiles).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    labels = list(results)
    n_q = max(len(r["quantities"]) for r in results.values())
    fig, axes = plt.subplots(len(labels), n_q, figsize=(1.35 * n_q, 1.45 * len(labels) + 0.4),
                             squeeze=False, sharey="row")
    for row, lab in enumerate(labels):
        run = results[lab]
        summ = run["summary"]
        for col in range(n_q):
            ax = axes[row, col]
            if col >= len(run["quantities"]):
                ax.axis("off")
                continue
            q = run["quantities"][col]
            res = summ["quantities"][q]
            counts = np.asarray(res["counts"])
            n, nb = res["n"], counts.size
            lo, hi = stats.binom.ppf([0.005, 0.995], n, 1.0 / nb)
            ax.axhspan(lo, hi, color="0.88", lw=0)
            ax.axhline(n / nb, color="0.5", lw=0.8)
            ax.bar(np.arange(nb), counts, width=1.0, color="C3" if res["flagged"] else "C0",
                   edgecolor="white", lw=0.4)
            ax.set_xticks([])
            ax.tick_params(labelsize=6)
            ax.set_title(f"{q}\np={res['p']:.2g}", fontsize=6)
            if col == 0:
                ax.set_ylabel(lab, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout(pad=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
