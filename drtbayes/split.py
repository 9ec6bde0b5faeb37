"""Probabilistic split of GITT pulse resistances into R1 / R2 / R3 by posterior EIS bands.

Method (preset ``gitt-split``; all numbers in ``models/gitt-split.toml``)
-----------------------------------------------------------------------
For each complete pulse, the transient over the pulse and the following rest (plus some rest
before it) is modelled as a Bayesian linear model in mV, mA and ohm::

    V(t) = V0 + drift t + slope q(t) + I(t) r0 + sum_k r_k x_k(t) + e,   e ~ N(0, sigma^2)

with x_k the current-step superposition of I (1 - exp(-t/tau_k)) on a log tau grid from about
half the first sample time after the step to well beyond the pulse length, q(t) the charge
passed (so the OCV change caused by the charge is a separate term and is excluded from the
resistances), and r0 everything faster than the first sample. The pulse DRT is
``r = G c + delta``: G holds the EIS DRT shape (posterior median at the pulse SOC) restricted to
each band, with free scales c, and - when pooling is on - the mean DRT of the neighbouring
pulses (within ``pooling.width_soc``) as one more template; the deviation delta has a Gaussian
smoothness prior. Its strength and the noise level are set by maximising the marginal
likelihood (empirical Bayes), so the posterior is Gaussian and is sampled exactly. This is the
fast scheme the issue asks for (no MCMC): about 30 ms per pulse. Where "complete at the
first sample" ends is not identified by the data, so the fit is repeated with the grid starting
at several multiples of the first sample time and the posterior is their equal mixture.

Each posterior draw is paired with one draw of the EIS band boundaries at the pulse SOC
(:func:`drtbayes.bands.bands_at_soc`), so the intervals include the band uncertainty; away from
the measured SOCs the log boundaries get an extra spread that grows with the distance to the
nearest measured SOC and with how much the boundary moves between them
(``resolution.soc_transfer_sd_fraction``), because how a band moves between EIS SOCs is not
measured. A pulse
RC element counts at its development at the end of the pulse: R_j = sum over tau_k in band j of
r_k (1 - exp(-t_pulse / tau_k)); total = r0 + sum_k r_k (1 - exp(-t_pulse/tau_k)) = polarisation
at the end of the pulse / current, against the bulk OCV.

Bands the sampling cannot see
-----------------------------
The part of a band faster than the pulse grid is merged into r0. For every band after the
first, the fraction f of its EIS resistance (median DRT, per drawn boundaries) faster than the
grid is computed: when 1 - f >= ``resolution.min_observed_fraction`` the band is resolved and
R_j = (observed part) / (1 - f), the unobserved part being taken out of r0; otherwise the band
is not resolved: the merged resistance (total minus the resolved bands) is divided between R1
and the unresolved bands in the ratio of their EIS band resistances (R1 with the EIS r_inf),
with an extra log-normal spread ``resolution.fallback_log_sd``. ``resolved`` is False and
``fallback_reason`` says why for those components - never a silent zero or merge. A band that
is resolved but starts before the first sample keeps ``resolved=True`` with a note in
``fallback_reason`` (its estimate leans on the EIS shape at its fast edge).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xarray as xr
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from .bands import SocTable, bands_at_soc
from .errors import DataError, NoPulsesError, PresetError
from .inference.threads import one_blas_thread
from .progress import activity

COMPONENTS = ("R1", "R2", "R3", "total")
METHOD = "empirical-bayes-gaussian"
#: A resolved band gets a note in ``fallback_reason`` when it starts before the first sample and
#: more than this fraction of the faster band relaxes slower than a tenth of the grid start.
NOTE_LEAK_FRACTION = 0.05


# --------------------------------------------------------------------------- preset
_REQUIRED = {
    "pulse_grid": ("tau_min_s", "tau_max_s", "per_decade", "tau_min_first_sample_factor",
                   "tau_max_pulse_factor", "tau_max_rest_fraction"),
    "window": ("pre_rest_s", "skip_after_step_s", "max_fit_points"),
    "prior": ("smoothness_order", "ridge_epsilon", "weak_precision"),
    "resolution": ("min_observed_fraction", "fallback_log_sd"),
    "sampling": ("n_samples",),
}


def _load_preset(name_or_path: str | dict) -> tuple[dict, str]:
    """Read the split preset as (dict, toml text).

    Read by :func:`drtbayes.presets.load_preset` (or given as a dict) and checked for the keys
    this module needs.
    """
    if isinstance(name_or_path, dict):
        cfg, text = name_or_path, str(name_or_path.get("preset_toml", ""))
    else:
        from .presets import load_preset

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


# --------------------------------------------------------------------------- linear algebra
def _diff_operator(n: int, order: int) -> np.ndarray:
    d = np.eye(n)
    for _ in range(order):
        d = np.diff(d, axis=0)
    return d


def _eb_prepare(x: np.ndarray, y: np.ndarray, n_weak: int, q: np.ndarray,
                weak: float) -> dict[str, Any]:
    """Prepare an empirical-Bayes Gaussian linear model: the parts that do not depend on (alpha, b).

    Parameters ``beta = [weak block (n_weak), smooth block]``: weak block prior N(0, 1/weak),
    smooth block N(0, (alpha q)^-1); noise precision b. :func:`_eb_solve` then maximises the
    evidence over alpha and b (or b alone at a given alpha).
    """
    n, m = x.shape
    k = m - n_weak
    xtx, xty, yty = x.T @ x, x.T @ y, float(y @ y)
    logdet_q = np.linalg.slogdet(q)[1]
    base = np.zeros((m, m))
    base[:n_weak, :n_weak] = np.eye(n_weak) * weak

    def parts(p: np.ndarray) -> tuple[float, np.ndarray, Any, np.ndarray]:
        a, b = math.exp(p[0]), math.exp(p[1])
        prec = base.copy()
        prec[n_weak:, n_weak:] = a * q
        h = prec + b * xtx
        cf = cho_factor(h, lower=True, check_finite=False)
        mean = cho_solve(cf, b * xty, check_finite=False)
        rss = yty - 2 * mean @ xty + mean @ xtx @ mean
        logdet_h = 2.0 * np.sum(np.log(np.diag(cf[0])))
        logdet_p = n_weak * math.log(weak) + k * p[0] + logdet_q
        ev = 0.5 * (logdet_p + n * p[1] - logdet_h - b * rss - mean @ prec @ mean)
        return ev, mean, cf, prec

    # The search for (alpha, b) runs on the evidence with the weak block integrated out as
    # flat (its prior precision is 1e-8: the optimum is the same), which the generalized
    # eigenvectors of (G, q), G = B' P_A B, make O(k) per evaluation instead of one Cholesky
    # of the whole precision (~0.15 ms each, ~130 evaluations per fit: most of the split's
    # time). The posterior at the optimum is then computed exactly by ``parts``.
    q_a, _ = np.linalg.qr(x[:, :n_weak])
    xb = x[:, n_weak:]
    qb = q_a.T @ xb
    g = xb.T @ xb - qb.T @ qb
    qy = q_a.T @ y
    r = xb.T @ y - qb.T @ qy
    ypy = yty - float(qy @ qy)
    l_q = np.linalg.cholesky(q)
    l_inv = np.linalg.inv(l_q)
    lam, w = np.linalg.eigh(l_inv @ g @ l_inv.T)
    lam = np.clip(lam, 0.0, None)
    s2 = (w.T @ (l_inv @ r)) ** 2
    return {"parts": parts, "lam": lam, "s2": s2, "ypy": ypy, "n_eff": n - n_weak, "k": k}


def _eb_solve(prep: dict[str, Any], x0: tuple[float, float], log_alpha: float | None = None,
              log_beta: float | None = None) -> dict[str, Any]:
    """Maximise the evidence of a prepared model over (alpha, b), or over b at ``log_alpha``.

    With both ``log_alpha`` and ``log_beta`` given, the posterior at those values.
    """
    lam, s2, ypy, n_eff, k = prep["lam"], prep["s2"], prep["ypy"], prep["n_eff"], prep["k"]

    # every sum the evidence, its gradient and Hessian need is one entry of sums = V @ P:
    # rows of V are weights (1, s2, lam, s2 lam, lam^2, s2 lam^2), columns of P the powers
    # 1/den, 1/den^2, 1/den^3; one small product instead of a dozen reductions per evaluation
    weights = np.vstack([np.ones_like(lam), s2, lam, s2 * lam, lam * lam, s2 * lam * lam])

    def nll(p: np.ndarray, hess: bool = False) -> tuple:
        la, lb = float(p[0]), float(p[1])
        a, b = math.exp(la), math.exp(lb)
        den = a + b * lam
        inv = 1.0 / den
        powers = np.column_stack([inv, inv * inv, inv * inv * inv])
        sm = weights @ powers
        s_inv, s_q2, s_lam = sm[0, 0], sm[1, 0], sm[2, 0]
        s_q2d, s_q2dl = sm[1, 1], sm[3, 1]
        ev = 0.5 * (n_eff * lb + k * la - np.log(den).sum() - b * ypy + b * b * s_q2)
        d_la = 0.5 * (k - a * s_inv - b * b * a * s_q2d)
        d_lb = 0.5 * (n_eff - b * s_lam - b * ypy + 2 * b * b * s_q2 - b**3 * s_q2dl)
        if not np.isfinite(ev):
            return (1e300, np.zeros(2), None) if hess else (1e300, np.zeros(2))
        if not hess:
            return -ev, -np.array([d_la, d_lb])
        h_aa = 0.5 * (-a * s_inv + a * a * sm[0, 1] - a * b * b * s_q2d
                      + 2 * a * a * b * b * sm[1, 2])
        h_ab = 0.5 * (a * b * sm[2, 1] - 2 * a * b * b * s_q2d + 2 * a * b**3 * sm[3, 2])
        h_bb = 0.5 * (-b * s_lam + b * b * sm[4, 1] - b * ypy + 4 * b * b * s_q2
                      - 5 * b**3 * s_q2dl + 2 * b**4 * sm[5, 2])
        return -ev, -np.array([d_la, d_lb]), -np.array([[h_aa, h_ab], [h_ab, h_bb]])

    lo, hi = np.array([-25.0, -10.0]), np.array([25.0, 25.0])
    if log_alpha is not None and log_beta is not None:
        best = np.array([log_alpha, log_beta])
    elif log_alpha is None:
        best = _newton_min(nll, np.clip(np.array(x0, float), lo, hi), lo, hi, free=[0, 1])
        if best is None:
            res = minimize(nll, np.clip(np.array(x0, float), lo, hi), jac=True,
                           method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)),
                           options={"ftol": 1e-12, "gtol": 1e-6, "maxiter": 200})
            best = np.clip(res.x, lo, hi)
    else:
        start = np.array([log_alpha, math.log(100.0)])
        best = _newton_min(nll, start, lo, hi, free=[1])
        if best is None:
            def nll_beta(v: np.ndarray) -> tuple[float, np.ndarray]:
                f, grad = nll(np.array([log_alpha, v[0]]))
                return f, grad[1:]

            res = minimize(nll_beta, np.array([math.log(100.0)]), jac=True, method="L-BFGS-B",
                           bounds=[(lo[1], hi[1])], options={"ftol": 1e-12, "gtol": 1e-6})
            best = np.array([log_alpha, float(res.x[0])])
    ev, mean, cf, _ = prep["parts"](best)
    return {"mean": mean, "chol": cf[0], "log_alpha": float(best[0]),
            "log_beta": float(best[1]), "log_evidence": float(ev)}


def _newton_min(fun: Any, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                free: list[int], max_iter: int = 100) -> np.ndarray | None:
    """Minimise ``fun`` (value, gradient, Hessian) over the coordinates ``free`` within bounds.

    A damped Newton search with a backtracking line search; None when it does not reach a
    stationary point inside the bounds, so the caller falls back to L-BFGS-B. Written here
    because the evidence of the split's pulse models has two parameters and an exact Hessian:
    a general-purpose optimiser spent most of the split's time in its own overhead.
    """
    x = x0.astype(float).copy()
    f, g, h = fun(x, hess=True)
    if h is None:
        return None
    idx = np.asarray(free)
    for _ in range(max_iter):
        gf = g[idx]
        if np.max(np.abs(gf)) < 1e-7:
            return x
        step = _newton_step(gf, h[np.ix_(idx, idx)] if idx.size == 1 else h)
        if step is None:
            return None  # not locally convex (e.g. a flat evidence in alpha): L-BFGS-B's case
        if np.max(np.abs(step)) < 1e-6:
            # converged: the last Newton step is below the rounding of the evidence's sums
            # (they cancel to ~1e-7 in the gradient, where a line search can no longer tell)
            x[idx] = np.clip(x[idx] + step, lo[idx], hi[idx])
            return x
        t = 1.0
        while True:
            x_new = x.copy()
            x_new[idx] = np.clip(x[idx] + t * step, lo[idx], hi[idx])
            f_new, g_new, h_new = fun(x_new, hess=True)
            if h_new is not None and f_new <= f + 1e-4 * t * float(gf @ step):
                break
            t *= 0.5
            if t < 1e-10:
                return None
        at_bound = np.any((x_new[idx] <= lo[idx]) | (x_new[idx] >= hi[idx]))
        x, f, g, h = x_new, f_new, g_new, h_new
        if at_bound:
            return None  # a bound is active: L-BFGS-B handles the projected problem
    return None


def _newton_step(g: np.ndarray, h: np.ndarray) -> np.ndarray | None:
    """Return -h^-1 g for a positive definite 1x1 or 2x2 ``h`` (closed form), else None."""
    if g.size == 1:
        d = float(h[0, 0])
        return -g / d if np.isfinite(d) and d > 0 else None
    a, b, c = float(h[0, 0]), float(h[0, 1]), float(h[1, 1])
    det = a * c - b * b
    # positive definite, with the smaller eigenvalue not lost in rounding
    if not (np.isfinite(det) and a > 0 and det > 1e-8 * (a + c) ** 2):
        return None
    return -np.array([c * g[0] - b * g[1], a * g[1] - b * g[0]]) / det


def _draw(fit: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws from N(mean, H^-1) with H = L L^T: beta = mean + L^-T z."""
    z = rng.standard_normal((fit["mean"].size, n))
    # the factor is small (< 60 x 60): an explicit inverse is cheaper than a multi-RHS solve
    l_inv = np.linalg.inv(np.tril(fit["chol"]))
    return fit["mean"][:, None] + l_inv.T @ z


