"""A physics-based study generator: PyBaMM half cells and pybammeis symmetric-cell spectra.

Needs the optional extra ``physics`` (``pip install drtbayes[physics]``: pybamm, pybammeis).

The electrode is PyBaMM's single-particle model of a positive (NMC) working electrode against a
lithium-metal counter electrode (``working electrode = positive``), parameter set ``Xu2019``
(2.4 mAh, the paper's capacity), with

* Butler-Volmer kinetics at the cathode particles and at the lithium counter electrode,
* a double layer at both (``surface form = differential``; EIS needs it),
* concentration-dependent solid diffusivity D(sto) = D0 (1 - 0.65 sto), D0 = 1e-14 m2/s
  (tau_D = r^2 / D0 = 2800 s for the 5.3 um particles),
* a contact resistance (``contact resistance = true``), which stands for the SE layer as well.

Designs differ in the cathode's exchange current and particle radius, each cell by a few %.

GITT: PyBaMM runs the paper's protocol (0.5 C pulses of 72 s, 5000 s rest, 1 % SOC each).

Truth, from the model's own physics and never from a split formula: the same experiment is run
three times, (A) as is, (B) with the solid diffusion made instantaneous (D x 1e4), (C) with also
the cathode kinetics made instantaneous (j0 x 1e4). At each pulse end, with U the cathode's bulk
(particle-averaged) OCP and I the pulse current,

    R3(t_p) = (V_B - V_A) / I,  R2 = (V_C - V_B) / I,  R1 = (U - V_C) / I,
    total = (U - V_A) / I.

R1 so holds the contact resistance and the lithium counter electrode (its Butler-Volmer
resistance and double layer); R2 the cathode's charge transfer; R3 solid diffusion. PyBaMM's
kinetics are non-linear, so the split of a 0.5 C pulse depends slightly on the order of the
switches; the order above (diffusion first) is the split's.

EIS: pybammeis gives the half cell's small-signal impedance Z_half (contact + Li electrode +
cathode). The cathode alone is Z_half - Z_half(ideal cathode), the second with D and j0 x 1e4
(its intercalation capacitance, thousands of F, is a short circuit at 10 mHz). The symmetric
cell is R_contact + 2 x Z_cathode, the cell algebra of drtbayes.simulate_physical.

Use:
    python benchmarks/_pybamm_study.py OUTDIR [--seed 0] [--n-pulses 100] [--cells 2]
It writes study.toml, eis/*.csv, gitt/*.csv and truth.json in the layout of
drtbayes.simulate_physical (``simulator = "pybamm"``), so ``drtbayes run OUTDIR/study.toml`` and
benchmarks/bench_split_processes.py read it unchanged.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DESIGNS = {
    # name: (cathode exchange-current factor, particle radius factor)
    "L_SE": (1.4, 1.0),
    "S_SE": (1.0, 0.8),
}
EIS_SOCS = (50.0, 0.0)
#: factor that makes a process "instantaneous" in the switch-off runs
_FAST = 1e4


@dataclass(frozen=True)
class CellSpec:
    """One simulated cell: its design factors times its own deviations."""

    design: str
    cell: str
    j0_factor: float
    radius_factor: float
    contact_ohm: float


def _model():
    import pybamm

    return pybamm.lithium_ion.SPM(options={"working electrode": "positive",
                                           "surface form": "differential",
                                           "contact resistance": "true"})


def _parameters(spec: CellSpec, *, fast_diffusion: bool = False, fast_kinetics: bool = False):
    import pybamm

    pv = pybamm.ParameterValues("Xu2019")
    d0 = 1e-14 * (_FAST if fast_diffusion else 1.0)

    def diffusivity(sto, temperature):
        # concentration-dependent: D falls towards the lithiated end, as in NMC (factor ~3)
        return d0 * (1.0 - 0.65 * sto)

    j0_base = pv["Positive electrode exchange-current density [A.m-2]"]
    jf = spec.j0_factor * (_FAST if fast_kinetics else 1.0)

    def j0(c_e, c_s_surf, c_s_max, temperature):
        return jf * j0_base(c_e, c_s_surf, c_s_max, temperature)

    pv.update({
        "Positive particle diffusivity [m2.s-1]": diffusivity,
        "Positive electrode exchange-current density [A.m-2]": j0,
        "Positive particle radius [m]": 5.3e-6 * spec.radius_factor,
        "Contact resistance [Ohm]": spec.contact_ohm,
    }, check_already_exists=False)
    return pv


def _gitt(spec: CellSpec, n_pulses: int, **switch) -> dict[str, np.ndarray]:
    import pybamm

    steps = ["Rest for 600 s (60 second period)"]
    for _ in range(n_pulses):
        steps += ["Discharge at C/2 for 72 s (1 second period)",
                  "Rest for 5000 s (60 second period)"]
    sim = pybamm.Simulation(_model(), parameter_values=_parameters(spec, **switch),
                            experiment=pybamm.Experiment(steps))
    sol = sim.solve(initial_soc=1.0)
    return {
        "time_s": sol["Time [s]"].entries,
        # PyBaMM: discharge positive; drtbayes: discharge negative
        "current_a": -sol["Current [A]"].entries,
        "voltage_v": sol["Voltage [V]"].entries,
        "ocp_v": sol["Positive electrode bulk open-circuit potential [V]"].entries,
    }


def _eis(spec: CellSpec, soc: float, frequency_hz: np.ndarray, **switch) -> np.ndarray:
    import pybammeis

    sim = pybammeis.EISSimulation(_model(), parameter_values=_parameters(spec, **switch),
                                  initial_soc=max(soc, 0.5) / 100.0)
    return np.asarray(sim.solve(frequency_hz), dtype=complex)


def _pulse_ends(rec: dict[str, np.ndarray]) -> np.ndarray:
    on = rec["current_a"] < 0
    return np.flatnonzero(on[:-1] & ~on[1:])


def simulate_pybamm_study(outdir: str | Path, *, seed: int = 0, n_pulses: int = 100,
                          n_cells_per_design: int = 2, noise_v: float = 1e-4,
                          eis_noise_rel: float = 0.01) -> Path:
    """Write a PyBaMM/pybammeis study with its physical truth; return ``study.toml``'s path."""
    out = Path(outdir)
    (out / "eis").mkdir(parents=True, exist_ok=True)
    (out / "gitt").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    freq = np.logspace(6, -2, 81)
    cells, truth_cells, toml_cells = [], {}, []
    for design, (jf, rf) in DESIGNS.items():
        for k in range(n_cells_per_design):
            dev = np.exp(rng.normal(0.0, 0.03, 3))
            cells.append(CellSpec(design, f"{design[0]}{k + 1}", jf * dev[0], rf * dev[1],
                                  0.004 * dev[2]))
    for spec in cells:
        runs = {name: _gitt(spec, n_pulses, **sw) for name, sw in (
            ("A", {}), ("B", {"fast_diffusion": True}),
            ("C", {"fast_diffusion": True, "fast_kinetics": True}))}
        a = runs["A"]
        ends = _pulse_ends(a)
        cur = a["current_a"][ends]
        truth = {"R3": [], "R2": [], "R1": [], "total": []}
        for name, rec in runs.items():
            if _pulse_ends(rec).size != ends.size:
                raise RuntimeError(f"switch-off run {name} has another pulse count")
        va, vb, vc = (runs[n]["voltage_v"][_pulse_ends(runs[n])] for n in "ABC")
        u = a["ocp_v"][ends]
        i_abs = np.abs(cur)
        truth["R3"] = ((vb - va) / i_abs).tolist()
        truth["R2"] = ((vc - vb) / i_abs).tolist()
        truth["R1"] = ((u - vc) / i_abs).tolist()
        truth["total"] = ((u - va) / i_abs).tolist()
        v = a["voltage_v"] + rng.normal(0.0, noise_v, a["voltage_v"].size)
        gname = f"gitt/{spec.cell}.csv"
        _write_csv(out / gname, "time_s,current_a,voltage_v",
                   np.column_stack([a["time_s"], a["current_a"], v]), ["%.6f", "%.9e", "%.8f"])
        eis_entries = []
        for soc in EIS_SOCS:
            z_cath = _eis(spec, soc, freq) - _eis(spec, soc, freq, fast_diffusion=True,
                                                  fast_kinetics=True)
            z = spec.contact_ohm + 2.0 * z_cath
            sd = eis_noise_rel * np.abs(z)
            z = z + sd * rng.normal(size=z.size) + 1j * sd * rng.normal(size=z.size)
            name = f"eis/{spec.cell}_soc{soc:g}.csv"
            _write_csv(out / name, "frequency_hz,z_real_ohm,z_imag_ohm",
                       np.column_stack([freq, z.real, z.imag]), ["%.6e", "%.8e", "%.8e"])
            eis_entries.append({"file": name, "soc": soc})
        # SOC in the middle of each pulse by coulomb counting from 100 %
        q = np.concatenate([[0.0], np.cumsum(a["current_a"][:-1] * np.diff(a["time_s"]))])
        soc_end = 100.0 + 100.0 * q[ends] / (2.4 * 3.6)
        truth_cells[spec.cell] = {"design": spec.design, "factors": asdict(spec),
                                  "pulse_soc": (soc_end + 0.5).tolist(), **truth}
        toml_cells.append((spec, gname, eis_entries))
    pulse_soc = truth_cells[cells[0].cell]["pulse_soc"]
    truth_json = {
        "simulator": "pybamm", "seed": seed, "pulse_soc": pulse_soc, "pulse_s": 72.0,
        "estimand": "switch-off differences of PyBaMM runs at each pulse end (module docstring)",
        "r1_contains": ["contact (incl. SE)", "counter_electrode"],
        "compare": {"a": "L_SE", "b": "S_SE"}, "cells": truth_cells,
        "crossover_soc": _crossovers(truth_cells),
    }
    (out / "truth.json").write_text(json.dumps(truth_json, indent=1), encoding="utf-8")
    lines = ["# Study written by benchmarks/_pybamm_study.py (PyBaMM SPM half cells, pybammeis)",
             "[study]", f'name = "PyBaMM L_SE vs S_SE (seed {seed})"', "capacity_mah = 2.4",
             "area_cm2 = 1.54", "", "[compare]", 'a = "L_SE"', 'b = "S_SE"']
    for spec, gname, eis in toml_cells:
        eis_txt = ", ".join(f'{{ file = "{e["file"]}", soc = {e["soc"]:g} }}' for e in eis)
        lines += ["", "[[cells]]", f'design = "{spec.design}"', f'cell = "{spec.cell}"',
                  f'gitt = "{gname}"', f"eis = [{eis_txt}]"]
    (out / "study.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out / "study.toml"


def _crossovers(truth_cells: dict) -> dict:
    """Crossover SOC of the design means (linear interpolation; None where none)."""
    out = {}
    for comp in ("R1", "R2", "R3", "total"):
        means = {}
        for d in DESIGNS:
            rows = [np.array(c[comp]) for c in truth_cells.values() if c["design"] == d]
            means[d] = np.mean(rows, axis=0)
        soc = np.array(next(iter(truth_cells.values()))["pulse_soc"])
        diff = means["L_SE"] - means["S_SE"]
        idx = np.flatnonzero(np.sign(diff[:-1]) * np.sign(diff[1:]) < 0)
        if idx.size == 0:
            out[comp] = None
            continue
        i = idx[-1]  # pulses run from high to low SOC: the lowest-SOC sign change
        out[comp] = float(soc[i] - diff[i] * (soc[i + 1] - soc[i]) / (diff[i + 1] - diff[i]))
    return out


def _write_csv(path: Path, header: str, data: np.ndarray, fmts: list[str]) -> None:
    np.savetxt(path, data, delimiter=",", header=header, comments="", fmt=fmts)


def main() -> None:  # noqa: D103 - the module docstring is the usage
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-pulses", type=int, default=100)
    ap.add_argument("--cells", type=int, default=2)
    args = ap.parse_args()
    toml = simulate_pybamm_study(args.outdir, seed=args.seed, n_pulses=args.n_pulses,
                                 n_cells_per_design=args.cells)
    truth = json.loads((args.outdir / "truth.json").read_text())
    for cell, c in truth["cells"].items():
        print(cell, "SOC", [round(s, 1) for s in c["pulse_soc"][:3]],
              *(f"{k} {np.round(c[k][:3], 3).tolist()}" for k in ("R1", "R2", "R3", "total")))
    print("crossover", truth["crossover_soc"], "->", toml)


if __name__ == "__main__":
    main()
