"""Analytic test circuits for the process method, built from ``drtbayes.elements`` only.

The truth of every pulse is the sum over each process's own RC elements (the ZARC discretised
from its analytic DRT, the reflective Warburg's exact ladder) of R_k (1 - exp(-t_p / tau_k)):
what the pulse sees. Nothing here uses the estimator's formulas (``drtbayes.processes``).

Cell algebra: symmetric cell = SE + 2 x cathode; half cell = SE + counter electrode + cathode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drtbayes import elements as el
from drtbayes.io import make_gitt, make_spectrum


@dataclass(frozen=True)
class Circuit:
    """Element values of the cathode at the reference SOC, SE layer and counter electrode."""

    r_se: float = 8.0
    r_ce: float = 2.0
    tau_ce: float = 3e-5
    r_contact: float = 6.0
    tau_contact: float = 1e-5
    r_ct: float = 20.0
    tau_ct: float = 3e-2
    phi_ct: float = 0.85
    r_diff: float = 10.0
    tau_d: float = 100.0
    #: SOC law: R(soc) = R (1 + rise exp(-soc / 10)), tau_ct ~ R_ct^0.5 (as a capacitance would)
    rise: float = 0.0


def values(c: Circuit, soc: float, f_cell: float = 1.0) -> dict:
    """Return the cathode's element values at ``soc`` (one cell's factor ``f_cell``)."""
    g = 1.0 + c.rise * math.exp(-soc / 10.0)
    return {"r_contact": c.r_contact * f_cell, "r_ct": c.r_ct * g * f_cell,
            "tau_ct": c.tau_ct * math.sqrt(g), "r_diff": c.r_diff * g * f_cell,
            "tau_d": c.tau_d}


def cathode(c: Circuit, v: dict) -> el.RCNetwork:
    """Return the cathode: contact RC + ZARC + reflective Warburg (with its capacitor)."""
    # the reflective Warburg's ladder sums to R_W / 3: R_W = 3 R_diff
    return (el.rc(v["r_contact"], c.tau_contact) + el.zarc(v["r_ct"], v["tau_ct"], c.phi_ct)
            + el.warburg_reflective(3.0 * v["r_diff"], v["tau_d"], n_terms=2000))


def spectra(c: Circuit, socs=(0.0, 50.0), cells=(1.0, 1.04), noise=0.002, seed=0,
            f_min=1e-2):
    """Return symmetric-cell spectra (SE + 2 x cathode) of each cell at each SOC."""
    rng = np.random.default_rng(seed)
    f = el.log_frequencies(1e6, f_min, 10)
    out = []
    for soc in socs:
        for k, fc in enumerate(cells):
            net = el.RCNetwork(c.r_se * fc) + cathode(c, values(c, soc, fc)).scaled(2.0)
            z = net.impedance(f)
            z = z * (1 + noise * (rng.normal(size=f.size) + 1j * rng.normal(size=f.size)))
            out.append(make_spectrum(f, z, design="A", cell=f"s{k}", soc=soc))
    return out


def truth(c: Circuit, soc: float, pulse_s: float, f_cell: float = 1.0) -> dict:
    """Return what a pulse of ``pulse_s`` sees of each process (from the elements' ladders)."""
    v = values(c, soc, f_cell)
    wz, tz = el.zarc_ladder(v["r_ct"], v["tau_ct"], c.phi_ct, per_decade=40, decades=8.0)
    _c, rk, tk = el.warburg_reflective_ladder(3.0 * v["r_diff"], v["tau_d"], n_terms=2000)
    r1 = c.r_se + c.r_ce * -math.expm1(-pulse_s / c.tau_ce) + v["r_contact"] * -math.expm1(
        -pulse_s / c.tau_contact)
    r2 = float(np.sum(wz * -np.expm1(-pulse_s / tz)))
    r3 = float(np.sum(rk * -np.expm1(-pulse_s / tk)))
    return {"R1": r1, "R2": r2, "R3": r3, "total": r1 + r2 + r3, "r_diff": v["r_diff"],
            "tau_d": v["tau_d"]}


def gitt(c: Circuit, n_pulses=10, pulse_s=72.0, rest_s=5000.0, current_a=-1.2e-3,
         capacity_mah=0.24, noise_v=1e-4, f_cell=1.02, seed=0):
    """Half-cell GITT from 100 % SOC, each pulse with the network at its middle SOC."""
    rng = np.random.default_rng(seed)
    step_soc = 100.0 * abs(current_a) * pulse_s / 3.6 / capacity_mah
    t, seg, pulses = 600.0, [np.arange(0.0, 600.0, 60.0)], []
    for k in range(n_pulses):
        lp = np.concatenate([[0.0], np.logspace(-3, math.log10(pulse_s), 40)[:-1],
                             np.arange(10.0, pulse_s, 10.0)])
        lr = np.concatenate([[0.0], np.logspace(-3, math.log10(rest_s), 60)[:-1],
                             np.arange(60.0, rest_s, 60.0)])
        seg += [t + lp, t + pulse_s + lr]
        pulses.append((t, t + pulse_s, 100.0 - step_soc * (k + 0.5)))
        t += pulse_s + rest_s
    seg.append(np.array([t]))
    time_s = np.unique(np.round(np.concatenate(seg), 6))
    cur = np.zeros_like(time_s)
    v = np.zeros_like(time_s)
    for ton, toff, soc in pulses:
        cur[(time_s >= ton) & (time_s < toff)] = current_a
        net = (el.RCNetwork(c.r_se) + el.rc(c.r_ce, c.tau_ce)
               + cathode(c, values(c, soc, f_cell)))
        v += net.voltage_response(time_s, [ton, toff], [current_a, 0.0])
    q = np.concatenate([[0.0], np.cumsum(np.diff(time_s) * cur[:-1])])
    soc_t = 100.0 + 100.0 * q / 3.6 / capacity_mah
    v += 3.5 + 0.007 * soc_t + rng.normal(0.0, noise_v, v.size)
    rec = make_gitt(time_s, cur, v, design="A", cell="h1", capacity_mah=capacity_mah)
    return rec, [truth(c, soc, pulse_s, f_cell) | {"soc": soc} for _, _, soc in pulses]
