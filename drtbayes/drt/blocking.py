"""Blocking electrodes: detect a constant-phase line and fit the bulk arc instead of a DRT.

An ion-blocking cell (an electrolyte pellet between steel electrodes) has no DC resistance: its
spectrum is a bulk arc, R_bulk || CPE_bulk, and below it a constant-phase line of the blocking
interfaces, Z ~ (j w)^-n with n of 0.7-0.95, over many decades. A DRT represents a CPE line by a
gamma that grows without bound towards slow tau, so its R_pol (1e8 ohm with a tight interval on
the LPSCl pellet of the shared real data) is an artefact of the grid's end, not a property of
the cell. What such a measurement is for is the bulk resistance.

:func:`detect_blocking` looks for that line at the low-frequency end; :func:`fit_blocking`
fits R_s + R_bulk || CPE_bulk + CPE_electrode (a "small Bayesian circuit fit"): weakly
informative priors, the posterior mode, its Laplace covariance shaping the proposal of a
random-walk Metropolis run (four chains, R-hat and ESS by ArviZ).
Written here rather than taken from impedance.py because that package fits by least squares
without a posterior; the circuit is four elements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..numerics import derive_rng

__all__ = ["detect_blocking", "fit_blocking", "blocking_impedance"]

#: The low-frequency line: at least this many decades ...
LINE_MIN_DECADES = 1.5
#: ... with a log|Z|-log f slope -n, n in this range (0.97+ is an ideal capacitor, which the
#: DRT's series C represents) ...
LINE_N_RANGE = (0.6, 0.97)
#: ... a phase that stays within this many degrees of its mean ...
LINE_PHASE_SPREAD_DEG = 8.0
#: ... and |Z| at the lowest frequency this many times the smallest Z' (the line dominates).
LINE_DOMINANCE = 30.0


def detect_blocking(frequency_hz: np.ndarray, z: np.ndarray) -> dict[str, Any]:
    """Whether the low-frequency end of a spectrum is a blocking (constant-phase) line.

    Parameters
    ----------
    frequency_hz, z
        Frequencies (Hz, any order) and complex impedance (ohm, Z'' < 0 capacitive).

    Returns
    -------
    dict
        ``blocking`` (bool), ``n`` (the line's exponent), ``decades`` (its extent),
        ``phase_deg`` (mean phase), ``dominance`` (|Z(f_min)| / min Z').
    """
    f = np.asarray(frequency_hz, dtype=float)
    z = np.asarray(z, dtype=complex)
    ok = np.isfinite(f) & np.isfinite(z) & (f > 0)
    f, z = f[ok], z[ok]
    order = np.argsort(f)
    f, z = f[order], z[order]
    phase = np.degrees(np.angle(z))
    lf, lz = np.log10(f), np.log10(np.abs(z))
    # the longest run from the lowest frequency upward whose phase stays within the spread
    end = 1
    for k in range(2, f.size + 1):
        seg = phase[:k]
        if seg.max() - seg.min() > 2 * LINE_PHASE_SPREAD_DEG:
            break
        end = k
    decades = float(lf[end - 1] - lf[0]) if end > 1 else 0.0
    n = float(-np.polyfit(lf[:end], lz[:end], 1)[0]) if end >= 3 else float("nan")
    dominance = float(np.abs(z[0]) / max(np.min(z.real), 1e-300))
    mean_phase = float(np.mean(phase[:end]))
    blocking = bool(decades >= LINE_MIN_DECADES and np.isfinite(n)
                    and LINE_N_RANGE[0] <= n <= LINE_N_RANGE[1]
                    and mean_phase < -45.0 and dominance >= LINE_DOMINANCE)
    return {"blocking": blocking, "n": round(n, 4) if np.isfinite(n) else None,
            "decades": round(decades, 2), "phase_deg": round(mean_phase, 2),
            "dominance": round(dominance, 1)}


def blocking_impedance(frequency_hz: np.ndarray, r_s: float, r_bulk: float, tau_bulk: float,
                       n_bulk: float, q_el: float, n_el: float) -> np.ndarray:
    """R_s + R_bulk / (1 + (j w tau_bulk)^n_bulk) + 1 / (q_el (j w)^n_el)."""
    jw = 1j * 2 * np.pi * np.asarray(frequency_hz, dtype=float)
    return r_s + r_bulk / (1 + (jw * tau_bulk) ** n_bulk) + 1.0 / (q_el * jw**n_el)


_NAMES = ("r_s_ohm", "r_bulk_ohm", "tau_bulk_s", "n_bulk", "q_el", "n_el", "sigma_rel")


def _unpack(x: np.ndarray) -> tuple[float, ...]:
    # unconstrained: ln r_s, ln r_bulk, ln tau, logit n_bulk, ln q_el, logit n_el, ln sigma
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    return (np.exp(x[0]), np.exp(x[1]), np.exp(x[2]), 0.4 + 0.6 * sig(x[3]), np.exp(x[4]),
            0.4 + 0.6 * sig(x[5]), np.exp(x[6]))


def _log_post(x: np.ndarray, f: np.ndarray, z: np.ndarray, scale: float) -> float:
    r_s, r_b, tau, n_b, q, n_e, sig = _unpack(x)
    model = blocking_impedance(f, r_s, r_b, tau, n_b, q, n_e)
    sd = sig * np.abs(z)
    res = np.r_[(z.real - model.real) / sd, (z.imag - model.imag) / sd]
    loglik = -0.5 * np.sum(res**2) - 2 * np.sum(np.log(sd))
    # priors: resistances log-normal around the data's scale (sd 3 in ln: 20x either way at
    # 1 sd), tau log-normal over the measured window, exponents uniform on (0.4, 1) (the
    # logit's Jacobian), relative noise log-normal around 1 %
    lp = (-0.5 * ((x[0] - np.log(scale)) / 3) ** 2 - 0.5 * ((x[1] - np.log(scale)) / 3) ** 2
          - 0.5 * ((x[2] + np.log(2 * np.pi * np.sqrt(f.max() * f.min()))) / 4) ** 2
          - 0.5 * (x[4] / 10) ** 2 - 0.5 * ((x[6] - np.log(0.01)) / 2) ** 2)
    for v in (x[3], x[5]):
        lp += -v - 2 * np.log1p(np.exp(-v))
    return float(loglik + lp)


def fit_blocking(frequency_hz: np.ndarray, z: np.ndarray, *, n_draws: int = 3000,
                 seed: int = 0) -> dict[str, Any]:
    """Bayesian fit of R_s + R_bulk || CPE + CPE_electrode: posterior medians and 95 % HDIs.

    Parameters
    ----------
    frequency_hz, z
        The spectrum (Hz; ohm, capacitive Z'' < 0).
    n_draws
        Draws per chain (4 chains).
    seed
        Seed of the chains.

    Returns
    -------
    dict
        Each of ``r_s_ohm``, ``r_bulk_ohm``, ``tau_bulk_s``, ``n_bulk``, ``q_el``, ``n_el``,
        ``sigma_rel`` as ``{"median", "hdi95"}``; ``rhat_max``, ``ess_bulk_min`` and
        ``method``.
    """
    from scipy.optimize import minimize

    from ..numerics import hdi as _hdi

    f = np.asarray(frequency_hz, dtype=float)
    z = np.asarray(z, dtype=complex)
    ok = np.isfinite(f) & np.isfinite(z) & (f > 0)
    f, z = f[ok], z[ok]
    # start: R_bulk from the plateau of Z' between the arc and the line (Z' where -Z'' is
    # smallest), n_el and q_el from the lowest frequency, tau_bulk from the arc's top
    k_min = int(np.argmin(-z.imag))
    r_b0 = max(float(z.real[k_min]), 1e-6)
    lo = int(np.argmin(f))
    n_e0 = float(np.clip(-np.angle(z[lo]) / (np.pi / 2), 0.45, 0.99))
    q0 = float(1.0 / (np.abs(z[lo]) * (2 * np.pi * f[lo]) ** n_e0))
    high = f > f[k_min]
    tau0 = (1.0 / (2 * np.pi * f[high][np.argmax(-z.imag[high])]) if high.any()
            else 1.0 / (2 * np.pi * f.max()))
    logit = lambda p: np.log((p - 0.4) / (1.0 - p))  # noqa: E731
    x0 = np.array([np.log(max(0.01 * r_b0, 1e-9)), np.log(r_b0), np.log(tau0), logit(0.85),
                   np.log(q0), logit(n_e0), np.log(0.01)])
    scale = float(np.median(np.abs(z)))
    neg = lambda x: -_log_post(x, f, z, scale)  # noqa: E731
    best = None
    for start in (x0, x0 + np.array([2.0, 0, 0.5, 0, 0, 0, 0])):
        r = minimize(neg, start, method="Nelder-Mead",
                     options={"maxiter": 20000, "xatol": 1e-7, "fatol": 1e-9})
        r = minimize(neg, r.x, method="BFGS")
        if best is None or r.fun < best.fun:
            best = r
    x_map = best.x
    h = _hessian(neg, x_map)
    vals, vecs = np.linalg.eigh(h)
    vals = np.maximum(vals, 1e-8)
    cov = (vecs / vals) @ vecs.T
    draws, rhat, ess = _metropolis(lambda x: -neg(x), x_map, cov, n_draws=n_draws, seed=seed)
    draws = np.array([_unpack(x) for x in draws])
    out: dict[str, Any] = {}
    for j, name in enumerate(_NAMES):
        out[name] = {"median": float(np.median(draws[:, j])), "hdi95": _hdi(draws[:, j])}
    out["rhat_max"] = round(rhat, 4)
    out["ess_bulk_min"] = round(ess, 1)
    out["method"] = "random-walk Metropolis, 4 chains, proposal from the Laplace covariance"
    return out


def _metropolis(log_p: Any, x0: np.ndarray, cov: np.ndarray, *, n_draws: int, seed: int,
                chains: int = 4, tune: int = 2000) -> tuple[np.ndarray, float, float]:
    """Random-walk Metropolis with a Gaussian proposal shaped by ``cov`` (scaled in warm-up).

    Why not NUTS: seven parameters whose posterior the Laplace covariance already shapes; a
    compiled PyMC model would cost more to build than this costs to run. R-hat and bulk ESS
    come from ArviZ, so the same gate numbers as every other fit apply.
    """
    from ..inference import chain_diagnostics

    d = x0.size
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(d))
    out = np.empty((chains, n_draws, d))
    for c in range(chains):
        rng = derive_rng(seed, c)
        x = x0 + chol @ rng.standard_normal(d) * 0.5
        lp = log_p(x)
        step = 2.38 / np.sqrt(d)
        acc = 0
        for t in range(tune + n_draws):
            prop = x + step * (chol @ rng.standard_normal(d))
            lp_p = log_p(prop)
            if np.log(rng.uniform()) < lp_p - lp:
                x, lp = prop, lp_p
                acc += 1
            if t < tune and (t + 1) % 100 == 0:
                # tune the scale towards ~25 % acceptance
                rate = acc / 100
                step *= float(np.exp(rate - 0.25))
                acc = 0
            if t >= tune:
                out[c, t - tune] = x
    rhat, ess = chain_diagnostics([out[..., j] for j in range(d)])
    return out.reshape(-1, d), float(rhat), float(ess)


def _hessian(fun: Any, x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function (7 parameters: 4 n^2 evaluations)."""
    n = x.size
    h = np.zeros((n, n))
    e = np.eye(n) * step
    for i in range(n):
        for j in range(i, n):
            v = (fun(x + e[i] + e[j]) - fun(x + e[i] - e[j]) - fun(x - e[i] + e[j])
                 + fun(x - e[i] - e[j])) / (4 * step**2)
            h[i, j] = h[j, i] = v
    return h
