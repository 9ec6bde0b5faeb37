"""Sampling with nutpie and the diagnostics gate (R-hat, bulk ESS, divergences).

Every NUTS fit passes through :func:`gate`: a fit whose R-hat exceeds ``rhat_max``, whose bulk
ESS is below ``ess_bulk_min`` or that had divergent transitions is flagged (``gate_pass`` false
in the diagnostics stored with the result and in its summary) and a
:class:`~drtbayes.errors.SamplingWarning` with advice is issued. It is never passed silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from .errors import PresetError, SamplingWarning

__all__ = ["sample_nuts", "chain_diagnostics", "gate", "gate_failures", "gate_advice",
           "check_sampler_settings", "finite_difference_hessian", "GATE_DEFAULT"]

#: Defaults of the gate (presets can override them in their [gate] table).
GATE_DEFAULT = {"rhat_max": 1.01, "ess_bulk_min": 400.0, "max_divergences": 0}


def sample_nuts(compiled: Any, *, draws: int, tune: int, chains: int, seed: int,
                target_accept: float, progress: bool = False, cores: int | None = None,
                init_mean: np.ndarray | None = None, adaptation: str = "low_rank") -> Any:
    """Run nutpie's NUTS on a compiled model.

    Parameters
    ----------
    compiled
        ``nutpie.compile_pymc_model`` output (possibly ``.with_data(...)``).
    draws, tune, chains
        Kept draws and warm-up draws per chain, number of chains.
    seed
        Sampler seed: the same seed gives identical draws.
    target_accept
        Step-size adaptation target.
    progress
        Show nutpie's progress bar.
    cores
        Chains run in parallel (default: all cores).
    init_mean
        Start point in the unconstrained space (chains start jittered around it).
    adaptation
        nutpie's mass-matrix adaptation: ``"low_rank"`` or ``"diag"``.

    Returns
    -------
    xarray.DataTree
        nutpie's trace (``posterior``, ``sample_stats``; warm-up not kept).
    """
    import nutpie

    kw: dict[str, Any] = {}
    if cores is not None:
        kw["cores"] = int(cores)
    if init_mean is not None:
        kw["init_mean"] = np.asarray(init_mean, dtype=float)
    # A low-rank mass matrix captures the strong posterior correlations of neighbouring gamma
    # values (the DRT inversion is ill-posed); it cut the leapfrog steps per draw ~5x against
    # the diagonal one on the 2-ZARC benchmark. In coordinates whitened by a Laplace
    # approximation (drtbayes._whiten) those correlations are gone and "diag" suffices.
    return nutpie.sample(
        compiled, draws=int(draws), tune=int(tune), chains=int(chains), seed=int(seed),
        target_accept=float(target_accept), progress_bar=bool(progress), save_warmup=False,
        adaptation=adaptation, **kw,
    )


def chain_diagnostics(arrays: Sequence[np.ndarray]) -> tuple[float, float]:
    """Worst rank-normalised split R-hat and smallest bulk ESS over ``arrays``.

    Each array has leading (chain, draw) axes; any trailing axes are flattened. Constant
    entries (no variation at all) are skipped; NaN results count as failing.
    """
    import arviz_stats

    rhat_max, ess_min = 1.0, np.inf
    for a in arrays:
        a = np.asarray(a, dtype=float)
        if a.ndim < 2:
            continue
        a = a.reshape(a.shape[0], a.shape[1], -1)
        varying = np.ptp(a.reshape(-1, a.shape[2]), axis=0) > 0
        if not varying.any():
            continue
        a = a[:, :, varying]
        r = np.asarray(arviz_stats.rhat(a, chain_axis=0, draw_axis=1), dtype=float)
        e = np.asarray(arviz_stats.ess(a, chain_axis=0, draw_axis=1, method="bulk"),
                       dtype=float)
        rhat_max = max(rhat_max, float(np.max(np.where(np.isfinite(r), r, np.inf))))
        ess_min = min(ess_min, float(np.min(np.where(np.isfinite(e), e, 0.0))))
    return rhat_max, (ess_min if np.isfinite(ess_min) else float("nan"))


def gate(diagnostics: Mapping[str, Mapping[str, Any]], thresholds: Mapping[str, Any] | None = None,
         *, what: str = "DRT fit") -> bool:
    """Apply the diagnostics gate in place and warn for every unit that fails it.

    Parameters
    ----------
    diagnostics
        Unit label -> dict with ``rhat_max``, ``ess_bulk_min``, ``divergences``; a
        ``gate_pass`` bool is written into each dict.
    thresholds
        ``rhat_max``, ``ess_bulk_min``, ``max_divergences`` (defaults :data:`GATE_DEFAULT`).
    what
        Name of the fit in the warning.

    Returns
    -------
    bool
        True when every unit passes.
    """
    th = {**GATE_DEFAULT, **(thresholds or {})}
    failed = []
    kinds: set[str] = set()
    for label, d in diagnostics.items():
        checks = gate_failures(d, th)
        kinds |= set(checks)
        rhat, ess, div = d.get("rhat_max"), d.get("ess_bulk_min"), d.get("divergences")
        reasons = []
        if "rhat" in checks:
            reasons.append(f"R-hat {rhat:.4f} > {th['rhat_max']:g}" if rhat is not None
                           else "no R-hat")
        if "ess" in checks:
            reasons.append(f"bulk ESS {ess:.0f} < {th['ess_bulk_min']:g}" if ess is not None
                           and np.isfinite(ess) else "no bulk ESS")
        if "divergences" in checks:
            reasons.append(f"{div} divergent transitions")
        d["gate_pass"] = not reasons  # type: ignore[index]
        if reasons:
            failed.append(f"{label}: {', '.join(reasons)}")
    if failed:
        warnings.warn(
            f"{what} failed the diagnostics gate (R-hat <= {th['rhat_max']:g}, bulk ESS >= "
            f"{th['ess_bulk_min']:g}, divergences <= {th['max_divergences']}): "
            + "; ".join(failed)
            + ". Do not use these numbers as they are: " + gate_advice(kinds) + ".",
            SamplingWarning,
            stacklevel=3,
        )
    return not failed


def gate_failures(d: Mapping[str, Any], thresholds: Mapping[str, Any] | None = None
                  ) -> list[str]:
    """Which checks of the gate one unit fails: a sublist of ``["rhat", "ess", "divergences"]``."""
    th = {**GATE_DEFAULT, **(thresholds or {})}
    rhat, ess, div = d.get("rhat_max"), d.get("ess_bulk_min"), d.get("divergences")
    out = []
    if rhat is None or not np.isfinite(rhat) or rhat > th["rhat_max"]:
        out.append("rhat")
    if ess is None or not np.isfinite(ess) or ess < th["ess_bulk_min"]:
        out.append("ess")
    if div is None or div > th["max_divergences"]:
        out.append("divergences")
    return out


def gate_advice(failures: Collection[str]) -> str:
    """What to do about a failed gate, for the checks that failed (see :func:`gate_failures`).

    The advice differs by check: more draws raise the ESS about in proportion but do nothing
    against divergences, which need a smaller step size (a higher ``target_accept``).
    On the DRT benchmark spectra, ``draws = 3000`` with ``target_accept = 0.98`` passed the
    gate where the defaults (1000, 0.95) did not (docs/diagnostics.md).
    """
    steps = []
    if "divergences" in failures:
        steps.append("raise target_accept to 0.98-0.99 (fit-eis --target-accept, study file "
                     "[sampler] target_accept; more draws do not remove divergences)")
    if "rhat" in failures:
        steps.append("run longer (more tune and draws, e.g. tune = 1000, draws = 3000)")
    elif "ess" in failures:
        steps.append("take more draws (the ESS grows about in proportion; e.g. draws = 3000)")
    if not steps:
        steps.append("rerun with more tune and draws")
    return ("; ".join(steps) + "; if the gate still fails, try a preset that suits the data "
            "(drt-robust for outlying points); see docs/diagnostics.md")


def check_sampler_settings(settings: Mapping[str, float | None],
                           label: Callable[[str], str]) -> None:
    """Reject sampler settings NUTS cannot run with: a one-line error, not nutpie's panic.

    ``settings`` holds ``draws``, ``chains``, ``tune`` and ``target_accept`` (None: not
    given); ``label(key)`` names a setting in the message (``"--draws"`` on the command line,
    ``"draws ="`` in Python).
    """
    for key, minimum in (("draws", 1), ("chains", 1), ("tune", 0)):
        value = settings.get(key)
        if value is not None and value < minimum:
            raise PresetError(f"{label(key)} {value:g}: must be at least {minimum}")
    ta = settings.get("target_accept")
    if ta is not None and not 0.0 < ta < 1.0:
        raise PresetError(f"{label('target_accept')} {ta:g}: must lie strictly between 0 and 1 "
                          "(0.95-0.99 for difficult posteriors)")


def finite_difference_hessian(neg: Callable[[np.ndarray], tuple[float, np.ndarray]],
                              x: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
    """Hessian of ``neg`` at ``x`` by central differences of its exact gradient (symmetrised).

    ``neg(x)`` returns (value, gradient); ``index`` restricts rows and columns to those
    coordinates (default: all). Why differences rather than a symbolic Hessian: compiling one
    for these models takes about a minute, 2 n gradient calls take milliseconds.
    """
    n = x.size
    idx = np.arange(n) if index is None else np.asarray(index)
    eps = 1e-5 * np.maximum(1.0, np.abs(x))
    h = np.empty((idx.size, idx.size))
    for k, i in enumerate(idx):
        step = np.zeros(n)
        step[i] = eps[i]
        h[k] = (neg(x + step)[1] - neg(x - step)[1])[idx] / (2 * eps[i])
    return 0.5 * (h + h.T)

