"""Frequentist calibration of the DRT fit: 50 noisy replicates of the 2-ZARC spectrum.

The issue-3 target: over 50 noise replicates of the 2-ZARC benchmark spectrum (see
``bench_drt.py``: R_inf 5 ohm, ZARCs of 10 ohm at 1e-3 s and 20 ohm at 1e-2 s, 1 % complex
Gaussian noise), the central 90 % intervals of R_pol and of each peak's resistance cover the
truth in 80-97 % of the replicates.

"Each peak's resistance" is the integral of gamma over ln tau on either side of a fixed
boundary: the minimum of the true DRT between its two peaks. The same functional of the true
DRT is the truth, so the estimand is defined without reference to the fit (the two ZARCs overlap,
so their nominal 10 and 20 ohm are not the resistances on either side of any boundary; those
values are printed too). Every replicate is a new noise draw (seed = replicate index) fitted with
``fit_drt(spec, "drt-single", seed=i)`` at the preset's sampler settings (4 chains x 1000 draws).

Run:  python benchmarks/bench_drt_calibration.py [--replicates 50] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_drt import R_INF_OHM, ZARCS, make_benchmark_spectrum, true_gamma  # noqa: E402


def _boundary_ln_tau() -> float:
    """Ln tau of the true DRT's minimum between its two peaks (fine grid)."""
    tau = np.logspace(-3.0, -2.0, 2001)
    return float(np.log(tau[np.argmin(true_gamma(tau))]))


def _split(gamma: np.ndarray, ln_tau: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Integrals of gamma (..., tau) over ln tau below and above ``b`` (trapezoid + linear cut)."""
    cum = np.concatenate([np.zeros(gamma.shape[:-1] + (1,)),
                          np.cumsum(0.5 * (gamma[..., 1:] + gamma[..., :-1]) * np.diff(ln_tau),
                                    axis=-1)], axis=-1)
    j = int(np.searchsorted(ln_tau, b) - 1)
    w = (b - ln_tau[j]) / (ln_tau[j + 1] - ln_tau[j])
    below = cum[..., j] * (1 - w) + cum[..., j + 1] * w
    return below, cum[..., -1] - below


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=50)
    ap.add_argument("--model", default="drt-single")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    import drtbayes
    from drtbayes.errors import SamplingWarning

    b = _boundary_ln_tau()
    fine = np.logspace(-9, 5, 14001)
    truth_fast, truth_slow = _split(true_gamma(fine), np.log(fine), b)
    r_pol_true = sum(r for r, _, _ in ZARCS)
    truth = {"r_pol": r_pol_true, "r_fast": float(truth_fast), "r_slow": float(truth_slow)}
    print(f"2-ZARC, {args.replicates} noise replicates, {args.model}; boundary tau "
          f"{np.exp(b):.4g} s; truth: R_pol {r_pol_true:g} ohm, fast side "
          f"{truth['r_fast']:.3f} ohm, slow side {truth['r_slow']:.3f} ohm (nominal ZARC R "
          f"{ZARCS[0][0]:g} and {ZARCS[1][0]:g} ohm; R_inf {R_INF_OHM:g} ohm)", flush=True)

    rows = []
    t_all = time.perf_counter()
    for i in range(args.replicates):
        _, _, spec = make_benchmark_spectrum(1000 + i)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)
            fit = drtbayes.fit_drt(spec, model=args.model, seed=i, progress=False)
        wall = time.perf_counter() - t
        post = fit.posterior
        gamma = post["gamma"].values[:, :, 0].reshape(-1, fit.tau.size)
        fast, slow = _split(gamma, np.log(fit.tau), b)
        draws = {"r_pol": post["r_pol"].values[:, :, 0].ravel(), "r_fast": fast, "r_slow": slow}
        d = next(iter(fit.diagnostics.values()))
        row = {"replicate": i, "wall_s": round(wall, 2), "gate_pass": bool(d.get("gate_pass")),
               "rhat_max": d.get("rhat_max"), "ess_bulk_min": d.get("ess_bulk_min"),
               "divergences": d.get("divergences")}
        for k, v in draws.items():
            lo, med, hi = np.quantile(v, [0.05, 0.5, 0.95])
            row[k] = {"median": float(med), "q05": float(lo), "q95": float(hi),
                      "covered": bool(lo <= truth[k] <= hi)}
        rows.append(row)
        print(f"  {i:3d}: {wall:5.1f} s  " + "  ".join(
            f"{k} {row[k]['median']:.2f} [{row[k]['q05']:.2f}, {row[k]['q95']:.2f}]"
            f"{'' if row[k]['covered'] else ' MISS'}" for k in draws), flush=True)

    n = len(rows)
    cover = {k: sum(r[k]["covered"] for r in rows) / n for k in truth}
    lo_t, hi_t = 0.80, 0.97
    print(f"\n| quantity | truth (ohm) | 90 % interval coverage ({n} replicates) | "
          f"median width (ohm) | mean error of median (%) | target {lo_t:.0%}-{hi_t:.0%} |")
    print("|---|---|---|---|---|---|")
    for k, label in (("r_pol", "R_pol"), ("r_fast", "R below the boundary (fast peak)"),
                     ("r_slow", "R above the boundary (slow peak)")):
        width = np.median([r[k]["q95"] - r[k]["q05"] for r in rows])
        err = np.mean([r[k]["median"] / truth[k] - 1 for r in rows]) * 100
        ok = lo_t <= cover[k] <= hi_t
        print(f"| {label} | {truth[k]:.3f} | {cover[k]:.2f} | {width:.3f} | {err:+.2f} | "
              f"{'met' if ok else 'MISSED'} |")
    walls = [r["wall_s"] for r in rows]
    print(f"\nfits: median {np.median(walls):.1f} s (first, with compilation, {walls[0]:.1f} s); "
          f"whole run {time.perf_counter() - t_all:.0f} s; gate passed in "
          f"{sum(r['gate_pass'] for r in rows)} of {n}; divergences "
          f"{sum(r['divergences'] or 0 for r in rows)} in total; R-hat max "
          f"{max(r['rhat_max'] for r in rows):.3f}; smallest bulk ESS "
          f"{min(r['ess_bulk_min'] for r in rows):.0f}")
    if args.json:
        args.json.write_text(json.dumps({"truth": truth, "coverage": cover, "rows": rows},
                                        indent=1))


if __name__ == "__main__":
    main()
