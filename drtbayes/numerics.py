"""Numerical kernels used by several models and analyses, each written once (plain numpy).

Every function here works on arrays, not on Datasets, and imports nothing from drtbayes above
:mod:`drtbayes.conventions`; the models and analyses wrap them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cumulative_trapezoid", "parabolic_offset", "find_crossings", "cluster_crossings",
           "hdi", "interp_soc", "soc_bracket", "derive_seed", "derive_rng", "spawn_rngs"]


def cumulative_trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cumulative trapezoid integral of ``y`` over ``x`` along the last axis, starting at 0.

    Parameters
    ----------
    y
        (..., n) values.
    x
        (n,) increasing abscissae (e.g. ln tau).

    Returns
    -------
    numpy.ndarray
        (..., n): entry ``i`` is the integral from ``x[0]`` to ``x[i]``.

    Notes
    -----
    Written out rather than ``scipy.integrate.cumulative_trapezoid`` so that the sums are
    formed in the order the saved results were computed with (same numbers to the last bit).
    """
    y = np.asarray(y, dtype=float)
    steps = 0.5 * (y[..., 1:] + y[..., :-1]) * np.diff(np.asarray(x, dtype=float))
    zero = np.zeros((*y.shape[:-1], 1))
    return np.concatenate([zero, np.cumsum(steps, axis=-1)], axis=-1)


def parabolic_offset(y0: np.ndarray | float, y1: np.ndarray | float, y2: np.ndarray | float
                     ) -> np.ndarray:
    """Vertex of the parabola through (-1, y0), (0, y1), (1, y2), in grid steps from the middle.

    Parameters
    ----------
    y0, y1, y2
        Values at three equally spaced points (arrays broadcast).

    Returns
    -------
    numpy.ndarray
        Offset clipped to [-0.5, 0.5] (the vertex stays in the middle point's cell); 0 where
        the three points are collinear. The caller checks the curvature's sign (a minimum
        needs ``y0 - 2 y1 + y2 > 0``, a maximum ``< 0``).
    """
    y0, y1, y2 = (np.asarray(v, dtype=float) for v in (y0, y1, y2))
    den = y0 - 2 * y1 + y2
    safe = np.where(den != 0, den, 1.0)
    return np.where(den != 0, np.clip(0.5 * (y0 - y2) / safe, -0.5, 0.5), 0.0)


