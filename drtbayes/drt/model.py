"""Build the PyMC DRT model from a preset and stacked spectra.

Everything is fitted in unit-free form: impedances are divided by ``z_scale`` (the median |Z|
of all observed points), inductance by z_scale / w_max, elastance (1/C) by z_scale * w_min. The
data enter as ``pm.Data`` so that one compiled model serves every batch of spectra of the same
shape (see :mod:`drtbayes.drt.fit`).

Parameterisation (why it looks like this)
-----------------------------------------
gamma = z_scale * exp(f) with f a field over the tau grid:

* positivity comes for free, and the tails of real DRTs are straight lines in ln gamma against
  ln tau (a ZARC decays as tau^(+-alpha)), which is exactly what a second-difference (integrated
  random walk) prior leaves unpenalised. Gaussian-shaped peaks are parabolas in f, so sharp
  (RC-like) and broad (ZARC, Warburg) processes are both cheap for the prior.
* f is *centred* (f itself is the sampled vector): where the data are informative (the measured
  range) a centred Gaussian-Markov field has the better geometry for NUTS; outside, the weak
  per-point level prior Normal(level_mean, level_sd) keeps gamma small and the field proper.
* the curvature scale ``smoothness`` (ln gamma per decade^2 of an integrated Wiener process) has
  a log-normal hyperprior and is inferred: this is the hierarchical Bayesian DRT's
  regularisation strength (Effat & Ciucci 2017), never a hand-set lambda. The prior's
  normalising constant log det(Q(smoothness)) is computed exactly from the fixed eigenvalues of
  D'D, so the hyperparameter's posterior is right.
* hierarchical pooling: f_spectrum = f_group + cell_sd * (B @ z), B a fixed smooth basis
  (leading eigenvectors of a squared-exponential correlation over ln tau) and z ~ N(0, I):
  non-centred, so groups with a single spectrum (where cell_sd is prior-only) sample well too.

Noise: sigma_i = sigma_const + (relative_floor + sigma_prop) * |Z_obs,i| (scaled units),
sigma_const and sigma_prop inferred per spectrum, ``relative_floor`` fixed by the preset (see
:func:`noise_floor`).
Points a spectrum lacks (NaN in a stack) are masked out of the likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..inference.packed import packed_data
from .kernels import drt_kernels, second_difference, smooth_basis

__all__ = ["ModelInputs", "prepare_inputs", "build_model", "spectrum_log_gamma", "FREE_VARS",
           "r_inf_marginalised", "r_inf_conditional"]

#: Names of the sampled variables, as they appear in the PyMC model.
FREE_VARS = ("f_group", "smoothness_z", "z_dev", "cell_sd_raw", "r_inf_rel", "l_rel",
             "elastance_rel", "sigma_const", "sigma_prop", "nu_minus_one", "residual_rho")


@dataclass
class ModelInputs:
    """Numeric inputs of the DRT model for a stack of spectra (all plain numpy)."""

    frequency_hz: np.ndarray          # (F,) high -> low
    tau_s: np.ndarray                 # (T,) ascending
    z_real: np.ndarray                # (S, F) ohm, NaN where missing
    z_imag: np.ndarray                # (S, F)
    group_index: np.ndarray           # (S,) int
    n_groups: int
    z_scale: float                    # ohm
    omega_max: float                  # rad/s
    omega_min: float
    level_mean_base: float = -6.0     # preset log_gamma_level_mean
    smoothness_log_mu: float = 2.0    # preset smoothness_log_median
    smoothness_log_sd: float = 0.5    # preset smoothness_log_sd
    cell_sd_scale: float = 0.0        # preset [hierarchy] cell_sd_scale (0: no pooling)
    tail_decay_per_decade: float = 4.0
    tail_decay_slow_per_decade: float | None = None  # None: same as the fast side
    # a known series capacitance per spectrum (F; NaN: unknown) and the sd of its ln (S,)
    capacitance_f: np.ndarray | None = None
    capacitance_log_sd: np.ndarray | None = None
    k_real: np.ndarray = field(init=False)
    k_imag: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        """Compute the DRT kernels of the frequencies and the tau grid."""
        self.k_real, self.k_imag = drt_kernels(self.frequency_hz, self.tau_s)

    @property
    def level_mean(self) -> np.ndarray:
        """Prior mean of ln(gamma / z_scale) on the tau grid.

        Outside the measured window (tau < 1/w_max, tau > 1/w_min) gamma is degenerate with
        R_inf (fast side) and the series capacitance (slow side); a level that falls by
        ``tail_decay_per_decade`` there says "no processes outside the window" and keeps those
        parameters identifiable (without it NUTS meets a banana between R_inf and the fast
        tail of gamma).
        """
        log10_tau = np.log10(self.tau_s)
        fast = np.maximum(0.0, np.log10(1 / self.omega_max) - log10_tau)
        slow = np.maximum(0.0, log10_tau - np.log10(1 / self.omega_min))
        slow_rate = (self.tail_decay_per_decade if self.tail_decay_slow_per_decade is None
                     else self.tail_decay_slow_per_decade)
        return self.level_mean_base - self.tail_decay_per_decade * fast - slow_rate * slow

    @property
    def mask(self) -> np.ndarray:
        """Return 1 where both parts of Z are measured, else 0."""
        return (np.isfinite(self.z_real) & np.isfinite(self.z_imag)).astype(float)

    @property
    def shape_key(self) -> tuple[int, int, int, int]:
        """Return the shapes a compiled model depends on."""
        return (self.z_real.shape[0], self.frequency_hz.size, self.tau_s.size, self.n_groups)

    def data_values(self) -> dict[str, np.ndarray]:
        """Values of the model's ``pm.Data`` containers (scaled, NaN replaced by 0 + mask)."""
        mask = self.mask
        zr = np.where(mask > 0, self.z_real, 0.0) / self.z_scale
        zi = np.where(mask > 0, self.z_imag, 0.0) / self.z_scale
        omega = 2 * np.pi * self.frequency_hz
        return {
            "z_real_obs": zr,
            "z_imag_obs": zi,
            "obs_mask": mask,
            "abs_z_obs": np.hypot(zr, zi),
            "k_real": self.k_real,
            "k_imag": self.k_imag,
            "omega_rel": omega / self.omega_max,
            "inv_omega_rel": self.omega_min / omega,
            "group_index": self.group_index.astype(np.int64),
            "level_mean": self.level_mean,
            "smoothness_log_mu": np.full(self.n_groups, float(self.smoothness_log_mu)),
            "smoothness_log_sd": np.full(self.n_groups, float(self.smoothness_log_sd)),
            "cell_sd_scale": np.float64(self.cell_sd_scale),
            "cell_sd_fixed": np.float64(0.0),
            **self._capacitance_values(),
        }

    def _capacitance_values(self) -> dict[str, np.ndarray]:
        """Return the known-capacitance data: weight 1 where C is known, its ln elastance."""
        n_spec = self.z_real.shape[0]
        if self.capacitance_f is None:
            return {"elastance_known": np.zeros(n_spec), "elastance_log_mu": np.zeros(n_spec),
                    "elastance_log_sd": np.ones(n_spec)}
        c = np.asarray(self.capacitance_f, dtype=float)
        known = np.isfinite(c)
        return {
            "elastance_known": known.astype(float),
            "elastance_log_mu": np.where(
                known, -np.log(self.omega_min * np.where(known, c, 1.0) * self.z_scale), 0.0),
            "elastance_log_sd": np.asarray(self.capacitance_log_sd, dtype=float),
        }


