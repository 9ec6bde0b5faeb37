"""Figures of a DRT fit: Nyquist, Bode, DRT, residuals, sampler diagnostics, and an overview.

Every function takes the result of :func:`drtbayes.fit_drt` (anything with a ``.tree``
DataTree) or the DataTree itself, draws into ``ax`` when one is given (a new figure otherwise),
and returns the Axes (or the Figure for multi-panel plots). Nothing here calls ``plt.show``.

Spectra are picked with ``spectrum``: a label of the ``spectrum`` coordinate, an integer
position, a list of these, or None for all of them (overlaid). Each spectrum keeps the same
colour in every figure: the hue of its design, lighter or darker per cell / SOC.

Uncertainty is always the central 95 % interval of the posterior (``prob`` changes it):
credible bands for gamma, posterior-predictive bands (model impedance plus noise draws) for the
impedance.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import DataError
from ._common import (
    FONT_SIZE,
    LABEL_SIZE,
    as_tree,
    coord_da,
    coord_values,
    flat_samples,
    format_frequency_axis,
    format_tau_axis,
    group_dataset,
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

__all__ = [
    "plot_nyquist",
    "plot_bode",
    "plot_drt",
    "plot_residuals",
    "plot_diagnostics",
    "plot_fit_overview",
]

SpectrumSelector = str | int | Sequence[str | int] | None

#: Gate thresholds of the diagnostics (see docs/architecture.md, issue "Diagnostics gate").
RHAT_MAX = 1.01
ESS_BULK_MIN = 400.0

_Z_REAL_LABEL = "Z′ / Ω"
_Z_IMAG_LABEL = "−Z″ / Ω"


def _pct(prob: float) -> str:
    """``0.95`` -> ``"95 %"`` (SI spacing, as in the rest of the labels)."""
    return f"{100 * prob:g} %"


# --------------------------------------------------------------------------- data preparation
class _Spectrum:
    """Observed and posterior-predictive impedance of one spectrum as plain numpy arrays.

    Only frequencies the spectrum was measured at (inside its observed range) and where the
    predictive draws are finite are kept for the model curves, so a spectrum that lacks some
    frequencies of the stacked grid is drawn over its own range.
    """

    def __init__(self, label: str, color: str, frequency_hz: np.ndarray, obs: xr.Dataset,
                 pp: xr.Dataset) -> None:
        self.label = label
        self.color = color
        self.frequency_hz = frequency_hz
        self.obs_real = np.asarray(obs["z_real"].values, dtype=float)
        self.obs_imag = np.asarray(obs["z_imag"].values, dtype=float)
        self.draws_real = np.asarray(flat_samples(pp["z_real"]).values, dtype=float)
        self.draws_imag = np.asarray(flat_samples(pp["z_imag"]).values, dtype=float)
        obs_ok = np.isfinite(self.obs_real) & np.isfinite(self.obs_imag)
        model_ok = np.isfinite(self.draws_real).any(0) & np.isfinite(self.draws_imag).any(0)
        if obs_ok.any():
            f_obs = frequency_hz[obs_ok]
            in_range = (frequency_hz >= f_obs.min()) & (frequency_hz <= f_obs.max())
        else:
            in_range = np.ones_like(model_ok)
        self.obs_ok = obs_ok
        self.model_ok = model_ok & in_range
        with warnings.catch_warnings():
            # all-NaN columns (frequencies this spectrum lacks) are masked out by model_ok
            warnings.simplefilter("ignore", RuntimeWarning)
            self.med_real = np.nanmedian(self.draws_real, axis=0)
            self.med_imag = np.nanmedian(self.draws_imag, axis=0)

    def quantiles(self, values: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper central-interval quantiles over draws of a (draw, frequency) array."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanquantile(values, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
        return lo, hi


def _spectra(tree: xr.DataTree, spectrum: SpectrumSelector) -> list[_Spectrum]:
    obs = group_dataset(tree, "observed_data", required=("z_real", "z_imag"))
    pp = group_dataset(tree, "posterior_predictive", required=("z_real", "z_imag"))
    if "spectrum" not in obs.dims:
        # a single spectrum stored without the dim: give it one so the code below is uniform
        obs = obs.expand_dims(spectrum=["spectrum"])
        pp = pp.expand_dims(spectrum=["spectrum"])
    all_labels = [str(v) for v in obs["spectrum"].values]
    colors = dict(zip(all_labels, member_colors(coord_values(obs, "design", "spectrum")),
                      strict=True))
    freq = np.asarray(obs["frequency"].values, dtype=float)
    out = []
    for lab in select_labels(obs["spectrum"], spectrum):
        o = obs.sel(spectrum=lab)
        p = pp.sel(spectrum=lab)
        if not np.array_equal(np.asarray(p["frequency"].values, dtype=float), freq):
            # predictive stored on another frequency grid: align, NaN where it has no value
            p = p.reindex(frequency=obs["frequency"].values)
        out.append(_Spectrum(lab, colors[lab], freq, o, p))
    return out


def _style_handles(color: str, prob: float, *, what: str = "predictive") -> list:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    return [
        Line2D([], [], ls="", marker="o", ms=5, mfc="none", mec=color, label="observed"),
        Line2D([], [], color=color, lw=1.8, label=f"{what} median"),
        Patch(facecolor=color, alpha=0.3, label=f"{_pct(prob)} {what} band"),
    ]


def _spectrum_handles(items: Sequence[tuple[str, str]], *, marker: str | None = "o") -> list:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color=c, lw=1.8, marker=marker, ms=5, mfc="none", mec=c, label=lab)
        for lab, c in items
    ]


def _legend_for(ax: Axes, specs: Sequence[_Spectrum], prob: float, *, what: str = "predictive",
                **kw: Any) -> None:
    """One legend: the style key in the spectrum's colour (one spectrum) or colour per spectrum."""
    from matplotlib.patches import Patch

    if len(specs) == 1:
        handles = _style_handles(specs[0].color, prob, what=what)
    else:
        handles = _spectrum_handles([(s.label, s.color) for s in specs])
        handles.append(Patch(facecolor="0.6", alpha=0.4, label=f"{_pct(prob)} {what} band"))
    legend(ax, handles, ncols=1 if len(handles) <= 6 else 2, **kw)


