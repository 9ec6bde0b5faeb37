"""Simulated GITT splits with a known crossover: ground truth for the SOC model and its tests."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import __version__
from ..conventions import COMPONENTS
from ..numerics import find_crossings

__all__ = ["simulate_split"]

def _true_log_r(soc: np.ndarray, crossover_soc: float | None) -> dict[str, dict[str, np.ndarray]]:
    """Design-level true log R (ohm) of the simulated designs 'a' (first) and 'b' (second)."""
    s = np.asarray(soc, dtype=float)
    if crossover_soc is None:
        g2 = np.full_like(s, -0.30)
        g3 = np.full_like(s, -0.25)
    else:
        # a above b below the crossover, below it above: a smooth sign change at crossover_soc
        g2 = 0.35 * np.tanh((crossover_soc - s) / 10.0)
        g3 = 0.30 * np.tanh((crossover_soc - s) / 12.0)
    r1_b = np.log(3.0) + 0.25 * np.exp(-s / 10.0)
    r2_b = np.log(8.0) + 1.6 * np.exp(-s / 7.0) + 0.4 * ((s - 50.0) / 50.0) ** 2
    r3_b = np.log(5.0) + 1.2 * np.exp(-s / 12.0)
    b = {"R1": r1_b, "R2": r2_b, "R3": r3_b}
    a = {"R1": r1_b + np.log(0.8), "R2": r2_b + g2, "R3": r3_b + g3}
    for d in (a, b):
        d["total"] = np.log(np.exp(d["R1"]) + np.exp(d["R2"]) + np.exp(d["R3"]))
    return {"a": a, "b": b}


# over 80 lines by its docstring (the body, ~60 lines, is one simulation loop)
def simulate_split(
    *,
    seed: int = 0,
    crossover_soc: float | None = 20.0,
    designs: tuple[str, str] = ("L_SE", "S_SE"),
    n_cells_per_design: int = 2,
    n_pulses: int = 100,
    n_samples: int = 200,
    soc_range: tuple[float, float] = (1.0, 99.0),
    cell_sd: float = 0.03,
    extra_sd: float = 0.02,
) -> tuple[xr.Dataset, dict]:
    """Simulate a two-design GITT split with a known crossover of R2 and R3.

    True design curves (log ohm) rise steeply at low SOC; design ``designs[0]`` has higher R2
    and R3 than ``designs[1]`` below ``crossover_soc`` and lower above it (``None``: lower at
    every SOC, no crossing), and 20 % lower R1 everywhere; ``total`` is the sum. Each cell adds
    an offset ~ N(0, ``cell_sd``) per component; each pulse's split posterior is log-normal
    with a width drawn per component (R1 3-8 %, R2 5-20 %, R3 15-40 %, total 2 %) and a center
    scattered around the truth by that width plus ``extra_sd``, as a calibrated posterior is.

    Parameters
    ----------
    seed
        Random seed.
    crossover_soc
        True crossover SOC of R2 and R3 (percent), or None for designs that never cross.
    designs
        Labels of design a and design b.
    n_cells_per_design, n_pulses, n_samples
        Replicate cells per design, pulses per cell, posterior draws per pulse.
    soc_range
        Pulse SOC range (percent); pulses run from high to low SOC as in a GITT discharge.
    cell_sd, extra_sd
        Cell-offset sd and extra pulse scatter, natural-log units.

    Returns
    -------
    split, truth
        ``split``: Dataset in the split layout (``resistance`` (pulse, component, sample)).
        ``truth``: ``{"soc": grid, "log_r": {design: {component: array}}, "crossings":
        {component: [SOC, ...]}}`` for the design-level curves.
    """
    rng = np.random.default_rng(seed)
    lo, hi = soc_range
    fine = np.round(np.arange(lo, hi + 1e-9, 0.01), 6)
    true_fine = _true_log_r(fine, crossover_soc)
    true_crossings = {}
    for comp in COMPONENTS:
        _, loc = find_crossings((true_fine["a"][comp] - true_fine["b"][comp])[None, :], fine)
        true_crossings[comp] = [float(x) for x in loc]

    res_blocks, soc_all, des_all, cell_all = [], [], [], []
    width_rng = {"R1": (0.03, 0.08), "R2": (0.05, 0.20), "R3": (0.15, 0.40), "total": (0.02, 0.02)}
    for di, design in enumerate(designs):
        key = "a" if di == 0 else "b"
        for ci in range(n_cells_per_design):
            soc = np.linspace(hi, lo, n_pulses) + rng.uniform(-0.3, 0.3, n_pulses)
            soc = np.clip(soc, lo, hi)
            truth = _true_log_r(soc, crossover_soc)[key]
            offs = {c: rng.normal(0.0, cell_sd) for c in COMPONENTS[:3]}
            cell_true = {c: truth[c] + offs[c] for c in COMPONENTS[:3]}
            cell_true["total"] = np.log(sum(np.exp(cell_true[c]) for c in COMPONENTS[:3]))
            block = np.empty((n_pulses, len(COMPONENTS), n_samples))
            for k, comp in enumerate(COMPONENTS):
                w = rng.uniform(*width_rng[comp], n_pulses)
                center = cell_true[comp] + rng.normal(0.0, 1.0, n_pulses) * np.sqrt(
                    w**2 + extra_sd**2
                )
                block[:, k, :] = np.exp(
                    center[:, None] + w[:, None] * rng.standard_normal((n_pulses, n_samples))
                )
            res_blocks.append(block)
            soc_all.append(soc)
            des_all += [design] * n_pulses
            cell_all += [f"{design}-c{ci + 1}"] * n_pulses
    resistance = np.concatenate(res_blocks, axis=0)
    n_total = resistance.shape[0]
    split = xr.Dataset(
        {"resistance": (("pulse", "component", "sample"), resistance)},
        coords={
            "pulse": np.arange(n_total),
            "component": list(COMPONENTS),
            "sample": np.arange(n_samples),
            "soc": ("pulse", np.concatenate(soc_all)),
            "design": ("pulse", np.array(des_all)),
            "cell": ("pulse", np.array(cell_all)),
            "t_start": ("pulse", np.arange(n_total) * 3600.0),
        },
        attrs={
            "drtbayes_kind": "split",
            "drtbayes_version": __version__,
            "simulated": 1,
            "seed": int(seed),
            "crossover_soc_true": -1.0 if crossover_soc is None else float(crossover_soc),
        },
    )
    split["resistance"].attrs["units"] = "ohm"
    truth = {
        "soc": fine,
        "log_r": {designs[0]: true_fine["a"], designs[1]: true_fine["b"]},
        "crossings": true_crossings,
    }
    return split, truth