def prepare_inputs(frequency_hz: np.ndarray, z_real: np.ndarray, z_imag: np.ndarray,
                   group_index: np.ndarray, n_groups: int, preset: dict[str, Any], *,
                   capacitance_f: np.ndarray | None = None,
                   capacitance_log_sd: np.ndarray | None = None) -> ModelInputs:
    """Tau grid, scales and kernels for a stack of spectra on one frequency axis.

    ``capacitance_f`` / ``capacitance_log_sd``: known series capacitances (F, NaN where
    unknown) and the sd of their ln, one per spectrum, or None.
    """
    from .kernels import tau_grid

    grid = preset["tau_grid"]
    mask = np.isfinite(z_real) & np.isfinite(z_imag)
    f_obs = frequency_hz[mask.any(0)]
    tau = tau_grid(f_obs, points_per_decade=grid["points_per_decade"],
                   extend_decades=grid["extend_decades"])
    z_scale = float(np.median(np.hypot(z_real[mask], z_imag[mask])))
    return ModelInputs(
        frequency_hz=np.asarray(frequency_hz, dtype=float),
        tau_s=tau,
        z_real=np.asarray(z_real, dtype=float),
        z_imag=np.asarray(z_imag, dtype=float),
        group_index=np.asarray(group_index, dtype=np.int64),
        n_groups=int(n_groups),
        z_scale=z_scale,
        omega_max=float(2 * np.pi * f_obs.max()),
        omega_min=float(2 * np.pi * f_obs.min()),
        level_mean_base=float(preset["priors"]["log_gamma_level_mean"]),
        smoothness_log_mu=float(preset["hyperpriors"]["smoothness_log_median"]),
        smoothness_log_sd=float(preset["hyperpriors"]["smoothness_log_sd"]),
        cell_sd_scale=float(preset.get("hierarchy", {}).get("cell_sd_scale", 0.0)),
        tail_decay_per_decade=float(preset["priors"]["tail_decay_per_decade"]),
        tail_decay_slow_per_decade=(None if "tail_decay_slow_per_decade" not in preset["priors"]
                                    else float(preset["priors"]["tail_decay_slow_per_decade"])),
        capacitance_f=capacitance_f,
        capacitance_log_sd=capacitance_log_sd,
    )