# --------------------------------------------------------------------------- Nyquist
def plot_nyquist(
    result: Any,
    spectrum: SpectrumSelector = None,
    *,
    ax: Axes | None = None,
    prob: float = 0.95,
    cloud: int = 0,
    seed: int = 0,
    show_legend: bool = True,
) -> Axes:
    """Nyquist plot: observed points, posterior-predictive median curve and band.

    The band is the central ``prob`` interval of the predictive draws measured perpendicular to
    the median curve at every frequency (the direction in which a misfit shows in a Nyquist
    plot), drawn as a shaded ribbon along the curve.

    Parameters
    ----------
    result
        A DRT fit result (with ``.tree``) or its DataTree.
    spectrum
        Label, position or list of them; None draws every spectrum.
    ax
        Axes to draw into; a new 7 x 5 in figure when None.
    prob
        Mass of the predictive band.
    cloud
        Also scatter this many predictive draws per spectrum as a faint point cloud (0: none).
    seed
        Seed of the choice of cloud draws (same seed, same figure).
    show_legend
        Draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
        With equal aspect, Z' on x and -Z'' (capacitive up) on y, both in ohm.
    """
    tree = as_tree(result)
    specs = _spectra(tree, spectrum)
    ax = new_axes(ax)
    rng = np.random.default_rng(seed)
    extent_x: list[np.ndarray] = []
    extent_y: list[np.ndarray] = []
    for s in specs:
        m = s.model_ok
        x, y = s.med_real[m], -s.med_imag[m]
        dr, di = s.draws_real[:, m], -s.draws_imag[:, m]
        if cloud and dr.shape[0]:
            pick = rng.choice(dr.shape[0], size=min(int(cloud), dr.shape[0]), replace=False)
            ax.scatter(dr[pick].ravel(), di[pick].ravel(), s=2, color=s.color, alpha=0.12,
                       linewidths=0, zorder=1, rasterized=True)
        if x.size >= 2:
            lower, upper = _normal_band(x, y, dr, di, prob)
            extent_x += [lower[0], upper[0]]
            extent_y += [lower[1], upper[1]]
            ax.fill(np.concatenate([upper[0], lower[0][::-1]]),
                    np.concatenate([upper[1], lower[1][::-1]]),
                    color=s.color, alpha=0.3, lw=0, zorder=2)
        ax.plot(x, y, color=s.color, lw=1.6, zorder=3)
        ax.plot(s.obs_real[s.obs_ok], -s.obs_imag[s.obs_ok], ls="", marker="o", ms=4,
                mfc="none", mec=s.color, mew=1.0, zorder=4)
        extent_x.append(s.obs_real[s.obs_ok])
        extent_y.append(-s.obs_imag[s.obs_ok])
    ax.set_xlabel(_Z_REAL_LABEL)
    ax.set_ylabel(_Z_IMAG_LABEL)
    _nyquist_limits(ax, np.concatenate(extent_x or [np.zeros(1)]),
                    np.concatenate(extent_y or [np.zeros(1)]))
    ax.axhline(0.0, color="0.5", lw=0.6, zorder=0)
    style_axes(ax)
    if show_legend:
        _legend_for(ax, specs, prob)
    return ax


def _nyquist_limits(ax: Axes, xs: np.ndarray, ys: np.ndarray) -> None:
    """Equal aspect with the real axis near the bottom and free room above for the legend.

    ``adjustable="datalim"`` centres the data vertically and wastes half the panel below
    -Z'' = 0. Instead the limits are chosen here for the panel's current shape (y from just
    below the data or 0, as tall as the equal aspect needs; x widened about its centre when the
    data is the taller one), and ``adjustable="box"`` absorbs the small change of shape that
    the final layout brings.
    """
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    if not xs.size or not ys.size:
        ax.set_aspect("equal", adjustable="datalim")
        return
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = min(float(ys.min()), 0.0), float(ys.max())
    pad = 0.04 * max(x1 - x0, y1 - y0, 1e-12)
    x0, x1, y0, y1 = x0 - pad, x1 + pad, y0 - pad, y1 + pad
    box = ax.get_position()
    fw, fh = ax.figure.get_size_inches()
    ratio = (box.height * fh) / max(box.width * fw, 1e-9)
    if (y1 - y0) < (x1 - x0) * ratio:
        y1 = y0 + (x1 - x0) * ratio
    else:
        half = 0.5 * (y1 - y0) / ratio
        xc = 0.5 * (x0 + x1)
        x0, x1 = xc - half, xc + half
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")


