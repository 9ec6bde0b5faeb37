"""Fast path of the process fit: MAP by least squares, Laplace posterior, Laplace evidence.

Why a hand-written Gauss-Newton/Laplace rather than the DRT's PyMC model: the process model has
ten to twenty parameters per group and a near-Gaussian posterior in log coordinates, so the
Laplace approximation at the mode (``scipy.optimize.least_squares``) is accurate and takes
milliseconds, and its evidence is what the choice of the number of processes needs.

Likelihood: every cell's real and imaginary parts have independent Gaussian errors of sd
``sigma_c |Z_obs|`` (relative error, as instruments have); sigma_c is estimated from the
residuals (two passes). Priors: ``ln r_inf ~ N(ln Z'(f_max), 2)``, ``ln R ~ N(ln span, 3)``,
``ln tau ~ N(centre of the window, width / 4)`` for every ZARC alike (so the evidence does not
favour a label by its prior), ``ln tau_D ~ N(ln 1e3 s, 3)``, ``z_phi ~ N(1.5, 1.5)``,
``ln L ~ N(ln 1e-7, 3)``, cell deviations ``N(0, cell_sd)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import least_squares

from .model import ProcessModel


def _prior(model: ProcessModel, freq: np.ndarray, z: np.ndarray, cell_sd: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Prior means and sds of the unconstrained vector."""
    r_inf0 = max(float(np.nanmin(z.real[:, :3])), 1e-6)
    span = max(float(np.nanmax(z.real)) - r_inf0, 1e-6)
    lt_lo = math.log(1.0 / (2 * math.pi * freq.max())) - math.log(100.0)
    lt_hi = math.log(1.0 / (2 * math.pi * freq.min())) + math.log(1e4)
    mu, sd = [math.log(r_inf0)], [2.0]
    if model.inductance:
        mu.append(math.log(1e-7))
        sd.append(3.0)
    for k in model.kinds:
        mu.append(math.log(span / len(model.kinds)))
        sd.append(3.0)
        if k == "warburg":
            # diffusion times of composite cathodes: seconds to days (95 %: 2.5 s - 4e5 s);
            # the window-centred prior of the ZARCs would pull an unresolved tau_D (one the
            # EIS sees only as its sqrt(w) tail, a ridge R_W / sqrt(tau_D) = const) far down
            mu.append(math.log(1e3))
            sd.append(3.0)
        else:
            mu.append(0.5 * (lt_lo + lt_hi))
            sd.append((lt_hi - lt_lo) / 4.0)
        if k == "zarc":
            mu.append(1.5)
            sd.append(1.5)
    n_dev = model.n_params - model.n_group
    mu += [0.0] * n_dev
    sd += [cell_sd] * n_dev
    return np.array(mu), np.array(sd)


def _starts(model: ProcessModel, freq: np.ndarray, z: np.ndarray, mu: np.ndarray
            ) -> list[np.ndarray]:
    """Return initial vectors: taus from the peaks of -Z'' (fastest first), several tau_D."""
    zm = np.nanmean(z, axis=0)
    lf = np.log(freq)
    nz = -zm.imag
    peaks = [i for i in range(1, freq.size - 1) if nz[i] > nz[i - 1] and nz[i] >= nz[i + 1]
             and nz[i] > 0]
    tau_peaks = sorted(1.0 / (2 * math.pi * freq[i]) for i in peaks)
    n_z = sum(k == "zarc" for k in model.kinds)
    # fill missing ZARC starts log-evenly across the measured window
    lo, hi = 1.0 / (2 * math.pi * freq.max()), 1.0 / (2 * math.pi * freq.min())
    while len(tau_peaks) < n_z:
        tau_peaks.append(float(np.exp(np.interp(len(tau_peaks) + 0.5, [0, n_z],
                                                [math.log(lo), math.log(hi)]))))
    if len(tau_peaks) > n_z:
        # keep the n_z largest peaks
        order = np.argsort([-float(np.interp(math.log(1 / (2 * math.pi * t)), lf[::-1],
                                             nz[::-1])) for t in tau_peaks])[:n_z]
        tau_peaks = sorted(tau_peaks[i] for i in order)
    span = max(float(np.nanmax(zm.real) - np.nanmin(zm.real)), 1e-6)
    out = []
    tau_d_starts = [hi * 3, hi * 30, hi * 300] if "warburg" in model.kinds else [None]
    for tau_d in tau_d_starts:
        th = list(mu[:1 + int(model.inductance)])
        zi = 0
        for k in model.kinds:
            th.append(math.log(span / len(model.kinds)))
            if k == "zarc":
                th += [math.log(tau_peaks[zi]), 1.5]
                zi += 1
            else:
                th.append(math.log(tau_d))
        th += [0.0] * (model.n_params - model.n_group)
        out.append(np.array(th))
    return out


