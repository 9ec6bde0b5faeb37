"""Linear Kramers-Kronig check (Schönleber, Klotz and Ivers-Tiffée, Electrochim. Acta 2014).

A series of Voigt elements with time constants fixed log-spaced over the measured range, plus a
series resistance, inductance and capacitance, is fitted to the spectrum by linear least
squares on the real and imaginary parts together (weights 1/|Z|). Such a model satisfies the
Kramers-Kronig relations by construction, so what it cannot fit - drift during the sweep,
outliers, non-linearity - shows up in the residuals. The number of elements M grows until the
mu criterion (share of negative resistances) reaches ``mu_c`` = 0.85, which stops the series
before it starts fitting noise; the search starts at two elements per decade (or N/4), because
mu can also dip for a badly underfitted series.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import xarray as xr

from ..errors import KramersKronigError, KramersKronigWarning, ValueRangeError

#: Default threshold on the largest residual, as a fraction of |Z|. Noise-free model spectra
#: give ~1e-5, a good measurement (the shared EC-Lab/Gamry sample spectrum) 2.4e-4 and 0.1 %
#: noise 2.3e-3; a resistance drifting by 3 % over the sweep gives 1.3e-2 and a single 2 %
#: outlier 1.4e-2, so they exceed it.
KK_THRESHOLD = 0.01
#: ... and the largest residual must also exceed this multiple of the noise level estimated from
#: the residuals (the largest of ~160 Gaussian residuals is ~3 sd, 4.5 sd happens in ~0.1 %).
NOISE_MULTIPLE = 4.5
#: Spectra with more points are fitted on this many of them (see :func:`linkk_fit`).
MAX_FIT_POINTS = 4000


def _design(omega: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Complex design matrix: R0, Voigt elements, L (j omega), 1/C (1/(j omega))."""
    wt = omega[:, None] * tau[None, :]
    voigt = 1.0 / (1.0 + 1j * wt)
    return np.column_stack([np.ones_like(omega) + 0j, voigt, 1j * omega, 1.0 / (1j * omega)])