def _smooth(v: np.ndarray, width: int = 5) -> np.ndarray:
    """Smooth by a moving average with edge padding (same length as ``v``)."""
    if v.size < width:
        return v
    half = width // 2
    padded = np.pad(v, half, mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _normal_band(
    x: np.ndarray, y: np.ndarray, draws_x: np.ndarray, draws_y: np.ndarray, prob: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Lower and upper edges of a ribbon around the curve (x, y).

    At each point the draws' deviations are projected on the unit normal of the curve (in data
    units; the axes have equal aspect) and their quantiles give the ribbon's half-widths.
    """
    # the tangent comes from a lightly smoothed curve: the median of noisy predictive draws
    # wiggles where points crowd (the low-frequency end), and raw normals would fray the ribbon
    tx, ty = np.gradient(_smooth(x)), np.gradient(_smooth(y))
    norm = np.hypot(tx, ty)
    flat = norm <= 1e-12 * max(float(np.nanmax(np.abs(np.concatenate([x, y])))), 1e-300)
    # a stationary point (curve doubling back) has no tangent: fall back to the -Z'' direction
    tx, ty, norm = np.where(flat, 1.0, tx), np.where(flat, 0.0, ty), np.where(flat, 1.0, norm)
    nx, ny = -ty / norm, tx / norm
    proj = (draws_x - x) * nx + (draws_y - y) * ny
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanquantile(proj, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    lo, hi = np.nan_to_num(lo), np.nan_to_num(hi)
    return (x + lo * nx, y + lo * ny), (x + hi * nx, y + hi * ny)


# --------------------------------------------------------------------------- Bode
# over 80 lines by its docstring (the body, ~65 lines, draws one figure)
def plot_bode(
    result: Any,
    spectrum: SpectrumSelector = None,
    *,
    ax: Axes | Sequence[Axes] | None = None,
    quantity: str = "both",
    prob: float = 0.95,
    show_legend: bool = True,
) -> Figure | Axes:
    """Bode plot: |Z| and phase against frequency with posterior-predictive bands.

    Parameters
    ----------
    result
        A DRT fit result (with ``.tree``) or its DataTree.
    spectrum
        Label, position or list of them; None draws every spectrum.
    ax
        For ``quantity="both"``: two Axes (|Z|, phase) or None for a new two-panel figure.
        For ``"modulus"`` or ``"phase"``: one Axes or None.
    quantity
        ``"both"``, ``"modulus"`` or ``"phase"``.
    prob
        Mass of the predictive band.
    show_legend
        Draw the legend (on the |Z| panel).

    Returns
    -------
    matplotlib.figure.Figure or matplotlib.axes.Axes
        The Figure for ``"both"``, the Axes otherwise. The phase is drawn as -phi in degrees
        (capacitive behaviour positive).
    """
    if quantity not in ("both", "modulus", "phase"):
        raise DataError(f"quantity must be 'both', 'modulus' or 'phase', got {quantity!r}")
    tree = as_tree(result)
    specs = _spectra(tree, spectrum)
    if quantity == "both":
        if ax is None:
            fig, axes = new_figure(2, 1, sharex=True)
            ax_mod, ax_ph = axes[0, 0], axes[1, 0]
        else:
            try:
                ax_mod, ax_ph = ax  # type: ignore[misc]
            except (TypeError, ValueError):
                raise DataError(
                    "plot_bode(quantity='both') needs ax=(axes_modulus, axes_phase) or ax=None; "
                    "for one panel pass quantity='modulus' or 'phase'"
                ) from None
            fig = ax_mod.figure
    else:
        if ax is not None and not hasattr(ax, "plot"):
            raise DataError(f"plot_bode(quantity={quantity!r}) needs a single Axes as ax")
        one = new_axes(ax)  # type: ignore[arg-type]
        ax_mod, ax_ph = (one, None) if quantity == "modulus" else (None, one)
        fig = one.figure

    for s in specs:
        m = s.model_ok
        f = s.frequency_hz
        if ax_mod is not None:
            mod_draws = np.hypot(s.draws_real, s.draws_imag)
            lo, hi = s.quantiles(mod_draws, prob)
            ax_mod.fill_between(f[m], lo[m], hi[m], color=s.color, alpha=0.3, lw=0)
            ax_mod.plot(f[m], np.hypot(s.med_real, s.med_imag)[m], color=s.color, lw=1.6)
            ax_mod.plot(f[s.obs_ok], np.hypot(s.obs_real, s.obs_imag)[s.obs_ok], ls="",
                        marker="o", ms=4, mfc="none", mec=s.color, mew=1.0)
        if ax_ph is not None:
            ph_draws = -np.degrees(np.arctan2(s.draws_imag, s.draws_real))
            lo, hi = s.quantiles(ph_draws, prob)
            ax_ph.fill_between(f[m], lo[m], hi[m], color=s.color, alpha=0.3, lw=0)
            ax_ph.plot(f[m], -np.degrees(np.arctan2(s.med_imag, s.med_real))[m], color=s.color,
                       lw=1.6)
            ax_ph.plot(f[s.obs_ok], -np.degrees(np.arctan2(s.obs_imag, s.obs_real))[s.obs_ok],
                       ls="", marker="o", ms=4, mfc="none", mec=s.color, mew=1.0)
    if ax_mod is not None:
        format_frequency_axis(ax_mod)
        ax_mod.set_yscale("log")
        plain_log_ticks(ax_mod.yaxis)
        ax_mod.set_ylabel("|Z| / Ω")
        if show_legend:
            _legend_for(ax_mod, specs, prob)
    if ax_ph is not None:
        format_frequency_axis(ax_ph)
        ax_ph.set_ylabel("−φ / °")
        if show_legend and ax_mod is None:
            _legend_for(ax_ph, specs, prob)
    if quantity == "both":
        ax_mod.set_xlabel("")  # shared x: label only the bottom panel
        return fig
    return ax_mod if ax_mod is not None else ax_ph  # type: ignore[return-value]


# --------------------------------------------------------------------------- DRT
TruthSpec = tuple[Any, Any] | Mapping[str, tuple[Any, Any]]


# over 80 lines by its docstring (the body, ~65 lines, draws one figure)
def plot_drt(
    result: Any,
    spectrum: SpectrumSelector = None,
    *,
    ax: Axes | None = None,
    groups: bool = False,
    truth: TruthSpec | None = None,
    bands: xr.Dataset | None = None,
    prob: float = 0.95,
    show_legend: bool = True,
) -> Axes:
    """Plot the DRT gamma(tau): posterior median and credible band against tau.

    Parameters
    ----------
    result
        A DRT fit result (with ``.tree``) or its DataTree.
    spectrum
        Spectra to draw (label, position, list; None: all). With ``groups=True`` it picks
        design-level groups (labels of the ``group`` coordinate) instead.
    ax
        Axes to draw into; a new figure when None.
    groups
        Draw the design-level DRT ``gamma_group`` of each (design, SOC) group instead of the
        per-spectrum ``gamma``.
    truth
        Ground truth for validation figures: ``(tau_s, gamma_ohm)`` drawn as a dashed black
        line, or a mapping label -> ``(tau_s, gamma_ohm)`` drawn dashed in each item's colour.
    bands
        Optional time-constant bands (:func:`drtbayes.time_constant_bands` output): the
        posterior-median boundaries (``boundary_tau``, or ``group_boundary_tau`` with
        ``groups=True``), pooled over the drawn items, shade each process's tau range.
    prob
        Mass of the credible band.
    show_legend
        Draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
        Log tau axis (``τ / s``); gamma in ohm per unit ln tau, y from 0.
    """
    tree = as_tree(result)
    var, dim = ("gamma_group", "group") if groups else ("gamma", "spectrum")
    post = group_dataset(tree, "posterior", required=(var,))
    gamma = post[var]
    if dim not in gamma.dims:
        gamma = gamma.expand_dims({dim: [var]})
    all_labels = [str(v) for v in gamma[dim].values]
    colors = dict(zip(all_labels, member_colors(coord_values(gamma, "design", dim)), strict=True))
    labels = select_labels(gamma[dim], spectrum, dim=dim)
    tau = np.asarray(gamma["tau"].values, dtype=float)
    ax = new_axes(ax)

    sub = gamma.sel({dim: labels})
    med, lo, hi = median_band(sub, prob)
    for lab in labels:
        c = colors[lab]
        ax.fill_between(tau, lo.sel({dim: lab}).values, hi.sel({dim: lab}).values, color=c,
                        alpha=0.28, lw=0, zorder=2)
        ax.plot(tau, med.sel({dim: lab}).values, color=c, lw=1.8, zorder=3,
                label=_item_label(gamma, dim, lab))

    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    extra: list = []
    if truth is not None:
        if isinstance(truth, Mapping):
            for lab, (t_tau, t_gamma) in truth.items():
                if str(lab) not in labels:
                    continue
                ax.plot(np.asarray(t_tau, float), np.asarray(t_gamma, float), ls="--", lw=1.4,
                        color=_darker(colors[str(lab)]), zorder=4)
            extra.append(Line2D([], [], ls="--", lw=1.4, color="0.3", label="true γ"))
        else:
            t_tau, t_gamma = truth
            ax.plot(np.asarray(t_tau, float), np.asarray(t_gamma, float), ls="--", lw=1.4,
                    color="k", zorder=4)
            extra.append(Line2D([], [], ls="--", lw=1.4, color="k", label="true γ"))
    if bands is not None:
        extra.extend(_shade_bands(ax, bands, labels, groups=groups))

    ax.set_xlim(tau.min(), tau.max())
    format_tau_axis(ax)
    ax.set_ylabel("γ / Ω")
    ax.set_ylim(bottom=0.0)
    if show_legend:
        handles, _ = ax.get_legend_handles_labels()
        if len(labels) == 1:
            lab = handles[0].get_label()
            handles = [Line2D([], [], color=colors[labels[0]], lw=1.8, label=f"median: {lab}")]
        handles.append(Patch(facecolor="0.55" if len(labels) > 1 else colors[labels[0]],
                             alpha=0.35, label=f"{_pct(prob)} credible band"))
        legend(ax, handles + extra, ncols=1 if len(handles) + len(extra) <= 6 else 2)
    return ax


def _item_label(da: xr.DataArray, dim: str, lab: str) -> str:
    """Readable legend label of a spectrum / group: its label, or design + SOC for a group."""
    design, soc = coord_da(da, "design", dim), coord_da(da, "soc", dim)
    if dim == "group" and design is not None and soc is not None:
        d = str(design.sel({dim: lab}).values)
        s = float(soc.sel({dim: lab}).values)
        return f"{d}, SOC {s:g} %" if np.isfinite(s) else d
    return lab


def _darker(color: str) -> str:
    from ._common import shade

    return shade(color, -0.5)


def _shade_bands(ax: Axes, bands: xr.Dataset, labels: list[str], *, groups: bool) -> list:
    """Shade the processes' tau ranges between the posterior-median boundaries."""
    from matplotlib.patches import Patch

    name, dim = ("group_boundary_tau", "group") if groups else ("boundary_tau", "spectrum")
    if name not in bands.data_vars:
        raise DataError(
            f"bands has no {name!r} (has {sorted(bands.data_vars)}); pass the Dataset "
            f"drtbayes.time_constant_bands returns"
        )
    btau = bands[name]
    if dim in btau.dims:
        have = [str(v) for v in btau[dim].values]
        keep = [lab for lab in labels if lab in have]
        if not keep:
            raise DataError(
                f"none of the drawn {dim} labels {labels} is in the bands Dataset "
                f"(it has {have}); compute the bands from the same fit"
            )
        btau = btau.sel({dim: keep})
    reduce = [d for d in btau.dims if d != "boundary"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        log_b = np.log10(btau.where(btau > 0)).median(dim=reduce, skipna=True)
    b_lab = [str(v) for v in btau["boundary"].values]
    order = np.argsort(log_b.values)
    edges = 10.0 ** log_b.values[order]
    if "process" in bands.coords:
        processes = [str(p) for p in bands["process"].values]
    else:
        processes = [b_lab[order[0]].split("|")[0]] + [b_lab[i].split("|")[-1] for i in order]
    if len(processes) != len(edges) + 1:
        processes = [f"process {i + 1}" for i in range(len(edges) + 1)]
    lo_x, hi_x = ax.get_xlim()
    bounds = np.concatenate([[min(lo_x, edges.min() if edges.size else lo_x) * 1e-3], edges,
                             [max(hi_x, edges.max() if edges.size else hi_x) * 1e3]])
    handles = []
    for i, proc in enumerate(processes):
        if not (np.isfinite(bounds[i]) and np.isfinite(bounds[i + 1])):
            continue
        col = process_color(proc, i)
        ax.axvspan(bounds[i], bounds[i + 1], color=col, alpha=0.22, lw=0, zorder=0)
        handles.append(Patch(facecolor=col, alpha=0.4, label=proc.replace("_", " ")))
    for e in edges:
        if np.isfinite(e):
            ax.axvline(e, color="0.35", lw=0.8, ls=":", zorder=1)
    ax.set_xlim(lo_x, hi_x)
    return handles


# --------------------------------------------------------------------------- residuals
def plot_residuals(
    result: Any,
    spectrum: SpectrumSelector = None,
    *,
    ax: Axes | None = None,
    prob: float = 0.95,
    show_legend: bool = True,
) -> Axes:
    """Relative residuals (observed - predictive median) / |Z| against frequency.

    Z' residuals are filled circles with a filled band, Z'' residuals open squares with a
    dashed band; both are normalised by the |Z| of the predictive median and shown in percent.

    Parameters
    ----------
    result
        A DRT fit result (with ``.tree``) or its DataTree.
    spectrum
        Label, position or list of them; None draws every spectrum.
    ax
        Axes to draw into; a new figure when None.
    prob
        Mass of the predictive band.
    show_legend
        Draw the legend.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    tree = as_tree(result)
    specs = _spectra(tree, spectrum)
    ax = new_axes(ax)
    band_alpha = 0.25 if len(specs) == 1 else 0.15
    for s in specs:
        m = s.model_ok
        f = s.frequency_hz
        mod = np.hypot(s.med_real, s.med_imag)
        with np.errstate(invalid="ignore", divide="ignore"):
            lo_r, hi_r = s.quantiles(s.draws_real, prob)
            lo_i, hi_i = s.quantiles(s.draws_imag, prob)
            band = {k: 100.0 * (v - base) / mod for k, (v, base) in {
                "lo_r": (lo_r, s.med_real), "hi_r": (hi_r, s.med_real),
                "lo_i": (lo_i, s.med_imag), "hi_i": (hi_i, s.med_imag)}.items()}
            res_r = 100.0 * (s.obs_real - s.med_real) / mod
            res_i = 100.0 * (s.obs_imag - s.med_imag) / mod
        ax.fill_between(f[m], band["lo_r"][m], band["hi_r"][m], color=s.color, alpha=band_alpha,
                        lw=0, zorder=1)
        for k in ("lo_i", "hi_i"):
            ax.plot(f[m], band[k][m], color=s.color, lw=1.0, ls="--", zorder=2)
        ok = s.obs_ok & m
        ax.plot(f[ok], res_r[ok], ls="", marker="o", ms=4, color=s.color, zorder=3)
        ax.plot(f[ok], res_i[ok], ls="", marker="s", ms=4, mfc="none", mec=s.color, mew=1.0,
                zorder=3)
    ax.axhline(0.0, color="0.3", lw=0.8, zorder=0)
    format_frequency_axis(ax)
    ax.set_ylabel("(Z_obs − Z_pred)/|Z| / %")
    if show_legend:
        c = specs[0].color if len(specs) == 1 else "0.35"
        handles = [
            Line2D([], [], ls="", marker="o", ms=5, color=c, label="Z′ residual"),
            Line2D([], [], ls="", marker="s", ms=5, mfc="none", mec=c, label="Z″ residual"),
            Patch(facecolor=c, alpha=0.35, label=f"{_pct(prob)} band Z′"),
            Line2D([], [], color=c, ls="--", lw=1.0, label=f"{_pct(prob)} band Z″"),
        ]
        if len(specs) > 1:
            handles += [Line2D([], [], color=s.color, lw=4, label=s.label) for s in specs]
        # outside, above the panel: residuals fill the whole panel, any inside spot hides some
        box = ax.get_position()
        narrow = box.width * ax.figure.get_size_inches()[0] < 5.0
        legend(ax, handles, ncols=2 if narrow else min(len(handles), 4 if len(specs) == 1 else 3),
               loc="lower center", bbox_to_anchor=(0.5, 1.0), borderaxespad=0.3)
    return ax


def plot_residuals_grid(
    result: Any,
    spectrum: SpectrumSelector = None,
    *,
    ncols: int = 4,
    prob: float = 0.95,
    panel_size: tuple[float, float] = (3.4, 2.6),
) -> Figure:
    """Relative residuals as small multiples: one panel per spectrum, one y scale for all.

    Overlaid, the residuals of eight spectra hide each other; side by side on a shared axis
    each spectrum's residual pattern (and which spectrum fits worst) is readable.

    Parameters
    ----------
    result
        A DRT fit result (with ``.tree``) or its DataTree.
    spectrum
        Label, position or list of them; None draws every spectrum.
    ncols
        Panels per row.
    prob
        Mass of the predictive band.
    panel_size
        Width and height of one panel (in).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    tree = as_tree(result)
    labels = [s.label for s in _spectra(tree, spectrum)]
    ncols = max(1, min(ncols, len(labels)))
    nrows = int(np.ceil(len(labels) / ncols))
    fig, axes = new_figure(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                           sharex=True, sharey=True)
    flat = axes.ravel()
    for ax, lab in zip(flat, labels, strict=False):
        plot_residuals(tree, lab, ax=ax, prob=prob, show_legend=False)
        ax.set_title(lab, fontsize=FONT_SIZE)
        if ax not in axes[:, 0]:
            ax.set_ylabel("")
    for ax in flat[len(labels):]:
        ax.set_visible(False)
    c = "0.35"
    handles = [
        Line2D([], [], ls="", marker="o", ms=5, color=c, label="Z′ residual"),
        Line2D([], [], ls="", marker="s", ms=5, mfc="none", mec=c, label="Z″ residual"),
        Patch(facecolor=c, alpha=0.35, label=f"{_pct(prob)} band Z′"),
        Line2D([], [], color=c, ls="--", lw=1.0, label=f"{_pct(prob)} band Z″"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncols=4, fontsize=FONT_SIZE)
    return fig


# --------------------------------------------------------------------------- diagnostics
# over 80 lines: one figure of three panels sharing the gate thresholds and the failure flags
def plot_diagnostics(
    result: Any,
    *,
    var_names: Sequence[str] | None = None,
    rhat_max: float = RHAT_MAX,
    ess_min: float = ESS_BULK_MIN,
) -> Figure:
    """Sampler diagnostics: R-hat and bulk ESS per variable, divergences per chain.

    Each variable's elements (e.g. gamma at every tau of every spectrum) are small grey
    points; its worst element (largest R-hat, smallest ESS) is a large marker, green when it
    passes the gate and red when it fails. The gate thresholds are dashed lines.

    Parameters
    ----------
    result
        A DRT fit result (with ``.tree``) or its DataTree.
    var_names
        Posterior variables to show (default: every variable with chain and draw dims).
    rhat_max, ess_min
        Gate thresholds drawn on the panels (defaults 1.01 and 400).

    Returns
    -------
    matplotlib.figure.Figure
        Three panels: R-hat, bulk ESS (log scale), divergences per chain.
    """
    import arviz_stats

    tree = as_tree(result)
    post = group_dataset(tree, "posterior")
    if var_names is None:
        var_names = [v for v, da in post.data_vars.items()
                     if {"chain", "draw"} <= set(da.dims) and np.issubdtype(da.dtype, np.number)]
    else:
        missing = [v for v in var_names if v not in post.data_vars]
        if missing:
            raise DataError(f"posterior has no variables {missing}; it has "
                            f"{sorted(post.data_vars)}")
    var_names = list(var_names)
    fig, axes = new_figure(1, 3, figsize=(9.0, max(2.6, 0.42 * len(var_names) + 1.6)),
                           width_ratios=[1.0, 1.0, 0.8])
    ax_r, ax_e, ax_d = axes[0]
    n_chain = post.sizes.get("chain", 0)
    ypos = np.arange(len(var_names))[::-1]
    failures: dict[str, bool] = {}  # gate criterion -> failed anywhere

    if n_chain >= 2 and var_names:
        sub = post[var_names]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rhat = arviz_stats.rhat(sub, sample_dims=["chain", "draw"])
            ess = arviz_stats.ess(sub, sample_dims=["chain", "draw"], method="bulk")
        rng = np.random.default_rng(0)  # jitter only: fixed so the figure is reproducible
        for y, v in zip(ypos, var_names, strict=True):
            flat = np.asarray(post[v].transpose("chain", "draw", ...).values, dtype=float)
            flat = flat.reshape(flat.shape[0] * flat.shape[1], -1)
            if flat.size and np.all(np.ptp(flat, axis=0) == 0):
                # a value that does not vary over the draws has no R-hat or ESS: say why
                why = ("fixed: empirical Bayes" if "inference" in post[v].attrs
                       else "constant over the draws")
                for axx in (ax_r, ax_e):
                    axx.text(0.03, y, why, ha="left", va="center",
                             transform=axx.get_yaxis_transform(), fontsize=FONT_SIZE,
                             color="0.4")
                continue
            for axx, name, stat, worst, ok in (
                (ax_r, "R-hat", rhat, np.nanmax, lambda w: w <= rhat_max),
                (ax_e, "ESS", ess, np.nanmin, lambda w: w >= ess_min),
            ):
                vals = np.asarray(stat[v].values, dtype=float).ravel()
                vals = vals[np.isfinite(vals)]
                if not vals.size:
                    axx.text(0.03, y, "n/a (NaN)", ha="left", va="center",
                             transform=axx.get_yaxis_transform(), fontsize=FONT_SIZE,
                             color="0.4")
                    continue
                if vals.size > 1:  # a scalar's only element is its worst marker below
                    axx.scatter(vals, y + rng.uniform(-0.18, 0.18, vals.size), s=6,
                                color="0.6", alpha=0.6, linewidths=0, zorder=2,
                                rasterized=True)
                w = float(worst(vals))
                failures[name] = failures.get(name, False) or not ok(w)
                axx.scatter([w], [y], s=55, marker="D", zorder=3, edgecolors="k",
                            linewidths=0.6, color="#2e933c" if ok(w) else "#d1495b")
        ax_r.axvline(rhat_max, color="#d1495b", ls="--", lw=1.2, label=f"gate {rhat_max:g}")
        ax_e.axvline(ess_min, color="#d1495b", ls="--", lw=1.2, label=f"gate {ess_min:g}")
        ax_e.set_xscale("log")
        plain_log_ticks(ax_e.xaxis)
        lo_r, hi_r = ax_r.get_xlim()
        ax_r.set_xlim(min(lo_r, 0.999), max(hi_r, rhat_max + 0.004))
        lo_e, hi_e = ax_e.get_xlim()
        ax_e.set_xlim(min(lo_e, ess_min / 2), max(hi_e, ess_min * 2))
        # the thresholds named at the top of their lines, not in a legend box that would
        # cover the rows' texts ("fixed: empirical Bayes")
        for axx, x in ((ax_r, rhat_max), (ax_e, ess_min)):
            axx.text(x, 1.005, f"gate {x:g}", transform=axx.get_xaxis_transform(), ha="center",
                     va="bottom", fontsize=FONT_SIZE, color="#d1495b")
    else:
        why = (f"R-hat and ESS need ≥ 2 chains;\nthis posterior has {n_chain or 'no'} "
               f"chain(s) (method: {tree.attrs.get('method', 'unknown')})")
        for axx in (ax_r, ax_e):
            axx.text(0.5, 0.5, why, transform=axx.transAxes, ha="center", va="center",
                     fontsize=FONT_SIZE, color="0.3")
    for axx, xl in ((ax_r, "R-hat"), (ax_e, "bulk ESS")):
        axx.set_yticks(ypos, var_names)
        axx.set_ylim(-0.7, len(var_names) - 0.3)
        axx.set_xlabel(xl)
        style_axes(axx)
    ax_e.tick_params(labelleft=False)

    n_div = _draw_divergences(ax_d, tree)
    if n_div:
        failures["divergences"] = True
    method = tree.attrs.get("method")
    if method and method != "nuts":
        fig.suptitle(f"approximate posterior ({method}): sampler diagnostics do not apply",
                     fontsize=LABEL_SIZE)
    elif failures:
        failed = [k for k, bad in failures.items() if bad]
        fig.suptitle(f"gate FAIL: {', '.join(failed)}" if failed else "gate pass",
                     fontsize=LABEL_SIZE + 1, color="#d1495b" if failed else "#2e933c")
    return fig


def _draw_divergences(ax: Axes, tree: xr.DataTree) -> int | None:
    """Bar chart of divergent transitions per chain; returns the total (None: not recorded)."""
    ss = tree["sample_stats"].to_dataset() if "sample_stats" in tree.children else None
    style_axes(ax)
    if ss is None or "diverging" not in ss.data_vars:
        ax.text(0.5, 0.5, "no divergence\ninformation", transform=ax.transAxes, ha="center",
                va="center", fontsize=FONT_SIZE, color="0.3")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("divergences", fontsize=LABEL_SIZE)
        return None
    div = ss["diverging"].astype(bool)
    if "chain" in div.dims:
        per_chain = div.sum([d for d in div.dims if d != "chain"]).values.astype(int)
        chains = [str(c) for c in div["chain"].values]
    else:
        per_chain = np.array([int(div.sum())])
        chains = ["all"]
    total, n = int(per_chain.sum()), int(div.size)
    color = "#2e933c" if total == 0 else "#d1495b"
    ax.bar(np.arange(per_chain.size), per_chain, color=color, width=0.6)
    ax.set_xticks(np.arange(per_chain.size), chains)
    ax.set_xlabel("chain")
    ax.set_ylabel("divergent transitions")
    ax.set_ylim(0, max(1, per_chain.max()) * 1.25)
    ax.set_title(f"divergences: {total} of {n}", fontsize=LABEL_SIZE, color=color)
    ax.yaxis.get_major_locator().set_params(integer=True)
    return total


# --------------------------------------------------------------------------- overview
def plot_fit_overview(
    result: Any,
    spectrum: str | int = 0,
    *,
    truth: TruthSpec | None = None,
    bands: xr.Dataset | None = None,
    prob: float = 0.95,
) -> Figure:
    """One spectrum's fit on one page: Nyquist, Bode |Z|, DRT and residuals (2 x 2).

    Parameters
    ----------
    result
        A DRT fit result (with ``.tree``) or its DataTree.
    spectrum
        Label or position of the spectrum (default: the first).
    truth, bands
        Passed to :func:`plot_drt`.
    prob
        Mass of the bands.

    Returns
    -------
    matplotlib.figure.Figure
        Titled with the spectrum's label, the fit method and, when the result records them,
        its diagnostics (R-hat max, bulk ESS min, divergences, gate pass / FAIL).
    """
    tree = as_tree(result)
    obs = group_dataset(tree, "observed_data", required=("z_real", "z_imag"))
    if "spectrum" in obs.dims:
        (label,) = select_labels(obs["spectrum"], spectrum)
    else:
        label = None
    fig, axes = new_figure(2, 2, figsize=(10.0, 7.4))
    plot_nyquist(tree, label, ax=axes[0, 0], prob=prob)
    plot_bode(tree, label, ax=axes[0, 1], quantity="modulus", prob=prob, show_legend=False)
    plot_drt(tree, label, ax=axes[1, 0], truth=truth, bands=bands, prob=prob)
    plot_residuals(tree, label, ax=axes[1, 1], prob=prob)
    axes[0, 0].set_title("Nyquist")
    axes[0, 1].set_title("Bode")
    axes[1, 0].set_title("DRT")
    fig.suptitle(_overview_title(tree, label), fontsize=LABEL_SIZE + 1)
    return fig


def _overview_title(tree: xr.DataTree, label: str | None) -> str:
    parts = [label or "spectrum"]
    method = tree.attrs.get("method")
    if method and method != "nuts":
        parts.append(f"approximate posterior ({method})")
    diag = _spectrum_diagnostics(tree, label)
    if diag:
        gate = diag.get("gate_pass")
        bits = []
        if diag.get("rhat_max") is not None:
            bits.append(f"R-hat max {float(diag['rhat_max']):.3f}")
        if diag.get("ess_bulk_min") is not None:
            bits.append(f"ESS min {float(diag['ess_bulk_min']):.0f}")
        if diag.get("divergences") is not None:
            bits.append(f"{int(diag['divergences'])} divergences")
        if gate is not None:
            bits.append("gate pass" if gate else "gate FAIL")
        parts.append(", ".join(bits))
    return "  |  ".join(parts)


def _spectrum_diagnostics(tree: xr.DataTree, label: str | None) -> dict | None:
    """Return the spectrum's entry of the root ``diagnostics`` JSON attr, if recorded."""
    from ..inference.diagnostics import WHOLE_FIT, diagnostics_by_unit

    units = diagnostics_by_unit(tree.attrs.get("diagnostics"))
    if label is not None and str(label) in units:
        return units[str(label)]
    # a fit recorded as one record stands for every spectrum
    return units.get(WHOLE_FIT) if list(units) == [WHOLE_FIT] else None
