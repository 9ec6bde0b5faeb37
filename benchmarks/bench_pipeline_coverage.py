"""End-to-end coverage: the whole pipeline on independent simulated studies with known truth.

Each replicate is what ``drtbayes demo`` does with another seed: ``simulate_study(seed=k)``
writes a two-design study (2 cells per design, symmetric-cell EIS at 0 and 50 % SOC, GITT with
100 pulses; the designs cross at 20 % SOC in R2, R3 and total, R1 alike for both) and
``run_study`` runs every stage (hierarchical DRT fit, bands, GITT split, SOC model, crossover).
Per component it records whether the 95 % HDI of the crossover SOC holds the true crossover, and
for R1 (no true crossing) whether a credible reversal was (wrongly) reported.

Run:  python benchmarks/bench_pipeline_coverage.py [--replicates 5] [--first-seed 1] [--fast]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--fast", action="store_true", help="approximate posteriors (--fast)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from drtbayes.errors import DrtbayesWarning
    from drtbayes.pipeline import run_study
    from drtbayes.simulate import simulate_study

    rows = []
    t_all = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.replicates):
        work = Path(tempfile.mkdtemp(prefix=f"pipeline_cov_{seed}_"))
        study = simulate_study(work / "study", seed=seed, fast=args.fast)
        truth = json.loads((work / "study" / "truth.json").read_text())
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DrtbayesWarning)
            res = run_study(study, work / "results", seed=seed, fast=args.fast, quiet=True,
                            truth=truth)
        wall = time.perf_counter() - t
        row = {"seed": seed, "wall_s": round(wall, 1), "components": {}}
        for comp, c in res.crossover["components"].items():
            t_true = truth["crossover_soc"].get(comp)
            hdi = c.get("hdi95")
            credible = hdi is not None and (c.get("reversal") or {}).get("credible", True)
            entry = {"truth": t_true, "median": c.get("soc_median"), "hdi95": hdi,
                     "p_crossing": c.get("p_crossing"), "credible_reversal": credible}
            if t_true is None:
                entry["ok"] = not credible
            else:
                entry["ok"] = hdi is not None and hdi[0] <= t_true <= hdi[1]
            row["components"][comp] = entry
        rows.append(row)
        print(f"seed {seed} ({wall:.0f} s): " + "; ".join(
            f"{k} {'ok' if v['ok'] else 'MISS'} "
            + (f"{v['median']:.1f} [{v['hdi95'][0]:.1f}, {v['hdi95'][1]:.1f}] vs {v['truth']:.1f}"
               if v["hdi95"] and v["truth"] is not None and v["median"] is not None
               else f"(truth {v['truth']}, P(cross) {v['p_crossing']:.2f}, credible "
                    f"{v['credible_reversal']})")
            for k, v in row["components"].items()), flush=True)
    n = len(rows)
    print(f"\n{n} studies{' (--fast)' if args.fast else ''}, {time.perf_counter() - t_all:.0f} s")
    for comp in rows[0]["components"]:
        ok = sum(r["components"][comp]["ok"] for r in rows)
        what = ("no credible reversal reported" if rows[0]["components"][comp]["truth"] is None
                else "true crossover inside the 95 % HDI")
        print(f"  {comp:>5}: {what} in {ok} / {n}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