# over 80 lines: one PyMC model block, in the order of the generative model (field, cell
# deviations, series elements, noise, likelihood); helpers would each need the model context
def build_model(inputs: ModelInputs, preset: dict[str, Any]):
    """Build the PyMC model for ``inputs`` under ``preset`` (data in ``pm.Data`` containers).

    Returns
    -------
    pymc.Model
    """
    import pymc as pm
    import pytensor.tensor as pt

    pri = preset["priors"]
    noi = preset["noise"]
    mdl = preset["model"]
    lik = preset["likelihood"]
    n_spec, n_freq, n_tau, n_group = inputs.shape_key
    hierarchical = mdl["pooling"] == "hierarchical"
    if not hierarchical and n_group != n_spec:
        raise ValueError("without pooling every spectrum is its own group")
    h_dec = 1.0 / float(preset["tau_grid"]["points_per_decade"])
    level_sd = float(pri["log_gamma_level_sd"])
    d2 = second_difference(n_tau)
    eig_dd = np.linalg.eigvalsh(d2.T @ d2)
    eig_dd = np.clip(eig_dd, 0.0, None)

    vals = inputs.data_values()
    coords = {"spectrum": np.arange(n_spec), "group": np.arange(n_group),
              "tau": np.arange(n_tau), "frequency": np.arange(n_freq)}
    with pm.Model(coords=coords) as model:
        data = packed_data(vals)  # one container: compiles ~10 s faster (see _packed)

        # one smoothness per (design, SOC) group, so that groups fitted as separate models
        # (`[hierarchy] hyperparameters = "per_group"`, see fit.py) merge into one result
        # ln smoothness = mu + sd * z with z ~ N(0, 1) and (mu, sd) data: (prior median, prior
        # sd) gives the LogNormal hyperprior (sampled, or searched by empirical Bayes), (ln of
        # the empirical-Bayes value, 0) the fit conditional on it; one compiled model serves both
        smoothness_z = pm.Normal("smoothness_z", 0.0, 1.0, dims="group")
        smoothness = pm.Deterministic(
            "smoothness", pt.exp(data["smoothness_log_mu"]
                                 + data["smoothness_log_sd"] * smoothness_z), dims="group")
        rw_sd = smoothness[:, None] * h_dec**1.5                      # (G, 1)
        if field_parameterization(preset) == "noncentered":
            # f - level = V diag(s) z with D'D = V diag(eig) V' and s = (1/level_sd^2 +
            # eig/rw_sd^2)^-1/2: exactly the centred prior N(level, Q^-1), but the prior-only
            # parts of f (tails, regions with gamma ~ 0) no longer form a funnel with the
            # smoothness hyperparameter (the divergences of the centred form).
            # Only the rough modes (large eig: wiggles the smooth kernels cannot see) are
            # non-centred; the smooth, data-informed modes stay centred, where NUTS does better.
            eig, vecs = _dd_eigen(n_tau)
            n_c = centered_modes(preset, n_tau)
            scale = (1.0 / level_sd**2 + eig[None, :] / rw_sd**2) ** -0.5   # (G, T)
            coef_c = pm.Normal("f_modes", 0.0, scale[:, :n_c], shape=(n_group, n_c))
            coef_r = pm.Normal("f_raw", 0.0, 1.0, shape=(n_group, n_tau - n_c))
            coef = pt.concatenate([coef_c, coef_r * scale[:, n_c:]], axis=1)
            f_group = pm.Deterministic(
                "f_group", data["level_mean"][None, :] + pt.dot(coef, vecs.T),
                dims=("group", "tau"))
        else:
            f_group = pm.Normal("f_group", mu=data["level_mean"][None, :], sigma=level_sd,
                                dims=("group", "tau"))
            curv = pt.dot(f_group - data["level_mean"][None, :], d2.T)  # (G, T-2) 2nd diffs
            pm.Potential(
                "smoothness_prior",
                -0.5 * pt.sum(pt.sqr(curv) / rw_sd**2)
                + 0.5 * pt.sum(pt.log1p(eig_dd[None, :] * level_sd**2 / rw_sd**2)),
            )
        if hierarchical:
            basis = deviation_basis(inputs, preset)
            # cell_sd = scale * raw + fixed with raw ~ HalfNormal(1) and (scale, fixed) data:
            # (prior scale, 0) gives the HalfNormal prior, (0, empirical-Bayes value) the fit
            # conditional on it (see fit.py); one compiled model serves both
            cell_sd_raw = pm.HalfNormal("cell_sd_raw", sigma=1.0)
            cell_sd = pm.Deterministic("cell_sd", data["cell_sd_scale"] * cell_sd_raw
                                       + data["cell_sd_fixed"])
            z_dev = pm.Normal("z_dev", 0.0, 1.0, shape=(n_spec, basis.shape[1]))
            f_spec = f_group[data["group_index"]] + cell_sd * pt.dot(z_dev, basis.T)
        else:
            f_spec = f_group
        gamma = pt.exp(f_spec)  # (S, T), scaled

        marginal = r_inf_marginalised(preset)
        if marginal:
            # R_inf integrated out analytically (see r_inf_marginal_loglik) and drawn from its
            # exact conditional afterwards (result.py): NUTS never sees the R_inf / fast-tail
            # ridge, which mixes slowly where the arc is not finished at the top frequency
            z_re = pt.dot(gamma, data["k_real"].T)
        else:
            r_inf = pm.HalfNormal("r_inf_rel", sigma=float(pri["r_inf_scale"]),
                                  dims="spectrum")
            z_re = r_inf[:, None] + pt.dot(gamma, data["k_real"].T)
        z_im = pt.dot(gamma, data["k_imag"].T)
        if mdl["inductance"]:
            l_rel = pm.HalfNormal("l_rel", sigma=float(pri["inductance_scale"]), dims="spectrum")
            z_im = z_im + l_rel[:, None] * data["omega_rel"][None, :]
        if mdl["series_capacitance"]:
            el = pm.HalfNormal("elastance_rel", sigma=float(pri["elastance_scale"]),
                               dims="spectrum")
            z_im = z_im - el[:, None] * data["inv_omega_rel"][None, :]
            # a known capacitance (fit_drt(capacitance_f=...), e.g. the chemical capacitance
            # from the GITT's dQ/dE): a log-normal factor on C where the weight is 1 (the
            # -ln el makes it exactly LogNormal in el times the flat HalfNormal). Why: at the
            # low-frequency end C and the slowest DRT peak trade against each other, and the
            # level prior that shrinks gamma does not shrink C, so an unknown C comes out low
            # and that peak early (docs/model.md, "Known series capacitance"). Data, not
            # graph: the same compiled model serves fits with and without it.
            ln_el = pt.log(el)
            pm.Potential("capacitance_prior", -pt.sum(data["elastance_known"] * (
                0.5 * pt.sqr((ln_el - data["elastance_log_mu"]) / data["elastance_log_sd"])
                + ln_el)))

        s_const = pm.HalfNormal("sigma_const", sigma=float(noi["constant_scale"]),
                                dims="spectrum")
        s_prop = pm.HalfNormal("sigma_prop", sigma=float(noi["proportional_scale"]),
                               dims="spectrum")
        floor = noise_floor(preset)
        sigma = s_const[:, None] + (floor + s_prop[:, None]) * data["abs_z_obs"]
        nu = None
        if lik["family"] == "student_t":
            nu = 1.0 + pm.Gamma("nu_minus_one", alpha=float(lik["nu_alpha"]),
                                beta=float(lik["nu_beta"]))
        if residual_correlation(preset) == "ar1":
            # residuals correlated along the sweep (AR(1) in frequency order, one rho per
            # spectrum): where the DRT cannot follow the spectrum exactly (an RC's line, a
            # sharp Warburg corner, drift) the misfit is smooth in frequency, and independent
            # errors then count every point as new information: intervals too tight by the
            # factor sqrt((1 + rho) / (1 - rho)). White noise gives rho ~ 0 and costs nothing.
            rho = pm.Beta("residual_rho", alpha=float(noi.get("rho_alpha", 1.0)),
                          beta=float(noi.get("rho_beta", 1.0)), dims="spectrum")
            loglik = (_ar1_loglik(pt, pm, data["z_real_obs"], z_re, sigma, rho, nu,
                                  data["obs_mask"])
                      + _ar1_loglik(pt, pm, data["z_imag_obs"], z_im, sigma, rho, nu,
                                    data["obs_mask"]))
            pm.Potential("likelihood", pt.sum(loglik))
            return model
        if nu is not None:
            dist_re = pm.StudentT.dist(nu=nu, mu=z_re, sigma=sigma)
            dist_im = pm.StudentT.dist(nu=nu, mu=z_im, sigma=sigma)
        else:
            dist_re = pm.Normal.dist(mu=z_re, sigma=sigma)
            dist_im = pm.Normal.dist(mu=z_im, sigma=sigma)
        # a Potential (not an observed RV) so that missing points of a stack are masked out
        # while every array keeps its fixed (spectrum, frequency) shape for compiled reuse
        loglik = (pm.logp(dist_re, data["z_real_obs"]) + pm.logp(dist_im, data["z_imag_obs"]))
        total = pt.sum(data["obs_mask"] * loglik)
        if marginal:
            total = total + pt.sum(r_inf_marginal_loglik(
                pt, data["z_real_obs"] - z_re, sigma, data["obs_mask"],
                float(pri["r_inf_scale"])))
        pm.Potential("likelihood", total)
    return model


