"""The ``drtbayes`` command: a thin face over the Python API.

Every user error (a :class:`~drtbayes.errors.DrtbayesError`) is printed as one line and the
command exits with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from .errors import DataError, DrtbayesError, DrtbayesWarning, ValueRangeError

EXIT_USER_ERROR = 2


def _warn_line(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    # drtbayes warnings are meant for people: one line, no source location.
    if issubclass(category, DrtbayesWarning):
        print(f"drtbayes: warning: {category.__name__}: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drtbayes",
        description="Bayesian DRT analysis of all-solid-state battery electrodes.",
    )
    p.add_argument("--version", action="version", version=f"drtbayes {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("read", help="summarise what drtbayes reads from instrument files")
    r.add_argument("files", nargs="+", type=Path)
    r.add_argument("--capacity-mah", type=float, default=None,
                   help="cell capacity for the SOC of GITT pulses")
    r.add_argument("--imag-sign", default="auto", choices=["auto", "flip", "as-is"])

    sub.add_parser("models", help="list the model presets")

    f = sub.add_parser("fit-eis", help="fit the Bayesian DRT to impedance spectra")
    f.add_argument("files", nargs="+", type=Path)
    f.add_argument("--model", default=None, help="preset name or path to a .toml preset")
    f.add_argument("--design", default=None)
    f.add_argument("--cell", default=None)
    f.add_argument("--soc", type=float, default=None)
    f.add_argument("--cell-type", choices=["symmetric", "half"], default="symmetric")
    f.add_argument("--imag-sign", default="auto", choices=["auto", "flip", "as-is"])
    f.add_argument("--out", type=Path, default=None,
                   help="fit.nc (one joint fit) or a folder (one fit per file: batch mode)")
    f.add_argument("--json", type=Path, default=None, help="write the summary JSON here")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--draws", type=int, default=None)
    f.add_argument("--tune", type=int, default=None)
    f.add_argument("--chains", type=int, default=None)
    f.add_argument("--target-accept", type=float, default=None, dest="target_accept",
                   help="NUTS step-size target (preset default 0.95; 0.98 against divergences)")
    f.add_argument("--fast", action="store_true", help="approximate posterior (MAP + Laplace)")
    f.add_argument("--capacitance-f", type=float, default=None, dest="capacitance_f",
                   help="known series capacitance (F) of every spectrum, e.g. a symmetric "
                        "cell's chemical capacitance from GITT; a log-normal prior on C")
    f.add_argument("--capacitance-rel-sd", type=float, default=None, dest="capacitance_rel_sd",
                   help="sd of ln C of that prior (default 0.1, about 10 %%)")
    f.add_argument("--force", action="store_true", help="overwrite existing outputs")
    f.add_argument("--scheduler", default=None, help="Dask scheduler address (batch mode)")
    f.add_argument("--workers", type=int, default=None, help="local Dask workers (batch mode)")
    f.add_argument("--quiet", action="store_true")

    s = sub.add_parser("split-gitt", help="split GITT pulse resistances into R1/R2/R3")
    s.add_argument("record", type=Path)
    s.add_argument("--bands", type=Path, required=True, help="bands.nc from a study run")
    s.add_argument("--capacity-mah", type=float, required=True)
    s.add_argument("--area-cm2", type=float, default=None)
    s.add_argument("--design", default=None)
    s.add_argument("--cell", default=None)
    s.add_argument("--policy", choices=["interpolate", "nearest"], default="interpolate")
    s.add_argument("--samples", type=int, default=400)
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--force", action="store_true")

    c = sub.add_parser("crossover", help="crossover SOC and contrasts between two designs")
    c.add_argument("inputs", nargs="+", type=Path, help="split.nc file(s) or a soc_model.nc")
    c.add_argument("--a", required=True)
    c.add_argument("--b", required=True)
    c.add_argument("--component", action="append", default=None,
                   choices=["R1", "R2", "R3", "total"], help="repeatable; default all")
    c.add_argument("--json", type=Path, default=None)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--fast", action="store_true")
    c.add_argument("--force", action="store_true")

    m = sub.add_parser("simulate", help="write a simulated two-design study with known truth")
    m.add_argument("outdir", type=Path)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--crossover-soc", type=float, default=20.0)
    m.add_argument("--fast", action="store_true", help="a small study (fewer pulses)")
    m.add_argument("--force", action="store_true")

    u = sub.add_parser("run", help="run a whole study described in a study TOML file")
    u.add_argument("study", type=Path)
    u.add_argument("--out", type=Path, required=True)
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--force", action="store_true")
    u.add_argument("--fast", action="store_true")
    u.add_argument("--quiet", action="store_true")
    u.add_argument("--scheduler", default=None, help="Dask scheduler address")
    u.add_argument("--workers", type=int, default=None, help="local Dask workers")

    d = sub.add_parser("demo", help="simulate a study with known truth, run it, report")
    d.add_argument("--out", type=Path, default=Path("drtbayes-demo"))
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--crossover-soc", type=float, default=20.0)
    d.add_argument("--fast", action="store_true")
    d.add_argument("--force", action="store_true")
    d.add_argument("--quiet", action="store_true")
    return p


# --------------------------------------------------------------------------- commands
def _cmd_read(a: argparse.Namespace) -> int:
    from .io import describe

    for path in a.files:
        kw = {"capacity_mah": a.capacity_mah} if a.capacity_mah else {}
        print(describe(path, imag_sign=a.imag_sign, **kw))
    return 0


def _cmd_models(a: argparse.Namespace) -> int:
    from .presets import list_presets

    rows = list_presets()
    width = max(len(n) for n, _ in rows)
    for name, desc in rows:
        print(f"{name:<{width}}  {desc}")
    return 0


def _sampler_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    from .inference import check_sampler_settings

    kw = {k: getattr(a, k) for k in ("draws", "tune", "chains", "target_accept")
          if getattr(a, k) is not None}
    # checked here once, not per file of a batch (where every file would fail alike)
    check_sampler_settings(kw, label=lambda key: "--" + key.replace("_", "-"))
    if getattr(a, "capacitance_rel_sd", None) is not None and a.capacitance_f is None:
        raise ValueRangeError("--capacitance-rel-sd needs --capacitance-f")
    if getattr(a, "capacitance_f", None) is not None:
        # checked here once for a batch too (each file would fail alike)
        if not (math.isfinite(a.capacitance_f) and a.capacitance_f > 0):
            raise ValueRangeError(f"--capacitance-f {a.capacitance_f:g}: must be > 0 (F)")
        rel = a.capacitance_rel_sd
        if rel is not None and not (math.isfinite(rel) and 0 < rel <= 5):
            raise ValueRangeError(f"--capacitance-rel-sd {rel:g}: the sd of ln C, between 0 "
                                  "and 5 (0.1 means about 10 %)")
        kw["capacitance_f"] = a.capacitance_f
        if a.capacitance_rel_sd is not None:
            kw["capacitance_rel_sd"] = a.capacitance_rel_sd
    return kw


def _cmd_fit_eis(a: argparse.Namespace) -> int:
    from ._atomic import atomic_write_text, check_writable
    from .io import kk_check, read_spectra

    batch = a.out is not None and (a.out.is_dir() or a.out.suffix == "")
    if batch:
        from .batch import fit_eis_batch

        summary = fit_eis_batch(
            a.files,
            a.out,
            model=a.model or "drt-single",
            seed=a.seed,
            fast=a.fast,
            force=a.force,
            scheduler=a.scheduler,
            workers=a.workers,
            quiet=a.quiet,
            read_kwargs={"design": a.design, "cell": a.cell, "soc": a.soc,
                         "cell_type": a.cell_type, "imag_sign": a.imag_sign},
            **_sampler_kwargs(a),
        )
        print(f"{summary['ok']} fitted, {summary['skipped']} up to date, "
              f"{summary['failed']} failed; table: {summary['table']}")
        return 0 if summary["failed"] == 0 else EXIT_USER_ERROR

    from .drt import fit_drt

    for target in (a.out, a.json):
        if target is not None:
            check_writable(target, force=a.force)
    spectra = []
    for path in a.files:
        for s in read_spectra(path, design=a.design, cell=a.cell, soc=a.soc,
                              cell_type=a.cell_type, imag_sign=a.imag_sign):
            spectra.append(kk_check(s))
    model = a.model or ("drt-hierarchical" if len(spectra) > 1 else "drt-single")
    t0 = time.perf_counter()
    fit = fit_drt(spectra, model=model, seed=a.seed, fast=a.fast, progress=not a.quiet,
                  **_sampler_kwargs(a))
    wall = time.perf_counter() - t0
    summary = fit.to_json_summary()
    for entry in summary.values() if isinstance(summary, dict) else []:
        if isinstance(entry, dict):
            entry.setdefault("wall_s", round(wall / max(len(spectra), 1), 3))
    if a.out is not None:
        fit.save(a.out, force=a.force)
        print(f"wrote {a.out}")
    text = json.dumps(summary, indent=2)
    if a.json is not None:
        atomic_write_text(a.json, text, force=a.force)
        print(f"wrote {a.json}")
    else:
        print(text)
    return 0


def _cmd_split(a: argparse.Namespace) -> int:
    import xarray as xr

    from ._atomic import atomic_write, check_writable
    from .io import read_gitt
    from .split import split_gitt

    check_writable(a.out, force=a.force)
    if not a.bands.is_file():
        raise DataError(f"{a.bands}: bands file not found (make it with 'drtbayes run')")
    bands = xr.load_dataset(a.bands, engine="h5netcdf")
    rec = read_gitt(a.record, design=a.design, cell=a.cell, capacity_mah=a.capacity_mah,
                    area_cm2=a.area_cm2)
    split = split_gitt(rec, bands, capacity_mah=a.capacity_mah, area_cm2=a.area_cm2,
                       policy=a.policy, n_samples=a.samples, seed=a.seed, progress=True)
    atomic_write(a.out, lambda p: split.to_netcdf(p, engine="h5netcdf"), force=a.force)
    med = split["resistance"].median("sample")
    print(f"wrote {a.out}: {split.sizes['pulse']} pulses")
    for comp in med["component"].values:
        v = med.sel(component=comp).values
        print(f"  {comp:>5}: median over pulses {float(v.mean()):.4g} ohm "
              f"(range {float(v.min()):.4g} .. {float(v.max()):.4g})")
    return 0


def _cmd_crossover(a: argparse.Namespace) -> int:
    import xarray as xr

    from ._atomic import atomic_write_text, check_writable
    from .compare import crossover_report, fit_soc_model
    from .results import load

    if a.json is not None:
        check_writable(a.json, force=a.force)
    comps = tuple(a.component) if a.component else ("R1", "R2", "R3", "total")
    for p in a.inputs:
        if not p.is_file():
            raise DataError(f"{p}: file not found")
    first = load(a.inputs[0])
    if hasattr(first, "tree"):
        model = first
    else:
        splits = [first.dataset] + [xr.load_dataset(p, engine="h5netcdf") for p in a.inputs[1:]]
        split = xr.concat(splits, dim="pulse", combine_attrs="override") if len(splits) > 1 \
            else splits[0]
        model = fit_soc_model(split, components=comps, seed=a.seed, fast=a.fast)
    rep = crossover_report(model, a.a, a.b, components=comps)
    text = json.dumps(rep, indent=2)
    if a.json is not None:
        atomic_write_text(a.json, text, force=a.force)
        print(f"wrote {a.json}")
    for comp, c in rep["components"].items():
        hdi = c.get("hdi95")
        where = (f"{c['soc_median']:.1f} % SOC, 95 % HDI [{hdi[0]:.1f}, {hdi[1]:.1f}]"
                 if hdi else "no credible crossing")
        rev = c.get("reversal") or {}
        if hdi and rev and not rev["credible"]:
            where += (f"; not a credible reversal (P({a.a} better) "
                      f"{rev['p_a_better_min']:.2f}-{rev['p_a_better_max']:.2f})")
        print(f"{comp:>5}: P(cross) = {c['p_crossing']:.2f}; {where}")
    if a.json is None:
        print(text)
    return 0


def _cmd_simulate(a: argparse.Namespace) -> int:
    from .simulate import simulate_study

    path = simulate_study(a.outdir, seed=a.seed, crossover_soc=a.crossover_soc, fast=a.fast,
                          force=a.force)
    print(f"wrote a simulated study: {path}")
    return 0


def _cmd_run(a: argparse.Namespace) -> int:
    from .pipeline import run_study

    res = run_study(a.study, a.out, seed=a.seed, force=a.force, fast=a.fast, quiet=a.quiet,
                    scheduler=a.scheduler, workers=a.workers)
    for w in res.warnings:
        print(f"drtbayes: warning: {w}", file=sys.stderr)
    print(res.headline())
    print(f"report: {res.files.get('report.html')}")
    return 0


def _cmd_demo(a: argparse.Namespace) -> int:
    from .pipeline import run_study
    from .simulate import simulate_study

    t0 = time.perf_counter()
    study_dir = a.out / "study"
    # The demo owns its simulated inputs: regenerating them with the same seed writes the same
    # bytes, so a rerun resumes from the finished stages.
    study_path = simulate_study(study_dir, seed=a.seed, crossover_soc=a.crossover_soc,
                                fast=a.fast, force=True)
    study_file = study_path if Path(study_path).suffix == ".toml" else study_dir / "study.toml"
    truth = json.loads((study_dir / "truth.json").read_text(encoding="utf-8"))
    res = run_study(study_file, a.out / "results", seed=a.seed, force=a.force, fast=a.fast,
                    quiet=a.quiet, truth=truth)
    for w in res.warnings:
        print(f"drtbayes: warning: {w}", file=sys.stderr)
    print(res.headline())
    print(_truth_lines(res.crossover, truth))
    print(f"report: {res.files.get('report.html')}")
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    return 0


def _truth_lines(cross: dict[str, Any], truth: dict[str, Any]) -> str:
    true_x = truth.get("crossover_soc", {})
    lines = ["against the simulated truth:"]
    for comp, c in cross.get("components", {}).items():
        t = true_x.get(comp)
        hdi = c.get("hdi95")
        credible = hdi is not None and (c.get("reversal") or {}).get("credible", True)
        if t is None:
            ok = "no true crossing; " + (
                "correctly no credible reversal" if not credible
                else "a credible reversal was reported"
            )
        elif hdi is None:
            ok = f"true {t:.1f} %: no credible crossing found"
        else:
            inside = hdi[0] <= t <= hdi[1]
            ok = f"true {t:.1f} %: {'inside' if inside else 'OUTSIDE'} the 95 % HDI"
        lines.append(f"  {comp:>5}: {ok}")
    return "\n".join(lines)


_COMMANDS = {
    "read": _cmd_read,
    "models": _cmd_models,
    "fit-eis": _cmd_fit_eis,
    "split-gitt": _cmd_split,
    "crossover": _cmd_crossover,
    "simulate": _cmd_simulate,
    "run": _cmd_run,
    "demo": _cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``drtbayes`` command."""
    args = _parser().parse_args(argv)
    warnings.showwarning = _warn_line
    try:
        return _COMMANDS[args.command](args)
    except DrtbayesError as exc:
        if args.debug:
            raise
        msg = " ".join(str(exc).split())
        print(f"drtbayes: error: {msg}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("drtbayes: interrupted; finished outputs are kept, rerun to continue",
              file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = _default_showwarning


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
