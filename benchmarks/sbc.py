r"""Simulation-based calibration (Talts et al. 2018) of the DRT and SOC-curve models.

For each replicate: draw every parameter from the prior exactly as the PyMC model defines it,
simulate data, fit them with the package's public fit function (``drtbayes.fit_drt`` with the
``drt-single`` preset, or ``drtbayes.compare.fit_soc_model`` with ``soc-spline``; NUTS), thin
the posterior to ``L`` draws and record the rank of each true quantity among them (``0..L``).
Under a correct fit the ranks are uniform; a chi-square test on ``--bins`` equal bins gives a
p-value per quantity. A quantity is flagged when p < 0.01 / (number of quantities).

Negative control (``--negative-control``), the same harness on deliberately mis-specified
data:

* DRT: the spectrum's noise is Student-t with ``--nu`` (default 2) degrees of freedom, the fit
  keeps the Gaussian likelihood of ``drt-single``;
* SOC: the pulses scatter ``--misreport`` (default 3) times more than the per-pulse sd the
  split reports (and the model trusts).

See ``_sbc_lib.py`` for the generators and the reasoning behind the data-scale selection.

Examples::

    python benchmarks/sbc.py --model drt --replications 100 --json sbc_drt.json \\
        --plot docs/img/sbc_drt.png
    python benchmarks/sbc.py --model drt --replications 40 --negative-control \\
        --json sbc_drt_neg.json
    python benchmarks/sbc.py --model soc --replications 100 --json sbc_soc.json
    # one figure from saved runs (the negative control's 40 replicates in 5 bins)
    python benchmarks/sbc.py --plot docs/img/sbc_drt.png --from "correct=sbc_drt.json" \\
        --from "Student-t noise=sbc_drt_neg.json@5"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("MPLBACKEND", "Agg")

from _sbc_lib import (  # noqa: E402
    DrtGenerator,
    SocGenerator,
    plot_ranks,
    run_sbc,
    summarise,
    write_json,
)


def _table(run: dict) -> str:
    summ = run["summary"]
    lines = ["| quantity | chi2 | p | flagged | mean rank / L | median ESS |",
             "|---|---|---|---|---|---|"]
    for q in run["quantities"]:
        r = summ["quantities"][q]
        ess = [rec["ess_bulk"].get(q, np.nan) for rec in run["records"]]
        lines.append(f"| {q} | {r['stat']:.1f} | {r['p']:.3g} | {'yes' if r['flagged'] else 'no'} "
                     f"| {r['mean_rank_frac']:.2f} | {np.nanmedian(ess):.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=("drt", "soc"), default="drt")
    ap.add_argument("--replications", type=int, default=100)
    ap.add_argument("--draws", type=int, default=None, help="NUTS draws per chain (preset)")
    ap.add_argument("--tune", type=int, default=None, help="NUTS warm-up per chain (preset)")
    ap.add_argument("--chains", type=int, default=None, help="chains (preset)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--thinned", type=int, default=99, help="L: thinned posterior draws")
    ap.add_argument("--bins", type=int, default=None,
                    help="chi-square bins, dividing L + 1 (default 10; with --from: re-bin)")
    ap.add_argument("--negative-control", action="store_true")
    ap.add_argument("--nu", type=float, default=2.0, help="DRT negative control: Student-t dof")
    ap.add_argument("--misreport", type=float, default=3.0,
                    help="SOC negative control: true pulse scatter / reported sd")
    ap.add_argument("--grid", type=float, nargs=3, metavar=("F_MAX", "F_MIN", "PER_DECADE"),
                    default=(1e5, 1e-2, 6), help="DRT frequency grid (Hz, Hz, points/decade)")
    ap.add_argument("--json", type=Path, default=None, help="write all ranks and the summary")
    ap.add_argument("--plot", type=Path, default=None, help="rank histograms (PNG)")
    ap.add_argument("--from", dest="from_", action="append", default=[],
                    metavar="LABEL=JSON[@BINS]",
                    help="with --plot: draw saved runs instead of running (re-binned to BINS)")
    ap.add_argument("--title", default="", help="with --from: figure title")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    args.bins_given = args.bins is not None
    if args.bins is None:
        args.bins = 10

    if args.from_:
        if args.plot is None:
            ap.error("--from needs --plot")
        runs = {}
        for item in args.from_:
            label, _, path = item.partition("=")
            path, _, bins = path.partition("@")
            run = json.loads(Path(path).read_text())
            if bins or args.bins_given or "summary" not in run:  # re-bin (or a partial run)
                run["summary"] = summarise(run["records"], run["quantities"], run["n_draws"],
                                           int(bins) if bins else args.bins)
            runs[label] = run
            print(f"{label}: {run.get('what', path)}, {len(run['records'])} replicates, "
                  f"{run['summary']['n_bins']} bins")
            print(_table(run))
        plot_ranks(runs, args.plot, title=args.title)
        print(f"wrote {args.plot}")
        return 0

    fit_kwargs = {k: v for k, v in (("draws", args.draws), ("tune", args.tune),
                                    ("chains", args.chains)) if v is not None}
    if args.model == "drt":
        f_max, f_min, ppd = args.grid
        n = int(round(np.log10(f_max / f_min) * ppd)) + 1
        gen = DrtGenerator(10.0 ** np.linspace(np.log10(f_max), np.log10(f_min), n))
        sim_kwargs = {"noise": "student_t", "nu": args.nu} if args.negative_control else {}
        what = (f"DRT (drt-single, {n} frequencies {f_max:g}-{f_min:g} Hz, "
                f"{gen.tau.size} tau points)")
    else:
        gen = SocGenerator(sd_misreport=args.misreport if args.negative_control else 1.0)
        sim_kwargs = {}
        what = (f"SOC model (soc-spline, {gen.n_designs} designs x {gen.n_cells} cells x "
                f"{gen.n_pulses} pulses, component R2)")
    if args.negative_control:
        what += (f"; NEGATIVE CONTROL: Student-t({args.nu:g}) noise, Gaussian fit"
                 if args.model == "drt" else
                 f"; NEGATIVE CONTROL: pulse scatter {args.misreport:g} x the reported sd")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    checkpoint = (lambda partial: write_json(args.json, {**partial, "what": what})) \
        if args.json else None
    log(f"SBC of {what}: {args.replications} replicates, fit {fit_kwargs or 'preset defaults'}")
    t0 = time.perf_counter()
    run = run_sbc(gen, args.replications, seed=args.seed, n_draws=args.thinned,
                  n_bins=args.bins, fit_kwargs=fit_kwargs, sim_kwargs=sim_kwargs,
                  checkpoint=checkpoint, log=log)
    run["what"] = what
    run["command"] = " ".join(["python", "benchmarks/sbc.py", *(argv or sys.argv[1:])])
    run["wall_s"] = round(time.perf_counter() - t0, 1)
    fit_s = [r["fit_wall_s"] for r in run["records"]]
    run["fit_wall_s_median"] = float(np.median(fit_s))
    if args.json:
        write_json(args.json, run)
    if args.plot:
        plot_ranks({"negative control" if args.negative_control else "correct": run}, args.plot,
                   title=what)
    s = run["summary"]
    print(f"SBC of {what}")
    print(f"{run['n_replicates']} replicates ({len(run['failures'])} failed fits), L = "
          f"{args.thinned}, {args.bins} bins; {run['wall_s']:.0f} s in all, median fit "
          f"{run['fit_wall_s_median']:.1f} s; fits with divergences: {run['divergent_fits']}, "
          f"failing the diagnostics gate: {run['gate_failures']}")
    print(_table(run))
    print(f"flag threshold p < {s['threshold']:.2g}: "
          f"{'FLAGGED' if s['any_flagged'] else 'no quantity flagged'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