def r_inf_marginalised(preset: dict[str, Any]) -> bool:
    """Whether R_inf is integrated out of the sampled model (preset ``[model] r_inf``).

    ``"marginal"`` (the default) applies with the normal likelihood and independent errors,
    where R_inf given everything else is a truncated-normal linear parameter; ``"sampled"``,
    the Student-t likelihood and AR(1) residuals keep it a sampled variable.
    """
    value = str(preset.get("model", {}).get("r_inf", "marginal"))
    if value not in ("marginal", "sampled"):
        from ..errors import PresetError

        raise PresetError(f"preset {preset.get('name')!r}: [model] r_inf = {value!r}; use "
                          "'marginal' or 'sampled'")
    return (value == "marginal" and preset["likelihood"]["family"] == "normal"
            and residual_correlation(preset) == "independent")


def r_inf_conditional(resid_re: Any, sigma: Any, mask: Any, r_inf_scale: float,
                      xp: Any = np) -> tuple[Any, Any]:
    """Precision and mean-times-precision of R_inf given everything else, per spectrum.

    ``resid_re``: observed real part minus the model's real part without R_inf (S, F),
    ``sigma``: the point-wise noise sd, both scaled. With the HalfNormal(``r_inf_scale``)
    prior the conditional is N(b / p, 1 / p) truncated to R_inf >= 0.
    """
    w = mask / xp.square(sigma)
    p = 1.0 / r_inf_scale**2 + xp.sum(w, axis=-1)
    b = xp.sum(w * resid_re, axis=-1)
    return p, b