def find_crossings(diff: np.ndarray, soc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sign changes of each row of ``diff`` over ``soc``, located by linear interpolation.

    Parameters
    ----------
    diff
        (n_draws, n_soc) difference of two curves.
    soc
        (n_soc,) increasing SOC grid.

    Returns
    -------
    draw_index, soc_crossing
        One entry per crossing: the row it belongs to and its SOC.
    """
    diff = np.asarray(diff, dtype=float)
    soc = np.asarray(soc, dtype=float)
    positive = diff >= 0.0  # an exact zero counts with the positives: no double counting
    change = positive[:, 1:] != positive[:, :-1]
    rows, cols = np.nonzero(change)
    d0 = diff[rows, cols]
    d1 = diff[rows, cols + 1]
    frac = np.divide(d0, d0 - d1, out=np.zeros_like(d0), where=(d0 - d1) != 0)
    loc = soc[cols] + frac * (soc[cols + 1] - soc[cols])
    return rows, loc


def cluster_crossings(
    soc_crossing: np.ndarray,
    *,
    soc_range: tuple[float, float],
    bandwidth: float | None = None,
    valley_ratio: float = 0.3,
) -> np.ndarray:
    """Group crossing locations pooled over draws into clusters (modes of their density).

    A Gaussian kernel density of the locations is cut at its local minima; neighbouring
    segments are merged back unless the valley between them falls below ``valley_ratio`` of
    the smaller of the two peaks (so sampling noise does not split one broad mode).

    Parameters
    ----------
    soc_crossing
        Crossing SOC values (percent), any number per draw.
    soc_range
        Measured SOC range; sets the default bandwidth (2 % of the range, at least 1 % SOC).
    bandwidth
        Kernel bandwidth in % SOC.
    valley_ratio
        Depth a valley must reach, relative to the smaller neighbouring peak, to separate modes.

    Returns
    -------
    np.ndarray
        Cluster label (0, 1, ... in increasing SOC) of each crossing.
    """
    x = np.asarray(soc_crossing, dtype=float)
    if x.size == 0:
        return np.zeros(0, dtype=int)
    lo, hi = soc_range
    h = bandwidth if bandwidth is not None else max(1.0, 0.02 * (hi - lo))
    grid = np.linspace(min(lo, x.min()) - 3 * h, max(hi, x.max()) + 3 * h, 2000)
    # density via a binned convolution: O(grid) regardless of the number of draws
    step = grid[1] - grid[0]
    counts, _ = np.histogram(x, bins=np.append(grid - step / 2, grid[-1] + step / 2))
    half = int(np.ceil(4 * h / step))
    kern = np.exp(-0.5 * ((np.arange(-half, half + 1) * step) / h) ** 2)
    dens = np.convolve(counts, kern, mode="same")
    # segments between local minima of the density
    interior = np.nonzero((dens[1:-1] < dens[:-2]) & (dens[1:-1] <= dens[2:]))[0] + 1
    cuts = list(interior)
    changed = True
    while changed and cuts:
        changed = False
        edges = [0, *cuts, len(grid) - 1]
        for i, c in enumerate(cuts):
            left_peak = dens[edges[i] : c + 1].max()
            right_peak = dens[c : edges[i + 2] + 1].max()
            if dens[c] >= valley_ratio * min(left_peak, right_peak):
                cuts.pop(i)
                changed = True
                break
    boundaries = grid[cuts] if cuts else np.zeros(0)
    return np.searchsorted(boundaries, x).astype(int)


def hdi(values: np.ndarray, prob: float = 0.95) -> list[float]:
    """Highest-density interval of a sample (``arviz_stats.hdi``), with its edge cases fixed.

    Parameters
    ----------
    values
        Sample (any shape; non-finite entries are dropped).
    prob
        Probability mass of the interval.

    Returns
    -------
    list of float
        ``[lo, hi]``; ``[nan, nan]`` without finite values; ``[min, max]`` for fewer than 3
        values or a constant sample (where ArviZ's interval is undefined).
    """
    import arviz_stats as azs

    x = np.asarray(values, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return [float("nan"), float("nan")]
    if x.size < 3 or np.ptp(x) == 0:
        return [float(x.min()), float(x.max())]
    lo, hi = np.asarray(azs.hdi(x, prob=prob), dtype=float).ravel()[:2]
    return [float(lo), float(hi)]


def interp_soc(soc_points: np.ndarray, values: np.ndarray, soc: float | np.ndarray,
               *, policy: str = "interpolate") -> np.ndarray:
    """Values given at measured SOCs, read at other SOCs (clamped outside the measured range).

    Parameters
    ----------
    soc_points
        (n,) measured SOCs (percent, any order, no duplicates).
    values
        (n, ...) values at those SOCs.
    soc
        SOC (percent) or SOCs to read at.
    policy
        ``"interpolate"`` (linear in SOC, the end values outside) or ``"nearest"``.

    Returns
    -------
    numpy.ndarray
        (..., ) for a scalar ``soc``, (m, ...) for m SOCs.
    """
    pts = np.asarray(soc_points, dtype=float)
    vals = np.asarray(values, dtype=float)
    order = np.argsort(pts)
    pts, vals = pts[order], vals[order]
    at = np.atleast_1d(np.asarray(soc, dtype=float))
    if policy == "nearest":
        out = vals[np.argmin(np.abs(pts[None, :] - at[:, None]), axis=1)]
    elif policy == "interpolate":
        flat = vals.reshape(pts.size, -1)
        out = np.stack([np.interp(at, pts, flat[:, j]) for j in range(flat.shape[1])], axis=-1)
        out = out.reshape((at.size, *vals.shape[1:]))
    else:
        raise ValueError(f"policy {policy!r}: use 'interpolate' or 'nearest'")
    return out[0] if np.ndim(soc) == 0 else out


def soc_bracket(soc_sorted: np.ndarray, soc: float) -> tuple[int, int, float]:
    """Return the two measured SOCs around ``soc`` and the weight of the upper one (clamped).

    The one rule by which values measured at some SOCs are carried to another SOC: linear
    between the two nearest, the end value outside the measured range. Tables that pair draw
    i at one SOC with draw i at the next (bands, process fits) use it on their own arrays;
    :func:`interp_soc` is the same rule for plain arrays.

    Parameters
    ----------
    soc_sorted
        (n,) measured SOCs (percent), increasing; repeated SOCs give the lower one's value.
    soc
        SOC (percent) to read at.

    Returns
    -------
    j, k, w
        Indices of the lower and upper SOC and the weight of ``k``: a value at ``soc`` is
        ``(1 - w) * v[j] + w * v[k]``. With one measured SOC, ``(0, 0, 0.0)``.
    """
    m = np.asarray(soc_sorted, dtype=float)
    if m.size == 1:
        return 0, 0, 0.0
    s = float(np.clip(soc, m[0], m[-1]))
    j = int(np.clip(np.searchsorted(m, s) - 1, 0, m.size - 2))
    gap = m[j + 1] - m[j]
    return j, j + 1, float((s - m[j]) / gap) if gap > 0 else 0.0


def derive_seed(seed: int, *keys: int) -> int:
    """Return the seed of one unit of work (a group, a component, a pulse) from the run's seed.

    Parameters
    ----------
    seed
        The run's seed.
    *keys
        The unit's integer keys (its index, a constant naming the stream).

    Returns
    -------
    int
        ``SeedSequence([seed, *keys])``'s first 32-bit word: independent streams for different
        keys, the same for the same keys, whatever the order the units run in.
    """
    return int(np.random.SeedSequence([int(seed), *(int(k) for k in keys)]).generate_state(1)[0])


def derive_rng(seed: int, *keys: int) -> np.random.Generator:
    """Return the random stream of one unit of work, keyed like :func:`derive_seed`.

    Parameters
    ----------
    seed
        The run's seed.
    *keys
        The unit's integer keys.

    Returns
    -------
    numpy.random.Generator
        ``default_rng(SeedSequence([seed, *keys]))``: the whole sequence seeds the stream (not
        only its first word, as a seed passed on to a sampler is).
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), *(int(k) for k in keys)]))


def spawn_rngs(seed: int, n: int, *keys: int) -> list[np.random.Generator]:
    """Return ``n`` independent random streams spawned from ``seed``, in order.

    Parameters
    ----------
    seed
        The run's seed.
    n
        Number of streams (one per record, cell, ...).
    *keys
        Integer keys of the family of streams (spawned from ``SeedSequence([seed, *keys])``).

    Returns
    -------
    list of numpy.random.Generator
        ``default_rng`` of each child of ``SeedSequence(seed).spawn(n)``: stream ``i`` depends
        only on ``seed`` and ``i``, not on how many streams are taken after it.
    """
    root = (np.random.SeedSequence([int(seed), *(int(k) for k in keys)]) if keys
            else np.random.SeedSequence(seed))
    return [np.random.default_rng(s) for s in root.spawn(int(n))]
