"""``fast=True`` of the SOC model: MAP plus the one Laplace approximation (drtbayes.inference)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import xarray as xr

from ..errors import ApproximationWarning, DrtbayesError
from ..inference import finite_difference_hessian, gaussian_draws, model_cache
from ..inference.packed import PACKED_NAME, pack_values
from .model import FREE_VARS

__all__ = ["sample_laplace"]

# model key -> (logp/dlogp, constrained-value map, start point, packed container)
_LAPLACE_CACHE = model_cache("soc-laplace")

def _laplace_functions(model, key: tuple) -> tuple[Any, ...]:
    """Compiled (logp, dlogp), the constrained-value map and the start point of a model.

    Compiled once per model structure and data layout (like the NUTS path): later components
    and studies of the same shape only swap the packed data, instead of recompiling three
    functions per component (~3 s each).
    """
    from pymc.blocking import DictToArrayBijection

    cached = _LAPLACE_CACHE.get(key)
    if cached is None:
        value_vars = model.value_vars
        vg = model.logp_dlogp_function(ravel_inputs=True)
        vg.set_extra_values({})
        to_constrained = model.compile_fn(
            model.replace_rvs_by_values([model[name] for name in FREE_VARS]),
            inputs=value_vars,
            point_fn=False,
            on_unused_input="ignore",
        )
        start = model.initial_point(random_seed=0)
        x0 = DictToArrayBijection.map({v.name: start[v.name] for v in value_vars})
        cached = (vg, to_constrained, x0, model[PACKED_NAME])
        _LAPLACE_CACHE[key] = cached
    return cached


def sample_laplace(model: Any, obs: dict, key: tuple, *, draws: int, seed: int
                   ) -> tuple[dict, xr.Dataset | None]:
    """MAP plus a Gaussian at the mode in the unconstrained space (Jacobian included).

    Parameters
    ----------
    model
        The component's PyMC model (:func:`drtbayes.soc.model.build_model`).
    obs
        Its data arrays (packed into the model's one container).
    key
        Compiled-function cache key (structure and data layout).
    draws, seed
        Number of draws and their seed.

    Returns
    -------
    params, None
        Parameter name -> draws with leading (chain=1, draw) axes; no sampler stats.
    """
    from pymc.blocking import DictToArrayBijection, RaveledVars
    from scipy.optimize import minimize

    vg, to_constrained, x0, shared = _laplace_functions(model, key)
    shared.set_value(pack_values(obs)[PACKED_NAME])

    def unravel(x):
        return DictToArrayBijection.rmap(RaveledVars(x, x0.point_map_info))

    def neg(x):
        lp, grad = vg(x)
        return -float(lp), -np.asarray(grad, dtype=float)

    # the start point is the prior's centre, whose level is this component's data mean
    start = unravel(x0.data)
    start["level"] = np.broadcast_to(obs["level_mu"][None, :], start["level"].shape).copy()
    x_start = DictToArrayBijection.map(start).data
    opt = minimize(neg, x_start, jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    hessian = finite_difference_hessian(neg, opt.x)
    # the one Laplace approximation and its eigenvalue floor (drtbayes.inference.laplace):
    # a component the data show flat and alike for both designs (R1) drives the wiggle scale
    # to 0, where log rw2_sd has no curvature, and an unfloored Gaussian there overflows
    x_draws, min_eig = gaussian_draws(opt.x, hessian, draws, np.random.default_rng(seed))
    if not opt.success or min_eig <= 0:
        n_bad = int(np.sum(np.linalg.eigvalsh(hessian) <= 0))
        warnings.warn(
            f"Laplace approximation of the SOC model is unreliable (optimizer: {opt.message}; "
            f"{n_bad} non-positive Hessian eigenvalues); use NUTS (fast=False)",
            ApproximationWarning,
            stacklevel=3,
        )
    out = {name: [] for name in FREE_VARS}
    for x in x_draws:
        vals = to_constrained(**unravel(x))
        for name, v in zip(FREE_VARS, vals, strict=True):
            out[name].append(np.asarray(v))
    params = {name: np.stack(v)[None, ...] for name, v in out.items()}  # chain of length 1
    bad = [name for name, v in params.items() if not np.all(np.isfinite(v))]
    if bad:  # never pass non-finite draws on: every summary and contrast would be wrong
        raise DrtbayesError(f"Laplace draws of the SOC model are not finite ({', '.join(bad)}); "
                            "refit without --fast (NUTS)")
    return params, None
