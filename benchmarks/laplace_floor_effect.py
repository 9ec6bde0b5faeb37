"""Effect of a change on the demo's ``--fast`` numbers: DRT Laplace widths and the crossovers.

Usage: ``python benchmarks/laplace_floor_effect.py DEMO_OUT [DEMO_OUT ...]`` where each
``DEMO_OUT`` was written by ``drtbayes demo --fast --out DEMO_OUT`` (docs/performance.md,
"One Laplace floor").
"""
import json
import sys

import numpy as np

import drtbayes

for tag in sys.argv[1:]:
    fit = drtbayes.load(f"{tag}/results/eis_fit.nc")
    d = fit.summary_dict()
    rp = [(k, v["r_pol"]["median"], v["r_pol"]["hdi95"]) for k, v in d.items()
          if not k.startswith("_")]
    widths = [h[1] - h[0] for _, _, h in rp]
    meds = [m for _, m, _ in rp]
    g = np.asarray(fit.tree["posterior"]["gamma"].values)
    q_hi = np.quantile(g, 0.975, axis=(0, 1))
    q_lo = np.maximum(np.quantile(g, 0.025, axis=(0, 1)), 1e-300)
    print(f"{tag}: r_pol median {min(meds):.3f}-{max(meds):.3f} ohm, mean 95 % HDI width "
          f"{np.mean(widths):.3f} ohm, largest gamma 97.5/2.5 % quantile ratio "
          f"{np.nanmax(q_hi / q_lo):.3g}")
    cx = json.load(open(f"{tag}/results/crossover.json"))
    for c, v in cx["components"].items():
        med = None if v["soc_median"] is None else round(v["soc_median"], 2)
        hdi = v["hdi95"] and [round(x, 2) for x in v["hdi95"]]
        print(f"    {c}: p_cross {v['p_crossing']:.3f}, soc_median {med}, hdi95 {hdi}")
