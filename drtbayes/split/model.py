"""The band method's per-pulse model: a Gaussian linear model of one pulse's transient.

For each complete pulse, the transient over the pulse and the following rest (plus some rest
before it) is modelled as a Bayesian linear model in mV, mA and ohm::

    V(t) = V0 + drift t + slope q(t) + I(t) r0 + sum_k r_k x_k(t) + e,   e ~ N(0, sigma^2)

with x_k the current-step superposition of I (1 - exp(-t/tau_k)) on a log tau grid from about
half the first sample time after the step to well beyond the pulse length, q(t) the charge
passed (so the OCV change caused by the charge is a separate term and is excluded from the
resistances), and r0 everything faster than the first sample. The pulse DRT is
``r = G c + delta``: G holds the EIS DRT shape (posterior median at the pulse SOC) restricted to
each band, with free scales c; the deviation delta has a Gaussian smoothness prior. Its
strength and the noise level are set by maximising the marginal likelihood (empirical Bayes,
:mod:`drtbayes.inference.gaussian`), so the posterior is Gaussian and is sampled exactly.

The preset (``models/gitt-split.toml``, kind ``split``) holds every number of the method.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import PresetError
from ..inference.gaussian import eb_prepare, eb_solve

__all__ = ["METHOD", "load_split_preset", "pulse_grid", "pulse_data", "fit_pulse"]

#: ``method`` attr of a band-method split: the posterior is exact given empirical Bayes.
METHOD = "empirical-bayes-gaussian"

# --------------------------------------------------------------------------- preset
_REQUIRED = {
    "pulse_grid": ("tau_min_s", "tau_max_s", "per_decade", "tau_min_first_sample_factor",
                   "tau_max_pulse_factor", "tau_max_rest_fraction"),
    "window": ("pre_rest_s", "skip_after_step_s", "max_fit_points"),
    "prior": ("smoothness_order", "ridge_epsilon", "weak_precision"),
    "resolution": ("min_observed_fraction", "fallback_log_sd"),
    "sampling": ("n_samples",),
}


def load_split_preset(name_or_path: str | dict) -> tuple[dict, str]:
    """Read the split preset as (dict, toml text).

    Parameters
    ----------
    name_or_path
        Preset name (``gitt-split``), path of a TOML file, or the preset as a dict.

    Returns
    -------
    cfg, text
        The preset (read by :func:`drtbayes.presets.load_preset`) and its TOML text.

    Raises
    ------
    PresetError
        A preset of another kind, or one without a key the split needs.
    """
    if isinstance(name_or_path, dict):
        cfg, text = name_or_path, str(name_or_path.get("preset_toml", ""))
    else:
        from ..presets import load_preset

        cfg = load_preset(name_or_path)
        text = str(cfg.get("preset_toml", ""))
    where = cfg.get("preset_path", str(name_or_path) if not isinstance(name_or_path, dict)
                    else "<preset dict>")
    if cfg.get("kind", "split") != "split":
        raise PresetError(f"{where}: kind = {cfg.get('kind')!r}; the GITT split needs a preset "
                          "of kind 'split' (e.g. 'gitt-split')")
    for table, keys in _REQUIRED.items():
        for key in keys:
            if key not in cfg.get(table, {}):
                raise PresetError(f"{where}: missing key [{table}] {key}; see "
                                  "models/gitt-split.toml for the full list")
    return cfg, text


def pulse_grid(cfg: dict) -> tuple[np.ndarray, float, list[float]]:
    """Log tau grid of the pulse DRT, its step in ln tau, and the grid-start factors.

    Parameters
    ----------
    cfg
        The split preset.

    Returns
    -------
    tau_grid, h_ln, factors
        Grid (s), ln-tau step, and the multiples of the first sample time where the grid
        starts (the posterior is their equal mixture).
    """
    grid_cfg = cfg["pulse_grid"]
    n_dec = math.log10(grid_cfg["tau_max_s"] / grid_cfg["tau_min_s"])
    tau_grid = np.logspace(math.log10(grid_cfg["tau_min_s"]), math.log10(grid_cfg["tau_max_s"]),
                           int(round(n_dec * grid_cfg["per_decade"])) + 1)
    h_ln = math.log(10.0) / grid_cfg["per_decade"]
    # where "complete at the first sample" ends is not identified by the data; the posterior is
    # an equal mixture over these grid starts (multiples of the first sample time)
    factors = [float(x) for x in np.atleast_1d(grid_cfg["tau_min_first_sample_factor"])]
    return tau_grid, h_ln, factors


# --------------------------------------------------------------------------- linear algebra
def _diff_operator(n: int, order: int) -> np.ndarray:
    d = np.eye(n)
    for _ in range(order):
        d = np.diff(d, axis=0)
    return d


def _step_response(dt: np.ndarray, tau: np.ndarray) -> np.ndarray:
    on = dt > 0
    out = np.zeros((dt.size, tau.size))
    out[on] = -np.expm1(-dt[on, None] / tau[None, :])
    return out


def _columns(tt: np.ndarray, p: dict, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nuisance columns [V0, drift, slope] and resistance columns [r0, r_k] (mV per unit)."""
    i_ma = p["current_a"] * 1e3
    t_on, t_off = p["t_start"], p["t_end"]
    dur = t_off - t_on
    on = (tt >= t_on) & (tt < t_off)
    q_mc = i_ma * np.clip(tt - t_on, 0.0, dur)
    nuis = np.column_stack([np.ones_like(tt), (tt - t_on) / 1000.0, q_mc / 100.0])
    r0 = i_ma * on.astype(float)
    rk = i_ma * (_step_response(tt - t_on, tau) - _step_response(tt - t_off, tau))
    return nuis, np.column_stack([r0, rk])


