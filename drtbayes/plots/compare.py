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
from ._common import (
    design_color,
    legend,
    member_colors,
    new_axes,
    plain_log_ticks,
    style_axes,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_cell_curves", "plot_contrast", "plot_crossover", "plot_soc_curves"]

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


# over 80 lines by its docstring (the body, ~65 lines, draws one figure)
def plot_contrast(
    data: Any,
    a: str | None = None,
    b: str | None = None,
    component: str = "R2",
    *,
    kind: str = "ratio",
    level: float = 0.9,
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
    level
        Posterior probability at which the background is tinted in the colour of the lower
        design (the level of :func:`drtbayes.crossover`'s credible reversal, so the tint and
        the answer in words agree).
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
    from matplotlib.patches import Patch

    # background: where the posterior is decisive, tinted by the lower design; the legend
    # names each tint, so a reader need not guess which colour is which design
    tints = []
    for mask, design in ((p >= level, a), (p <= 1.0 - level, b)):
        color = design_color(design)
        ax.fill_between(soc, 0, 1, where=mask, transform=ax.get_xaxis_transform(),
                        color=color, alpha=0.12, linewidth=0, step="mid")
        if mask.any():
            tints.append(Patch(facecolor=color, alpha=0.3,
                               label=f"{design} lower (P ≥ {level:g})"))
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
    ax.set_title(f"{comp}: R({a}) / R({b}) and P(R({a}) < R({b}))" if kind == "ratio"
                 else f"{comp}: R({a}) − R({b}) and P(R({a}) < R({b}))")
    handles = [*ax.get_legend_handles_labels()[0], *right.get_legend_handles_labels()[0],
               *tints]
    legend(ax, handles=handles, loc="center right")
    ax.right_ax = right
    return ax


# over 80 lines by its docstring (the body is ~55 lines)
def plot_crossover(
    result: Any,
    a: str,
    b: str,
    component: str = "R2",
    *,
    crossover: dict | Any | None = None,
    truth: float | Sequence[float] | None = None,
    bins: int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Histogram of the crossing SOC over posterior draws, with the credible crossover marked.

    The crossover (median line, 95 % HDI) is marked only where :func:`drtbayes.answer_in_words`
    states one, i.e. where the order of the designs credibly reverses; otherwise the histogram
    shows where the curves happen to cross in some draws and the title says "no credible
    crossover", as the report's table does.

    Parameters
    ----------
    result
        SOC model.
    a, b, component
        Designs and component.
    crossover
        This component's :func:`drtbayes.crossover` result (dict, or an object with
        ``.to_dict()``); computed when None. Pass the one the report's table shows so the
        figure and the table cannot disagree.
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
    from ..answer import answer_component
    from ..compare import _pair_curves, find_crossings
    from ..compare import crossover as crossover_fn

    model = _model(result)
    summ = crossover if crossover is not None else crossover_fn(model, a, b, component)
    verdict = answer_component(summ, a, b, component)
    soc, la, lb = _pair_curves(model, a, b, component)
    _, loc = find_crossings(la - lb, soc)
    ax = new_axes(ax)
    if bins is None:
        bins = max(10, int(np.ceil(soc[-1] - soc[0])))
    credible = verdict.verdict == "crossover"
    if loc.size:
        what = ("crossings over posterior draws" if credible else
                f"where the curves cross ({verdict.p_crossing:.0%} of draws)")
        counts, _, _ = ax.hist(loc, bins=bins, range=(soc[0], soc[-1]), color="0.45",
                               alpha=0.85, label=what)
        # head room for the legend above the bars
        ax.set_ylim(0, 1.45 * max(float(np.max(counts)), 1.0))
    for i, c in enumerate(verdict.crossings):
        lo, hi = c["hdi95"]
        ax.axvspan(lo, hi, color="#e0a100", alpha=0.25, linewidth=0,
                   label="95 % HDI" if i == 0 else None)
        # each crossing's numbers go into the legend: as text next to its line they ran
        # under the legend or off the axes where a crossing sits near an end of the SOC range
        ax.axvline(c["soc_median"], color="#b07d00", lw=1.6,
                   label=(f"crossover {c['soc_median']:.0f} % [{lo:.0f}, {hi:.0f}] "
                          f"(P = {c['probability']:.2f})"))
    for j, t in enumerate(_truth_list(truth)):
        ax.axvline(t, color="k", ls="--", lw=1.2, label="truth" if j == 0 else None)
    ax.set_xlim(soc[0], soc[-1])
    ax.set_xlabel(_SOC_LABEL)
    ax.set_ylabel("draws")
    head = "crossover" if credible else "no credible crossover"
    if verdict.verdict == "reversal":
        head = "order reverses, crossing SOC not located"
    ax.set_title(f"{component}: {head} (P(cross) = {verdict.p_crossing:.2f})")
    style_axes(ax)
    if ax.get_legend_handles_labels()[0]:
        legend(ax, loc="upper right")
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
        A :func:`drtbayes.crossover` result (dict, or an object with ``.to_dict()``); its
        credible crossings are marked (computed when None).
    ax
        Axes to draw into.

    Returns
    -------
    Axes
    """
    from ..answer import answer_component
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
    # a crossover is marked only where the answer in words (and the report's table) states
    # one: a median line for "no credible crossover" contradicted that table
    for i, c in enumerate(answer_component(cx, a, b, component).crossings):
        ax.axvspan(c["hdi95"][0], c["hdi95"][1], color="#e0a100", alpha=0.2, linewidth=0,
                   label="crossover 95 % HDI" if i == 0 else None)
        ax.axvline(c["soc_median"], color="#b07d00", lw=1.3,
                   label=f"crossover {c['soc_median']:.0f} % (P = {c['probability']:.2f})")
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel(_SOC_LABEL)
    ax.set_ylabel(f"{component} / Ω")
    ax.set_title(f"{component} against SOC: {a} vs {b}")
    style_axes(ax)
    legend(ax, loc="upper right")
    return ax


def plot_cell_curves(
    result: Any,
    component: str = "R2",
    *,
    designs: Sequence[str] | None = None,
    split: xr.Dataset | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Every cell's own resistance curve against SOC (median, 95 % band) with its pulses.

    The design-level curves of :func:`plot_soc_curves` average over cells; this view shows
    how far each cell departs from its design, which is what the cell-to-cell spread of the
    model (``cell_sd``) describes.

    Parameters
    ----------
    result
        SOC model (with ``log_r_cell`` in its posterior).
    component
        ``R1``, ``R2``, ``R3`` or ``total``.
    designs
        Which designs' cells to draw (default all).
    split
        The split the model was fitted to; its per-pulse medians are drawn as points (default:
        the model's own per-pulse data).
    ax
        Axes to draw into.

    Returns
    -------
    Axes
    """
    model = _model(result)
    post = model.tree["posterior"]
    if "log_r_cell" not in post:
        raise DataError("the SOC model has no per-cell curves (log_r_cell); refit it")
    if component not in model.components:
        raise DataError(f"component {component!r} not in the SOC model {model.components}")
    obs = model.tree["observed_data"]
    cells = [str(c) for c in post["cell"].values]
    cell_design = [str(d) for d in post["cell_design"].values]
    keep = [i for i, d in enumerate(cell_design) if designs is None or d in designs]
    if not keep:
        raise DataError(f"no cell of designs {list(designs or [])}; designs: {model.designs}")
    colors = member_colors([cell_design[i] for i in keep])
    soc = post["soc"].values
    ax = new_axes(ax)
    for i, color in zip(keep, colors, strict=True):
        cell, design = cells[i], cell_design[i]
        lo_s, hi_s = model.measured_range(design)
        inside = (soc >= lo_s - 1e-9) & (soc <= hi_s + 1e-9)
        lr = post["log_r_cell"].sel(cell=cell, component=component)
        q = np.exp(lr.quantile([0.025, 0.5, 0.975], dim=("chain", "draw")).values)
        ax.fill_between(soc[inside], q[0, inside], q[2, inside], color=color, alpha=0.18,
                        linewidth=0)
        ax.plot(soc[inside], q[1, inside], color=color, lw=1.6, label=f"{design} / {cell}")
        if split is not None:
            sel = np.asarray(split["cell"].values).astype(str) == cell
            pts = split["resistance"].sel(component=component).isel(pulse=np.nonzero(sel)[0])
            x, y = pts["soc"].values, pts.median("sample").values
        else:
            sel = np.asarray(obs["cell"].values).astype(str) == cell
            x = obs["soc"].values[sel]
            y = np.exp(obs["log_r_mean"].sel(component=component).values[sel])
        ax.scatter(x, y, s=9, color=color, alpha=0.6, linewidths=0)
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel(_SOC_LABEL)
    ax.set_xlim(float(soc[0]), float(soc[-1]))
    ax.set_ylabel(f"{component} / Ω")
    ax.set_title(f"{component} of each cell (median, 95 %; points: pulses)")
    style_axes(ax)
    legend(ax, loc="upper right", ncols=2)
    return ax
