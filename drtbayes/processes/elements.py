"""Process elements of the estimator: impedance and exact unit current-step response.

Plain numpy. Each process is one parametric element; its impedance is what the EIS sees and its
unit step response u(t) (voltage per ampere per ohm of the element's DC resistance, 0 at t = 0-
and 1 at t -> inf) is what a GITT pulse sees, from the same parameters:

- ``rc``: R / (1 + j w tau); u = 1 - exp(-t / tau).
- ``zarc``: R / (1 + (j w tau)^phi); u = 1 - E_phi(-(t/tau)^phi) (Mittag-Leffler), computed as
  the integral of the analytic (Fuoss-Kirkwood) DRT against 1 - exp(-t / tau').
- ``warburg``: finite-length reflective Warburg, R_W coth(sqrt(j w tau_D)) / sqrt(j w tau_D).
  It is a capacitor C = tau_D / R_W (the intercalation capacity: in a GITT pulse that is the OCV
  slope term) in series with an RC ladder of DC resistance R_diff = R_W / 3, lines
  R_n = 2 R_W / (n pi)^2, tau_n = tau_D / (n pi)^2. The element's resistance here is R_diff and
  u is the ladder's response, 3 L(t / tau_D) with L(x) = sum_n 2 (1 - exp(-n^2 pi^2 x)) /
  (n^2 pi^2); for x < 0.02 the Jacobi theta identity gives L(x) = 2 sqrt(x / pi) - x to double
  precision (the semi-infinite sqrt(t) regime), beyond it 1/3 minus 60 decaying terms does.

The responses are tabulated once on a fine log grid of t / tau (and phi for the ZARC) and
interpolated, because a GITT record has thousands of pulses, each needing them at hundreds of
times for several posterior draws. The tables are exact functions evaluated once, not fits.

This module is the estimator's own: ``drtbayes.elements`` (the simulator's truth) is not used
here, so the tests that compare the two are independent.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

KINDS = ("rc", "zarc", "warburg")
#: phi above this is treated as an ideal RC in the step response (the ZARC DRT is then narrower
#: than the quadrature grid resolves)
PHI_RC = 0.995
_LOGX = np.linspace(-14.0, 6.0, 2001)  # log10(t / tau) grid of the tables
_PHI = np.linspace(0.30, 1.0, 141)


def zarc_impedance(frequency_hz: ArrayLike, r_ohm: float, tau_s: float, phi: float) -> NDArray:
    """R / (1 + (j w tau)^phi)."""
    w = 2.0 * np.pi * np.asarray(frequency_hz, float)
    return r_ohm / (1.0 + (1j * w * tau_s) ** phi)


def warburg_impedance(frequency_hz: ArrayLike, r_diff_ohm: float, tau_d_s: float) -> NDArray:
    """Reflective finite Warburg with DC ladder resistance ``r_diff_ohm`` (R_W = 3 R_diff)."""
    w = 2.0 * np.pi * np.asarray(frequency_hz, float)
    x = np.sqrt(1j * w * tau_d_s)
    return 3.0 * r_diff_ohm / (x * np.tanh(x))


def process_impedance(kind: str, frequency_hz: ArrayLike, r_ohm: float, tau_s: float,
                      phi: float = 1.0) -> NDArray:
    """Impedance of one process element (``kind`` in :data:`KINDS`)."""
    if kind == "rc":
        return zarc_impedance(frequency_hz, r_ohm, tau_s, 1.0)
    if kind == "zarc":
        return zarc_impedance(frequency_hz, r_ohm, tau_s, phi)
    if kind == "warburg":
        return warburg_impedance(frequency_hz, r_ohm, tau_s)
    raise ValueError(f"kind={kind!r}; use one of {KINDS}")


def _ladder_fraction(x: FloatArray) -> FloatArray:
    """3 L(x): fraction of R_diff developed at x = t / tau_D (see the module docstring)."""
    x = np.asarray(x, float)
    out = np.zeros_like(x)
    small = (x > 0) & (x < 0.02)
    out[small] = 3.0 * (2.0 * np.sqrt(x[small] / math.pi) - x[small])
    big = x >= 0.02
    if big.any():
        n2 = (np.arange(1, 61) * math.pi) ** 2
        xb = x[big][:, None]
        # L = 1/3 - sum_n 2 exp(-n^2 pi^2 x) / (n pi)^2; terms n > 60 are below 1e-300
        out[big] = 1.0 - 3.0 * np.sum(2.0 / n2 * np.exp(-n2 * xb), axis=1)
    return out


def _zarc_fraction(x: FloatArray, phi: float) -> FloatArray:
    """1 - E_phi(-x^phi) by quadrature of the unit ZARC DRT over ln(tau'/tau)."""
    if phi >= PHI_RC:
        return -np.expm1(-np.asarray(x, float))
    s = np.linspace(-50.0, 50.0, 2001)
    g = math.sin((1 - phi) * math.pi) / (2 * math.pi) / (np.cosh(phi * s) - math.cos((1 - phi)
                                                                                     * math.pi))
    wts = g * (s[1] - s[0])
    wts /= wts.sum()  # tails beyond |s| = 50 hold < 1e-6 of R for phi >= 0.3
    out = np.empty(np.size(x))
    xs = np.asarray(x, float).ravel()
    for a in range(0, xs.size, 256):
        blk = xs[a:a + 256, None]
        out[a:a + 256] = -np.expm1(-blk * np.exp(-s)[None, :]) @ wts
    return out.reshape(np.shape(x))


@functools.lru_cache(maxsize=1)
def _warburg_table() -> FloatArray:
    return _ladder_fraction(10.0 ** _LOGX)


@functools.lru_cache(maxsize=256)
def _zarc_row(i: int) -> FloatArray:
    # rows are made on demand: a study needs only the few phi its posterior visits
    return _zarc_fraction(10.0 ** _LOGX, float(_PHI[i]))


def step_fraction(kind: str, dt_s: ArrayLike, tau_s: ArrayLike, phi: float = 1.0) -> FloatArray:
    """Return the unit current-step response u(dt) of a process (0 for dt <= 0, 1 at inf).

    Parameters
    ----------
    kind
        ``rc``, ``zarc`` or ``warburg``.
    dt_s
        Times since the step, s.
    tau_s
        The element's time constant (tau_D for the Warburg), s; broadcast against ``dt_s``
        (e.g. times (n, 1) against a tau grid (G,) give (n, G)).
    phi
        ZARC exponent (ignored otherwise).

    Returns
    -------
    numpy.ndarray
        Fraction of the element's DC resistance developed after ``dt_s``.
    """
    dt, tau = np.broadcast_arrays(np.asarray(dt_s, float), np.asarray(tau_s, float))
    out = np.zeros(dt.shape)
    on = dt > 0
    if not on.any():
        return out
    x = dt[on] / tau[on]
    if kind == "rc" or (kind == "zarc" and phi >= PHI_RC):
        out[on] = -np.expm1(-x)
        return out
    lx = np.log10(x)
    if kind == "warburg":
        v = np.interp(lx, _LOGX, _warburg_table(), right=1.0)
        # below the table the sqrt(t) law is exact
        small = lx < _LOGX[0]
        v[small] = 6.0 * np.sqrt(x[small] / math.pi)
        out[on] = v
        return out
    if kind != "zarc":
        raise ValueError(f"kind={kind!r}; use one of {KINDS}")
    j = float(np.clip((phi - _PHI[0]) / (_PHI[1] - _PHI[0]), 0, _PHI.size - 1.000001))
    i0 = int(j)
    f = j - i0
    row = (1 - f) * _zarc_row(i0) + f * _zarc_row(i0 + 1)
    out[on] = np.interp(lx, _LOGX, row, left=0.0, right=1.0)
    return out


def pulse_column(kind: str, t_s: ArrayLike, t_on_s: float, t_off_s: float, tau_s: ArrayLike,
                 phi: float = 1.0) -> FloatArray:
    """Return the response to a unit rectangular current pulse of a unit-resistance element.

    u(t - t_on) - u(t - t_off).
    """
    t = np.asarray(t_s, float)
    return (step_fraction(kind, t - t_on_s, tau_s, phi)
            - step_fraction(kind, t - t_off_s, tau_s, phi))
