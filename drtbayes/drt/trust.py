"""One trust verdict per fitted spectrum: the sampler is right *and* the fit is right.

The diagnostics gate (R-hat, ESS, divergences) checks that NUTS sampled the posterior; it says
nothing about whether the model fits the data. A spectrum with two bad points at the top of
the sweep passes the gate while its main arc is wrong (issue 22). The verdict combines:

``gate``
    the sampler gate (NUTS); a MAP + Laplace fit (``--fast``) has none and is never trusted;
``kk``
    the linear Kramers-Kronig check of the measured points (drift, outliers, non-linearity);
``ppc``
    the posterior predictive check (points outside their predictive distribution, residuals
    correlated along the sweep), stored by :meth:`DRTResult.posterior_predictive_check`;
``residual_runs``
    a Wald-Wolfowitz runs test on the signs of the residuals (measured minus posterior-median
    model) along frequency, counted only where the misfit is also large against the noise:
    a smooth misfit means a process the DRT does not represent;
``outliers``
    points whose residual exceeds ``OUTLIER_SD`` posterior noise sd (what a robust likelihood
    down-weights); with a Student-t likelihood also a small inferred nu;
``influence``
    PSIS-LOO Pareto k of every point (ArviZ): k above ``PARETO_K_MAX`` means leaving that one
    point out changes the posterior too much for importance sampling to follow, i.e. the answer
    depends on a few points;
``open_tail``
    (only where ``series_capacitance = "auto"`` found an open low-frequency end) fails when
    the fit without series C carries weight but could not be sampled, so R_pol past the window
    is not determined;
``blocking``
    a constant-phase line at low frequency (:mod:`drtbayes.drt.blocking`): then the DRT's
    R_pol is refused (None in the summary) and ``bulk_circuit`` holds the bulk resistance of a
    small Bayesian circuit fit.

:func:`assess_trust` stores ``attrs["trust"]`` (JSON): spectrum label -> ``{"trusted": bool,
"reasons": [str], "checks": {name: {"pass": bool | None, ...figures}}}``, plus
``"bulk_circuit"`` for a blocking spectrum.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

__all__ = ["assess_trust", "trust_of", "trust_words", "PARETO_K_MAX", "OUTLIER_SD",
           "RUNS_Z_MIN"]

#: Pareto k above which one point dominates the fit (Vehtari et al. 2024: k > 0.7 makes the
#: importance-sampling estimate of the leave-one-out posterior unreliable).
PARETO_K_MAX = 0.7
#: |residual| / posterior noise sd beyond which a point is an outlier of the fitted noise model.
OUTLIER_SD = 5.0
#: Runs-test z below which the residual signs are too clustered to be noise.
RUNS_Z_MIN = -3.5
#: ... and the misfit counts only when its smooth part exceeds this multiple of the noise sd.
MISFIT_NOISE_MULTIPLE = 3.0
#: Student-t nu below which the robust likelihood says the residuals are heavy-tailed.
NU_MIN = 4.0
#: Draws used for the point-wise log-likelihood (thinned evenly; enough for a Pareto k).
_MAX_DRAWS = 1000


def _runs_z(signs: np.ndarray) -> float:
    """Wald-Wolfowitz runs-test z of a sign sequence (NaN when one sign is missing)."""
    s = signs[signs != 0]
    n_pos, n_neg = int((s > 0).sum()), int((s < 0).sum())
    n = n_pos + n_neg
    if n_pos == 0 or n_neg == 0 or n < 8:
        return float("nan")
    runs = 1 + int(np.count_nonzero(s[1:] != s[:-1]))
    mean = 2.0 * n_pos * n_neg / n + 1.0
    var = 2.0 * n_pos * n_neg * (2.0 * n_pos * n_neg - n) / (n**2 * (n - 1.0))
    return float((runs - mean) / np.sqrt(var)) if var > 0 else float("nan")


def _model_draws(result: Any, i: int, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                   np.ndarray]:
    """Model impedance (draw, frequency) without noise, and the noise sd, of spectrum ``i``."""
    from .kernels import drt_kernels
    from .model import noise_floor

    post = result.posterior
    obs = result.tree["observed_data"]
    freq = np.asarray(obs["frequency"].values, dtype=float)
    k_re, k_im = drt_kernels(freq, result.tau)
    flat = {v: post[v].values[:, :, i].reshape(-1)[draws] for v in
            ("r_inf", "sigma_const", "sigma_prop", "l_h", "c_f") if v in post}
    g = post["gamma"].values[:, :, i].reshape(-1, result.tau.size)[draws]
    omega = 2 * np.pi * freq
    z = flat["r_inf"][:, None] + g @ k_re.T + 1j * (g @ k_im.T)
    if "l_h" in flat:
        z = z + 1j * flat["l_h"][:, None] * omega
    if "c_f" in flat:
        with np.errstate(divide="ignore"):
            z = z - 1j / (flat["c_f"][:, None] * omega)
    zo = (np.asarray(obs["z_real"].values, dtype=float)[i]
          + 1j * np.asarray(obs["z_imag"].values, dtype=float)[i])
    import tomllib

    try:
        preset = tomllib.loads(result.tree.attrs.get("preset_toml", ""))
    except tomllib.TOMLDecodeError:
        preset = {}
    sd = (flat["sigma_const"][:, None]
          + (noise_floor(preset) + flat["sigma_prop"][:, None]) * np.abs(zo)[None, :])
    return z, sd, zo


def _pointwise_loglik(z: np.ndarray, sd: np.ndarray, zo: np.ndarray, nu: np.ndarray | None
                      ) -> np.ndarray:
    """Log-likelihood (draw, frequency) of each point (Z' and Z'' together), independent errors."""
    from scipy import stats

    u = np.stack([(zo.real - z.real) / sd, (zo.imag - z.imag) / sd])
    if nu is None:
        lp = stats.norm.logpdf(u)
    else:
        lp = stats.t.logpdf(u, df=nu[None, :, None])
    return lp.sum(0) - 2 * np.log(sd)


# over 80 lines: one check after another on the same draws (KK, residuals, outliers, LOO,
# blocking), each a short commented block; split up, they would pass the same ten arrays around
def _assess_one(result: Any, i: int, lab: str, ppc: dict, diag: dict) -> dict[str, Any]:
    from ..io.kk import linkk_fit, residual_noise

    post = result.posterior
    n_total = post.sizes["chain"] * post.sizes["draw"]
    draws = np.unique(np.linspace(0, n_total - 1, min(n_total, _MAX_DRAWS)).astype(int))
    z, sd, zo = _model_draws(result, i, draws)
    ok = np.isfinite(zo)
    freq = np.asarray(result.tree["observed_data"]["frequency"].values, dtype=float)
    checks: dict[str, dict[str, Any]] = {}
    reasons: list[str] = []

    if result.method == "nuts":
        gate_ok = bool(diag.get("gate_pass"))
        checks["gate"] = {"pass": gate_ok, "rhat_max": diag.get("rhat_max"),
                          "ess_bulk_min": diag.get("ess_bulk_min"),
                          "divergences": diag.get("divergences")}
        if not gate_ok:
            reasons.append(f"sampler gate failed (R-hat {diag.get('rhat_max')}, bulk ESS "
                           f"{diag.get('ess_bulk_min')}, {diag.get('divergences')} divergences)")
    else:
        checks["gate"] = {"pass": None}
        reasons.append("MAP + Laplace approximation (--fast): no sampler diagnostics; rerun "
                       "without --fast for numbers to report")

    # Kramers-Kronig on the measured points
    zk, _, _ = linkk_fit(freq[ok], zo[ok])
    res_r = (zo[ok].real - zk.real) / np.abs(zo[ok])
    res_i = (zo[ok].imag - zk.imag) / np.abs(zo[ok])
    from ..io.kk import KK_THRESHOLD, NOISE_MULTIPLE

    worst = float(np.max(np.maximum(np.abs(res_r), np.abs(res_i))))
    limit = max(KK_THRESHOLD, NOISE_MULTIPLE * residual_noise(res_r, res_i))
    checks["kk"] = {"pass": worst <= limit, "max_residual": round(worst, 5),
                    "limit": round(limit, 5)}
    if worst > limit:
        j = int(np.argmax(np.maximum(np.abs(res_r), np.abs(res_i))))
        reasons.append(f"Kramers-Kronig residual {100 * worst:.2g} % of |Z| at "
                       f"{freq[ok][j]:.4g} Hz (limit {100 * limit:.2g} %): drift, outliers or "
                       "a non-linear measurement")

    if ppc:
        checks["ppc"] = {"pass": not ppc.get("flagged", False),
                         "outlying_frequencies_hz": ppc.get("outlying_frequencies_hz", []),
                         "autocorr": ppc.get("autocorr")}
        if ppc.get("flagged"):
            reasons.append("posterior predictive check failed"
                           + (f" ({len(ppc['outlying_frequencies_hz'])} outlying points)"
                              if ppc.get("outlying_frequencies_hz") else
                              f" (residual lag-1 autocorrelation {ppc.get('autocorr')})"))

    # residual structure against the posterior-median model
    z_med = np.median(z.real, 0) + 1j * np.median(z.imag, 0)
    sd_med = np.median(sd, 0)
    res = (zo - z_med)[ok]
    runs = [_runs_z(np.sign(res.real)), _runs_z(np.sign(res.imag))]
    smooth = np.convolve(np.abs(res.real) + np.abs(res.imag), np.ones(5) / 5, mode="same")
    misfit = float(np.max(smooth / (2 * sd_med[ok])))
    runs_min = float(np.nanmin(runs)) if np.isfinite(runs).any() else float("nan")
    structured = (np.isfinite(runs_min) and runs_min < RUNS_Z_MIN
                  and misfit > MISFIT_NOISE_MULTIPLE)
    checks["residual_runs"] = {"pass": not structured, "runs_z": round(runs_min, 2),
                               "misfit_over_noise": round(misfit, 2)}
    if structured:
        reasons.append(f"residuals follow a pattern along the sweep (runs z {runs_min:.1f}, "
                       f"misfit {misfit:.1f} x the noise): a process the DRT does not represent")

    # outliers of the fitted noise model, and a robust likelihood's nu
    u = np.maximum(np.abs(res.real), np.abs(res.imag)) / sd_med[ok]
    out_idx = np.flatnonzero(u > OUTLIER_SD)
    nu = None
    checks["outliers"] = {"pass": out_idx.size == 0,
                          "frequencies_hz": [float(freq[ok][k]) for k in out_idx]}
    if "nu" in post:
        nu_all = post["nu"].values
        nu_all = nu_all.reshape(nu_all.shape[0] * nu_all.shape[1], -1)[:, 0]
        nu = nu_all[draws]
        checks["outliers"]["nu_median"] = round(float(np.median(nu)), 2)
        if np.median(nu) < NU_MIN:
            checks["outliers"]["pass"] = False
    if not checks["outliers"]["pass"]:
        reasons.append(f"{out_idx.size} point(s) beyond {OUTLIER_SD:g} noise sd"
                       + (f" at {', '.join(f'{freq[ok][k]:.4g}' for k in out_idx[:4])} Hz"
                          if out_idx.size else "")
                       + (f"; Student-t nu {np.median(nu):.1f}" if nu is not None else ""))

    # influence: PSIS-LOO Pareto k per point
    from arviz_stats.base import array_stats

    ll = _pointwise_loglik(z[:, ok], sd[:, ok], zo[ok], nu)
    _, khat = array_stats.psislw(-ll.T, axis=-1)
    khat = np.asarray(khat, dtype=float)
    bad = np.flatnonzero(khat > PARETO_K_MAX)
    checks["influence"] = {"pass": bad.size == 0, "pareto_k_max": round(float(np.max(khat)), 3),
                           "influential_frequencies_hz": [float(freq[ok][k]) for k in bad]}
    if bad.size:
        reasons.append(f"the answer depends on {bad.size} point(s) (PSIS-LOO Pareto k > "
                       f"{PARETO_K_MAX:g} at "
                       + ", ".join(f"{freq[ok][k]:.4g}" for k in bad[:4]) + " Hz)")
    # a blocking electrode: a constant-phase line the DRT turns into an unbounded tail
    from .blocking import detect_blocking, fit_blocking

    block = detect_blocking(freq[ok], zo[ok])
    checks["blocking"] = {"pass": not block["blocking"], **block}
    bulk = None
    if block["blocking"]:
        bulk = fit_blocking(freq[ok], zo[ok], seed=int(result.tree.attrs.get("seed", 0)))
        rb = bulk["r_bulk_ohm"]
        reasons.append(
            f"blocking electrode: a constant-phase line (n {block['n']:.2f} over "
            f"{block['decades']:.1f} decades) at low frequency, so there is no DC resistance "
            "and the DRT's R_pol is not a property of the cell; bulk resistance from the "
            f"circuit R_s + R_bulk||CPE + CPE: R_bulk {rb['median']:.4g} ohm, 95 % HDI "
            f"[{rb['hdi95'][0]:.4g}, {rb['hdi95'][1]:.4g}]")
    # an open low-frequency tail whose alternative without series C could not be sampled
    # (drt/averaging.py): R_pol past the window has no reliable interval
    avg = json.loads(result.tree.attrs.get("averaging", "{}") or "{}").get(lab, {})
    if avg.get("r_pol_determined") is False:
        checks["open_tail"] = {"pass": False, **avg}
        reasons.append(
            "R_pol past the measured window is not determined: the low-frequency end is open, "
            f"the data give the fit without series C a stacking weight of "
            f"{1 - avg['weight_with_c']:.2f}, and that fit could not be sampled (R-hat "
            f"{avg.get('without_c_rhat')}); read R_pol inside the window")
    trusted = result.method == "nuts" and all(
        c["pass"] is not False for c in checks.values()) and checks["gate"]["pass"] is True
    verdict: dict[str, Any] = {"trusted": bool(trusted), "reasons": reasons, "checks": checks}
    if bulk is not None:
        verdict["bulk_circuit"] = bulk
    return verdict


def assess_trust(result: Any) -> dict[str, dict[str, Any]]:
    """Compute the trust verdict of every spectrum of a DRT fit and store it in its attrs.

    Parameters
    ----------
    result
        A :class:`~drtbayes.drt.result.DRTResult` (after ``apply_gate`` and
        ``posterior_predictive_check``, whose outputs it reads).

    Returns
    -------
    dict
        Spectrum label -> ``{"trusted": bool, "reasons": list of str, "checks": dict}``; also
        written to ``result.tree.attrs["trust"]`` as JSON.
    """
    from .result import _json_safe

    ppc = json.loads(result.tree.attrs.get("ppc", "{}") or "{}")
    diag = result.diagnostics
    out = {lab: _assess_one(result, i, lab, ppc.get(lab, {}), diag.get(lab, {}))
           for i, lab in enumerate(result.spectra)}
    result.tree.attrs["trust"] = json.dumps(_json_safe(out))
    return out


def trust_of(result: Any) -> dict[str, dict[str, Any]]:
    """Return the stored verdict (``attrs["trust"]``), or {} for a fit saved before it existed."""
    text = result.tree.attrs.get("trust")
    return json.loads(text) if text else {}


def trust_words(verdict: dict[str, Any] | None) -> str:
    """Say one spectrum's verdict in a line: ``"trusted"`` or ``"NOT TRUSTED: reason; ..."``.

    Parameters
    ----------
    verdict
        One entry of :func:`trust_of` (None: a fit saved before verdicts existed).

    Returns
    -------
    str
    """
    if not verdict:
        return "no trust verdict (a fit saved by an older drtbayes)"
    if verdict.get("trusted"):
        notes = [r for r in verdict.get("reasons", []) if r.startswith("blocking electrode")]
        return "trusted" + (f" ({notes[0]})" if notes else "")
    reasons = verdict.get("reasons") or ["a check failed"]
    return "NOT TRUSTED: " + "; ".join(reasons)
