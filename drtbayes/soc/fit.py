"""``fit_soc_model``: smooth curves of log R against SOC per design, replicate cells pooled.

One model per component, all of the same shape: the backend (:mod:`drtbayes.inference`)
compiles it once and swaps the data; per component the sampler also adapts its step size to
that component alone (a joint model needs ~2x longer trajectories, set by its hardest
component).
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import COMPONENTS
from ..errors import ApproximationWarning, PresetError, SamplingWarning
from ..inference import (
    compile_model,
    gate_advice,
    gate_failures,
    model_cache,
    one_blas_thread,
    pack_values,
    posterior_diagnostics,
    sample_nuts,
)
from ..numerics import derive_seed
from ..progress import activity
from ..results.provenance import stamp
from .basis import Basis, make_basis, rw2_matrix, soc_grid, zero_sum_basis
from .data import SocData, prepare_data
from .fast import sample_laplace
from .model import (
    COMP_AXIS,
    DEFAULT_PRESET,
    FREE_VARS,
    build_model,
    centring_weights,
    curves_from_params,
    load_soc_preset,
    obs_arrays,
)
from .result import SocModelResult

__all__ = ["fit_soc_model"]

# model key -> compiled nutpie model; emptied by drtbayes.inference.clear_model_cache
_COMPILED_CACHE = model_cache("soc")
# the gate looks at the curves and the scale parameters; the raw spline and cell z-scores are
# reported (rhat_max_all) but not gated: with a few hundred of them the maximum R-hat exceeds
# 1.01 by chance alone at the default draws, while the curves built from them (what every
# answer is computed from) are well converged
_GATED_VARS = ("log_r", "rw2_sd", "cell_sd", "extra_sd")


@dataclass
class _Setup:
    """What every component's fit shares: data, basis, prior maps, settings."""

    data: SocData
    basis: Basis
    rw2: np.ndarray
    greville: np.ndarray
    cell_design_idx: np.ndarray
    shared: dict[str, np.ndarray]
    cfg: dict
    method: str


def fit_soc_model(
    split: xr.Dataset,
    *,
    components: tuple[str, ...] | list[str] = COMPONENTS,
    seed: int = 0,
    fast: bool = False,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    preset: str | os.PathLike = DEFAULT_PRESET,
    progress: bool = False,
) -> SocModelResult:
    """Fit smooth curves of log resistance against SOC per design, pooling replicate cells.

    Parameters
    ----------
    split
        GITT split Dataset (``resistance`` (pulse, component, sample) in ohm; pulse coords
        ``soc``, ``design``, ``cell``); several cells concatenated along ``pulse``.
    components
        Components to model (one joint model; they share nothing but the sampler run).
    seed
        Random seed; the same seed gives the same numbers.
    progress
        Print draws done with an ETA to stderr during each NUTS run.
    fast
        Use a Laplace approximation (MAP plus a Gaussian in the unconstrained space) instead of
        NUTS; seconds instead of tens of seconds. Warns :class:`ApproximationWarning`.
    draws, tune, chains
        NUTS settings; default from the preset (``[sampler]``; ``[fast] draws`` when ``fast``).
    preset
        Name or path of the SOC-model preset (default ``soc-spline``).

    Returns
    -------
    SocModelResult
        Posterior curves ``log_r`` (chain, draw, design, component, soc) on a grid of
        ``[spline] grid_step_pct`` over the measured SOC range and ``log_r_cell``.

    Raises
    ------
    DataError
        Malformed split (missing variables or coords, too few usable pulses, SOC not percent).
    """
    preset_name, cfg, preset_text = load_soc_preset(preset)
    setup = _setup(split, components, cfg, fast)
    settings = _settings(cfg, fast, draws, tune, chains, progress)
    with one_blas_thread():  # same seed, same numbers whatever the BLAS thread count
        per_comp = [_fit_component(setup, k, seed, settings)
                    for k in range(len(setup.data.components))]
    if fast:
        warnings.warn(
            "SOC model fitted with a Laplace approximation (fast=True); credible intervals "
            "are approximate, refit without fast for final numbers",
            ApproximationWarning,
            stacklevel=2,
        )
    with activity("SOC curves of every draw, and the diagnostics"):
        params, stats = _merged(setup, per_comp)
        posterior = _posterior(setup, params)
        diag = _diagnose(setup, posterior, stats)
    groups: dict[str, xr.Dataset] = {"posterior": posterior, "observed_data": _observed(setup)}
    if stats is not None:
        groups["sample_stats"] = stats
    tree = xr.DataTree.from_dict(groups)
    stamp(tree.attrs, kind="soc_model", seed=seed, method=setup.method, preset=preset_name,
          preset_toml=preset_text, input_sha256=setup.data.input_sha256)
    tree.attrs.update(
        diagnostics=json.dumps(diag),
        sampler=json.dumps({k: v for k, v in settings.items() if k not in ("fast", "progress")}
                           | ({"chains": 1} if fast else {})),
        excluded=json.dumps(setup.data.excluded),
        components=json.dumps(setup.data.components),
        spline_knots=json.dumps(setup.basis.knots.tolist()),
        spline_degree=int(setup.basis.degree),
        knot_spacing=setup.basis.spacing,
    )
    return SocModelResult(tree)


