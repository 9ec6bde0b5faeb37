"""Fit the Bayesian DRT to one impedance spectrum and plot it.

What it shows
-------------
The shortest path from a spectrum file to a DRT with credible bands: read the file
(``drtbayes.read_spectrum`` recognises CSV/TSV, BioLogic ``.mpt``/``.mpr`` and Gamry ``.DTA``),
run the Kramers-Kronig check, fit the ``drt-single`` preset, print R_inf, R_pol and the peaks
with their 95 % intervals, save the posterior and draw the DRT and the fit overview.

Without a path it first writes a small synthetic spectrum (R_inf 5 ohm, two ZARCs, 0.2 %
noise) to ``OUT/synthetic.csv`` and fits that, so it runs anywhere.

Run
---
::

    python examples/fit_one_spectrum.py                      # synthetic spectrum, full NUTS
    python examples/fit_one_spectrum.py my_cell.DTA --design L_SE --soc 50   # your file
    python examples/fit_one_spectrum.py --fast --out out/    # MAP + Laplace, a few seconds

Outputs in ``--out`` (default: a new temporary folder): ``fit.nc`` (the posterior,
``drtbayes.load`` reads it back), ``summary.json``, ``drt.png``, ``overview.png``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

import drtbayes
from drtbayes import elements


def synthetic_spectrum(path: Path) -> Path:
    """Write a two-ZARC spectrum with 0.2 % noise as a canonical drtbayes CSV."""
    freq = elements.log_frequencies(1e6, 1e-2, per_decade=8)
    net = elements.RCNetwork(5.0) + elements.zarc(10.0, 1e-3, 0.85) + elements.zarc(20.0, 1e-1, 0.8)
    z = net.impedance(freq)
    rng = np.random.default_rng(1)
    z = z + 0.002 * np.abs(z) * (rng.normal(size=z.size) + 1j * rng.normal(size=z.size))
    # make_spectrum validates the arrays exactly as a reader would
    spec = drtbayes.make_spectrum(freq, z, design="demo", cell="C1", soc=50.0)
    rows = ["frequency_hz,z_real_ohm,z_imag_ohm"]
    rows += [f"{f:.6e},{zr:.8e},{zi:.8e}" for f, zr, zi in
             zip(spec["frequency"].values, spec["z_real"].values, spec["z_imag"].values)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spectrum", nargs="?", type=Path, help="spectrum file (default: synthetic)")
    ap.add_argument("--design", default=None, help="electrode design label")
    ap.add_argument("--cell", default=None, help="cell label (default: the file name)")
    ap.add_argument("--soc", type=float, default=None, help="SOC of the spectrum, percent")
    ap.add_argument("--model", default="drt-single", help="preset name or .toml path")
    ap.add_argument("--fast", action="store_true", help="MAP + Laplace instead of NUTS")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: temporary)")
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from drtbayes import plots

    out = args.out or Path(tempfile.mkdtemp(prefix="drtbayes-fit-one-"))
    out.mkdir(parents=True, exist_ok=True)
    path = args.spectrum
    if path is None:
        path = synthetic_spectrum(out / "synthetic.csv")
        args.design, args.soc = args.design or "demo", 50.0 if args.soc is None else args.soc

    # design, cell and SOC label the result (and decide the pooling in joint fits)
    spec = drtbayes.read_spectrum(path, design=args.design, cell=args.cell, soc=args.soc)
    spec = drtbayes.kk_check(spec)  # warns KramersKronigWarning above 1 % residual
    print(f"{path}: {spec.sizes['frequency']} points, "
          f"{float(spec.frequency.max()):.3g} .. {float(spec.frequency.min()):.3g} Hz, "
          f"KK max residual {100 * float(spec.attrs['kk_max_residual']):.2f} %")

    fit = drtbayes.fit_drt(spec, model=args.model, fast=args.fast, seed=0, progress=False)
    fit.save(out / "fit.nc", force=True)
    summary = fit.to_json_summary()
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")

    label = fit.spectra[0]
    s = summary[label]
    print(f"method: {fit.method}, preset: {summary['_preset']}")
    for name in ("r_inf", "r_pol"):
        lo, hi = s[name]["hdi95"]
        print(f"  {name:<5} = {s[name]['median']:.3f} ohm  (95 % HDI {lo:.3f} .. {hi:.3f})")
    for k, pk in enumerate(s["peaks"], 1):
        print(f"  peak {k}: tau = {pk['tau_s']['median']:.3g} s, "
              f"R = {pk['r_ohm']['median']:.3g} ohm (in {100 * pk['probability']:.0f} % of draws)")
    d = s["diagnostics"]
    if fit.method == "nuts":
        print(f"  diagnostics: R-hat max {d['rhat_max']}, bulk ESS min {d['ess_bulk_min']}, "
              f"divergences {d['divergences']}, gate {'passed' if d['gate_pass'] else 'FAILED'}")

    ax = plots.plot_drt(fit)
    ax.figure.savefig(out / "drt.png", dpi=110, bbox_inches="tight")
    fig = plots.plot_fit_overview(fit)
    fig.savefig(out / "overview.png", dpi=90, bbox_inches="tight")
    plt.close("all")
    print(f"wrote {out / 'fit.nc'}, {out / 'drt.png'}, {out / 'overview.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
