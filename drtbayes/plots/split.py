"""Figures of the time-constant bands and the GITT split.

* :func:`plot_bands`: a DRT (median and 95 % band) with the process bands shaded and the
  posterior of each band boundary drawn along the top;
* :func:`plot_pulse_fits`: measured GITT transients with the fitted posterior band (the
  paper's Figure 4 analogue, on a log time axis so every time scale is visible);
* :func:`plot_components_vs_soc`: R1, R2, R3 and total against SOC per design and cell,
  medians with 95 % bands (the paper's Figure 5 analogue);
* :func:`plot_s7_check`: GITT total against the EIS prediction over SOC (process method; the
  paper's Fig. S7 consistency check).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..conventions import COMPONENTS
from ..errors import DataError
from ._common import (
    as_tree,
    design_color,
    flat_samples,
    format_tau_axis,
    legend,
    median_band,
    member_colors,
    new_axes,
    new_figure,
    plain_log_ticks,
    process_color,
    select_labels,
    style_axes,
)

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def plot_bands(
    fit_or_tree: Any,
    bands: xr.Dataset,
    spectrum: str | int | None = None,
    group: str | int | None = None,
    ax: Axes | None = None,
) -> Axes:
    """DRT with its 95 % band, the process bands shaded and the boundary posteriors on top.

    Parameters
    ----------
    fit_or_tree
        The DRT fit (``DRTResult`` or its DataTree).
    bands
        Output of :func:`drtbayes.time_constant_bands` for that fit.
    spectrum, group
        Which DRT: a spectrum label/position, or a design-level group label/position (``group``
        wins when both are given). Default: the first spectrum.
    ax
        Axes to draw into (a new figure when None).

    Returns
    -------
    Axes
    """
    tree = as_tree(fit_or_tree)
    post = tree["posterior"].to_dataset()
    if group is not None:
        var, dim, prefix, which = "gamma_group", "group", "group_", group
    else:
        var, dim, prefix, which = "gamma", "spectrum", "", 0 if spectrum is None else spectrum
    if var not in post:
        other = "spectrum" if dim == "group" else "group"
        raise DataError(f"the fit has no {var!r}; choose {other}= instead")
    label = select_labels(post[dim], which, dim=dim)[0]
    gam = post[var].sel({dim: label})
    med, lo, hi = median_band(gam)
    tau = post["tau"].values
    ax = new_axes(ax)
    processes = json.loads(bands.attrs.get("processes", "[]")) or list(bands["process"].values)
    bnd = flat_samples(bands[f"{prefix}boundary_tau"].sel({dim: label})
                       .rename(sample="draw").expand_dims(chain=[0])).values  # sample, boundary
    edges = np.concatenate([[tau[0]], np.nanmedian(bnd, axis=0), [tau[-1]]])
    for i, proc in enumerate(processes):
        if np.isfinite(edges[i]) and np.isfinite(edges[i + 1]):
            ax.axvspan(edges[i], edges[i + 1], color=process_color(proc, i), alpha=0.35, lw=0,
                       label=proc.replace("_", " "))
    design = str(post[f"{dim}_design"].sel({dim: label}).values) if f"{dim}_design" in post.coords \
        else (str(post["design"].sel({dim: label}).values) if "design" in post.coords
              and post["design"].dims == (dim,) else label.split("/")[0])
    color = design_color(design)
    ax.fill_between(tau, lo.values, hi.values, color=color, alpha=0.3, lw=0,
                    label="95 % credible band")
    ax.plot(tau, med.values, color=color, lw=1.8, label="posterior median")
    top = float(np.nanmax(hi.values)) if np.isfinite(np.nanmax(hi.values)) else 1.0
    # boundary posteriors: histograms of log10 tau drawn above the DRT
    for b in range(bnd.shape[1]):
        x = np.log10(bnd[:, b][np.isfinite(bnd[:, b])])
        if x.size < 2:
            continue
        width = max(float(np.ptp(x)), 0.05)
        counts, ed = np.histogram(x, bins=25, range=(x.min() - 0.1 * width, x.max() + 0.1 * width))
        h = counts / counts.max() * 0.18 * top
        ax.fill_between(10 ** np.repeat(ed, 2)[1:-1], 1.04 * top, 1.04 * top + np.repeat(h, 2),
                        color="0.25", alpha=0.7, lw=0,
                        label="boundary posterior" if b == 0 else None)
    ax.set_ylim(0, 1.27 * top)
    ax.set_xlim(tau[0], tau[-1])
    format_tau_axis(ax)
    ax.set_ylabel("γ / Ω")
    ax.set_title(f"DRT and time-constant bands: {label}")
    # below the axes: inside, any corner covers a boundary histogram along the top
    legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3, borderaxespad=0.0)
    return ax


def _pulse_labels(split: xr.Dataset, pulses: Any, cell: str | None) -> list[str]:
    labels = [str(p) for p in split["pulse"].values]
    if cell:
        labels = [lab for lab, c in zip(labels, split["cell"].values.astype(str), strict=True)
                  if c == cell] or labels
    if pulses is None:
        sub = split.sel(pulse=labels)
        soc = sub["soc"].values
        want = [80.0, 50.0, 20.0]
        return list(dict.fromkeys(labels[int(np.argmin(np.abs(soc - w)))] for w in want))
    items = [pulses] if isinstance(pulses, str | int | np.integer) else list(pulses)
    out = []
    for it in items:
        if isinstance(it, int | np.integer):
            out.append(labels[int(it)])
        elif str(it) in labels:
            out.append(str(it))
        else:
            raise DataError(f"pulse {it!r} is not in the split; pulses: {labels[:5]}...")
    return out


def plot_pulse_fits(
    gitt: xr.Dataset,
    split: xr.Dataset,
    pulses: str | int | Sequence[str | int] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Measured GITT transients with the posterior fit (median and 95 % band).

    The voltage is shown relative to the rest voltage before each pulse, against the time
    since the current step on a log axis (1 ms to the end of the rest), so the ohmic jump,
    the charge-transfer and diffusion relaxations and the OCV step are all visible.

    Parameters
    ----------
    gitt
        The GITT record of one cell.
    split
        Output of :func:`drtbayes.split_gitt` (may hold several cells; the record's cell is
        used).
    pulses
        Pulse labels or positions (within the cell); default: the pulses nearest 80, 50 and
        20 % SOC.
    ax
        Axes to draw into.

    Returns
    -------
    Axes
    """
    cell = str(gitt.attrs.get("cell", "") or "")
    labels = _pulse_labels(split, pulses, cell)
    ax = new_axes(ax)
    t = gitt["time"].values
    v = gitt["voltage"].values
    cols = ["#1b6ca8", "#d1495b", "#2e933c", "#8e5ea2", "#e0a100"]
    for k, lab in enumerate(labels):
        p = split.sel(pulse=lab)
        t0 = float(p["t_start"])
        ft = p["fit_time_s"].values
        ok = np.isfinite(ft)
        ft = ft[ok]
        before = (t < t0) & (t > t0 - 600)
        v_ref = (float(np.median(v[before])) if before.any()
                 else float(p["fit_v_median"].values[ok][0]))
        end = t0 + float(np.nanmax(ft))
        m = (t > t0) & (t <= end)
        c = cols[k % len(cols)]
        ax.plot(t[m] - t0, (v[m] - v_ref) * 1e3, "o", ms=2.6, color=c, alpha=0.55, mec="none",
                label=f"measured, SOC {float(p['soc']):.0f} %")
        pos = ft > 0
        ax.fill_between(ft[pos], (p["fit_v_lo95"].values[ok][pos] - v_ref) * 1e3,
                        (p["fit_v_hi95"].values[ok][pos] - v_ref) * 1e3, color=c, alpha=0.3, lw=0)
        ax.plot(ft[pos], (p["fit_v_median"].values[ok][pos] - v_ref) * 1e3, color=c, lw=1.4,
                label=f"fit (rmse {float(p['fit_rmse_v']) * 1e3:.2f} mV)")
        ax.axvline(float(p["t_end"]) - t0, color=c, lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("time since current step / s")
    ax.set_ylabel("V − V(rest before) / mV")
    ax.set_title(f"GITT pulse fits{': ' + cell if cell else ''} (dotted: current off; band: 95 %)")
    style_axes(ax)
    legend(ax, loc="lower left", ncols=1)
    return ax


def plot_components_vs_soc(
    split: xr.Dataset,
    ax: Sequence[Axes] | None = None,
    *,
    area: bool = False,
) -> Figure:
    """R1, R2, R3 and total against SOC per design and cell, medians with 95 % bands.

    Parameters
    ----------
    split
        Output of :func:`drtbayes.split_gitt` (several cells concatenated along ``pulse``).
    ax
        Four Axes (R1, R2, R3, total); a new 2 x 2 figure when None.
    area
        Plot ``resistance_area`` (ohm cm2) instead of ohm.

    Returns
    -------
    Figure
    """
    var = "resistance_area" if area else "resistance"
    if var not in split:
        raise DataError(f"the split has no {var!r}" + (" (no electrode area was given)" if area
                                                       else ""))
    if ax is None:
        fig, axes = new_figure(2, 2, figsize=(10.0, 7.5), sharex=True)
        axes = list(axes.ravel())
    else:
        axes = list(ax)
        if len(axes) != 4:
            raise DataError("plot_components_vs_soc needs 4 Axes (R1, R2, R3, total)")
        fig = axes[0].figure
    unit = "Ω cm²" if area else "Ω"
    designs = split["design"].values.astype(str)
    cells = split["cell"].values.astype(str)
    pairs = list(dict.fromkeys(zip(designs, cells, strict=True)))
    colors = member_colors([d for d, _ in pairs])
    names = {"R1": "R1 (contact + ohmic)", "R2": "R2 (charge transfer)",
             "R3": "R3 (diffusion)", "total": "total"}
    med, lo, hi = median_band(split[var])
    for a, comp in zip(axes, COMPONENTS, strict=True):
        for (d, c), col in zip(pairs, colors, strict=True):
            m = (designs == d) & (cells == c)
            soc = split["soc"].values[m]
            o = np.argsort(soc)
            y = med.sel(component=comp).values[m][o]
            a.fill_between(soc[o], lo.sel(component=comp).values[m][o],
                           hi.sel(component=comp).values[m][o], color=col, alpha=0.25, lw=0)
            a.plot(soc[o], y, color=col, lw=1.5, label=f"{d} / {c}")
            unres = ~split["resolved"].sel(component=comp).values[m][o]
            if unres.any():
                a.plot(soc[o][unres], y[unres], "x", color=col, ms=5,
                       label=f"{d} / {c}: EIS-ratio fallback")
        a.set_yscale("log")
        plain_log_ticks(a.yaxis)
        a.set_title(names[comp])
        a.set_ylabel(f"{comp} / {unit}")
        style_axes(a)
    for a in axes[2:]:
        a.set_xlabel("SOC / %")
    for a in axes:
        # SOC runs 0 -> 100 left to right in every drtbayes figure (the paper draws this one
        # in the discharge direction; one direction throughout reads better in one report)
        a.set_xlim(0, 100)
    legend(axes[0], loc="upper left")
    fig.suptitle("GITT resistances split by EIS time-constant bands (median, 95 % band)")
    return fig


# over 80 lines by its numpydoc docstring and one figure's drawing calls, in the order drawn
def plot_s7_check(
    split: xr.Dataset,
    design: str,
    *,
    eis_socs: Sequence[float] = (),
    ax: Axes | None = None,
) -> Axes:
    """GITT total resistance against the EIS prediction over SOC (the paper's Fig. S7 check).

    Each cell's GITT total (median, 95 % band; filled dots where the pulse passes the check,
    crosses where it does not) and the design's EIS prediction ``s7_eis_total`` (symmetric-cell
    r_inf + half its process resistances developed at the pulse length; dashed, 95 % band).
    The GITT total also holds the counter electrode, which the symmetric cell does not.

    Parameters
    ----------
    split
        Output of :func:`drtbayes.split_gitt` with ``method="processes"`` (holds the ``s7_*``
        variables).
    design
        The design to draw.
    eis_socs
        SOCs (%) at which the design's spectra were measured, marked along the bottom: far
        from them the EIS prediction is carried (clamped) from another SOC.
    ax
        Axes to draw into (a new figure when None).

    Returns
    -------
    Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if "s7_eis_total" not in split:
        raise DataError("the split has no 's7_eis_total': the Fig. S7 check needs "
                        "split_gitt(method='processes')")
    designs = split["design"].values.astype(str)
    if design not in designs:
        raise DataError(f"the split holds no pulses of design {design!r} (it has "
                        f"{', '.join(sorted(set(designs)))})")
    ax = new_axes(ax)
    sel = np.flatnonzero(designs == design)
    sp = split.isel(pulse=sel)
    cells = sp["cell"].values.astype(str)
    soc = sp["soc"].values
    med, lo, hi = median_band(sp["resistance"].sel(component="total"))
    e_med, e_lo, e_hi = median_band(sp["s7_eis_total"])
    ok = sp["s7_consistent"].values.astype(bool)
    o = np.argsort(soc, kind="stable")
    ax.fill_between(soc[o], e_lo.values[o], e_hi.values[o], color="0.55", alpha=0.25, lw=0)
    ax.plot(soc[o], e_med.values[o], "--", color="0.2", lw=1.5)
    uniq = list(dict.fromkeys(cells))
    colors = member_colors([design] * len(uniq))
    handles: list = []
    for c, col in zip(uniq, colors, strict=True):
        m = np.flatnonzero(cells == c)
        m = m[np.argsort(soc[m], kind="stable")]
        ax.fill_between(soc[m], lo.values[m], hi.values[m], color=col, alpha=0.25, lw=0)
        ax.plot(soc[m], med.values[m], color=col, lw=1.5)
        ax.plot(soc[m][ok[m]], med.values[m][ok[m]], "o", color=col, ms=4)
        ax.plot(soc[m][~ok[m]], med.values[m][~ok[m]], "x", color=col, ms=5, mew=1.3)
        handles.append(Line2D([], [], color=col, lw=1.5, label=f"GITT total, {c}"))
    handles.append(Line2D([], [], color="0.2", ls="--", lw=1.5,
                          label="EIS: r_inf + ½ polarisation at t_p"))
    handles.append(Patch(color="0.55", alpha=0.25, label="95 % band"))
    handles.append(Line2D([], [], ls="", marker="o", color="0.3", ms=4,
                          label="consistent (ratio within tolerance)"))
    handles.append(Line2D([], [], ls="", marker="x", color="0.3", ms=5, mew=1.3,
                          label="not consistent"))
    if len(eis_socs):
        ax.plot(list(eis_socs), np.zeros(len(eis_socs)), "^", color="0.2", ms=7, clip_on=False,
                transform=ax.get_xaxis_transform())
        handles.append(Line2D([], [], ls="", marker="^", color="0.2", ms=7,
                              label="SOC of a measured spectrum"))
    ax.set_xlim(0, 100)
    # log: the totals span a decade towards low SOC, and a ratio reads as one distance
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    ax.set_xlabel("SOC / %")
    ax.set_ylabel("total resistance / Ω")
    ax.set_title(f"{design}: GITT total vs EIS (Fig. S7 check)")
    style_axes(ax)
    legend(ax, handles=handles, loc="upper right")
    return ax