def _merged(setup: _Setup, per_comp: list[tuple[dict, xr.Dataset | None]]
            ) -> tuple[dict[str, np.ndarray], xr.Dataset | None]:
    """Return the components' draws joined along the component axis, and their sampler stats."""
    params = {name: np.concatenate([pc[0][name] for pc in per_comp], axis=COMP_AXIS[name])
              for name in FREE_VARS}
    stats = None
    if per_comp[0][1] is not None:
        stats = xr.concat([pc[1] for pc in per_comp], dim="component", coords="minimal",
                          compat="override", join="override")
        stats = stats.assign_coords(component=setup.data.components)
    return params, stats


def _diagnose(setup: _Setup, posterior: xr.Dataset, stats: xr.Dataset | None
              ) -> dict[str, dict]:
    """Return the gate record of every component (each is its own NUTS run; none for Laplace).

    The records have the shape of a DRT fit's (unit label -> record, read by
    :func:`drtbayes.inference.diagnostics_by_unit`); a NUTS fit with a failing unit warns
    with advice.
    """
    if setup.method != "nuts":
        # the gate is about MCMC: an approximate posterior has no sampler diagnostics (as a
        # Laplace DRT fit has none)
        return {}
    gate_cfg = setup.cfg["gate"]
    units: dict[str, dict] = {}
    for comp in setup.data.components:
        comp_stats = None if stats is None else stats.sel(component=comp)
        d = posterior_diagnostics(posterior.sel(component=comp), comp_stats, gated=_GATED_VARS,
                                  reported=FREE_VARS, thresholds=gate_cfg)
        d["method"] = setup.method
        units[comp] = d
    failed = {c: d for c, d in units.items() if not d["gate_pass"]}
    if failed:
        checks = sorted({f for d in failed.values() for f in gate_failures(d, gate_cfg)})
        warnings.warn(
            "SOC model sampling failed the diagnostics gate ("
            + "; ".join(f"{c}: {', '.join(d['problems'])}" for c, d in failed.items())
            + "); " + gate_advice(checks),
            SamplingWarning,
            stacklevel=3,
        )
    return units


def _setup(split: xr.Dataset, components: Any, cfg: dict, fast: bool) -> _Setup:
    data = prepare_data(split, tuple(components), cfg)
    soc_lo = float(np.nanmin(data.pulse_soc))
    soc_hi = float(np.nanmax(data.pulse_soc))
    if fast:
        method = str(cfg["fast"].get("method", "laplace"))
        if method != "laplace":
            raise PresetError(f"preset [fast] method={method!r}; only 'laplace' is implemented")
    else:
        method = "nuts"
    with one_blas_thread():  # LAPACK's last bits depend on the thread count (see threads)
        basis = make_basis(soc_lo, soc_hi, cfg["spline"])
        g = basis.greville()
        rw2 = rw2_matrix(g)
        cell_design_idx = np.array([data.designs.index(d) for d in data.cell_design])
        u_w, s_w, vt_w = np.linalg.svd(rw2, full_matrices=False)
        shared = {"greville": g, "wiggle_u": u_w, "wiggle_s": s_w, "wiggle_vt": vt_w,
                  "cell_contrasts": zero_sum_basis(cell_design_idx, len(data.designs))}
    return _Setup(data=data, basis=basis, rw2=rw2, greville=g, cell_design_idx=cell_design_idx,
                  shared=shared, cfg=cfg, method=method)


def _settings(cfg: dict, fast: bool, draws: int | None, tune: int | None,
              chains: int | None, progress: bool) -> dict[str, Any]:
    """Return the sampler settings of this fit: the caller's, else the preset's."""
    sampler = cfg["sampler"]
    if fast:
        return {"fast": True, "draws": int(draws or cfg["fast"].get("draws", 1000))}
    return {
        "fast": False,
        "draws": int(draws or sampler.get("draws", 500)),
        "tune": int(tune or sampler.get("tune", 1000)),
        "chains": int(chains or sampler.get("chains", 4)),
        "target_accept": float(sampler.get("target_accept", 0.95)),
        "adaptation": str(sampler.get("adaptation", "diag")),
        "progress": bool(progress),
    }