def r_inf_marginal_loglik(pt: Any, resid_re: Any, sigma: Any, mask: Any,
                          r_inf_scale: float) -> Any:
    """Log of the integral over R_inf >= 0 of prior x likelihood, less the likelihood at 0.

    With precision p and b from :func:`r_inf_conditional`: the likelihood at R_inf = r is the
    one at 0 times exp(b r - p_lik r^2 / 2), so the integral against the HalfNormal density
    2 N(r; 0, s^2) is 2 / (s sqrt(p)) exp(b^2 / 2p) Phi(b / sqrt(p)). One term per spectrum.
    """
    from pymc.distributions.dist_math import normal_lcdf

    p, b = r_inf_conditional(resid_re, sigma, mask, r_inf_scale, xp=pt)
    return (np.log(2.0 / r_inf_scale) - 0.5 * pt.log(p) + 0.5 * pt.sqr(b) / p
            + normal_lcdf(0.0, 1.0, b / pt.sqrt(p)))


def _ar1_loglik(pt: Any, pm: Any, obs: Any, mu: Any, sigma: Any, rho: Any, nu: Any,
                mask: Any) -> Any:
    """Point-wise log-likelihood (S, F) of residuals that are AR(1) along frequency.

    u_i = (obs_i - mu_i) / sigma_i; u_i | u_(i-1) ~ N(rho u_(i-1), 1 - rho^2) (Student-t
    innovations with ``nu``), the first point of a spectrum and every point after a masked one
    unconditional. Masked points contribute 0.
    """
    u = (obs - mu) / sigma
    prev_u = pt.concatenate([pt.zeros_like(u[:, :1]), u[:, :-1]], axis=1)
    prev_m = pt.concatenate([pt.zeros_like(mask[:, :1]), mask[:, :-1]], axis=1)
    pair = mask * prev_m
    r = rho[:, None] * pair
    scale = pt.sqrt(1.0 - pt.sqr(r))
    innov = (u - r * prev_u) / scale
    dist = (pm.StudentT.dist(nu=nu, mu=0.0, sigma=1.0) if nu is not None
            else pm.Normal.dist(mu=0.0, sigma=1.0))
    return mask * (pm.logp(dist, innov) - pt.log(scale) - pt.log(sigma))


