"""Real measurements: drtbayes (NUTS and --fast) on every shared real spectrum (issue 22).

For each file under ``../shared/data/real`` that holds a spectrum: R_inf, R_pol, R_pol inside
the measured window, the peaks (tau, resistance), the wall time, the gate and the trust
verdict, beside the peer figures NOTICE.md gives for the same points (pyDRTtools ridge with
GCV, pyimpspec TR-RBF). Blocking spectra report the bulk circuit instead of a DRT R_pol.

pyDRTtools and pyimpspec run only in their own environments (see _peer_pydrttools.py); when
they are absent the peer columns are NOTICE.md's measured figures, marked as such.

Run::

    python benchmarks/bench_real.py --json real.json          # NUTS and --fast
    python benchmarks/bench_real.py --fast-only
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"

#: file -> what the peers (pyDRTtools ridge + GCV, pyimpspec TR-RBF) give (NOTICE.md)
PEER_FIGURES = {
    "impedancepy/exampleData.csv": "R_inf 15.15 mOhm; peaks ~0.027 s, ~10.7 s",
    "pydrttools/LIB_data.txt": "main peak 0.146 s / 17.3 mOhm",
    "impedancepy/exampleDataBioLogic.mpt": "one peak 0.43-0.45 s / 47.5 Ohm; R_inf 63.6 Ohm",
    "hybriddrt/PEIS_SSB.mpr": "peak near 3.1 s",
}

SPECTRA = [
    "impedancepy/exampleData.csv", "impedancepy/exampleDataBioLogic.mpt",
    "impedancepy/exampleDataAutolab.txt", "impedancepy/exampleDataZPlot.z",
    "impedancepy/exampleDataParstat.txt", "pydrttools/LIB_data.txt", "pydrttools/data_1.csv",
    "hybriddrt/PEIS_SSB.mpr", "hybriddrt/Sample2_PEIS_AtRest.csv",
    "hybriddrt/EISGALV_EISTest3.DTA", "hybriddrt/PEIS_LPSCl_IonBlocking_-25C.mpr",
]


def read(name: str):
    """Read the first spectrum of a shared file (a multi-loop file: its first loop)."""
    import drtbayes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = drtbayes.read_spectrum(REAL / name)
    if "spectrum" in s.dims:
        s = s.isel(spectrum=0)
    return s


def fit_one(spec, fast: bool, seed: int = 0) -> dict:
    """One drtbayes fit of ``spec`` and its figures."""
    import drtbayes

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = drtbayes.fit_drt(spec, "drt-single", fast=fast, progress=False, seed=seed)
    wall = time.perf_counter() - t0
    e = res.summary_dict()[res.spectra[0]]
    out = {
        "method": "fast" if fast else "nuts",
        "wall_s": round(wall, 1),
        "r_inf_ohm": e["r_inf"],
        "r_pol_ohm": e["r_pol"],
        "r_pol_window_ohm": e.get("r_pol_window"),
        "peaks": [{"tau_s": p["tau_s"]["median"], "r_ohm": p["r_ohm"]["median"]}
                  for p in e["peaks"]],
        "gate_pass": e["diagnostics"].get("gate_pass"),
        "rhat_max": e["diagnostics"].get("rhat_max"),
        "ess_bulk_min": e["diagnostics"].get("ess_bulk_min"),
        "trusted": (e.get("trust") or {}).get("trusted"),
        "reasons": (e.get("trust") or {}).get("reasons"),
    }
    if e.get("bulk_circuit"):
        out["bulk_r_ohm"] = e["bulk_circuit"]["r_bulk_ohm"]
    return out


def _fmt(x: dict | None) -> str:
    if not x:
        return "-"
    lo, hi = x["hdi95"]
    return f"{x['median']:.4g} [{lo:.4g}, {hi:.4g}]"


def main() -> None:
    """Command line: fit every shared real spectrum and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fast-only", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--files", nargs="*", default=None)
    args = ap.parse_args()
    rows = []
    for name in args.files or SPECTRA:
        try:
            spec = read(name)
        except Exception as exc:  # noqa: BLE001 - a reader gap is a row of the table
            rows.append({"file": name, "error": f"{type(exc).__name__}: {exc}"[:200]})
            print(f"{name}: not read ({exc})", flush=True)
            continue
        zr = spec["z_real"].values
        row = {"file": name, "n_points": int(np.isfinite(zr).sum()),
               "min_re_z_ohm": float(np.nanmin(zr)), "peer": PEER_FIGURES.get(name, "")}
        for fast in ((True,) if args.fast_only else (True, False)):
            row["fast" if fast else "nuts"] = fit_one(spec, fast)
            r = row["fast" if fast else "nuts"]
            print(f"{name} {r['method']}: {r['wall_s']} s R_inf {_fmt(r['r_inf_ohm'])} R_pol "
                  f"{_fmt(r['r_pol_ohm'])} peaks "
                  f"{[(round(p['tau_s'], 4), round(p['r_ohm'], 4)) for p in r['peaks']]} "
                  f"gate {r['gate_pass']} trusted {r['trusted']}", flush=True)
        rows.append(row)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=1, default=float))
    print("\n| file | points | min Z' | fit | R_inf | R_pol | peaks tau (s) | gate | trusted "
          "| time s | peers (NOTICE.md) |")
    for row in rows:
        if "error" in row:
            print(f"| {row['file']} | not read: {row['error'][:60]} |")
            continue
        for m in ("nuts", "fast"):
            if m not in row:
                continue
            r = row[m]
            rp = _fmt(r["r_pol_ohm"]) if r["r_pol_ohm"] else (
                f"refused (blocking); R_bulk {_fmt(r.get('bulk_r_ohm'))}")
            print(f"| {row['file']} | {row['n_points']} | {row['min_re_z_ohm']:.4g} | {m} | "
                  f"{_fmt(r['r_inf_ohm'])} | {rp} | "
                  f"{', '.join(f'{p['tau_s']:.3g}' for p in r['peaks'])} | {r['gate_pass']} | "
                  f"{r['trusted']} | {r['wall_s']} | {row['peer']} |")


if __name__ == "__main__":
    main()
