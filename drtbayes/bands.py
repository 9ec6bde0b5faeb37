"""Posterior time-constant bands: where one process ends and the next begins, per DRT draw.

For every posterior draw of every DRT (each spectrum's and each design-level group's), the
process peaks are found (local maxima of gamma over ln tau whose prominence is at least
``rel_prominence`` of that draw's largest gamma value), assigned to the requested processes
fastest first, and the boundary between two consecutive processes is the minimum of gamma
between their peaks (refined by a parabola through the three grid points around it).

Draws in which a process has no peak
------------------------------------
* more peaks than processes: the ``len(processes)`` most prominent are kept;
* fewer peaks: each peak goes to the process whose reference position is nearest (the
  reference is the median log tau of that process over the unit's draws that do show all
  processes, else the median reference of the other DRTs of the fit; order is preserved),
  the others are recorded ``resolved=False`` with ``peak_tau``/``peak_r`` NaN; when no draw
  of any DRT shows all processes, peaks go to the processes fastest first;
* a boundary next to an unresolved process is the median of that boundary over the unit's
  draws in which it was found, and ``boundary_fallback`` is True; when no draw of the unit
  finds it, it is NaN (``boundary_fallback`` True) and the split reports that band as
  unresolved.

Nothing is silently defaulted: ``resolved``, ``p_resolved`` and ``boundary_fallback`` record
every case.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from scipy.signal import find_peaks

from .conventions import GROUP_COORDS, PROCESSES
from .errors import DataError, ValueRangeError
from .numerics import cumulative_trapezoid, parabolic_offset, soc_bracket
from .results.provenance import stamp

DEFAULT_PROCESSES = PROCESSES
#: Peaks lower in prominence than this fraction of the draw's largest gamma are ignored.
DEFAULT_REL_PROMINENCE = 0.05
POLICIES = ("interpolate", "nearest")


# --------------------------------------------------------------------------- input handling
def _posterior(fit: Any) -> tuple[xr.Dataset, dict]:
    tree = getattr(fit, "tree", fit)
    attrs: dict = dict(getattr(tree, "attrs", {}) or {})
    if isinstance(tree, xr.DataTree):
        if "posterior" not in tree.children:
            raise DataError("the DRT fit has no 'posterior' group; pass a DRTResult or the "
                            "DataTree written by fit_drt")
        return tree["posterior"].to_dataset(), attrs
    if isinstance(tree, xr.Dataset):
        return tree, attrs
    raise DataError(f"time_constant_bands needs a DRTResult or an xarray DataTree, got "
                    f"{type(fit).__name__}")


def _spectrum_coord(post: xr.Dataset, name: str) -> np.ndarray | None:
    """Return the spectrum coordinate ``name`` (``design``, ``cell``, ``soc``, ...) or None."""
    if name in post.coords and post[name].dims == ("spectrum",):
        return post[name].values
    return None


def _group_meta(post: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Design and SOC of each group: the fit's coords ``group_design`` and ``group_soc``.

    Every DRT fit drtbayes writes carries them (:data:`drtbayes.conventions.GROUP_COORDS`);
    a posterior without them is refused rather than guessed from the group labels.
    """
    names = (GROUP_COORDS["design"], GROUP_COORDS["soc"])
    missing = [n for n in names if n not in post.coords or post[n].dims != ("group",)]
    if missing:
        raise DataError(f"the DRT fit's groups have no coordinate {' or '.join(missing)} "
                        "(design and SOC of each group); refit with drtbayes.fit_drt, or add "
                        "them along dim 'group'")
    return (np.asarray(post[names[0]].values).astype(str),
            np.asarray(post[names[1]].values, dtype=float))


# --------------------------------------------------------------------------- per-draw kernel
def _peaks(g: np.ndarray, rel_prominence: float) -> tuple[np.ndarray, np.ndarray]:
    top = float(np.nanmax(g)) if g.size else 0.0
    if not np.isfinite(top) or top <= 0:
        return np.zeros(0, int), np.zeros(0)
    idx, props = find_peaks(np.nan_to_num(g), prominence=rel_prominence * top)
    return idx, props["prominences"]