def residual_correlation(preset: dict[str, Any]) -> str:
    """``"independent"`` or ``"ar1"`` (preset ``[noise] correlation``)."""
    return str(preset.get("noise", {}).get("correlation", "independent"))


def noise_floor(preset: dict[str, Any]) -> float:
    """Return the fixed relative error floor of the likelihood (preset ``[noise] relative_floor``).

    Why: an impedance analyser is accurate to ~0.1 % of |Z| at best, and the DRT on a
    6-per-decade grid reproduces a smooth spectrum to about that level too. Without a floor a
    very quiet spectrum (0.02 % point-to-point scatter, pyimpspec's BioLogic test file) makes
    the likelihood so sharp that the chains settle on different fine structures of gamma
    (R-hat 1.5, six spurious peaks); errors below the floor are not information about gamma.
    """
    return float(preset.get("noise", {}).get("relative_floor", 0.0))


def field_parameterization(preset: dict[str, Any]) -> str:
    """``"centered"`` or ``"noncentered"`` (preset ``[model] parameterization``)."""
    value = str(preset["model"].get("parameterization", "centered"))
    if value not in ("centered", "noncentered"):
        from ..errors import PresetError

        raise PresetError(f"preset {preset.get('name')!r}: [model] parameterization = {value!r}; "
                          "use 'centered' or 'noncentered'")
    return value


