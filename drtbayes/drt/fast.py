"""Approximate posterior for ``fast=True``: MAP plus Laplace in the unconstrained space.

The mode of the log posterior is found with L-BFGS on the same compiled log density nutpie
samples (so the model is defined once); the Hessian at the mode comes from central finite
differences of the exact gradient. Draws from the Gaussian N(mode, -H^-1) are pushed through
the model's transforms (log for the positive parameters) by nutpie's expand function, so every
derived quantity is computed exactly as for NUTS draws. The result is labelled
``method="laplace"``: it ignores skewness (e.g. of gamma's tails and of the noise parameters)
and is meant for a first look.

Hierarchical models have no useful joint mode: along the ridge where the design-level ln gamma
falls and every cell's deviation rises by the same amount, the joint density keeps growing with
the cell-to-cell sd, so the mode search ended on the bounds (on the demo's groups: cell sd 0.9
against NUTS' 0.02-0.05, smoothness 2.1, and a design-level DRT 3-6x below its cells). There the
cell sd is set to the maximum of its Laplace-approximated marginal posterior (empirical Bayes,
as INLA does; see :func:`_empirical_bayes_mode`) and everything else, the smoothness included,
is drawn from the Gaussian at its conditional mode. On the same groups: cell sd 0.018-0.044,
smoothness ~2.5, the design-level DRT where its cells are. (Taking the smoothness by empirical
Bayes as well gives NUTS-like values, 8-9, but the Gaussian then lets grid-scale wiggles of
ln gamma through that exp() turns into a ~2 % upward bias of the predicted impedance: the log
importance ratios of its draws spread by ~300 against ~13 with the smoothness at its mode.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import optimize

from ..inference.laplace import EIGENVALUE_FLOOR, finite_difference_hessian, gaussian_draws
from ..inference.packed import pack_values

__all__ = ["laplace_draws", "empirical_bayes_hyperparameters"]


def _set_shared(compiled: Any, values: dict[str, np.ndarray]) -> None:
    values = pack_values(values)
    if hasattr(compiled, "set_shared"):  # a WhitenedCompiled: its functions work in x
        compiled.with_data(**values).set_shared()
        return
    for var in compiled.shared_var_keys:
        if var.name in values:
            old = var.get_value()
            var.set_value(np.asarray(values[var.name], dtype=old.dtype))


def _negative_log_density(compiled: Any, values: dict[str, np.ndarray]
                          ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """-log p and its gradient at an unconstrained point, with ``values`` as the model's data.

    A non-finite log density (outside the support, overflow) becomes a huge value with a zero
    gradient, so that line searches step back instead of failing.
    """
    _set_shared(compiled, values)
    fn = compiled.logp_func
    n = compiled.n_dim

    def neg(x: np.ndarray) -> tuple[float, np.ndarray]:
        lp, g = fn(x)
        lp = float(lp)
        if not np.isfinite(lp):
            return 1e300, np.zeros(n)
        return -lp, -np.asarray(g, dtype=float)

    return neg


def initial_point(compiled: Any, values: dict[str, np.ndarray],
                  smoothness: float, preset: dict[str, Any] | None = None) -> np.ndarray:
    """Find a start point near the data: non-negative least squares for gamma, R_inf, L and 1/C.

    Starting the mode search at the prior's level (a straight ln gamma) lands in the funnel
    neck of the smoothness hyperparameter (a spurious mode with smoothness -> 0 that explains
    the data as noise); starting from a least-squares DRT avoids it.
    """
    from scipy.optimize import nnls

    mask = values["obs_mask"].astype(bool)
    names, slices, _ = compiled.shape_info
    x = np.zeros(compiled.n_dim)
    n_spec = mask.shape[0]
    f_rows, r_inf, l_rel, el, resid_sd = [], [], [], [], []
    for s in range(n_spec):
        m = mask[s]
        kr, ki = values["k_real"][m], values["k_imag"][m]
        n_tau = kr.shape[1]
        ones, zeros = np.ones(m.sum()), np.zeros(m.sum())
        a = np.block([[kr, ones[:, None], zeros[:, None], zeros[:, None]],
                      [ki, zeros[:, None], values["omega_rel"][m][:, None],
                       -values["inv_omega_rel"][m][:, None]]])
        b = np.concatenate([values["z_real_obs"][s][m], values["z_imag_obs"][s][m]])
        w = 1.0 / np.concatenate([values["abs_z_obs"][s][m]] * 2)
        ridge = 1e-2 * np.eye(n_tau + 3)[:n_tau]
        sol, _ = nnls(np.vstack([a * w[:, None], ridge]),
                      np.concatenate([b * w, np.zeros(n_tau)]), maxiter=50 * (n_tau + 3))
        g = sol[:n_tau]
        # ln gamma of a least-squares DRT is spiky; smooth it and floor it at the prior level
        g_s = np.convolve(np.pad(g, 3, mode="edge"), np.ones(7) / 7, mode="valid")
        f_rows.append(np.log(np.maximum(g_s, np.exp(values["level_mean"]))))
        r_inf.append(max(sol[n_tau], 1e-3))
        l_rel.append(max(sol[n_tau + 1], 1e-4))
        el.append(max(sol[n_tau + 2], 1e-4))
        resid_sd.append(max(float(np.std((a @ sol - b) * w)), 1e-3))
    init = {"f_group": np.array(f_rows), "smoothness": smoothness, "r_inf_rel": np.array(r_inf),
            "l_rel": np.array(l_rel), "elastance_rel": np.array(el),
            "sigma_const": 1e-3 * np.ones(n_spec), "sigma_prop": np.array(resid_sd)}
    f_rows = np.array(f_rows)
    gidx = values.get("group_index", np.arange(n_spec))
    n_group = int(gidx.max()) + 1
    init["f_group"] = np.array([f_rows[gidx == g].mean(0) for g in range(n_group)])
    init["smoothness"] = np.full(n_group, float(smoothness))
    sd = np.asarray(values["smoothness_log_sd"], dtype=float)
    init["smoothness_z"] = np.where(
        sd > 0, (np.log(smoothness) - values["smoothness_log_mu"]) / np.where(sd > 0, sd, 1.0),
        0.0)
    if preset is not None:
        from .model import field_parameterization, field_to_raw

        if field_parameterization(preset) == "noncentered":
            init.update(field_to_raw(init["f_group"], values["level_mean"], smoothness,
                                     preset))
    for name, sl in zip(names, slices, strict=True):
        if sl.start >= compiled.n_dim:
            break  # the rest of the expanded vector is constrained values and deterministics
        base = name[:-len("_log__")] if name.endswith("_log__") else name
        if base not in init:
            continue
        val = np.asarray(init[base], dtype=float).ravel()
        if val.size != sl.stop - sl.start:
            continue
        x[sl] = np.log(val) if name.endswith("_log__") else val
    return x


def _hyper_bounds(compiled: Any, preset: dict[str, Any] | None) -> np.ndarray:
    """Bounds (n, 2) for the mode search: the hyperparameters stay in their prior's bulk.

    The joint posterior of a hierarchical model has no proper mode: the smoothness can run to
    zero (a straight design-level ln gamma, whose prior density then grows without bound) while
    the cell deviations take over the shape. Holding log smoothness within 2.5 prior sd of its
    prior median, and the cell deviation sd below 3 prior scales, keeps the Laplace centre at
    a meaningful point; NUTS needs no such bounds.
    """
    n = compiled.n_dim
    b = np.tile([-np.inf, np.inf], (n, 1))
    if preset is None:
        return b
    names, slices, _ = compiled.shape_info
    for name, sl in zip(names, slices, strict=True):
        if sl.start >= n:
            break
        if name == "smoothness_z":  # ln smoothness in prior sd from the prior median
            b[sl] = (-2.5, 2.5)
        elif name == "cell_sd_raw_log__":  # cell sd in units of its prior scale
            b[sl] = (-np.inf, float(np.log(3.0)))
    return b


def _on_bound(x: np.ndarray, bounds: np.ndarray) -> bool:
    finite = np.isfinite(bounds)
    return bool(np.any(np.isclose(x[:, None], bounds, atol=1e-6) & finite))


def laplace_draws(compiled: Any, values: dict[str, np.ndarray], *, n_draws: int, seed: int,
                  n_starts: int = 1, smoothness0: float = 7.0,
                  preset: dict[str, Any] | None = None
                  ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Laplace-approximation draws of every model variable.

    Parameters
    ----------
    compiled
        ``nutpie.compile_pymc_model`` output of the model.
    values
        Values of the model's ``pm.Data`` containers for this fit.
    n_draws
        Number of draws.
    seed
        Seed of the start points and of the Gaussian draws.
    n_starts
        Optimiser restarts from jittered start points; the best mode is kept.

    Returns
    -------
    draws
        Variable name -> array with leading (chain=1, draw) axes, constrained space.
    info
        ``logp_map``, ``converged``, ``n_dim``, ``min_eig`` (smallest eigenvalue of -H before
        regularisation).
    """
    neg = _negative_log_density(compiled, values)
    n = compiled.n_dim
    rng = np.random.default_rng(seed)

    def hess_at(x: np.ndarray) -> np.ndarray:
        return finite_difference_hessian(neg, x)  # 2 n gradient calls (~2 ms for n ~ 70)

    bounds = _hyper_bounds(compiled, preset)
    names, slices, _ = compiled.shape_info
    if "cell_sd_raw_log__" in names:  # a hierarchical model: its cell sd (a scalar) by EB
        cell_sd = slices[names.index("cell_sd_raw_log__")].start
        return _laplace_empirical_bayes(compiled, values, neg, n_draws=n_draws, rng=rng,
                                        smoothness0=smoothness0, preset=preset,
                                        hyper=cell_sd, bounds=bounds)
    best = None
    for k in range(n_starts):
        x0 = initial_point(compiled, values, smoothness0, preset)
        if k:
            x0 = x0 + 0.1 * rng.standard_normal(n)
        # The posterior is badly scaled (gamma's tails vs the data-pinned peak): L-BFGS gets
        # near the mode cheaply but crawls at the end, and a trust-region Newton method with
        # the finite-difference Hessian (2 n gradients per iteration) converges from there in
        # a few iterations but is far too slow from a distant start when n is in the hundreds
        # (a stack of spectra). So: L-BFGS first, then a short Newton polish.
        pre = optimize.minimize(neg, np.clip(x0, *bounds.T), jac=True, method="L-BFGS-B",
                                bounds=bounds,
                                options={"maxiter": 5000, "maxcor": 30, "ftol": 1e-12,
                                         "gtol": 1e-6})
        res = pre
        if not _on_bound(pre.x, bounds):
            polish = optimize.minimize(lambda x: neg(x)[0], pre.x, jac=lambda x: neg(x)[1],
                                       hess=hess_at, method="trust-exact",
                                       options={"maxiter": 8, "gtol": 1e-6})
            if polish.fun < pre.fun and not _on_bound(polish.x, bounds):
                res = polish
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    x_map = best.x
    # the one Laplace approximation and its eigenvalue floor (drtbayes.inference.laplace)
    xs, min_eig = gaussian_draws(x_map, hess_at(x_map), n_draws, rng)

    info = {"logp_map": -float(best.fun), "converged": bool(best.success), "n_dim": n,
            "min_eig": min_eig}
    return _expand(compiled, xs), info