# --------------------------------------------------------------------------- pulse data
def _step_response(dt: np.ndarray, tau: np.ndarray) -> np.ndarray:
    on = dt > 0
    out = np.zeros((dt.size, tau.size))
    out[on] = -np.expm1(-dt[on, None] / tau[None, :])
    return out


def _pulse_window(t: np.ndarray, cur: np.ndarray, p: dict, cfg: dict,
                  imax: float | None = None) -> dict:
    """Return the indices and first sample time of one pulse's fit window.

    Only the slice of the (sorted) record around the pulse is looked at, so that a record of N
    pulses costs N windows, not N whole-record scans; ``imax`` is the record's largest |current|
    (computed here when not given).
    """
    win = cfg["window"]
    t_on, t_off, t_end = p["t_start"], p["t_end"], p["t_rest_end"]
    if imax is None:
        imax = float(np.max(np.abs(cur)))
    lo = int(np.searchsorted(t, t_on - win["pre_rest_s"], side="left"))
    hi = int(np.searchsorted(t, t_end, side="left"))
    t, cur = t[lo:hi], cur[lo:hi]
    sel = np.ones(t.size, bool)
    # pre-pulse samples only where the cell rests (not the tail of the previous pulse's current)
    sel &= ~((t < t_on) & (np.abs(cur) > 0.01 * imax))
    skip = win["skip_after_step_s"]
    sel &= ~(((t - t_on) >= 0) & ((t - t_on) < skip))
    sel &= ~(((t - t_off) >= 0) & ((t - t_off) < skip))
    idx = np.flatnonzero(sel)
    after_on = t[idx] - t_on
    first = float(np.min(after_on[after_on > 0])) if np.any(after_on > 0) else math.nan
    after_off = t[idx] - t_off
    first_off = float(np.min(after_off[after_off > 0])) if np.any(after_off > 0) else math.nan
    return {"idx": idx + lo, "first_sample_s": max(first, first_off) if np.isfinite(first_off)
            else first}


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


