"""Calibration of the DRT's intervals over a prior on physical circuits (issue 28).

SBC (benchmarks/sbc.py) draws its truths from the DRT model's own prior: it shows the sampler
samples that posterior, not that the intervals mean what they say on spectra of other shapes.
Here every replicate is a circuit drawn by ``_circuits.draw_circuit`` (1-4 processes from RC,
ZARC, Havriliak-Negami, finite-length and semi-infinite Warburg; optional L and series C; noise
0.1-2 %, a few replicates with outliers at the top of the sweep), its spectrum computed from the
analytic formulas, and the truths are analytic.

Scored per replicate (central posterior intervals, from quantiles of the draws):

* R_inf;
* R_pol (the sum of the processes' DC resistances) and R_pol in the window (the true DRT
  integrated over 1/w_max <= tau <= 1/w_min, against the same integral of the fitted gamma);
* each scored process's characteristic time (the mode of its own DRT): a process is scored
  when that time lies 0.3 decade inside the window and its resistance in the window is >= 5 % of
  the window's R_pol. Its interval is that of the per-draw peak position of the fitted peak
  cluster nearest to it (within 0.5 decade; none there: not covered).

Coverage is printed overall and by shape family (a replicate's R_inf / R_pol count towards
every family it contains), with the gate pass rate (NUTS).

Run (one replicate per line of the log, so a partial run is usable)::

    python benchmarks/bench_drt_circuits.py --replicates 200 --jsonl circuits.jsonl
    python benchmarks/bench_drt_circuits.py --replicates 40 --fast
    python benchmarks/bench_drt_circuits.py --summarise circuits.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _circuits import FAMILIES, draw_circuit, noisy, window_log10_tau  # noqa: E402

LEVELS = (0.5, 0.9, 0.95)


def _interval_hits(draws: np.ndarray, truth: float) -> dict[str, bool]:
    x = np.asarray(draws, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 10:
        return {str(p): False for p in LEVELS}
    out = {}
    for p in LEVELS:
        lo, hi = np.quantile(x, [(1 - p) / 2, (1 + p) / 2])
        out[str(p)] = bool(lo <= truth <= hi)
    return out


def _peak_draws(gamma: np.ndarray, ln_tau: np.ndarray, centre_log10: float,
                rel_prom: float = 0.05, half_width: float = 0.3) -> np.ndarray:
    """Per draw, log10 tau of the peak nearest ``centre_log10`` (NaN: no peak within reach)."""
    from drtbayes.drt.result import _draw_peaks

    out = np.full(gamma.shape[0], np.nan)
    for d, g in enumerate(gamma):
        pos, _ = _draw_peaks(g, ln_tau, rel_prom)
        if pos.size:
            j = int(np.argmin(np.abs(pos - centre_log10)))
            if abs(pos[j] - centre_log10) <= half_width:
                out[d] = pos[j]
    return out


def score(res, circuit) -> dict:
    """Coverage record of one fitted replicate (see the module docstring)."""
    from drtbayes.drt.kernels import quadrature_weights

    post = res.posterior
    lab = res.spectra[0]
    summ = res.summary_dict()[lab]
    tau = res.tau
    ln_tau = np.log(tau)
    gamma = post["gamma"].values[:, :, 0].reshape(-1, tau.size)
    lo, hi = window_log10_tau()
    lt = np.log10(tau)
    inside = (lt >= lo) & (lt <= hi)
    q = quadrature_weights(tau[inside])
    rec = {
        "circuit": circuit.describe(),
        "families": circuit.families,
        "r_inf": _interval_hits(post["r_inf"].values[:, :, 0].ravel(), circuit.r_inf_ohm),
        "r_pol": _interval_hits(post["r_pol"].values[:, :, 0].ravel(), circuit.r_pol_ohm),
        "r_pol_window": _interval_hits(gamma[:, inside] @ q, circuit.r_pol_window_ohm()),
        "r_pol_truth": circuit.r_pol_ohm,
        "r_pol_median": float(np.median(post["r_pol"].values)),
        "gate_pass": summ["diagnostics"].get("gate_pass"),
        "trusted": (summ.get("trust") or {}).get("trusted"),
        "peaks": [],
    }
    clusters = [np.log10(c["tau_s"]["median"]) for c in summ["peaks"]]
    r_win = circuit.r_pol_window_ohm()
    for p in circuit.processes:
        t_true = np.log10(p.characteristic_tau_s())
        if not (lo + 0.3 <= t_true <= hi - 0.3) or p.r_in_window(lo, hi) < 0.05 * r_win:
            continue
        entry = {"family": p.kind, "log10_tau_true": round(float(t_true), 3)}
        near = [c for c in clusters if abs(c - t_true) <= 0.5]
        if not near:
            entry.update(found=False, hits={str(lv): False for lv in LEVELS})
        else:
            c = min(near, key=lambda c: abs(c - t_true))
            pk = _peak_draws(gamma, ln_tau, c)
            entry.update(found=True, log10_tau_median=round(float(np.nanmedian(pk)), 3),
                         hits=_interval_hits(pk, t_true))
        rec["peaks"].append(entry)
    return rec


def summarise(records: list[dict]) -> dict:
    """Coverage tables (overall, by family) and the gate pass rate of the records."""
    tab: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        for qty in ("r_inf", "r_pol", "r_pol_window"):
            for lv, hit in r[qty].items():
                tab[(qty, "all")][lv].append(hit)
                for fam in r["families"]:
                    tab[(qty, fam)][lv].append(hit)
        for p in r["peaks"]:
            for lv, hit in p["hits"].items():
                tab[("peak_tau", "all")][lv].append(hit)
                tab[("peak_tau", p["family"])][lv].append(hit)
    out = {}
    for (qty, fam), lv in sorted(tab.items()):
        out[f"{qty}/{fam}"] = {"n": len(lv["0.9"]),
                               **{k: round(float(np.mean(v)), 3) for k, v in lv.items()}}
    gates = [r["gate_pass"] for r in records if r["gate_pass"] is not None]
    out["gate_pass_rate"] = round(float(np.mean(gates)), 3) if gates else None
    trusted = [r["trusted"] for r in records if r.get("trusted") is not None]
    out["trusted_rate"] = round(float(np.mean(trusted)), 3) if trusted else None
    out["replicates"] = len(records)
    return out


def print_table(s: dict) -> None:
    """Print the coverage table of :func:`summarise`."""
    print(f"{'quantity/family':28s} {'n':>4s} {'50%':>6s} {'90%':>6s} {'95%':>6s}")
    for k, v in s.items():
        if isinstance(v, dict):
            print(f"{k:28s} {v['n']:4d} {v['0.5']:6.2f} {v['0.9']:6.2f} {v['0.95']:6.2f}")
    print(f"gate pass rate {s['gate_pass_rate']}, trusted rate {s['trusted_rate']}, "
          f"replicates {s['replicates']}")


def run(replicates: int, *, model: str = "drt-single", fast: bool = False, seed: int = 0,
        jsonl: Path | None = None, start: int = 0) -> list[dict]:
    """Fit ``replicates`` circuits (replicate i: circuit and noise from seed (seed, i))."""
    import drtbayes

    records = []
    for i in range(start, start + replicates):
        rng = np.random.default_rng([seed, i])
        circuit = draw_circuit(rng)
        f, z = noisy(circuit, rng)
        spec = drtbayes.make_spectrum(f, z, imag_sign="as-is")
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = drtbayes.fit_drt(spec, model, seed=i, fast=fast, progress=False)
        rec = score(res, circuit)
        rec.update(replicate=i, wall_s=round(time.perf_counter() - t0, 2))
        records.append(rec)
        if jsonl is not None:
            with jsonl.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")
        print(f"[{i}] {rec['wall_s']:.1f} s gate {rec['gate_pass']} "
              f"R_inf {rec['r_inf']['0.9']} R_pol {rec['r_pol']['0.9']} "
              f"win {rec['r_pol_window']['0.9']} peaks "
              f"{[(p['family'], p['hits']['0.9']) for p in rec['peaks']]} | {rec['circuit']}",
              flush=True)
    return records


def main() -> None:
    """Command line: run (or only tabulate) the benchmark."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--model", default="drt-single")
    ap.add_argument("--fast", action="store_true", help="MAP + Laplace instead of NUTS")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1, help="kept at 1 (the fits use the chains)")
    ap.add_argument("--jsonl", type=Path, default=None)
    ap.add_argument("--summarise", type=Path, default=None, help="only tabulate a jsonl log")
    args = ap.parse_args()
    if args.summarise:
        recs = [json.loads(x) for x in args.summarise.read_text().splitlines() if x.strip()]
    else:
        recs = run(args.replicates, model=args.model, fast=args.fast, seed=args.seed,
                   jsonl=args.jsonl, start=args.start)
    print_table(summarise(recs))


if __name__ == "__main__":
    assert set(FAMILIES)
    main()
