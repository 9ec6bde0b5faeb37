"""Analytic impedance elements, their DRTs, and exact time-domain responses.

Plain numpy. These are the ground truth of the tests and the simulator: every element here has
a closed-form impedance and either a closed-form distribution of relaxation times (ZARC) or an
exact representation as a (possibly infinite, truncated here) ladder of RC elements (finite
Warburg elements), so the GITT step response of a circuit can be computed exactly from the same
parameters that generate its spectrum.

Elements with an exact pole expansion (RC, the finite Warburgs, bounded spherical diffusion, the
transmission-line electrode with an RC interface) become :class:`RCNetwork` ladders whose step
response is exact up to the truncation; elements with a continuous DRT (ZARC, Havriliak-Negami)
are discretised from their analytic DRT, and their exact step response is the quadrature of that
DRT (:func:`havriliak_negami_step`). :func:`talbot_inverse_laplace` inverts any impedance
numerically: the independent route the tests check the ladders and quadratures against.

Conventions: Z = Z' + jZ'' with Z'' < 0 for capacitive behaviour; gamma is the DRT per unit
ln(tau), so that R_pol = integral of gamma d ln tau; frequencies in Hz, tau in s.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]


def _omega(frequency_hz: ArrayLike) -> FloatArray:
    return 2.0 * np.pi * np.asarray(frequency_hz, dtype=float)


# --------------------------------------------------------------------------- single elements
def rc_impedance(frequency_hz: ArrayLike, r_ohm: float, tau_s: float) -> ComplexArray:
    """Impedance of a resistor in parallel with a capacitor, R / (1 + j w tau)."""
    return r_ohm / (1.0 + 1j * _omega(frequency_hz) * tau_s)


def zarc_impedance(
    frequency_hz: ArrayLike, r_ohm: float, tau_s: float, alpha: float
) -> ComplexArray:
    """Impedance of a ZARC (R parallel to a CPE), R / (1 + (j w tau)^alpha), 0 < alpha <= 1."""
    return r_ohm / (1.0 + (1j * _omega(frequency_hz) * tau_s) ** alpha)


def zarc_gamma(tau_s: ArrayLike, r_ohm: float, tau0_s: float, alpha: float) -> FloatArray:
    """Analytic DRT of a ZARC per unit ln(tau) (Fuoss-Kirkwood form).

    gamma(ln tau) = R/(2 pi) sin((1-alpha) pi) / (cosh(alpha ln(tau/tau0)) - cos((1-alpha) pi)).
    For alpha -> 1 this tends to a delta function; use :func:`rc_impedance` then.
    """
    x = np.log(np.asarray(tau_s, dtype=float) / tau0_s)
    s = np.sin((1.0 - alpha) * np.pi)
    c = np.cos((1.0 - alpha) * np.pi)
    return r_ohm / (2.0 * np.pi) * s / (np.cosh(alpha * x) - c)


def zarc_ladder(
    r_ohm: float, tau0_s: float, alpha: float, *, per_decade: int = 40, decades: float = 8.0
) -> tuple[FloatArray, FloatArray]:
    """Discretise a ZARC's analytic DRT into RC elements (R_k, tau_k).

    The weights are the DRT integrated over each cell of a log-spaced grid and renormalised so
    that they sum to R exactly (the tails beyond ``decades`` are folded in).
    """
    n = int(round(2 * decades * per_decade)) + 1
    ln_tau = np.log(tau0_s) + np.linspace(-decades, decades, n) * np.log(10.0)
    d = ln_tau[1] - ln_tau[0]
    weights = zarc_gamma(np.exp(ln_tau), r_ohm, tau0_s, alpha) * d
    weights *= r_ohm / weights.sum()
    return weights, np.exp(ln_tau)


def warburg_transmissive_impedance(
    frequency_hz: ArrayLike, r_ohm: float, tau_s: float
) -> ComplexArray:
    """Finite-length Warburg with a transmissive (short) end.

    Z = R tanh(sqrt(j w tau)) / sqrt(j w tau).
    """
    x = np.sqrt(1j * _omega(frequency_hz) * tau_s)
    small = np.abs(x) < 1e-6
    out = np.empty_like(x)
    out[~small] = r_ohm * np.tanh(x[~small]) / x[~small]
    out[small] = r_ohm
    return out


def warburg_transmissive_ladder(
    r_ohm: float, tau_s: float, *, n_terms: int = 400
) -> tuple[FloatArray, FloatArray]:
    """Exact RC-ladder form of the transmissive Warburg (truncated after ``n_terms``).

    tanh(x)/x = sum_k 2 / (x^2 + a_k^2), a_k = (2k-1) pi / 2, so the element is a series of RC
    elements with R_k = 2R / a_k^2 and tau_k = tau / a_k^2 (sum R_k = R).
    The truncated remainder is added to the last (fastest) term so the DC resistance is exact.
    """
    k = np.arange(1, n_terms + 1)
    a2 = ((2 * k - 1) * np.pi / 2.0) ** 2
    r_k = 2.0 * r_ohm / a2
    r_k[-1] += r_ohm - r_k.sum()
    return r_k, tau_s / a2


def warburg_reflective_impedance(
    frequency_hz: ArrayLike, r_ohm: float, tau_s: float
) -> ComplexArray:
    """Finite-length Warburg with a reflective (blocking) end, R coth(sqrt(j w tau))/sqrt(j w tau).

    Its low-frequency limit is a capacitor C = tau/R in series with R/3: the intercalation
    tail of a cathode.
    """
    x = np.sqrt(1j * _omega(frequency_hz) * tau_s)
    return r_ohm / (x * np.tanh(x))


def warburg_reflective_ladder(
    r_ohm: float, tau_s: float, *, n_terms: int = 400
) -> tuple[float, FloatArray, FloatArray]:
    """Exact form of the reflective Warburg: a capacitor plus an RC ladder.

    coth(x)/x = 1/x^2 + sum_k 2/(x^2 + (k pi)^2), so Z = 1/(j w C) + sum_k R_k/(1 + j w tau_k)
    with C = tau/R, R_k = 2R/(k pi)^2, tau_k = tau/(k pi)^2 (sum R_k = R/3).

    Returns
    -------
    c_f, r_k, tau_k
    """
    k = np.arange(1, n_terms + 1)
    a2 = (k * np.pi) ** 2
    r_k = 2.0 * r_ohm / a2
    r_k[-1] += r_ohm / 3.0 - r_k.sum()
    return tau_s / r_ohm, r_k, tau_s / a2


def havriliak_negami_impedance(
    frequency_hz: ArrayLike, r_ohm: float, tau0_s: float, alpha: float, beta: float
) -> ComplexArray:
    """Havriliak-Negami element, R / (1 + (j w tau0)^alpha)^beta, 0 < alpha, beta <= 1.

    beta = 1 is the ZARC; beta < 1 skews the arc (a tail to short tau); alpha = 1 is Cole-Davidson.
    """
    return r_ohm / (1.0 + (1j * _omega(frequency_hz) * tau0_s) ** alpha) ** beta


def havriliak_negami_gamma(
    tau_s: ArrayLike, r_ohm: float, tau0_s: float, alpha: float, beta: float
) -> FloatArray:
    """Analytic DRT of a Havriliak-Negami element per unit ln(tau).

    With y = (tau/tau0)^alpha and theta = atan2(sin(pi alpha), y + cos(pi alpha)) in [0, pi]:
    gamma = R/pi y^beta sin(beta theta) / (y^2 + 2 y cos(pi alpha) + 1)^(beta/2). For
    beta = 1 it equals :func:`zarc_gamma`.
    """
    y = (np.asarray(tau_s, dtype=float) / tau0_s) ** alpha
    c = np.cos(np.pi * alpha)
    theta = np.arctan2(np.sin(np.pi * alpha), y + c)
    return (r_ohm / np.pi * y**beta * np.sin(beta * theta)
            / (y * y + 2.0 * y * c + 1.0) ** (beta / 2.0))


def havriliak_negami_ladder(
    r_ohm: float, tau0_s: float, alpha: float, beta: float, *, per_decade: int = 40,
    decades: float = 8.0,
) -> tuple[FloatArray, FloatArray]:
    """Discretise a Havriliak-Negami DRT into RC elements (R_k, tau_k) summing to R exactly."""
    n = int(round(2 * decades * per_decade)) + 1
    ln_tau = np.log(tau0_s) + np.linspace(-decades, decades, n) * np.log(10.0)
    d = ln_tau[1] - ln_tau[0]
    weights = havriliak_negami_gamma(np.exp(ln_tau), r_ohm, tau0_s, alpha, beta) * d
    weights *= r_ohm / weights.sum()
    return weights, np.exp(ln_tau)


def havriliak_negami_step(
    time_s: ArrayLike, r_ohm: float, tau0_s: float, alpha: float, beta: float = 1.0,
    *, per_decade: int = 200, decades: float = 30.0,
) -> FloatArray:
    """Exact voltage per unit current step of a Havriliak-Negami (or, beta = 1, ZARC) element.

    h(t) = R - integral of gamma(ln tau) exp(-t / tau) d ln tau, by the trapezoid rule over
    ``decades`` either side of tau0 on a fine grid (the quadrature converges exponentially in the
    grid density; the DRT's tails beyond 30 decades hold below 1e-20 of R for alpha >= 0.5). The
    closed form is a Prabhakar (three-parameter Mittag-Leffler) function, which neither numpy
    nor scipy provides; the quadrature is as exact in double precision.
    """
    t = np.atleast_1d(np.asarray(time_s, dtype=float))
    n = int(round(2 * decades * per_decade)) + 1
    ln_tau = np.log(tau0_s) + np.linspace(-decades, decades, n) * np.log(10.0)
    g = havriliak_negami_gamma(np.exp(ln_tau), r_ohm, tau0_s, alpha, beta)
    d = ln_tau[1] - ln_tau[0]
    w = np.full(n, d)
    w[[0, -1]] *= 0.5
    decay = np.exp(-t[:, None] * np.exp(-ln_tau)[None, :])
    return r_ohm - (decay * (g * w)[None, :]).sum(1)


def spherical_diffusion_impedance(frequency_hz: ArrayLike, r_ohm: float, tau_s: float
                                  ) -> ComplexArray:
    """Bounded (reflective-centre) diffusion into a sphere, R tanh(x) / (x - tanh(x)).

    x = sqrt(j w tau), tau = r^2 / D. Low-frequency limit: a capacitor C = tau / (3 R) in
    series with R / 5. High-frequency limit: R / x, the semi-infinite Warburg of the same R and
    tau as :func:`warburg_reflective_impedance`.
    """
    x = np.sqrt(1j * _omega(frequency_hz) * tau_s + 0j)
    th = np.tanh(x)
    # x - tanh(x) loses all digits for small |x|: its series x^3/3 - 2x^5/15 + 17x^7/315
    small = np.abs(x) < 1e-2
    den = np.where(small, x**3 / 3.0 - 2.0 * x**5 / 15.0 + 17.0 * x**7 / 315.0, x - th)
    return r_ohm * th / den


@functools.lru_cache(maxsize=4)
def _tan_roots(n_terms: int) -> FloatArray:
    """Return the first ``n_terms`` positive roots of tan(b) = b (4.4934, 7.7253, ...)."""
    k = np.arange(1, n_terms + 1)
    b = (k + 0.5) * np.pi - 1.0 / ((k + 0.5) * np.pi)  # asymptotic start, then Newton
    for _ in range(30):
        f = np.sin(b) - b * np.cos(b)     # tan b - b, times cos b (no pole)
        df = b * np.sin(b)
        b = b - f / df
    return b


def spherical_diffusion_ladder(
    r_ohm: float, tau_s: float, *, n_terms: int = 400
) -> tuple[float, FloatArray, FloatArray]:
    """Exact form of bounded spherical diffusion: a capacitor plus an RC ladder.

    tanh(x) / (x - tanh(x)) = 3/x^2 + sum_n 2/(x^2 + b_n^2), b_n the roots of tan(b) = b (the
    residue at x^2 = -b_n^2 is 2, since d(x - tanh x)/dx = tanh^2 x = x^2 there). So
    Z = 1/(j w C) + sum R_n / (1 + j w tau_n) with C = tau / (3R), R_n = 2R / b_n^2,
    tau_n = tau / b_n^2; sum 1/b_n^2 = 1/10 makes the ladder sum R/5. The truncated remainder
    is added to the last term.

    Returns
    -------
    c_f, r_k, tau_k
    """
    b2 = _tan_roots(int(n_terms)) ** 2
    r_k = 2.0 * r_ohm / b2
    r_k[-1] += r_ohm / 5.0 - r_k.sum()
    return tau_s / (3.0 * r_ohm), r_k, tau_s / b2


def transmission_line_impedance(
    frequency_hz: ArrayLike, r_ion_ohm: float, r_ct_ohm: float, tau_ct_s: float
) -> ComplexArray:
    """Porous (composite) electrode as a transmission line with a blocking back end.

    Ionic resistance ``r_ion_ohm`` through the electrode's thickness, an RC interface (R_ct,
    tau_ct) spread over it, ideal electronic conduction: Z = sqrt(R_ion z) coth(sqrt(R_ion / z))
    with z = R_ct / (1 + j w tau_ct). DC value sqrt(R_ion R_ct) coth(sqrt(R_ion / R_ct)); at
    R_ion -> 0 it is the interface's RC, at R_ct -> inf the 45-degree line of R_ion.
    """
    z = rc_impedance(frequency_hz, r_ct_ohm, tau_ct_s)
    u = np.sqrt(r_ion_ohm / z + 0j)
    return r_ion_ohm / (u * np.tanh(u))


def transmission_line_ladder(
    r_ion_ohm: float, r_ct_ohm: float, tau_ct_s: float, *, n_terms: int = 400
) -> tuple[FloatArray, FloatArray]:
    """Exact RC-ladder form of :func:`transmission_line_impedance`.

    With u = R_ion (1 + s tau) / R_ct and coth(x)/x = 1/x^2 + sum_k 2/(x^2 + (k pi)^2):
    Z = R_ct / (1 + s tau) + sum_k R_k / (1 + s tau_k), R_k = 2 R_ct / (1 + (k pi)^2 rho),
    tau_k = tau / (1 + (k pi)^2 rho), rho = R_ct / R_ion. The truncated remainder (so that the
    DC value is exact) is added to the last term.
    """
    k = np.arange(1, int(n_terms) + 1)
    rho = r_ct_ohm / r_ion_ohm
    den = 1.0 + (k * np.pi) ** 2 * rho
    r_k = np.concatenate([[r_ct_ohm], 2.0 * r_ct_ohm / den])
    tau_k = np.concatenate([[tau_ct_s], tau_ct_s / den])
    x = math.sqrt(r_ion_ohm / r_ct_ohm)
    r_dc = math.sqrt(r_ion_ohm * r_ct_ohm) / math.tanh(x)
    r_k[-1] += r_dc - r_k.sum()
    return r_k, tau_k


def talbot_inverse_laplace(
    laplace_fn: Callable[[ComplexArray], ComplexArray], time_s: ArrayLike, *, m: int = 32
) -> FloatArray:
    """Numerical inverse Laplace transform, fixed-Talbot contour (Abate and Valko 2004).

    ``laplace_fn(s)`` takes an array of complex s. The current-step voltage of an element of
    impedance Z(s) is the inverse of Z(s) / s; this route never uses a ladder or a DRT, which is
    why the tests check the elements' step responses against it. Relative accuracy ~1e-9 in
    double precision for m ~ 32 on smooth responses. Hand-written because scipy has no inverse
    Laplace transform and mpmath (which has one) is not a dependency.
    """
    t = np.atleast_1d(np.asarray(time_s, dtype=float))
    if np.any(t <= 0):
        raise ValueError("talbot_inverse_laplace needs t > 0")
    theta = np.arange(1, m) * np.pi / m
    cot = 1.0 / np.tan(theta)
    out = np.empty(t.size)
    for i, ti in enumerate(t):
        r = 2.0 * m / (5.0 * ti)
        s = r * theta * (cot + 1j)
        sigma = theta + (theta * cot - 1.0) * cot
        f0 = laplace_fn(np.array([r + 0j]))[0]
        terms = np.exp(ti * s) * laplace_fn(s) * (1.0 + 1j * sigma)
        out[i] = r / m * (0.5 * np.real(f0 * np.exp(r * ti)) + np.real(terms).sum())
    return out


# --------------------------------------------------------------------------- RC networks
@dataclass
class RCNetwork:
    """A series connection of R_inf, an inductor, a capacitor and RC elements.

    This is the discrete form of every DRT model: Z(w) = R_inf + j w L + 1/(j w C) +
    sum_k R_k / (1 + j w tau_k). It gives the spectrum and the exact voltage response to any
    piecewise-constant current, so EIS and GITT of one synthetic electrode agree by
    construction.

    Parameters
    ----------
    r_inf_ohm
        Series (ohmic) resistance.
    r_k_ohm, tau_k_s
        Resistances and time constants of the RC elements.
    c_series_f
        Series capacitance (None or inf for none).
    l_h
        Series inductance.
    """

    r_inf_ohm: float
    r_k_ohm: FloatArray = field(default_factory=lambda: np.zeros(0))
    tau_k_s: FloatArray = field(default_factory=lambda: np.zeros(0))
    c_series_f: float | None = None
    l_h: float = 0.0

    def __post_init__(self) -> None:  # noqa: D105 - array coercion only
        self.r_k_ohm = np.atleast_1d(np.asarray(self.r_k_ohm, dtype=float))
        self.tau_k_s = np.atleast_1d(np.asarray(self.tau_k_s, dtype=float))
        if self.r_k_ohm.shape != self.tau_k_s.shape:
            raise ValueError("r_k_ohm and tau_k_s must have the same shape")

    def __add__(self, other: RCNetwork) -> RCNetwork:
        """Series connection of two networks."""
        c = _series_capacitance(self.c_series_f, other.c_series_f)
        return RCNetwork(
            self.r_inf_ohm + other.r_inf_ohm,
            np.concatenate([self.r_k_ohm, other.r_k_ohm]),
            np.concatenate([self.tau_k_s, other.tau_k_s]),
            c,
            self.l_h + other.l_h,
        )

    def scaled(self, factor: float) -> RCNetwork:
        """Return the network with every impedance times ``factor`` (2: a symmetric cell)."""
        c = None if self.c_series_f is None else self.c_series_f / factor
        return RCNetwork(
            self.r_inf_ohm * factor, self.r_k_ohm * factor, self.tau_k_s, c, self.l_h * factor
        )

    @property
    def r_pol_ohm(self) -> float:
        """Sum of the RC resistances (the DRT's integral)."""
        return float(self.r_k_ohm.sum())

    def impedance(self, frequency_hz: ArrayLike) -> ComplexArray:
        """Complex impedance at ``frequency_hz``."""
        w = _omega(frequency_hz)
        z = self.r_inf_ohm + 1j * w * self.l_h + np.zeros_like(w, dtype=complex)
        if self.c_series_f is not None and np.isfinite(self.c_series_f):
            z = z + 1.0 / (1j * w * self.c_series_f)
        if self.r_k_ohm.size:
            z = z + (self.r_k_ohm[None, :] / (1.0 + 1j * w[:, None] * self.tau_k_s[None, :])).sum(1)
        return z

    def step_response(self, time_s: ArrayLike, *, capacitor: bool = True) -> FloatArray:
        """Voltage per unit current step at t = 0: R_inf + sum R_k (1 - exp(-t/tau_k)) + t/C.

        ``capacitor=False`` leaves out the series capacitor's t/C (in a GITT half cell that
        part is the bulk OCV change, counted by the OCV curve instead).
        """
        t = np.atleast_1d(np.asarray(time_s, dtype=float))
        h = self.r_inf_ohm + np.zeros_like(t)
        if self.r_k_ohm.size:
            h = h + _rc_step_sum(t, self.r_k_ohm, 1.0 / self.tau_k_s)
        if capacitor and self.c_series_f is not None and np.isfinite(self.c_series_f):
            h = h + t / self.c_series_f
        return h

    def band_resistance(self, edges_tau_s: ArrayLike) -> FloatArray:
        """Sum of R_k within each band between consecutive ``edges_tau_s`` (0 and inf allowed)."""
        edges = np.asarray(edges_tau_s, dtype=float)
        idx = np.searchsorted(edges, self.tau_k_s, side="right") - 1
        out = np.zeros(edges.size - 1)
        ok = (idx >= 0) & (idx < edges.size - 1)
        np.add.at(out, idx[ok], self.r_k_ohm[ok])
        return out

    def voltage_response(
        self,
        time_s: ArrayLike,
        step_times_s: ArrayLike,
        step_currents_a: ArrayLike,
    ) -> FloatArray:
        """Overpotential V(t) - OCV0 for a piecewise-constant current, by exact superposition.

        Parameters
        ----------
        time_s
            Times at which to evaluate.
        step_times_s
            Times at which the current changes; ``step_currents_a[i]`` flows from
            ``step_times_s[i]`` until the next change (before the first step: zero current).
        step_currents_a
            Current in each segment (A, discharge negative).

        Returns
        -------
        numpy.ndarray
            Voltage change in V: sum over current steps dI_i * h(t - t_i) with the step response
            h(t) = R_inf + sum_k R_k (1 - exp(-t/tau_k)) + t / C. The inductance is ignored (its
            response is an impulse at each step).
        """
        t = np.asarray(time_s, dtype=float)
        ts = np.asarray(step_times_s, dtype=float)
        cur = np.asarray(step_currents_a, dtype=float)
        d_i = np.diff(np.concatenate([[0.0], cur]))
        v = np.zeros_like(t)
        inv_c = (
            0.0
            if self.c_series_f is None or not np.isfinite(self.c_series_f)
            else 1.0 / self.c_series_f
        )
        inv_tau = 1.0 / self.tau_k_s
        for t_i, di in zip(ts, d_i, strict=True):
            if di == 0.0:
                continue
            dt = t - t_i
            on = dt >= 0
            if not on.any():
                continue
            dto = dt[on]
            h = self.r_inf_ohm + inv_c * dto
            if self.r_k_ohm.size:
                h = h + _rc_step_sum(dto, self.r_k_ohm, inv_tau)
            v[on] += di * h
        return v


def _rc_step_sum(dt: FloatArray, r_k: FloatArray, inv_tau: FloatArray) -> FloatArray:
    """sum_k r_k (1 - exp(-dt / tau_k)) for every dt (numba when available).

    Why compiled: the simulator's networks have ~1000 RC elements and its GITT records tens of
    thousands of samples; numpy's (time x element) expm1 matrix was most of ``simulate_study``.
    The loop skips the exponential where it is exactly 1 or 0 in double precision.
    """
    kernel = _numba_kernels()
    if kernel is None:
        return (r_k[None, :] * -np.expm1(-dt[:, None] * inv_tau[None, :])).sum(1)
    return kernel["rc_step_sum"](np.ascontiguousarray(dt, dtype=float),
                                 np.ascontiguousarray(r_k, dtype=float),
                                 np.ascontiguousarray(inv_tau, dtype=float))


def gaussian_mixture_density(x: FloatArray, centers: FloatArray, weights: FloatArray,
                             sigma: float) -> FloatArray:
    """sum_k w_k N(x | c_k, sigma) at every x (numba when available; see :func:`_rc_step_sum`)."""
    kernel = _numba_kernels()
    x = np.ascontiguousarray(x, dtype=float)
    if kernel is None:
        z = (x[:, None] - centers[None, :]) / sigma
        return (weights[None, :] * np.exp(-0.5 * z * z)).sum(1) / (sigma * np.sqrt(2 * np.pi))
    return kernel["gauss_sum"](x, np.ascontiguousarray(centers, dtype=float),
                               np.ascontiguousarray(weights, dtype=float), float(sigma))


_KERNELS: dict | None = None


def _numba_kernels() -> dict | None:
    global _KERNELS
    if _KERNELS is None:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba comes with nutpie
            _KERNELS = {}
            return None

        @numba.njit(cache=True)
        def rc_step_sum(dt, r_k, inv_tau):  # pragma: no cover - compiled
            out = np.zeros(dt.size)
            for i in range(dt.size):
                acc = 0.0
                for k in range(r_k.size):
                    x = dt[i] * inv_tau[k]
                    if x > 745.0:
                        acc += r_k[k]
                    elif x > 0.0:
                        acc -= r_k[k] * np.expm1(-x)
                out[i] = acc
            return out

        @numba.njit(cache=True)
        def gauss_sum(x, centers, weights, sigma):  # pragma: no cover - compiled
            out = np.zeros(x.size)
            inv = 1.0 / sigma
            for i in range(x.size):
                acc = 0.0
                for k in range(centers.size):
                    z = (x[i] - centers[k]) * inv
                    if z * z < 80.0:  # exp(-40): below 1e-17 of the largest term
                        acc += weights[k] * np.exp(-0.5 * z * z)
                out[i] = acc
            return out * inv / np.sqrt(2 * np.pi)

        _KERNELS = {"rc_step_sum": rc_step_sum, "gauss_sum": gauss_sum}
    return _KERNELS or None


def _series_capacitance(c1: float | None, c2: float | None) -> float | None:
    if c1 is None or not np.isfinite(c1):
        return c2
    if c2 is None or not np.isfinite(c2):
        return c1
    return 1.0 / (1.0 / c1 + 1.0 / c2)


def rc(r_ohm: float, tau_s: float) -> RCNetwork:
    """Return one RC element as a network."""
    return RCNetwork(0.0, np.array([r_ohm]), np.array([tau_s]))


def zarc(r_ohm: float, tau0_s: float, alpha: float, **kw: float) -> RCNetwork:
    """Return a ZARC as a finely discretised RC network (see :func:`zarc_ladder`)."""
    r_k, tau_k = zarc_ladder(r_ohm, tau0_s, alpha, **kw)
    return RCNetwork(0.0, r_k, tau_k)


def warburg_reflective(r_ohm: float, tau_s: float, *, n_terms: int = 400) -> RCNetwork:
    """Return a reflective finite Warburg as capacitor + RC ladder (exact up to truncation)."""
    c, r_k, tau_k = warburg_reflective_ladder(r_ohm, tau_s, n_terms=n_terms)
    return RCNetwork(0.0, r_k, tau_k, c)


def warburg_transmissive(r_ohm: float, tau_s: float, *, n_terms: int = 400) -> RCNetwork:
    """Return a transmissive finite Warburg as an RC ladder (exact up to truncation)."""
    r_k, tau_k = warburg_transmissive_ladder(r_ohm, tau_s, n_terms=n_terms)
    return RCNetwork(0.0, r_k, tau_k)


def havriliak_negami(r_ohm: float, tau0_s: float, alpha: float, beta: float,
                     **kw: float) -> RCNetwork:
    """Return a Havriliak-Negami element as a finely discretised RC network."""
    r_k, tau_k = havriliak_negami_ladder(r_ohm, tau0_s, alpha, beta, **kw)
    return RCNetwork(0.0, r_k, tau_k)


def spherical_diffusion(r_ohm: float, tau_s: float, *, n_terms: int = 400) -> RCNetwork:
    """Return bounded spherical diffusion as capacitor + RC ladder (exact up to truncation)."""
    c, r_k, tau_k = spherical_diffusion_ladder(r_ohm, tau_s, n_terms=n_terms)
    return RCNetwork(0.0, r_k, tau_k, c)


def transmission_line(r_ion_ohm: float, r_ct_ohm: float, tau_ct_s: float, *,
                      n_terms: int = 400) -> RCNetwork:
    """Return a transmission-line electrode (RC interface) as an exact RC ladder."""
    r_k, tau_k = transmission_line_ladder(r_ion_ohm, r_ct_ohm, tau_ct_s, n_terms=n_terms)
    return RCNetwork(0.0, r_k, tau_k)


def log_frequencies(f_max_hz: float = 1e6, f_min_hz: float = 1e-2,
                    per_decade: int = 10) -> FloatArray:
    """Log-spaced frequencies from high to low, ``per_decade`` points per decade, ends included."""
    n = int(round(np.log10(f_max_hz / f_min_hz) * per_decade)) + 1
    return np.logspace(np.log10(f_max_hz), np.log10(f_min_hz), n)
