"""GITT split by the processes' own time-domain responses (``split_gitt(method="processes")``).

Pulse model (mV, mA, ohm), over the pulse and the whole following rest (plus rest before it):

    V(t) = V0 + drift t + b q(t) + I(t) R1 + R2 x_ct(t) + R_diff x_D(t) + e,  e ~ N(0, sigma^2)

with x_p(t) = I [u_p(t - t_on) - u_p(t - t_off)] the exact current-pulse response of process p
(:mod:`drtbayes.processes.elements`): the charge-transfer ZARC with (tau, phi) from the EIS
process posterior at the pulse SOC, and the reflective Warburg ladder with tau_D. The Warburg's
capacitor is the OCV slope b q(t); its ladder is in the model, so a slow diffusion is not
absorbed by b q(t) or the drift. Contact processes slower than a fifth of the first sample
get their own column (added to R1); faster ones are inside the instantaneous R1.

Given the time constants the model is linear, so for every combination of an EIS draw
(tau_ct, phi_ct) and a tau_D on a grid the posterior of (V0, drift, b, R1, R2, R_diff) is
Gaussian with a closed-form evidence. The EIS draws are carried with equal weight (the EIS
uncertainty enters each pulse's intervals); tau_D is weighted by its evidence times the EIS
posterior of tau_D (widened, as it is carried from symmetric-cell EIS to another SOC): where
the rest relaxation identifies tau_D, the data decide. Resistances have priors
N(EIS half-cell value, (``prior_rel_sd`` x that)^2) for R2, R_diff, weak ones for the rest.

Reported: R1, R2 = R_ct u_ct(t_p), R3 = R3(t_p) = R_diff u_D(t_p): what the pulse sees at its
end; total = R1 + R2 + R3. Also ``r_diff``, ``tau_d_s`` (full element), ``r_ct``.
Cost: one Gram matrix per pulse and batched 6 x 6 solves, linear in the number of pulses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import xarray as xr

from ..conventions import COMPONENTS
from ..errors import DataError, NoPulsesError
from ..inference.threads import one_blas_thread
from ..numerics import soc_bracket
from . import elements as pe

DEFAULTS = {
    "pre_rest_s": 600.0, "skip_after_step_s": 1e-4, "max_fit_points": 320,
    "n_eis_draws": 8, "tau_d_min_s": 5.0, "tau_d_max_s": 1e5, "tau_d_per_decade": 10,
    "tau_d_extra_sd_ln": 1.0, "prior_rel_sd": 1.0, "weak_precision": 1e-8,
    "identified_width_dec": 1.0,
    "tau_ct_shift_sd_ln": 0.3, "tau_ct_iterations": 4, "history_pulses": 3,
    "phi_ct_shift_sd": 0.03, "tau_d_fine": 25, "s7_tolerance": 0.15,
}

#: settings for long records (thousands of pulses): fewer EIS draws carried per pulse, one
#: tau_ct refinement step, a coarser tau_D grid
FAST = {"n_eis_draws": 3, "tau_ct_iterations": 1, "tau_d_per_decade": 5, "tau_d_fine": 11}


class ProcessTable:
    """Process posterior draws of one design carried to any SOC.

    Log values are interpolated linearly in SOC between the measured groups (clamped outside);
    draw i at one SOC is paired with draw i at the next.
    """

    def __init__(self, pfit: xr.Dataset, design: str) -> None:
        gd = np.asarray(pfit["group_design"].values).astype(str)
        sel = np.flatnonzero(gd == design)
        if sel.size == 0:
            raise DataError(f"the process fit holds no spectra of design {design!r} (it has "
                            f"{', '.join(sorted(set(gd)))}); fit its symmetric-cell spectra")
        socs = np.asarray(pfit["group_soc"].values, float)[sel]
        order = np.argsort(np.nan_to_num(socs, nan=50.0))
        self.socs = np.nan_to_num(socs[order], nan=50.0)
        self.idx = sel[order]
        self.roles = list(np.asarray(pfit["process_role"].values).astype(str))
        self.kinds = list(np.asarray(pfit["process_kind"].values).astype(str))
        self.ln_r = np.log(pfit["process_r"].values[:, self.idx])      # sample, g, process
        self.ln_tau = np.log(pfit["process_tau"].values[:, self.idx])
        self.phi = pfit["process_phi"].values[:, self.idx]
        self.ln_r_inf = np.log(pfit["r_inf"].values[:, self.idx])
        self.f_min_hz = float(pfit.attrs.get("f_min_hz", 1e-2))

    def at(self, soc: float) -> dict[str, np.ndarray]:
        """Draws (sample, process) of ``r`` (symmetric cell), ``tau``, ``phi`` and ``r_inf``."""
        j, k, f = soc_bracket(self.socs, soc)

        def lin(a: np.ndarray) -> np.ndarray:
            return (1 - f) * a[:, j] + f * a[:, k]

        return {"r": np.exp(lin(self.ln_r)), "tau": np.exp(lin(self.ln_tau)),
                "phi": lin(self.phi), "r_inf": np.exp(lin(self.ln_r_inf))}


def eis_half_cell_total(draws: dict, kinds: Sequence[str], pulse_s: float) -> np.ndarray:
    """Return the half-cell pulse total the symmetric-cell EIS predicts (paper Fig. S7).

    ``r_inf`` (the SE layer) + half of every process resistance of the symmetric cell as
    developed at the end of the pulse: SE + 1 x electrode. The counter electrode of the half
    cell is not in the symmetric cell, so the GITT total exceeds this by its resistance.

    Parameters
    ----------
    draws
        :meth:`ProcessTable.at` output (``r``, ``tau``, ``phi`` (sample, process), ``r_inf``).
    kinds
        Element kind of each process.
    pulse_s
        Pulse length, s.

    Returns
    -------
    numpy.ndarray
        One prediction per draw, ohm.
    """
    out = np.array(draws["r_inf"], float)
    for j, k in enumerate(kinds):
        phi = float(np.nanmedian(draws["phi"][:, j])) if k == "zarc" else 1.0
        u = pe.step_fraction(k, np.array([pulse_s]), draws["tau"][:, j], phi)
        out = out + 0.5 * draws["r"][:, j] * u
    return out


def _gauss_batch(gram: np.ndarray, xty: np.ndarray, yty: float, n: int, sigma2: float,
                 prec: np.ndarray, mu0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior means, Cholesky factors of the precision and log evidences of a batch.

    Gaussian linear models (batch, p, p) with known noise variance and prior N(mu0, prec^-1).
    """
    h = gram / sigma2 + prec
    rhs = xty / sigma2 + np.einsum("...ij,...j->...i", prec, mu0)
    chol = np.linalg.cholesky(h)
    mean = np.linalg.solve(h, rhs[..., None])[..., 0]
    logdet_h = 2.0 * np.sum(np.log(np.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    logdet_p = np.linalg.slogdet(prec[:1])[1]  # the prior is the same for every member
    quad = (yty / sigma2 + np.einsum("...i,...ij,...j->...", mu0, prec, mu0)
            - np.einsum("...i,...ij,...j->...", mean, h, mean))
    ev = 0.5 * (logdet_p - logdet_h - quad - n * math.log(2 * math.pi * sigma2))
    return mean, chol, ev


def _design(tt: np.ndarray, p: dict, eis: dict, tau_ct: np.ndarray, phi_ct: np.ndarray,
            tau_d_grid: np.ndarray) -> dict:
    """Build the columns of one pulse (all x I in mA).

    Base [V0, drift, b, R1, contact...], per EIS draw the ZARC column and its derivative in
    ln tau_ct, per tau_D the Warburg column.
    """
    i_ma = p["current_a"] * 1e3
    t_on, t_off = p["t_start"], p["t_end"]
    dur = t_off - t_on
    on = ((tt >= t_on) & (tt < t_off)).astype(float)
    q = i_ma * np.clip(tt - t_on, 0.0, dur)
    # OCV(q) to second order: over a long pulse at low SOC the OCV curve bends enough (mV)
    # to bias a linear b q(t) by ~1 % of the overpotential; q^2 is constant after the pulse,
    # so the rest still tells it from the diffusion relaxation
    base = [np.ones_like(tt), (tt - t_on) / 1000.0, q / 100.0, i_ma * on, (q / 100.0) ** 2]
    roles, kinds = eis["roles"], eis["kinds"]
    # contact processes the sampling sees get their own column (at their median tau/phi)
    extra = []
    for j, r in enumerate(roles):
        if r == "contact" and np.median(eis["tau"][:, j]) > p["first_sample_s"] / 5:
            extra.append(j)
            base.append(i_ma * pe.pulse_column(kinds[j], tt, t_on, t_off,
                                               float(np.median(eis["tau"][:, j])),
                                               float(np.median(eis["phi"][:, j]))))
    ct = [j for j, r in enumerate(roles) if r == "charge_transfer"]
    dj = [j for j, r in enumerate(roles) if r == "diffusion"]
    c2, e2, f2 = [], [], []
    h, hp = 0.05, 0.01
    for s in range(tau_ct.size if ct else 0):
        k, phi, tau = kinds[ct[0]], float(phi_ct[s]), float(tau_ct[s])

        def col(tau: float, phi: float, k: str = k) -> np.ndarray:
            return i_ma * pe.pulse_column(k, tt, t_on, t_off, tau, phi)

        c2.append(col(tau, phi))
        e2.append((col(tau * math.exp(h), phi) - col(tau * math.exp(-h), phi)) / (2 * h))
        p_lo, p_hi = max(phi - hp, 0.3), min(phi + hp, 1.0)
        f2.append((col(tau, p_hi) - col(tau, p_lo)) / (p_hi - p_lo))
    blocks = [np.column_stack(base + c2 + e2 + f2)]
    hist = p.get("history", [])
    if dj:
        t2, g2 = tt[:, None], tau_d_grid[None, :]
        blocks.append(i_ma * pe.pulse_column("warburg", t2, t_on, t_off, g2))
        # the earlier pulses' diffusion is still relaxing when tau_D is comparable to the
        # rest: their summed response, with its own coefficient (~ their R_diff), is a column
        if hist:
            blocks.append(sum(ih * 1e3 * pe.pulse_column("warburg", t2, a0, a1, g2)
                              for a0, a1, ih in hist))
    return {"a": np.column_stack(blocks), "nb": len(base), "extra": extra,
            "ct": ct, "dj": dj, "n_s": len(c2), "dur": dur, "hist": bool(dj and hist)}


def _posterior(des: dict, y_mv: np.ndarray, eis: dict, cfg: dict, tau_d_grid: np.ndarray,
               n_tt: int, sigma2: float | None = None) -> dict:
    """Gaussian posterior of every (EIS draw, tau_D) combination and its log evidence."""
    a, nb, n_s = des["a"], des["nb"], des["n_s"]
    ct, dj = des["ct"], des["dj"]
    gram_all = a.T @ a
    aty = a.T @ y_mv
    yty = float(y_mv @ y_mv)
    n_s1, n_g = (n_s if ct else 1), (tau_d_grid.size if dj else 1)
    cols = []
    for s in range(n_s1):
        for g in range(n_g):
            c = list(range(nb))
            if ct:
                c += [nb + s, nb + n_s + s, nb + 2 * n_s + s]
            if dj:
                c.append(nb + 3 * n_s + g)
            if des["hist"]:
                c.append(nb + 3 * n_s + n_g + g)
            cols.append(c)
    cols = np.array(cols)
    gram = gram_all[cols[:, :, None], cols[:, None, :]]
    xty = aty[cols]
    m = cols.shape[1]
    prec = np.tile(np.eye(m) * float(cfg["weak_precision"]), (cols.shape[0], 1, 1))
    mu0 = np.zeros((cols.shape[0], m))
    rel = float(cfg["prior_rel_sd"])
    k = nb
    if ct:
        mu = 0.5 * np.median(eis["r"][:, ct[0]])  # one electrode of the symmetric cell
        prec[:, k, k] = 1.0 / (rel * mu) ** 2
        mu0[:, k] = mu
        # coefficient of d u / d ln tau_ct = R_ct x (shift of ln tau_ct from the EIS value)
        prec[:, k + 1, k + 1] = 1.0 / (mu * float(cfg["tau_ct_shift_sd_ln"])) ** 2
        # ... and of d u / d phi = R_ct x (shift of phi)
        prec[:, k + 2, k + 2] = 1.0 / (mu * float(cfg["phi_ct_shift_sd"])) ** 2
        k += 3
    d_seen = bool(dj) and eis["diffusion_seen"]
    if d_seen:
        mu = 0.5 * np.median(eis["r"][:, dj[0]])
        prec[:, k, k] = 1.0 / (rel * mu) ** 2
        mu0[:, k] = mu
    if sigma2 is None:
        # noise: from the least-squares residual of the best-fitting combination (once per
        # pulse; later passes reuse it)
        sol = np.linalg.solve(gram + 1e-9 * np.eye(m), xty[..., None])[..., 0]
        rss = yty - np.einsum("bi,bi->b", sol, xty)
        sigma2 = max(float(np.min(rss)) / max(n_tt - m, 1), 1e-12)
    mean, chol, ev = _gauss_batch(gram, xty, yty, n_tt, sigma2, prec, mu0)
    ev = ev.reshape(n_s1, n_g)
    if d_seen:
        lt_e = np.log(eis["tau"][:, dj[0]])
        sd_e = math.hypot(float(np.std(lt_e)), float(cfg["tau_d_extra_sd_ln"]))
        ev = ev + (-0.5 * ((np.log(tau_d_grid) - float(np.mean(lt_e))) / sd_e) ** 2)[None, :]
    return {"cols": cols, "mean": mean, "chol": chol, "ev": ev, "sigma2": sigma2,
            "n_s": n_s1, "n_g": n_g}


# over 80 lines: the tau_ct refinement, the zoom of the tau_D grid and the draws of one pulse
# share the design matrices and the EIS draws set up at its top
def _fit_pulse(tt: np.ndarray, y_mv: np.ndarray, p: dict, eis: dict, cfg: dict,
               tau_d_grid: np.ndarray, rng: np.random.Generator, n_samples: int) -> dict:
    """Posterior draws of one pulse (see the module docstring).

    tau_ct carried from the EIS at another SOC is a few % off, and the GITT transient is
    precise enough that such a shape error moves resistance between R1 and R3; so the pulse
    refines it: the derivative column in ln tau_ct estimates the shift (prior sd
    ``tau_ct_shift_sd_ln``), the EIS draws are moved by it and the fit repeated (Gauss-Newton,
    at most ``tau_ct_iterations`` times, until the shift is below 0.5 %).
    """
    kinds = eis["kinds"]
    ct_idx = [j for j, r in enumerate(eis["roles"]) if r == "charge_transfer"]
    tau_ct = eis["tau"][:, ct_idx[0]].copy() if ct_idx else np.zeros(0)
    phi_ct = eis["phi"][:, ct_idx[0]].copy() if ct_idx else np.zeros(0)
    # the refinement runs on the EIS median draw only (index 0 after the sort below) and, after
    # a first look over the coarse tau_D grid, at the best tau_D only: cost, not accuracy
    med = int(np.argsort(tau_ct)[tau_ct.size // 2]) if ct_idx else 0
    grid = tau_d_grid
    sigma2 = None
    for it in range(int(cfg["tau_ct_iterations"]) + 1):
        one = {**eis, "tau": eis["tau"][med:med + 1], "phi": eis["phi"][med:med + 1]}
        des = _design(tt, p, one, tau_ct[med:med + 1], phi_ct[med:med + 1], grid)
        post = _posterior(des, y_mv, one, cfg, grid, tt.size,
                          sigma2=None if it == 0 else sigma2)
        sigma2 = post["sigma2"]
        best = np.unravel_index(int(np.argmax(post["ev"])), post["ev"].shape)
        if it == 0 and des["dj"]:
            coarse = post
            grid = tau_d_grid[best[1]:best[1] + 1]
            best = (best[0], 0)
            if not ct_idx:
                break
            continue
        if not ct_idx:
            break
        b = post["mean"][best[0] * post["n_g"] + best[1]]
        nb = des["nb"]
        ok = b[nb] > 0
        shift = float(np.clip(b[nb + 1] / b[nb], -0.5, 0.5)) if ok else 0.0
        d_phi = float(np.clip(b[nb + 2] / b[nb], -0.1, 0.1)) if ok else 0.0
        tau_ct = tau_ct * math.exp(shift)
        phi_ct = np.clip(phi_ct + d_phi, 0.3, 1.0)
        if abs(shift) < 0.005 and abs(d_phi) < 0.002:
            break
    if des["dj"]:
        # the coarse tau_D grid is far wider than a well-identified posterior: refine it
        # over the part holding the mass of the first look (two coarse steps either side,
        # as tau_ct was refined since), with all EIS draws
        w = np.exp(coarse["ev"] - coarse["ev"].max()).sum(axis=0)
        live = np.flatnonzero(w > 1e-8 * w.max())
        lo = tau_d_grid[max(live[0] - 2, 0)]
        hi = tau_d_grid[min(live[-1] + 2, tau_d_grid.size - 1)]
        tau_d_grid = np.exp(np.linspace(math.log(lo), math.log(hi), int(cfg["tau_d_fine"])))
    des = _design(tt, p, eis, tau_ct, phi_ct, tau_d_grid)
    post = _posterior(des, y_mv, eis, cfg, tau_d_grid, tt.size)
    for _ in range(3 if des["dj"] else 0):
        # zoom while the posterior of tau_D is narrower than a few grid steps (a grid coarser
        # than the posterior gives intervals that miss the truth between two grid points)
        w = np.exp(post["ev"] - post["ev"].max()).sum(axis=0)
        live = np.flatnonzero(w > 1e-3 * w.max())
        if live[-1] - live[0] >= 6 or tau_d_grid.size < 3:
            break
        lo = tau_d_grid[max(live[0] - 1, 0)]
        hi = tau_d_grid[min(live[-1] + 1, tau_d_grid.size - 1)]
        tau_d_grid = np.exp(np.linspace(math.log(lo), math.log(hi), int(cfg["tau_d_fine"])))
        des = _design(tt, p, eis, tau_ct, phi_ct, tau_d_grid)
        post = _posterior(des, y_mv, eis, cfg, tau_d_grid, tt.size)
    nb, dur = des["nb"], des["dur"]
    n_s, n_g, ev = post["n_s"], post["n_g"], post["ev"]
    wg = np.exp(ev - ev.max(axis=1, keepdims=True))
    wg /= wg.sum(axis=1, keepdims=True)
    wts = (wg / n_s).ravel()
    pick = rng.choice(wts.size, size=n_samples, p=wts / wts.sum())
    m = post["cols"].shape[1]
    z = rng.standard_normal((n_samples, m))
    # beta = mean + L^-T z  (H = L L^T)
    lt_inv = np.linalg.inv(np.swapaxes(post["chol"][pick], -1, -2))
    beta = post["mean"][pick] + np.einsum("bij,bj->bi", lt_inv, z)
    s_idx, g_idx = pick // n_g, pick % n_g
    r1 = beta[:, 3].copy()
    for e, j in enumerate(des["extra"]):
        r1 += beta[:, 5 + e] * float(pe.step_fraction(kinds[j], np.array([dur]),
                                                      float(np.median(eis["tau"][:, j])),
                                                      float(np.median(eis["phi"][:, j])))[0])
    out = {"R1": r1, "R2": np.zeros(n_samples), "R3": np.zeros(n_samples),
           "r_ct": np.full(n_samples, np.nan), "r_diff": np.full(n_samples, np.nan),
           "tau_d": np.full(n_samples, np.nan), "tau_ct": np.full(n_samples, np.nan)}
    k = nb
    if ct_idx:
        j = ct_idx[0]
        h, hp = 0.05, 0.01
        frac, dfrac, pfrac = np.zeros(n_s), np.zeros(n_s), np.zeros(n_s)
        for s in range(n_s):
            def u(tau: float, phi: float) -> float:
                return float(pe.step_fraction(kinds[j], np.array([dur]), tau, phi)[0])
            t_s, f_s = float(tau_ct[s]), float(phi_ct[s])
            frac[s] = u(t_s, f_s)
            dfrac[s] = (u(t_s * math.exp(h), f_s) - u(t_s * math.exp(-h), f_s)) / (2 * h)
            p_lo, p_hi = max(f_s - hp, 0.3), min(f_s + hp, 1.0)
            pfrac[s] = (u(t_s, p_hi) - u(t_s, p_lo)) / (p_hi - p_lo)
        out["r_ct"] = beta[:, k]
        out["R2"] = (beta[:, k] * frac[s_idx] + beta[:, k + 1] * dfrac[s_idx]
                     + beta[:, k + 2] * pfrac[s_idx])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out["tau_ct"] = tau_ct[s_idx] * np.exp(np.clip(beta[:, k + 1] / beta[:, k], -3, 3))
        k += 3
    if des["dj"]:
        frac_d = np.array([pe.step_fraction("warburg", np.array([dur]), td)[0]
                           for td in tau_d_grid])
        out["r_diff"] = beta[:, k]
        out["tau_d"] = tau_d_grid[g_idx]
        out["R3"] = beta[:, k] * frac_d[g_idx]
    out["total"] = out["R1"] + out["R2"] + out["R3"]
    best = int(np.argmax(ev.ravel()))
    out["v_fit_mv"] = des["a"][:, post["cols"][best]] @ post["mean"][best]
    out["v_draw_idx"] = (post["cols"], post["mean"], pick, beta)
    out["a"] = des["a"]
    out["sigma_mv"] = math.sqrt(post["sigma2"])
    return out


def split_pulses(
    gitt: xr.Dataset | Sequence[xr.Dataset],
    pfit: xr.Dataset,
    *,
    capacity_mah: float | None = None,
    area_cm2: float | None = None,
    n_samples: int = 400,
    seed: int = 0,
    progress: bool = False,
    settings: dict | None = None,
) -> xr.Dataset:
    """Split every complete GITT pulse by the process elements' time-domain responses.

    Parameters
    ----------
    gitt
        A GITT Dataset or several (one per cell; pulses are concatenated).
    pfit
        Output of :func:`drtbayes.processes.fit_processes` (symmetric-cell spectra).
    capacity_mah, area_cm2
        As for :func:`drtbayes.split.split_gitt`.
    n_samples
        Posterior draws per pulse.
    seed
        Seed of the draws (same seed, same numbers).
    progress
        A line per cell on stderr.
    settings
        Overrides of :data:`DEFAULTS`.

    Returns
    -------
    xr.Dataset
        The band method's layout (``resistance`` (pulse, component, sample), coords, fitted
        transient) with ``method = "processes"``, plus ``r_ct``, ``r_diff`` (ohm) and
        ``tau_d_s`` (pulse, sample), ``tau_d_identified`` (pulse) and ``note`` (pulse).
    """
    cfg = {**DEFAULTS, **(settings or {})}
    if pfit.attrs.get("drtbayes_kind") != "process_fit":
        raise DataError("split_gitt(method='processes') needs a process fit "
                        "(drtbayes.processes.fit_processes of the symmetric-cell spectra), got "
                        f"a {pfit.attrs.get('drtbayes_kind', type(pfit).__name__)!r}")
    records = [gitt] if isinstance(gitt, xr.Dataset) else list(gitt)
    if not records:
        raise DataError("split_gitt got no GITT record")
    n_dec = math.log10(cfg["tau_d_max_s"] / cfg["tau_d_min_s"])
    tau_d_grid = np.logspace(math.log10(cfg["tau_d_min_s"]), math.log10(cfg["tau_d_max_s"]),
                             int(round(n_dec * cfg["tau_d_per_decade"])) + 1)
    from ..split.fit import split_each_record

    def split_one(rec: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
        # one BLAS thread: same numbers whatever the environment (drtbayes.inference.threads),
        # and the small products here are slower when threads compete for the cores
        with one_blas_thread():
            return _split_record(rec, pfit, cfg, tau_d_grid, capacity_mah, area_cm2,
                                 n_samples, rng)

    out = split_each_record(records, seed, progress, split_one)
    from .. import __version__

    out.attrs.update({
        "drtbayes_kind": "split", "drtbayes_version": __version__,
        "method": "gaussian-mixture", "split_method": "processes",
        "estimand": "processes", "seed": seed, "n_samples": n_samples,
        "process_model": pfit.attrs.get("model", ""),
        "r1_contains": pfit.attrs.get("r1_contains", ""),
        "r3_meaning": "R3(t_p): the diffusion ladder's resistance developed at the end of the "
                      "pulse; r_diff and tau_d_s are the full element",
        "settings": json.dumps(cfg),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return out


# over 80 lines: the process method's record loop (pulses, EIS draws, fits, Dataset) kept in one
# piece while the band method's was split into drtbayes/split; splitting it needs its own
# same-numbers check
def _split_record(rec: xr.Dataset, pfit: xr.Dataset, cfg: dict, tau_d_grid: np.ndarray,
                  capacity_mah: float | None, area_cm2: float | None, n_samples: int,
                  rng: np.random.Generator) -> xr.Dataset:
    # pulse detection and windows are the band method's (same data, same estimand window)
    from ..split.pulses import detect_pulses, pulse_window

    src = rec.attrs.get("source") or "<GITT record>"
    design = str(rec.attrs.get("design", "") or "")
    if not design:
        gd = sorted(set(np.asarray(pfit["group_design"].values).astype(str)))
        if len(gd) != 1:
            raise DataError(f"{src}: the record has no design and the process fit holds "
                            f"{len(gd)} designs ({', '.join(gd)}); pass design= when reading")
        design = gd[0]
    cell = str(rec.attrs.get("cell", "") or "cell")
    table = ProcessTable(pfit, design)
    pulses = detect_pulses(rec, capacity_mah)
    keep = np.flatnonzero(pulses["complete"].values.astype(bool))
    if keep.size == 0:
        raise NoPulsesError(f"{src}: none of the {pulses.sizes['pulse']} pulses is complete "
                            "(each needs a rest after it); nothing to split")
    skipped = [{"pulse": int(i), "t_start": float(pulses["t_start"].values[i]),
                "reason": str(pulses["flag"].values[i]) or "incomplete"}
               for i in range(pulses.sizes["pulse"]) if i not in set(keep)]
    t = np.asarray(rec["time"].values, float)
    cur = np.asarray(rec["current"].values, float)
    volt = np.asarray(rec["voltage"].values, float)
    wcfg = {"window": {k: cfg[k] for k in ("pre_rest_s", "skip_after_step_s")}}
    n_p = keep.size
    n_fit = int(cfg["max_fit_points"])
    res = np.full((n_p, 4, n_samples), np.nan)
    extra = {k: np.full((n_p, n_samples), np.nan) for k in ("r_ct", "r_diff", "tau_d",
                                                            "tau_ct")}
    fit_t = np.full((n_p, n_fit), np.nan)
    fit_q = np.full((3, n_p, n_fit), np.nan)
    rmse, noise, ident = np.zeros(n_p), np.zeros(n_p), np.zeros(n_p, bool)
    s7_pred = np.full((n_p, n_samples), np.nan)
    notes = np.full(n_p, "", dtype=object)
    plist = []
    t_s = np.asarray(pulses["t_start"].values, float)
    t_e = np.asarray(pulses["t_end"].values, float)
    i_p = np.asarray(pulses["current_a"].values, float)
    n_hist = int(cfg["history_pulses"])
    for row, i in enumerate(keep):
        p = {k: float(pulses[k].values[i]) for k in ("t_start", "t_end", "t_rest_end", "soc",
                                                       "current_a", "rest_s")}
        p["history"] = [(t_s[k], t_e[k], i_p[k]) for k in range(max(0, i - n_hist), i)]
        p["kind"] = str(pulses["kind"].values[i])
        # the band method's window, found within this pulse's slice of the record (its mask
        # over the whole record would make the split quadratic in the number of pulses)
        lo = int(np.searchsorted(t, p["t_start"] - cfg["pre_rest_s"], side="left"))
        hi = int(np.searchsorted(t, p["t_rest_end"], side="left"))
        w = pulse_window(t[lo:hi], cur[lo:hi], p, wcfg)
        p.update(w, idx=w["idx"] + lo)
        idx = p["idx"]
        tt = t[idx]
        pre = tt < p["t_start"]
        y_off = float(np.median(volt[idx][pre])) if pre.any() else float(volt[idx[0]])
        y = (volt[idx] - y_off) * 1e3
        d = table.at(p["soc"])
        sub = rng.choice(d["tau"].shape[0], size=min(int(cfg["n_eis_draws"]), d["tau"].shape[0]),
                         replace=False)
        eis = {"roles": table.roles, "kinds": table.kinds, "tau": d["tau"][sub],
               "phi": d["phi"][sub], "r": d["r"][sub]}
        # the EIS informs tau_D and R_diff only when its first ladder line (tau_D / pi^2)
        # relaxes inside the measured window; below f_min it sees only the sqrt(w) part, and
        # its tau_D would then be a guess that pulls the pulse's (flat prior over the grid)
        dj = [j for j, r in enumerate(table.roles) if r == "diffusion"]
        eis["diffusion_seen"] = bool(dj) and float(np.median(d["tau"][:, dj[0]])) / math.pi**2 \
            < 1.0 / (2 * math.pi * table.f_min_hz)
        f = _fit_pulse(tt, y, p, eis, cfg, tau_d_grid, rng, n_samples)
        res[row] = np.stack([f[c] for c in COMPONENTS])
        s7_pred[row] = rng.permutation(np.resize(
            eis_half_cell_total(d, table.kinds, p["t_end"] - p["t_start"]), n_samples))
        for k in extra:
            extra[k][row] = f[k]
        resid = y - f["v_fit_mv"]
        rmse[row] = float(np.sqrt(np.mean(resid**2))) * 1e-3
        noise[row] = f["sigma_mv"] * 1e-3
        pick_t = np.unique(np.linspace(0, tt.size - 1, min(n_fit, tt.size)).round().astype(int))
        cols, mean, pick, beta = f["v_draw_idx"]
        sub_d = np.arange(0, n_samples, max(1, n_samples // 100))
        # each draw's coefficients scattered into the full column set: one product for all
        full = np.zeros((f["a"].shape[1], sub_d.size))
        np.put_along_axis(full, cols[pick[sub_d]].T, beta[sub_d].T, axis=0)
        v = f["a"][pick_t] @ full
        fit_t[row, :pick_t.size] = tt[pick_t] - p["t_start"]
        fit_q[:, row, :pick_t.size] = (np.percentile(v, [50, 2.5, 97.5], axis=1) * 1e-3
                                       + y_off)
        lt = np.log10(f["tau_d"][np.isfinite(f["tau_d"])])
        if lt.size:
            lo, hi = np.percentile(lt, [2.5, 97.5])
            ident[row] = bool(hi - lo <= cfg["identified_width_dec"]
                              and lo > math.log10(tau_d_grid[0]) + 0.05
                              and hi < math.log10(tau_d_grid[-1]) - 0.05)
            dur = p["t_end"] - p["t_start"]
            if dur < 0.1 * 10 ** float(np.median(lt)):
                notes[row] = ("sqrt(t) regime: the pulse is shorter than a tenth of tau_D, the "
                              "diffusion response during the pulse grows as sqrt(t); tau_D and "
                              "R_diff rest on the rest relaxation"
                              + ("" if ident[row] else ", which does not identify them here"))
        plist.append(p)
    area = area_cm2 if area_cm2 is not None else rec.attrs.get("area_cm2")
    area = float(area) if area is not None and np.isfinite(float(area)) else None
    coords = {
        "pulse": [f"{cell}/{k:03d}" for k in range(n_p)],
        "component": list(COMPONENTS),
        "sample": np.arange(n_samples),
        "method": "processes",
        "soc": ("pulse", np.array([p["soc"] for p in plist]), {"units": "%"}),
        "design": ("pulse", np.array([design] * n_p, dtype=object)),
        "cell": ("pulse", np.array([cell] * n_p, dtype=object)),
        "t_start": ("pulse", np.array([p["t_start"] for p in plist]), {"units": "s"}),
        "t_end": ("pulse", np.array([p["t_end"] for p in plist]), {"units": "s"}),
        "current_a": ("pulse", np.array([p["current_a"] for p in plist]), {"units": "A"}),
        "kind": ("pulse", np.array([p["kind"] for p in plist], dtype=object)),
    }
    data = {
        "resistance": (("pulse", "component", "sample"), res,
                       {"units": "ohm", "estimand": "processes: R1 instantaneous, R2 = R_ct "
                        "u_ct(t_p), R3 = R3(t_p) = R_diff u_D(t_p)"}),
        "resolved": (("pulse", "component"), np.ones((n_p, 4), bool)),
        "fallback_reason": (("pulse", "component"), np.full((n_p, 4), "", dtype=object)),
        "r_ct": (("pulse", "sample"), extra["r_ct"], {"units": "ohm"}),
        "r_diff": (("pulse", "sample"), extra["r_diff"],
                   {"units": "ohm", "long_name": "diffusion ladder DC resistance R_W/3"}),
        "tau_d_s": (("pulse", "sample"), extra["tau_d"], {"units": "s",
                                                         "long_name": "diffusion time L^2/D"}),
        "tau_ct_s": (("pulse", "sample"), extra["tau_ct"],
                     {"units": "s", "long_name": "charge-transfer tau refined by the pulse"}),
        "tau_d_identified": ("pulse", ident),
        "note": ("pulse", notes),
        "s7_eis_total": (("pulse", "sample"), s7_pred,
                         {"units": "ohm", "long_name": "symmetric-cell r_inf + half of its "
                          "process resistances developed at t_p (paper Fig. S7)"}),
        "s7_ratio": (("pulse", "sample"), res[:, 3] / s7_pred,
                     {"long_name": "GITT total / EIS prediction (paper Fig. S7); above 1 by "
                      "the counter electrode's share"}),
        "s7_consistent": ("pulse", np.abs(np.median(res[:, 3] / s7_pred, axis=1) - 1.0)
                          <= float(cfg["s7_tolerance"]),
                          {"long_name": "median GITT/EIS ratio within s7_tolerance of 1"}),
        "s7_eis_soc_distance": ("pulse", np.array([float(np.min(np.abs(table.socs - p["soc"])))
                                                   for p in plist]),
                                {"units": "%", "long_name": "SOC distance to the nearest EIS"}),
        "fit_rmse_v": ("pulse", rmse, {"units": "V"}),
        "noise_sd_v": ("pulse", noise, {"units": "V"}),
        "first_sample_s": ("pulse", np.array([p["first_sample_s"] for p in plist]),
                           {"units": "s"}),
        "fit_time_s": (("pulse", "fit_point"), fit_t, {"units": "s"}),
        "fit_v_median": (("pulse", "fit_point"), fit_q[0], {"units": "V"}),
        "fit_v_lo95": (("pulse", "fit_point"), fit_q[1], {"units": "V"}),
        "fit_v_hi95": (("pulse", "fit_point"), fit_q[2], {"units": "V"}),
    }
    if area is not None:
        data["resistance_area"] = (("pulse", "component", "sample"), res * area,
                                   {"units": "ohm cm2"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({"design": design, "cell": cell, "area_cm2": area if area else math.nan,
                     "capacity_mah": float(pulses.attrs.get("capacity_mah", math.nan)),
                     "skipped_pulses": json.dumps(skipped), "source": src})
    return ds
