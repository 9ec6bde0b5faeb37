"""Pulses of a GITT record for the split: detection, fit windows, and EIS information per pulse.

Shared by both estimands (the band method here and :mod:`drtbayes.processes.pulse`): the same
pulses and the same fit windows, so the two methods split the same data.

Each posterior draw of a pulse is paired with one draw of the EIS band boundaries at the pulse
SOC (:func:`drtbayes.bands.bands_at_soc`), so the intervals include the band uncertainty; away
from the measured SOCs the log boundaries get an extra spread that grows with the distance to
the nearest measured SOC and with how much the boundary moves between them
(``resolution.soc_transfer_sd_fraction``), because how a band moves between EIS SOCs is not
measured.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import xarray as xr

from ..bands import SocTable, bands_at_soc
from ..conventions import GROUP_COORDS
from ..errors import DataError, NoPulsesError

__all__ = ["detect_pulses", "pulse_window", "record_design", "pulse_list", "attach_eis",
           "soc_transfer"]


def detect_pulses(rec: xr.Dataset, capacity_mah: float | None) -> xr.Dataset:
    """Pulses of a record (:func:`drtbayes.io.detect_pulses`, imported late: io sits beside).

    Parameters
    ----------
    rec
        A GITT record.
    capacity_mah
        Capacity for coulomb counting (None: the record's attr).

    Returns
    -------
    xr.Dataset
        The record's pulses.
    """
    from ..io import detect_pulses as detect

    return detect(rec, capacity_mah=capacity_mah)


def pulse_window(t: np.ndarray, cur: np.ndarray, p: dict, cfg: dict,
                  imax: float | None = None) -> dict:
    """Return the indices and first sample time of one pulse's fit window.

    Only the slice of the (sorted) record around the pulse is looked at, so that a record of N
    pulses costs N windows, not N whole-record scans; ``imax`` is the record's largest |current|
    (computed here when not given).

    Parameters
    ----------
    t, cur
        The record's time (s, sorted) and current (A).
    p
        The pulse: ``t_start``, ``t_end``, ``t_rest_end`` (s).
    cfg
        The preset (its ``window`` table: ``pre_rest_s``, ``skip_after_step_s``).
    imax
        The record's largest |current|.

    Returns
    -------
    dict
        ``idx`` (record indices of the window), ``first_sample_s`` (first sample after the
        later of the two current steps).
    """
    win = cfg["window"]
    t_on, t_off, t_end = p["t_start"], p["t_end"], p["t_rest_end"]
    if imax is None:
        imax = float(np.max(np.abs(cur)))
    lo = int(np.searchsorted(t, t_on - win["pre_rest_s"], side="left"))
    hi = int(np.searchsorted(t, t_end, side="left"))
    t, cur = t[lo:hi], cur[lo:hi]
    sel = np.ones(t.size, bool)
    # pre-pulse samples only where the cell rests (not the tail of the previous pulse's current)
    sel &= ~((t < t_on) & (np.abs(cur) > 0.01 * imax))
    skip = win["skip_after_step_s"]
    sel &= ~(((t - t_on) >= 0) & ((t - t_on) < skip))
    sel &= ~(((t - t_off) >= 0) & ((t - t_off) < skip))
    idx = np.flatnonzero(sel)
    after_on = t[idx] - t_on
    first = float(np.min(after_on[after_on > 0])) if np.any(after_on > 0) else math.nan
    after_off = t[idx] - t_off
    first_off = float(np.min(after_off[after_off > 0])) if np.any(after_off > 0) else math.nan
    return {"idx": idx + lo, "first_sample_s": max(first, first_off) if np.isfinite(first_off)
            else first}


def record_design(rec: xr.Dataset, bands: xr.Dataset) -> str:
    """Return the design whose EIS bands a record uses: its own, else the bands' only one.

    Parameters
    ----------
    rec
        A GITT record.
    bands
        The EIS bands.

    Returns
    -------
    str
        The design.

    Raises
    ------
    DataError
        The record names no design and the bands hold several.
    """
    design = str(rec.attrs.get("design", "") or "")
    if design:
        return design
    names = (bands[GROUP_COORDS["design"]].values if GROUP_COORDS["design"] in bands.coords
             else bands["design"].values if "design" in bands.coords else [])
    uniq = sorted(set(np.asarray(names).astype(str)))
    if len(uniq) == 1:
        return uniq[0]
    src = rec.attrs.get("source") or "<GITT record>"
    raise DataError(f"{src}: the record has no design and the bands hold {len(uniq)} designs "
                    f"({', '.join(uniq)}); pass design= when reading the record")


def pulse_list(rec: xr.Dataset, cfg: dict, tau_grid: np.ndarray, factors: list[float], *,
               capacity_mah: float | None) -> tuple[xr.Dataset, list[dict], list[dict]]:
    """Return the complete pulses of a record with their fit windows and active grid cells.

    Parameters
    ----------
    rec
        A GITT record.
    cfg
        The split preset.
    tau_grid, factors
        The pulse DRT grid and its grid-start factors
        (:func:`drtbayes.split.model.pulse_grid`).
    capacity_mah
        Capacity for coulomb counting.

    Returns
    -------
    pulses, plist, skipped
        The detected pulses, one dict per complete pulse (times, SOC, current, window, active
        cells per grid start) and the incomplete pulses with why.

    Raises
    ------
    NoPulsesError
        No pulse is complete.
    DataError
        A pulse whose sampling leaves fewer than 4 time constants.
    """
    src = rec.attrs.get("source") or "<GITT record>"
    pulses = detect_pulses(rec, capacity_mah)
    keep = np.flatnonzero(pulses["complete"].values.astype(bool))
    if keep.size == 0:
        raise NoPulsesError(f"{src}: none of the {pulses.sizes['pulse']} pulses is complete "
                            "(each needs a rest after it); nothing to split")
    t_starts, flags = pulses["t_start"].values, pulses["flag"].values
    skipped = [{"pulse": int(i), "t_start": float(t_starts[i]),
                "reason": str(flags[i]) or "incomplete"}
               for i in np.flatnonzero(~pulses["complete"].values.astype(bool))]
    t = np.asarray(rec["time"].values, float)
    cur = np.asarray(rec["current"].values, float)
    grid_cfg = cfg["pulse_grid"]
    imax = float(np.max(np.abs(cur)))
    plist = []
    for i in keep:
        p = {k: float(pulses[k].values[i]) for k in ("t_start", "t_end", "t_rest_end", "soc",
                                                       "current_a", "rest_s")}
        p["kind"] = str(pulses["kind"].values[i])
        w = pulse_window(t, cur, p, cfg, imax=imax)
        p.update(w)
        dur = p["t_end"] - p["t_start"]
        hi = min(grid_cfg["tau_max_pulse_factor"] * dur,
                 grid_cfg["tau_max_rest_fraction"] * max(p["rest_s"], dur))
        p["active"] = [(tau_grid >= fac * w["first_sample_s"]) & (tau_grid <= hi)
                       for fac in factors]
        if min(a.sum() for a in p["active"]) < 4:
            raise DataError(f"{src}: pulse at {p['t_start']:g} s: its sampling leaves fewer than "
                            "4 time constants between the first sample and the rest length")
        plist.append(p)
    return pulses, plist, skipped


def attach_eis(plist: list[dict], bands: xr.Dataset, design: str, policy: str, cfg: dict,
               rng: np.random.Generator) -> None:
    """Add the EIS information at each pulse SOC to the pulses, in place.

    Parameters
    ----------
    plist
        Pulses of :func:`pulse_list`; each gets ``log_b`` (EIS draws of the log10 band
        boundaries, with the SOC-transfer spread), ``log_b_median``, ``eis_tau``,
        ``eis_gamma`` (median EIS DRT), ``eis_band_r`` and ``eis_r_inf`` (None without r_inf).
    bands
        The EIS bands.
    design
        The record's design.
    policy
        How bands are carried to the pulse SOC (:func:`drtbayes.bands.bands_at_soc`).
    cfg
        The split preset.
    rng
        Source of the SOC-transfer spread (drawn pulse by pulse, in order).
    """
    transfer = soc_transfer(bands, design, policy,
                            float(cfg["resolution"].get("soc_transfer_sd_fraction", 0.0)))
    tables = {var: SocTable(bands, var, design=design, log=(var == "boundary_tau"))
              for var in ("boundary_tau", "gamma_median", "band_r")}
    try:
        tables["r_inf"] = SocTable(bands, "r_inf", design=design)
    except KeyError:
        pass
    eis_tau = np.asarray(bands["tau"].values, float)
    for p in plist:
        p["log_b"] = np.asarray(tables["boundary_tau"].at(p["soc"], policy), float)
        sd = transfer(p["soc"])
        if np.any(sd > 0):
            p["log_b"] = p["log_b"] + rng.normal(0.0, 1.0, p["log_b"].shape) * sd
        p["log_b_median"] = np.nanmedian(p["log_b"], axis=0)
        p["eis_tau"] = eis_tau
        p["eis_gamma"] = np.clip(np.asarray(tables["gamma_median"].at(p["soc"], policy), float),
                                 0.0, None)
        p["eis_band_r"] = np.asarray(tables["band_r"].at(p["soc"], policy), float)
        p["eis_r_inf"] = (np.asarray(tables["r_inf"].at(p["soc"], policy), float)
                          if "r_inf" in tables else None)


def soc_transfer(bands: xr.Dataset, design: str, policy: str,
                 fraction: float) -> Callable[[float], np.ndarray]:
    """Sd (decades) of the extra spread of log boundaries carried away from the measured SOCs.

    Bands are measured at a few SOCs only; how a boundary moves in between is not known. The
    spread is ``fraction`` x the change of the median log boundary between the two measured
    SOCs around the pulse x min(1, 2 d / spacing), d the distance to the nearest measured SOC
    (0 at a measured SOC, the full ``fraction`` x change halfway and beyond the range).

    Parameters
    ----------
    bands
        The EIS bands.
    design
        Electrode design.
    policy
        Policy of :func:`drtbayes.bands.bands_at_soc` (for the measured SOCs).
    fraction
        ``resolution.soc_transfer_sd_fraction`` of the preset.

    Returns
    -------
    callable
        ``sd(soc)``: (boundary,) sd in decades.
    """
    lb0 = bands_at_soc(bands, design=design, soc=0.0, policy=policy)
    measured = sorted(json.loads(lb0.attrs["measured_soc"]))
    nb = lb0.sizes["boundary"]
    if fraction <= 0 or len(measured) < 2:
        return lambda soc: np.zeros(nb)
    meds = np.array([np.nanmedian(bands_at_soc(bands, design=design, soc=m,
                                               policy="nearest").values, axis=0)
                     for m in measured])

    def sd(soc: float) -> np.ndarray:
        j = int(np.clip(np.searchsorted(measured, soc) - 1, 0, len(measured) - 2))
        span = measured[j + 1] - measured[j]
        d = min(abs(soc - m) for m in measured)
        return fraction * np.abs(meds[j + 1] - meds[j]) * min(1.0, 2.0 * d / span)

    return sd
