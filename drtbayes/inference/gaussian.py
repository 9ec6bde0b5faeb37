"""Empirical-Bayes Gaussian linear models: the exact-posterior path of the inference backend.

A linear model ``y = X beta + e`` with a Gaussian prior on ``beta`` (a weak block and a
smoothness block of strength ``alpha``) and Gaussian noise of precision ``b`` has a Gaussian
posterior; :func:`eb_prepare` and :func:`eb_solve` set ``(alpha, b)`` by maximising the
marginal likelihood and return that posterior, :func:`cholesky_draws` samples it exactly.
The GITT split's band method (:mod:`drtbayes.split`) fits every pulse this way: no MCMC, so
no gate applies (the posterior is exact given the hyperparameters), and no Laplace step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

__all__ = ["eb_prepare", "eb_solve", "newton_min", "newton_step", "cholesky_draws"]


def eb_prepare(x: np.ndarray, y: np.ndarray, n_weak: int, q: np.ndarray,
               weak: float) -> dict[str, Any]:
    """Prepare an empirical-Bayes Gaussian linear model: the parts that do not depend on (alpha, b).

    Parameters ``beta = [weak block (n_weak), smooth block]``: weak block prior N(0, 1/weak),
    smooth block N(0, (alpha q)^-1); noise precision b. :func:`eb_solve` then maximises the
    evidence over alpha and b (or b alone at a given alpha).

    Parameters
    ----------
    x
        (n, m) design matrix.
    y
        (n,) data.
    n_weak
        Number of leading columns with the weak prior.
    q
        (m - n_weak, m - n_weak) positive definite precision shape of the smooth block.
    weak
        Prior precision of the weak block.

    Returns
    -------
    dict
        What :func:`eb_solve` needs: the exact posterior at any (log alpha, log b) and the
        generalized eigen-decomposition the evidence search runs on.
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


def eb_solve(prep: dict[str, Any], x0: tuple[float, float], log_alpha: float | None = None,
             log_beta: float | None = None) -> dict[str, Any]:
    """Maximise the evidence of a prepared model over (alpha, b), or over b at ``log_alpha``.

    Parameters
    ----------
    prep
        Output of :func:`eb_prepare`.
    x0
        Start (log alpha, log b) of the search over both.
    log_alpha
        Fixed log alpha (then only b is searched).
    log_beta
        With ``log_alpha``: fixed log b (no search; the posterior at those values).

    Returns
    -------
    dict
        ``mean`` and ``chol`` (lower Cholesky factor of the posterior precision),
        ``log_alpha``, ``log_beta``, ``log_evidence``.
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
        best = newton_min(nll, np.clip(np.array(x0, float), lo, hi), lo, hi, free=[0, 1])
        if best is None:
            res = minimize(nll, np.clip(np.array(x0, float), lo, hi), jac=True,
                           method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)),
                           options={"ftol": 1e-12, "gtol": 1e-6, "maxiter": 200})
            best = np.clip(res.x, lo, hi)
    else:
        start = np.array([log_alpha, math.log(100.0)])
        best = newton_min(nll, start, lo, hi, free=[1])
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


def newton_min(fun: Any, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               free: list[int], max_iter: int = 100) -> np.ndarray | None:
    """Minimise ``fun`` (value, gradient, Hessian) over the coordinates ``free`` within bounds.

    A damped Newton search with a backtracking line search. Written here because the evidence
    of the split's pulse models has two parameters and an exact Hessian: a general-purpose
    optimiser spent most of the split's time in its own overhead.

    Parameters
    ----------
    fun
        ``fun(x, hess=True) -> (value, gradient, Hessian or None)``.
    x0
        Start.
    lo, hi
        Bounds of every coordinate.
    free
        Indices of the coordinates searched (one or two).
    max_iter
        Most Newton steps.

    Returns
    -------
    numpy.ndarray or None
        The minimiser; None when no stationary point inside the bounds is reached, so the
        caller falls back to L-BFGS-B.
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
        step = newton_step(gf, h[np.ix_(idx, idx)] if idx.size == 1 else h)
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


def newton_step(g: np.ndarray, h: np.ndarray) -> np.ndarray | None:
    """Return -h^-1 g for a positive definite 1x1 or 2x2 ``h`` (closed form), else None.

    Parameters
    ----------
    g
        (1,) or (2,) gradient.
    h
        (1, 1) or (2, 2) Hessian.

    Returns
    -------
    numpy.ndarray or None
        The Newton step; None when ``h`` is not clearly positive definite.
    """
    if g.size == 1:
        d = float(h[0, 0])
        return -g / d if np.isfinite(d) and d > 0 else None
    a, b, c = float(h[0, 0]), float(h[0, 1]), float(h[1, 1])
    det = a * c - b * b
    # positive definite, with the smaller eigenvalue not lost in rounding
    if not (np.isfinite(det) and a > 0 and det > 1e-8 * (a + c) ** 2):
        return None
    return -np.array([c * g[0] - b * g[1], a * g[1] - b * g[0]]) / det


def cholesky_draws(fit: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draws from N(mean, H^-1) with H = L L^T: beta = mean + L^-T z.

    Parameters
    ----------
    fit
        Output of :func:`eb_solve` (``mean``, ``chol``).
    n
        Number of draws.
    rng
        Source of the standard-normal draws (one (m, n) call).

    Returns
    -------
    numpy.ndarray
        (m, n) draws, one per column.
    """
    z = rng.standard_normal((fit["mean"].size, n))
    # the factor is small (< 60 x 60): an explicit inverse is cheaper than a multi-RHS solve
    l_inv = np.linalg.inv(np.tril(fit["chol"]))
    return fit["mean"][:, None] + l_inv.T @ z
