"""Figures comparing two electrode designs over SOC: contrast, crossover posterior, SOC curves.

Every function takes the SOC model (:func:`drtbayes.compare.fit_soc_model`, or its DataTree)
and two design labels, draws into ``ax`` when given (a new figure otherwise) and returns the
Axes. Bands are central 95 % posterior intervals; the crossover interval is the 95 % HDI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import DataError
from ._common import design_color, legend, new_axes, plain_log_ticks, style_axes

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_contrast", "plot_crossover", "plot_soc_curves"]

_SOC_LABEL = "SOC / %"


def _model(result: Any):
    from ..compare import SocModelResult

    if isinstance(result, SocModelResult):
        return result
    if isinstance(result, xr.DataTree) and result.attrs.get("drtbayes_kind") == "soc_model":
        return SocModelResult(result)
    raise DataError(
        f"expected a SOC model (fit_soc_model result or its DataTree), got "
        f"{type(result).__name__}"
    )


def _truth_list(truth: float | Sequence[float] | None) -> list[float]:
    if truth is None:
        return []
    if np.isscalar(truth):
        return [float(truth)] if np.isfinite(float(truth)) else []
    return [float(t) for t in truth if t is not None and np.isfinite(float(t))]


def plot_contrast(
    data: Any,
    a: str | None = None,
    b: str | None = None,
    component: str = "R2",
    *,
    kind: str = "ratio",
    ax: Axes | None = None,
) -> Axes:
    """Which design wins where: ``R_a / R_b`` (or ``R_a - R_b``) over SOC and ``P(R_a < R_b)``.

    Parameters
    ----------
    data
        A contrast Dataset (:func:`drtbayes.contrast`) or a SOC model (then ``a`` and ``b``).
    a, b, component
        Designs and component, when ``data`` is a SOC model.
    kind
        ``"ratio"`` (log axis, line at 1) or ``"diff"`` (ohm, line at 0).
    ax
        Axes to draw into.

    Returns
    -------
    Axes
        The main axes; ``P(R_a < R_b)`` is drawn on a twin y axis (``ax.right_ax``).
    """
    from ..compare import contrast

    if isinstance(data, xr.Dataset):
        ds = data
    else:
        if a is None or b is None:
            raise DataError("plot_contrast: give designs a and b with a SOC model")
        ds = contrast(_model(data), a, b, component)
    if kind not in ("ratio", "diff"):
        raise DataError(f"plot_contrast: kind={kind!r}; use 'ratio' or 'diff'")
    a, b, comp = ds.attrs.get("a", a), ds.attrs.get("b", b), ds.attrs.get("component", component)
    ax = new_axes(ax)
    soc = ds["soc"].values
    p = ds["p_a_better"].values
    # background: where the posterior is decisive (P > 0.95 or < 0.05), tint by the winner
    for mask, color in ((p > 0.95, design_color(a)), (p < 0.05, design_color(b))):
        ax.fill_between(soc, 0, 1, where=mask, transform=ax.get_xaxis_transform(),
                        color=color, alpha=0.07, linewidth=0, step="mid")
    color = "0.15"
    if kind == "ratio":
        ax.fill_between(soc, ds["ratio_lo95"], ds["ratio_hi95"], color=color, alpha=0.18,
                        linewidth=0, label="95 % interval")
        ax.plot(soc, ds["ratio_median"], color=color, lw=1.8, label="median")
        ax.axhline(1.0, color="0.4", lw=0.9, ls="--")
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set_ylabel(f"R({a}) / R({b}), {comp}")
    else:
        ax.fill_between(soc, ds["diff_lo95"], ds["diff_hi95"], color=color, alpha=0.18,
                        linewidth=0, label="95 % interval")
        ax.plot(soc, ds["diff_median"], color=color, lw=1.8, label="median")
        ax.axhline(0.0, color="0.4", lw=0.9, ls="--")
        ax.set_ylabel(f"R({a}) − R({b}), {comp} / Ω")
    ax.set_xlabel(_SOC_LABEL)
    ax.set_xlim(soc[0], soc[-1])
    style_axes(ax)
    right = ax.twinx()
    right.plot(soc, p, color="#2e933c", lw=1.4, label=f"P(R({a}) < R({b}))")
    right.axhline(0.5, color="#2e933c", lw=0.7, ls=":")
    right.set_ylim(-0.02, 1.02)
    right.set_ylabel(f"P(R({a}) < R({b}))", color="#2e933c")
    right.tick_params(axis="y", colors="#2e933c")
    ax.set_title(f"{comp}: {a} vs {b} (tint: where one design wins with P > 0.95)")
    handles = [*ax.get_legend_handles_labels()[0], *right.get_legend_handles_labels()[0]]
    legend(ax, handles=handles, loc="center right")
    ax.right_ax = right
    return ax


def plot_crossover(
    result: Any,
    a: str,
    b: str,
    component: str = "R2",
    *,
    truth: float | Sequence[float] | None = None,
    bins: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of the crossing SOC over posterior draws, 95 % HDI and ``P(cross)``.

    Parameters
    ----------
    result
        SOC model.
    a, b, component
        Designs and component.
    truth
        True crossover SOC(s) to mark (simulations).
    bins
        Histogram bins (default: 1 % SOC wide).
    ax
        Axes to draw into.

    Returns
    -------
    Axes
    """
    from ..compare import _pair_curves, crossover, find_crossings

    model = _model(result)
    summ = crossover(model, a, b, component)
    soc, la, lb = _pair_curves(model, a, b, component)
    _, loc = find_crossings(la - lb, soc)
    ax = new_axes(ax)
    if bins is None:
        bins = max(10, int(np.ceil(soc[-1] - soc[0])))
    if loc.size:
        counts, _, _ = ax.hist(loc, bins=bins, range=(soc[0], soc[-1]), color="0.45",
                               alpha=0.85, label="crossings over posterior draws")
        # head room for the legend above the bars
        ax.set_ylim(0, 1.45 * max(float(np.max(counts)), 1.0))
    several = len(summ["crossings"]) > 1
    for i, c in enumerate(summ["crossings"]):
        lo, hi = c["hdi95"]
        ax.axvspan(lo, hi, color="#e0a100", alpha=0.25 if i == 0 else 0.12, linewidth=0,
                   label="95 % HDI" if i == 0 else None)
        # each crossing's probability goes into the legend: as text next to its line it ran
        # under the legend or off the axes where a crossing sits near an end of the SOC range
        what = f"{c['soc_median']:.0f} %: median" if several else "median"
        ax.axvline(c["soc_median"], color="#b07d00", lw=1.6 if i == 0 else 1.0,
                   ls="-" if i == 0 else ":", label=f"{what} (P = {c['probability']:.2f})")
    for j, t in enumerate(_truth_list(truth)):
        ax.axvline(t, color="k", ls="--", lw=1.2, label="truth" if j == 0 else None)
    ax.set_xlim(soc[0], soc[-1])
    ax.set_xlabel(_SOC_LABEL)
    ax.set_ylabel("draws")
    head = ""
    if summ["soc_median"] is not None and summ["hdi95"] is not None:
        head = (f", median {summ['soc_median']:.1f} % "
                f"[{summ['hdi95'][0]:.1f}, {summ['hdi95'][1]:.1f}]")
    elif summ["p_crossing"] < 0.5:
        # fewer than half the draws cross: their median is no crossover SOC (as in the table)
        head = ", no credible crossing"
    ax.set_title(f"{component}: {a} vs {b}, P(cross) = {summ['p_crossing']:.2f}{head}")
    style_axes(ax)
    if ax.get_legend_handles_labels()[0]:
        legend(ax, loc="best")
    return ax


