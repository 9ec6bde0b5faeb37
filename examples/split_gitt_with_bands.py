"""Split the resistance of every GITT pulse into R1 / R2 / R3 with bands from EIS.

What it shows
-------------
The paper's EIS-GITT link, step by step, on a simulated study with known truth:

1. fit the symmetric-cell EIS spectra of one design (``drt-hierarchical``);
2. turn the DRT posterior into time-constant bands (``drtbayes.time_constant_bands``):
   contact | charge transfer | diffusion, with a posterior for every boundary;
3. read the design's GITT record and split every pulse (``drtbayes.split_gitt``): each pulse's
   transient gets its own pulse DRT, integrated over the band boundaries drawn from the EIS
   posterior, so the R1/R2/R3 intervals carry the band uncertainty;
4. compare the posterior with the simulated truth and draw the bands, the pulse fits and the
   components against SOC.

``drtbayes.simulate_study(..., fast=True)`` writes a small study (20 pulses of 5 % SOC per
cell); for your own data read the files with ``drtbayes.read_spectrum`` / ``drtbayes.read_gitt``
and give each its design, cell and SOC.

Run
---
::

    python examples/split_gitt_with_bands.py            # full NUTS for the EIS fit
    python examples/split_gitt_with_bands.py --fast     # MAP + Laplace EIS fit, fewer draws

Outputs in ``--out`` (default: a new temporary folder): ``study/`` (the simulated files),
``bands.nc``, ``split.nc``, ``bands.png``, ``pulse_fits.png``, ``components.png``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import tomllib
from pathlib import Path

import numpy as np

import drtbayes

DESIGN, CELL = "S_SE", "S1"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true", help="MAP + Laplace EIS fit, fewer draws")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: temporary)")
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drtbayes.plots.split import plot_bands, plot_components_vs_soc, plot_pulse_fits

    out = args.out or Path(tempfile.mkdtemp(prefix="drtbayes-split-"))
    out.mkdir(parents=True, exist_ok=True)

    # 1. a simulated study: study.toml, eis/*.csv, gitt/*.csv, truth.json
    study_toml = drtbayes.simulate_study(out / "study", seed=0, fast=True, force=True)
    study = tomllib.loads(study_toml.read_text(encoding="utf-8"))
    root = study_toml.parent
    cells = [c for c in study["cells"] if c["design"] == DESIGN]

    # 2. the design's EIS spectra, one hierarchical fit, bands per posterior draw
    spectra = [drtbayes.kk_check(drtbayes.read_spectrum(root / e["file"], design=c["design"],
                                                         cell=c["cell"], soc=e["soc"]))
               for c in cells for e in c["eis"]]
    fit = drtbayes.fit_drt(spectra, model="drt-hierarchical", fast=args.fast, seed=0,
                           progress=False)
    bands = drtbayes.time_constant_bands(fit)
    bands.to_netcdf(out / "bands.nc", engine="h5netcdf")
    for soc in (50.0, 0.0):
        lb = drtbayes.bands_at_soc(bands, design=DESIGN, soc=soc)
        q = np.nanpercentile(lb.values, [2.5, 50, 97.5], axis=0)
        for j, name in enumerate(lb["boundary"].values):
            print(f"EIS {soc:>4g} % SOC: boundary {name:<28} tau = {10 ** q[1, j]:.3g} s "
                  f"[{10 ** q[0, j]:.3g}, {10 ** q[2, j]:.3g}]")

    # 3. one cell's GITT record, split pulse by pulse
    cell = next(c for c in cells if c["cell"] == CELL)
    rec = drtbayes.read_gitt(root / cell["gitt"], design=DESIGN, cell=CELL,
                             capacity_mah=study["study"]["capacity_mah"],
                             area_cm2=study["study"]["area_cm2"])
    split = drtbayes.split_gitt(rec, bands, n_samples=200 if args.fast else 400, seed=0)
    split.to_netcdf(out / "split.nc", engine="h5netcdf")

    # 4. posterior against the simulated truth
    truth = json.loads((root / "truth.json").read_text(encoding="utf-8"))
    t_soc = np.array(truth["pulse_soc"])
    print(f"\n{CELL}: {split.sizes['pulse']} pulses; median [95 % interval] / truth, ohm")
    print("  SOC %  " + "".join(f"{c:>26}" for c in ("R1", "R2", "R3")))
    q = split["resistance"].quantile([0.025, 0.5, 0.975], dim="sample")
    n_in = 0
    for i in range(0, split.sizes["pulse"], 3):
        soc = float(split["soc"].values[i])
        k = int(np.argmin(np.abs(t_soc - soc)))
        row = f"  {soc:5.1f}  "
        for c in ("R1", "R2", "R3"):
            lo, med, hi = (float(x) for x in q.sel(component=c).values[:, i])
            tr = truth["cells"][CELL][c][k]
            n_in += lo <= tr <= hi
            row += f"  {med:6.2f} [{lo:6.2f},{hi:6.2f}] / {tr:5.2f}"
        print(row)
    print(f"  truth inside the 95 % interval in {n_in} of "
          f"{3 * len(range(0, split.sizes['pulse'], 3))} shown cases")

    ax = plot_bands(fit, bands, group=f"{DESIGN}/soc50")
    ax.figure.savefig(out / "bands.png", dpi=100, bbox_inches="tight")
    ax = plot_pulse_fits(rec, split)
    ax.figure.savefig(out / "pulse_fits.png", dpi=100, bbox_inches="tight")
    fig = plot_components_vs_soc(split)
    fig.savefig(out / "components.png", dpi=80, bbox_inches="tight")
    plt.close("all")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
