"""DRT kernel matrices and the log-tau grid (plain numpy).

The DRT integral Z_pol(w) = integral gamma(ln tau) / (1 + j w tau) d ln tau is discretised on a
uniform grid in ln tau with trapezoid weights. For the smooth, decaying integrands of a DRT the
trapezoid rule on a uniform grid converges exponentially fast, so a few points per decade are
enough for the quadrature; the grid density is set by the resolution wanted for gamma.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["tau_grid", "quadrature_weights", "window_quadrature_weights", "drt_kernels",
           "second_difference", "smooth_basis"]

FloatArray = NDArray[np.float64]


def tau_grid(frequency_hz: ArrayLike, *, points_per_decade: float = 6,
             extend_decades: float = 1.0) -> FloatArray:
    """Log-spaced tau grid (s, ascending) covering the measured range plus margins.

    Parameters
    ----------
    frequency_hz
        Measured frequencies (any order; NaN ignored).
    points_per_decade
        Grid density.
    extend_decades
        Decades beyond 1/(2 pi f_max) and 1/(2 pi f_min) on each side (>= 1 so that processes
        at the edges of the measured range are resolved rather than folded into R_inf or C).

    Returns
    -------
    numpy.ndarray
        The tau grid in s. Its ends are whole multiples of 1/points_per_decade decades away from
        1 s, so spectra measured over similar ranges share grid points.
    """
    f = np.asarray(frequency_hz, dtype=float)
    f = f[np.isfinite(f) & (f > 0)]
    if f.size == 0:
        raise ValueError("tau_grid: no finite positive frequency")
    lo = np.log10(1.0 / (2 * np.pi * f.max())) - extend_decades
    hi = np.log10(1.0 / (2 * np.pi * f.min())) + extend_decades
    ppd = float(points_per_decade)
    i_lo = int(np.floor(lo * ppd))
    i_hi = int(np.ceil(hi * ppd))
    return 10.0 ** (np.arange(i_lo, i_hi + 1) / ppd)


def quadrature_weights(tau_s: ArrayLike) -> FloatArray:
    """Trapezoid weights in ln tau (so that r_pol = weights @ gamma)."""
    ln_tau = np.log(np.asarray(tau_s, dtype=float))
    w = np.zeros_like(ln_tau)
    d = np.diff(ln_tau)
    w[:-1] += d / 2
    w[1:] += d / 2
    return w


def window_quadrature_weights(tau_s: ArrayLike, omega_max: float, omega_min: float
                              ) -> FloatArray:
    """Weights w with w @ gamma = the integral of gamma over 1/omega_max <= tau <= 1/omega_min.

    Linear in gamma (trapezoid rule with the two end cells cut at the window's ends, gamma
    interpolated linearly there), so the posterior of the window's R_pol is the same weighted
    sum of the gamma draws as R_pol itself.
    """
    ln_tau = np.log(np.asarray(tau_s, dtype=float))
    a, b = np.log(1.0 / omega_max), np.log(1.0 / omega_min)
    w = np.zeros_like(ln_tau)
    for j in range(ln_tau.size - 1):
        x0, x1 = ln_tau[j], ln_tau[j + 1]
        lo, hi = max(x0, a), min(x1, b)
        if hi <= lo:
            continue
        h = x1 - x0
        # integral over [lo, hi] of the linear interpolant: weights of gamma_j and gamma_(j+1)
        t0, t1 = (lo - x0) / h, (hi - x0) / h
        w[j] += h * ((t1 - t1**2 / 2) - (t0 - t0**2 / 2))
        w[j + 1] += h * (t1**2 - t0**2) / 2
    return w


def drt_kernels(frequency_hz: ArrayLike, tau_s: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Real and imaginary DRT kernels including the quadrature weights.

    Returns
    -------
    k_real, k_imag
        Shape (n_frequency, n_tau): Z_pol' = k_real @ gamma, Z_pol'' = k_imag @ gamma
        (k_imag <= 0: capacitive).
    """
    w = 2 * np.pi * np.asarray(frequency_hz, dtype=float)[:, None]
    tau = np.asarray(tau_s, dtype=float)[None, :]
    wt = w * tau
    denom = 1.0 + wt**2
    q = quadrature_weights(tau_s)[None, :]
    return q / denom, -q * wt / denom


def second_difference(n: int) -> FloatArray:
    """(n-2, n) second-difference operator."""
    d = np.zeros((max(n - 2, 0), n))
    for i in range(n - 2):
        d[i, i:i + 3] = (1.0, -2.0, 1.0)
    return d


def smooth_basis(ln_tau: ArrayLike, length_decades: float, rank: int) -> FloatArray:
    """Leading eigenvectors of a squared-exponential correlation over ln tau, scaled.

    ``basis @ z`` with ``z ~ N(0, I)`` is (approximately) a zero-mean Gaussian field with unit
    marginal variance and correlation length ``length_decades``: a cheap, non-centred
    parameterisation of smooth deviations.

    Returns
    -------
    numpy.ndarray
        Shape (n_tau, rank).
    """
    x = np.asarray(ln_tau, dtype=float) / np.log(10.0)
    cov = np.exp(-0.5 * ((x[:, None] - x[None, :]) / length_decades) ** 2)
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:rank]
    vals = np.clip(vals[order], 0.0, None)
    basis = vecs[:, order] * np.sqrt(vals)[None, :]
    # the truncation loses a little variance; rescale so the field keeps unit marginal sd
    sd = np.sqrt((basis**2).sum(1))
    return basis / np.maximum(sd, 1e-12)[:, None]