def plot_soc_curves(
    result: Any,
    a: str,
    b: str,
    component: str = "R2",
    *,
    split: xr.Dataset | None = None,
    crossover: dict | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Both designs' resistance against SOC: median curve, 95 % band, pulses, crossover.

    Parameters
    ----------
    result
        SOC model.
    a, b, component
        Designs and component.
    split
        The split the model was fitted to; its per-pulse posterior medians are drawn as points
        (default: the model's own per-pulse data, exp of the mean log R).
    crossover
        A :func:`drtbayes.crossover` result to mark (computed when None).
    ax
        Axes to draw into.

    Returns
    -------
    Axes
    """
    from ..compare import crossover as crossover_fn

    model = _model(result)
    if component not in model.components:
        raise DataError(f"component {component!r} not in the SOC model {model.components}")
    ax = new_axes(ax)
    post = model.tree["posterior"]
    obs = model.tree["observed_data"]
    for design in (a, b):
        if design not in model.designs:
            raise DataError(f"design {design!r} not in the SOC model {model.designs}")
        color = design_color(design)
        lo_s, hi_s = model.measured_range(design)
        lr = post["log_r"].sel(design=design, component=component)
        q = np.exp(lr.quantile([0.025, 0.5, 0.975], dim=("chain", "draw")).values)
        soc = post["soc"].values
        inside = (soc >= lo_s - 1e-9) & (soc <= hi_s + 1e-9)
        ax.fill_between(soc[inside], q[0, inside], q[2, inside], color=color, alpha=0.22,
                        linewidth=0)
        ax.plot(soc[inside], q[1, inside], color=color, lw=2.0, label=f"{design} (median, 95 %)")
        if split is not None:
            sel = np.asarray(split["design"].values).astype(str) == design
            pts = split["resistance"].sel(component=component).isel(pulse=np.nonzero(sel)[0])
            ax.scatter(pts["soc"].values, pts.median("sample").values, s=7, color=color,
                       alpha=0.45, linewidths=0)
        else:
            sel = np.asarray(obs["design"].values).astype(str) == design
            m = obs["log_r_mean"].sel(component=component).values[sel]
            ax.scatter(obs["soc"].values[sel], np.exp(m), s=7, color=color, alpha=0.45,
                       linewidths=0)
    cx = crossover if crossover is not None else crossover_fn(model, a, b, component)
    hdi = cx.get("hdi95")
    # a crossover is marked only where the crossover table reports one (P(cross) >= 0.5, i.e.
    # an HDI exists): a median line for "no credible crossing" contradicted that table
    if cx.get("soc_median") is not None and hdi is not None:
        ax.axvspan(hdi[0], hdi[1], color="#e0a100", alpha=0.2, linewidth=0,
                   label=f"crossover 95 % HDI (P = {cx['p_crossing']:.2f})")
        ax.axvline(cx["soc_median"], color="#b07d00", lw=1.3,
                   label=f"crossover {cx['soc_median']:.1f} %")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel(_SOC_LABEL)
    ax.set_ylabel(f"{component} / Ω")
    ax.set_title(f"{component} against SOC: {a} vs {b}")
    style_axes(ax)
    legend(ax, loc="upper right")
    return ax
