"""Data of the SOC model: per-pulse posterior summaries of log R from a GITT split."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..errors import ColumnError, DataError, DataWarning, TooFewPointsError, ValueRangeError

__all__ = ["SocData", "prepare_data"]

@dataclass
class SocData:
    """Per-pulse log-resistance summaries and the labels of the study."""

    components: list[str]
    designs: list[str]
    cells: list[str]  # unique cell labels
    cell_design: list[str]  # design of each cell
    pulse_soc: np.ndarray  # (pulse,)
    pulse_design_idx: np.ndarray  # (pulse,)
    pulse_cell_idx: np.ndarray  # (pulse,)
    log_mean: np.ndarray  # (pulse, component), NaN where excluded
    log_sd: np.ndarray  # (pulse, component), NaN where excluded
    excluded: list[dict] = field(default_factory=list)
    design_soc_range: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    input_sha256: str = "{}"


def _coord_strings(split: xr.Dataset, name: str) -> np.ndarray:
    if name not in split.coords and name not in split.data_vars:
        raise ColumnError(
            f"split dataset: coordinate {name!r} on dim 'pulse' missing; the split must carry "
            f"'soc', 'design' and 'cell' per pulse (see docs/architecture.md, split)"
        )
    values = split[name].values
    if values.shape != (split.sizes["pulse"],):
        raise ColumnError(f"split dataset: coordinate {name!r} must be 1-D along 'pulse'")
    return values


def prepare_data(split: xr.Dataset, components: tuple[str, ...], preset: dict) -> SocData:
    """Per-pulse mean and sd of log R of each component, checked, with the study's labels.

    Parameters
    ----------
    split
        GITT split Dataset (``resistance`` (pulse, component, sample) in ohm; pulse coords
        ``soc``, ``design``, ``cell``).
    components
        Components to model.
    preset
        SOC-model preset (its ``[data]`` table).

    Returns
    -------
    SocData
        Pulses without enough finite positive draws are excluded (recorded in ``excluded``).

    Raises
    ------
    DataError
        Missing variables or coords, too few usable pulses, SOC not in percent.
    """
    comps = _check_split(split, components)
    soc = np.asarray(_coord_strings(split, "soc"), dtype=float)
    design_lab = np.asarray([str(v) for v in _coord_strings(split, "design")])
    cell_lab = np.asarray([str(v) for v in _coord_strings(split, "cell")])
    draws = split["resistance"].sel(component=comps).transpose("pulse", "component", "sample")
    draws = np.asarray(draws.values, dtype=float)
    n_pulse, _, n_sample = draws.shape
    if n_pulse == 0 or n_sample < 2:
        raise TooFewPointsError(
            f"split dataset: {n_pulse} pulses x {n_sample} samples; the SOC model needs pulses "
            f"with at least 2 posterior samples each"
        )
    log_mean, log_sd, use, excluded = _log_summaries(draws, soc, design_lab, cell_lab, comps,
                                                     preset["data"])
    designs = list(dict.fromkeys(design_lab.tolist()))
    pairs = list(dict.fromkeys(zip(design_lab.tolist(), cell_lab.tolist(), strict=True)))
    names = [c for _, c in pairs]
    # A cell name reused by two designs ("cell1") must not be pooled into one cell.
    if len(set(names)) != len(names):
        cells = [f"{d}/{c}" for d, c in pairs]
    else:
        cells = names
    pair_idx = {p: j for j, p in enumerate(pairs)}
    cell_idx = np.array([pair_idx[(d, c)] for d, c in zip(design_lab, cell_lab, strict=True)])
    design_idx = np.array([designs.index(d) for d in design_lab])
    rng_rows = _design_ranges(soc, use, designs, design_idx, comps, preset["data"])
    return SocData(
        components=comps,
        designs=designs,
        cells=cells,
        cell_design=[d for d, _ in pairs],
        pulse_soc=soc,
        pulse_design_idx=design_idx,
        pulse_cell_idx=cell_idx,
        log_mean=log_mean,
        log_sd=log_sd,
        excluded=excluded,
        design_soc_range=np.asarray(rng_rows, dtype=float),
        input_sha256=str(split.attrs.get("input_sha256", "{}")),
    )


def _check_split(split: xr.Dataset, components: tuple[str, ...]) -> list[str]:
    """Return the components asked for, checked against the split's layout."""
    if not isinstance(split, xr.Dataset):
        raise DataError(
            f"expected a split xr.Dataset (from split_gitt) or a SocModelResult, got "
            f"{type(split).__name__}"
        )
    if "resistance" not in split.data_vars:
        raise ColumnError(
            "split dataset: variable 'resistance' (pulse, component, sample) missing; pass the "
            "output of drtbayes.split_gitt"
        )
    res = split["resistance"]
    for dim in ("pulse", "component", "sample"):
        if dim not in res.dims:
            raise ColumnError(
                f"split dataset: 'resistance' has dims {res.dims}, needs 'pulse', 'component' "
                f"and 'sample'"
            )
    available = [str(c) for c in res["component"].values]
    comps = [str(c) for c in components]
    if not comps:
        raise DataError("components: empty; give at least one of R1, R2, R3, total")
    missing = [c for c in comps if c not in available]
    if missing:
        raise ColumnError(
            f"split dataset: component(s) {missing} not in 'component' coordinate {available}; "
            f"choose from those"
        )
    if len(set(comps)) != len(comps):
        raise DataError(f"components: {comps} contains duplicates; list each component once")
    return comps


