"""The GITT pulse split: :func:`split_gitt` and the loop over records and pulses.

Method (preset ``gitt-split``; all numbers in ``models/gitt-split.toml``)
-----------------------------------------------------------------------
Each complete pulse (:mod:`drtbayes.split.pulses`) is fitted by the Gaussian linear model of
:mod:`drtbayes.split.model`, whose hyperparameters are set by empirical Bayes, so the posterior
is Gaussian and is sampled exactly (:mod:`drtbayes.inference.gaussian`): no MCMC, about 30 ms
per pulse. When pooling is on, neighbouring pulses (within ``pooling.width_soc``) share the
strength of the smoothness prior. Where "complete at the first sample" ends is not identified
by the data, so the fit is repeated with the grid starting at several multiples of the first
sample time and the posterior is their equal mixture. Each draw becomes R1 / R2 / R3 / total by
the EIS bands at the pulse SOC (:mod:`drtbayes.split.components`).

The process method (``method="processes"``) lives in :mod:`drtbayes.processes.pulse`;
:func:`split_gitt` hands it the records and both share :func:`split_each_record`.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import xarray as xr

from ..conventions import PROCESSES
from ..errors import DataError
from ..inference.gaussian import cholesky_draws
from ..inference.threads import one_blas_thread
from ..numerics import spawn_rngs
from ..progress import activity
from ..results.provenance import version
from .components import band_components
from .model import METHOD, fit_pulse, load_split_preset, pulse_data, pulse_grid
from .pulses import attach_eis, pulse_list, record_design
from .result import record_dataset

__all__ = ["split_gitt", "split_each_record"]


# over 80 lines by its docstring (the body, ~65 lines, checks the inputs and dispatches)
def split_gitt(
    gitt: xr.Dataset | Sequence[xr.Dataset],
    bands: xr.Dataset,
    *,
    capacity_mah: float | None = None,
    area_cm2: float | None = None,
    policy: str = "interpolate",
    n_samples: int | None = None,
    seed: int = 0,
    progress: bool = False,
    preset: str | dict = "gitt-split",
    method: str = "bands",
    processes: xr.Dataset | None = None,
    process_settings: dict | None = None,
) -> xr.Dataset:
    """Split every GITT pulse resistance into R1 / R2 / R3 with posterior draws.

    Two estimands, labelled in the output (scalar coord and attr ``split_method``):
    ``method="bands"`` (the paper's band integral of the pulse DRT, below) and
    ``method="processes"`` (each process's own exact step response with time constants from
    the EIS process posterior: :func:`drtbayes.processes.pulse.split_pulses`).

    Parameters
    ----------
    gitt
        A GITT Dataset (``read_gitt`` / ``make_gitt``), or several (one per cell; their pulses
        are concatenated). ``attrs['design']`` names the design whose EIS bands are used (it may
        be empty when the bands hold a single design); ``attrs['cell']`` labels the pulses.
    bands
        Output of :func:`drtbayes.bands.time_constant_bands` with 3 processes (contact, charge
        transfer, diffusion, fastest first).
    capacity_mah
        Cell capacity for coulomb counting (default ``gitt.attrs['capacity_mah']``).
    area_cm2
        Electrode area; adds ``resistance_area`` in ohm cm2 (default ``gitt.attrs['area_cm2']``).
    policy
        How bands are carried to the pulse SOC (:func:`drtbayes.bands.bands_at_soc`).
    n_samples
        Posterior draws per pulse (default: the preset's ``sampling.n_samples``, 400).
    seed
        Seed of the posterior draws (same seed, same numbers).
    progress
        Print a line per cell to stderr.
    preset
        Split preset name (``gitt-split``), path, or dict (band method).
    method
        ``"bands"`` or ``"processes"``.
    processes
        The process fit (:func:`drtbayes.processes.fit_processes`) for ``method="processes"``;
        ``bands`` may be that fit instead.
    process_settings
        Overrides of :data:`drtbayes.processes.pulse.DEFAULTS` (``FAST`` for long records).

    Returns
    -------
    xr.Dataset
        ``resistance`` (pulse, component, sample) in ohm (``component`` = R1, R2, R3, total),
        ``resistance_area`` (ohm cm2) when the area is known; ``resolved`` and
        ``fallback_reason`` (pulse, component); ``fit_rmse_v``, ``noise_sd_v``,
        ``first_sample_s`` (pulse); the fitted transient ``fit_time_s`` (s since the pulse
        start), ``fit_v_median``, ``fit_v_lo95``, ``fit_v_hi95`` (pulse, fit_point) in V;
        the pulse DRT ``pulse_r_median`` (pulse, pulse_tau) in ohm per grid cell. Coords on
        ``pulse``: ``soc`` (middle, %), ``design``, ``cell``, ``t_start``, ``t_end``,
        ``current_a``, ``kind``. Attrs ``drtbayes_kind="split"``, ``preset``,
        ``preset_toml``, ``seed``, ``method``, ``policy``.

    Raises
    ------
    NoPulsesError
        The record has no complete pulse.
    DataError
        Bands without the needed variables or the record's design, unusable records.
    """
    if method not in ("bands", "processes"):
        raise DataError(f"split method {method!r}: use 'bands' (band integral of the pulse DRT) "
                        "or 'processes' (process elements' step responses)")
    if method == "processes":
        from ..processes.pulse import split_pulses

        pfit = processes if processes is not None else bands
        out = split_pulses(gitt, pfit, capacity_mah=capacity_mah, area_cm2=area_cm2,
                           n_samples=400 if n_samples is None else int(n_samples), seed=seed,
                           progress=progress, settings=process_settings)
        return out.assign_coords(method="processes").assign_attrs(split_method="processes")
    cfg, toml_text = load_split_preset(preset)
    n_samples = int(n_samples if n_samples is not None else cfg["sampling"]["n_samples"])
    if n_samples < 2:
        raise DataError(f"n_samples={n_samples}: need at least 2 posterior draws per pulse")
    records = [gitt] if isinstance(gitt, xr.Dataset) else list(gitt)
    if not records:
        raise DataError("split_gitt got no GITT record")
    procs = json.loads(bands.attrs.get("processes", "[]")) or list(bands["process"].values)
    if len(procs) != len(PROCESSES):
        raise DataError(f"the GITT split needs bands of 3 processes (contact, charge transfer, "
                        f"diffusion); these bands have {len(procs)}: {procs}")
    if "gamma_median" not in bands and "group_gamma_median" not in bands:
        raise DataError("the bands have no 'gamma_median'/'group_gamma_median' (the EIS DRT "
                        "shape the split needs); make them with drtbayes.time_constant_bands")

    def split_one(rec: xr.Dataset, rng: np.random.Generator) -> xr.Dataset:
        # one BLAS thread: same numbers whatever the environment, and the many small
        # factorisations of the pulse fits only lose time to threads competing for the cores
        with one_blas_thread():
            return _split_record(rec, bands, cfg, capacity_mah=capacity_mah,
                                 area_cm2=area_cm2, policy=policy, n_samples=n_samples,
                                 rng=rng)

    out = split_each_record(records, seed, progress, split_one)
    out.attrs.update({
        "drtbayes_kind": "split",
        "drtbayes_version": version(),
        "preset": cfg.get("name", str(preset)),
        "preset_toml": toml_text,
        "seed": seed,
        "method": METHOD,
        "policy": policy,
        "n_samples": n_samples,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "band_source": bands.attrs.get("method", ""),
        "split_method": "bands",
    })
    return out.assign_coords(method="bands")


def split_each_record(records: Sequence[xr.Dataset], seed: int, progress: bool,
                      split_one: Callable[[xr.Dataset, np.random.Generator], xr.Dataset]
                      ) -> xr.Dataset:
    """Split every record with its own child seed of ``seed`` and join their pulses.

    Shared by both estimands: ``split_one(record, rng)`` returns one record's split Dataset.

    Parameters
    ----------
    records
        GITT records (one per cell).
    seed
        The run's seed; record ``i`` gets the ``i``-th spawned stream.
    progress
        A line per record on stderr.
    split_one
        Splits one record with its stream.

    Returns
    -------
    xr.Dataset
        The records' pulses concatenated (``resistance_area`` only when every record has it).
    """
    parts = []
    for rec, rng in zip(records, spawn_rngs(seed, len(records)), strict=True):
        t0 = time.perf_counter()
        part = split_one(rec, rng)
        parts.append(part)
        if progress:
            print(f"split {part.attrs['design']}/{part.attrs['cell']}: {part.sizes['pulse']} "
                  f"pulses in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    out = parts[0] if len(parts) == 1 else xr.concat(parts, dim="pulse",
                                                     combine_attrs="drop_conflicts")
    if any("resistance_area" not in p for p in parts):
        out = out.drop_vars("resistance_area", errors="ignore")
    return out


def _split_record(rec: xr.Dataset, bands: xr.Dataset, cfg: dict, *, capacity_mah: float | None,
                  area_cm2: float | None, policy: str, n_samples: int,
                  rng: np.random.Generator) -> xr.Dataset:
    src = rec.attrs.get("source") or "<GITT record>"
    design = record_design(rec, bands)
    cell = str(rec.attrs.get("cell", "") or "cell")
    tau_grid, h_ln, factors = pulse_grid(cfg)
    pulses, plist, skipped = pulse_list(rec, cfg, tau_grid, factors, capacity_mah=capacity_mah)
    t = np.asarray(rec["time"].values, float)
    volt = np.asarray(rec["voltage"].values, float)
    attach_eis(plist, bands, design, policy, cfg, rng)
    hyper = _hyperparameters(t, volt, plist, cfg, tau_grid, h_ln, factors)
    arrays = _draw_pulses(t, volt, plist, hyper, cfg, tau_grid, h_ln, n_samples, rng)
    area = area_cm2 if area_cm2 is not None else rec.attrs.get("area_cm2")
    area = float(area) if area is not None and np.isfinite(float(area)) else None
    return record_dataset(arrays, plist, design=design, cell=cell, tau_grid=tau_grid,
                          per_decade=cfg["pulse_grid"]["per_decade"], n_samples=n_samples,
                          area=area, capacity_mah=float(pulses.attrs.get("capacity_mah",
                                                                         math.nan)),
                          skipped=skipped, source=src)


def _hyperparameters(t: np.ndarray, volt: np.ndarray, plist: list[dict], cfg: dict,
                     tau_grid: np.ndarray, h_ln: float, factors: list[float]
                     ) -> list[list[tuple[float, float | None]]]:
    """Per grid start and pulse: (log alpha, log b or None: refitted) of the final fits."""
    width = float(cfg.get("pooling", {}).get("width_soc", 0.0))
    socs = np.array([p["soc"] for p in plist])
    # pass 1 keeps only each fit's hyperparameters (log alpha, log b): the fits themselves
    # (design matrices of every pulse) are rebuilt one pulse at a time below, so memory stays
    # that of one pulse however long the record
    eb_all = np.zeros((len(factors), len(plist), 2))
    with activity(f"empirical-Bayes fits of {len(plist)} pulses"):
        for j, p in enumerate(plist):
            data = pulse_data(t, volt, p, tau_grid)
            for m in range(len(factors)):
                f = fit_pulse(data, p, p["active"][m], tau_grid, h_ln, cfg)["fit"]
                eb_all[m, j] = f["log_alpha"], f["log_beta"]
    hyper = []
    for m in range(len(factors)):
        eb = eb_all[m]
        if width > 0 and len(plist) > 1:
            # pooling: neighbouring pulses share the strength of the smoothness prior (median
            # of their empirical-Bayes log alpha), which steadies the per-pulse choice without
            # making one pulse's DRT shape the prior of another (that double use of similar
            # data made the intervals overconfident in the validation); b is refitted
            order = np.argsort(socs, kind="stable")
            s_sorted, a_sorted = socs[order], eb[order, 0]
            lo_i = np.searchsorted(s_sorted, socs - width, side="left")
            hi_i = np.searchsorted(s_sorted, socs + width, side="right")
            hyper.append([(float(np.median(a_sorted[a:b])), None)
                          for a, b in zip(lo_i, hi_i, strict=True)])
        else:
            hyper.append([(float(a), float(b)) for a, b in eb])
    return hyper


def _draw_pulses(t: np.ndarray, volt: np.ndarray, plist: list[dict],
                 hyper: list[list[tuple[float, float | None]]], cfg: dict, tau_grid: np.ndarray,
                 h_ln: float, n_samples: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Posterior draws of every pulse's components and fitted transient (record order)."""
    n_grid = len(hyper)
    n_per = np.full(n_grid, n_samples // n_grid)
    n_per[: n_samples % n_grid] += 1
    n_fit = int(cfg["window"]["max_fit_points"])
    n_p = len(plist)
    out = {"res": np.full((n_p, 4, n_samples), np.nan), "resolved": np.zeros((n_p, 4), bool),
           "reasons": np.full((n_p, 4), "", dtype=object),
           "fit_t": np.full((n_p, n_fit), np.nan), "fit_q": np.full((3, n_p, n_fit), np.nan),
           "rmse": np.zeros(n_p), "noise": np.zeros(n_p),
           "r_med": np.full((n_p, tau_grid.size), np.nan)}
    for j, p in enumerate(plist):
        comp_r, comp_v, res_flags, why = [], [], [], ["", "", "", ""]
        data = pulse_data(t, volt, p, tau_grid)
        fits = [fit_pulse(data, p, p["active"][m], tau_grid, h_ln, cfg,
                          log_alpha=hyper[m][j][0], log_beta=hyper[m][j][1])
                for m in range(n_grid)]
        for m, n_m in enumerate(n_per):
            f = fits[m]
            draws = cholesky_draws(f["fit"], int(n_m), rng)
            r_draws = f["map"] @ draws  # (1 + k, n): r0, r_k
            comps = band_components(p, f, r_draws, h_ln, cfg, rng)
            comp_r.append(comps["r"])
            comp_v.append((f["x"] @ draws) * 1e-3 + f["y_offset_v"])
            res_flags.append(comps["resolved"])
            why = [a or b for a, b in zip(why, comps["reasons"], strict=True)]
            if m == 0:
                out["r_med"][j, p["active"][0]] = np.median(r_draws[1:], axis=1)
        out["res"][j] = np.concatenate(comp_r, axis=1)
        out["resolved"][j] = np.all(res_flags, axis=0)
        out["reasons"][j] = why
        f = fits[0]
        tt = t[p["idx"]]
        v_draws = np.concatenate(comp_v, axis=1)
        pick = np.unique(np.linspace(0, tt.size - 1, min(n_fit, tt.size)).round().astype(int))
        out["fit_t"][j, :pick.size] = tt[pick] - p["t_start"]
        out["fit_q"][:, j, :pick.size] = np.percentile(v_draws[pick], [50, 2.5, 97.5], axis=1)
        resid = volt[p["idx"]] - ((f["x"] @ f["fit"]["mean"]) * 1e-3 + f["y_offset_v"])
        out["rmse"][j] = float(np.sqrt(np.mean(resid**2)))
        out["noise"][j] = math.exp(-0.5 * f["fit"]["log_beta"]) * 1e-3
    return out
