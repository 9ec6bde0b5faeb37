"""Style helpers shared by every drtbayes figure.

One colour per electrode design everywhere (so that L_SE is the same colour in the DRT, the
split and the SOC figures), axis formatting for tau and frequency, and the reduction of
posterior draws to a median and a central credible band. matplotlib is imported only inside
functions that draw, so importing this module stays cheap.
"""

from __future__ import annotations

import colorsys
import zlib
from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Figure size (in) and resolution of a single-panel report figure.
FIGSIZE: tuple[float, float] = (7.0, 5.0)
DPI: int = 110
#: Smallest font size used anywhere (report figures stay readable at 7 x 5 in).
FONT_SIZE: float = 9.5
LABEL_SIZE: float = 10.5

TAU_LABEL = "τ / s"
FREQUENCY_LABEL = "f / Hz"

#: Colour of each design the paper names; other designs get a stable colour from ``_PALETTE``.
DESIGN_COLORS: dict[str, str] = {
    "L_SE": "#1b6ca8",  # blue
    "S_SE": "#d1495b",  # red
}
_PALETTE: tuple[str, ...] = (
    "#1b6ca8",
    "#d1495b",
    "#2e933c",
    "#8e5ea2",
    "#e0a100",
    "#00a6a6",
    "#6b4226",
    "#4d4d4d",
)
#: Light colours for time-constant process bands, in process order (fast to slow).
PROCESS_COLORS: dict[str, str] = {
    "contact": "#f2c14e",
    "charge_transfer": "#7fb685",
    "diffusion": "#9fb7d9",
}
_PROCESS_FALLBACK: tuple[str, ...] = ("#f2c14e", "#7fb685", "#9fb7d9", "#e5a0c6", "#c9c9c9")

SAMPLE_DIMS: tuple[str, ...] = ("chain", "draw")


# --------------------------------------------------------------------------- colours
def design_color(design: Hashable) -> str:
    """Return the colour of an electrode design (the same in every drtbayes figure).

    Parameters
    ----------
    design
        Design label, e.g. ``"L_SE"``.

    Returns
    -------
    str
        A hex colour; designs not in :data:`DESIGN_COLORS` get a colour from a fixed palette
        chosen by a CRC32 of the name, so it does not change between runs or processes.
    """
    name = str(design)
    if name in DESIGN_COLORS:
        return DESIGN_COLORS[name]
    return _PALETTE[zlib.crc32(name.encode("utf-8")) % len(_PALETTE)]


def shade(color: str, position: float) -> str:
    """Return a lighter or darker variant of ``color``.

    Parameters
    ----------
    color
        Any matplotlib colour.
    position
        -1 (darkest) .. 0 (unchanged) .. +1 (lightest).
    """
    from matplotlib.colors import to_hex, to_rgb

    h, lightness, s = colorsys.rgb_to_hls(*to_rgb(color))
    position = float(np.clip(position, -1.0, 1.0))
    if position >= 0:
        lightness = lightness + (0.82 - lightness) * position
    else:
        lightness = lightness * (1.0 + 0.55 * position)
    return to_hex(colorsys.hls_to_rgb(h, lightness, s))


def member_colors(designs: Sequence[Hashable]) -> list[str]:
    """Colours for several items (spectra, groups) labelled by design.

    Items of one design share its hue; when a design has several items their lightness is
    spread so they can still be told apart.
    """
    designs = [str(d) for d in designs]
    out: list[str] = []
    for i, d in enumerate(designs):
        same = [j for j, e in enumerate(designs) if e == d]
        k, n = same.index(i), len(same)
        pos = 0.0 if n == 1 else -0.6 + 1.2 * k / (n - 1)
        out.append(shade(design_color(d), pos))
    return out


def process_color(process: str, index: int = 0) -> str:
    """Light fill colour of a time-constant process band."""
    return PROCESS_COLORS.get(process, _PROCESS_FALLBACK[index % len(_PROCESS_FALLBACK)])


# --------------------------------------------------------------------------- axes
def new_axes(ax: Axes | None = None, figsize: tuple[float, float] = FIGSIZE) -> Axes:
    """Return ``ax``, or a fresh Axes on a new figure (no pyplot state beyond that figure)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, dpi=DPI, layout="constrained")
    return fig.add_subplot()


def new_figure(
    nrows: int, ncols: int, figsize: tuple[float, float] = FIGSIZE, **kw: Any
) -> tuple[Figure, np.ndarray]:
    """Make a new constrained-layout figure with an (nrows, ncols) array of Axes."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        nrows, ncols, figsize=figsize, dpi=DPI, layout="constrained", squeeze=False, **kw
    )
    return fig, axes


