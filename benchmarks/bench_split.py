"""Benchmark of the GITT split: wall time per cell of 100 pulses, accuracy and coverage.

Simulates the full study (2 designs x 2 cells, 100 pulses of 1 % SOC at 0.5 C for 72 s with
5000 s rests, 1 ms first sample, 0.1 mV noise), builds EIS bands from DRT draws scattered around
the true symmetric-cell DRTs (``simulate.synthetic_drt_tree``), splits every cell and compares
with ``truth.json`` at SOC 10-90 %.

Run:  python benchmarks/bench_split.py [--seed N] [--threads N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2 cores)")
    ap.add_argument("--out", type=Path, default=None, help="keep the simulated study here")
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))

    import numpy as np

    from drtbayes import simulate as sim
    from drtbayes.bands import time_constant_bands
    from drtbayes.io import read_gitt
    from drtbayes.split import split_gitt

    warnings.simplefilter("ignore")
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_split_"))
    t0 = time.perf_counter()
    sim.simulate_study(out, seed=args.seed, force=True)
    t_sim = time.perf_counter() - t0
    truth = json.loads((out / "truth.json").read_text())
    t0 = time.perf_counter()
    bands = time_constant_bands(sim.synthetic_drt_tree(out, n_draws=200, seed=args.seed))
    t_bands = time.perf_counter() - t0
    print(f"simulate: {t_sim:.1f} s   bands (4 groups + 8 spectra, 400 draws): {t_bands:.1f} s")
    comps = ("R1", "R2", "R3", "total")
    rows = []
    for cell, c in truth["cells"].items():
        g = read_gitt(out / f"gitt/{cell}.csv", design=c["design"], cell=cell, capacity_mah=2.4)
        t0 = time.perf_counter()
        sp = split_gitt(g, bands, seed=args.seed + 1)
        wall = time.perf_counter() - t0
        soc = sp["soc"].values
        idx = [int(np.argmin(np.abs(np.array(truth["pulse_soc"]) - s))) for s in soc]
        tr = np.array([[c[k][i] for k in comps] for i in idx])
        r = sp["resistance"].transpose("pulse", "component", "sample").values
        med = np.median(r, axis=2)
        lo90, hi90 = np.quantile(r, [0.05, 0.95], axis=2)
        m = (soc >= 10) & (soc <= 90)
        err = np.abs(med - tr)[m] / tr[m]
        cov = ((lo90 <= tr) & (tr <= hi90))[m].mean(0)
        width = ((hi90 - lo90) / tr)[m].mean(0)
        rows.append((cell, sp.sizes["pulse"], wall, err.max(0), np.median(err, 0), cov, width))
    print(f"\n{'cell':5s} {'pulses':>6s} {'wall/s':>7s}   " + "  ".join(
        f"{k:>22s}" for k in comps))
    print(" " * 23 + "  ".join(f"{'maxerr med cov90 w90':>22s}" for _ in comps))
    for cell, n, wall, mx, md, cov, w in rows:
        cells = "  ".join(f"{mx[k]:6.1%} {md[k]:5.1%} {cov[k]:4.0%} {w[k]:5.1%}" for k in range(4))
        print(f"{cell:5s} {n:6d} {wall:7.1f}   {cells}")
    walls = [r[2] for r in rows]
    print(f"\nwall time per cell of 100 pulses: mean {np.mean(walls):.1f} s, max "
          f"{np.max(walls):.1f} s ({args.threads} BLAS threads)")
    print("maxerr / med: largest / median |median - truth| / truth over pulses at SOC 10-90 %; "
          "cov90: share of those pulses whose 90 % interval holds the truth; w90: mean 90 % "
          "interval width / truth")


if __name__ == "__main__":
    main()
