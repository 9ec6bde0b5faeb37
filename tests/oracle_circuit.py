"""What the data of the three-process test spectrum say about its diffusion peak, model known.

An oracle for the DRT accuracy tests: the maximum-likelihood fit of the *true* circuit (R_inf,
two ZARCs, a reflective Warburg) with the noise level known, profiled over the position of the
Warburg's first ladder line (log10 of tau_W / pi^2, the DRT's diffusion peak). No estimator can
locate that peak more precisely than this profile allows, so it tells a DRT defect apart from
a noise draw that simply does not determine the peak. Written here because it is a test
instrument for one circuit, not a general equivalent-circuit fitter (impedance.py is one).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from drtbayes import elements as el

# truth of test_drt_fit.case("three_process"): R_inf, (R, log10 tau, alpha) x 2 ZARCs, R_W
_Q_TRUE = np.array([5.0, 8.0, -5.0, 0.9, 30.0, -2.0, 0.8, 25.0])
_LO = [0.0, 0.0, -7.0, 0.3, 0.0, -4.0, 0.3, 0.0]
_HI = [np.inf, np.inf, -3.0, 1.0, np.inf, 0.0, 1.0, np.inf]
TRUE_FIRST_LINE = float(np.log10(100.0 / np.pi**2))  # tau_W = 100 s: first line at 10.1 s
CHI2_95 = 3.841  # chi^2, 1 degree of freedom, 95 %


def _impedance(freq: np.ndarray, q: np.ndarray, first_line: float) -> np.ndarray:
    r_inf, r1, lt1, a1, r2, lt2, a2, r_w = q
    return (r_inf + el.zarc_impedance(freq, r1, 10**lt1, a1)
            + el.zarc_impedance(freq, r2, 10**lt2, a2)
            + el.warburg_reflective_impedance(freq, r_w, 10**first_line * np.pi**2))


def diffusion_profile(freq: np.ndarray, z: np.ndarray, sd_ohm: np.ndarray,
                      grid: np.ndarray | None = None) -> dict:
    """Profile chi^2 of the first ladder line's log10 tau (s) under the true circuit.

    Returns the grid, chi^2 on it, the maximum-likelihood position, the 95 % profile
    interval (an end at the grid's end means unbounded on that side within the grid) and the
    maximum-likelihood R_pol.
    """
    grid = np.arange(0.4, 2.5001, 0.02) if grid is None else np.asarray(grid, dtype=float)

    def resid(q: np.ndarray, u: float) -> np.ndarray:
        d = (_impedance(freq, q, u) - z) / sd_ohm
        return np.r_[d.real, d.imag]

    chi2 = np.full(grid.size, np.nan)
    r_pol = np.full(grid.size, np.nan)
    start = int(np.argmin(np.abs(grid - TRUE_FIRST_LINE)))
    # continuation from the truth outwards: each grid point starts at its neighbour's optimum
    for order in (range(start, grid.size), range(start, -1, -1)):
        q = _Q_TRUE.copy()
        for i in order:
            fit = least_squares(resid, q, bounds=(_LO, _HI), args=(grid[i],), x_scale="jac")
            q = fit.x
            chi2[i] = 2.0 * fit.cost
            r_pol[i] = q[1] + q[4] + q[7] / 3.0
    k = int(np.argmin(chi2))
    inside = grid[chi2 - chi2[k] <= CHI2_95]
    return {"grid": grid, "chi2": chi2, "first_line_ml": float(grid[k]),
            "interval95": (float(inside.min()), float(inside.max())),
            "r_pol_ml": float(r_pol[k])}