def style_axes(ax: Axes) -> None:
    """Readable tick and label sizes and a light grid."""
    ax.tick_params(labelsize=FONT_SIZE)
    ax.xaxis.label.set_size(LABEL_SIZE)
    ax.yaxis.label.set_size(LABEL_SIZE)
    ax.title.set_size(LABEL_SIZE)
    ax.grid(True, which="major", color="0.88", linewidth=0.7)
    ax.set_axisbelow(True)


def format_tau_axis(ax: Axes, axis: str = "x") -> None:
    """Log scale and the label ``τ / s`` on the tau axis."""
    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlabel(TAU_LABEL)
    else:
        ax.set_yscale("log")
        ax.set_ylabel(TAU_LABEL)
    style_axes(ax)


def format_frequency_axis(ax: Axes, axis: str = "x") -> None:
    """Log scale and the label ``f / Hz`` on the frequency axis."""
    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlabel(FREQUENCY_LABEL)
    else:
        ax.set_yscale("log")
        ax.set_ylabel(FREQUENCY_LABEL)
    style_axes(ax)


def plain_log_ticks(axis: Any) -> None:
    """Label a log axis with plain numbers (20, 50, 100) instead of 2x10^1 and the like.

    Minor ticks at 2 and 5 times a power of ten are labelled only when the axis spans less
    than two decades, where the major ticks alone would leave it nearly unlabelled. An axis
    spanning less than one decade (an R1 curve between 2.1 and 4.9 ohm) may hold no power of
    ten, nor a 2 or a 5, at all: under a factor 3 it gets evenly spaced plain ticks (3, 3.5,
    4, ...), under a decade ticks at 1, 2, 3 and 5 times powers of ten (or every integer
    mantissa where those are fewer than three).
    The choice is made at draw time, from the final view limits.
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullLocator

    class _Major(LogLocator):
        def tick_values(self, vmin: float, vmax: float) -> Any:
            lo, hi = sorted((vmin, vmax))
            if lo > 0 and hi / lo < 3.0:
                return MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
            if lo > 0 and hi / lo < 10.0:
                # 1-2-3-5 per decade reads evenly on a log axis (35-290 ohm: 50, 100, 200)
                for subs in ((1, 2, 3, 5), tuple(range(1, 10))):
                    k = np.arange(np.floor(np.log10(lo)) - 1, np.ceil(np.log10(hi)) + 1)
                    ticks = np.sort(np.outer(10.0**k, subs).ravel())
                    if np.count_nonzero((ticks >= lo) & (ticks <= hi)) >= 3:
                        break
                return ticks
            return super().tick_values(vmin, vmax)

    class _Minor(LogLocator):
        def tick_values(self, vmin: float, vmax: float) -> Any:
            lo, hi = sorted((vmin, vmax))
            if lo > 0 and hi / lo < 10.0:
                return NullLocator().tick_values(lo, hi)
            return super().tick_values(vmin, vmax)

    def major(value: float, _pos: int) -> str:
        return f"{value:g}"

    def minor(value: float, _pos: int) -> str:
        lo, hi = axis.get_view_interval()
        if lo <= 0 or hi / lo >= 100.0:
            return ""
        mantissa = value / 10.0 ** np.floor(np.log10(value) + 1e-9)
        return f"{value:g}" if np.isclose(mantissa, 2.0) or np.isclose(mantissa, 5.0) else ""

    axis.set_major_locator(_Major(base=10.0))
    axis.set_minor_locator(_Minor(base=10.0, subs=np.arange(2, 10)))
    axis.set_major_formatter(FuncFormatter(major))
    axis.set_minor_formatter(FuncFormatter(minor))


def legend(ax: Axes, handles: list | None = None, **kw: Any) -> Any:
    """Draw a legend with readable fonts, placed where it hides the least data."""
    opts: dict[str, Any] = {"fontsize": FONT_SIZE, "framealpha": 0.85, "loc": "best"}
    opts.update(kw)
    if handles is not None:
        return ax.legend(handles=handles, **opts)
    return ax.legend(**opts)


# --------------------------------------------------------------------------- data access
def as_tree(result: Any) -> xr.DataTree:
    """Return the DataTree of a result object (anything with ``.tree``) or a DataTree itself.

    Raises
    ------
    DataError
        When ``result`` is neither.
    """
    tree = getattr(result, "tree", result)
    if not isinstance(tree, xr.DataTree):
        raise DataError(
            f"expected a drtbayes fit result (with a .tree DataTree) or an xarray DataTree, got "
            f"{type(result).__name__}; pass the object fit_drt() or drtbayes.load() returned"
        )
    return tree


def group_dataset(tree: xr.DataTree, group: str, *, required: Sequence[str] = ()) -> xr.Dataset:
    """One group of a result tree as a Dataset, checking that the variables needed exist."""
    if group not in tree.children:
        raise DataError(
            f"the result has no {group!r} group (groups: {sorted(tree.children)}); it was not "
            f"produced by fit_drt, or it was saved without that group"
        )
    ds = tree[group].to_dataset()
    missing = [v for v in required if v not in ds.data_vars]
    if missing:
        raise DataError(
            f"the {group!r} group lacks {missing} (has {sorted(ds.data_vars)}); refit with "
            f"drtbayes.fit_drt to get a complete result"
        )
    return ds


def sample_dims(da: xr.DataArray | xr.Dataset) -> tuple[str, ...]:
    """Return the posterior-sample dims of ``da``: ``('chain', 'draw')``, or ``('sample',)``."""
    if all(d in da.dims for d in SAMPLE_DIMS):
        return SAMPLE_DIMS
    if "sample" in da.dims:
        return ("sample",)
    raise DataError(
        f"{getattr(da, 'name', 'variable')!r} has dims {tuple(da.dims)} but no posterior sample "
        f"dims ('chain', 'draw') or ('sample',)"
    )


def flat_samples(da: xr.DataArray) -> xr.DataArray:
    """``da`` with its sample dims merged into one leading dim ``sample``."""
    dims = sample_dims(da)
    if dims == ("sample",):
        return da.transpose("sample", ...)
    return da.stack(sample=dims).transpose("sample", ...)


def median_band(
    da: xr.DataArray, prob: float = 0.95
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Median and central ``prob`` interval over the posterior-sample dims.

    Parameters
    ----------
    da
        Draws over ``('chain', 'draw')`` or ``'sample'`` (plus any other dims).
    prob
        Mass of the central interval (0.95: the 2.5 % and 97.5 % quantiles).

    Returns
    -------
    median, lower, upper
        DataArrays without the sample dims. NaN draws are ignored; a point where every draw
        is NaN stays NaN.
    """
    if not 0.0 < prob < 1.0:
        raise DataError(f"prob must lie in (0, 1), got {prob}")
    dims = list(sample_dims(da))
    q = [0.5, (1.0 - prob) / 2.0, (1.0 + prob) / 2.0]
    qs = da.quantile(q, dim=dims, skipna=True)
    med, lo, hi = (qs.isel(quantile=i, drop=True) for i in range(3))
    return med, lo, hi


