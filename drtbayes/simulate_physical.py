"""Two-design studies whose truth is physical: process resistances of overlapping elements.

The independent truth of issue 21. Each cell is a set of physical *processes*, each one
parametric element with a closed-form impedance and an exact current-step response
(:mod:`drtbayes.elements`):

* ``se_layer``: the solid-electrolyte separator, a resistor R_SE;
* ``se_interface``: the SE|SE interface of a stacked symmetric cell, an RC (off by default;
  symmetric cell only);
* ``counter_electrode``: a fast Li-In counter electrode, an RC near 3e-6 s (half cell only);
* ``contact``: cathode contact / bulk, a ZARC (alpha 0.9) near 1e-5 s;
* ``charge_transfer``: a ZARC (alpha 0.75 for S_SE, 0.85 for L_SE) or a Havriliak-Negami
  element near 3e-2 s, whose tails cross any band edge;
* ``diffusion``: a reflective finite-length Warburg or bounded spherical diffusion, tau_D from
  ~60 s to ~3e3 s with SOC (or 2000 s fixed), whose RC ladder reaches into the
  charge-transfer decades.

Cell algebra, explicit:

* symmetric cell (EIS) = se_layer + se_interface + 2 x (contact + charge_transfer + diffusion);
* half cell (GITT) = se_layer + counter_electrode + 1 x (contact + charge_transfer + diffusion),
  the diffusion element without its series capacitor (in GITT that is the bulk OCV change,
  which the OCV curve carries).

EIS spectra come from the closed-form impedances (plus 1 % noise)
GITT voltages from the exact
step responses of the half cell's ladder network superposed over the current steps, plus the
OCV curve and 0.1 mV noise (:func:`drtbayes.simulate.gitt_record`).

Truth (``truth.json``), per cell and pulse, is each process's resistance *as the pulse sees
it*: the exact step response of its own element at the end of the pulse t_p,
h_k(t_p) = R_k(t_p) (for a ladder sum R_j (1 - exp(-t_p / tau_j)) over its own elements
for a
ZARC / Havriliak-Negami the quadrature of its analytic DRT
never a band integral). Then

* ``R1`` = se_layer + counter_electrode(t_p) + contact(t_p) (``r1_contains`` lists them);
* ``R2`` = charge_transfer(t_p);
* ``R3`` = diffusion(t_p), without the capacitor's t/C (the OCV's part): "R3(t_p)";
* ``total`` = R1 + R2 + R3 = end-of-pulse overpotential against the OCV / current.

Keys of ``truth.json`` (stable
the validation harness and the process-model tests read them):

``simulator``, ``setting``, ``seed``, ``fast``, ``pulse_soc`` (list, %), ``pulse_s``,
``estimand`` (text), ``r1_contains`` (list of process names), ``cell_algebra`` (text),
``compare`` ({a, b}), ``crossover_soc`` ({R1, R2, R3, total: SOC % or null}, from the design
curves), ``designs`` ({design: {R1, R2, R3, total, r_diff_ohm, r_diff_dc_ohm, tau_d_s,
processes: {name: [...]}}} over ``pulse_soc``), ``cells`` ({cell: {design, factors, R1, R2,
R3, total, r_diff_ohm, r_diff_dc_ohm, tau_d_s, processes: {name: [...]}, eis: {soc: {process:
element parameters, "cell_type": "symmetric", "multiplicity": {process: 1 or 2}}}}}),
``parameters`` (everything needed to rebuild the elements). ``r_diff_ohm`` is the diffusion
element's resistance parameter (Z = R coth(x)/x, or R tanh(x)/(x - tanh x)), ``r_diff_dc_ohm``
what R3 tends to for t_p >> tau_D (R/3 planar, R/5 spherical), ``tau_d_s`` = L^2/D or r^2/D.

Settings: ``overlapping`` (default
ZARC + finite Warburg), ``slow_diffusion`` (tau_D = 2000 s
fixed), ``spherical`` (Havriliak-Negami charge transfer + spherical diffusion).

A known simplification: the diffusion element's capacitor C = tau_D / R_diff in the EIS is not
tied to the OCV slope that the GITT's coulomb counting follows (with the capacity of a real
cell it would make R3 a few milliohm, too small to test a split with).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from . import elements as el
from ._atomic import atomic_write_text, check_writable
from .conventions import COMPONENTS, PROCESSES
from .errors import ValueRangeError
from .numerics import spawn_rngs
from .simulate import (
    DESIGNS,
    EIS_SOCS,
    DesignParams,
    GittProtocol,
    _crossing,
    _csv,
    _law,
    gitt_record,
    ocv_v,
)
from .simulate import design_params as _design_laws

__all__ = ["SETTINGS", "PhysicalParams", "Process", "CellBuild", "settings_params",
           "cell_build", "simulate_physical_study", "pulse_truth"]

PROCESS_NAMES = ("se_layer", "se_interface", "counter_electrode", "contact", "charge_transfer",
                 "diffusion")
CATHODE_PROCESSES = PROCESSES
R1_CONTAINS = ("se_layer", "counter_electrode", "contact")
SETTINGS = ("overlapping", "slow_diffusion", "spherical")
#: ladder length of the diffusion elements (their slowest-first pole series; the truncated
#: remainder sits on the last, fastest term so the DC value is exact)
_N_DIFFUSION_TERMS = 400


# --------------------------------------------------------------------------- processes
@dataclass(frozen=True)
class Process:
    """One physical process as one parametric element.

    Parameters
    ----------
    name
        Process name (one of ``PROCESS_NAMES``).
    kind
        ``resistor``, ``rc``, ``zarc``, ``havriliak_negami``, ``warburg_reflective`` or
        ``spherical_diffusion``.
    r_ohm
        The element's resistance parameter (for the diffusion elements: R_diff).
    tau_s
        Time constant (tau_D for the diffusion elements
        unused for a resistor).
    alpha, beta
        Dispersion exponents (ZARC: alpha
        Havriliak-Negami: alpha and beta).
    """

    name: str
    kind: str
    r_ohm: float
    tau_s: float = 0.0
    alpha: float = 1.0
    beta: float = 1.0

    def impedance(self, frequency_hz: np.ndarray) -> np.ndarray:
        """Closed-form impedance (with the diffusion element's capacitor)."""
        f = np.asarray(frequency_hz, dtype=float)
        k = self.kind
        if k == "resistor":
            return np.full(f.shape, self.r_ohm, dtype=complex)
        if k == "rc":
            return el.rc_impedance(f, self.r_ohm, self.tau_s)
        if k == "zarc":
            return el.zarc_impedance(f, self.r_ohm, self.tau_s, self.alpha)
        if k == "havriliak_negami":
            return el.havriliak_negami_impedance(f, self.r_ohm, self.tau_s, self.alpha,
                                                 self.beta)
        if k == "warburg_reflective":
            return el.warburg_reflective_impedance(f, self.r_ohm, self.tau_s)
        if k == "spherical_diffusion":
            return el.spherical_diffusion_impedance(f, self.r_ohm, self.tau_s)
        raise ValueError(f"unknown process kind {k!r}")

    def network(self, *, capacitor: bool = True) -> el.RCNetwork:
        """Return the element as an RC ladder (its exact poles, or its discretised DRT)."""
        k = self.kind
        if k == "resistor":
            return el.RCNetwork(self.r_ohm)
        if k == "rc":
            return el.rc(self.r_ohm, self.tau_s)
        if k == "zarc":
            return el.zarc(self.r_ohm, self.tau_s, self.alpha, per_decade=40, decades=8.0)
        if k == "havriliak_negami":
            return el.havriliak_negami(self.r_ohm, self.tau_s, self.alpha, self.beta,
                                       per_decade=40, decades=10.0)
        if k == "warburg_reflective":
            net = el.warburg_reflective(self.r_ohm, self.tau_s, n_terms=_N_DIFFUSION_TERMS)
        elif k == "spherical_diffusion":
            net = el.spherical_diffusion(self.r_ohm, self.tau_s, n_terms=_N_DIFFUSION_TERMS)
        else:
            raise ValueError(f"unknown process kind {k!r}")
        return net if capacitor else replace(net, c_series_f=None)

    def step_response(self, time_s: np.ndarray | float) -> np.ndarray:
        """Exact voltage per unit current step, without a diffusion capacitor's t/C.

        Ladder elements from their pole series (exact: the poles are the element's)
        ZARC and
        Havriliak-Negami by quadrature of their analytic DRT (not from the simulator's ladder).
        """
        t = np.atleast_1d(np.asarray(time_s, dtype=float))
        k = self.kind
        if k in ("zarc", "havriliak_negami"):
            beta = 1.0 if k == "zarc" else self.beta
            return el.havriliak_negami_step(t, self.r_ohm, self.tau_s, self.alpha, beta)
        if k in ("warburg_reflective", "spherical_diffusion"):
            # a long ladder for the truth: its fastest neglected pole is below 1e-7 tau_D
            fn = (el.warburg_reflective if k == "warburg_reflective" else el.spherical_diffusion)
            return fn(self.r_ohm, self.tau_s, n_terms=4000).step_response(t, capacitor=False)
        return self.network().step_response(t)

    def seen_resistance(self, pulse_s: float) -> float:
        """Resistance a current pulse of ``pulse_s`` sees: the step response at its end."""
        return float(self.step_response(pulse_s)[0])

    @property
    def dc_resistance_ohm(self) -> float:
        """What :meth:`seen_resistance` tends to for long pulses (diffusion: R/3 or R/5)."""
        if self.kind == "warburg_reflective":
            return self.r_ohm / 3.0
        if self.kind == "spherical_diffusion":
            return self.r_ohm / 5.0
        return self.r_ohm


@dataclass(frozen=True)
class CellBuild:
    """The processes of one cell at one SOC and the two cell algebras built from them."""

    processes: dict[str, Process]

    def symmetric_impedance(self, frequency_hz: np.ndarray) -> np.ndarray:
        """Symmetric cell: se_layer + se_interface + 2 x cathode (closed forms)."""
        p = self.processes
        z = p["se_layer"].impedance(frequency_hz)
        if p["se_interface"].r_ohm > 0:
            z = z + p["se_interface"].impedance(frequency_hz)
        for name in CATHODE_PROCESSES:
            z = z + 2.0 * p[name].impedance(frequency_hz)
        return z

    def half_cell_network(self) -> el.RCNetwork:
        """Half cell: se_layer + counter_electrode + 1 x cathode, no diffusion capacitor."""
        p = self.processes
        net = p["se_layer"].network() + p["counter_electrode"].network()
        for name in CATHODE_PROCESSES:
            net = net + p[name].network(capacitor=False)
        return net

    def half_cell_seen(self, pulse_s: float) -> dict[str, float]:
        """Each half-cell process's seen resistance and R1/R2/R3/total for a pulse."""
        p = self.processes
        seen = {n: p[n].seen_resistance(pulse_s)
                for n in ("se_layer", "counter_electrode", *CATHODE_PROCESSES)}
        r1 = sum(seen[n] for n in R1_CONTAINS)
        out = {"R1": r1, "R2": seen["charge_transfer"], "R3": seen["diffusion"]}
        out["total"] = out["R1"] + out["R2"] + out["R3"]
        return {**out, "processes": seen}


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class PhysicalParams:
    """Element parameters shared by both designs, and the SOC laws' time-constant scaling.

    Resistances in ohm per cathode (0.785 cm2). The charge-transfer resistance R2(s) and the
    diffusion's DC resistance R3_dc(s) follow the SOC laws of :func:`drtbayes.simulate.
    design_params` (solved so the designs cross at ``crossover_soc``)
    time constants scale with
    a common absolute reference (tau = tau_ref (R / R_ref)^kappa), so equal resistances have
    equal time constants and the crossover is kept in the seen resistances.
    """

    r_se_ohm: float = 8.0
    r_se_interface_ohm: float = 0.0
    tau_se_interface_s: float = 1e-6
    r_contact_ohm: float = 6.0
    contact_rise: float = 0.3
    tau_contact_s: float = 1e-5
    alpha_contact: float = 0.9
    r_ce_ohm: float = 2.0
    tau_ce_s: float = 3e-6
    ct_kind: str = "zarc"
    tau_ct_ref_s: float = 3e-2
    r2_ref_ohm: float = 20.0
    tau_ct_kappa: float = 0.5
    alpha_ct_l_se: float = 0.85
    alpha_ct_s_se: float = 0.75
    beta_ct: float = 1.0
    diffusion_kind: str = "warburg_reflective"
    tau_d_ref_s: float = 120.0
    r3_ref_ohm: float = 10.0
    tau_d_kappa: float = 1.5
    #: a fixed tau_D (s) for every SOC and cell instead of the law (the slow-diffusion setting)
    tau_d_fixed_s: float | None = None
    capacity_mah: float = 2.4
    area_cm2: float = 0.785
    cell_sd: float = 0.03
    tau_cell_sd: float = 0.05
    eis_noise_rel: float = 0.01
    extra: dict = field(default_factory=dict)


def settings_params(setting: str = "overlapping") -> PhysicalParams:
    """Return the parameters of a named setting (``SETTINGS``)."""
    if setting == "overlapping":
        return PhysicalParams()
    if setting == "slow_diffusion":
        return PhysicalParams(tau_d_fixed_s=2000.0)
    if setting == "spherical":
        return PhysicalParams(ct_kind="havriliak_negami", alpha_ct_l_se=0.85,
                              alpha_ct_s_se=0.8, beta_ct=0.7,
                              diffusion_kind="spherical_diffusion", tau_d_ref_s=300.0)
    raise ValueRangeError(f"setting={setting!r}: use one of {', '.join(SETTINGS)}")


@dataclass(frozen=True)
class CellFactors:
    """One cell's multiplicative deviations from its design (log-normal, a few %)."""

    design: str
    cell: str
    f_se: float = 1.0
    f_contact: float = 1.0
    f_r2: float = 1.0
    f_r3: float = 1.0
    f_tau_ct: float = 1.0
    f_tau_d: float = 1.0


def cell_build(pp: PhysicalParams, dp: DesignParams, soc: float,
               cell: CellFactors | None = None) -> CellBuild:
    """Return the processes of a cell of design ``dp`` at ``soc`` (no ``cell``: design level)."""
    c = cell or CellFactors(dp.name, "design")
    r2 = float(_law(dp.r2_base_ohm, dp.r2_rise, dp.soc_scale_pct, dp.high_soc_rise, soc))
    r3_dc = float(_law(dp.r3_base_ohm, dp.r3_rise, dp.soc_scale_pct, dp.high_soc_rise, soc))
    r2 *= c.f_r2
    r3_dc *= c.f_r3
    tau_ct = pp.tau_ct_ref_s * (r2 / pp.r2_ref_ohm) ** pp.tau_ct_kappa * c.f_tau_ct
    if pp.tau_d_fixed_s is not None:
        tau_d = float(pp.tau_d_fixed_s)
    else:
        tau_d = pp.tau_d_ref_s * (r3_dc / pp.r3_ref_ohm) ** pp.tau_d_kappa * c.f_tau_d
    alpha_ct = pp.alpha_ct_l_se if dp.name == "L_SE" else pp.alpha_ct_s_se
    diff_factor = 3.0 if pp.diffusion_kind == "warburg_reflective" else 5.0
    r_contact = pp.r_contact_ohm * (1.0 + pp.contact_rise * math.exp(-soc / 10.0)) * c.f_contact
    ct_kind = pp.ct_kind
    procs = {
        "se_layer": Process("se_layer", "resistor", pp.r_se_ohm * c.f_se),
        "se_interface": Process("se_interface", "rc", pp.r_se_interface_ohm,
                                pp.tau_se_interface_s),
        "counter_electrode": Process("counter_electrode", "rc", pp.r_ce_ohm, pp.tau_ce_s),
        "contact": Process("contact", "zarc", r_contact, pp.tau_contact_s, pp.alpha_contact),
        "charge_transfer": Process("charge_transfer", ct_kind, r2, tau_ct, alpha_ct,
                                   pp.beta_ct if ct_kind == "havriliak_negami" else 1.0),
        "diffusion": Process("diffusion", pp.diffusion_kind, diff_factor * r3_dc, tau_d),
    }
    return CellBuild(procs)


def pulse_truth(build: CellBuild, pulse_s: float) -> dict:
    """Truth of one pulse: R1/R2/R3/total, each process's seen resistance, R_diff, tau_D."""
    seen = build.half_cell_seen(pulse_s)
    d = build.processes["diffusion"]
    return {**seen, "r_diff_ohm": d.r_ohm, "r_diff_dc_ohm": d.dc_resistance_ohm,
            "tau_d_s": d.tau_s}


# --------------------------------------------------------------------------- study
def _cells(n_per_design: int, pp: PhysicalParams, rng: np.random.Generator) -> list[CellFactors]:
    cells = []
    for design in ("S_SE", "L_SE"):
        for k in range(n_per_design):
            f = np.exp(rng.normal(0.0, pp.cell_sd, 4))
            ft = np.exp(rng.normal(0.0, pp.tau_cell_sd, 2))
            cells.append(CellFactors(design, f"{design[0]}{k + 1}", *map(float, f),
                                     *map(float, ft)))
    return cells


def _curves(truths: list[dict]) -> dict:
    out = {comp: [t[comp] for t in truths] for comp in COMPONENTS}
    for key in ("r_diff_ohm", "r_diff_dc_ohm", "tau_d_s"):
        out[key] = [t[key] for t in truths]
    names = truths[0]["processes"].keys()
    out["processes"] = {n: [t["processes"][n] for t in truths] for n in names}
    return out


def _eis_truth(build: CellBuild) -> dict:
    """Element parameters of a symmetric-cell spectrum, with each process's multiplicity."""
    procs = {n: asdict(p) for n, p in build.processes.items() if n != "counter_electrode"}
    mult = {n: (2 if n in CATHODE_PROCESSES else 1) for n in procs}
    return {"cell_type": "symmetric", "processes": procs, "multiplicity": mult}


def simulate_physical_study(
    outdir: str | Path,
    *,
    setting: str = "overlapping",
    seed: int = 0,
    crossover_soc: float = 20.0,
    n_cells_per_design: int = 2,
    n_pulses: int = 100,
    fast: bool = False,
    force: bool = False,
) -> Path:
    """Write a two-design study whose truth is the physical process resistances.

    Same file layout as :func:`drtbayes.simulate.simulate_study` (``study.toml``,
    ``eis/{cell}_soc{soc}.csv``, ``gitt/{cell}.csv``, ``truth.json``), so ``drtbayes run
    study.toml`` runs on it unchanged. The truth's keys are listed in the module docstring.

    Parameters
    ----------
    outdir
        Folder to write into (created).
    setting
        ``overlapping`` (default), ``slow_diffusion`` (tau_D = 2000 s) or ``spherical``.
    seed
        Seed of the cell-to-cell variation and of the noise (same seed, same files).
    crossover_soc
        SOC (%) where the designs' R2 and R3 laws cross (3-45 %).
    n_cells_per_design
        Replicate cells per design.
    n_pulses
        Number of discharge pulses from 100 % SOC (1 % each, at most 100).
    fast
        A small study for CI: pulses of 5 % SOC (360 s at 0.5 C), 1500 s rests, at most 20.
    force
        Overwrite existing files.

    Returns
    -------
    Path
        The path of ``study.toml``.
    """
    # Over 80 lines: half of it is the docstring and the truth.json literal, whose keys are the
    # documented contract; split up, the file layout would be spread over helpers.
    out = Path(outdir)
    for f in (out / "study.toml", out / "truth.json"):
        check_writable(f, force=force)
    if n_cells_per_design < 1:
        raise ValueRangeError(f"n_cells_per_design={n_cells_per_design!r}: need at least 1")
    if n_pulses < 1:
        raise ValueRangeError(f"n_pulses={n_pulses!r}: need at least 1")
    pp = settings_params(setting)
    step = 5.0 if fast else 1.0
    n_p = min(n_pulses, int(round(100.0 / step)))
    proto = GittProtocol(n_pulses=n_p, soc_step_pct=step, rest_s=1500.0 if fast else 5000.0,
                         rest_after_charge_s=1800.0 if fast else 3600.0)
    laws = _design_laws(crossover_soc)
    rng_cells, *rng_rec = spawn_rngs(seed, 1 + 3 * n_cells_per_design * len(DESIGNS),
                                     SETTINGS.index(setting))
    cells = _cells(n_cells_per_design, pp, rng_cells)
    pulse_soc = [100.0 - step * (k + 0.5) for k in range(n_p)]
    freq = el.log_frequencies(1e6, 1e-2, 10)

    entries, truth_cells = [], {}
    k_rng = 0
    for c in cells:
        dp = laws[c.design]
        eis_entries, eis_truth = [], {}
        for soc in EIS_SOCS:
            build = cell_build(pp, dp, soc, c)
            z = build.symmetric_impedance(freq)
            r = rng_rec[k_rng]
            k_rng += 1
            sd = pp.eis_noise_rel * np.abs(z)
            z = z + sd * r.normal(size=z.size) + 1j * sd * r.normal(size=z.size)
            name = f"eis/{c.cell}_soc{soc:g}.csv"
            atomic_write_text(out / name, _csv("frequency_hz,z_real_ohm,z_imag_ohm",
                                               [freq, z.real, z.imag],
                                               ["%.6e", "%.8e", "%.8e"]), force=force)
            eis_entries.append({"file": name, "soc": soc})
            eis_truth[f"{soc:g}"] = _eis_truth(build)
        rec, _ = gitt_record(lambda s, c=c, dp=dp: cell_build(pp, dp, s, c).half_cell_network(),
                             pp.capacity_mah, proto, rng_rec[k_rng])
        k_rng += 1
        gname = f"gitt/{c.cell}.csv"
        atomic_write_text(out / gname, _csv("time_s,current_a,voltage_v",
                                            [rec["time_s"], rec["current_a"], rec["voltage_v"]],
                                            ["%.6f", "%.9e", "%.8f"]), force=force)
        entries.append((c, gname, eis_entries))
        truths = [pulse_truth(cell_build(pp, dp, s, c), proto.pulse_s) for s in pulse_soc]
        truth_cells[c.cell] = {
            "design": c.design,
            "factors": {k: v for k, v in asdict(c).items() if k.startswith("f_")},
            **_curves(truths),
            "eis": eis_truth,
        }

    truth = {
        "simulator": "drtbayes.simulate_physical",
        "setting": setting,
        "seed": seed,
        "fast": fast,
        "pulse_soc": pulse_soc,
        "pulse_s": proto.pulse_s,
        "estimand": "each process's resistance as the pulse sees it: the exact step response "
                    "of its own element at the end of the pulse (no band integral); R3 without "
                    "the diffusion capacitor's t/C, which is the OCV's",
        "r1_contains": list(R1_CONTAINS),
        "cell_algebra": {"symmetric": "se_layer + se_interface + 2 x (contact + "
                                      "charge_transfer + diffusion)",
                         "half": "se_layer + counter_electrode + 1 x (contact + "
                                 "charge_transfer + diffusion)"},
        "compare": {"a": "L_SE", "b": "S_SE"},
        "cells": truth_cells,
        **_design_truth(pp, laws, proto.pulse_s, pulse_soc),
        "parameters": {
            "physical": asdict(pp),
            "designs": {k: asdict(v) for k, v in laws.items()},
            "protocol": asdict(proto),
            "crossover_soc_parameter": crossover_soc,
            "eis": {"f_max_hz": 1e6, "f_min_hz": 1e-2, "per_decade": 10,
                    "noise": f"{pp.eis_noise_rel:.0%} of |Z| on real and imaginary parts",
                    "cell_type": "symmetric"},
        },
    }
    atomic_write_text(out / "truth.json", json.dumps(truth, indent=1), force=force)
    atomic_write_text(out / "study.toml", _study_toml(entries, pp, setting, seed), force=force)
    return out / "study.toml"


def _design_truth(pp: PhysicalParams, laws: dict[str, DesignParams], pulse_s: float,
                  pulse_soc: list[float]) -> dict:
    """Design-level curves on the pulse SOCs and the true crossover SOC per component."""
    designs, fine_curves = {}, {}
    # a grid that misses the crossover parameter itself (the curves are equal there exactly)
    fine = np.linspace(0.55, 99.55, 397)
    for name, dp in laws.items():
        designs[name] = _curves([pulse_truth(cell_build(pp, dp, s), pulse_s)
                                 for s in pulse_soc])
        fc = [pulse_truth(cell_build(pp, dp, s), pulse_s) for s in fine]
        fine_curves[name] = {comp: np.array([t[comp] for t in fc]) for comp in COMPONENTS}
    cross = {comp: _crossing(fine, fine_curves["L_SE"][comp], fine_curves["S_SE"][comp])
             for comp in COMPONENTS}
    return {"designs": designs, "crossover_soc": cross}


def _study_toml(entries: list, pp: PhysicalParams, setting: str, seed: int) -> str:
    lines = [
        "# Synthetic study written by drtbayes.simulate_physical; physical truth in truth.json",
        "[study]",
        f'name = "Physical-truth L_SE vs S_SE ({setting}, seed {seed})"',
        f"capacity_mah = {pp.capacity_mah}",
        f"area_cm2 = {pp.area_cm2}",
        "",
        "[compare]",
        'a = "L_SE"',
        'b = "S_SE"',
    ]
    for c, gname, eis in entries:
        eis_txt = ", ".join(f'{{ file = "{e["file"]}", soc = {e["soc"]:g} }}' for e in eis)
        lines += ["", "[[cells]]", f'design = "{c.design}"', f'cell = "{c.cell}"',
                  f'gitt = "{gname}"', f"eis = [{eis_txt}]"]
    return "\n".join(lines) + "\n"


def overpotential_at_pulse_ends(study_dir: str | Path, cell: str) -> dict[str, np.ndarray]:
    """Measured overpotential / current at the last sample of each pulse of a simulated record.

    (V - OCV(SOC)) / I at the record's last sample inside each pulse, with the OCV curve the
    simulator used and the SOC by coulomb counting from the record itself: a model-free view of
    the truth's ``total`` (0.1 mV noise over ~1.2 mA is ~0.1 ohm per pulse).

    Returns
    -------
    dict
        ``soc`` (% at that sample), ``dt_s`` (time since the pulse start), ``r_ohm``.
    """
    study_dir = Path(study_dir)
    truth = json.loads((study_dir / "truth.json").read_text(encoding="utf-8"))
    data = np.loadtxt(study_dir / "gitt" / f"{cell}.csv", delimiter=",", skiprows=1)
    t, i, v = data.T
    cap_c = truth["parameters"]["physical"]["capacity_mah"] * 3.6
    on = i < 0
    starts = np.flatnonzero(on[1:] & ~on[:-1]) + 1
    ends = np.flatnonzero(on[:-1] & ~on[1:])
    # the current is constant between samples (steps fall on samples): left sums are exact
    q = np.concatenate([[0.0], np.cumsum(i[:-1] * np.diff(t))])
    soc = 100.0 + 100.0 * (q[ends] - q[starts[0]]) / cap_c
    return {"soc": soc, "dt_s": t[ends] - t[starts[: ends.size]],
            "r_ohm": (v[ends] - ocv_v(soc)) / i[ends]}
