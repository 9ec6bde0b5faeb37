"""Run a whole study and read off the crossover SOC of two electrode designs.

What it shows
-------------
``drtbayes.run_study`` takes a study file (``study.toml``: cells, their EIS spectra with SOC,
their GITT records, the two designs to compare) and runs every stage: hierarchical DRT fit of
the EIS, time-constant bands, GITT split, SOC-curve model, crossover, report. This script runs
it on a simulated study whose true crossover is known (20 % SOC for R2 and R3), prints the
crossover of every component with its 95 % HDI and P(cross), and recomputes one crossover from
the saved SOC model with ``drtbayes.crossover`` (how you would use a finished run from Python).

For your own data write the study file as in docs/formats.md and call
``drtbayes.run_study("study.toml", "results")`` (or ``drtbayes run study.toml --out results``).

Run
---
::

    python examples/crossover_from_study.py            # full NUTS posteriors (several minutes)
    python examples/crossover_from_study.py --fast     # MAP + Laplace, a small study

Outputs in ``--out`` (default: a new temporary folder): ``study/`` (the simulated input) and
``results/`` (``crossover.json``, ``resistance.csv``, ``report.html``, ``figures/*.png``, the
``.nc`` posteriors) plus ``crossover_R2.png``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import drtbayes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true",
                    help="MAP + Laplace posteriors on a small study (20 pulses per cell)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: temporary)")
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drtbayes.plots.compare import plot_crossover

    out = args.out or Path(tempfile.mkdtemp(prefix="drtbayes-crossover-"))
    out.mkdir(parents=True, exist_ok=True)

    # two cells per design; --fast: 20 pulses of 5 % SOC per cell instead of 100 of 1 %
    study = drtbayes.simulate_study(out / "study", seed=0, crossover_soc=20.0, fast=args.fast,
                                    force=True)
    res = drtbayes.run_study(study, out / "results", seed=0, fast=args.fast, force=True,
                             quiet=True)
    print(res.headline())
    for w in res.warnings:
        print(f"warning: {w}")

    truth = json.loads((out / "study" / "truth.json").read_text(encoding="utf-8"))
    print("true crossover SOC:", {k: None if v is None else round(v, 1)
                                  for k, v in truth["crossover_soc"].items()})

    # the saved SOC model answers further questions without refitting
    model = drtbayes.load(out / "results" / "soc_model.nc")
    x = drtbayes.crossover(model, "L_SE", "S_SE", component="R2", grid=10.0)
    print("R2: P(L_SE has the lower R2) by SOC: " + ", ".join(
        f"{s:g} %: {p:.2f}" for s, p in zip(x["p_a_better"]["soc"], x["p_a_better"]["p"])))

    ax = plot_crossover(model, "L_SE", "S_SE", "R2", truth=truth["crossover_soc"]["R2"])
    ax.figure.savefig(out / "crossover_R2.png", dpi=100, bbox_inches="tight")
    plt.close("all")
    print(f"report: {res.files.get('report.html')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
