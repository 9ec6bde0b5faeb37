"""Frequentist coverage of the crossover SOC on simulated two-design studies.

Each replicate simulates a split (``drtbayes.compare.simulate_split``: 2 designs x 2 cells x
100 pulses, per-pulse log-normal posteriors 2-40 % wide) with a true crossover drawn uniformly
in 10-40 % SOC, fits the SOC model with NUTS and checks whether the 95 % HDI of the crossover
contains the truth. Never-crossing studies check that ``p_crossing`` stays small.

Run::

    python benchmarks/bench_crossover_coverage.py --replicates 20 --never 5

Prints one line per replicate and a summary (coverage, mean |median - truth|, mean HDI width,
p_crossing of the never-crossing studies, seconds per fit).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def run_coverage_study(
    n_replicates: int = 20,
    n_never: int = 5,
    *,
    seed: int = 0,
    components: tuple[str, ...] = ("R2", "total"),
    verbose: bool = True,
) -> dict:
    """Fit ``n_replicates`` crossing and ``n_never`` never-crossing studies; return figures."""
    from drtbayes.compare import crossover, fit_soc_model, simulate_split
    from drtbayes.errors import SamplingWarning

    rng = np.random.default_rng(seed)
    crossovers = rng.uniform(10.0, 40.0, n_replicates)
    rows: list[dict] = []
    never_p: list[float] = []
    seconds: list[float] = []
    gate_fail = 0
    for i in range(n_replicates + n_never):
        true_c = float(crossovers[i]) if i < n_replicates else None
        split, truth = simulate_split(seed=1000 + seed * 100 + i, crossover_soc=true_c)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SamplingWarning)
            model = fit_soc_model(split, components=components, seed=i)
        seconds.append(time.perf_counter() - t0)
        gate_fail += any(issubclass(w.category, SamplingWarning) for w in caught)
        for comp in components:
            res = crossover(model, "L_SE", "S_SE", comp)
            truth_c = truth["crossings"][comp]
            if true_c is None:
                if comp in ("R2",):  # the never-crossing design gap is set on R2 and R3
                    never_p.append(res["p_crossing"])
                if verbose:
                    print(f"never  {comp:>5}: p_crossing={res['p_crossing']:.3f}", flush=True)
                continue
            x = truth_c[0]
            hdi = res["hdi95"]
            covered = hdi is not None and hdi[0] <= x <= hdi[1]
            err = abs(res["soc_median"] - x) if res["soc_median"] is not None else np.nan
            rows.append({"component": comp, "truth": x, "median": res["soc_median"],
                         "hdi95": hdi, "covered": covered, "abs_err": err,
                         "p_crossing": res["p_crossing"]})
            if verbose:
                print(
                    f"rep {i:2d} {comp:>5}: truth {x:5.1f}  median {res['soc_median']:5.1f}  "
                    f"HDI [{hdi[0]:5.1f}, {hdi[1]:5.1f}]  p_cross {res['p_crossing']:.3f}  "
                    f"{'ok' if covered else 'MISS'}  ({seconds[-1]:.1f} s)",
                    flush=True,
                )
    out: dict = {"n_replicates": n_replicates, "n_never": n_never, "components": {}}
    for comp in components:
        r = [x for x in rows if x["component"] == comp]
        widths = [x["hdi95"][1] - x["hdi95"][0] for x in r if x["hdi95"] is not None]
        out["components"][comp] = {
            "coverage": float(np.mean([x["covered"] for x in r])),
            "mean_abs_err": float(np.nanmean([x["abs_err"] for x in r])),
            "mean_hdi_width": float(np.mean(widths)),
            "min_p_crossing": float(min(x["p_crossing"] for x in r)),
        }
    out["never_p_crossing_max"] = float(max(never_p)) if never_p else None
    out["never_p_crossing"] = never_p
    out["seconds_per_fit_mean"] = float(np.mean(seconds))
    out["seconds_first_fit"] = float(seconds[0])  # includes the one-off nutpie compile
    out["gate_failures"] = int(gate_fail)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--never", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--components", nargs="+", default=["R2", "total"])
    a = ap.parse_args()
    t0 = time.perf_counter()
    res = run_coverage_study(a.replicates, a.never, seed=a.seed, components=tuple(a.components))
    print()
    print(f"replicates: {a.replicates} crossing (truth uniform 10-40 % SOC), {a.never} never")
    for comp, f in res["components"].items():
        print(
            f"{comp:>5}: 95 % HDI coverage {f['coverage']:.0%}; mean |median - truth| "
            f"{f['mean_abs_err']:.2f} % SOC; mean HDI width {f['mean_hdi_width']:.1f} % SOC; "
            f"min p_crossing {f['min_p_crossing']:.3f}"
        )
    print(f"never-crossing: max p_crossing {res['never_p_crossing_max']:.3f}")
    print(
        f"time: {res['seconds_per_fit_mean']:.1f} s per fit ({len(a.components)} components, "
        f"NUTS 4 x 500 draws), first fit {res['seconds_first_fit']:.1f} s incl. compile; "
        f"total {time.perf_counter() - t0:.0f} s; diagnostics-gate failures "
        f"{res['gate_failures']}"
    )


if __name__ == "__main__":
    main()