def _select(idx: np.ndarray, prom: np.ndarray, n: int) -> np.ndarray:
    """Return the ``n`` most prominent peaks, in tau order."""
    if idx.size <= n:
        return idx
    keep = np.sort(np.argsort(prom)[::-1][:n])
    return idx[keep]


def _assign(ln_tau_peaks: np.ndarray, ref: np.ndarray) -> tuple[int, ...]:
    """Order-preserving assignment of fewer peaks than processes to the nearest references."""
    n, m = ref.size, ln_tau_peaks.size
    best, best_cost = tuple(range(m)), math.inf
    for combo in itertools.combinations(range(n), m):
        cost = float(np.sum((ln_tau_peaks - ref[list(combo)]) ** 2))
        if cost < best_cost:
            best, best_cost = combo, cost
    return best


def _refined_min(ln_tau: np.ndarray, g: np.ndarray, lo: int, hi: int) -> float:
    """Ln tau of the minimum of g strictly between grid indices lo and hi (parabolic refine)."""
    if hi - lo < 2:
        return 0.5 * (ln_tau[lo] + ln_tau[hi])
    k = lo + 1 + int(np.argmin(g[lo + 1:hi]))
    if lo + 1 < k < hi - 1 or (k - 1 >= 0 and k + 1 < g.size):
        y0, y1, y2 = g[k - 1], g[k], g[k + 1]
        if y0 - 2 * y1 + y2 > 0:  # a minimum only where gamma curves up
            h = ln_tau[k + 1] - ln_tau[k]
            return float(ln_tau[k] + float(parabolic_offset(y0, y1, y2)) * h)
    return float(ln_tau[k])