def _fit_component(setup: _Setup, k: int, seed: int, settings: dict[str, Any]
                   ) -> tuple[dict, xr.Dataset | None]:
    """Draws of one component's model (NUTS or Laplace), parameters by name."""
    data, priors = setup.data, setup.cfg["priors"]
    obs = {**obs_arrays(data, setup.basis, k), **setup.shared}
    obs.update(centring_weights(obs, len(data.designs), float(priors["rw2_sd_scale"])))
    shape = (len(data.designs), len(data.cells), 1, setup.basis.n_basis)
    model = build_model(obs, shape, priors)
    seed_k = derive_seed(seed, k)
    # the packed data's layout (every array's shape) is part of the compiled model
    layout = tuple(sorted((name, np.shape(v)) for name, v in obs.items()))
    key = (shape, layout, json.dumps(priors, sort_keys=True))
    if settings["fast"]:
        return sample_laplace(model, obs, key, draws=settings["draws"], seed=seed_k)
    compiled = _COMPILED_CACHE.get(key)
    if compiled is None:
        with activity(f"compiling the SOC model of {data.components[k]}"):
            compiled = compile_model(model, var_names=list(FREE_VARS))
        _COMPILED_CACHE[key] = compiled
    else:
        compiled = compiled.with_data(**pack_values(obs))
    with activity(f"NUTS of the SOC model of {data.components[k]}"):
        trace = sample_nuts(
            compiled, draws=settings["draws"], tune=settings["tune"],
            chains=settings["chains"], cores=min(settings["chains"], os.cpu_count() or 1),
            seed=seed_k, target_accept=settings["target_accept"],
            adaptation=settings["adaptation"], progress=settings["progress"],
            label=f"SOC model {data.components[k]}")
    post = trace["posterior"].to_dataset()
    params = {name: np.asarray(post[name].values) for name in FREE_VARS}
    stats = trace["sample_stats"].to_dataset() if "sample_stats" in trace.children else None
    return params, stats


def _posterior(setup: _Setup, params: dict[str, np.ndarray]) -> xr.Dataset:
    """Return the posterior group: curves on the SOC grid and the model parameters."""
    data, basis = setup.data, setup.basis
    soc_lo, soc_hi = float(np.nanmin(data.pulse_soc)), float(np.nanmax(data.pulse_soc))
    grid = soc_grid(soc_lo, soc_hi, float(setup.cfg["spline"].get("grid_step_pct", 1.0)))
    log_r, log_r_cell, cell_offset = curves_from_params(
        params, basis.matrix(grid), setup.rw2, setup.greville, setup.cell_design_idx)
    n_chain, n_draw = log_r.shape[:2]
    coords = {
        "chain": np.arange(n_chain),
        "draw": np.arange(n_draw),
        "design": data.designs,
        "cell": data.cells,
        "component": data.components,
        "soc": grid,
        "basis_rw2": np.arange(basis.n_basis - 2),
    }
    cd, dc = ("chain", "draw"), ("design", "component")
    posterior = xr.Dataset(
        {
            "log_r": ((*cd, *dc, "soc"), log_r),
            "log_r_cell": ((*cd, "cell", "component", "soc"), log_r_cell),
            "level": ((*cd, *dc), params["level"]),
            "trend": ((*cd, *dc), params["trend"]),
            "wiggle_z": ((*cd, *dc, "basis_rw2"), params["wiggle_z"]),
            "rw2_sd": ((*cd, "component"), params["rw2_sd"]),
            "cell_z": ((*cd, "cell", "component"), params["cell_z"]),
            "cell_mean_z": ((*cd, *dc), params["cell_mean_z"]),
            "cell_offset": ((*cd, "cell", "component"), cell_offset),
            "cell_sd": ((*cd, "component"), params["cell_sd"]),
            "extra_sd": ((*cd, "component"), params["extra_sd"]),
        },
        coords=coords,
    )
    posterior = posterior.assign_coords(
        soc_min=("design", data.design_soc_range[:, 0]),
        soc_max=("design", data.design_soc_range[:, 1]),
        cell_design=("cell", data.cell_design),
    )
    posterior["log_r"].attrs.update(units="ln(ohm)", long_name="design-level log resistance")
    posterior["log_r_cell"].attrs.update(units="ln(ohm)", long_name="cell-level log resistance")
    posterior["soc"].attrs["units"] = "percent"
    return posterior


def _observed(setup: _Setup) -> xr.Dataset:
    """Return the observed_data group: per-pulse log-R mean and sd (NaN: excluded)."""
    data = setup.data
    return xr.Dataset(
        {
            "log_r_mean": (("pulse", "component"), data.log_mean),
            "log_r_sd": (("pulse", "component"), data.log_sd),
        },
        coords={
            "pulse": np.arange(len(data.pulse_soc)),
            "component": data.components,
            "soc": ("pulse", data.pulse_soc),
            "design": ("pulse", np.array(data.designs)[data.pulse_design_idx]),
            "cell": ("pulse", np.array(data.cells)[data.pulse_cell_idx]),
        },
    )