def _floored_eigh(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Eigenvalues (floored), eigenvectors and the smallest raw eigenvalue of a Hessian.

    Directions the data and prior barely curve (or numerically negative ones) get a floor of
    1e-6 x the largest curvature so the Gaussian stays proper; they are prior-dominated tails
    of gamma.
    """
    vals, vecs = np.linalg.eigh(h)
    return np.maximum(vals, 1e-6 * max(float(vals.max()), 1.0)), vecs, float(vals.min())


def _expand(compiled: Any, xs: np.ndarray) -> dict[str, np.ndarray]:
    """Unconstrained draws (draw, n_dim) -> every model variable, leading (chain=1, draw) axes."""
    names, slices, shapes = compiled.shape_info
    expanded = np.array([np.asarray(compiled.expand_func(x)[0]) for x in xs])
    draws: dict[str, np.ndarray] = {}
    for name, sl, shape in zip(names, slices, shapes, strict=True):
        if name.endswith("__"):
            continue  # the unconstrained copies
        draws[name] = expanded[:, sl].reshape((1, xs.shape[0], *tuple(int(s) for s in shape)))
    return draws


def _laplace_empirical_bayes(compiled: Any, values: dict[str, np.ndarray], neg: Any, *,
                             n_draws: int, rng: np.random.Generator, smoothness0: float,
                             preset: dict[str, Any] | None, hyper: int,
                             bounds: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Laplace draws of a hierarchical model, its cell sd (coordinate ``hyper``) by EB."""
    x0 = initial_point(compiled, values, smoothness0, preset)
    x0[hyper] = float(np.log(0.674))  # the cell sd (in prior scales) at its prior median
    x, w, vecs, ok, (n_hyper, n_newton, n_inexact) = _empirical_bayes_mode(neg, x0, [hyper],
                                                                           bounds)
    rest = np.delete(np.arange(x.size), hyper)
    z = rng.standard_normal((n_draws, rest.size))
    xs = np.repeat(x[None, :], n_draws, axis=0)
    # the draws take the one Laplace floor (drtbayes.inference.laplace); the mode search above
    # keeps its own regularisation of the Newton steps and of the marginal's log determinant
    xs[:, rest] += (z / np.sqrt(np.maximum(w, EIGENVALUE_FLOOR))[None, :]) @ vecs.T
    info = {"logp_map": -float(neg(x)[0]), "converged": bool(ok), "n_dim": x.size,
            "min_eig": float(w.min()), "hyperparameters": "empirical Bayes",
            "hyper_evaluations": n_hyper, "newton_steps": n_newton,
            "inexact_evaluations": n_inexact}
    return _expand(compiled, xs), info


# over 80 lines by its comments and docstring (the body, ~65 lines, is one search)
def _empirical_bayes_mode(neg: Any, x0: np.ndarray, hypers: Sequence[int], bounds: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, tuple[int, int]]:
    """Maximise the Laplace-approximated marginal posterior of one or two hyperparameters.

    For the hyperparameters h (coordinates ``hypers``: log cell sd, smoothness z) the other
    parameters y are set to their conditional mode y(h) by damped Newton steps projected into
    ``bounds`` (warm-started from the best h so far), and log p(h | data) ~ log p(y(h), h |
    data) - 1/2 log det H_yy(h); a bounded Brent search (one h) or Nelder-Mead (two) maximises
    that. Why Newton and not L-BFGS: the conditional posterior is badly scaled (L-BFGS needed
    ~1600 iterations per h), while the finite-difference Hessian costs only ~2 (n - 1)
    gradients (~10 ms) and Newton converges from a warm start in ~6 steps (a 2-spectrum group:
    ~10 evaluations of h, ~75 Newton steps, ~1 s).

    Returns the mode x (with h in place), the floored eigenvalues and eigenvectors of H_yy
    there, whether the search over h and the conditional mode at its result converged, and the
    numbers of evaluations of h, of Newton steps and of evaluations whose conditional mode
    stopped short of the tolerance (40 steps). Those last still enter the search: on the quiet
    BioLogic test file the five that stopped short were within a Newton decrement of 0.003-0.007
    of their mode (f within ~0.004), far below the differences in log p(h) the search resolves.
    """
    hypers = np.asarray(hypers, dtype=int)
    rest = np.delete(np.arange(x0.size), hypers)
    state: dict[str, Any] = {"n": 0, "inexact": 0, "newton": 0, "best": np.inf}

    def conditional_mode(x: np.ndarray, max_steps: int = 40
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        f, g = neg(x)
        for _ in range(max_steps):
            w, v, _ = _floored_eigh(finite_difference_hessian(neg, x, rest))
            step = v @ ((v.T @ g[rest]) / w)
            decrement = float(g[rest] @ step)
            state["newton"] += 1
            if decrement < 1e-3:   # half of it estimates f - min f: well below what h needs
                return x, w, v, True
            t = 1.0
            while t > 1e-6:
                x_new = x.copy()
                x_new[rest] -= t * step
                x_new = np.clip(x_new, bounds[:, 0], bounds[:, 1])
                f_new, g_new = neg(x_new)
                if f_new <= f - 1e-4 * t * decrement:
                    break
                t *= 0.5
            else:
                return x, w, v, False
            x, f, g = x_new, f_new, g_new
        w, v, _ = _floored_eigh(finite_difference_hessian(neg, x, rest))
        return x, w, v, False

    # a log cell sd has no lower bound: below 0.1 % there is no deviation to speak of
    lo = np.where(np.isfinite(bounds[hypers, 0]), bounds[hypers, 0], np.log(1e-3))
    hi = bounds[hypers, 1]
    x_start = x0.copy()
    x_start[hypers] = np.clip(x0[hypers], lo, hi)
    state["x"] = conditional_mode(x_start, max_steps=100)[0]

    def neg_marginal(h: np.ndarray | float) -> float:
        x = state["x"].copy()
        x[hypers] = np.clip(np.atleast_1d(h), lo, hi)
        x, w, _, ok = conditional_mode(x)
        state["n"] += 1
        state["inexact"] += 0 if ok else 1
        val = float(neg(x)[0]) + 0.5 * float(np.sum(np.log(w)))
        if val < state["best"]:
            state["best"], state["x"] = val, x
        return val

    if hypers.size == 1:
        res = optimize.minimize_scalar(neg_marginal, method="bounded",
                                       bounds=(float(lo[0]), float(hi[0])),
                                       options={"xatol": 0.05, "maxiter": 30})
        h_best = np.atleast_1d(res.x)
    else:
        res = optimize.minimize(neg_marginal, np.clip(x0[hypers], lo, hi), method="Nelder-Mead",
                                bounds=list(zip(lo, hi, strict=True)),
                                options={"xatol": 0.05, "fatol": 1e-3, "maxiter": 80,
                                         "initial_simplex": _simplex(np.clip(x0[hypers], lo,
                                                                             hi), 0.5)})
        h_best = np.asarray(res.x)
    x = state["x"].copy()
    x[hypers] = h_best
    x, w, v, ok = conditional_mode(x)
    return x, w, v, bool(res.success and ok), (int(state["n"]), int(state["newton"]),
                                                int(state["inexact"]))


def _simplex(x0: np.ndarray, step: float) -> np.ndarray:
    """Nelder-Mead start simplex: x0 and x0 + step along each axis."""
    return np.vstack([x0, x0 + step * np.eye(x0.size)])


def empirical_bayes_hyperparameters(compiled: Any, values: dict[str, np.ndarray],
                                    preset: dict[str, Any]
                                    ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """Find the smoothness (and a hierarchical group's cell sd) at their marginal posterior mode.

    For a model of one group (one spectrum, or one hierarchical (design, SOC) group): all other
    parameters are integrated out by a Laplace approximation at their conditional mode, and the
    marginal posterior of the hyperparameters, hyperpriors included, is maximised (type-II MAP,
    as in the hierarchical Bayesian DRT of Effat & Ciucci 2017). Why not sample them: their
    posteriors are close to their priors, and NUTS moves a scale hyperparameter of ~60 field
    values slowly (E-BFMI 0.2-0.3, bulk ESS 130-330 of 4000 draws on the 2-ZARC benchmark,
    divergences in the upper tail of a cell sd), while conditional on them the field mixes
    well (bulk ESS ~1000-2000, no divergences; docs/model.md, "Hyperparameters").

    Returns
    -------
    fixed_values
        The ``pm.Data`` entries that fix the hyperparameters at the mode (``smoothness_log_mu``
        and ``smoothness_log_sd`` = 0; ``cell_sd_fixed`` and ``cell_sd_scale`` = 0).
    x
        The conditional mode of all other coordinates there (unconstrained space), with the
        now decoupled ``smoothness_z`` and ``cell_sd_raw`` coordinates at their prior centre.
    info
        ``smoothness``, ``cell_sd`` (hierarchical), ``converged`` (the search and the
        conditional mode at its result), ``hyper_evaluations``, ``newton_steps``,
        ``inexact_evaluations``.
    """
    neg = _negative_log_density(compiled, values)
    names, slices, _ = compiled.shape_info
    sl = slices[names.index("smoothness_z")]
    if sl.stop - sl.start != 1:
        raise ValueError("empirical_bayes_hyperparameters needs a model of one group")
    hypers = [sl.start]
    bounds = _hyper_bounds(compiled, preset)
    mu = float(np.ravel(values["smoothness_log_mu"])[0])
    sd = float(np.ravel(values["smoothness_log_sd"])[0])
    x0 = initial_point(compiled, values, float(np.exp(mu)), preset)
    hierarchical = "cell_sd_raw_log__" in names
    if hierarchical:   # initial_point leaves the cell sd at 1 prior scale: its prior median
        i_cell = slices[names.index("cell_sd_raw_log__")].start
        x0[i_cell] = float(np.log(0.674))
        hypers.append(i_cell)
    x, _, _, ok, (n_hyper, n_newton, n_inexact) = _empirical_bayes_mode(neg, x0, hypers, bounds)
    log_s = mu + sd * float(x[hypers[0]])
    fixed = {"smoothness_log_mu": np.full(1, log_s), "smoothness_log_sd": np.zeros(1)}
    info: dict[str, Any] = {"smoothness": float(np.exp(log_s))}
    x = x.copy()
    x[hypers[0]] = 0.0
    if hierarchical:
        cell_sd = float(values["cell_sd_scale"]) * float(np.exp(x[hypers[1]]))
        fixed.update(cell_sd_fixed=np.float64(cell_sd), cell_sd_scale=np.float64(0.0))
        info["cell_sd"] = cell_sd
        x[hypers[1]] = float(np.log(0.674))
    info.update(converged=bool(ok), hyper_evaluations=n_hyper, newton_steps=n_newton,
                inexact_evaluations=n_inexact)
    return fixed, x, info
