"""The one Laplace approximation: a Gaussian at a mode in a model's unconstrained space.

Every model's ``fast=True`` path finds its mode with its own optimiser (the DRT model with
L-BFGS and a Newton polish, the SOC model with L-BFGS), then comes here for the Hessian and
the draws, so the eigenvalue floor that keeps the Gaussian proper is chosen once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["EIGENVALUE_FLOOR", "finite_difference_hessian", "floored_eigh", "gaussian_draws"]

#: Smallest curvature a direction of a Laplace approximation keeps, in the unconstrained space
#: (1 / sd**2): no direction is wider than sd 2, the width of the widest prior of the shipped
#: presets (level and trend sd 2, standard-normal z's, HalfNormal scales ~1.1 in log space).
#: Why: a direction the data and the prior barely curve (the log wiggle scale of a component
#: the data show flat, as R1 in the paper's designs) otherwise got sd 1e3-1e4, exp() overflowed
#: and a contrast over the draws reported a credible difference where there is none. A floor
#: relative to the largest curvature (1e-6 x max, the DRT model's earlier choice) does not
#: bound these widths: with curvatures up to ~1e5 it let sd ~3 through. docs/performance.md
#: gives the effect of this one floor on both models' fast numbers.
EIGENVALUE_FLOOR = 0.25


def finite_difference_hessian(neg: Callable[[np.ndarray], tuple[float, np.ndarray]],
                              x: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
    """Hessian of ``neg`` at ``x`` by central differences of its exact gradient (symmetrised).

    Parameters
    ----------
    neg
        ``neg(x)`` returns (value, gradient).
    x
        Point (unconstrained space).
    index
        Restrict rows and columns to these coordinates (default: all).

    Returns
    -------
    numpy.ndarray
        (len(index), len(index)) symmetric matrix.

    Notes
    -----
    Why differences rather than a symbolic Hessian: compiling one for these models takes about
    a minute, 2 n gradient calls take milliseconds.
    """
    n = x.size
    idx = np.arange(n) if index is None else np.asarray(index)
    eps = 1e-5 * np.maximum(1.0, np.abs(x))
    h = np.empty((idx.size, idx.size))
    for k, i in enumerate(idx):
        step = np.zeros(n)
        step[i] = eps[i]
        h[k] = (neg(x + step)[1] - neg(x - step)[1])[idx] / (2 * eps[i])
    return 0.5 * (h + h.T)


def floored_eigh(hessian: np.ndarray, floor: float = EIGENVALUE_FLOOR
                 ) -> tuple[np.ndarray, np.ndarray, float]:
    """Eigenvalues (floored at ``floor``), eigenvectors and the smallest raw eigenvalue.

    Parameters
    ----------
    hessian
        Hessian of -log p at the mode.
    floor
        Smallest curvature kept (default :data:`EIGENVALUE_FLOOR`).

    Returns
    -------
    values, vectors, min_raw
        ``numpy.linalg.eigh`` of the symmetrised Hessian with the values floored, and the
        smallest value before flooring (negative: the point is no mode).
    """
    vals, vecs = np.linalg.eigh(0.5 * (hessian + hessian.T))
    return np.maximum(vals, float(floor)), vecs, float(vals.min())


def gaussian_draws(mode: np.ndarray, hessian: np.ndarray, n_draws: int,
                   rng: np.random.Generator, floor: float = EIGENVALUE_FLOOR
                   ) -> tuple[np.ndarray, float]:
    """Draws of N(mode, H^-1) with the eigenvalues of H floored (see :func:`floored_eigh`).

    Parameters
    ----------
    mode
        (n,) mode in the unconstrained space.
    hessian
        (n, n) Hessian of -log p there.
    n_draws
        Number of draws.
    rng
        Source of the standard-normal draws (n_draws x n, drawn in one call).
    floor
        Smallest curvature kept.

    Returns
    -------
    draws, min_raw
        (n_draws, n) unconstrained draws and the smallest raw eigenvalue of H.
    """
    vals, vecs, min_raw = floored_eigh(hessian, floor)
    z = rng.standard_normal((int(n_draws), mode.size))
    return mode[None, :] + (z / np.sqrt(vals)[None, :]) @ vecs.T, min_raw
