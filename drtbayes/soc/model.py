"""The SOC-curve model (preset ``soc-spline``): PyMC model, its data arrays and its curves.

For every design ``d`` and component ``k``::

    log R[d, k](soc) = sum_j B_j(u(soc)) * beta[d, k, j]        u = sqrt(soc) (denser low-SOC knots)
    beta[d, k, :]   = level[d, k] + trend[d, k] * g + rw2_sd[k] * M @ z[d, k, :]
    log R[cell, k]  = log R[design(cell), k] + cell_sd[k] * zc[cell, k]
    mean log R of pulse p ~ StudentT(nu, log R[cell(p), k](soc_p), sqrt(sd_p**2 + extra_sd[k]**2))

where ``B`` is a cubic B-spline basis, ``g`` the Greville abscissae (so ``trend`` is a straight
line in ``u``) and ``M`` maps standard normal second differences to spline coefficients with the
level and trend projected out (a random-walk-2 / P-spline prior whose smoothness ``rw2_sd`` is
inferred). The per-pulse data are the posterior mean and sd of log R from the split (a
measurement-error likelihood); ``extra_sd`` absorbs scatter the split posteriors do not explain.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import PresetError
from ..inference.packed import packed_data
from .basis import Basis, cell_centering
from .data import SocData

__all__ = ["DEFAULT_PRESET", "FREE_VARS", "COMP_AXIS", "load_soc_preset", "obs_arrays",
           "centring_weights", "build_model", "curves_from_params"]

DEFAULT_PRESET = "soc-spline"
_SECTIONS = ("spline", "priors", "data", "sampler", "fast", "gate")


def load_soc_preset(name_or_path: str | os.PathLike = DEFAULT_PRESET) -> tuple[str, dict, str]:
    """``(name, preset dict, full TOML text)`` of a SOC-model preset, read by the one loader.

    Parameters
    ----------
    name_or_path
        Preset name (``soc-spline``) or path to a ``.toml`` file.

    Returns
    -------
    name, preset, text
        The preset's name, its tables (:func:`drtbayes.presets.load_preset`) and its text.

    Raises
    ------
    PresetError
        Unknown preset, invalid TOML, a preset of another kind or a missing section.
    """
    from ..presets import load_preset

    cfg = load_preset(name_or_path)
    where = cfg.get("preset_path", str(name_or_path))
    if cfg.get("kind") != "soc_model":
        raise PresetError(f"{where}: preset of kind {cfg.get('kind')!r}; the SOC model needs "
                          "kind = \"soc_model\" (e.g. soc-spline)")
    for section in _SECTIONS:
        if section not in cfg:
            raise PresetError(f"{where}: section [{section}] missing; copy it from "
                              "models/soc-spline.toml")
    return str(cfg["name"]), cfg, str(cfg["preset_toml"])

# the stored parameters (wiggle_z and cell_z are computed from the sampled wiggle_t, cell_t)
FREE_VARS = (
    "level", "trend", "wiggle_z", "rw2_sd", "cell_z", "cell_mean_z", "cell_sd", "extra_sd"
)
# position of the component axis of each parameter's draws (chain, draw, ...)
COMP_AXIS = {
    "level": 3, "trend": 3, "wiggle_z": 3, "rw2_sd": 2, "cell_z": 3, "cell_mean_z": 3,
    "cell_sd": 2, "extra_sd": 2,
}


def obs_arrays(data: SocData, basis: Basis, k: int) -> dict[str, np.ndarray]:
    """Model data of component ``k``: every pulse's log-R mean and sd, basis rows and labels.

    Pulses without a usable estimate of this component stay in the arrays with ``obs_mask``
    0 (y 0, sd 1), so that every component has the same shapes and one compiled model serves
    them all.
    """
    use = np.isfinite(data.log_mean[:, k])
    return {
        "y": np.where(use, data.log_mean[:, k], 0.0),
        "y_sd": np.where(use, data.log_sd[:, k], 1.0),
        "obs_mask": use.astype(float),
        "basis": basis.matrix(data.pulse_soc),
        "design_idx": data.pulse_design_idx.astype("int64"),
        "cell_idx": data.pulse_cell_idx.astype("int64"),
        "comp_idx": np.zeros(use.size, dtype="int64"),
        "level_mu": np.array([np.mean(data.log_mean[use, k])]),
    }


def centring_weights(obs: dict[str, np.ndarray], n_design: int, rw2_sd_scale: float
                      ) -> dict[str, np.ndarray]:
    """Partial non-centring weights of the spline wiggles and the cell contrasts (numpy).

    Why: the per-pulse data pin most of a design's curve, and there the non-centred form
    (coefficients = rw2_sd x z) makes z and rw2_sd a curved ridge: NUTS needed ~300 leapfrog
    steps per draw on the demo. Fully centred, the rough spline modes and the cell contrasts
    that the data barely see form funnels with their scales instead (divergences). Each
    coefficient c with prior sd s is therefore sampled as ``c = s**(1 - w) * c_t`` with
    ``c_t ~ N(0, s**w)`` (the same model for any w), and ``w = kappa / (1 + kappa)`` with
    ``kappa`` = prior variance / data variance of that coefficient, the choice that makes
    the two independent in a normal-normal model (Papaspiliopoulos, Roberts and Skold 2007).
    kappa comes from a Gaussian version of the model fitted here in closed form: the wiggle
    scale at the mode of its marginal posterior (grid over rw2_sd), the cell contrasts by GLS;
    a contrast within two standard errors of zero counts as zero (its scale may be ~0:
    non-centred), and the cell scale is taken at its 10 % lower bound. On the
    demo: 15-23 steps per draw, no divergences.
    """
    y, w_obs = obs["y"], obs["obs_mask"] / (obs["y_sd"] ** 2 + 0.01**2)
    basis, d_idx, c_idx = obs["basis"], obs["design_idx"], obs["cell_idx"]
    u, sv = obs["wiggle_u"], obs["wiggle_s"]
    h = obs["cell_contrasts"]
    n_mode = u.shape[1]
    fixed = []
    for d in range(n_design):
        m = (d_idx == d).astype(float)
        fixed += [m, m * (basis @ obs["greville"])]
    cells = np.column_stack([(c_idx == c).astype(float) for c in range(h.shape[0])]) @ h
    z = np.zeros((y.size, n_design * n_mode))
    for d in range(n_design):
        m = d_idx == d
        z[m, d * n_mode:(d + 1) * n_mode] = basis[m] @ u
    x = np.column_stack([*fixed, cells, z])
    n_fixed = len(fixed) + cells.shape[1]
    xtwx, xtwy = x.T @ (x * w_obs[:, None]), x.T @ (w_obs * y)
    best = None
    for log_s in np.linspace(np.log(1e-4), np.log(3.0), 60):
        prior_prec = np.concatenate([np.full(n_fixed, 1e-6),
                                     np.tile((np.exp(log_s) * sv) ** -2.0, n_design)])
        chol = np.linalg.cholesky(xtwx + np.diag(prior_prec))
        v = np.linalg.solve(chol, xtwy)
        # Gaussian marginal likelihood up to constants, times the HalfNormal prior of rw2_sd
        # (density of log rw2_sd): with few pulses the likelihood alone can prefer a scale far
        # beyond the prior, which made the wiggles centred where they should not be
        ll = (0.5 * v @ v - np.sum(np.log(np.diag(chol))) + 0.5 * np.sum(np.log(prior_prec))
              - 0.5 * (np.exp(log_s) / rw2_sd_scale) ** 2 + log_s)
        if best is None or ll > best[0]:
            best = (ll, np.exp(log_s), chol)
    _, s_eb, chol = best
    info = np.einsum("ni,n,ni->i", z, w_obs, z).reshape(n_design, n_mode)
    kappa = (s_eb * sv[None, :]) ** 2 * info
    inv_chol = np.linalg.inv(chol)
    cov = inv_chol.T @ inv_chol
    sl = slice(len(fixed), n_fixed)
    est = (cov @ xtwy)[sl]
    se = np.sqrt(np.diag(cov)[sl])
    clear = np.maximum(np.abs(est) - 2.0 * se, 0.0)
    sd_clear = float(np.sqrt(np.mean(clear**2))) if clear.size else 0.0
    # a cell sd estimated from a handful of contrasts is uncertain by a factor of ~3 (with
    # two contrasts its 10 % lower bound is ~0.3 x the estimate): the weight is taken at that
    # lower end, where a centred contrast would meet the funnel (SBC with 15 pulses per cell:
    # divergences in 15 of 50 fits at the estimate itself)
    from scipy.stats import chi2

    n_c = max(clear.size, 1)
    low = float(np.sqrt(chi2.ppf(0.1, n_c) / n_c))
    kappa_c = (low * sd_clear) ** 2 / np.maximum(se, 1e-12) ** 2
    return {"wiggle_w": kappa / (1.0 + kappa), "cell_w": kappa_c / (1.0 + kappa_c)}


def build_model(obs: dict[str, np.ndarray], shape: tuple[int, int, int, int], priors: dict):
    """PyMC model; data enter as ``pm.Data`` so one compiled model serves same-shape studies.

    The wiggle of each design curve is sampled in the eigenbasis of its random-walk-2 prior
    (``rw2_sd * M @ z == U @ c`` with ``M = U diag(S) V'``, ``c ~ N(0, (rw2_sd S)^2)``) and the
    cell offsets in zero-sum contrasts, both partially non-centred (:func:`centring_weights`);
    ``wiggle_z`` and ``cell_z`` of the stored posterior are computed back from them exactly.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_design, n_cell, n_comp, n_basis = shape
    likelihood = str(priors.get("likelihood", "student_t"))
    if likelihood not in ("student_t", "normal"):
        raise PresetError(f"preset [priors] likelihood={likelihood!r}; use 'student_t' or 'normal'")
    with pm.Model() as model:
        data = packed_data(obs)  # one container: compiles faster (see drtbayes.inference.packed)
        y, y_sd, mask, basis = data["y"], data["y_sd"], data["obs_mask"], data["basis"]
        d_idx, c_idx, k_idx = data["design_idx"], data["cell_idx"], data["comp_idx"]
        level_mu, greville = data["level_mu"], data["greville"]
        u, sv, vt = data["wiggle_u"], data["wiggle_s"], data["wiggle_vt"]
        h, w_wig, w_cell = data["cell_contrasts"], data["wiggle_w"], data["cell_w"]

        level = pm.Normal(
            "level", mu=level_mu[None, :], sigma=float(priors["level_sd"]),
            shape=(n_design, n_comp),
        )
        trend = pm.Normal("trend", 0.0, float(priors["trend_sd"]), shape=(n_design, n_comp))
        rw2_sd = pm.HalfNormal("rw2_sd", float(priors["rw2_sd_scale"]), shape=(n_comp,))
        wig_scale = rw2_sd[None, :, None] * sv[None, None, :]          # (design, comp, mode)
        w3 = w_wig[:, None, :]
        wig_t = pm.Normal("wiggle_t", 0.0, wig_scale**w3, shape=(n_design, n_comp, n_basis - 2))
        wig_c = wig_t * wig_scale ** (1.0 - w3)
        cell_sd = pm.HalfNormal("cell_sd", float(priors["cell_sd_scale"]), shape=(n_comp,))
        n_contrast = n_cell - n_design
        wc = w_cell[:, None]
        cell_t = pm.Normal("cell_t", 0.0, cell_sd[None, :] ** wc, shape=(n_contrast, n_comp))
        cell_dev = pt.dot(h, cell_t * cell_sd[None, :] ** (1.0 - wc))   # (cell, comp)
        # prior-only part of the cell offsets: the mean offset of a design's cells
        pm.Normal("cell_mean_z", 0.0, 1.0, shape=(n_design, n_comp))
        extra_sd = pm.HalfNormal("extra_sd", float(priors["extra_noise_scale"]), shape=(n_comp,))
        pm.Deterministic("wiggle_z", pt.tensordot(wig_c / sv[None, None, :], vt,
                                                  axes=[[2], [0]]) / rw2_sd[None, :, None])
        pm.Deterministic("cell_z", cell_dev / cell_sd[None, :])

        # beta: spline of the mean curve of the design's measured cells
        beta = (
            level[:, :, None]
            + trend[:, :, None] * greville[None, None, :]
            + pt.tensordot(wig_c, u, axes=[[2], [1]])
        )
        mu = (basis * beta[d_idx, k_idx]).sum(axis=-1) + cell_dev[c_idx, k_idx]
        sigma = pt.sqrt(y_sd**2 + extra_sd[k_idx] ** 2)
        if likelihood == "student_t":
            dist = pm.StudentT.dist(nu=float(priors.get("student_t_nu", 5.0)), mu=mu,
                                    sigma=sigma)
        else:
            dist = pm.Normal.dist(mu=mu, sigma=sigma)
        # a Potential, not an observed RV: pulses a component lacks are masked out while the
        # shapes stay those of the other components (one compiled model for all)
        pm.Potential("obs", pt.sum(mask * pm.logp(dist, y)))
    return model


def curves_from_params(
    params: dict,
    basis_grid: np.ndarray,
    rw2: np.ndarray,
    g: np.ndarray,
    cell_design_idx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design and cell log R on the grid, and cell offsets, from coefficient draws (numpy).

    The spline describes the mean curve of a design's measured cells; the cells deviate from
    it by zero-sum offsets, and the design (population) curve lies ``cell_sd / sqrt(n_cells)``
    times a standard normal away from it, which is the same model as iid cell offsets around
    the design curve but samples without the level/offset ridge.
    """
    beta = (
        params["level"][..., None]
        + params["trend"][..., None] * g
        + params["rw2_sd"][:, :, None, :, None]
        * np.einsum("...m,jm->...j", params["wiggle_z"], rw2)
    )
    mean_curve = np.einsum("...j,sj->...s", beta, basis_grid)  # (chain, draw, design, comp, soc)
    n_design = mean_curve.shape[2]
    n_cells = np.bincount(cell_design_idx, minlength=n_design).astype(float)
    centering = cell_centering(cell_design_idx)
    cell_dev = params["cell_sd"][:, :, None, :] * np.einsum(
        "cj,...jk->...ck", centering, params["cell_z"]
    )
    cell_mean = params["cell_sd"][:, :, None, :] / np.sqrt(n_cells)[:, None] * params["cell_mean_z"]
    log_r = mean_curve - cell_mean[..., None]
    log_r_cell = mean_curve[:, :, cell_design_idx] + cell_dev[..., None]
    cell_offset = cell_dev + cell_mean[:, :, cell_design_idx]
    return log_r, log_r_cell, cell_offset