def select_labels(
    coord: xr.DataArray, which: str | int | Sequence[str | int] | None, *, dim: str = "spectrum"
) -> list[str]:
    """Labels of ``dim`` picked by label, position or a list of them (None: all).

    Raises
    ------
    DataError
        For a label that does not exist or a position out of range; the message lists the
        available labels.
    """
    labels = [str(v) for v in coord.values]
    if which is None:
        return labels
    items = [which] if isinstance(which, str | int | np.integer) else list(which)
    out: list[str] = []
    for item in items:
        if isinstance(item, bool):
            raise DataError(f"{dim} must be a label or an integer position, got {item!r}")
        if isinstance(item, int | np.integer):
            if not -len(labels) <= int(item) < len(labels):
                raise DataError(
                    f"{dim} position {item} is out of range: the result has {len(labels)} "
                    f"{dim}(s): {labels}"
                )
            out.append(labels[int(item)])
        elif str(item) in labels:
            out.append(str(item))
        else:
            raise DataError(
                f"{dim} {item!r} is not in the result; available {dim} labels: {labels}"
            )
    return out


def coord_da(ds: xr.Dataset | xr.DataArray, name: str, dim: str) -> xr.DataArray | None:
    """Coordinate ``name`` along ``dim``, or ``{dim}_{name}`` (e.g. ``group_design``).

    The contract names the group coords ``design`` and ``soc``, but in one Dataset those names
    are taken by the spectrum coords, so a fit may store them as ``group_design`` /
    ``group_soc``; both spellings are read.
    """
    for key in (name, f"{dim}_{name}"):
        if key in ds.coords and ds[key].dims == (dim,):
            return ds[key]
    return None


def coord_values(
    ds: xr.Dataset | xr.DataArray, name: str, dim: str, default: str = ""
) -> list[str]:
    """Return the string values of coordinate ``name`` along ``dim`` (``default`` if absent)."""
    da = coord_da(ds, name, dim)
    if da is None:
        return [default] * ds.sizes[dim]
    return [str(v) for v in da.values]