def hyperparameters_by_empirical_bayes(preset: dict[str, Any]) -> bool:
    """Whether NUTS fits take the hyperparameters at their marginal posterior mode.

    Preset ``[hyperpriors] inference``: ``"empirical_bayes"`` (the smoothness and a
    hierarchical cell sd at the mode) or ``"sampled"`` (the default of a preset that does not
    say).
    """
    value = str(preset["hyperpriors"].get("inference", "sampled"))
    if value not in ("sampled", "empirical_bayes"):
        from ..errors import PresetError

        raise PresetError(f"preset {preset.get('name')!r}: [hyperpriors] inference = "
                          f"{value!r}; use 'sampled' or 'empirical_bayes'")
    return value == "empirical_bayes"


def _dd_eigen(n_tau: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (clipped at 0) and eigenvectors of D'D for the second difference D."""
    d2 = second_difference(n_tau)
    eig, vecs = np.linalg.eigh(d2.T @ d2)
    return np.clip(eig, 0.0, None), vecs


def centered_modes(preset: dict[str, Any], n_tau: int) -> int:
    """How many of the smoothest eigen-modes of the field stay centred (non-centred form)."""
    frac = float(preset["model"].get("centered_fraction", 1.0 / 3.0))
    return int(np.clip(round(frac * n_tau), 0, n_tau))


def field_to_raw(f: np.ndarray, level_mean: np.ndarray, smoothness: float,
                 preset: dict[str, Any]) -> dict[str, np.ndarray]:
    """Return the mode coordinates (``f_modes``, ``f_raw``) of a field f (rows: groups)."""
    n_tau = f.shape[-1]
    h_dec = 1.0 / float(preset["tau_grid"]["points_per_decade"])
    level_sd = float(preset["priors"]["log_gamma_level_sd"])
    rw_sd = np.reshape(np.asarray(smoothness, dtype=float), (-1, 1)) * h_dec**1.5
    eig, vecs = _dd_eigen(n_tau)
    scale = (1.0 / level_sd**2 + eig[None, :] / rw_sd**2) ** -0.5
    coef = (f - level_mean) @ vecs
    n_c = centered_modes(preset, n_tau)
    return {"f_modes": coef[:, :n_c], "f_raw": coef[:, n_c:] / scale[:, n_c:]}


def deviation_basis(inputs: ModelInputs, preset: dict[str, Any]) -> np.ndarray | None:
    """Return the fixed smooth basis of cell-level deviations (None without pooling)."""
    if preset["model"]["pooling"] != "hierarchical":
        return None
    hie = preset["hierarchy"]
    return smooth_basis(np.log(inputs.tau_s), float(hie["deviation_length_decades"]),
                        min(int(hie["deviation_rank"]), inputs.tau_s.size))


def spectrum_log_gamma(draws: dict[str, np.ndarray], inputs: ModelInputs,
                       preset: dict[str, Any]) -> np.ndarray:
    """ln(gamma / z_scale) of every spectrum, shape (chain, draw, spectrum, tau), from draws.

    ``draws`` maps the model's variable names to arrays with leading (chain, draw) axes.
    """
    f_group = draws["f_group"]
    f_spec = f_group[:, :, inputs.group_index, :]
    basis = deviation_basis(inputs, preset)
    if basis is not None:
        cell_sd = draws["cell_sd"]
        # (chain, draw) when shared, (chain, draw, group) when fitted per group
        sd = (cell_sd[..., None, None] if cell_sd.ndim == 2
              else cell_sd[:, :, inputs.group_index, None])
        f_spec = f_spec + sd * (draws["z_dev"] @ basis.T)
    return f_spec
