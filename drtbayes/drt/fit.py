"""``fit_drt``: hierarchical Bayesian DRT of one or many spectra.

Compiled models are cached per process, keyed by (preset text, n_spectra, n_frequency, n_tau,
n_groups): all data (impedances, kernels, masks, group index, prior level) live in one
``pm.Data`` container (see ``drtbayes.inference.packed``) and are swapped in with nutpie's
``with_data``, so a later fit of a same-shaped stack costs sampling only.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import xarray as xr

from ..errors import (
    ApproximationWarning,
    ColumnError,
    DataError,
    PresetError,
    TooFewPointsError,
    ValueRangeError,
)
from ..inference import (
    check_sampler_settings,
    clear_model_cache,
    compile_model,
    loaded_from_cache,
    model_cache,
    one_blas_thread,
    pack_values,
)
from ..inference.whiten import WhitenedCompiled, whitened_model
from ..progress import activity
from .model import (
    ModelInputs,
    build_model,
    hyperparameters_by_empirical_bayes,
    prepare_inputs,
)
from .result import DRTResult, build_tree

__all__ = ["fit_drt", "clear_model_cache"]

# (preset sha256, *shape key) -> (PyMC model, WhitenedCompiled); emptied by clear_model_cache
_CACHE = model_cache("drt")
_MIN_POINTS = 10


def _as_stack(spectra: xr.Dataset | Sequence[xr.Dataset]) -> xr.Dataset:
    if isinstance(spectra, xr.Dataset):
        if "spectrum" in spectra.dims:
            return spectra
        spectra = [spectra]
    spectra = list(spectra)
    if not spectra:
        raise DataError("fit_drt: no spectra given")
    for i, s in enumerate(spectra):
        if not isinstance(s, xr.Dataset):
            raise DataError(f"fit_drt: item {i} is a {type(s).__name__}, not a spectrum "
                            "Dataset; read files with drtbayes.read_spectrum")
    if len(spectra) == 1:
        s = spectra[0]
        _check_vars(s, s.attrs.get("source", "spectrum 0"))
        label = _label(s.attrs)
        st = s.expand_dims(spectrum=[label])
        for key in ("design", "cell", "soc", "temperature_c", "cell_type", "area_cm2", "source"):
            if key in s.attrs:
                st = st.assign_coords({key: ("spectrum", [s.attrs[key]])})
        return st
    from ..io import stack_spectra

    return stack_spectra(spectra)


def _label(attrs: dict) -> str:
    soc = attrs.get("soc", float("nan"))
    try:
        soc_s = f"{float(soc):g}"
    except (TypeError, ValueError):
        soc_s = "nan"
    return f"{attrs.get('design', '') or 'design'}/{attrs.get('cell', '') or 'cell'}/soc{soc_s}"


def _check_vars(ds: xr.Dataset, where: str) -> None:
    missing = [v for v in ("z_real", "z_imag") if v not in ds]
    if missing or "frequency" not in ds.dims:
        raise ColumnError(f"{where}: a spectrum needs dim 'frequency' and variables z_real, "
                          f"z_imag (missing {missing or ['frequency']}); build it with "
                          "drtbayes.make_spectrum or read_spectrum")


def _coord(stack: xr.Dataset, name: str, default: Any) -> np.ndarray:
    n = stack.sizes["spectrum"]
    if name in stack.coords and stack[name].dims == ("spectrum",):
        return np.asarray(stack[name].values)
    return np.array([default] * n)


def _groups(stack: xr.Dataset, pooling: str) -> tuple[np.ndarray, list[str], list[str],
                                                      np.ndarray]:
    labels = [str(x) for x in stack["spectrum"].values]
    design = _coord(stack, "design", "").astype(str)
    soc = _coord(stack, "soc", np.nan).astype(float)
    if pooling != "hierarchical":
        return np.arange(len(labels)), labels, list(design), soc
    keys: dict[tuple[str, float], int] = {}
    index = []
    for d, s in zip(design, soc, strict=True):
        k = (d, round(float(s), 6) if np.isfinite(s) else float("nan"))
        # NaN SOC: one group per design (NaN != NaN, so key on a string)
        k2 = (d, "nan") if not np.isfinite(s) else k
        if k2 not in keys:
            keys[k2] = len(keys)
        index.append(keys[k2])
    g_labels, g_design, g_soc = [], [], []
    for (d, s) in keys:
        s_f = float("nan") if s == "nan" else float(s)
        g_labels.append(f"{d}/soc{s_f:g}")
        g_design.append(d)
        g_soc.append(s_f)
    return np.array(index), g_labels, g_design, np.array(g_soc)


def _validate(stack: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _check_vars(stack, "fit_drt input")
    st = stack.transpose("spectrum", "frequency")
    f = np.asarray(st["frequency"].values, dtype=float)
    if not np.all(np.isfinite(f)) or np.any(f <= 0):
        raise ValueRangeError("fit_drt: frequencies must be finite and > 0 Hz")
    order = np.argsort(f)[::-1]
    zr = np.asarray(st["z_real"].values, dtype=float)[:, order]
    zi = np.asarray(st["z_imag"].values, dtype=float)[:, order]
    for s, lab in enumerate(st["spectrum"].values):
        n_ok = int((np.isfinite(zr[s]) & np.isfinite(zi[s])).sum())
        if n_ok < _MIN_POINTS:
            raise TooFewPointsError(f"spectrum {lab!s}: {n_ok} usable points; a DRT fit needs at "
                                    f"least {_MIN_POINTS} (measure more frequencies)")
    return f[order], zr, zi


def _compiled(inputs: ModelInputs, preset: dict[str, Any]) -> tuple[Any, Any, bool]:
    key = (hashlib.sha256(preset["preset_toml"].encode()).hexdigest(), *inputs.shape_key)
    hit = key in _CACHE
    if not hit:
        model = build_model(inputs, preset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            # compiled once in whitened coordinates; with shift 0 and L = I (every use but
            # NUTS after empirical Bayes) it is the original model (drtbayes.inference.whiten)
            with activity("compiling the DRT model"):
                _CACHE[key] = (model, WhitenedCompiled(compile_model(whitened_model(model))))
    model, compiled = _CACHE[key]
    return model, compiled.with_data(**pack_values(inputs.data_values())), hit


# over 80 lines only by its numpydoc docstring: the body is ~45 lines of calls to the helpers
def fit_drt(
    spectra: xr.Dataset | Sequence[xr.Dataset],
    model: str | dict[str, Any] = "drt-hierarchical",
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    seed: int = 0,
    fast: bool = False,
    progress: bool = True,
    target_accept: float | None = None,
    capacitance_f: float | Sequence[float | None] | None = None,
    capacitance_rel_sd: float | Sequence[float] = 0.1,
) -> DRTResult:
    """Fit the Bayesian DRT model to one or many spectra.

    Parameters
    ----------
    spectra
        One spectrum Dataset (dim ``frequency``, vars ``z_real``, ``z_imag`` in ohm), a list of
        them, or a stacked Dataset (dims ``spectrum``, ``frequency``; NaN where a spectrum lacks
        a frequency: those points are masked out).
    model
        Preset name (``drt-single``, ``drt-hierarchical``, ``drt-robust``), path to a ``.toml``
        file, or a dict from :func:`drtbayes.load_preset`.
    draws, tune, chains
        NUTS draws / warm-up per chain and number of chains (None: the preset's [sampler]).
        With ``fast=True`` ``draws`` is the number of Laplace draws (default: preset [fast]).
    seed
        Seed of the sampler and of the posterior-predictive noise: same seed, same numbers.
    fast
        MAP + Laplace approximation instead of NUTS (``method="laplace"``; warns
        :class:`~drtbayes.errors.ApproximationWarning`).
    progress
        Show the sampler's progress bar.
    target_accept
        Override the preset's step-size adaptation target.
    capacitance_f
        A known series capacitance (F): one value for every spectrum, or one per spectrum (None
        or NaN where unknown), e.g. a symmetric cell's chemical capacitance from the GITT's
        dQ/dE (half of one electrode's: the two are in series). It enters as a log-normal prior
        on C; without it C has the preset's weak prior. Why it helps: the slowest DRT peak and
        C trade against each other at the low-frequency end, and a C left free comes out low
        (docs/model.md, "Known series capacitance").
    capacitance_rel_sd
        The sd of ln C of that prior (about its relative sd; default 0.1 = 10 %): one value,
        or one per spectrum.

    Returns
    -------
    DRTResult
        Posterior in an ArviZ-layout DataTree (see docs/architecture.md, "drt: fit").

    Raises
    ------
    DataError
        Input that is not a spectrum, fewer than 10 usable points, bad frequencies, a
        capacitance that is not positive or not one per spectrum.
    PresetError
        Unknown or invalid preset, or a non-DRT preset.

    Notes
    -----
    With the shipped presets (``[hyperpriors] inference = "empirical_bayes"``) a NUTS fit
    first takes the smoothness, and in a hierarchical group the cell sd, at the mode of their
    Laplace-approximated marginal posterior, then samples everything else given them; the
    values are in ``attrs["timing"]["empirical_bayes"]`` and the posterior's ``smoothness`` /
    ``cell_sd`` are constant. ``"sampled"`` samples them too (docs/model.md).
    """
    t0 = time.perf_counter()
    preset = _drt_preset(model)
    c_mode = preset["model"]["series_capacitance"]
    # a known capacitance says the cell has a C: then "auto" is a plain fit with it
    if c_mode == "average" or (c_mode == "auto" and preset["model"]["pooling"] == "none"
                               and capacitance_f is None):
        # with and without C, mixed by stacking weights (drtbayes.drt.averaging); "auto" fits
        # without C only where the with-C fit leans on C at the lowest frequency
        from .averaging import average_with_and_without_capacitance

        return average_with_and_without_capacitance(
            fit_drt, spectra, preset, seed, only_open_tails=c_mode == "auto", draws=draws,
            tune=tune, chains=chains, fast=fast, progress=progress,
            target_accept=target_accept, capacitance_f=capacitance_f,
            capacitance_rel_sd=capacitance_rel_sd)
    stack = _as_stack(spectra)
    freq, zr, zi = _validate(stack)
    gidx, g_labels, g_design, g_soc = _groups(stack, preset["model"]["pooling"])
    settings = _settings(preset, fast=fast, draws=draws, tune=tune, chains=chains,
                         target_accept=target_accept, progress=progress)
    c_known, c_log_sd = _known_capacitance(capacitance_f, capacitance_rel_sd, stack, preset)
    # Everything from the model's constants (eigenvectors of the deviation basis, eigenvalues of
    # D'D) to the last draw runs under one BLAS thread: LAPACK's last bits depend on the thread
    # count and the optimiser and sampler amplify them (same seed, same numbers); the chains
    # run in parallel anyway, so BLAS threads would only compete.
    with one_blas_thread():
        inputs = prepare_inputs(freq, zr, zi, gidx, len(g_labels), preset,
                                capacitance_f=c_known, capacitance_log_sd=c_log_sd)
        raw, stats, fit_info, timing = _draws(inputs, preset, seed, settings, t0)
    method = "laplace" if fast else "nuts"
    spec_coords = {name: _coord(stack, name, default) for name, default in (
        ("design", ""), ("cell", ""), ("soc", np.nan), ("temperature_c", np.nan),
        ("cell_type", ""), ("area_cm2", np.nan), ("source", ""))}
    tree = build_tree(
        inputs, preset, raw, stats,
        spectrum_labels=[str(x) for x in stack["spectrum"].values],
        spectrum_coords=spec_coords,
        group_labels=g_labels, group_design=g_design, group_soc=g_soc,
        seed=seed, method=method,
    )
    timing["wall_s"] = round(time.perf_counter() - t0, 3)
    _record_settings(tree, stack, settings, {**timing, **fit_info}, c_known, c_log_sd)
    result = DRTResult(tree)
    if fast:
        warnings.warn(
            f"DRT fit of {inputs.z_real.shape[0]} spectra is a "
            "MAP + Laplace approximation (fast=True): intervals ignore posterior skewness and "
            "the diagnostics gate does not apply; rerun without --fast for the reported numbers",
            ApproximationWarning, stacklevel=2)
    else:
        # the retry is part of the preset's defaults: a caller who chose the sampler settings
        # gets the fit they asked for
        chosen = any(v is not None for v in (draws, tune, target_accept))
        retry = None if chosen else preset["sampler"].get("retry")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ok = result.apply_gate()
        if not ok and retry:
            return _refit_after_gate_failure(result, spectra, preset, retry, settings, seed,
                                             capacitance_f, capacitance_rel_sd, t0)
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    with activity("checking the fit (posterior predictive check, trust verdict)"):
        result.posterior_predictive_check()
        from .trust import assess_trust

        assess_trust(result)  # attrs["trust"]: the gate and the fit's quality in one verdict
    return result


def _refit_after_gate_failure(first: DRTResult, spectra: Any, preset: dict[str, Any],
                              retry: dict[str, Any], settings: dict[str, Any], seed: int,
                              capacitance_f: Any, capacitance_rel_sd: Any,
                              t0: float) -> DRTResult:
    """Refit with the preset's ``[sampler.retry]`` settings after a failed gate; keep the record.

    Why: on real spectra the short default warm-up that suffices for clean ones left R-hat
    just above 1.01 or a few divergent transitions on some (docs/validation.md, "Real
    measurements"); a longer warm-up, more draws and a higher step-size target cure most, and
    cost only where they are needed. The result is the second fit, gated as usual (its
    failure warns); ``attrs["gate_retry"]`` holds the first fit's diagnostics and the settings.
    """
    stronger = {"draws": max(settings["n_draws"], int(retry["draws"])),
                "tune": max(settings["tune"], int(retry["tune"])),
                "target_accept": max(settings["target_accept"], float(retry["target_accept"]))}
    again = {**preset, "sampler": {k: v for k, v in preset["sampler"].items() if k != "retry"}}
    first_diag = first.diagnostics
    first_wall = round(time.perf_counter() - t0, 3)
    with activity(f"refit after a failed gate ({stronger['tune']} warm-up, "
                  f"{stronger['draws']} draws per chain)"):
        result = fit_drt(spectra, again, chains=settings["chains"], seed=seed, fast=False,
                         progress=settings["progress"], capacitance_f=capacitance_f,
                         capacitance_rel_sd=capacitance_rel_sd, **stronger)
    result.tree.attrs["gate_retry"] = json.dumps(
        {"first_diagnostics": first_diag, "first_wall_s": first_wall, "settings": stronger})
    timing = json.loads(result.tree.attrs.get("timing", "{}") or "{}")
    timing["wall_s"] = round(time.perf_counter() - t0, 3)
    timing["first_fit_wall_s"] = first_wall
    result.tree.attrs["timing"] = json.dumps(timing)
    return result


def _drt_preset(model: str | dict[str, Any]) -> dict[str, Any]:
    """Return the DRT preset of a name, path or dict (a preset of another kind is refused)."""
    from ..presets import load_preset

    preset = model if isinstance(model, dict) else load_preset(model)
    if preset.get("kind") != "drt":
        raise PresetError(f"preset {preset.get('name')!r} is of kind {preset.get('kind')!r}; "
                          "fit_drt needs a DRT preset (drt-single, drt-hierarchical, drt-robust)")
    return preset


def _settings(preset: dict[str, Any], *, fast: bool, draws: int | None, tune: int | None,
              chains: int | None, target_accept: float | None, progress: bool
              ) -> dict[str, Any]:
    """Sampler settings of this fit (the caller's, else the preset's), checked."""
    sampler = preset["sampler"]
    settings = dict(
        fast=fast,
        n_draws=int(draws if draws is not None else (preset["fast"]["draws"] if fast
                                                     else sampler["draws"])),
        tune=int(tune if tune is not None else sampler["tune"]),
        chains=int(chains if chains is not None else sampler["chains"]),
        target_accept=float(target_accept if target_accept is not None
                            else sampler["target_accept"]),
        progress=progress)
    check_sampler_settings({"draws": settings["n_draws"], "chains": settings["chains"],
                            "tune": None if fast else settings["tune"],
                            "target_accept": settings["target_accept"]},
                           label=lambda key: f"{key} =")
    return settings


def _draws(inputs: ModelInputs, preset: dict[str, Any], seed: int, settings: dict[str, Any],
           t0: float) -> tuple[dict[str, np.ndarray], Any, dict[str, Any], dict[str, Any]]:
    """Draws of every model variable, their sampler stats, fit info and the timing so far.

    Called under :func:`one_blas_thread` (see :func:`fit_drt`).
    """
    # hyperparameters by empirical Bayes are searched per group (a search in one or two
    # dimensions), so those NUTS fits run group by group too
    by_group = _per_group(preset) or (hyperparameters_by_empirical_bayes(preset)
                                      and not settings["fast"])
    if by_group and inputs.n_groups > 1:
        t_compiled = time.perf_counter()  # one model per group, compiled in the loop
        raw, stats, fit_info = _fit_each_group(inputs, preset, seed, settings)
        cache_hit = fit_info.pop("all_cached")
        from_disk = None
    else:
        _, compiled, cache_hit = _compiled(inputs, preset)
        t_compiled = time.perf_counter()
        # compiled in this fit: were its C callbacks loaded from the disk cache?
        from_disk = None if cache_hit else loaded_from_cache(compiled)
        raw, stats, fit_info = _fit_one(compiled, inputs, preset, seed, settings)
    t_sampled = time.perf_counter()
    timing = {"wall_s": None, "compile_s": round(t_compiled - t0, 3),
              "sample_s": round(t_sampled - t_compiled, 3), "compiled_cache_hit": cache_hit,
              "callbacks_from_disk_cache": from_disk}
    return raw, stats, fit_info, timing


def _record_settings(tree: xr.DataTree, stack: xr.Dataset, settings: dict[str, Any],
                     timing: dict[str, Any], c_known: np.ndarray | None,
                     c_log_sd: np.ndarray | None) -> None:
    """Record the timing, the settings used, the capacitance prior and the inputs' hashes."""
    fast = settings["fast"]
    tree.attrs["timing"] = json.dumps(timing, default=float)
    # the settings actually used (preset values with the caller's overrides): a fit can be
    # repeated exactly from its file
    tree.attrs["sampler"] = json.dumps(
        {"draws": settings["n_draws"], "tune": None if fast else settings["tune"],
         "chains": None if fast else settings["chains"],
         "target_accept": None if fast else settings["target_accept"]})
    if c_known is not None:
        tree.attrs["capacitance_prior"] = json.dumps(
            {str(lab): {"c_f": float(c), "log_sd": float(sd)}
             for lab, c, sd in zip(stack["spectrum"].values, c_known, c_log_sd, strict=True)
             if np.isfinite(c)})
    tree.attrs["input_sha256"] = json.dumps(_input_hashes(stack))
    tree.attrs["created_utc"] = datetime.now(UTC).isoformat(timespec="seconds")


def _per_spectrum(value: Any, n_spec: int, name: str) -> np.ndarray:
    """Return a scalar or one value per spectrum (None: NaN) as ``n_spec`` floats."""
    try:
        a = np.array([np.nan if v is None else float(v)
                      for v in np.atleast_1d(np.asarray(value, dtype=object))])
    except (TypeError, ValueError):
        raise ValueRangeError(f"fit_drt: {name} = {value!r} is not a number or a list of "
                              "numbers") from None
    if a.size == 1:
        a = np.full(n_spec, a[0])
    if a.size != n_spec:
        raise ValueRangeError(f"fit_drt: {a.size} values of {name} for {n_spec} spectra; give "
                              "one value for all or one per spectrum (None where unknown)")
    return a


def _known_capacitance(capacitance_f: Any, rel_sd: Any, stack: xr.Dataset,
                       preset: dict[str, Any]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Known C and the sd of its ln, one value per spectrum (NaN: unknown), checked.

    ``(None, None)`` when no capacitance is given.
    """
    if capacitance_f is None:
        return None, None
    n_spec = stack.sizes["spectrum"]
    if not preset["model"]["series_capacitance"]:
        raise ValueRangeError(f"fit_drt: capacitance_f given, but preset {preset.get('name')!r} "
                              "has no series capacitance ([model] series_capacitance = false)")
    c = _per_spectrum(capacitance_f, n_spec, "capacitance_f")
    bad = (~np.isnan(c)) & ~(np.isfinite(c) & (c > 0))
    if bad.any():
        raise ValueRangeError(f"fit_drt: capacitance_f must be > 0 F (got {c[bad][0]!r})")
    sd = _per_spectrum(rel_sd, n_spec, "capacitance_rel_sd")
    bad_sd = ~(np.isfinite(sd) & (sd > 0) & (sd <= 5))
    if (bad_sd & np.isfinite(c)).any():
        raise ValueRangeError(f"fit_drt: capacitance_rel_sd = {sd[bad_sd][0]!r}; it is the sd "
                              "of ln C, between 0 and 5 (0.1 means about 10 %)")
    if np.isnan(c).all():
        return None, None
    return c, np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)


def _per_group(preset: dict[str, Any]) -> bool:
    """Hierarchical preset whose hyperparameters are per (design, SOC) group."""
    return (preset["model"]["pooling"] == "hierarchical"
            and str(preset.get("hierarchy", {}).get("hyperparameters", "shared")) == "per_group")


def _fit_one(compiled: Any, inputs: ModelInputs, preset: dict[str, Any], seed: int,
             settings: dict[str, Any]) -> tuple[dict[str, np.ndarray], Any, dict[str, Any]]:
    """Draws of one compiled model: NUTS, or MAP + Laplace with ``settings["fast"]``.

    Called under :func:`one_blas_thread` (see :func:`fit_drt`).
    """
    if settings["fast"]:
        from .fast import laplace_draws

        raw, info = laplace_draws(compiled, inputs.data_values(),
                                  n_draws=settings["n_draws"], seed=seed, preset=preset)
        return raw, None, {"laplace": info}
    from ..inference import finite_difference_hessian, sample_nuts
    from ..inference.whiten import draws_in_original, laplace_whitening
    from .fast import _negative_log_density, empirical_bayes_hyperparameters, initial_point

    info: dict[str, Any] = {}
    if hyperparameters_by_empirical_bayes(preset):
        # the hyperparameters at their marginal posterior mode, then NUTS for everything else
        # given them, starting at the conditional mode found on the way
        values = inputs.data_values()
        t_eb = time.perf_counter()
        with activity("empirical-Bayes search of the smoothness"):
            fixed, init, eb = empirical_bayes_hyperparameters(compiled, values, preset)
        eb["search_s"] = round(time.perf_counter() - t_eb, 3)
        values = {**values, **fixed}
        compiled = compiled.with_data(**pack_values(values))
        info["empirical_bayes"] = eb
        if preset["sampler"].get("whiten", False):
            # NUTS in coordinates whitened by the Laplace approximation at that mode: warm-up
            # no longer has to learn scales spanning decades (drtbayes.inference.whiten)
            with activity("Laplace whitening at the mode"):
                hessian = finite_difference_hessian(_negative_log_density(compiled, values),
                                                    init)
            nuts_model = _start_near(compiled.sampler(init, laplace_whitening(hessian)),
                                     np.zeros(init.size))
        else:
            nuts_model = _start_near(compiled.sampler(), init)
    else:
        # chains start around a smoothed least-squares DRT rather than the prior's flat level:
        # warm-up then does not have to climb out of the smoothness funnel's neck
        init = initial_point(compiled, inputs.data_values(), smoothness=float(
            np.exp(preset["hyperpriors"]["smoothness_log_median"])), preset=preset)
        nuts_model = _start_near(compiled.sampler(), init)
    with activity("NUTS of the DRT"):
        trace = sample_nuts(
            nuts_model, draws=settings["n_draws"], tune=settings["tune"],
            chains=settings["chains"], seed=seed, target_accept=settings["target_accept"],
            progress=settings["progress"], label="DRT fit",
            adaptation=preset["sampler"].get("adaptation", "low_rank"))
    raw = draws_in_original(trace["posterior"])
    return raw, trace["sample_stats"].to_dataset(), info


def _fit_each_group(inputs: ModelInputs, preset: dict[str, Any], seed: int,
                    settings: dict[str, Any]) -> tuple[dict[str, np.ndarray], Any,
                                                       dict[str, Any]]:
    """Fit every (design, SOC) group as its own hierarchical model and merge the draws.

    Why: with hyperparameters per group the joint posterior factorises into the groups, and
    one joint NUTS run is much slower than the sum of the group runs: on the demo's 8 spectra
    (4 groups of 2 cells) the joint model needed ~1000 leapfrog steps per draw, each group on
    its own 80-100. Every group keeps the stack's tau grid, z_scale and frequency scales, so
    the merged draws are on one footing; same-sized groups share one compiled model.
    """
    from dataclasses import replace as dc_replace

    parts = []
    all_cached = True
    for g in range(inputs.n_groups):
        rows = np.flatnonzero(inputs.group_index == g)
        sub = dc_replace(inputs, z_real=inputs.z_real[rows], z_imag=inputs.z_imag[rows],
                         group_index=np.zeros(rows.size, dtype=np.int64), n_groups=1,
                         **({} if inputs.capacitance_f is None else
                            {"capacitance_f": inputs.capacitance_f[rows],
                             "capacitance_log_sd": inputs.capacitance_log_sd[rows]}))
        with activity(f"DRT of group {g + 1}/{inputs.n_groups}"):
            _, compiled, hit = _compiled(sub, preset)
            all_cached = all_cached and hit
            seed_g = int(np.random.SeedSequence([int(seed), g]).generate_state(1)[0])
            parts.append((rows, *_fit_one(compiled, sub, preset, seed_g, settings)))
    n_spec = inputs.z_real.shape[0]
    raw: dict[str, np.ndarray] = {}
    per_spectrum = ("r_inf_rel", "l_rel", "elastance_rel", "sigma_const", "sigma_prop",
                    "z_dev", "residual_rho")
    for name in parts[0][1]:
        arrs = [p[1][name] for p in parts]
        if name in per_spectrum:
            lead = arrs[0].shape[:2]
            out = np.empty((*lead, n_spec, *arrs[0].shape[3:]), dtype=arrs[0].dtype)
            for (rows, *_), a in zip(parts, arrs, strict=True):
                out[:, :, rows] = a
            raw[name] = out
        elif name in ("f_group", "smoothness", "smoothness_z", "f_modes", "f_raw"):
            raw[name] = np.concatenate(arrs, axis=2)        # along the group axis
        else:                                               # group scalars: cell_sd, nu
            raw[name] = np.stack(arrs, axis=2)
    info: dict[str, Any] = {"all_cached": all_cached, "fit_per_group": True}
    if any("empirical_bayes" in p[3] for p in parts):
        info["empirical_bayes"] = [p[3].get("empirical_bayes") for p in parts]
    if settings["fast"]:
        info["laplace"] = [p[3]["laplace"] for p in parts]
        return raw, None, info
    import xarray as xr

    stats = xr.concat([p[2] for p in parts], dim="group", coords="minimal",
                      compat="override")
    return raw, stats, info


def _start_near(compiled: Any, x0: np.ndarray, jitter: float = 0.3) -> Any:
    """Return the compiled model with chains starting at ``x0`` plus a seeded uniform jitter.

    nutpie's PyMC models take their start points from ``initial_point_func(seed)``; replacing
    it keeps the per-chain seeding (and so reproducibility).
    """
    import dataclasses

    def start(seed: Any = None, *args: Any, **kwargs: Any) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return x0 + rng.uniform(-jitter, jitter, size=x0.size)

    return dataclasses.replace(compiled, initial_point_func=start)


def _input_hashes(stack: xr.Dataset) -> dict[str, str]:
    out: dict[str, str] = {}
    src = _coord(stack, "source", "")
    sha = (_coord(stack, "source_sha256", "") if "source_sha256" in stack.coords
           else np.array([""] * stack.sizes["spectrum"]))
    for lab, s, h in zip(stack["spectrum"].values, src, sha, strict=True):
        if not h:
            st = stack.sel(spectrum=lab)
            h = hashlib.sha256(np.ascontiguousarray(
                np.stack([st["z_real"].values, st["z_imag"].values]), dtype=float).tobytes()
            ).hexdigest()
        out[str(s) or str(lab)] = str(h)
    return out
