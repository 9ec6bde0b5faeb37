"""The ``drtbayes`` command: a thin face over the Python API.

Every user error (a :class:`~drtbayes.errors.DrtbayesError`) is printed as one line and the
command exits with status 2; ``--debug`` shows the traceback instead. Every output path a
command will write is checked before any work starts. ``drtbayes`` alone prints the help and
exits with status 0.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from .errors import DrtbayesError, DrtbayesWarning, ValueRangeError

EXIT_USER_ERROR = 2


def _warn_line(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    # drtbayes warnings are meant for people: one line, no source location.
    if issubclass(category, DrtbayesWarning):
        print(f"drtbayes: warning: {category.__name__}: {_cli_spelling(str(message))}",
              file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning

#: The Python API's keyword spellings in messages, as a command-line user must type them.
_OPTIONS = ("imag_sign", "capacity_mah", "area_cm2", "capacitance_f", "capacitance_rel_sd",
            "target_accept", "cell_type", "draws", "tune", "chains", "seed")
_SPELLINGS = [
    (re.compile(r"pass force=True \(CLI: --force\)"), "pass --force"),
    (re.compile(r"(?<![\w.\[])force=True"), "--force"),
    (re.compile(r"(?<![\w.\[])fast=True"), "--fast"),
    (re.compile(r"(?<![\w.\[])(" + "|".join(_OPTIONS) + r")=(['\"]?)([^'\",;\s)]+)\2"),
     lambda m: f"--{m.group(1).replace('_', '-')} {m.group(3)}"),
]


def _cli_spelling(text: str) -> str:
    """Rewrite Python keyword spellings (``imag_sign='flip'``) as options (``--imag-sign flip``)."""
    for pattern, repl in _SPELLINGS:
        text = pattern.sub(repl, text)
    return text


# --------------------------------------------------------------------------- the parser
class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep the examples' line breaks and show defaults where an option has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text
                and action.option_strings):
            text += " (default: %(default)s)"
        return text


def _command(sub: Any, name: str, summary: str, description: str, examples: str
             ) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=summary, description=f"{summary}.\n\n{description}",
                          epilog="examples:\n" + examples, formatter_class=_Formatter)


def _labels(p: argparse.ArgumentParser, *, soc: bool = True) -> None:
    p.add_argument("--design", default=None, metavar="NAME",
                   help="electrode design label of every spectrum or record read (e.g. S_SE)")
    p.add_argument("--cell", default=None, metavar="NAME",
                   help="cell label (default: the file name)")
    if soc:
        p.add_argument("--soc", type=float, default=None, metavar="PERCENT",
                       help="state of charge of every spectrum, in percent")


def _imag_sign(p: argparse.ArgumentParser) -> None:
    p.add_argument("--imag-sign", default="auto", choices=["auto", "flip", "as-is"],
                   help="sign convention of the imaginary column: detect it, flip it (a file "
                        "holding -Z'' under a plain Z'' name) or take it as it is")


def _common(p: argparse.ArgumentParser, *, force: str = "overwrite existing outputs") -> None:
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="random seed; the same seed gives the same numbers")
    p.add_argument("--force", action="store_true", help=force)


def _sampler(p: argparse.ArgumentParser) -> None:
    p.add_argument("--draws", type=int, default=None, metavar="N",
                   help="NUTS draws per chain (default: the preset's [sampler]; with --fast: "
                        "Laplace draws)")
    p.add_argument("--tune", type=int, default=None, metavar="N",
                   help="NUTS warm-up steps per chain (default: the preset's)")
    p.add_argument("--chains", type=int, default=None, metavar="N",
                   help="NUTS chains (default: the preset's)")
    p.add_argument("--target-accept", type=float, default=None, dest="target_accept",
                   metavar="X",
                   help="NUTS step-size target (preset default 0.95; 0.98 against divergences)")


def _dask(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help=f"Dask scheduler address to run {what} on")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help=f"run {what} on a local Dask cluster of N worker processes")


def _add_read_models(sub: Any) -> None:
    r = _command(sub, "read", "summarise what drtbayes reads from instrument files",
                 "Prints the format, the columns used, the imaginary-sign convention, points "
                 "and range,\nexcluded rows and the Kramers-Kronig residual of each spectrum; "
                 "for a GITT record the\npulses found and their SOC range.",
                 "  drtbayes read eis/S1_soc50.mpt\n"
                 "  drtbayes read gitt/S1.csv --capacity-mah 2.4\n")
    r.add_argument("files", nargs="+", type=Path, metavar="FILE",
                   help="spectrum or GITT files (.mpt, .mpr, .DTA, .csv, .txt, .xlsx, ...)")
    r.add_argument("--capacity-mah", type=float, default=None, metavar="X",
                   help="cell capacity in mAh, for the SOC of GITT pulses (coulomb counting)")
    _imag_sign(r)
    m = _command(sub, "models", "list the model presets, or show one with its priors",
                 "Without NAME: one line per preset (the names --model and the study file's "
                 "[models] take).\nWith NAME: the preset's kind, file and full text: priors, "
                 "sampler settings and gate.",
                 "  drtbayes models\n  drtbayes models drt-hierarchical\n")
    m.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="a preset name or a path to a .toml preset")


def _add_fit_eis(sub: Any) -> None:
    f = _command(sub, "fit-eis", "fit the Bayesian DRT to impedance spectra",
                 "With --out fit.nc (or no --out) all spectra are fitted jointly; with --out "
                 "DIR (a folder,\nor a path without extension) each file is fitted on its own "
                 "(batch mode) and\nDIR/summary.csv gets one row per file with 95 % HDIs. "
                 "Without --json a short summary\nis printed.",
                 "  drtbayes fit-eis eis/S1_soc50.mpt --out fit.nc --json fit.json\n"
                 "  drtbayes fit-eis eis/*.mpt --out batch/ --fast --workers 2\n")
    f.add_argument("files", nargs="+", type=Path, metavar="FILE", help="spectrum files")
    f.add_argument("--model", default=None, metavar="NAME|PATH",
                   help="DRT preset name or .toml path (default: drt-single for one spectrum, "
                        "drt-hierarchical for several; batch: drt-single)")
    _labels(f)
    f.add_argument("--cell-type", choices=["symmetric", "half"], default="symmetric",
                   help="symmetric cell (two identical electrodes) or half cell")
    _imag_sign(f)
    f.add_argument("--out", type=Path, default=None, metavar="fit.nc|DIR",
                   help="fit.nc (one joint fit) or a folder (one fit per file: batch mode)")
    f.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write the full summary JSON here (else a short summary is printed)")
    _common(f)
    _sampler(f)
    f.add_argument("--fast", action="store_true", help="approximate posterior (MAP + Laplace)")
    f.add_argument("--capacitance-f", type=float, default=None, dest="capacitance_f",
                   metavar="F",
                   help="known series capacitance (F) of every spectrum, e.g. a symmetric "
                        "cell's chemical capacitance from GITT; a log-normal prior on C")
    f.add_argument("--capacitance-rel-sd", type=float, default=None, dest="capacitance_rel_sd",
                   metavar="S", help="sd of ln C of that prior (default 0.1, about 10 %%)")
    _dask(f, "the files of a batch")
    f.add_argument("--quiet", action="store_true", help="no progress lines")


def _add_split_crossover(sub: Any) -> None:
    s = _command(sub, "split-gitt", "split GITT pulse resistances into R1/R2/R3",
                 "--method bands (default): each pulse's transient is fitted with a pulse DRT "
                 "and integrated\nover the EIS time-constant bands (bands.nc of a study run). "
                 "--method processes: the\nprocess model (contact/charge-transfer ZARCs, "
                 "reflective Warburg) is fitted to the\nsymmetric-cell spectra given with "
                 "--spectra, and each pulse is split with the processes'\nown step responses "
                 "(R3 = R3(t_p); also the Fig. S7 check against EIS). R1 contact,\nR2 charge "
                 "transfer, R3 diffusion.",
                 "  drtbayes split-gitt gitt/S1.csv --bands out/bands.nc --capacity-mah 2.4 "
                 "--out S1_split.nc\n"
                 "  drtbayes split-gitt gitt/S1.csv --method processes --design S_SE "
                 "--capacity-mah 2.4 \\\n"
                 "      --spectra eis/S1_soc0.csv eis/S1_soc50.csv --spectra-soc 0 50 "
                 "--out S1_split.nc\n")
    s.add_argument("record", type=Path, metavar="RECORD", help="the GITT record file")
    s.add_argument("--method", choices=["bands", "processes"], default="bands",
                   help="bands: band integral of the pulse DRT (needs --bands); processes: "
                        "the process model's step responses (needs --spectra)")
    s.add_argument("--bands", type=Path, default=None, metavar="bands.nc",
                   help="bands.nc from a study run (drtbayes run); --method bands only")
    s.add_argument("--spectra", type=Path, nargs="+", default=None, metavar="FILE",
                   help="symmetric-cell spectra of the record's design, fitted with the "
                        "process model; --method processes only")
    s.add_argument("--spectra-soc", type=float, nargs="+", default=None, dest="spectra_soc",
                   metavar="PERCENT",
                   help="SOC of each --spectra file, in the same order (one value per file)")
    s.add_argument("--capacity-mah", type=float, required=True, metavar="X",
                   help="cell capacity in mAh (coulomb counting of the SOC)")
    s.add_argument("--area-cm2", type=float, default=None, metavar="A",
                   help="electrode area in cm², for resistances in ohm cm² as well")
    _labels(s, soc=False)
    _imag_sign(s)
    s.add_argument("--policy", choices=["interpolate", "nearest"], default="interpolate",
                   help="band boundaries between measured EIS SOCs: interpolated or nearest "
                        "(--method bands)")
    s.add_argument("--samples", type=int, default=400, metavar="N",
                   help="posterior draws per pulse")
    s.add_argument("--out", type=Path, required=True, metavar="split.nc",
                   help="the split result file to write (attribute split_method and coord "
                        "method say which method)")
    _common(s, force="overwrite an existing --out")
    c = _command(sub, "crossover", "crossover SOC and contrasts between two designs",
                 "From split files (each cell once) an SOC model is fitted first; a "
                 "soc_model.nc of a study\nrun is used as it is.",
                 "  drtbayes crossover S1_split.nc L1_split.nc --a L_SE --b S_SE\n"
                 "  drtbayes crossover out/soc_model.nc --a L_SE --b S_SE --json cross.json\n")
    c.add_argument("inputs", nargs="+", type=Path, metavar="FILE",
                   help="split.nc file(s), each cell once, or one soc_model.nc")
    c.add_argument("--a", required=True, metavar="DESIGN", help="first design (e.g. L_SE)")
    c.add_argument("--b", required=True, metavar="DESIGN", help="second design (e.g. S_SE)")
    c.add_argument("--component", action="append", default=None,
                   choices=["R1", "R2", "R3", "total"], help="repeatable; default all")
    c.add_argument("--json", type=Path, default=None, metavar="FILE",
                   help="write the crossover report JSON here (else it is printed)")
    c.add_argument("--fast", action="store_true",
                   help="approximate SOC-model posterior (MAP + Laplace)")
    _common(c, force="overwrite an existing --json")


def _add_study(sub: Any) -> None:
    m = _command(sub, "simulate", "write a simulated two-design study with known truth",
                 "Writes spectra, GITT records, study.toml and truth.json into OUTDIR.",
                 "  drtbayes simulate sim/ --crossover-soc 25\n  drtbayes run sim/study.toml "
                 "--out sim-results\n")
    m.add_argument("outdir", type=Path, metavar="OUTDIR", help="folder to write the study into")
    m.add_argument("--crossover-soc", type=float, default=20.0, metavar="PERCENT",
                   help="true crossover SOC of the total resistance")
    m.add_argument("--fast", action="store_true", help="a small study (fewer pulses)")
    _common(m)
    u = _command(sub, "run", "run a whole study described in a study TOML file",
                 "read -> EIS fit -> bands -> GITT split -> SOC curves -> crossover -> report; "
                 "a rerun skips\nfinished stages. One run at a time per --out folder.",
                 "  drtbayes run study.toml --out results\n"
                 "  drtbayes run study.toml --out results --fast --workers 2\n")
    u.add_argument("study", type=Path, metavar="study.toml", help="the study file")
    u.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="output folder (created; resumed when it holds an earlier run)")
    _common(u, force="recompute every stage and overwrite its outputs")
    u.add_argument("--fast", action="store_true", help="approximate posteriors (MAP + Laplace)")
    u.add_argument("--quiet", action="store_true", help="no progress lines")
    _dask(u, "the GITT splits")
    d = _command(sub, "demo", "simulate a study with known truth, run it, report",
                 "Writes DIR/study (the simulated inputs) and DIR/results (the run), then "
                 "compares the\nresult with the truth.",
                 "  drtbayes demo --fast\n  drtbayes demo --out my-demo --seed 3\n")
    d.add_argument("--out", type=Path, default=Path("drtbayes-demo"), metavar="DIR",
                   help="output folder")
    d.add_argument("--crossover-soc", type=float, default=20.0, metavar="PERCENT",
                   help="true crossover SOC of the total resistance")
    d.add_argument("--fast", action="store_true", help="a small study, approximate posteriors")
    _common(d, force="recompute every stage and overwrite its outputs")
    d.add_argument("--quiet", action="store_true", help="no progress lines")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="drtbayes",
        description="Bayesian DRT analysis of all-solid-state battery electrodes.",
        epilog="examples:\n  drtbayes demo --fast\n  drtbayes run study.toml --out results\n"
               "  drtbayes COMMAND --help",
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"drtbayes {__version__}",
                   help="print the version and exit")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", metavar="COMMAND",
                           help="what to do; 'drtbayes COMMAND --help' explains each")
    _add_read_models(sub)
    _add_fit_eis(sub)
    _add_split_crossover(sub)
    _add_study(sub)
    return p


# --------------------------------------------------------------------------- commands
def _cmd_read(a: argparse.Namespace) -> int:
    from .io import describe

    for path in a.files:
        kw = {"capacity_mah": a.capacity_mah} if a.capacity_mah is not None else {}
        print(describe(path, imag_sign=a.imag_sign, **kw))
    return 0


def _cmd_models(a: argparse.Namespace) -> int:
    from .presets import list_presets, load_preset

    if a.name is not None:
        p = load_preset(a.name)
        print(f"preset {p['name']} (kind {p['kind']}): {p['description']}")
        print(f"file: {p['preset_path']}\n")
        print(p["preset_toml"].rstrip())
        return 0
    rows = list_presets()
    width = max(len(n) for n, _ in rows)
    for name, desc in rows:
        print(f"{name:<{width}}  {desc}")
    print("\n'drtbayes models NAME' shows a preset with its priors.")
    return 0


def _sampler_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    from .config.limits import check_run_bounds
    from .inference import check_sampler_settings

    kw = {k: getattr(a, k) for k in ("draws", "tune", "chains", "target_accept")
          if getattr(a, k) is not None}
    # checked here once, not per file of a batch (where every file would fail alike)
    label = lambda key: "--" + key.replace("_", "-")  # noqa: E731
    check_sampler_settings(kw, label=label)
    check_run_bounds(kw, label=label)
    if getattr(a, "capacitance_rel_sd", None) is not None and a.capacitance_f is None:
        raise ValueRangeError("--capacitance-rel-sd needs --capacitance-f")
    if getattr(a, "capacitance_f", None) is not None:
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


def _check_fit_memory(spectra: list[Any], model: str, kw: dict[str, Any], fast: bool) -> None:
    """Refuse a joint fit whose posterior would not fit in memory (before it is compiled)."""
    from .config.limits import check_draws_memory
    from .presets import load_preset

    preset = load_preset(model, kind="drt")
    draws = kw.get("draws") or (preset["fast"]["draws"] if fast else preset["sampler"]["draws"])
    chains = 1 if fast else (kw.get("chains") or preset["sampler"]["chains"])
    n_freq = sum(int(s.sizes["frequency"]) for s in spectra)
    decades = 2 * preset["tau_grid"]["extend_decades"] + 8
    n_tau = int(preset["tau_grid"]["points_per_decade"] * decades) + 1
    # per draw: gamma over tau and the predicted spectrum, per spectrum, and a few scalars
    values = len(spectra) * (n_tau + 16) + 2 * n_freq
    check_draws_memory(draws, chains, values, what=f"the DRT fit of {len(spectra)} spectra")


def _fit_eis_batch(a: argparse.Namespace) -> int:
    from .batch import fit_eis_batch

    summary = fit_eis_batch(
        a.files, a.out, model=a.model or "drt-single", seed=a.seed, fast=a.fast,
        force=a.force, scheduler=a.scheduler, workers=a.workers, quiet=a.quiet,
        read_kwargs={"design": a.design, "cell": a.cell, "soc": a.soc,
                     "cell_type": a.cell_type, "imag_sign": a.imag_sign},
        **_sampler_kwargs(a),
    )
    print(f"{summary['ok']} fitted, {summary['skipped']} up to date, "
          f"{summary['failed']} failed; table: {summary['table']}")
    return 0 if summary["failed"] == 0 else EXIT_USER_ERROR


def _fmt_stat(s: dict[str, Any] | None, unit: str, fmt: str = ".4g") -> str:
    if not s or s.get("median") is None:
        return "-"
    hdi = s.get("hdi95") or [None, None]
    rng = (f" [{hdi[0]:{fmt}}, {hdi[1]:{fmt}}]" if None not in hdi else "")
    return f"{s['median']:{fmt}}{rng} {unit}"


def fit_summary_lines(summary: dict[str, Any]) -> list[str]:
    """Say a DRT fit's JSON summary in a few lines per spectrum (medians, 95 % HDIs, peaks).

    Parameters
    ----------
    summary
        :meth:`drtbayes.drt.DRTResult.to_json_summary`.

    Returns
    -------
    list of str
    """
    from .drt.trust import trust_words

    lines = [f"method {summary.get('_method')}, preset {summary.get('_preset')}; "
             "median [95 % HDI]"]
    for label, s in summary.items():
        if label.startswith("_") or not isinstance(s, dict):
            continue
        gate = (s.get("diagnostics") or {}).get("gate_pass")
        verdict = {True: "gate passed", False: "GATE FAILED", None: "no gate (--fast)"}[gate]
        lines.append(f"{label}: R_inf {_fmt_stat(s.get('r_inf'), 'ohm')}, "
                     f"R_pol {_fmt_stat(s.get('r_pol'), 'ohm')}; {verdict}")
        lines.append(f"  verdict: {trust_words(s.get('trust'))}")
        rp, rw = s.get("r_pol"), s.get("r_pol_window")
        if rp and rw and rp["median"] > 1.05 * rw["median"]:
            # an open tail: say which part of R_pol the spectrum sees and which is extrapolated
            lines.append(f"  R_pol inside the measured window {_fmt_stat(rw, 'ohm')}; the "
                         "rest lies past the window, extrapolated by the model")
        for k, pk in enumerate(s.get("peaks") or [], start=1):
            lines.append(f"  peak {k}: tau {_fmt_stat(pk.get('tau_s'), 's', '.3g')}, "
                         f"R {_fmt_stat(pk.get('r_ohm'), 'ohm', '.3g')}, "
                         f"P {pk.get('probability', float('nan')):.2f}")
    return lines


def _cmd_fit_eis(a: argparse.Namespace) -> int:
    from ._atomic import atomic_write_text, check_output_dir, check_outputs
    from .io import kk_check, read_spectra

    batch = a.out is not None and (a.out.is_dir() or a.out.suffix == "")
    if batch:
        check_output_dir(a.out, inputs=a.files)
        return _fit_eis_batch(a)
    from .drt import fit_drt

    check_outputs([a.out, a.json], force=a.force, inputs=a.files)
    kw = _sampler_kwargs(a)
    spectra = []
    for path in a.files:
        for s in read_spectra(path, design=a.design, cell=a.cell, soc=a.soc,
                              cell_type=a.cell_type, imag_sign=a.imag_sign):
            spectra.append(kk_check(s))
    model = a.model or ("drt-hierarchical" if len(spectra) > 1 else "drt-single")
    _check_fit_memory(spectra, model, kw, a.fast)
    t0 = time.perf_counter()
    fit = fit_drt(spectra, model=model, seed=a.seed, fast=a.fast, progress=not a.quiet, **kw)
    wall = time.perf_counter() - t0
    summary = fit.to_json_summary()
    for entry in summary.values() if isinstance(summary, dict) else []:
        if isinstance(entry, dict):
            entry.setdefault("wall_s", round(wall / max(len(spectra), 1), 3))
    if a.out is not None:
        fit.save(a.out, force=a.force)
        print(f"wrote {a.out}")
    if a.json is not None:
        atomic_write_text(a.json, json.dumps(summary, indent=2), force=a.force)
        print(f"wrote {a.json}")
    print("\n".join(fit_summary_lines(summary)))
    if a.json is None:
        print("(the full summary: add --json FILE)")
    return 0


def _split_method_inputs(a: argparse.Namespace) -> list[Path]:
    """Check that the options fit ``--method`` (before any work); return the input files."""
    if a.method == "bands":
        if a.spectra is not None or a.spectra_soc is not None:
            raise ValueRangeError("--spectra and --spectra-soc are inputs of --method processes; "
                                  "--method bands (the default) takes --bands bands.nc")
        if a.bands is None:
            raise ValueRangeError("--method bands needs --bands bands.nc (from drtbayes run); "
                                  "or split with --method processes --spectra FILE... "
                                  "--spectra-soc PERCENT...")
        return [a.record, a.bands]
    if a.bands is not None:
        raise ValueRangeError("--bands is the input of --method bands; --method processes fits "
                              "the process model to --spectra FILE... --spectra-soc PERCENT...")
    if a.spectra is None:
        raise ValueRangeError("--method processes needs --spectra FILE... (the symmetric-cell "
                              "spectra of the record's design) and --spectra-soc PERCENT...")
    socs = a.spectra_soc or []
    if len(socs) != len(a.spectra):
        raise ValueRangeError(f"--spectra-soc: give one SOC per --spectra file, in the same "
                              f"order ({len(a.spectra)} files, {len(socs)} SOC values)")
    for soc in socs:
        if not (math.isfinite(soc) and 0.0 <= soc <= 100.0):
            raise ValueRangeError(f"--spectra-soc {soc:g}: an SOC in percent, 0 to 100")
    return [a.record, *a.spectra]


def _process_fit(a: argparse.Namespace) -> Any:
    """Fit the process model to the ``--spectra`` as the study pipeline does."""
    from .io import kk_check, read_spectra
    from .processes import fit_processes

    spectra = []
    for path, soc in zip(a.spectra, a.spectra_soc, strict=True):
        # symmetric cells only: the process model holds the SE + 2 x electrode algebra
        for sp in read_spectra(path, design=a.design, soc=soc, cell_type="symmetric",
                               imag_sign=a.imag_sign):
            spectra.append(kk_check(sp))
    pfit = fit_processes(spectra, seed=a.seed)
    print(f"process model: {pfit.attrs.get('model', '?')} ({len(spectra)} spectra)")
    return pfit


def _cmd_split(a: argparse.Namespace) -> int:
    from ._atomic import atomic_write_netcdf, check_output
    from ._files import open_result
    from .config.limits import check_run_bounds
    from .io import read_gitt
    from .split import split_gitt

    inputs = _split_method_inputs(a)
    check_output(a.out, force=a.force, inputs=inputs)
    check_run_bounds({"samples": a.samples}, label=lambda k: "--" + k)
    if a.samples < 10:
        raise ValueRangeError(f"--samples {a.samples}: at least 10 posterior draws per pulse")
    if a.method == "bands":
        source = open_result(a.bands, ("bands",), needed_by="--bands")
        kw: dict[str, Any] = {"policy": a.policy}
    else:
        source = _process_fit(a)
        kw = {"processes": source}
    rec = read_gitt(a.record, design=a.design, cell=a.cell, capacity_mah=a.capacity_mah,
                    area_cm2=a.area_cm2)
    split = split_gitt(rec, source, capacity_mah=a.capacity_mah, area_cm2=a.area_cm2,
                       n_samples=a.samples, seed=a.seed, progress=True, method=a.method, **kw)
    atomic_write_netcdf(a.out, split, force=a.force)
    med = split["resistance"].median("sample")
    print(f"wrote {a.out}: {split.sizes['pulse']} pulses, method "
          f"{split.attrs.get('split_method', a.method)}")
    for comp in med["component"].values:
        v = med.sel(component=comp).values
        print(f"  {comp:>5}: median over pulses {float(v.mean()):.4g} ohm "
              f"(range {float(v.min()):.4g} .. {float(v.max()):.4g})")
    if "s7_ratio" in split:
        import numpy as np

        ratio = split["s7_ratio"].median("sample").values
        ok = split["s7_consistent"].values
        print(f"  Fig. S7 check: GITT total / EIS prediction {float(np.median(ratio)):.3f} "
              f"(range {float(ratio.min()):.3f} .. {float(ratio.max()):.3f}); consistent at "
              f"{int(ok.sum())} of {ok.size} pulses (the GITT total also holds the counter "
              "electrode, which the symmetric-cell EIS does not)")
    return 0


def _crossover_model(a: argparse.Namespace, comps: tuple[str, ...]) -> Any:
    from ._files import load_splits, result_kind
    from .compare import fit_soc_model
    from .errors import ResultFileError
    from .results import load

    kinds = [result_kind(p) for p in a.inputs]
    if "soc_model" in kinds:
        if len(a.inputs) > 1:
            raise ResultFileError(f"{a.inputs[kinds.index('soc_model')]}: a soc_model.nc is "
                                  "used alone; give either one soc_model.nc or split files")
        return load(a.inputs[0])
    return fit_soc_model(load_splits(a.inputs), components=comps, seed=a.seed, fast=a.fast)


def _cmd_crossover(a: argparse.Namespace) -> int:
    from ._atomic import atomic_write_text, check_outputs
    from .compare import crossover_report
    from .conventions import COMPONENTS

    check_outputs([a.json], force=a.force, inputs=a.inputs)
    comps = tuple(dict.fromkeys(a.component)) if a.component else COMPONENTS
    model = _crossover_model(a, comps)
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
    from ._atomic import check_output_dir
    from .simulate import simulate_study

    check_output_dir(a.outdir)
    path = simulate_study(a.outdir, seed=a.seed, crossover_soc=a.crossover_soc, fast=a.fast,
                          force=a.force)
    print(f"wrote a simulated study: {path}")
    return 0


def _cmd_run(a: argparse.Namespace) -> int:
    from ._atomic import check_output_dir
    from .pipeline import run_study

    check_output_dir(a.out, inputs=[a.study])
    res = run_study(a.study, a.out, seed=a.seed, force=a.force, fast=a.fast, quiet=a.quiet,
                    scheduler=a.scheduler, workers=a.workers)
    for w in res.warnings:
        print(f"drtbayes: warning: {_cli_spelling(w)}", file=sys.stderr)
    print(res.headline())
    print(f"report: {res.files.get('report.html')}")
    return 0


def _cmd_demo(a: argparse.Namespace) -> int:
    from ._atomic import check_output_dir, output_lock
    from .pipeline import Progress, run_study
    from .simulate import simulate_study

    t0 = time.perf_counter()
    check_output_dir(a.out)
    with output_lock(a.out):
        study_dir = a.out / "study"
        # The demo owns its simulated inputs: regenerating them with the same seed writes the
        # same bytes, so a rerun resumes from the finished stages.
        with Progress(quiet=a.quiet).stage(0, 7, "simulate", "a study with known truth"):
            study_path = simulate_study(study_dir, seed=a.seed, crossover_soc=a.crossover_soc,
                                        fast=a.fast, force=True)
        study_file = (study_path if Path(study_path).suffix == ".toml"
                      else study_dir / "study.toml")
        truth = json.loads((study_dir / "truth.json").read_text(encoding="utf-8"))
        res = run_study(study_file, a.out / "results", seed=a.seed, force=a.force, fast=a.fast,
                        quiet=a.quiet, truth=truth)
    for w in res.warnings:
        print(f"drtbayes: warning: {_cli_spelling(w)}", file=sys.stderr)
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


def _unknown_command(argv: list[str]) -> str | None:
    """Return the one-line refusal of a mistyped command (with a "did you mean"), or None."""
    words = [w for w in argv if not w.startswith("-")]
    if not words or words[0] in _COMMANDS:
        return None
    close = difflib.get_close_matches(words[0], list(_COMMANDS), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return (f"drtbayes: error: unknown command {words[0]!r}; {hint}commands: "
            f"{', '.join(_COMMANDS)} ('drtbayes --help' explains them)")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``drtbayes`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not [w for w in argv if w not in ("--debug",)]:
        parser.print_help()
        return 0
    refusal = _unknown_command(argv) if not {"-h", "--help", "--version"} & set(argv) else None
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return EXIT_USER_ERROR
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    warnings.showwarning = _warn_line
    try:
        return _COMMANDS[args.command](args)
    except DrtbayesError as exc:
        if args.debug:
            raise
        msg = _cli_spelling(" ".join(str(exc).split()))
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
