"""Crossover SOC of two designs' resistance curves: ``crossover`` -> ``CrossoverResult``."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..conventions import COMPONENTS
from ..errors import ValueRangeError
from ..numerics import cluster_crossings, find_crossings, hdi
from ..soc.basis import soc_grid
from ..soc.result import SocModelResult
from .contrast import as_model, pair_curves

__all__ = ["REVERSAL_LEVEL", "CrossoverResult", "crossover", "crossover_report"]

def _resolve_grid(grid, soc: np.ndarray) -> np.ndarray:
    if grid is None:
        return soc
    if np.isscalar(grid):
        step = float(grid)
        if not step > 0:
            raise ValueRangeError(f"grid step {grid!r}: must be a positive SOC step in percent")
        return soc_grid(float(soc[0]), float(soc[-1]), step)
    out = np.asarray(grid, dtype=float)
    if out.ndim != 1 or out.size == 0 or not np.all(np.isfinite(out)):
        raise ValueRangeError("grid: must be a step (percent) or a 1-D array of finite SOC values")
    return out


#: Posterior probability at which one design counts as credibly better (crossover "reversal").
REVERSAL_LEVEL = 0.9


class CrossoverResult(dict):
    """Crossover of two designs' curves of one component: the JSON dict plus tidy views.

    It *is* the dict of :func:`crossover` (keys ``p_crossing``, ``reversal``, ``soc_median``,
    ``hdi95``, ``crossings``, ``p_a_better``), so code that reads or serialises the dict keeps
    working; :meth:`to_dict` gives a plain copy, :meth:`summary` a DataFrame with one row per
    crossing, :meth:`plot` the crossing histogram.

    Parameters
    ----------
    data
        The crossover dict.
    a, b, component
        Designs compared and the component.
    model
        The SOC model the crossover was computed from (kept for :meth:`plot`).
    """

    def __init__(self, data: dict, *, a: str, b: str, component: str,
                 model: SocModelResult | None = None) -> None:
        super().__init__(data)
        self.a, self.b, self.component = a, b, component
        self.model = model

    def to_dict(self) -> dict:
        """Return a plain, JSON-ready deep copy of the crossover dict."""
        import copy

        return copy.deepcopy(dict(self))

    def summary(self) -> Any:
        """One row per supported crossing, most probable first (none: one row of NaN).

        Returns
        -------
        pandas.DataFrame
            Columns ``a``, ``b``, ``component``, ``crossing`` (rank, 1 = most probable),
            ``soc_median``, ``hdi95_lo``, ``hdi95_hi`` (percent SOC), ``probability`` (fraction
            of draws crossing there), ``p_crossing`` (any crossing), ``credible_reversal``,
            ``p_a_better_min``, ``p_a_better_max``.
        """
        import pandas as pd

        rev = self["reversal"]
        common = {"a": self.a, "b": self.b, "component": self.component,
                  "p_crossing": self["p_crossing"], "credible_reversal": rev["credible"],
                  "p_a_better_min": rev["p_a_better_min"],
                  "p_a_better_max": rev["p_a_better_max"]}
        rows = [{**common, "crossing": i + 1, "soc_median": c["soc_median"],
                 "hdi95_lo": c["hdi95"][0], "hdi95_hi": c["hdi95"][1],
                 "probability": c["probability"]}
                for i, c in enumerate(self["crossings"])]
        if not rows:
            nan = float("nan")
            rows = [{**common, "crossing": 0, "soc_median": nan, "hdi95_lo": nan,
                     "hdi95_hi": nan, "probability": 0.0}]
        cols = ["a", "b", "component", "crossing", "soc_median", "hdi95_lo", "hdi95_hi",
                "probability", "p_crossing", "credible_reversal", "p_a_better_min",
                "p_a_better_max"]
        return pd.DataFrame(rows)[cols]

    def plot(self, **kwargs: Any) -> Any:
        """Histogram of the crossing SOC (:func:`drtbayes.plots.compare.plot_crossover`)."""
        if self.model is None:
            raise ValueError("this CrossoverResult has no SOC model to plot from; compute it "
                             "with drtbayes.crossover(model, a, b, component)")
        from ..plots.compare import plot_crossover  # lazily: matplotlib only when plotting

        return plot_crossover(self.model, self.a, self.b, self.component, **kwargs)

    def __repr__(self) -> str:
        """Short description with the most probable crossing."""
        head = (f"soc_median={self['soc_median']:.3g}" if self["soc_median"] is not None
                else "no crossing")
        return (f"CrossoverResult({self.a} vs {self.b}, {self.component}: p_crossing="
                f"{self['p_crossing']:.3g}, {head}, credible reversal="
                f"{self['reversal']['credible']})")


# over 80 lines by its docstring (the body is ~45 lines)
def crossover(
    split_or_socmodel: xr.Dataset | SocModelResult,
    a: str,
    b: str,
    component: str = "R2",
    *,
    grid: float | np.ndarray | None = None,
    min_probability: float = 0.01,
    **fit_kwargs: Any,
) -> CrossoverResult:
    """Posterior of the SOC at which two designs' resistance curves cross.

    For every posterior draw the sign changes of ``log R_a - log R_b`` inside the SOC range both
    designs measured are located by linear interpolation between grid points. Draws without a
    crossing are counted (they lower ``p_crossing``), not dropped. Crossing locations pooled
    over draws are clustered (:func:`cluster_crossings`); each cluster is reported with the
    fraction of draws that cross inside it.

    Parameters
    ----------
    split_or_socmodel
        A fitted :class:`SocModelResult` or a split Dataset (fitted first).
    a, b
        Design labels.
    component
        ``R1``, ``R2``, ``R3`` or ``total``.
    grid
        SOC values (percent), or a step, on which ``p_a_better`` is reported; default the model
        grid. Crossings are always located on the model grid.
    min_probability
        Clusters supported by fewer than this fraction of draws are not listed (they still count
        in ``p_crossing``).
    **fit_kwargs
        Passed to :func:`fit_soc_model` when a split is given.

    Returns
    -------
    CrossoverResult
        A dict ``{"p_crossing", "reversal", "soc_median", "hdi95", "crossings", "p_a_better"}``:
        ``reversal`` says whether the crossing is a credible reversal (``credible``: design a
        better with posterior probability >= ``level`` = 0.9 at some SOC and b at another, with
        the extremes of P(R_a < R_b) over the SOC grid). ``soc_median`` and
        ``hdi95`` (95 % HDI, percent SOC, via ``arviz_stats.hdi``) describe the most probable
        crossing; ``soc_median`` is None without any crossing and ``hdi95`` is None when
        ``p_crossing < 0.5``. ``crossings`` is a list of ``{"soc_median", "hdi95",
        "probability"}``, most probable first. ``p_a_better`` is ``{"soc": [...], "p": [...]}``
        with ``p = P(R_a < R_b)``.
    """
    model = as_model(split_or_socmodel, (component,), fit_kwargs)
    soc, la, lb = pair_curves(model, a, b, component)
    n_draws = la.shape[0]
    rows, loc = find_crossings(la - lb, soc)
    p_crossing = float(np.unique(rows).size / n_draws)

    crossings: list[dict] = []
    if loc.size:
        labels = cluster_crossings(loc, soc_range=(float(soc[0]), float(soc[-1])))
        for lab in np.unique(labels):
            in_c = labels == lab
            # one location per draw and cluster: a draw that wiggles across twice counts once
            draws_c, inverse = np.unique(rows[in_c], return_inverse=True)
            per_draw = np.bincount(inverse, weights=loc[in_c]) / np.bincount(inverse)
            prob = draws_c.size / n_draws
            if prob < min_probability:
                continue
            crossings.append(
                {
                    "soc_median": float(np.median(per_draw)),
                    "hdi95": hdi(per_draw),
                    "probability": float(prob),
                }
            )
        crossings.sort(key=lambda c: -c["probability"])

    report_soc = _resolve_grid(grid, soc)
    p_better = np.mean(la < lb, axis=0)
    p_report = np.interp(report_soc, soc, p_better)
    head = crossings[0] if crossings else None
    # Two curves that do not differ (R1 of the paper's designs) cross somewhere in most draws,
    # so P(cross) alone is no evidence of a crossover. A credible *reversal* needs one design
    # credibly better at some SOC and the other credibly better at another.
    p_hi, p_lo = float(p_better.max()), float(p_better.min())
    reversal = {"level": REVERSAL_LEVEL, "p_a_better_max": p_hi, "p_a_better_min": p_lo,
                "credible": bool(p_hi >= REVERSAL_LEVEL and p_lo <= 1.0 - REVERSAL_LEVEL)}
    return CrossoverResult({
        "p_crossing": p_crossing,
        "reversal": reversal,
        "soc_median": head["soc_median"] if head else None,
        "hdi95": head["hdi95"] if (head and p_crossing >= 0.5) else None,
        "crossings": crossings,
        "p_a_better": {
            "soc": [float(s) for s in report_soc],
            "p": [float(p) for p in p_report],
        },
    }, a=a, b=b, component=component, model=model)


def crossover_report(
    split_or_socmodel: xr.Dataset | SocModelResult,
    a: str,
    b: str,
    components: tuple[str, ...] | list[str] = COMPONENTS,
    *,
    grid: float | np.ndarray | None = None,
    **fit_kwargs: Any,
) -> dict:
    """Crossover of two designs for several components, in the CLI JSON schema.

    Returns
    -------
    dict
        ``{"a": a, "b": b, "components": {component: crossover(...)}}``, plus ``"method"`` and
        ``"diagnostics"`` of the SOC model (so sampling problems reach the JSON).
    """
    model = as_model(split_or_socmodel, tuple(components), fit_kwargs)
    out = {
        "a": a,
        "b": b,
        "components": {c: crossover(model, a, b, c, grid=grid).to_dict() for c in components},
        "method": model.method,
        "diagnostics": model.diagnostics,
    }
    return out
