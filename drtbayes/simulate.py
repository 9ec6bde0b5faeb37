"""Synthetic two-design studies with a known answer (symmetric-cell EIS + half-cell GITT).

Both kinds of record are generated from one set of analytic elements per cell and SOC
(:mod:`drtbayes.elements`), so the spectra and the GITT transients agree by construction:

* cathode impedance at SOC ``s``: contact RC (tau ~ 1e-5 s) + charge-transfer ZARC
  (tau ~ 1e-2 s, alpha 0.8, resistance R2(s)) + reflective finite Warburg (DC resistance R3(s),
  tau_D ~ 100 s; exactly a capacitor plus an RC ladder); the contact RC and the Warburg ladder
  are spread log-normally over tau (0.25 decade sd: contact spots and particles of a range of
  sizes), as in a real composite cathode rather than an ideal circuit;
* symmetric cell (EIS): R_SE + 2 x Z_cathode;
* half cell (GITT): R_SE + Z_cathode + a small fast counter-electrode RC; the Warburg's series
  capacitor is replaced by the OCV curve (coulomb counting), which is the same physics: the
  bulk OCV change caused by the charge passed.

Designs follow the paper: ``L_SE`` (large SE particles) has the higher ionic conductivity and so
the lower R2 and R3 at mid SOC, but loses active-material contact at low SOC, where its R2 and R3
rise more steeply and cross those of ``S_SE`` at ``crossover_soc``. R1 (ohmic + contact) is the
same for both designs.

The truth written to ``truth.json`` is the estimand of the GITT split: for a pulse of length
t_p, R_j = sum of the half-cell RC resistances with tau in band j, each weighted by its
development at the end of the pulse (1 - exp(-t_p / tau_k)), and R_inf counted in R1; the band
edges are the minima of the true symmetric-cell DRT between the process peaks.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import xarray as xr

from . import elements as el
from ._atomic import atomic_write_text, check_writable
from .conventions import COMPONENTS
from .errors import ValueRangeError
from .numerics import find_crossings, spawn_rngs

DESIGNS = ("L_SE", "S_SE")
EIS_SOCS = (50.0, 0.0)
#: Width (decades, sd) of the log-normal kernel that turns the RC ladder into a smooth "true"
#: DRT: the resolution a regularised DRT fit has; it only matters for the band edges.
TRUE_DRT_SMOOTHING_DEC = 0.25


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class DesignParams:
    """SOC laws of one electrode design (resistances in ohm, per cathode of 0.785 cm2).

    R(s) = base * (1 + rise * exp(-s / soc_scale) + high * ((s - 50) / 50)^2): a minimum near
    mid SOC, a steep rise at low SOC (loss of contact / lithiated particles) and a mild rise at
    high SOC.
    """

    name: str
    r2_base_ohm: float
    r2_rise: float
    r3_base_ohm: float
    r3_rise: float
    soc_scale_pct: float = 8.0
    high_soc_rise: float = 0.3


@dataclass(frozen=True)
class CommonParams:
    """Parameters shared by both designs (R1 is alike for both, as in the paper)."""

    r_se_ohm: float = 8.0
    r_contact_ohm: float = 6.0
    contact_rise: float = 0.3
    tau_contact_s: float = 1e-5
    r_ce_ohm: float = 2.0
    tau_ce_s: float = 3e-5
    tau_ct_ref_s: float = 1e-2
    alpha_ct: float = 0.8
    tau_d_ref_s: float = 100.0
    #: tau scales with resistance**kappa (capacitances roughly fixed): tau_ct ~ R2^0.5.
    tau_kappa: float = 0.5
    capacity_mah: float = 2.4
    area_cm2: float = 0.785
    cell_sd: float = 0.03
    #: log-normal spread (decades, sd) of the contact and diffusion time constants: contact
    #: spots and active-material particles come in a range of sizes (tau_D ~ r^2), so neither
    #: is an ideal RC or a single Warburg ladder in a real composite cathode
    contact_spread_dec: float = 0.25
    diffusion_spread_dec: float = 0.25


@dataclass(frozen=True)
class CellParams:
    """One cell: its design and its multiplicative deviations from the design (a few %)."""

    design: str
    cell: str
    f_se: float = 1.0
    f_contact: float = 1.0
    f_r2: float = 1.0
    f_r3: float = 1.0


def _law(base: float, rise: float, scale: float, high: float, soc: np.ndarray) -> np.ndarray:
    s = np.asarray(soc, dtype=float)
    return base * (1.0 + rise * np.exp(-s / scale) + high * ((s - 50.0) / 50.0) ** 2)


def design_params(crossover_soc: float = 20.0) -> dict[str, DesignParams]:
    """Return the two designs (L_SE's low-SOC rise solved so R2, R3 cross at ``crossover_soc``)."""
    if not 3.0 <= crossover_soc <= 45.0:
        raise ValueRangeError(
            f"crossover_soc={crossover_soc!r}: the simulator places the crossover between 3 % "
            "and 45 % SOC (above that the low-SOC rise it needs is unphysically steep)"
        )
    s_se = DesignParams("S_SE", r2_base_ohm=20.0, r2_rise=4.0, r3_base_ohm=10.0, r3_rise=3.0)
    base_ratio = 0.7  # L_SE: 30 % lower R2/R3 at mid SOC (higher ionic conductivity)
    e = math.exp(-crossover_soc / s_se.soc_scale_pct)
    h = s_se.high_soc_rise * ((crossover_soc - 50.0) / 50.0) ** 2

    def rise_l(rise_s: float) -> float:
        return ((1.0 + rise_s * e + h) / base_ratio - 1.0 - h) / e

    l_se = DesignParams("L_SE", r2_base_ohm=base_ratio * s_se.r2_base_ohm,
                        r2_rise=rise_l(s_se.r2_rise), r3_base_ohm=base_ratio * s_se.r3_base_ohm,
                        r3_rise=rise_l(s_se.r3_rise))
    return {"L_SE": l_se, "S_SE": s_se}


@dataclass(frozen=True)
class ElementValues:
    """The element values of one cathode at one SOC."""

    r_contact_ohm: float
    tau_contact_s: float
    r2_ohm: float
    tau_ct_s: float
    alpha_ct: float
    r3_ohm: float
    tau_d_s: float


def element_values(dp: DesignParams, cp: CommonParams, soc: float,
                   cell: CellParams | None = None) -> ElementValues:
    """Element values of a cathode of design ``dp`` (and ``cell``'s deviations) at ``soc``."""
    c = cell or CellParams(dp.name, "design")
    r2_0 = dp.r2_base_ohm
    r3_0 = dp.r3_base_ohm
    r2 = float(_law(r2_0, dp.r2_rise, dp.soc_scale_pct, dp.high_soc_rise, soc)) * c.f_r2
    r3 = float(_law(r3_0, dp.r3_rise, dp.soc_scale_pct, dp.high_soc_rise, soc)) * c.f_r3
    rc_ = cp.r_contact_ohm * (1.0 + cp.contact_rise * math.exp(-soc / 10.0)) * c.f_contact
    return ElementValues(
        r_contact_ohm=rc_, tau_contact_s=cp.tau_contact_s,
        r2_ohm=r2, tau_ct_s=cp.tau_ct_ref_s * (r2 / r2_0) ** cp.tau_kappa, alpha_ct=cp.alpha_ct,
        r3_ohm=r3, tau_d_s=cp.tau_d_ref_s * (r3 / r3_0) ** cp.tau_kappa,
    )


def cathode_network(ev: ElementValues, *, with_capacitor: bool = True,
                    cp: CommonParams | None = None) -> el.RCNetwork:
    """Cathode: contact RC + ZARC + reflective Warburg (DC resistance ``r3_ohm``).

    The contact RC and the Warburg ladder are spread log-normally over tau by ``cp``'s
    ``contact_spread_dec`` and ``diffusion_spread_dec`` (a distribution of contact spots and
    particle sizes).
    """
    # the reflective Warburg's ladder sums to R_W / 3, so R_W = 3 R3 gives R3 as DC resistance
    cp = CommonParams() if cp is None else cp
    w = _spread(el.warburg_reflective(3.0 * ev.r3_ohm, ev.tau_d_s, n_terms=400),
                cp.diffusion_spread_dec)
    if not with_capacitor:
        w = replace(w, c_series_f=None)
    contact = _spread(el.rc(ev.r_contact_ohm, ev.tau_contact_s), cp.contact_spread_dec)
    return contact + el.zarc(ev.r2_ohm, ev.tau_ct_s, ev.alpha_ct, per_decade=40,
                             decades=8.0) + w


def _spread(net: el.RCNetwork, width_dec: float, n_nodes: int = 9) -> el.RCNetwork:
    """Every RC element of ``net`` spread log-normally over tau (sd ``width_dec`` decades).

    Gauss-Hermite nodes keep each element's resistance and its mean ln tau; the series
    capacitor, R_inf and L are unchanged.
    """
    if width_dec <= 0 or net.r_k_ohm.size == 0:
        return net
    x, w = _hermite_nodes(n_nodes)
    r = (net.r_k_ohm[:, None] * w[None, :]).ravel()
    log_tau = (np.log10(net.tau_k_s)[:, None] + width_dec * x[None, :]).ravel()
    # the spread 400-term Warburg ladder has 3600 elements, most of them within a hair of each
    # other (the high terms are dense in log tau); merging those within 0.01 decade (resistance
    # summed, tau at the resistance-weighted mean log tau) keeps ~1000 and makes the GITT
    # simulation and the true-DRT computations 3-4x faster; every tau moves by <= 0.005 decade
    key = np.round(log_tau / 0.01).astype(np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    r_sum = np.bincount(inv, weights=r, minlength=uniq.size)
    lt = np.bincount(inv, weights=r * log_tau, minlength=uniq.size) / r_sum
    return replace(net, r_k_ohm=r_sum, tau_k_s=10.0 ** lt)


@functools.lru_cache(maxsize=8)
def _hermite_nodes(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite (probabilists') nodes and normalised weights."""
    x, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    return x, w / w.sum()


def symmetric_network(ev: ElementValues, cp: CommonParams, f_se: float = 1.0) -> el.RCNetwork:
    """Symmetric cell: R_SE + 2 Z_cathode (EIS)."""
    return el.RCNetwork(cp.r_se_ohm * f_se) + cathode_network(ev, cp=cp).scaled(2.0)


def half_cell_network(ev: ElementValues, cp: CommonParams, f_se: float = 1.0) -> el.RCNetwork:
    """Half cell without the series capacitor (GITT overpotential against the bulk OCV)."""
    return (el.RCNetwork(cp.r_se_ohm * f_se) + el.rc(cp.r_ce_ohm, cp.tau_ce_s)
            + cathode_network(ev, with_capacitor=False, cp=cp))


def ocv_v(soc: np.ndarray | float) -> np.ndarray:
    """NCM-like open-circuit voltage (V) against SOC (%): 3.5 V at 0 %, 4.2 V at 100 %."""
    x = np.asarray(soc, dtype=float) / 100.0
    return 3.5 + 0.58 * x + 0.12 * (1.0 - np.exp(-x / 0.06)) / (1.0 - math.exp(-1.0 / 0.06))


# --------------------------------------------------------------------------- true DRT, bands
def smoothed_drt(net: el.RCNetwork, tau_s: np.ndarray,
                 width_dec: float = TRUE_DRT_SMOOTHING_DEC) -> np.ndarray:
    """DRT (ohm per unit ln tau) of an RC network, each element a log-normal of ``width_dec``."""
    ln_t = np.log(np.asarray(tau_s, dtype=float))
    return el.gaussian_mixture_density(ln_t, np.log(net.tau_k_s), net.r_k_ohm,
                                       width_dec * math.log(10.0))


def true_band_edges(ev: ElementValues, cp: CommonParams, *, method: str = "minima") -> np.ndarray:
    """Band edges (s) between contact | charge transfer | diffusion of the true symmetric DRT.

    ``minima``: the minimum of the smoothed true DRT between consecutive process peaks (the
    definition the bands module applies to a fit); ``midpoints``: log-midpoints of the peaks.
    """
    peaks = np.array([ev.tau_contact_s, ev.tau_ct_s, ev.tau_d_s / math.pi**2])
    if method == "midpoints":
        return np.sqrt(peaks[:-1] * peaks[1:])
    if method != "minima":
        raise ValueError(f"method={method!r}; use 'minima' or 'midpoints'")
    grid = np.logspace(-7, 3, 401)
    g = smoothed_drt(symmetric_network(ev, cp), grid)
    edges = []
    for lo, hi in zip(peaks[:-1], peaks[1:], strict=True):
        sel = (grid > lo) & (grid < hi)
        edges.append(grid[sel][np.argmin(g[sel])])
    return np.array(edges)


def split_truth(ev: ElementValues, cp: CommonParams, pulse_s: float, f_se: float = 1.0,
                edges_s: np.ndarray | None = None) -> dict[str, float]:
    """Return the GITT-split (band) estimand for one pulse: R1, R2, R3, total (ohm).

    R_j = sum over half-cell RC elements with tau in band j of R_k (1 - exp(-pulse_s/tau_k));
    R_inf is in R1; total = R1 + R2 + R3 = end-of-pulse polarisation / current.
    """
    net = half_cell_network(ev, cp, f_se)
    edges = true_band_edges(ev, cp) if edges_s is None else np.asarray(edges_s)
    w = -np.expm1(-pulse_s / net.tau_k_s)
    weighted = el.RCNetwork(net.r_inf_ohm, net.r_k_ohm * w, net.tau_k_s)
    r = weighted.band_resistance(np.concatenate([[0.0], edges, [np.inf]]))
    r[0] += net.r_inf_ohm
    return {"R1": float(r[0]), "R2": float(r[1]), "R3": float(r[2]), "total": float(r.sum())}


def _crossing(soc: np.ndarray, a: np.ndarray, b: np.ndarray) -> float | None:
    """SOC where a - b changes sign (linear interpolation; the lowest-SOC crossing)."""
    d = np.asarray(a) - np.asarray(b)
    # curves that are alike within 1 % (R1 here) have no meaningful crossing
    if np.max(np.abs(d) / np.abs(np.asarray(b))) < 0.01:
        return None
    order = np.argsort(soc)
    _, loc = find_crossings(d[order][None, :], np.asarray(soc)[order])
    return float(loc.min()) if loc.size else None


# --------------------------------------------------------------------------- GITT
@dataclass(frozen=True)
class GittProtocol:
    """GITT schedule: discharge pulses from 100 % SOC after a CC/CV charge."""

    n_pulses: int = 100
    soc_step_pct: float = 1.0
    c_rate: float = 0.5
    rest_s: float = 5000.0
    charge_c_rate: float = 0.1
    charge_start_soc: float = 90.0
    cv_tau_s: float = 1200.0
    cv_end_fraction: float = 0.2
    rest_after_charge_s: float = 3600.0
    initial_rest_s: float = 600.0
    first_sample_s: float = 1e-3
    log_per_decade: int = 10
    period_pulse_s: float = 10.0
    period_rest_s: float = 60.0
    noise_v: float = 1e-4

    @property
    def pulse_s(self) -> float:
        """Pulse length: ``soc_step_pct`` of the capacity at ``c_rate``."""
        return self.soc_step_pct / 100.0 * 3600.0 / self.c_rate


def _segment_times(t0: float, length: float, period: float, first: float,
                   per_decade: int) -> np.ndarray:
    """Instrument-like sample times in [t0, t0 + length): t0, log-spaced from ``first``, regular."""
    if length <= first:
        return np.array([t0])
    n_dec = math.log10(length / first)
    log_t = np.logspace(math.log10(first), math.log10(length), int(n_dec * per_decade) + 1)
    reg = np.arange(period, length, period)
    t = np.unique(np.round(np.concatenate([[0.0], log_t[log_t < length], reg]), 9))
    return t0 + t


def _horizon_s(net: el.RCNetwork, d_i_a: float, duration_s: float,
               tol_v: float = 1e-9) -> float:
    """Time after a zero-sum group of current steps beyond which its response is below ``tol_v``.

    Bound used: sum_k R_k |I| min(1, D / tau_k) exp(-t / tau_k) for a group of length D. The far
    tail of the ZARC ladder (tau up to 1e6 s, R ~ 1e-8 ohm) would otherwise make every pulse's
    response span the whole record; ``tol_v`` is 1e5 times below the noise.
    """
    cand = np.logspace(-3, 9, 241)
    amp = net.r_k_ohm * d_i_a * np.minimum(1.0, duration_s / net.tau_k_s)

    def small(j: int) -> bool:
        return float((amp * np.exp(-cand[j] / net.tau_k_s)).sum()) < tol_v

    # the bound falls with t: bisect for the first candidate below tol_v
    if not small(cand.size - 1):
        return float(cand[-1])
    lo, hi = -1, cand.size - 1          # small(hi) holds, small(lo) does not (lo = -1: none)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if small(mid):
            hi = mid
        else:
            lo = mid
    return float(cand[hi])


def simulate_gitt(cell: CellParams, dp: DesignParams, cp: CommonParams, proto: GittProtocol,
                  rng: np.random.Generator) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Simulate one half-cell GITT record.

    Returns
    -------
    record
        ``time_s``, ``current_a``, ``voltage_v`` arrays.
    pulses
        Per pulse: ``t_start``, ``t_end``, ``soc`` (middle), ``current_a``.
    """
    return gitt_record(
        lambda soc: half_cell_network(element_values(dp, cp, soc, cell), cp, cell.f_se),
        cp.capacity_mah, proto, rng)


def gitt_record(network_at_soc: Callable[[float], el.RCNetwork], capacity_mah: float,
                proto: GittProtocol, rng: np.random.Generator,
                ocv: Callable[[np.ndarray], np.ndarray] | None = None,
                ) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Simulate a half-cell GITT record from any SOC-dependent half-cell network.

    Parameters
    ----------
    network_at_soc
        ``network_at_soc(soc) -> RCNetwork``: the half cell's overpotential network at an SOC
        (%), without the series capacitor (the bulk OCV change is the OCV curve's). The charge
        block uses the network at 95 % SOC, each pulse the network at its middle SOC.
    capacity_mah
        Capacity for coulomb counting.
    proto
        The schedule and the voltage noise.
    rng
        Generator of the voltage noise.
    ocv
        OCV curve ``ocv(soc) -> V`` (default :func:`ocv_v`).

    Returns
    -------
    record
        ``time_s``, ``current_a``, ``voltage_v`` arrays.
    pulses
        Per pulse: ``t_start``, ``t_end``, ``soc`` (middle), ``current_a``.
    """
    # Over 80 lines: one schedule (charge, CV steps, pulses), its sampling and its exact
    # superposition, which read as one protocol; the docstring is a third of it.
    ocv = ocv_v if ocv is None else ocv
    cap_c = capacity_mah * 3.6
    i_chg = proto.charge_c_rate * capacity_mah * 1e-3
    i_pulse = -proto.c_rate * capacity_mah * 1e-3
    # CV: current decays as i_chg exp(-t/T) until cv_end_fraction * i_chg, passed in 60 s steps
    cv_len = -proto.cv_tau_s * math.log(proto.cv_end_fraction)
    cv_steps = np.arange(0.0, cv_len, 60.0)
    cv_edges = np.append(cv_steps, cv_len)
    cv_q = i_chg * proto.cv_tau_s * (np.exp(-cv_edges[:-1] / proto.cv_tau_s)
                                     - np.exp(-cv_edges[1:] / proto.cv_tau_s))
    cv_i = cv_q / np.diff(cv_edges)
    q_cc = cap_c * (100.0 - proto.charge_start_soc) / 100.0 - cv_q.sum()
    cc_len = q_cc / i_chg

    # segments: (start, length, current, sampling period, network soc)
    segs: list[tuple[float, float, float, float]] = []
    t = 0.0
    segs.append((t, proto.initial_rest_s, 0.0, proto.period_rest_s))
    t += proto.initial_rest_s
    segs.append((t, cc_len, i_chg, proto.period_rest_s))
    t += cc_len
    for a, b, i in zip(cv_edges[:-1], cv_edges[1:], cv_i, strict=True):
        segs.append((t + a, b - a, float(i), proto.period_rest_s))
    t += cv_len
    segs.append((t, proto.rest_after_charge_s, 0.0, proto.period_rest_s))
    t += proto.rest_after_charge_s
    pulses = []
    soc = 100.0
    for _ in range(proto.n_pulses):
        pulses.append({"t_start": t, "t_end": t + proto.pulse_s,
                       "soc": soc - proto.soc_step_pct / 2, "current_a": i_pulse})
        segs.append((t, proto.pulse_s, i_pulse, proto.period_pulse_s))
        t += proto.pulse_s
        segs.append((t, proto.rest_s, 0.0, proto.period_rest_s))
        t += proto.rest_s
        soc -= proto.soc_step_pct

    # samples: log-spaced only after real steps (not after the small CV decrements)
    times = []
    for k, (t0, length, i, period) in enumerate(segs):
        big_step = k == 0 or abs(i - segs[k - 1][2]) > 0.2 * max(abs(i), abs(segs[k - 1][2]))
        if big_step:
            times.append(_segment_times(t0, length, period, proto.first_sample_s,
                                        proto.log_per_decade))
        else:
            times.append(np.array([t0]))
    # the files store microseconds: round first so that no two samples share a time stamp
    time_s = np.unique(np.round(np.concatenate(times + [np.array([t])]), 6))
    starts = np.array([s[0] for s in segs])
    seg_idx = np.clip(np.searchsorted(starts, time_s, side="right") - 1, 0, len(segs) - 1)
    current = np.array([segs[k][2] for k in seg_idx])
    current[time_s >= t] = 0.0

    # SOC by exact coulomb counting; 100 % at the end of the CV step
    seg_q_before = np.concatenate([[0.0], np.cumsum([s[1] * s[2] for s in segs])])
    q_t = seg_q_before[seg_idx] + (time_s - starts[seg_idx]) * current
    q_t[time_s >= t] = seg_q_before[-1]
    q_ref = seg_q_before[3 + len(cv_i)]  # end of the CV (start of the rest after the charge)
    soc_t = 100.0 + 100.0 * (q_t - q_ref) / cap_c
    v = ocv(soc_t)

    # overpotential: the charge block and each pulse are groups of steps that start and end at
    # zero current, so their summed response decays after the group ends; each group uses the
    # network at its SOC and is evaluated until it has decayed far below the noise
    charge_net = network_at_soc(95.0)
    n_charge = 1 + len(cv_i)  # CC + CV steps (segment 0 is the initial rest)
    groups = [(charge_net, segs[1:1 + n_charge])]
    for k, p in enumerate(pulses):
        net = network_at_soc(p["soc"])
        groups.append((net, segs[2 + n_charge + 2 * k: 3 + n_charge + 2 * k]))
    for net, gsegs in groups:
        steps = [g[0] for g in gsegs] + [gsegs[-1][0] + gsegs[-1][1]]
        currents = [g[2] for g in gsegs] + [0.0]
        i_max = max(abs(c) for c in currents)
        horizon = _horizon_s(net, i_max, steps[-1] - steps[0])
        sel = (time_s >= steps[0]) & (time_s < steps[-1] + horizon)
        v[sel] += net.voltage_response(time_s[sel], steps, currents)
    v = v + rng.normal(0.0, proto.noise_v, v.size)
    return {"time_s": time_s, "current_a": current, "voltage_v": v}, pulses


# --------------------------------------------------------------------------- study
def _cells(n_per_design: int, cp: CommonParams, rng: np.random.Generator) -> list[CellParams]:
    cells = []
    for design in ("S_SE", "L_SE"):
        for k in range(n_per_design):
            f = np.exp(rng.normal(0.0, cp.cell_sd, 4))
            cells.append(CellParams(design, f"{design[0]}{k + 1}", *map(float, f)))
    return cells


def _csv(header: str, cols: list[np.ndarray], fmts: list[str]) -> str:
    lines = [header]
    fmt = ",".join(fmts)
    lines.extend(fmt % row for row in zip(*cols, strict=True))
    return "\n".join(lines) + "\n"


# over 80 lines: the files of one study (EIS, GITT, study.toml, truth.json) are written in one pass
# from the same cells and random streams, whose order fixes the numbers
def simulate_study(
    outdir: str | Path,
    *,
    seed: int = 0,
    crossover_soc: float = 20.0,
    n_cells_per_design: int = 2,
    n_pulses: int = 100,
    fast: bool = False,
    force: bool = False,
) -> Path:
    """Write a synthetic two-design study with its ground truth.

    Parameters
    ----------
    outdir
        Folder to write into (created): ``study.toml``, ``eis/{cell}_soc{soc}.csv``,
        ``gitt/{cell}.csv``, ``truth.json``.
    seed
        Seed of the cell-to-cell variation and of the noise (same seed, same files).
    crossover_soc
        SOC (%) where the R2 and R3 laws of L_SE and S_SE cross (3-45 %).
    n_cells_per_design
        Replicate cells per design.
    n_pulses
        Number of 1 % discharge pulses from 100 % SOC (at most 100).
    fast
        A small study for CI: pulses of 5 % SOC (360 s at 0.5 C), 1500 s rests, at most 20
        pulses, a shorter rest after the charge.
    force
        Overwrite existing files.

    Returns
    -------
    Path
        The path of ``study.toml``.
    """
    out = Path(outdir)
    files = [out / "study.toml", out / "truth.json"]
    for f in files:
        check_writable(f, force=force)
    if n_cells_per_design < 1:
        raise ValueRangeError(f"n_cells_per_design={n_cells_per_design!r}: need at least 1")
    step = 5.0 if fast else 1.0
    max_pulses = int(round(100.0 / step))
    if not 1 <= n_pulses:
        raise ValueRangeError(f"n_pulses={n_pulses!r}: need at least 1")
    n_p = min(n_pulses, max_pulses)
    proto = GittProtocol(n_pulses=n_p, soc_step_pct=step, rest_s=1500.0 if fast else 5000.0,
                         rest_after_charge_s=1800.0 if fast else 3600.0)
    cp = CommonParams()
    designs = design_params(crossover_soc)
    rng_cells, *rng_rec = spawn_rngs(seed, 1 + 8 * n_cells_per_design)
    cells = _cells(n_cells_per_design, cp, rng_cells)

    pulse_soc = [100.0 - step * (k + 0.5) for k in range(n_p)]
    freq = el.log_frequencies(1e6, 1e-2, 10)
    cell_entries = []
    truth_cells: dict[str, dict] = {}
    k_rng = 0
    for c in cells:
        dp = designs[c.design]
        eis_entries = []
        for soc in EIS_SOCS:
            ev = element_values(dp, cp, soc, c)
            z = symmetric_network(ev, cp, c.f_se).impedance(freq)
            r = rng_rec[k_rng]
            k_rng += 1
            sd = 0.01 * np.abs(z)
            z = z + sd * r.normal(size=z.size) + 1j * sd * r.normal(size=z.size)
            name = f"eis/{c.cell}_soc{soc:g}.csv"
            text = _csv("frequency_hz,z_real_ohm,z_imag_ohm", [freq, z.real, z.imag],
                        ["%.6e", "%.8e", "%.8e"])
            atomic_write_text(out / name, text, force=force)
            eis_entries.append({"file": name, "soc": soc})
        rec, _pulses = simulate_gitt(c, dp, cp, proto, rng_rec[k_rng])
        k_rng += 1
        gname = f"gitt/{c.cell}.csv"
        text = _csv("time_s,current_a,voltage_v",
                    [rec["time_s"], rec["current_a"], rec["voltage_v"]],
                    ["%.6f", "%.9e", "%.8f"])
        atomic_write_text(out / gname, text, force=force)
        cell_entries.append((c, gname, eis_entries))
        curves = [split_truth(element_values(dp, cp, s, c), cp, proto.pulse_s, c.f_se)
                  for s in pulse_soc]
        truth_cells[c.cell] = {
            "design": c.design,
            "factors": {k: v for k, v in asdict(c).items() if k.startswith("f_")},
            **{comp: [cv[comp] for cv in curves] for comp in COMPONENTS},
        }

    truth = _design_truth(designs, cp, proto, pulse_soc)
    truth.update({
        "seed": seed,
        "fast": fast,
        "pulse_soc": pulse_soc,
        "pulse_s": proto.pulse_s,
        "cells": truth_cells,
        "parameters": {
            "common": asdict(cp),
            "designs": {k: asdict(v) for k, v in designs.items()},
            "protocol": asdict(proto),
            "crossover_soc_parameter": crossover_soc,
            "eis": {"f_max_hz": 1e6, "f_min_hz": 1e-2, "per_decade": 10,
                    "noise": "1 % of |Z| on real and imaginary parts", "cell_type": "symmetric"},
            "true_drt_smoothing_dec": TRUE_DRT_SMOOTHING_DEC,
        },
    })
    atomic_write_text(out / "truth.json", json.dumps(truth, indent=1), force=force)
    atomic_write_text(out / "study.toml", _study_toml(cell_entries, cp, crossover_soc, seed),
                      force=force)
    return out / "study.toml"


def _design_truth(designs: dict[str, DesignParams], cp: CommonParams, proto: GittProtocol,
                  pulse_soc: list[float]) -> dict:
    """Design-level truth: curves on the pulse SOCs, band edges, crossovers."""
    out: dict = {"band_edges_method": "minima of the smoothed true symmetric-cell DRT between "
                 "process peaks", "designs": {}}
    fine = np.linspace(0.5, 99.5, 199)
    fine_curves = {}
    max_rel = 0.0
    for name, dp in designs.items():
        evs = [element_values(dp, cp, s) for s in pulse_soc]
        curves = [split_truth(ev, cp, proto.pulse_s) for ev in evs]
        mids = [split_truth(ev, cp, proto.pulse_s, edges_s=true_band_edges(ev, cp,
                                                                           method="midpoints"))
                for ev in evs]
        for a, b, s in zip(curves, mids, pulse_soc, strict=True):
            if 10 <= s <= 90:
                max_rel = max(max_rel, *(abs(a[k] - b[k]) / a[k] for k in ("R1", "R2", "R3")))
        out["designs"][name] = {
            **{comp: [cv[comp] for cv in curves] for comp in COMPONENTS},
            "band_edges_tau_s": [true_band_edges(ev, cp).tolist() for ev in evs],
            "band_edges_at_eis_soc": {f"{s:g}": true_band_edges(element_values(dp, cp, s),
                                                                cp).tolist()
                                      for s in EIS_SOCS},
        }
        fc = [split_truth(element_values(dp, cp, s), cp, proto.pulse_s) for s in fine]
        fine_curves[name] = {comp: np.array([cv[comp] for cv in fc]) for comp in COMPONENTS}
    out["edge_choice_max_rel_diff_10_90"] = max_rel
    out["compare"] = {"a": "L_SE", "b": "S_SE"}
    out["crossover_soc"] = {
        comp: _crossing(fine, fine_curves["L_SE"][comp], fine_curves["S_SE"][comp])
        for comp in COMPONENTS
    }
    return out


def _study_toml(cell_entries: list, cp: CommonParams, crossover_soc: float, seed: int) -> str:
    lines = [
        "# Synthetic study written by drtbayes.simulate_study; ground truth in truth.json",
        "[study]",
        f'name = "Simulated L_SE vs S_SE (crossover {crossover_soc:g} %, seed {seed})"',
        f"capacity_mah = {cp.capacity_mah}",
        f"area_cm2 = {cp.area_cm2}",
        "",
        "[compare]",
        'a = "L_SE"',
        'b = "S_SE"',
    ]
    for c, gname, eis in cell_entries:
        eis_txt = ", ".join(f'{{ file = "{e["file"]}", soc = {e["soc"]:g} }}' for e in eis)
        lines += ["", "[[cells]]", f'design = "{c.design}"', f'cell = "{c.cell}"',
                  f'gitt = "{gname}"', f"eis = [{eis_txt}]"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- synthetic DRT
# over 80 lines: one synthetic posterior built group by group, then its Dataset literal
def synthetic_drt_tree(
    study_dir: str | Path,
    *,
    n_chains: int = 2,
    n_draws: int = 100,
    tau_s: np.ndarray | None = None,
    shift_sd_dec: float = 0.03,
    amp_sd: float = 0.05,
    seed: int = 0,
) -> xr.DataTree:
    """Return a DRT-fit-shaped DataTree whose draws scatter around the true symmetric DRTs.

    Stands in for a real fit in tests and benchmarks of the bands and the split: posterior
    ``gamma`` (chain, draw, spectrum, tau) per simulated spectrum and ``gamma_group`` (chain,
    draw, group, tau) per (design, soc), plus ``r_inf``. Each draw shifts the true DRT in log tau
    by N(0, ``shift_sd_dec``) decades and multiplies it by a smooth random factor with sd
    ``amp_sd``.
    """
    study_dir = Path(study_dir)
    truth = json.loads((study_dir / "truth.json").read_text(encoding="utf-8"))
    par = truth["parameters"]
    cp = CommonParams(**par["common"])
    designs = {k: DesignParams(**v) for k, v in par["designs"].items()}
    tau = np.logspace(-8, 3, 111) if tau_s is None else np.asarray(tau_s, dtype=float)
    rng = np.random.default_rng(seed)
    ln_tau = np.log(tau)

    def draws(net: el.RCNetwork, n: int) -> np.ndarray:
        out = np.empty((n, tau.size))
        for i in range(n):
            shift = rng.normal(0.0, shift_sd_dec)
            g = smoothed_drt(net, tau * 10.0 ** (-shift))
            ph = rng.uniform(0, 2 * np.pi, 3)
            fr = rng.uniform(0.2, 0.6, 3)
            smooth = sum(np.cos(f * ln_tau + p)
                         for f, p in zip(fr, ph, strict=True)) / math.sqrt(1.5)
            out[i] = g * np.exp(amp_sd * smooth)
        return out

    n = n_chains * n_draws
    spec_g, spec_lab, spec_design, spec_cell = [], [], [], []
    spec_soc, spec_group, r_inf_s = [], [], []
    for cname, c in truth["cells"].items():
        cellp = CellParams(c["design"], cname, **c["factors"])
        for soc in EIS_SOCS:
            net = symmetric_network(element_values(designs[c["design"]], cp, soc, cellp), cp,
                                    cellp.f_se)
            spec_g.append(draws(net, n))
            spec_lab.append(f"{c['design']}/{cname}/soc{soc:g}")
            spec_design.append(c["design"])
            spec_cell.append(cname)
            spec_soc.append(soc)
            spec_group.append(f"{c['design']}/soc{soc:g}")
            r_inf_s.append(np.full(n, net.r_inf_ohm))
    grp_g, grp_lab, grp_design, grp_soc = [], [], [], []
    for name, dp in designs.items():
        for soc in EIS_SOCS:
            net = symmetric_network(element_values(dp, cp, soc), cp)
            grp_g.append(draws(net, n))
            grp_lab.append(f"{name}/soc{soc:g}")
            grp_design.append(name)
            grp_soc.append(soc)

    def shape(a: np.ndarray) -> np.ndarray:  # (unit, sample, tau) -> (chain, draw, unit, tau)
        return np.moveaxis(a, 0, 1).reshape(n_chains, n_draws, a.shape[0], a.shape[2])

    post = xr.Dataset(
        {
            "gamma": (("chain", "draw", "spectrum", "tau"), shape(np.array(spec_g))),
            "gamma_group": (("chain", "draw", "group", "tau"), shape(np.array(grp_g))),
            "r_inf": (("chain", "draw", "spectrum"),
                      np.array(r_inf_s).T.reshape(n_chains, n_draws, -1)),
        },
        coords={
            "chain": np.arange(n_chains), "draw": np.arange(n_draws), "tau": tau,
            "spectrum": spec_lab, "design": ("spectrum", spec_design),
            "cell": ("spectrum", spec_cell), "soc": ("spectrum", np.array(spec_soc)),
            "spectrum_group": ("spectrum", spec_group),
            "group": grp_lab, "group_design": ("group", grp_design),
            "group_soc": ("group", np.array(grp_soc)),
        },
    )
    # group coords are group_design / group_soc (conventions.GROUP_COORDS): design and soc
    # already label the spectra, and a coordinate name can belong to one dim only
    tree = xr.DataTree.from_dict({"posterior": post})
    tree.attrs.update({"drtbayes_kind": "drt_fit", "seed": seed, "method": "synthetic"})
    return tree
