"""R1 / R2 / R3 / total of one pulse from its pulse-DRT draws and the EIS band draws.

A pulse RC element counts at its development at the end of the pulse: R_j = sum over tau_k in
band j of r_k (1 - exp(-t_pulse / tau_k)); total = r0 + sum_k r_k (1 - exp(-t_pulse/tau_k)) =
polarisation at the end of the pulse / current, against the bulk OCV.

Bands the sampling cannot see
-----------------------------
The part of a band faster than the pulse grid is merged into r0. For every band after the
first, the fraction f of its EIS resistance (median DRT, per drawn boundaries) faster than the
grid is computed: when 1 - f >= ``resolution.min_observed_fraction`` the band is resolved and
R_j = (observed part) / (1 - f), the unobserved part being taken out of r0; otherwise the band
is not resolved: the merged resistance (total minus the resolved bands) is divided between R1
and the unresolved bands in the ratio of their EIS band resistances (R1 with the EIS r_inf),
with an extra log-normal spread ``resolution.fallback_log_sd``. ``resolved`` is False and
``fallback_reason`` says why for those components - never a silent zero or merge. A band that
is resolved but starts before the first sample keeps ``resolved=True`` with a note in
``fallback_reason`` (its estimate leans on the EIS shape at its fast edge).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..conventions import COMPONENTS

__all__ = ["NOTE_LEAK_FRACTION", "band_components"]

#: A resolved band gets a note in ``fallback_reason`` when it starts before the first sample and
#: more than this fraction of the faster band relaxes slower than a tenth of the grid start.
NOTE_LEAK_FRACTION = 0.05

_NAMES = dict(enumerate(COMPONENTS[:3]))


def band_components(p: dict, f: dict, draws_r: np.ndarray, h_ln: float, cfg: dict,
                    rng: np.random.Generator) -> dict:
    """R1/R2/R3/total draws of one pulse from pulse-DRT draws (r0, r_k) and EIS band draws.

    Parameters
    ----------
    p
        The pulse with its EIS information (:func:`drtbayes.split.pulses.attach_eis`).
    f
        Its fit (:func:`drtbayes.split.model.fit_pulse`).
    draws_r
        (1 + k, n) draws of r0 and the pulse DRT r_k.
    h_ln
        ln-tau step of the pulse grid.
    cfg
        The split preset (``resolution``).
    rng
        Pairs each draw with an EIS band draw, and draws the fallback's spread.

    Returns
    -------
    dict
        ``r`` (4, n) draws of R1, R2, R3, total; ``resolved`` (4,) bool; ``reasons`` (4,) str.
    """
    n = draws_r.shape[1]
    tau = f["tau"]
    dur = p["t_end"] - p["t_start"]
    wk = -np.expm1(-dur / tau)
    total = draws_r[0] + wk @ draws_r[1:]
    # one EIS band draw per posterior draw (only draws with defined boundaries)
    log_b = p["log_b"]
    ok = np.all(np.isfinite(log_b), axis=1)
    out_r = np.full((4, n), np.nan)
    out_r[3] = total
    reasons = ["", "", "", ""]
    resolved = np.array([False, False, False, True])
    if not ok.any():
        why = ("the EIS bands have no defined boundary at this SOC (a process peak is missing "
               "in every EIS draw); only the total is given")
        for j in range(3):
            reasons[j] = why
        return {"r": out_r, "resolved": resolved, "reasons": reasons}
    pick = rng.choice(np.flatnonzero(ok), size=n, replace=True)
    b = 10.0 ** log_b[pick]  # n, 2
    # observed part of each band on the pulse grid
    ln_tau = np.log(tau)
    lnb = np.log(b)
    band_of = (ln_tau[None, :] >= lnb[:, :1]).astype(int) + (ln_tau[None, :] >= lnb[:, 1:2])
    contrib = wk[:, None] * draws_r[1:]  # k, n
    obs = np.zeros((3, n))
    for j in range(3):
        obs[j] = np.sum(np.where(band_of.T == j, contrib, 0.0), axis=0)
    grid_lo = math.log(tau[0]) - 0.5 * h_ln
    cum_at, band_tot, frac_unseen = _unseen_fraction(p, lnb, grid_lo)
    min_obs = float(cfg["resolution"]["min_observed_fraction"])
    first = p["first_sample_s"]
    unresolved = []
    for j in (1, 2):
        seen = 1.0 - float(np.median(frac_unseen[:, j]))
        if seen >= min_obs:
            out_r[j] = obs[j] / np.maximum(1.0 - frac_unseen[:, j], 1e-9)
            resolved[j] = True
            reasons[j] = _early_band_note(lnb[:, j - 1], band_tot[:, j - 1], cum_at, grid_lo,
                                          first)
        else:
            unresolved.append((j, seen))
    merged = total - np.nansum(out_r[[j for j in (1, 2) if resolved[j]]], axis=0)
    if not unresolved:
        out_r[0] = merged
        resolved[0] = True
    else:
        _merge_unresolved(out_r, reasons, merged, unresolved, p, pick, first, cfg, rng)
    return {"r": out_r, "resolved": resolved, "reasons": reasons}


def _unseen_fraction(p: dict, lnb: np.ndarray, grid_lo: float
                     ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]:
    """Cumulative EIS DRT, each band's EIS resistance, and its fraction faster than the grid."""
    et = np.log(p["eis_tau"])
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (p["eis_gamma"][1:] + p["eis_gamma"][:-1])
                                           * np.diff(et))])

    def cum_at(x: np.ndarray) -> np.ndarray:
        return np.interp(x, et, cum)

    n = lnb.shape[0]
    lo_edges = np.column_stack([np.full(n, -np.inf), lnb])
    hi_edges = np.column_stack([lnb, np.full(n, np.inf)])
    band_tot = cum_at(hi_edges) - cum_at(lo_edges)
    unseen = cum_at(np.minimum(hi_edges, grid_lo)) - cum_at(lo_edges)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac_unseen = np.where(band_tot > 0, np.clip(unseen / band_tot, 0.0, 1.0), 1.0)
    return cum_at, band_tot, frac_unseen


