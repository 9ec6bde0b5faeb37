"""A model sampled in coordinates whitened by a Laplace approximation.

Why: nutpie's warm-up starts from a unit mass matrix and learns the posterior's scales and
correlations from the draws. The DRT posterior's unconstrained coordinates differ in scale by
~2.5 decades (Hessian eigenvalues 0.06 to 3.5e5 at the mode on the 2-ZARC benchmark) and
neighbouring ln gamma values are strongly correlated, so the first ~50 warm-up draws ran trees
of up to 1023 leapfrog steps: warm-up took ~60 % of a fit's gradient evaluations. With the
hyperparameters fixed by empirical Bayes the conditional mode and its Hessian H are already at
hand, and sampling z with x = x_mode + L z (L L' = H^-1) starts the sampler in a space whose
scales are about one everywhere. The posterior is the same; only the sampler's coordinates
change. nutpie has no option for a dense initial mass matrix, hence this.

The whitened model has one flat free vector ``z_white`` (no variables to expand): the draws of
the original model follow from x = shift + L z and the original model's own expansion.
Everything it needs at run time (the original model's data, the shift and L) lives in one
``pm.Data`` container, so one compiled whitened model serves every same-shaped fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .packed import PACKED_NAME

__all__ = ["WHITENED_DATA", "WhitenedCompiled", "whitened_model", "whitened_data",
           "laplace_whitening", "draws_in_original"]

#: Name of the whitened model's one ``pm.Data`` container.
WHITENED_DATA = "whitened_data"
#: Name of its free vector.
Z_NAME = "z_white"


def whitened_model(model: Any) -> Any:
    """Return the model in coordinates z, x = shift + chol @ z (x: nutpie's unconstrained vector).

    ``model`` must keep all its data in the one packed container of ``drtbayes._packed``.
    The whitened model's container holds that container's values, then shift (n), then chol
    (n x n, row-major): see :func:`whitened_data`.
    """
    import pymc as pm
    from pytensor.graph.replace import graph_replace

    value_vars = [model.rvs_to_values[rv] for rv in model.free_RVs]
    point = model.initial_point()
    shapes = [tuple(int(s) for s in np.shape(point[v.name])) for v in value_vars]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    n = int(sum(sizes))
    packed = [v for v in model.data_vars if v.name == PACKED_NAME]
    if len(packed) != 1 or len(model.data_vars) != 1:
        raise ValueError("whitened_model needs a model whose data are in one packed container")
    packed_var = packed[0]
    n_data = int(np.size(packed_var.get_value()))
    # the original model's variables in its own expansion order: its free (unconstrained)
    # vector first, then the constrained values and deterministics
    outputs = model.unobserved_value_vars
    with pm.Model() as white:
        flat = pm.Data(WHITENED_DATA, np.concatenate(
            [packed_var.get_value(), np.zeros(n), np.eye(n).ravel()]))
        shift = flat[n_data:n_data + n]
        chol = flat[n_data + n:].reshape((n, n))
        z = pm.Flat(Z_NAME, shape=n)
        x = shift + chol @ z
        replace: dict[Any, Any] = {packed_var: flat[:n_data]}
        offset = 0
        for var, shape, size in zip(value_vars, shapes, sizes, strict=True):
            replace[var] = x[offset:offset + size].reshape(shape)
            offset += size
        # graph_replace, not clone_replace: the latter would copy z's RV node too, and PyMC
        # would no longer see it as the model's free variable
        log_density, *expanded = graph_replace([model.logp(), *outputs], replace, strict=False)
        pm.Potential("log_density", log_density)
        for var, value in zip(outputs, expanded, strict=True):
            pm.Deterministic(var.name, value)
    return white


def whitened_data(packed: np.ndarray, shift: np.ndarray, chol: np.ndarray
                  ) -> dict[str, np.ndarray]:
    """``with_data`` values of a whitened model: the original packed data, shift and chol."""
    shift = np.asarray(shift, dtype=np.float64).ravel()
    chol = np.asarray(chol, dtype=np.float64)
    if chol.shape != (shift.size, shift.size):
        raise ValueError(f"chol has shape {chol.shape}, expected {(shift.size, shift.size)}")
    return {WHITENED_DATA: np.concatenate([np.asarray(packed, dtype=np.float64).ravel(),
                                           shift, chol.ravel()])}


def laplace_whitening(hessian: np.ndarray, floor: float = 1e-9) -> np.ndarray:
    """L with L L' = H^-1 for the Hessian H of -log p at a mode (eigenvalues floored).

    Only numerically flat or negative directions (a conditional mode that stopped at the Newton
    tolerance, finite-difference noise) get ``floor`` x the largest curvature, so L stays
    finite; the sampler's mass-matrix adaptation corrects their scale. Why so low a floor:
    with 1e-6 (0.35 on the 2-ZARC benchmark, whose curvatures span 0.06-3.5e5) the
    prior-dominated directions of the tails got too small a scale, and 4 of 6 fits of the
    reflective-Warburg test spectrum had 1-3 divergent transitions in the fast tail; with 1e-9
    none of them.
    """
    vals, vecs = np.linalg.eigh(0.5 * (hessian + hessian.T))
    vals = np.maximum(vals, floor * max(float(vals.max()), 1.0))
    return vecs / np.sqrt(vals)[None, :]


class WhitenedCompiled:
    """A compiled whitened model, seen from outside in the original model's coordinates x.

    ``logp_func``, ``expand_func``, ``shape_info`` and ``n_dim`` are those of the original
    model (the Python-side functions run with shift 0 and L = I, where z = x exactly):
    optimisers and Laplace approximations work in x as before. :meth:`sampler` gives the
    nutpie model for NUTS in z with a chosen shift and L; its trace holds every original
    variable (computed in x) next to ``z_white``.

    Parameters
    ----------
    compiled
        ``compile_model(whitened_model(model))``.
    """

    def __init__(self, compiled: Any, packed: np.ndarray | None = None) -> None:
        self._compiled = compiled
        names, slices, shapes = compiled.shape_info
        n = int(compiled.n_dim)
        (self._var,) = list(compiled.shared_var_keys)
        total = int(np.size(self._var.get_value()))
        self._n_data = total - n - n * n
        # the original layout: the expansion of the whitened model is [z, x, rest], and x's
        # slices there are the original model's own
        self.n_dim = n
        self.shape_info = (list(names[1:]), [slice(s.start - n, s.stop - n) for s in slices[1:]],
                           list(shapes[1:]))
        self._packed = (np.asarray(self._var.get_value()[:self._n_data], dtype=np.float64)
                        if packed is None else np.asarray(packed, dtype=np.float64))
        self._identity = whitened_data(self._packed, np.zeros(n), np.eye(n))

    @property
    def nutpie_model(self) -> Any:
        """The compiled whitened model as nutpie gave it."""
        return self._compiled

    def with_data(self, **values: np.ndarray) -> WhitenedCompiled:
        """Return the same compiled model with another original packed data vector."""
        if set(values) != {PACKED_NAME}:
            raise ValueError(f"with_data takes {PACKED_NAME} only, not {sorted(values)}")
        return WhitenedCompiled(self._compiled, values[PACKED_NAME])

    def set_shared(self) -> None:
        """Point the Python-side functions at this model's data (identity whitening)."""
        self._var.set_value(self._identity[WHITENED_DATA])

    def logp_func(self, x: np.ndarray) -> tuple[Any, Any]:
        """Log density and gradient at the original model's unconstrained point ``x``."""
        return self._compiled.logp_func(x)

    def expand_func(self, x: np.ndarray) -> list[np.ndarray]:
        """Every original model variable at ``x`` (nutpie's expansion, ``z_white`` dropped)."""
        return [np.asarray(self._compiled.expand_func(x)[0])[self.n_dim:]]

    def sampler(self, shift: np.ndarray | None = None, chol: np.ndarray | None = None) -> Any:
        """Return the nutpie model sampling z, x = shift + chol z (default: z = x)."""
        n = self.n_dim
        data = (self._identity if shift is None else
                whitened_data(self._packed, shift, np.eye(n) if chol is None else chol))
        return self._compiled.with_data(**data)


def draws_in_original(posterior: Any) -> dict[str, np.ndarray]:
    """Return a whitened model's posterior draws as the original model's variables.

    Drops ``z_white`` and the unconstrained copies (names ending in ``__``), as nutpie's trace
    of the original model would.
    """
    return {k: np.asarray(posterior[k].values) for k in posterior.data_vars
            if k != Z_NAME and not str(k).endswith("__")}