def fit_group_laplace(model: ProcessModel, freq: np.ndarray, z: np.ndarray, *,
                      cell_sd: float = 0.1) -> dict:
    """MAP and Laplace posterior of one group's process model.

    Parameters
    ----------
    model
        Candidate (its ``n_cells`` must equal ``z.shape[0]``).
    freq
        Frequencies (Hz), shared by the cells.
    z
        Complex impedance (cell, frequency); NaN where a cell lacks a frequency.
    cell_sd
        Prior sd of the cells' log deviations from the group values.

    Returns
    -------
    dict
        ``theta`` (MAP), ``cov`` (Laplace covariance), ``log_evidence``, ``sigma_rel`` (per
        cell), ``rmse_rel`` (per cell), ``success``.
    """
    ok = np.isfinite(z)
    absz = np.where(ok, np.abs(z), 1.0)
    zf = np.where(ok, z, 0.0)
    mu, sd = _prior(model, freq, z, cell_sd)
    sigma = np.full(z.shape[0], 0.01)

    def resid(th: np.ndarray, sig: np.ndarray) -> np.ndarray:
        zm = model.impedance(freq, th)
        d = (zm - zf) / (absz * sig[:, None])
        d = np.where(ok, d, 0.0)
        return np.concatenate([d.real.ravel(), d.imag.ravel(), (th - mu) / sd])

    best = None
    for _pass in range(3):
        starts = _starts(model, freq, z, mu) if best is None else [best.x]
        fits = []
        for th0 in starts:
            with np.errstate(over="ignore", invalid="ignore"):
                r = least_squares(resid, th0, args=(sigma,), method="lm", x_scale="jac",
                                  max_nfev=400 * model.n_params)
            fits.append(r)
        best = min(fits, key=lambda r: r.cost)
        zm = model.impedance(freq, best.x)
        rel = np.where(ok, (zm - zf) / absz, 0.0)
        n_c = 2 * ok.sum(axis=1)
        sigma = np.sqrt((np.abs(rel) ** 2).sum(axis=1) / np.maximum(n_c - model.n_params
                                                                    / z.shape[0], 1))
        sigma = np.maximum(sigma, 1e-6)
    r = least_squares(resid, best.x, args=(sigma,), method="lm", x_scale="jac",
                      max_nfev=200 * model.n_params)
    jac = r.jac
    h = jac.T @ jac
    cov = np.linalg.pinv(h, rcond=1e-12)
    sign, logdet = np.linalg.slogdet(h)
    n_obs = int(2 * ok.sum())
    # Laplace evidence: likelihood and prior at the mode, Gaussian volume of the posterior
    # each cell has 2 n_c values (real, imaginary) with sd sigma_c |Z|
    log_lik = (-0.5 * float(np.sum(r.fun[:n_obs] ** 2))
               - 2.0 * float(np.sum(np.log(absz[ok])))
               - float(np.sum(2 * ok.sum(axis=1) * np.log(sigma)))
               - 0.5 * n_obs * math.log(2 * math.pi))
    log_prior = (-0.5 * float(np.sum(r.fun[n_obs:] ** 2)) - float(np.sum(np.log(sd)))
                 - 0.5 * sd.size * math.log(2 * math.pi))
    log_ev = log_lik + log_prior + 0.5 * model.n_params * math.log(2 * math.pi) - 0.5 * logdet
    zm = model.impedance(freq, r.x)
    rel = np.where(ok, np.abs(zm - zf) / absz, 0.0)
    rmse = np.sqrt((rel**2).sum(axis=1) / np.maximum(ok.sum(axis=1), 1))
    return {"theta": r.x, "cov": cov, "log_evidence": float(log_ev) if sign > 0 else -np.inf,
            "sigma_rel": sigma, "rmse_rel": rmse, "success": bool(r.success)}