def pulse_data(t: np.ndarray, volt: np.ndarray, p: dict, tau_grid: np.ndarray) -> dict:
    """One pulse's data and its columns on the whole tau grid (each grid start slices them).

    Parameters
    ----------
    t, volt
        The record's time (s) and voltage (V).
    p
        The pulse (:func:`drtbayes.split.pulses.pulse_list`, with its EIS information).
    tau_grid
        The pulse DRT grid (s).

    Returns
    -------
    dict
        ``y`` (mV from the pre-pulse level ``y_off`` in V), nuisance columns ``nuis``,
        resistance columns ``r0``, ``rk`` and the EIS DRT ``eis_gamma`` on the grid.
    """
    tt = t[p["idx"]]
    y_off = float(np.median(volt[p["idx"]][tt < p["t_start"]])) if np.any(
        tt < p["t_start"]) else float(volt[p["idx"][0]])
    nuis, rcols = _columns(tt, p, tau_grid)
    g = np.interp(np.log(tau_grid), np.log(p["eis_tau"]), p["eis_gamma"], left=0.0, right=0.0)
    return {"y": (volt[p["idx"]] - y_off) * 1e3, "y_off": y_off, "nuis": nuis,
            "r0": rcols[:, :1], "rk": rcols[:, 1:], "eis_gamma": g}


def fit_pulse(data: dict, p: dict, act: np.ndarray, tau_grid: np.ndarray, h_ln: float,
               cfg: dict, log_alpha: float | None = None,
               log_beta: float | None = None) -> dict:
    """Fit one pulse (``data`` from :func:`pulse_data`) by empirical Bayes on the cells ``act``.

    Parameters
    ----------
    data
        Output of :func:`pulse_data`.
    p
        The pulse (its EIS band boundaries ``log_b_median`` shape the templates).
    act
        Grid cells of this grid start (bool over ``tau_grid``).
    tau_grid, h_ln
        The grid and its ln-tau step.
    cfg
        The split preset.
    log_alpha
        Fixes the smoothness (b is then searched).
    log_beta
        With ``log_alpha``, fixes both (no search).

    Returns
    -------
    dict
        ``fit`` (:func:`drtbayes.inference.gaussian.eb_solve`), design matrix ``x``,
        ``y_offset_v``, ``map`` from parameter draws to the pulse DRT (r0, r_k),
        ``r_mean_grid`` and the active ``tau``.
    """
    tau = tau_grid[act]
    y_off, y, nuis = data["y_off"], data["y"], data["nuis"]
    rcols = np.column_stack([data["r0"], data["rk"][:, act]])
    k = tau.size
    prior = cfg["prior"]
    # templates: EIS DRT shape of each band (median boundaries), per grid cell
    temps = []
    if prior.get("eis_templates", True):
        g = data["eis_gamma"][act]
        edges = np.concatenate([[-np.inf], p["log_b_median"] * math.log(10), [np.inf]])
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            tj = np.where((np.log(tau) >= a) & (np.log(tau) < b), g * h_ln, 0.0)
            if tj.sum() > 1e-6 * max(g.sum() * h_ln, 1e-300):
                temps.append(tj / tj.max())
    gmat = np.array(temps).T if temps else np.zeros((k, 0))
    n_t = gmat.shape[1]
    # beta = [V0, drift, slope, r0, c (n_t), delta (k)]
    x = np.column_stack([nuis, rcols[:, :1], rcols[:, 1:] @ gmat, rcols[:, 1:]])
    n_weak = 3 + 1 + n_t
    dop = _diff_operator(k, int(prior["smoothness_order"]))
    q = dop.T @ dop
    q = q + prior["ridge_epsilon"] * np.trace(q) / k * np.eye(k)
    prep = eb_prepare(x, y, n_weak, q, float(prior["weak_precision"]))
    fit = eb_solve(prep, x0=(0.0, math.log(100.0)), log_alpha=log_alpha, log_beta=log_beta)
    # map beta -> [r0, r_k]: r = G c + delta
    m_map = np.zeros((1 + k, x.shape[1]))
    m_map[0, 3] = 1.0
    m_map[1:, 4:4 + n_t] = gmat
    m_map[1:, 4 + n_t:] = np.eye(k)
    r_mean = m_map @ fit["mean"]
    r_grid = np.full(tau_grid.size, np.nan)
    r_grid[act] = r_mean[1:]
    return {"fit": fit, "x": x, "y_offset_v": y_off, "map": m_map, "r_mean_grid": r_grid,
            "tau": tau}
