"""The vectorised peak finder of the DRT summary gives the per-draw loop's numbers to the bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.signal import find_peaks

from drtbayes.drt.result import _draw_peaks, _stat, find_peak_clusters


def _loop_peak_clusters(gamma_draws: np.ndarray, tau_s: np.ndarray, *,
                        rel_prominence: float = 0.05, cluster_width_decades: float = 0.5,
                        min_probability: float = 0.5) -> list[dict[str, Any]]:
    """The draw-by-draw implementation that ``find_peak_clusters`` replaced (reference)."""
    ln_tau = np.log(np.asarray(tau_s, dtype=float))
    pos_l, r_l, d_l = [], [], []
    for d, g in enumerate(np.asarray(gamma_draws, dtype=float)):
        p, r = _draw_peaks(g, ln_tau, rel_prominence)
        pos_l.append(p)
        r_l.append(r)
        d_l.append(np.full(p.size, d))
    n_draws = len(pos_l)
    if n_draws == 0:
        return []
    pos, res, drw = np.concatenate(pos_l), np.concatenate(r_l), np.concatenate(d_l)
    if pos.size == 0:
        return []
    lt = ln_tau / np.log(10.0)
    edges = np.arange(lt[0] - 0.025, lt[-1] + 0.05, 0.05)
    hist, _ = np.histogram(pos, bins=edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    ker = np.exp(-0.5 * (np.arange(-6, 7) * 0.05 / 0.1) ** 2)
    smooth = np.convolve(hist, ker / ker.sum(), mode="same")
    modes, _ = find_peaks(np.pad(smooth, 1), prominence=0.02 * n_draws)
    modes = centres[modes - 1]
    if modes.size == 0:
        return []
    nearest = np.argmin(np.abs(pos[:, None] - modes[None, :]), axis=1)
    near_ok = np.abs(pos - modes[nearest]) <= cluster_width_decades / 2
    out = []
    for k in range(modes.size):
        sel = near_ok & (nearest == k)
        if not sel.any():
            continue
        best: dict[int, tuple[float, float]] = {}
        for p, r, d in zip(pos[sel], res[sel], drw[sel], strict=True):
            if d not in best or r > best[d][1]:
                best[int(d)] = (p, r)
        prob = len(best) / n_draws
        if prob <= min_probability:
            continue
        ps = np.array([v[0] for v in best.values()])
        rs = np.array([v[1] for v in best.values()])
        out.append({"tau_s": _stat(10.0 ** ps), "r_ohm": _stat(rs),
                    "probability": round(prob, 4), "log10_tau_median": float(np.median(ps))})
    out.sort(key=lambda c: c["log10_tau_median"])
    for c in out:
        c.pop("log10_tau_median")
    return out


def _draws(seed: int, n_draws: int = 600, n_tau: int = 62) -> tuple[np.ndarray, np.ndarray]:
    """Random DRT-like draws: 1-4 log-normal peaks, multiplicative noise, some odd rows."""
    rng = np.random.default_rng(seed)
    tau = np.logspace(-8, 2.3, n_tau)
    lt = np.log10(tau)
    g = np.zeros((n_draws, n_tau))
    for _ in range(4):
        on = rng.random(n_draws) < 0.8
        c = rng.uniform(-6, 1, n_draws)
        w = rng.uniform(0.1, 0.8, n_draws)
        h = rng.lognormal(0, 1, n_draws)
        g += on[:, None] * h[:, None] * np.exp(-0.5 * ((lt - c[:, None]) / w[:, None]) ** 2)
    g *= rng.lognormal(0, 0.15, g.shape)
    g[::97] = 0.0                       # a flat zero draw: no peaks
    g[5, 10:14] = g[5, 10:14].max()     # a plateau
    g[7, :] = np.linspace(0, 1, n_tau)  # a maximum at the grid end only
    g[11, 3] = np.nan                   # a non-finite draw: no peaks
    g[13, 30:33] = g[13, 31]            # a plateau at a peak
    return g, tau


@pytest.mark.parametrize("seed", range(6))
def test_all_draw_peaks_matches_the_loop(seed: int) -> None:
    from drtbayes.drt.result import _all_draw_peaks

    g, tau = _draws(seed)
    ln_tau = np.log(tau)
    for rel in (0.0, 0.05, 0.3):
        pos, res, drw = _all_draw_peaks(g, ln_tau, rel)
        ref = [_draw_peaks(row, ln_tau, rel) for row in g]
        np.testing.assert_array_equal(pos, np.concatenate([p for p, _ in ref]))
        np.testing.assert_array_equal(res, np.concatenate([r for _, r in ref]))
        np.testing.assert_array_equal(
            drw, np.concatenate([np.full(p.size, d) for d, (p, _) in enumerate(ref)]))


@pytest.mark.parametrize("seed", range(6))
def test_find_peak_clusters_matches_the_loop(seed: int) -> None:
    g, tau = _draws(seed)
    for kw in ({}, {"min_probability": 0.1}, {"rel_prominence": 0.2,
                                              "cluster_width_decades": 1.0}):
        assert find_peak_clusters(g, tau, **kw) == _loop_peak_clusters(g, tau, **kw)


def test_find_peak_clusters_edge_cases() -> None:
    tau = np.logspace(-3, 1, 30)
    assert find_peak_clusters(np.zeros((0, 30)), tau) == []
    assert find_peak_clusters(np.zeros((5, 30)), tau) == []
    g = np.exp(-0.5 * ((np.log10(tau) + 1) / 0.3) ** 2)[None].repeat(8, 0)
    assert find_peak_clusters(g, tau) == _loop_peak_clusters(g, tau)