def _median_peaks(gam: np.ndarray, ln_tau: np.ndarray, rel_prominence: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Ln tau and prominence of the peaks of a unit's pointwise-median DRT."""
    idx, prom = _peaks(np.median(gam, axis=0), rel_prominence)
    return ln_tau[idx], prom


def _reference(pos: np.ndarray, prom: np.ndarray, n_proc: int,
               common: np.ndarray | None) -> np.ndarray | None:
    """Ln tau of each process's peak in one unit's median DRT (NaN: not found there).

    Why the median and not the draws: a single draw's DRT carries wiggles (a split top of a
    large arc, a bump between two arcs) that can be more prominent than a small but well
    separated process such as the contact arc beside a large charge-transfer arc; taking
    the most prominent peaks of each draw then names a wiggle "contact" and puts the boundary
    inside the charge-transfer arc.

    Why ``common``: the median of a poorly mixed fit can itself split an arc into several
    peaks (seen on a simulated L_SE cathode at 0 % SOC: a 198-ohm charge-transfer peak with
    side peaks of prominence 12 and 18 beside a contact peak of 11). ``common`` is the
    median peak position of every process over the DRTs of the fit whose medians show exactly
    one peak per process; each of this unit's peaks goes to the process with the nearest
    common position and the most prominent per process is kept, so a split arc stays one
    process. Without ``common`` the most prominent peaks are taken, fastest first. Returns None
    when the median has no peak at all.
    """
    if pos.size == 0:
        return None
    ref = np.full(n_proc, np.nan)
    if common is not None:
        nearest = np.argmin(np.abs(pos[:, None] - common[None, :]), axis=1)
        for j in range(n_proc):
            mine = np.flatnonzero(nearest == j)
            if mine.size:
                ref[j] = pos[mine[np.argmax(prom[mine])]]
        return ref
    sel = _select(np.arange(pos.size), prom, n_proc)
    ref[:sel.size] = pos[sel]
    return ref


def _unit_bands(gam: np.ndarray, ln_tau: np.ndarray, n_proc: int,
                rel_prominence: float, ref: np.ndarray | None) -> dict[str, np.ndarray]:
    """Bands of one DRT (one spectrum or group) over its draws ``gam`` (sample, tau).

    Each draw's peaks go to the process with the nearest reference position (``ref``, see
    :func:`_reference`); of several peaks near one process the most prominent is kept, and a
    process with no peak near it is unresolved in that draw.
    """
    n_s = gam.shape[0]
    peak_idx = np.full((n_s, n_proc), -1, dtype=int)
    known = np.flatnonzero(np.isfinite(ref)) if ref is not None else np.zeros(0, int)
    for s in range(n_s):
        idx, prom = _peaks(gam[s], rel_prominence)
        if idx.size == 0:
            continue
        if known.size == 0:
            sel = _select(idx, prom, n_proc)   # no reference at all: fastest first
            peak_idx[s, :sel.size] = sel
            continue
        nearest = known[np.argmin(np.abs(ln_tau[idx][:, None] - ref[known][None, :]), axis=1)]
        for j in known:
            mine = np.flatnonzero(nearest == j)
            if mine.size:
                peak_idx[s, j] = idx[mine[np.argmax(prom[mine])]]
    resolved = peak_idx >= 0
    nb = n_proc - 1
    bnd = np.full((n_s, nb), np.nan)
    for s in range(n_s):
        for b in range(nb):
            lo, hi = peak_idx[s, b], peak_idx[s, b + 1]
            if lo >= 0 and hi >= 0:
                bnd[s, b] = _refined_min(ln_tau, gam[s], lo, hi)
    fallback = np.isnan(bnd)
    for b in range(nb):
        ok = ~fallback[:, b]
        bnd[fallback[:, b], b] = np.median(bnd[ok, b]) if ok.any() else np.nan
    # band resistances: cumulative integral of gamma over ln tau, read at the boundaries
    cum = cumulative_trapezoid(gam, ln_tau)
    at_b = np.full((n_s, nb), np.nan)
    for b in range(nb):
        ok = np.isfinite(bnd[:, b])
        x = np.clip(bnd[ok, b], ln_tau[0], ln_tau[-1])
        j = np.clip(np.searchsorted(ln_tau, x) - 1, 0, ln_tau.size - 2)
        w = (x - ln_tau[j]) / (ln_tau[j + 1] - ln_tau[j])
        rows = np.flatnonzero(ok)
        at_b[ok, b] = cum[rows, j] * (1 - w) + cum[rows, j + 1] * w
    edges = np.concatenate([np.zeros((n_s, 1)), at_b, cum[:, -1:]], 1)
    band_r = np.diff(edges, axis=1)
    safe = np.where(resolved, peak_idx, 0)
    peak_tau = np.where(resolved, np.exp(ln_tau[safe]), np.nan)
    peak_r = np.where(resolved, np.take_along_axis(gam, safe, 1), np.nan)
    return {"boundary_tau": np.exp(bnd), "boundary_fallback": fallback, "peak_tau": peak_tau,
            "peak_r": peak_r, "band_r": band_r, "resolved": resolved}


# --------------------------------------------------------------------------- public
# ~140 lines, ~95 of code: spectrum and group level share one loop over the units and the
# Dataset assembly; split apart they would pass the same dozen arrays back and forth
# over 80 lines: one pass over the two levels (spectra, groups) building one Dataset; its variables
# are named once here so the layout reads in one place
def time_constant_bands(
    fit: Any,
    processes: Sequence[str] = DEFAULT_PROCESSES,
    *,
    rel_prominence: float = DEFAULT_REL_PROMINENCE,
    max_samples: int | None = None,
    seed: int | None = None,
) -> xr.Dataset:
    """Posterior time-constant bands of every DRT in a fit.

    Parameters
    ----------
    fit
        A ``DRTResult`` or an ``xr.DataTree`` whose ``posterior`` holds ``gamma`` (chain, draw,
        spectrum, tau) and/or ``gamma_group`` (chain, draw, group, tau), gamma in ohm per unit
        ln tau, ``tau`` in s ascending.
    processes
        Process names, fastest first (2 to 5).
    rel_prominence
        A local maximum counts as a process peak when its prominence is at least this
        fraction of the draw's largest gamma.
    max_samples
        Use at most this many posterior draws (an evenly spaced subset); all when None.
    seed
        Unused by the deterministic algorithm; recorded for provenance (default: the fit's
        seed, so a ``--seed 1`` run's bands record seed 1).

    Returns
    -------
    xr.Dataset
        Dims ``sample``, ``spectrum``, ``group``, ``process``, ``boundary``, ``tau``.
        ``boundary_tau`` (sample, spectrum, boundary) in s, ``boundary_fallback``,
        ``peak_tau`` (s), ``peak_r`` (gamma at the peak, ohm per unit ln tau), ``band_r``
        (integral of gamma over the band, ohm), ``resolved`` (sample, spectrum, process),
        ``p_resolved`` (spectrum, process), ``gamma_median`` (spectrum, tau) and
        ``r_inf`` (sample, spectrum) when the fit has it; the same with prefix ``group_`` over
        ``group`` (coords ``group_design``, ``group_soc``). Spectrum coords ``design``,
        ``cell``, ``soc`` are kept. Attrs ``drtbayes_kind="bands"``, ``processes`` (JSON).

    Raises
    ------
    DataError
        No ``gamma`` / ``gamma_group`` in the posterior.
    ValueRangeError
        Fewer than 2 or more than 5 processes.
    """
    processes = tuple(str(p) for p in processes)
    if not 2 <= len(processes) <= 5 or len(set(processes)) != len(processes):
        raise ValueRangeError(f"processes={processes!r}: give 2 to 5 distinct process names, "
                              "fastest first")
    post, fit_attrs = _posterior(fit)
    if "gamma" not in post and "gamma_group" not in post:
        raise DataError("the DRT posterior has neither 'gamma' nor 'gamma_group'; is this a "
                        "drtbayes DRT fit?")
    tau = np.asarray(post["tau"].values, dtype=float)
    if tau.size < 5 or np.any(np.diff(tau) <= 0):
        raise DataError("the DRT posterior's tau coordinate must be ascending with >= 5 points")
    ln_tau = np.log(tau)
    n_proc = len(processes)
    bnames = [f"{a}|{b}" for a, b in itertools.pairwise(processes)]

    def flat(da: xr.DataArray, unit: str) -> np.ndarray:
        dims = [d for d in ("chain", "draw") if d in da.dims]
        arr = da.stack(sample=dims) if dims else da.expand_dims("sample")
        arr = arr.transpose(unit, "sample", ...).values
        if max_samples is not None and arr.shape[1] > max_samples:
            arr = arr[:, np.linspace(0, arr.shape[1] - 1, max_samples).round().astype(int)]
        return np.asarray(arr, dtype=float)

    data_vars: dict[str, Any] = {}
    coords: dict[str, Any] = {"process": list(processes), "boundary": bnames, "tau": tau}
    n_sample = None
    refs: dict[str, np.ndarray] = {}
    for var, unit, prefix in (("gamma", "spectrum", ""), ("gamma_group", "group", "group_")):
        if var not in post:
            continue
        gam = flat(post[var], unit)  # unit, sample, tau
        n_sample = gam.shape[1]
        med = [_median_peaks(gam[u], ln_tau, rel_prominence) for u in range(gam.shape[0])]
        clean = [pos for pos, _ in med if pos.size == n_proc]
        common = np.median(np.array(clean), axis=0) if clean else None
        unit_refs = [_reference(pos, prom, n_proc, common) for pos, prom in med]
        # a process that a unit's median lacks (a shoulder) takes the common position
        if common is not None:
            unit_refs = [common.copy() if r is None else np.where(np.isfinite(r), r, common)
                         for r in unit_refs]
        results = [_unit_bands(gam[u], ln_tau, n_proc, rel_prominence, unit_refs[u])
                   for u in range(gam.shape[0])]
        refs[prefix] = np.array([r if r is not None else np.full(n_proc, np.nan)
                                 for r in unit_refs])

        def stack(key: str, res: list = results) -> np.ndarray:
            return np.moveaxis(np.array([r[key] for r in res]), 0, 1)  # sample, unit, ...

        data_vars[f"{prefix}boundary_tau"] = (("sample", unit, "boundary"), stack("boundary_tau"),
                                              {"units": "s"})
        data_vars[f"{prefix}boundary_fallback"] = (("sample", unit, "boundary"),
                                                   stack("boundary_fallback"))
        data_vars[f"{prefix}peak_tau"] = (("sample", unit, "process"), stack("peak_tau"),
                                          {"units": "s"})
        data_vars[f"{prefix}peak_r"] = (("sample", unit, "process"), stack("peak_r"),
                                        {"units": "ohm", "long_name": "gamma at the peak "
                                         "(ohm per unit ln tau)"})
        data_vars[f"{prefix}band_r"] = (("sample", unit, "process"), stack("band_r"),
                                        {"units": "ohm"})
        res_arr = stack("resolved")
        data_vars[f"{prefix}resolved"] = (("sample", unit, "process"), res_arr)
        data_vars[f"{prefix}p_resolved"] = ((unit, "process"), res_arr.mean(0))
        data_vars[f"{prefix}gamma_median"] = ((unit, "tau"), np.median(gam, axis=1),
                                              {"units": "ohm"})
        labels = [str(x) for x in post[unit].values]
        coords[unit] = labels
        if unit == "spectrum":
            for name in ("design", "cell", "soc", "cell_type"):
                val = _spectrum_coord(post, name)
                if val is not None:
                    coords[name] = ("spectrum", val)
            if "r_inf" in post and "spectrum" in post["r_inf"].dims:
                data_vars["r_inf"] = (("sample", "spectrum"), flat(post["r_inf"], "spectrum").T,
                                      {"units": "ohm"})
        else:
            gd, gs = _group_meta(post)
            coords[GROUP_COORDS["design"]] = ("group", gd)
            coords[GROUP_COORDS["soc"]] = ("group", gs)
            r_inf = _group_r_inf(post, flat, gd, gs)
            if r_inf is not None:
                data_vars["group_r_inf"] = (("sample", "group"), r_inf, {"units": "ohm"})
    coords["sample"] = np.arange(n_sample)
    ds = xr.Dataset(data_vars, coords=coords)
    stamp(ds.attrs, kind="bands",
          seed=seed if seed is not None else int(fit_attrs.get("seed", -1)),
          method=str(fit_attrs.get("method", "")), preset=str(fit_attrs.get("preset", "")),
          preset_toml=str(fit_attrs.get("preset_toml", "")),
          input_sha256=fit_attrs.get("input_sha256", "{}"))
    ds.attrs.update({
        "processes": json.dumps(list(processes)),
        "rel_prominence": rel_prominence,
        "boundary_definition": "minimum of gamma between consecutive process peaks (parabolic "
                               "refinement); fallback: median over the draws that resolve it",
        "reference_ln_tau": json.dumps({k or "spectrum": np.round(v, 4).tolist()
                                        for k, v in refs.items()}),
    })
    return ds


def _group_r_inf(post: xr.Dataset, flat: Any, gd: np.ndarray, gs: np.ndarray) -> np.ndarray | None:
    """Per group and sample, the mean r_inf of the group's spectra (when the fit has r_inf)."""
    if "r_inf" not in post or "spectrum" not in post["r_inf"].dims:
        return None
    design = _spectrum_coord(post, "design")
    soc = _spectrum_coord(post, "soc")
    if design is None or soc is None:
        return None
    r = flat(post["r_inf"], "spectrum")  # spectrum, sample
    out = np.full((r.shape[1], gd.size), np.nan)
    for g, (d, s) in enumerate(zip(gd, gs, strict=True)):
        m = (np.asarray(design).astype(str) == d) & np.isclose(np.asarray(soc, float), s)
        if m.any():
            out[:, g] = r[m].mean(0)
    return out


# --------------------------------------------------------------------------- SOC policy
def _design_units(bands: xr.Dataset, design: str) -> tuple[str, np.ndarray, list[int]]:
    """Prefix and SOCs of the DRTs of ``design``: group level when available, else spectra."""
    if "group" in bands.dims and "group_design" in bands.coords:
        gd = bands["group_design"].values.astype(str)
        idx = [i for i, d in enumerate(gd) if d == design]
        if idx:
            return "group_", bands["group_soc"].values[idx].astype(float), idx
    if "spectrum" in bands.dims and "design" in bands.coords:
        sd = bands["design"].values.astype(str)
        idx = [i for i, d in enumerate(sd) if d == design]
        if idx:
            return "", bands["soc"].values[idx].astype(float), idx
    known = sorted(set(bands["group_design"].values.astype(str)) if "group_design" in bands.coords
                   else set(bands["design"].values.astype(str)) if "design" in bands.coords
                   else set())
    raise DataError(f"the bands hold no DRT of design {design!r} (designs: "
                    f"{', '.join(known) or 'none'}); check the design names of the GITT record "
                    "and the EIS spectra")


class SocTable:
    """One band variable of one design at its measured SOCs, carried to any SOC in numpy.

    :func:`design_value_at_soc` builds one per call; the GITT split builds one per variable and
    record and asks it at every pulse SOC (xarray's groupby per pulse cost more than the fit).
    """

    def __init__(self, bands: xr.Dataset, var: str, *, design: str, log: bool = False) -> None:
        prefix, socs, idx = _design_units(bands, design)
        unit = "group" if prefix else "spectrum"
        da = bands[prefix + var].isel({unit: idx})
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                da = np.log10(da)
        da = da.assign_coords(_soc=(unit, socs)).groupby("_soc").mean(unit)
        self.measured = da["_soc"].values.astype(float)
        if np.any(~np.isfinite(self.measured)):
            raise DataError(f"design {design!r}: a DRT without a SOC cannot be carried to other "
                            "SOCs; give every EIS spectrum its soc")
        da = da.transpose("_soc", ...)
        self.values = np.asarray(da.values)
        self.dims = tuple(d for d in da.dims if d != "_soc")
        self.coords = {d: da[d].values for d in self.dims if d in da.coords}
        self.design, self.level = design, "group" if prefix else "spectrum"

    def at(self, soc: float, policy: str = "interpolate") -> np.ndarray:
        """Return the values at ``soc`` (percent) by ``policy`` (see :func:`bands_at_soc`)."""
        if policy not in POLICIES:
            raise ValueRangeError(f"policy={policy!r}; use one of {', '.join(POLICIES)}")
        if not np.isfinite(soc):
            raise ValueRangeError(f"soc={soc!r} must be a finite percentage")
        m = self.measured
        if m.size == 1 or policy == "nearest":
            return self.values[int(np.argmin(np.abs(m - soc)))]
        j, k, w = soc_bracket(m, soc)  # measured is sorted: groupby sorts its groups
        return self.values[j] * (1 - w) + self.values[k] * w


def design_value_at_soc(bands: xr.Dataset, var: str, *, design: str, soc: float,
                        policy: str = "interpolate", log: bool = False) -> xr.DataArray:
    """Carry any per-DRT band variable of a design to ``soc`` (the policy of ``bands_at_soc``).

    Variables: ``boundary_tau``, ``band_r``, ``gamma_median``, ...

    With ``log`` the interpolation is done on log10 of the values (and log10 is returned).
    Spectra of one design at the same SOC are averaged (on the log scale when ``log``).
    """
    if policy not in POLICIES:
        raise ValueRangeError(f"policy={policy!r}; use one of {', '.join(POLICIES)}")
    if not np.isfinite(soc):
        raise ValueRangeError(f"soc={soc!r} must be a finite percentage")
    table = SocTable(bands, var, design=design, log=log)
    out = xr.DataArray(table.at(soc, policy), dims=table.dims, coords=table.coords)
    out.attrs.update({"policy": policy, "design": design, "soc": float(soc),
                      "measured_soc": json.dumps(table.measured.tolist()),
                      "level": table.level})
    return out


def bands_at_soc(bands: xr.Dataset, *, design: str, soc: float,
                 policy: str = "interpolate") -> xr.DataArray:
    """Log10 band boundaries (s) of a design at any SOC.

    Bands are measured only at the SOCs of the EIS spectra. ``policy="interpolate"``
    interpolates log10 tau of each boundary linearly in SOC between the two nearest measured
    SOCs, draw by draw (posterior correlations are kept), and clamps outside the measured range
    (below the lowest SOC the lowest SOC's bands are used, above the highest the highest's).
    ``policy="nearest"`` takes the bands of the nearest measured SOC. The design-level
    (``group_``) bands are used; without them, the design's spectra at each SOC are averaged
    in log tau.

    Parameters
    ----------
    bands
        Output of :func:`time_constant_bands`.
    design
        Electrode design.
    soc
        State of charge in percent.
    policy
        ``"interpolate"`` or ``"nearest"``.

    Returns
    -------
    xr.DataArray
        (sample, boundary) log10 tau (s). NaN where a draw has no boundary at a measured SOC.
    """
    out = design_value_at_soc(bands, "boundary_tau", design=design, soc=soc, policy=policy,
                              log=True)
    out.name = "log10_boundary_tau"
    out.attrs["units"] = "log10(s)"
    return out.transpose("sample", "boundary")
