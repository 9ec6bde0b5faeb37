"""The SOC model's spline basis, its random-walk-2 prior map and the cell contrasts (numpy)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PresetError

__all__ = ["Basis", "make_basis", "rw2_matrix", "soc_grid", "zero_sum_basis", "cell_centering"]

@dataclass(frozen=True)
class Basis:
    """A B-spline basis over SOC, in u = sqrt(SOC) (denser knots at low SOC) or SOC itself."""

    knots: np.ndarray  # in transformed coordinate u
    degree: int
    spacing: str
    soc_lo: float
    soc_hi: float

    def u(self, soc: np.ndarray) -> np.ndarray:
        """Return the basis coordinate of SOC values (clipped to the basis range)."""
        soc = np.clip(np.asarray(soc, dtype=float), self.soc_lo, self.soc_hi)
        return np.sqrt(np.maximum(soc, 0.0)) if self.spacing == "sqrt" else soc

    def matrix(self, soc: np.ndarray) -> np.ndarray:
        """Return the (n_soc, n_basis) design matrix of the B-splines at ``soc``."""
        from scipy.interpolate import BSpline

        u = self.u(soc)
        return BSpline.design_matrix(u, self.knots, self.degree).toarray()

    @property
    def n_basis(self) -> int:
        """Number of basis functions."""
        return len(self.knots) - self.degree - 1

    def greville(self) -> np.ndarray:
        """Greville abscissae, scaled to [-0.5, 0.5] (coefficients = g give a straight line)."""
        p = self.degree
        g = np.array([self.knots[j + 1 : j + p + 1].mean() for j in range(self.n_basis)])
        return (g - g.min()) / (g.max() - g.min()) - 0.5


def make_basis(soc_lo: float, soc_hi: float, spline_cfg: dict) -> Basis:
    """Return the basis of a preset's ``[spline]`` table over the measured SOC range (percent)."""
    n_basis = int(spline_cfg.get("n_basis", 20))
    degree = int(spline_cfg.get("degree", 3))
    spacing = str(spline_cfg.get("knot_spacing", "sqrt"))
    if spacing not in ("sqrt", "linear"):
        raise PresetError(f"preset [spline] knot_spacing={spacing!r}; use 'sqrt' or 'linear'")
    if n_basis < degree + 3:
        raise PresetError(f"preset [spline] n_basis={n_basis}; needs at least degree + 3")
    lo = max(soc_lo, 0.0)
    f = np.sqrt if spacing == "sqrt" else (lambda x: x)
    inner = np.linspace(f(lo), f(soc_hi), n_basis - degree + 1)
    knots = np.concatenate([[inner[0]] * degree, inner, [inner[-1]] * degree])
    return Basis(knots=knots, degree=degree, spacing=spacing, soc_lo=lo, soc_hi=soc_hi)


def rw2_matrix(greville: np.ndarray) -> np.ndarray:
    """Map ``J-2`` second differences to ``J`` coefficients, level and trend projected out."""
    n = len(greville)
    c2 = np.zeros((n, n - 2))
    for i in range(n - 2):
        # a unit second difference at position i+2 gives a ramp 1, 2, 3, ... after it
        c2[i + 2 :, i] = np.arange(1, n - i - 1)
    x = np.column_stack([np.ones(n), greville])
    proj = np.eye(n) - x @ np.linalg.solve(x.T @ x, x.T)
    return proj @ c2


def soc_grid(lo: float, hi: float, step: float) -> np.ndarray:
    """SOC values (percent) at multiples of ``step`` inside [lo, hi] (at least the two ends)."""
    start = np.ceil(lo / step - 1e-9) * step
    stop = np.floor(hi / step + 1e-9) * step
    grid = np.arange(start, stop + step / 2, step)
    if grid.size < 2:
        grid = np.array([lo, hi])
    return np.round(grid, 6)


def zero_sum_basis(cell_design_idx: np.ndarray, n_design: int) -> np.ndarray:
    """Return an orthonormal basis of the cell offsets that sum to zero within each design.

    Shape (cell, n_cell - n_design), Helmert contrasts: ``H @ w`` has covariance
    ``sd**2 * centering``.
    """
    n_cell = cell_design_idx.size
    cols = []
    for d in range(n_design):
        cells = np.flatnonzero(cell_design_idx == d)
        if cells.size > 1:
            q, _ = np.linalg.qr(np.eye(cells.size) - 1.0 / cells.size)
            block = np.zeros((n_cell, cells.size - 1))
            block[cells] = q[:, :cells.size - 1]
            cols.append(block)
    return np.hstack(cols) if cols else np.zeros((n_cell, 0))


def cell_centering(cell_design_idx: np.ndarray) -> np.ndarray:
    """Projection removing each design's mean from its cells (block ``I - 11'/n``)."""
    n = len(cell_design_idx)
    same = cell_design_idx[:, None] == cell_design_idx[None, :]
    n_in = same.sum(axis=1)
    return np.eye(n) - same / n_in[:, None]