def _early_band_note(lnb_lo: np.ndarray, prev_tot: np.ndarray,
                     cum_at: Callable[[np.ndarray], np.ndarray], grid_lo: float,
                     first: float) -> str:
    """Return the note of a resolved band that starts before the first sample (or '')."""
    b_lo = float(np.exp(np.median(lnb_lo)))
    # share of the faster band's EIS resistance slower than a tenth of the grid start:
    # relaxations the first samples see only partly, which the fit can mistake for
    # this band (validation: with the first sample at 1 s, R3 came out up to 12 % high)
    slow_prev = cum_at(lnb_lo) - cum_at(np.minimum(lnb_lo, grid_lo - math.log(10.0)))
    leak = float(np.median(slow_prev / np.maximum(prev_tot, 1e-300)))
    if grid_lo > math.log(b_lo) and leak > NOTE_LEAK_FRACTION:
        return (f"note: the band starts at {b_lo:.3g} s, before the first sample "
                f"({first:.3g} s), while {100 * leak:.0f} % of the faster band "
                "is still relaxing then; part of it may be counted here")
    return ""


def _merge_unresolved(out_r: np.ndarray, reasons: list[str], merged: np.ndarray,
                      unresolved: list[tuple[int, float]], p: dict, pick: np.ndarray,
                      first: float, cfg: dict, rng: np.random.Generator) -> None:
    """Divide the merged resistance between R1 and the unresolved bands by the EIS ratio."""
    involved = [0] + [j for j, _ in unresolved]
    eis = p["eis_band_r"][pick]  # n, 3
    rat = np.column_stack([eis[:, j] for j in involved]).astype(float)
    if p["eis_r_inf"] is not None:
        rat[:, 0] = rat[:, 0] + np.nan_to_num(p["eis_r_inf"][pick])
        r1_note = "EIS contact band + r_inf"
    else:
        r1_note = "EIS contact band only (the fit has no r_inf)"
    rat = np.clip(rat, 1e-12, None) * np.exp(
        rng.normal(0.0, cfg["resolution"]["fallback_log_sd"], rat.shape))
    rat /= rat.sum(1, keepdims=True)
    for col, j in enumerate(involved):
        out_r[j] = merged * rat[:, col]
    merged_names = "+".join(_NAMES[j] for j in involved)
    for j, seen in unresolved:
        reasons[j] = (f"{_NAMES[j]}: first sample {first:.3g} s after the current step; only "
                      f"{100 * seen:.0f} % of the {('charge-transfer', 'diffusion')[j - 1]} "
                      f"band (EIS) is slower, so {merged_names} is split by the EIS "
                      f"posterior ratio ({r1_note}), with an extra spread")
    reasons[0] = (f"R1 is merged with {', '.join(_NAMES[j] for j, _ in unresolved)} at this "
                  f"sampling (first sample {first:.3g} s) and split by the EIS posterior "
                  "ratio")