# --------------------------------------------------------------------------- main
def split_gitt(
    gitt: xr.Dataset | Sequence[xr.Dataset],
    bands: xr.Dataset,
    *,
    capacity_mah: float | None = None,
    area_cm2: float | None = None,
    policy: str = "interpolate",
    n_samples: int | None = None,
    seed: int = 0,
    progress: bool = False,
    preset: str | dict = "gitt-split",
    method: str = "bands",
    processes: xr.Dataset | None = None,
    process_settings: dict | None = None,
) -> xr.Dataset:
    """Split every GITT pulse resistance into R1 / R2 / R3 with posterior draws.

    Two estimands, labelled in the output (scalar coord and attr ``split_method``):
    ``method="bands"`` (the paper's band integral of the pulse DRT, below) and
    ``method="processes"`` (each process's own exact step response with time constants from
    the EIS process posterior: :func:`drtbayes.processes.pulse.split_pulses`).

    Parameters
    ----------
    gitt
        A GITT Dataset (``read_gitt`` / ``make_gitt``), or several (one per cell; their pulses
        are concatenated). ``attrs['design']`` names the design whose EIS bands are used (it may
        be empty when the bands hold a single design); ``attrs['cell']`` labels the pulses.
    bands
        Output of :func:`drtbayes.bands.time_constant_bands` with 3 processes (contact, charge
        transfer, diffusion, fastest first).
    capacity_mah
        Cell capacity for coulomb counting (default ``gitt.attrs['capacity_mah']``).
    area_cm2
        Electrode area; adds ``resistance_area`` in ohm cm2 (default ``gitt.attrs['area_cm2']``).
    policy
        How bands are carried to the pulse SOC (:func:`drtbayes.bands.bands_at_soc`).
    n_samples
        Posterior draws per pulse (default: the preset's ``sampling.n_samples``, 400).
    seed
        Seed of the posterior draws (same seed, same numbers).
    progress
        Print a line per cell to stderr.
    preset
        Split preset name (``gitt-split``), path, or dict (band method).
    method
        ``"bands"`` or ``"processes"``.
    processes
        The process fit (:func:`drtbayes.processes.fit_processes`) for ``method="processes"``;
        ``bands`` may be that fit instead.
    process_settings
        Overrides of :data:`drtbayes.processes.pulse.DEFAULTS` (``FAST`` for long records).

    Returns
    -------
    xr.Dataset
        ``resistance`` (pulse, component, sample) in ohm (``component`` = R1, R2, R3, total),
        ``resistance_area`` (ohm cm2) when the area is known; ``resolved`` and
        ``fallback_reason`` (pulse, component); ``fit_rmse_v``, ``noise_sd_v``,
        ``first_sample_s`` (pulse); the fitted transient ``fit_time_s`` (s since the pulse
        start), ``fit_v_median``, ``fit_v_lo95``, ``fit_v_hi95`` (pulse, fit_point) in V;
        the pulse DRT ``pulse_r_median`` (pulse, pulse_tau) in ohm per grid cell. Coords on
        ``pulse``: ``soc`` (middle, %), ``design``, ``cell``, ``t_start``, ``t_end``,
        ``current_a``, ``kind``. Attrs ``drtbayes_kind="split"``, ``preset``,
        ``preset_toml``, ``seed``, ``method``, ``policy``.

    Raises
    ------
    NoPulsesError
        The record has no complete pulse.
    DataError
        Bands without the needed variables or the record's design, unusable records.
    """
    if method not in ("bands", "processes"):
        raise DataError(f"split method {method!r}: use 'bands' (band integral of the pulse DRT) "
                        "or 'processes' (process elements' step responses)")
    if method == "processes":
        from .processes.pulse import split_pulses

        pfit = processes if processes is not None else bands
        out = split_pulses(gitt, pfit, capacity_mah=capacity_mah, area_cm2=area_cm2,
                           n_samples=400 if n_samples is None else int(n_samples), seed=seed,
                           progress=progress, settings=process_settings)
        return out.assign_coords(method="processes").assign_attrs(split_method="processes")
    cfg, toml_text = _load_preset(preset)
    n_samples = int(n_samples if n_samples is not None else cfg["sampling"]["n_samples"])
    if n_samples < 2:
        raise DataError(f"n_samples={n_samples}: need at least 2 posterior draws per pulse")
    records = [gitt] if isinstance(gitt, xr.Dataset) else list(gitt)
    if not records:
        raise DataError("split_gitt got no GITT record")
    procs = json.loads(bands.attrs.get("processes", "[]")) or list(bands["process"].values)
    if len(procs) != 3:
        raise DataError(f"the GITT split needs bands of 3 processes (contact, charge transfer, "
                        f"diffusion); these bands have {len(procs)}: {procs}")
    if "gamma_median" not in bands and "group_gamma_median" not in bands:
        raise DataError("the bands have no 'gamma_median'/'group_gamma_median' (the EIS DRT "
                        "shape the split needs); make them with drtbayes.time_constant_bands")
    def split_one(rec: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
        # one BLAS thread: same numbers whatever the environment, and the many small
        # factorisations of the pulse fits only lose time to threads competing for the cores
        with one_blas_thread():
            return _split_record(rec, bands, cfg, capacity_mah=capacity_mah,
                                 area_cm2=area_cm2, policy=policy, n_samples=n_samples,
                                 rng=rng)

    out = split_each_record(records, seed, progress, split_one)
    out.attrs.update({
        "drtbayes_kind": "split",
        "drtbayes_version": _version(),
        "preset": cfg.get("name", str(preset)),
        "preset_toml": toml_text,
        "seed": seed,
        "method": METHOD,
        "policy": policy,
        "n_samples": n_samples,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "band_source": bands.attrs.get("method", ""),
        "split_method": "bands",
    })
    return out.assign_coords(method="bands")


def split_each_record(records: Sequence[xr.Dataset], seed: int, progress: bool,
                      split_one: Callable[[xr.Dataset, np.random.Generator], xr.Dataset]
                      ) -> xr.Dataset:
    """Split every record with its own child seed of ``seed`` and join their pulses.

    Shared by both estimands: ``split_one(record, rng)`` returns one record's split Dataset.
    """
    parts = []
    for rec, ss in zip(records, np.random.SeedSequence(seed).spawn(len(records)), strict=True):
        t0 = time.perf_counter()
        part = split_one(rec, np.random.default_rng(ss))
        parts.append(part)
        if progress:
            print(f"split {part.attrs['design']}/{part.attrs['cell']}: {part.sizes['pulse']} "
                  f"pulses in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    out = parts[0] if len(parts) == 1 else xr.concat(parts, dim="pulse",
                                                     combine_attrs="drop_conflicts")
    if any("resistance_area" not in p for p in parts):
        out = out.drop_vars("resistance_area", errors="ignore")
    return out


def _version() -> str:
    from . import __version__

    return __version__


def _detect(rec: xr.Dataset, capacity_mah: float | None) -> xr.Dataset:
    from .io import detect_pulses

    return detect_pulses(rec, capacity_mah=capacity_mah)


def _record_design(rec: xr.Dataset, bands: xr.Dataset) -> str:
    design = str(rec.attrs.get("design", "") or "")
    if design:
        return design
    names = (bands["group_design"].values if "group_design" in bands.coords
             else bands["design"].values if "design" in bands.coords else [])
    uniq = sorted(set(np.asarray(names).astype(str)))
    if len(uniq) == 1:
        return uniq[0]
    src = rec.attrs.get("source") or "<GITT record>"
    raise DataError(f"{src}: the record has no design and the bands hold {len(uniq)} designs "
                    f"({', '.join(uniq)}); pass design= when reading the record")


def _split_record(rec: xr.Dataset, bands: xr.Dataset, cfg: dict, *, capacity_mah: float | None,
                  area_cm2: float | None, policy: str, n_samples: int,
                  rng: np.random.Generator) -> xr.Dataset:
    src = rec.attrs.get("source") or "<GITT record>"
    design = _record_design(rec, bands)
    cell = str(rec.attrs.get("cell", "") or "cell")
    pulses = _detect(rec, capacity_mah)
    keep = np.flatnonzero(pulses["complete"].values.astype(bool))
    if keep.size == 0:
        raise NoPulsesError(f"{src}: none of the {pulses.sizes['pulse']} pulses is complete "
                            "(each needs a rest after it); nothing to split")
    t_starts, flags = pulses["t_start"].values, pulses["flag"].values
    skipped = [{"pulse": int(i), "t_start": float(t_starts[i]),
                "reason": str(flags[i]) or "incomplete"}
               for i in np.flatnonzero(~pulses["complete"].values.astype(bool))]
    t = np.asarray(rec["time"].values, float)
    cur = np.asarray(rec["current"].values, float)
    volt = np.asarray(rec["voltage"].values, float)
    grid_cfg = cfg["pulse_grid"]
    n_dec = math.log10(grid_cfg["tau_max_s"] / grid_cfg["tau_min_s"])
    tau_grid = np.logspace(math.log10(grid_cfg["tau_min_s"]), math.log10(grid_cfg["tau_max_s"]),
                           int(round(n_dec * grid_cfg["per_decade"])) + 1)
    h_ln = math.log(10.0) / grid_cfg["per_decade"]
    # where "complete at the first sample" ends is not identified by the data; the posterior is
    # an equal mixture over these grid starts (multiples of the first sample time)
    factors = [float(x) for x in np.atleast_1d(grid_cfg["tau_min_first_sample_factor"])]

    imax = float(np.max(np.abs(cur)))
    plist = []
    for i in keep:
        p = {k: float(pulses[k].values[i]) for k in ("t_start", "t_end", "t_rest_end", "soc",
                                                       "current_a", "rest_s")}
        p["kind"] = str(pulses["kind"].values[i])
        w = _pulse_window(t, cur, p, cfg, imax=imax)
        p.update(w)
        dur = p["t_end"] - p["t_start"]
        hi = min(grid_cfg["tau_max_pulse_factor"] * dur,
                 grid_cfg["tau_max_rest_fraction"] * max(p["rest_s"], dur))
        p["active"] = [(tau_grid >= fac * w["first_sample_s"]) & (tau_grid <= hi)
                       for fac in factors]
        if min(a.sum() for a in p["active"]) < 4:
            raise DataError(f"{src}: pulse at {p['t_start']:g} s: its sampling leaves fewer than "
                            "4 time constants between the first sample and the rest length")
        plist.append(p)

    # EIS information at each pulse SOC
    transfer = _soc_transfer(bands, design, policy,
                             float(cfg["resolution"].get("soc_transfer_sd_fraction", 0.0)))
    tables = {var: SocTable(bands, var, design=design, log=(var == "boundary_tau"))
              for var in ("boundary_tau", "gamma_median", "band_r")}
    try:
        tables["r_inf"] = SocTable(bands, "r_inf", design=design)
    except KeyError:
        pass
    eis_tau = np.asarray(bands["tau"].values, float)
    for p in plist:
        p["log_b"] = np.asarray(tables["boundary_tau"].at(p["soc"], policy), float)
        sd = transfer(p["soc"])
        if np.any(sd > 0):
            p["log_b"] = p["log_b"] + rng.normal(0.0, 1.0, p["log_b"].shape) * sd
        p["log_b_median"] = np.nanmedian(p["log_b"], axis=0)
        p["eis_tau"] = eis_tau
        p["eis_gamma"] = np.clip(np.asarray(tables["gamma_median"].at(p["soc"], policy), float),
                                 0.0, None)
        p["eis_band_r"] = np.asarray(tables["band_r"].at(p["soc"], policy), float)
        p["eis_r_inf"] = (np.asarray(tables["r_inf"].at(p["soc"], policy), float)
                          if "r_inf" in tables else None)

    width = float(cfg.get("pooling", {}).get("width_soc", 0.0))
    socs = np.array([p["soc"] for p in plist])
    # pass 1 keeps only each fit's hyperparameters (log alpha, log b): the fits themselves
    # (design matrices of every pulse) are rebuilt one pulse at a time below, so memory stays
    # that of one pulse however long the record
    eb_all = np.zeros((len(factors), len(plist), 2))
    with activity(f"empirical-Bayes fits of {len(plist)} pulses"):
        for j, p in enumerate(plist):
            data = _pulse_data(t, volt, p, tau_grid)
            for m in range(len(factors)):
                f = _fit_pulse(data, p, p["active"][m], tau_grid, h_ln, cfg)["fit"]
                eb_all[m, j] = f["log_alpha"], f["log_beta"]
    hyper = []  # per grid start: (log alpha, log b or None) per pulse
    for m in range(len(factors)):
        eb = eb_all[m]
        if width > 0 and len(plist) > 1:
            # pooling: neighbouring pulses share the strength of the smoothness prior (median
            # of their empirical-Bayes log alpha), which steadies the per-pulse choice without
            # making one pulse's DRT shape the prior of another (that double use of similar
            # data made the intervals overconfident in the validation); b is refitted
            order = np.argsort(socs, kind="stable")
            s_sorted, a_sorted = socs[order], eb[order, 0]
            lo_i = np.searchsorted(s_sorted, socs - width, side="left")
            hi_i = np.searchsorted(s_sorted, socs + width, side="right")
            hyper.append([(float(np.median(a_sorted[a:b])), None)
                          for a, b in zip(lo_i, hi_i, strict=True)])
        else:
            hyper.append([(float(a), float(b)) for a, b in eb])
    n_per = np.full(len(factors), n_samples // len(factors))
    n_per[: n_samples % len(factors)] += 1

    n_fit = int(cfg["window"]["max_fit_points"])
    res = np.full((len(plist), 4, n_samples), np.nan)
    resolved = np.zeros((len(plist), 4), bool)
    reasons = np.full((len(plist), 4), "", dtype=object)
    fit_t = np.full((len(plist), n_fit), np.nan)
    fit_q = np.full((3, len(plist), n_fit), np.nan)
    rmse = np.zeros(len(plist))
    noise = np.zeros(len(plist))
    r_med = np.full((len(plist), tau_grid.size), np.nan)
    for j, p in enumerate(plist):
        comp_r, comp_v, res_flags, why = [], [], [], ["", "", "", ""]
        data = _pulse_data(t, volt, p, tau_grid)
        fits = [_fit_pulse(data, p, p["active"][m], tau_grid, h_ln, cfg,
                           log_alpha=hyper[m][j][0], log_beta=hyper[m][j][1])
                for m in range(len(factors))]
        for m, n_m in enumerate(n_per):
            f = fits[m]
            draws = _draw(f["fit"], int(n_m), rng)
            r_draws = f["map"] @ draws  # (1 + k, n): r0, r_k
            out = _components(p, f, r_draws, h_ln, cfg, rng)
            comp_r.append(out["r"])
            comp_v.append((f["x"] @ draws) * 1e-3 + f["y_offset_v"])
            res_flags.append(out["resolved"])
            why = [a or b for a, b in zip(why, out["reasons"], strict=True)]
            if m == 0:
                r_med[j, p["active"][0]] = np.median(r_draws[1:], axis=1)
        res[j] = np.concatenate(comp_r, axis=1)
        resolved[j] = np.all(res_flags, axis=0)
        reasons[j] = why
        f = fits[0]
        tt = t[p["idx"]]
        v_draws = np.concatenate(comp_v, axis=1)
        pick = np.unique(np.linspace(0, tt.size - 1, min(n_fit, tt.size)).round().astype(int))
        fit_t[j, :pick.size] = tt[pick] - p["t_start"]
        fit_q[:, j, :pick.size] = np.percentile(v_draws[pick], [50, 2.5, 97.5], axis=1)
        resid = volt[p["idx"]] - ((f["x"] @ f["fit"]["mean"]) * 1e-3 + f["y_offset_v"])
        rmse[j] = float(np.sqrt(np.mean(resid**2)))
        noise[j] = math.exp(-0.5 * f["fit"]["log_beta"]) * 1e-3

    area = area_cm2 if area_cm2 is not None else rec.attrs.get("area_cm2")
    area = float(area) if area is not None and np.isfinite(float(area)) else None
    labels = [f"{cell}/{k:03d}" for k in range(len(plist))]
    coords = {
        "pulse": labels,
        "component": list(COMPONENTS),
        "sample": np.arange(n_samples),
        "pulse_tau": tau_grid,
        "soc": ("pulse", np.array([p["soc"] for p in plist]), {"units": "%"}),
        "design": ("pulse", np.array([design] * len(plist), dtype=object)),
        "cell": ("pulse", np.array([cell] * len(plist), dtype=object)),
        "t_start": ("pulse", np.array([p["t_start"] for p in plist]), {"units": "s"}),
        "t_end": ("pulse", np.array([p["t_end"] for p in plist]), {"units": "s"}),
        "current_a": ("pulse", np.array([p["current_a"] for p in plist]), {"units": "A"}),
        "kind": ("pulse", np.array([p["kind"] for p in plist], dtype=object)),
    }
    data = {
        "resistance": (("pulse", "component", "sample"), res, {"units": "ohm"}),
        "resolved": (("pulse", "component"), resolved),
        "fallback_reason": (("pulse", "component"), reasons),
        "fit_rmse_v": ("pulse", rmse, {"units": "V"}),
        "noise_sd_v": ("pulse", noise, {"units": "V", "long_name": "empirical-Bayes noise sd"}),
        "first_sample_s": ("pulse", np.array([p["first_sample_s"] for p in plist]),
                           {"units": "s", "long_name": "first sample after the current step"}),
        "fit_time_s": (("pulse", "fit_point"), fit_t, {"units": "s",
                                                       "long_name": "time since pulse start"}),
        "fit_v_median": (("pulse", "fit_point"), fit_q[0], {"units": "V"}),
        "fit_v_lo95": (("pulse", "fit_point"), fit_q[1], {"units": "V"}),
        "fit_v_hi95": (("pulse", "fit_point"), fit_q[2], {"units": "V"}),
        "pulse_r_median": (("pulse", "pulse_tau"), r_med,
                           {"units": "ohm", "long_name": "pulse DRT, ohm per grid cell "
                            f"({grid_cfg['per_decade']} per decade)"}),
    }
    if area is not None:
        data["resistance_area"] = (("pulse", "component", "sample"), res * area,
                                   {"units": "ohm cm2"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({"design": design, "cell": cell, "area_cm2": area if area else math.nan,
                     "capacity_mah": float(pulses.attrs.get("capacity_mah", math.nan)),
                     "skipped_pulses": json.dumps(skipped), "source": src})
    return ds


def _soc_transfer(bands: xr.Dataset, design: str, policy: str, fraction: float) -> Any:
    """Sd (decades) of the extra spread of log boundaries carried away from the measured SOCs.

    Bands are measured at a few SOCs only; how a boundary moves in between is not known. The
    spread is ``fraction`` x the change of the median log boundary between the two measured
    SOCs around the pulse x min(1, 2 d / spacing), d the distance to the nearest measured SOC
    (0 at a measured SOC, the full ``fraction`` x change halfway and beyond the range).
    """
    lb0 = bands_at_soc(bands, design=design, soc=0.0, policy=policy)
    measured = sorted(json.loads(lb0.attrs["measured_soc"]))
    nb = lb0.sizes["boundary"]
    if fraction <= 0 or len(measured) < 2:
        return lambda soc: np.zeros(nb)
    meds = np.array([np.nanmedian(bands_at_soc(bands, design=design, soc=m,
                                               policy="nearest").values, axis=0)
                     for m in measured])

    def sd(soc: float) -> np.ndarray:
        j = int(np.clip(np.searchsorted(measured, soc) - 1, 0, len(measured) - 2))
        span = measured[j + 1] - measured[j]
        d = min(abs(soc - m) for m in measured)
        return fraction * np.abs(meds[j + 1] - meds[j]) * min(1.0, 2.0 * d / span)

    return sd


def _pulse_data(t: np.ndarray, volt: np.ndarray, p: dict, tau_grid: np.ndarray) -> dict:
    """One pulse's data and its columns on the whole tau grid (each grid start slices them)."""
    tt = t[p["idx"]]
    y_off = float(np.median(volt[p["idx"]][tt < p["t_start"]])) if np.any(
        tt < p["t_start"]) else float(volt[p["idx"][0]])
    nuis, rcols = _columns(tt, p, tau_grid)
    g = np.interp(np.log(tau_grid), np.log(p["eis_tau"]), p["eis_gamma"], left=0.0, right=0.0)
    return {"y": (volt[p["idx"]] - y_off) * 1e3, "y_off": y_off, "nuis": nuis,
            "r0": rcols[:, :1], "rk": rcols[:, 1:], "eis_gamma": g}


def _fit_pulse(data: dict, p: dict, act: np.ndarray, tau_grid: np.ndarray, h_ln: float,
               cfg: dict, log_alpha: float | None = None,
               log_beta: float | None = None) -> dict:
    """Fit one pulse (``data`` from :func:`_pulse_data`) by empirical Bayes on the cells ``act``.

    ``log_alpha`` fixes the smoothness (b is then searched), ``log_beta`` with it fixes both.
    Returns the fit and the map from parameter draws to the pulse DRT (r0, r_k).
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
    prep = _eb_prepare(x, y, n_weak, q, float(prior["weak_precision"]))
    fit = _eb_solve(prep, x0=(0.0, math.log(100.0)), log_alpha=log_alpha, log_beta=log_beta)
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


def _components(p: dict, f: dict, draws_r: np.ndarray, h_ln: float, cfg: dict,
                rng: np.random.Generator) -> dict:
    """R1/R2/R3/total draws of one pulse from pulse-DRT draws (r0, r_k) and EIS band draws."""
    n = draws_r.shape[1]
    tau = f["tau"]
    dur = p["t_end"] - p["t_start"]
    wk = -np.expm1(-dur / tau)
    total = draws_r[0] + wk @ draws_r[1:]
    # one EIS band draw per posterior draw (only draws with defined boundaries)
    log_b = p["log_b"]
    ok = np.all(np.isfinite(log_b), axis=1)
    out_r = np.full((4, n), np.nan)
    out_r[3] = total
    reasons = ["", "", "", ""]
    resolved = np.array([False, False, False, True])
    if not ok.any():
        why = ("the EIS bands have no defined boundary at this SOC (a process peak is missing "
               "in every EIS draw); only the total is given")
        for j in range(3):
            reasons[j] = why
        return {"r": out_r, "resolved": resolved, "reasons": reasons}
    pick = rng.choice(np.flatnonzero(ok), size=n, replace=True)
    b = 10.0 ** log_b[pick]  # n, 2
    # observed part of each band on the pulse grid
    ln_tau = np.log(tau)
    lnb = np.log(b)
    band_of = (ln_tau[None, :] >= lnb[:, :1]).astype(int) + (ln_tau[None, :] >= lnb[:, 1:2])
    contrib = wk[:, None] * draws_r[1:]  # k, n
    obs = np.zeros((3, n))
    for j in range(3):
        obs[j] = np.sum(np.where(band_of.T == j, contrib, 0.0), axis=0)
    # fraction of each band's EIS resistance that is faster than the pulse grid
    grid_lo = math.log(tau[0]) - 0.5 * h_ln
    et = np.log(p["eis_tau"])
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (p["eis_gamma"][1:] + p["eis_gamma"][:-1])
                                           * np.diff(et))])

    def cum_at(x: np.ndarray) -> np.ndarray:
        return np.interp(x, et, cum)

    lo_edges = np.column_stack([np.full(n, -np.inf), lnb])
    hi_edges = np.column_stack([lnb, np.full(n, np.inf)])
    band_tot = cum_at(hi_edges) - cum_at(lo_edges)
    unseen = cum_at(np.minimum(hi_edges, grid_lo)) - cum_at(lo_edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac_unseen = np.where(band_tot > 0, np.clip(unseen / band_tot, 0.0, 1.0), 1.0)
    min_obs = float(cfg["resolution"]["min_observed_fraction"])
    first = p["first_sample_s"]
    unresolved = []
    for j in (1, 2):
        seen = 1.0 - float(np.median(frac_unseen[:, j]))
        if seen >= min_obs:
            out_r[j] = obs[j] / np.maximum(1.0 - frac_unseen[:, j], 1e-9)
            resolved[j] = True
            b_lo = float(np.exp(np.median(lnb[:, j - 1])))
            # share of the faster band's EIS resistance slower than a tenth of the grid start:
            # relaxations the first samples see only partly, which the fit can mistake for
            # this band (validation: with the first sample at 1 s, R3 came out up to 12 % high)
            slow_prev = (cum_at(lnb[:, j - 1]) - cum_at(np.minimum(lnb[:, j - 1],
                                                                   grid_lo - math.log(10.0))))
            leak = float(np.median(slow_prev / np.maximum(band_tot[:, j - 1], 1e-300)))
            if grid_lo > math.log(b_lo) and leak > NOTE_LEAK_FRACTION:
                reasons[j] = (f"note: the band starts at {b_lo:.3g} s, before the first sample "
                              f"({first:.3g} s), while {100 * leak:.0f} % of the faster band "
                              "is still relaxing then; part of it may be counted here")
        else:
            unresolved.append((j, seen))
    merged = total - np.nansum(out_r[[j for j in (1, 2) if resolved[j]]], axis=0)
    if not unresolved:
        out_r[0] = merged
        resolved[0] = True
    else:
        names = {0: "R1", 1: "R2", 2: "R3"}
        involved = [0] + [j for j, _ in unresolved]
        eis = p["eis_band_r"][pick]  # n, 3
        rat = np.column_stack([eis[:, j] for j in involved]).astype(float)
        if p["eis_r_inf"] is not None:
            rat[:, 0] = rat[:, 0] + np.nan_to_num(p["eis_r_inf"][pick])
            r1_note = "EIS contact band + r_inf"
        else:
            r1_note = "EIS contact band only (the fit has no r_inf)"
        rat = np.clip(rat, 1e-12, None) * np.exp(
            rng.normal(0.0, cfg["resolution"]["fallback_log_sd"], rat.shape))
        rat /= rat.sum(1, keepdims=True)
        for col, j in enumerate(involved):
            out_r[j] = merged * rat[:, col]
        merged_names = "+".join(names[j] for j in involved)
        for j, seen in unresolved:
            reasons[j] = (f"{names[j]}: first sample {first:.3g} s after the current step; only "
                          f"{100 * seen:.0f} % of the {('charge-transfer', 'diffusion')[j - 1]} "
                          f"band (EIS) is slower, so {merged_names} is split by the EIS "
                          f"posterior ratio ({r1_note}), with an extra spread")
        reasons[0] = (f"R1 is merged with {', '.join(names[j] for j, _ in unresolved)} at this "
                      f"sampling (first sample {first:.3g} s) and split by the EIS posterior "
                      "ratio")
    return {"r": out_r, "resolved": resolved, "reasons": reasons}
