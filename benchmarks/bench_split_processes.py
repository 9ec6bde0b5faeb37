"""Validation of the GITT split against physical truth (issue 21): band vs process method.

For N seeds of each setting of :mod:`drtbayes.simulate_physical` (two designs, cells with
cell-to-cell variation, overlapping processes, a counter electrode in the half cell) it runs the
pipeline's stages on the study files (read, DRT fit of the symmetric-cell spectra, bands, the
split of every cell, the SOC model, the crossover) once per split method and compares with
``truth.json``, whose truth is each process's own exact step response at the pulse end:

* share of pulse SOCs in 10-90 % (and in 0-10 %) whose R1 / R2 / R3 median is within 5 % of the
  truth, whose 95 % interval covers it, and whose total is within 2 %;
* mean |median - truth| / truth and mean 95 % interval width / truth per component;
* per component with a true crossover: share of studies whose crossover 95 % HDI holds the
  true crossover SOC, mean |median - truth| (% SOC), mean HDI width;
* slow_diffusion: the median relative error of R3(72 s), and R_diff / tau_D with intervals when
  the split reports them.

``method="bands"`` is the split that exists (the paper's band integral). ``method="processes"``
runs when ``drtbayes.split.split_gitt`` accepts ``method`` (the process model of issue 21); it
is skipped, and its column says so, until then. ``_split_cell`` is the one place that calls the
split: it passes the EIS fit too (as ``fit=`` or ``eis_fit=``) when the split accepts it.

Run (2 cores; ``--fast`` takes the Laplace approximation in the DRT fit and the SOC model):
    python benchmarks/bench_split_processes.py --fast --seeds 3
    python benchmarks/bench_split_processes.py --seeds 10 --json out.json   # the issue's run
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

COMPONENTS = ("R1", "R2", "R3", "total")
METHODS = ("bands", "processes")


def _split_cell(method: str, rec, bands, fit, kw: dict, pfit=None):
    """Split one cell with ``method``; None when this drtbayes has no such split method."""
    from drtbayes.split import split_gitt

    params = inspect.signature(split_gitt).parameters
    if method == "processes" and "processes" in params:
        # the process method takes the process model fitted to the same spectra
        return split_gitt(rec, bands, method=method, processes=pfit, **kw)
    if method == "bands":
        return split_gitt(rec, bands, **kw)
    if "method" not in params:
        return None
    extra = {}
    for name in ("fit", "eis_fit"):
        if name in params:
            extra[name] = fit
    return split_gitt(rec, bands, method=method, **kw, **extra)


def _pulse_table(split, truth: dict) -> dict[str, np.ndarray]:
    """Per pulse: soc, truth (pulse, component), median, lo95, hi95 (pulse, component)."""
    soc = split["soc"].values
    cells = split["cell"].values
    pulse_soc = np.array(truth["pulse_soc"])
    r = split["resistance"].sel(component=list(COMPONENTS)).transpose("pulse", "component",
                                                                       "sample").values
    tr = np.empty((soc.size, len(COMPONENTS)))
    for i, (s, c) in enumerate(zip(soc, cells, strict=True)):
        j = int(np.argmin(np.abs(pulse_soc - s)))
        tr[i] = [truth["cells"][str(c)][k][j] for k in COMPONENTS]
    lo, med, hi = np.quantile(r, [0.025, 0.5, 0.975], axis=2)
    return {"soc": soc, "truth": tr, "median": med, "lo95": lo, "hi95": hi, "split": split}


def _pulse_metrics(tab: dict, lo_soc: float, hi_soc: float) -> dict:
    m = (tab["soc"] >= lo_soc) & (tab["soc"] <= hi_soc)
    tr, med = tab["truth"][m], tab["median"][m]
    # a pulse without a finite estimate counts as a miss (NaN compares False)
    rel = np.abs(med - tr) / tr
    cover = (tab["lo95"][m] <= tr) & (tr <= tab["hi95"][m])
    width = (tab["hi95"][m] - tab["lo95"][m]) / tr
    out = {"n_pulses": int(m.sum())}
    for k, comp in enumerate(COMPONENTS):
        out[comp] = {"within5": float((rel[:, k] <= 0.05).mean()),
                     "within2": float((rel[:, k] <= 0.02).mean()),
                     "cover95": float(cover[:, k].mean()),
                     "mean_abs_rel_err": float(np.nanmean(rel[:, k])),
                     "median_rel_err": float(np.nanmedian((med[:, k] - tr[:, k]) / tr[:, k])),
                     "mean_width95_rel": float(np.nanmean(width[:, k])),
                     "n_finite": int(np.isfinite(med[:, k]).sum())}
    return out


def _diffusion_params(split) -> dict:
    """R_diff and tau_D with intervals when the split reports them (by variable name)."""
    out = {}
    for var in split.data_vars:
        name = str(var).lower()
        if ("r_diff" in name or "tau_d" in name) and "sample" in split[var].dims:
            q = split[var].quantile([0.025, 0.5, 0.975], dim="sample").values
            out[str(var)] = {"median_of_medians": float(np.nanmedian(q[1])),
                             "mean_rel_width95": float(np.nanmean((q[2] - q[0]) / q[1]))}
    return out


def run_study(setting: str, seed: int, *, fast: bool, n_pulses: int, n_cells: int,
              methods: tuple[str, ...], workdir: Path) -> dict:
    """Simulate one study and score each split method on it."""
    from drtbayes.bands import time_constant_bands
    from drtbayes.compare import crossover_report, fit_soc_model
    from drtbayes.drt import fit_drt
    from drtbayes.errors import DataError
    from drtbayes.pipeline import read_inputs
    from drtbayes.simulate_physical import simulate_physical_study
    from drtbayes.study import load_study

    out = workdir / f"{setting}_seed{seed}"
    t0 = time.perf_counter()
    toml = simulate_physical_study(out, setting=setting, seed=seed, n_pulses=n_pulses,
                                   n_cells_per_design=n_cells, force=True)
    truth = json.loads((out / "truth.json").read_text())
    study = load_study(toml)
    inputs = read_inputs(study)
    t_sim = time.perf_counter() - t0
    t0 = time.perf_counter()
    fit = fit_drt(inputs["spectra"], model=study.models.get("eis", "drt-hierarchical"),
                  seed=seed, fast=fast, progress=False)
    bands = time_constant_bands(fit, processes=study.processes)
    t_fit = time.perf_counter() - t0
    res = {"setting": setting, "seed": seed, "t_simulate_s": t_sim, "t_eis_fit_s": t_fit,
           "true_crossover": truth["crossover_soc"], "methods": {}}
    pfit = None
    if "processes" in methods:
        try:
            from drtbayes.processes import fit_processes
        except ImportError:
            pass
        else:
            t0 = time.perf_counter()
            pfit = fit_processes(inputs["spectra"], seed=seed)
            res["t_process_fit_s"] = time.perf_counter() - t0
            res["process_model"] = pfit.attrs["model"]
    for method in methods:
        t0 = time.perf_counter()
        parts = []
        for i, ((design, cell), rec) in enumerate(inputs["gitt"].items()):
            c = next(x for x in study.cells if x.design == design and x.cell == cell)
            kw = dict(capacity_mah=c.capacity_mah, area_cm2=c.area_cm2,
                      policy=study.band_policy, seed=seed + i)
            part = _split_cell(method, rec, bands, fit, kw, pfit)
            if part is None:
                break
            parts.append(part)
        if not parts:
            res["methods"][method] = {"skipped": "split_gitt has no method= parameter"}
            continue
        import xarray as xr

        split = xr.concat(parts, dim="pulse", combine_attrs="override")
        t_split = time.perf_counter() - t0
        tab = _pulse_table(split, truth)
        soc_error = None
        try:
            model = fit_soc_model(split, components=COMPONENTS, seed=seed, fast=fast)
            cross = crossover_report(model, "L_SE", "S_SE", components=COMPONENTS)
        except DataError as exc:
            # e.g. a component with no usable pulse for a design: the method fails the study's
            # crossover (counted as a miss), its pulse figures still stand
            soc_error = str(exc)
            cross = {"components": {comp: {} for comp in COMPONENTS}}
        xo = {}
        for comp in COMPONENTS:
            c = cross["components"][comp]
            t_x = truth["crossover_soc"][comp]
            hdi = c.get("hdi95")
            xo[comp] = {"truth": t_x, "median": c.get("soc_median") if hdi else None,
                        "hdi95": hdi, "p_crossing": c.get("p_crossing"),
                        "hit": (None if t_x is None else
                                bool(hdi is not None and hdi[0] <= t_x <= hdi[1])),
                        "abs_err": (None if t_x is None or not hdi
                                    else abs(c["soc_median"] - t_x)),
                        "width": None if not hdi else hdi[1] - hdi[0]}
        res["methods"][method] = {
            "t_split_s": t_split,
            "mid": _pulse_metrics(tab, 10.0, 90.0),
            "low": _pulse_metrics(tab, 0.0, 10.0),
            "crossover": xo,
            "diffusion": _diffusion_params(split),
            "split_method_attr": str(split.attrs.get("method", "")),
            "soc_model_error": soc_error,
            "unresolved_pulses": {comp: int((~split["resolved"].sel(component=comp)).sum())
                                  for comp in COMPONENTS} if "resolved" in split else {},
        }
    return res


def _pct(x: float | None) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{100 * x:.0f} %"


def summarize(results: list[dict], settings: list[str], methods: tuple[str, ...]) -> str:
    """Return the issue's table: one column per (setting, method), pooled over seeds."""
    cols = [(s, m) for s in settings for m in methods]
    rows: list[tuple[str, list[str]]] = []

    def pooled(s: str, m: str, region: str, comp: str, key: str) -> float | None:
        vals, weights = [], []
        for r in results:
            if r["setting"] != s or "skipped" in r["methods"].get(m, {"skipped": 1}):
                continue
            reg = r["methods"][m][region]
            if not np.isfinite(reg[comp][key]):
                continue    # a mean over no finite estimate (all pulses unresolved)
            vals.append(reg[comp][key])
            weights.append(reg[comp].get("n_finite", reg["n_pulses"]))
        if not vals or sum(weights) == 0:
            return None
        return float(np.average(vals, weights=weights))

    for region, label in (("mid", "10-90 %"), ("low", "0-10 %")):
        for comp in ("R1", "R2", "R3"):
            rows.append((f"{comp} median within 5 %, SOC {label}",
                         [_pct(pooled(s, m, region, comp, "within5")) for s, m in cols]))
        for comp in ("R1", "R2", "R3"):
            rows.append((f"{comp} 95 % interval covers, SOC {label}",
                         [_pct(pooled(s, m, region, comp, "cover95")) for s, m in cols]))
        rows.append((f"total within 2 %, SOC {label}",
                     [_pct(pooled(s, m, region, "total", "within2")) for s, m in cols]))
    for comp in COMPONENTS:
        rows.append((f"{comp} mean abs(median - truth) / truth, 10-90 %",
                     [_pct(pooled(s, m, "mid", comp, "mean_abs_rel_err")) for s, m in cols]))
    for comp in ("R1", "R2", "R3"):
        rows.append((f"{comp} median signed error (median over pulses), 10-90 %",
                     [_pct(pooled(s, m, "mid", comp, "median_rel_err")) for s, m in cols]))
    for comp in COMPONENTS:
        rows.append((f"{comp} mean 95 % width / truth, 10-90 %",
                     [_pct(pooled(s, m, "mid", comp, "mean_width95_rel")) for s, m in cols]))

    def xo(s: str, m: str, comp: str, key: str) -> str:
        vals = [r["methods"][m]["crossover"][comp][key] for r in results
                if r["setting"] == s and "skipped" not in r["methods"].get(m, {"skipped": 1})]
        if not vals:
            return "–"
        if key == "hit":
            return f"{sum(bool(v) for v in vals)}/{len(vals)}"
        got = [v for v in vals if v is not None]
        return f"{np.mean(got):.1f} ({len(got)}/{len(vals)})" if got else "none"

    for comp in ("R2", "R3", "total"):
        rows.append((f"{comp} crossover HDI holds truth (studies)",
                     [xo(s, m, comp, "hit") for s, m in cols]))
        rows.append((f"{comp} crossover mean abs(median - truth) / % SOC",
                     [xo(s, m, comp, "abs_err") for s, m in cols]))
        rows.append((f"{comp} crossover mean HDI width / % SOC",
                     [xo(s, m, comp, "width") for s, m in cols]))
    n = {s: sum(r["setting"] == s for r in results) for s in settings}
    head = "| | " + " | ".join(f"{s} ({n[s]} seeds), {m}" for s, m in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for name, vals in rows:
        lines.append(f"| {name} | " + " | ".join(vals) + " |")
    errs = [(r["setting"], r["seed"], m, v["soc_model_error"]) for r in results
            for m, v in r["methods"].items() if v.get("soc_model_error")]
    if errs:
        lines.append("")
        lines += [f"SOC model failed ({s} seed {sd}, {m}): {e}" for s, sd, m, e in errs]
    skipped = sorted({m for r in results for m, v in r["methods"].items() if "skipped" in v})
    if skipped:
        lines.append("")
        lines.append(f"skipped methods: {', '.join(skipped)} (split_gitt has no method=)")
    return "\n".join(lines)


def main() -> None:  # noqa: D103 - the module docstring is the usage
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="studies per setting (default 10)")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--settings", nargs="+", default=["overlapping", "slow_diffusion"])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--fast", action="store_true",
                    help="Laplace approximation in the DRT fit and the SOC model")
    ap.add_argument("--n-pulses", type=int, default=100)
    ap.add_argument("--cells", type=int, default=2, help="cells per design (default 2)")
    ap.add_argument("--out", type=Path, default=None, help="keep the simulated studies here")
    ap.add_argument("--json", type=Path, default=None, help="write every study's figures")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_split_processes_"))
    results = []
    t_all = time.perf_counter()
    for setting in args.settings:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.perf_counter()
            r = run_study(setting, seed, fast=args.fast, n_pulses=args.n_pulses,
                          n_cells=args.cells, methods=tuple(args.methods), workdir=work)
            results.append(r)
            brief = []
            for m, v in r["methods"].items():
                if "skipped" in v:
                    brief.append(f"{m}: skipped")
                    continue
                mid = v["mid"]
                brief.append(f"{m}: within5 R1/R2/R3 " + "/".join(
                    _pct(mid[c]["within5"]) for c in ("R1", "R2", "R3"))
                    + f", total within2 {_pct(mid['total']['within2'])}")
            print(f"{setting} seed {seed}: {time.perf_counter() - t0:.0f} s; "
                  + "; ".join(brief), flush=True)
    print()
    print(f"{len(results)} studies in {time.perf_counter() - t_all:.0f} s "
          f"({'fast (Laplace)' if args.fast else 'NUTS'}; {args.cells} cells per design, "
          f"{args.n_pulses} pulses each)\n")
    print(summarize(results, args.settings, tuple(args.methods)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
