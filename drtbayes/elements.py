"""Analytic impedance elements, their DRTs, and exact time-domain responses.

Plain numpy. These are the ground truth of the tests and the simulator: every element here has
a closed-form impedance and either a closed-form distribution of relaxation times (ZARC) or an
exact representation as a (possibly infinite, truncated here) ladder of RC elements (finite
Warburg elements), so the GITT step response of a circuit can be computed exactly from the same
parameters that generate its spectrum.

Conventions: Z = Z' + jZ'' with Z'' < 0 for capacitive behaviour; gamma is the DRT per unit
ln(tau), so that R_pol = integral of gamma d ln tau; frequencies in Hz, tau in s.
"""

from __future__ import annotations

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
    """Finite-length Warburg with a transmissive (short) end, R tanh(sqrt(j w tau))/sqrt(j w tau)."""
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

    def __post_init__(self) -> None:
        self.r_k_ohm = np.atleast_1d(np.asarray(self.r_k_ohm, dtype=float))
        self.tau_k_s = np.atleast_1d(np.asarray(self.tau_k_s, dtype=float))
        if self.r_k_ohm.shape != self.tau_k_s.shape:
            raise ValueError("r_k_ohm and tau_k_s must have the same shape")

    def __add__(self, other: RCNetwork) -> RCNetwork:
        c = _series_capacitance(self.c_series_f, other.c_series_f)
        return RCNetwork(
            self.r_inf_ohm + other.r_inf_ohm,
            np.concatenate([self.r_k_ohm, other.r_k_ohm]),
            np.concatenate([self.tau_k_s, other.tau_k_s]),
            c,
            self.l_h + other.l_h,
        )

    def scaled(self, factor: float) -> RCNetwork:
        """The network with every impedance multiplied by ``factor`` (e.g. 2 for a symmetric cell)."""
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
    """One RC element as a network."""
    return RCNetwork(0.0, np.array([r_ohm]), np.array([tau_s]))


def zarc(r_ohm: float, tau0_s: float, alpha: float, **kw: float) -> RCNetwork:
    """A ZARC as a finely discretised RC network (see :func:`zarc_ladder`)."""
    r_k, tau_k = zarc_ladder(r_ohm, tau0_s, alpha, **kw)
    return RCNetwork(0.0, r_k, tau_k)


def warburg_reflective(r_ohm: float, tau_s: float, *, n_terms: int = 400) -> RCNetwork:
    """A reflective finite Warburg as capacitor + RC ladder (exact up to truncation)."""
    c, r_k, tau_k = warburg_reflective_ladder(r_ohm, tau_s, n_terms=n_terms)
    return RCNetwork(0.0, r_k, tau_k, c)


def warburg_transmissive(r_ohm: float, tau_s: float, *, n_terms: int = 400) -> RCNetwork:
    """A transmissive finite Warburg as an RC ladder (exact up to truncation)."""
    r_k, tau_k = warburg_transmissive_ladder(r_ohm, tau_s, n_terms=n_terms)
    return RCNetwork(0.0, r_k, tau_k)


def log_frequencies(f_max_hz: float = 1e6, f_min_hz: float = 1e-2, per_decade: int = 10) -> FloatArray:
    """Log-spaced frequencies from high to low, ``per_decade`` points per decade, ends included."""
    n = int(round(np.log10(f_max_hz / f_min_hz) * per_decade)) + 1
    return np.logspace(np.log10(f_max_hz), np.log10(f_min_hz), n)