def _log_summaries(draws: np.ndarray, soc: np.ndarray, design_lab: np.ndarray,
                   cell_lab: np.ndarray, comps: list[str], data_cfg: dict
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
    """Mean and sd of log R per pulse and component, the usable mask and the exclusions."""
    n_pulse, n_comp, n_sample = draws.shape
    min_frac = float(data_cfg.get("min_valid_fraction", 0.5))
    min_sd = float(data_cfg.get("min_log_sd", 0.005))
    ok = np.isfinite(draws) & (draws > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logd = np.where(ok, np.log(np.where(ok, draws, 1.0)), np.nan)
    n_ok = ok.sum(axis=-1)
    frac_ok = n_ok / n_sample
    log_mean = np.nanmean(np.where(n_ok[..., None] > 0, logd, 0.0), axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        log_sd = np.nanstd(logd, axis=-1, ddof=1)
    excluded: list[dict] = []
    use = np.ones((n_pulse, n_comp), dtype=bool)
    n_nonpos = 0
    for i in range(n_pulse):
        for k in range(n_comp):
            reason = None
            if not np.isfinite(soc[i]):
                reason = "SOC is NaN or infinite"
            elif frac_ok[i, k] < min_frac:
                reason = (
                    f"only {n_ok[i, k]} of {n_sample} draws finite and positive "
                    f"(< {min_frac:.0%})"
                )
            if reason is not None:
                use[i, k] = False
                excluded.append({
                    "pulse": int(i), "design": str(design_lab[i]), "cell": str(cell_lab[i]),
                    "component": comps[k],
                    "soc": None if not np.isfinite(soc[i]) else float(soc[i]),
                    "reason": reason,
                })
            elif n_ok[i, k] < n_sample:
                n_nonpos += int(n_sample - n_ok[i, k])
    if n_nonpos:
        warnings.warn(
            f"split dataset: {n_nonpos} resistance draws were zero, negative or not finite and "
            f"were left out of their pulse's log-R summary (pulses with < {min_frac:.0%} valid "
            f"draws are excluded and recorded in attrs['excluded'])",
            DataWarning,
            stacklevel=4,
        )
    log_mean = np.where(use, log_mean, np.nan)
    log_sd = np.where(use, np.maximum(np.nan_to_num(log_sd, nan=min_sd), min_sd), np.nan)
    return log_mean, log_sd, use, excluded


def _design_ranges(soc: np.ndarray, use: np.ndarray, designs: list[str],
                   design_idx: np.ndarray, comps: list[str], data_cfg: dict) -> list[list[float]]:
    """Measured SOC range of each design, after checking it has enough usable pulses."""
    min_pulses = int(data_cfg.get("min_pulses_per_design", 5))
    rng_rows = []
    for j, d in enumerate(designs):
        in_d = design_idx == j
        for k, c in enumerate(comps):
            n_used = int(np.sum(use[in_d, k]))
            if n_used < min_pulses:
                raise TooFewPointsError(
                    f"split dataset: design {d!r}, component {c}: {n_used} usable pulses, the "
                    f"SOC model needs at least {min_pulses}; check the split (attrs "
                    f"'fallback_reason') or leave this component out"
                )
        s = soc[in_d & np.isfinite(soc)]
        rng_rows.append([float(s.min()), float(s.max())])
    if np.nanmin(soc) >= np.nanmax(soc):
        raise TooFewPointsError("split dataset: all pulses have the same SOC; need an SOC range")
    if np.nanmin(soc) < -1.0 or np.nanmax(soc) > 101.0:
        raise ValueRangeError(
            f"split dataset: pulse SOC spans {np.nanmin(soc):.3g}..{np.nanmax(soc):.3g}; SOC "
            f"must be in percent 0-100 (a fraction 0-1 must be multiplied by 100)"
        )
    return rng_rows