def _linkk_coefficients(omega: np.ndarray, z: np.ndarray, mu_c: float,
                        max_elements: int | None) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Return (coefficients, tau, number of Voigt elements, mu) of the linear KK fit."""
    n = omega.size
    w = 1.0 / np.abs(z)
    max_m = max(2, max_elements or min(n, 80))
    # The mu criterion can dip below mu_c for a badly underfitted series (a few elements
    # straddling the arcs); start where the series has at least two elements per decade.
    decades = np.log10(omega.max() / omega.min())
    m_start = min(max_m, max(3, int(np.ceil(2 * decades)), n // 4))
    best = None
    for m in range(m_start, max_m + 1):
        tau = np.logspace(np.log10(1 / omega.max()), np.log10(1 / omega.min()), m)
        a = _design(omega, tau)
        a_ri = np.vstack([a.real * w[:, None], a.imag * w[:, None]])
        b_ri = np.concatenate([z.real * w, z.imag * w])
        # columns differ by many orders of magnitude (L, 1/C); normalise for a stable solve
        norms = np.linalg.norm(a_ri, axis=0)
        norms[norms == 0] = 1.0
        coef, *_ = np.linalg.lstsq(a_ri / norms, b_ri, rcond=None)
        coef = coef / norms
        r = coef[1 : 1 + m]
        pos = np.sum(np.abs(r[r >= 0]))
        neg = np.sum(np.abs(r[r < 0]))
        mu = 1.0 - neg / pos if pos > 0 else 0.0
        best = (coef, tau, m, float(mu))
        if mu <= mu_c:
            break
    assert best is not None
    return best


def linkk_fit(frequency_hz: np.ndarray, z: np.ndarray, *, mu_c: float = 0.85,
              max_elements: int | None = None) -> tuple[np.ndarray, int, float]:
    """Fit the linear KK model; return (fitted Z, number of Voigt elements, mu).

    Spectra of more than :data:`MAX_FIT_POINTS` points are fitted on that many points spread
    evenly along the sweep, and the fitted model is then evaluated at every point: the fit's
    cost grows as N M^2 and its memory as N M, which for a million-point file would be
    minutes and gigabytes, while a few thousand points fix the 80 coefficients as well.
    """
    omega = 2 * np.pi * np.asarray(frequency_hz, dtype=float)
    z = np.asarray(z, dtype=complex)
    if omega.size <= MAX_FIT_POINTS:
        coef, tau, m, mu = _linkk_coefficients(omega, z, mu_c, max_elements)
        return _design(omega, tau) @ coef, m, mu
    sub = np.unique(np.linspace(0, omega.size - 1, MAX_FIT_POINTS).round().astype(np.int64))
    coef, tau, m, mu = _linkk_coefficients(omega[sub], z[sub], mu_c, max_elements)
    zfit = np.empty(omega.size, dtype=complex)
    for a in range(0, omega.size, 100_000):
        zfit[a : a + 100_000] = _design(omega[a : a + 100_000], tau) @ coef
    return zfit, m, mu


def residual_noise(res_r: np.ndarray, res_i: np.ndarray) -> float:
    """Noise level of relative residuals from their point-to-point scatter (robust).

    Differences of neighbouring residuals cancel the smooth, systematic part (drift, a
    misfitted arc) and keep the noise: sd = 1.4826 MAD(diff) / sqrt(2).
    """
    d = np.concatenate([np.diff(res_r), np.diff(res_i)])
    d = d[np.isfinite(d)]
    if d.size < 4:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _check_one(ds: xr.Dataset, threshold: float) -> tuple[np.ndarray, np.ndarray, dict]:
    f = np.asarray(ds["frequency"].values, dtype=float)
    zr = np.asarray(ds["z_real"].values, dtype=float)
    zi = np.asarray(ds["z_imag"].values, dtype=float)
    ok = np.isfinite(f) & np.isfinite(zr) & np.isfinite(zi) & (f > 0)
    res_r = np.full(f.size, np.nan)
    res_i = np.full(f.size, np.nan)
    if ok.sum() < 4:
        raise ValueRangeError(f"{ds.attrs.get('source', '<spectrum>')}: fewer than 4 finite "
                              "points, the Kramers-Kronig check cannot run")
    z = zr[ok] + 1j * zi[ok]
    zfit, m, mu = linkk_fit(f[ok], z)
    mod = np.abs(z)
    res_r[ok] = (z.real - zfit.real) / mod
    res_i[ok] = (z.imag - zfit.imag) / mod
    worst = np.nanmax(np.maximum(np.abs(res_r), np.abs(res_i)))
    k = int(np.nanargmax(np.maximum(np.abs(res_r), np.abs(res_i))))
    noise = residual_noise(res_r[ok], res_i[ok])
    # A residual is only evidence against KK validity when it stands out of the noise: with
    # 1 % measurement noise the largest of ~160 residuals is ~3 % whatever the system does.
    limit = max(threshold, NOISE_MULTIPLE * noise)
    info = {"kk_max_residual": float(worst), "kk_pass": int(worst <= limit),
            "kk_threshold": float(threshold), "kk_noise": float(noise),
            "kk_limit": float(limit), "kk_n_elements": int(m), "kk_mu": float(mu),
            "kk_worst_frequency": float(f[k])}
    return res_r, res_i, info


def kk_check(spectrum: xr.Dataset, *, threshold: float = KK_THRESHOLD,
             strict: bool = False) -> xr.Dataset:
    """Run the linear Kramers-Kronig check and attach the residuals.

    Parameters
    ----------
    spectrum
        A spectrum Dataset (dim ``frequency``) or a stack (dims ``spectrum``, ``frequency``).
    threshold
        Largest accepted |residual| as a fraction of |Z| (default 0.01). A spectrum fails
        when its largest residual exceeds both this and 4.5 times the noise level estimated
        from the residuals' point-to-point scatter (``kk_noise``): in a noisy spectrum a
        residual of a few per cent is noise, not a Kramers-Kronig violation.
    strict
        Raise :class:`KramersKronigError` instead of warning.

    Returns
    -------
    xr.Dataset
        A copy with ``kk_res_real``, ``kk_res_imag`` (fraction of |Z|) and attrs (coords along
        ``spectrum`` for a stack) ``kk_max_residual``, ``kk_pass``, plus ``kk_threshold``,
        ``kk_n_elements``, ``kk_mu``, ``kk_worst_frequency``.

    Warns
    -----
    KramersKronigWarning
        When the largest residual exceeds the limit (and ``strict`` is false).
    """
    if not (threshold > 0 and math.isfinite(threshold)):
        raise ValueRangeError(f"kk_check: threshold={threshold!r} must be a positive fraction")
    out = spectrum.copy()
    if "spectrum" in spectrum.dims:
        rr = np.full(spectrum["z_real"].shape, np.nan)
        ri = np.full(spectrum["z_real"].shape, np.nan)
        infos = []
        for s in range(spectrum.sizes["spectrum"]):
            one = spectrum.isel(spectrum=s)
            one.attrs["source"] = str(one["source"].values) if "source" in one.coords else ""
            rr[s], ri[s], info = _check_one(one, threshold)
            infos.append(info)
            _report(one, info, strict, label=str(one["spectrum"].values))
        dims = spectrum["z_real"].dims
        out["kk_res_real"] = (dims, rr, {"units": "1"})
        out["kk_res_imag"] = (dims, ri, {"units": "1"})
        for key in ("kk_max_residual", "kk_pass"):
            out = out.assign_coords({key: ("spectrum", np.array([i[key] for i in infos]))})
        out.attrs["kk_threshold"] = float(threshold)
        return out
    rr, ri, info = _check_one(spectrum, threshold)
    out["kk_res_real"] = ("frequency", rr, {"units": "1", "long_name": "KK residual, real"})
    out["kk_res_imag"] = ("frequency", ri, {"units": "1", "long_name": "KK residual, imag"})
    out.attrs.update(info)
    _report(spectrum, info, strict)
    return out


def _report(ds: xr.Dataset, info: dict, strict: bool, label: str = "") -> None:
    if info["kk_pass"]:
        return
    src = ds.attrs.get("source") or "<spectrum>"
    msg = (f"{src}{' [' + label + ']' if label else ''}: Kramers-Kronig residuals reach "
           f"{info['kk_max_residual']:.2%} of |Z| (limit {info['kk_limit']:.1%}: the larger of "
           f"{info['kk_threshold']:.1%} and 4.5 x the noise {info['kk_noise']:.2%}; worst at "
           f"{info['kk_worst_frequency']:.4g} Hz): the spectrum is not consistent with a linear, "
           "stationary system (drift, outliers, noise); check the measurement or use a robust "
           "preset")
    if strict:
        raise KramersKronigError(msg)
    warnings.warn(msg, KramersKronigWarning, stacklevel=3)
