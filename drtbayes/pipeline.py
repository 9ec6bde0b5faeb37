"""Run a whole study: read -> EIS fit -> bands -> GITT split -> SOC curves -> crossover -> report.

Every stage writes its output atomically and records a key (hash of the input files' bytes,
the study settings, the seed, the mode and the upstream keys) in ``DIR/.drtbayes-run.json``.
A rerun skips the stages whose key and outputs are unchanged, so a run that was killed part-way
continues where it stopped; outputs made from other inputs or settings are never overwritten
without ``force``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import xarray as xr

from . import __version__
from ._atomic import atomic_write_text, check_output_dir, output_lock, sha256_file
from .conventions import SOC_WHOLE_FIT
from .errors import DataError, DrtbayesWarning, OutputExistsError, SamplingWarning
from .inference import diagnostics_by_unit, gate_advice, gate_failures
from .progress import Heartbeat, activity, mark_line
from .study import Study, load_study

STATE_FILE = ".drtbayes-run.json"
STAGES = ("eis_fit", "bands", "split", "soc_model", "crossover", "report")
STAGE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "eis_fit": ("eis_fit.nc",),
    "bands": ("bands.nc",),
    "split": ("split.nc",),
    "soc_model": ("soc_model.nc",),
    "crossover": ("crossover.json", "resistance.csv"),
    "report": ("report.html", "resistance.xlsx"),
}


class Progress:
    """Stage progress on stderr: one line per stage with counts and elapsed time.

    On a terminal the current stage is shown while it runs; in a log (not a TTY) only the
    finished lines appear; ``quiet`` silences everything.
    """

    def __init__(self, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.t0 = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def _write(self, text: str, *, end: str = "\n") -> None:
        if not self.quiet:
            self.stream.write(text + end)
            self.stream.flush()
            if end == "\n":
                mark_line()

    @contextmanager
    def stage(self, index: int, total: int, name: str, detail: str = "") -> Iterator[None]:
        """Report a stage's start (on a terminal) and its end with the elapsed time."""
        t = time.perf_counter()
        label = f"[{index}/{total}] {name}" + (f" ({detail})" if detail else "")
        stop = threading.Event()
        ticker = None
        beat = contextlib.nullcontext()
        if self.tty and not self.quiet:
            # a stage can sample for minutes: keep the elapsed time moving on the terminal
            def tick() -> None:
                while not stop.wait(1.0):
                    self._write(f"{label} ... {time.perf_counter() - t:.0f} s", end="\r")

            self._write(f"{label} ...", end="\r")
            ticker = threading.Thread(target=tick, daemon=True)
            ticker.start()
        elif not self.quiet:
            # in a log: a line whenever nothing else was written for a while (no start line:
            # a run refused at its checks must print its one error line only)
            beat = Heartbeat(label, self._write)
        try:
            with beat:
                yield
        finally:
            stop.set()
            if ticker is not None:
                ticker.join()
        dt = time.perf_counter() - t
        total_s = time.perf_counter() - self.t0
        self._write(f"{label}: done in {dt:.1f} s (elapsed {total_s:.1f} s)")

    def skip(self, index: int, total: int, name: str) -> None:
        """Report a stage skipped because its outputs are current."""
        self._write(f"[{index}/{total}] {name}: up to date, skipped")

    def info(self, text: str) -> None:
        """Write a free-form line."""
        self._write(text)


@dataclass
class RunResult:
    """What :func:`run_study` made."""

    out_dir: Path
    study: Study
    files: dict[str, Path] = field(default_factory=dict)
    crossover: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    stages_run: list[str] = field(default_factory=list)
    stages_skipped: list[str] = field(default_factory=list)
    wall_s: float = 0.0

    def headline(self) -> str:
        """Say the answer in words, then the crossover SOC of each component with its HDI."""
        from .answer import answer_in_words

        lines = []
        if self.crossover.get("components"):
            # the same verdicts as the report's first screen, so console and report agree
            words = answer_in_words(self.crossover, self.study.a, self.study.b)
            lines += ["In words:", *(f"  {s}" for s in words.sentences), ""]
        lines.append(f"{self.study.a} vs {self.study.b}: crossover SOC (95 % HDI), P(cross)")
        for comp, c in self.crossover.get("components", {}).items():
            if c.get("hdi95") is not None and c.get("soc_median") is not None:
                lo, hi = c["hdi95"]
                txt = f"{c['soc_median']:.1f} % [{lo:.1f}, {hi:.1f}]"
            else:
                txt = "no credible crossing"
            rev = c.get("reversal") or {}
            if c.get("hdi95") is not None and rev and not rev.get("credible", True):
                txt += (f" - not a credible reversal (P({self.study.a} better) only "
                        f"{rev['p_a_better_min']:.2f}-{rev['p_a_better_max']:.2f})")
            lines.append(f"  {comp:>5}: {txt}, P(cross) = {c.get('p_crossing', float('nan')):.2f}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- stage keys/state
def _key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _load_state(out_dir: Path) -> dict[str, Any]:
    p = out_dir / STATE_FILE
    if not p.is_file():
        return {"stages": {}}
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(state.get("stages"), dict):
            raise ValueError
        return state
    except (ValueError, OSError):
        # A state file we cannot read means we cannot trust any stage: rerun all of them.
        return {"stages": {}}


def _save_state(out_dir: Path, state: dict[str, Any]) -> None:
    atomic_write_text(out_dir / STATE_FILE, json.dumps(state, indent=1), force=True)


def _outputs_valid(out_dir: Path, names: tuple[str, ...]) -> bool:
    for n in names:
        p = out_dir / n
        if not p.is_file() or p.stat().st_size == 0:
            return False
        if n.endswith(".nc"):
            try:
                with xr.open_datatree(p, engine="h5netcdf") as t:
                    _ = t.attrs
            except Exception:  # noqa: BLE001  any unreadable file means: rerun the stage
                return False
        if n.endswith(".json"):
            try:
                json.loads(p.read_text(encoding="utf-8"))
            except (ValueError, OSError):
                return False
    return True


# --------------------------------------------------------------------------- reading
def read_inputs(study: Study, *, progress: Progress | None = None) -> dict[str, Any]:
    """Read and check every input file of a study.

    Returns
    -------
    dict
        ``spectra`` (list of spectrum Datasets with KK results), ``gitt`` (dict cell key ->
        GITT Dataset), ``warnings`` (list of str), ``checksums`` (path -> sha256).
    """
    from .io import kk_check, read_gitt, read_spectrum

    spectra: list[xr.Dataset] = []
    gitt: dict[tuple[str, str], xr.Dataset] = {}
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DrtbayesWarning)
        for c in study.cells:
            for e in c.eis:
                s = read_spectrum(
                    e.file,
                    design=c.design,
                    cell=c.cell,
                    soc=e.soc,
                    temperature_c=e.temperature_c,
                    cell_type=e.cell_type,
                    area_cm2=c.area_cm2,
                    imag_sign=e.imag_sign,
                )
                s = kk_check(s, threshold=study.kk_threshold, strict=study.kk_strict)
                spectra.append(s)
            if c.gitt is not None:
                gitt[(c.design, c.cell)] = read_gitt(
                    c.gitt,
                    design=c.design,
                    cell=c.cell,
                    capacity_mah=c.capacity_mah,
                    area_cm2=c.area_cm2,
                )
    for w in caught:
        if issubclass(w.category, DrtbayesWarning):
            messages.append(f"{w.category.__name__}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not spectra:
        raise DataError(f"{study.path}: no EIS spectra in the study; add eis = [...] to the cells")
    if not gitt:
        raise DataError(f"{study.path}: no GITT records in the study; add gitt = ... to the cells")
    checksums = {str(p): sha256_file(p) for p in study.input_files()}
    return {"spectra": spectra, "gitt": gitt, "warnings": messages, "checksums": checksums}


# --------------------------------------------------------------------------- tables
def _interval(draws: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Equal-tailed 95 % intervals: for the per-pulse tables they are the numbers users compare
    # across tools; the HDIs are reported where the posterior is the headline (crossover).
    q = np.nanquantile(draws, [0.5, 0.025, 0.975], axis=axis)
    return q[0], q[1], q[2]


def resistance_table(split: xr.Dataset, soc_model: Any | None = None) -> str:
    """``resistance.csv``: one row per pulse and component, plus design-level rows.

    Columns ``design, cell, soc, component, median, lo95, hi95`` in ohm and ``method`` (the
    split's estimand: ``bands`` or ``processes``); ``cell = all`` rows are the design-level SOC
    curve at the design's pulse SOCs.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["design", "cell", "soc", "component", "median", "lo95", "hi95", "method"])
    method = str(split.attrs.get("split_method", "bands"))
    r = split["resistance"].transpose("pulse", "component", "sample").values
    med, lo, hi = _interval(r)
    designs = split["design"].values
    cells = split["cell"].values
    socs = split["soc"].values
    comps = [str(c) for c in split["component"].values]
    for i in range(r.shape[0]):
        for j, comp in enumerate(comps):
            w.writerow(
                [designs[i], cells[i], f"{socs[i]:.3f}", comp]
                + [f"{v:.6g}" for v in (med[i, j], lo[i, j], hi[i, j])] + [method]
            )
    if soc_model is not None:
        post = soc_model.tree["posterior"]
        log_r = post["log_r"].stack(sample=("chain", "draw")).transpose(
            "design", "component", "soc", "sample"
        )
        grid = log_r["soc"].values
        for d in [str(x) for x in log_r["design"].values]:
            pulse_socs = np.unique(np.round(socs[designs == d], 3))
            for comp in [str(c) for c in log_r["component"].values]:
                lr = log_r.sel(design=d, component=comp).values
                for s in pulse_socs:
                    if s < grid.min() or s > grid.max():
                        continue
                    k = np.searchsorted(grid, s)
                    k = int(np.clip(k, 1, grid.size - 1))
                    f = (s - grid[k - 1]) / (grid[k] - grid[k - 1])
                    vals = np.exp((1 - f) * lr[k - 1] + f * lr[k])
                    m, lo_, hi_ = _interval(vals)
                    w.writerow(
                        [d, "all", f"{s:.3f}", comp] + [f"{v:.6g}" for v in (m, lo_, hi_)]
                        + [method]
                    )
    return buf.getvalue()


# --------------------------------------------------------------------------- the run
#: Presets a study uses when its [models] table names none, and the kind each must be.
DEFAULT_MODELS = {"eis": ("drt-hierarchical", "drt"), "split": ("gitt-split", "split"),
                  "soc": ("soc-spline", "soc_model")}


def study_presets(study: Study) -> dict[str, dict[str, Any]]:
    """Load and check the presets a study's stages will use (before any stage runs).

    Raises
    ------
    StudyFileError
        A preset named in ``[models]`` is unknown, invalid or of the wrong kind.
    """
    from .errors import PresetError, StudyFileError
    from .presets import load_preset

    out = {}
    for key, (default, kind) in DEFAULT_MODELS.items():
        try:
            out[key] = load_preset(study.models.get(key, default), kind=kind)
        except PresetError as exc:
            raise StudyFileError(f"{study.path}: models.{key}: {exc}") from None
    return out


def check_pulses(study: Study, gitt: dict[tuple[str, str], xr.Dataset],
                 soc_preset: dict[str, Any]) -> dict[str, int]:
    """Count the complete GITT pulses per design and refuse too few, before the EIS fit.

    Returns
    -------
    dict
        Design -> complete pulses.

    Raises
    ------
    TooFewPointsError
        A design has fewer pulses than the SOC model's ``[data] min_pulses_per_design``.
    """
    from .errors import TooFewPointsError
    from .io import detect_pulses

    need = int(soc_preset["data"].get("min_pulses_per_design", 5))
    counts: dict[str, int] = dict.fromkeys(study.designs, 0)
    files: dict[str, list[str]] = {d: [] for d in study.designs}
    for (design, cell), rec in gitt.items():
        c = next(x for x in study.cells if (x.design, x.cell) == (design, cell))
        pulses = detect_pulses(rec, capacity_mah=c.capacity_mah)
        counts[design] += int(np.sum(pulses["complete"].values.astype(bool)))
        files[design].append(Path(str(c.gitt)).name)
    for design, n in counts.items():
        if n < need:
            raise TooFewPointsError(
                f"{study.path}: design {design!r} has {n} complete GITT pulse(s) (in "
                f"{', '.join(files[design]) or 'no record'}); the SOC model needs at least "
                f"{need} per design; add pulses or cells (found before the EIS fit)")
    return counts


class _Run:
    """One run of a study: its stage keys, state file and the stage bodies."""

    def __init__(self, study: Study, out: Path, *, seed: int, force: bool, fast: bool,
                 prog: Progress, fit_kwargs: dict[str, Any] | None, scheduler: str | None,
                 workers: int | None, truth: dict[str, Any] | None) -> None:
        self.study, self.out, self.seed, self.force, self.fast = study, out, seed, force, fast
        self.prog, self.scheduler, self.workers, self.truth = prog, scheduler, workers, truth
        self.result = RunResult(out_dir=out, study=study)
        self.n_total = len(STAGES) + 1
        self.presets = study_presets(study)
        sampler = dict(study.sampler)
        self.split_samples = sampler.pop("split_samples", 400)
        self.fit_kw = {**sampler, **(fit_kwargs or {})}
        self.state = {"stages": {}} if force else _load_state(out)
        if not force and not self.state["stages"]:
            existing = [n for names in STAGE_OUTPUTS.values() for n in names
                        if (out / n).exists()]
            if existing:
                raise OutputExistsError(
                    f"{out}: holds {existing[0]} from another run; use --force to overwrite")

    def read(self) -> None:
        """Read every input and check what the later stages need (before any fit)."""
        with self.prog.stage(1, self.n_total, "read", f"{len(self.study.cells)} cells"):
            self.inputs = read_inputs(self.study, progress=self.prog)
            check_pulses(self.study, self.inputs["gitt"], self.presets["soc"])
        self.result.warnings.extend(self.inputs["warnings"])
        self.settings = {"study": self.study.settings(), "seed": self.seed, "fast": self.fast,
                         "version": __version__, "fit": self.fit_kw}
        prev = _key(self.inputs["checksums"], self.settings)
        self.keys: dict[str, str] = {}
        for name in STAGES:
            prev = self.keys[name] = _key(name, prev)

    def _current(self, name: str) -> bool:
        rec = self.state["stages"].get(name)
        return (not self.force and rec is not None and rec.get("key") == self.keys[name]
                and _outputs_valid(self.out, STAGE_OUTPUTS[name]))

    def _guard(self, name: str) -> None:
        # Outputs of this stage exist but were made from other inputs/settings: only --force
        # may replace them.
        rec = self.state["stages"].get(name)
        if not self.force and rec is not None and rec.get("key") != self.keys[name]:
            present = [n for n in STAGE_OUTPUTS[name] if (self.out / n).exists()]
            if present:
                raise OutputExistsError(
                    f"{self.out / present[0]}: made with other inputs or settings; use --force")

    def stage(self, i: int, name: str, detail: str, body: Callable[[], Any],
              loader: Callable[[], Any]) -> Any:
        """Run stage ``name`` (or load its current outputs) and record it in the state file."""
        files = self.result.files
        if self._current(name):
            self.prog.skip(i, self.n_total, name)
            self.result.stages_skipped.append(name)
            files.update({n: self.out / n for n in STAGE_OUTPUTS[name]})
            return loader()
        self._guard(name)
        for n in STAGE_OUTPUTS[name]:
            # A stale file of a stage that must rerun: remove it so the atomic write succeeds.
            (self.out / n).unlink(missing_ok=True)
        t = time.perf_counter()
        with self.prog.stage(i, self.n_total, name, detail):
            value = body()
        self.state["stages"][name] = {"key": self.keys[name],
                                      "wall_s": round(time.perf_counter() - t, 2)}
        _save_state(self.out, self.state)
        self.result.stages_run.append(name)
        files.update({n: self.out / n for n in STAGE_OUTPUTS[name]})
        return value

    # ----------------------------------------------------------------------- stage bodies
    def fit_eis(self) -> Any:
        """Fit the DRT to every spectrum of the study (one joint, hierarchical fit)."""
        from .drt import fit_drt

        entries = [e for c in self.study.cells for e in c.eis]
        c_kw: dict[str, Any] = {}
        if any(e.capacitance_f is not None for e in entries):
            c_kw = {"capacitance_f": [e.capacitance_f for e in entries],
                    "capacitance_rel_sd": [e.capacitance_rel_sd for e in entries]}
        with warnings.catch_warnings():
            # the gate's verdict per spectrum is collected into the run's warnings (and the
            # report); shown live as well it would be printed twice
            warnings.simplefilter("ignore", SamplingWarning)
            fit = fit_drt(self.inputs["spectra"], model=self.presets["eis"], seed=self.seed,
                          fast=self.fast, progress=not self.prog.quiet, **self.fit_kw,
                          **c_kw)
        fit.tree.attrs["input_sha256"] = json.dumps(self.inputs["checksums"])
        fit.save(self.out / "eis_fit.nc", force=True)
        return fit

    def bands(self, fit: Any) -> xr.Dataset:
        """Time-constant bands of the study's processes from the EIS posterior."""
        from .bands import time_constant_bands

        with activity("time-constant bands from the DRT draws"):
            b = time_constant_bands(fit, processes=self.study.processes, seed=self.seed)
        _save_dataset(b, self.out / "bands.nc", self.inputs["checksums"], self.seed, "bands")
        return b

    def split(self, bands: xr.Dataset) -> xr.Dataset:
        """Split every cell's GITT pulses (Dask tasks when a scheduler or workers are given)."""
        from .inference.parallel import dask_client, map_units

        gitt = self.inputs["gitt"]
        method_kw = self._split_method_kwargs()
        units = []
        for i, ((design, cell), rec) in enumerate(gitt.items()):
            c = next(x for x in self.study.cells if x.design == design and x.cell == cell)
            units.append((rec, bands, dict(capacity_mah=c.capacity_mah, area_cm2=c.area_cm2,
                                           policy=self.study.band_policy,
                                           n_samples=self.split_samples, seed=self.seed + i,
                                           preset=self.presets["split"], **method_kw)))

        def done(i: int, _r: Any) -> None:
            d, c = list(gitt)[i]
            self.prog.info(f"      split {d}/{c} ({i + 1}/{len(units)})")

        with dask_client(self.scheduler, self.workers) as client:
            parts = map_units(_split_unit, units, client=client, on_result=done)
        sp = (xr.concat(parts, dim="pulse", combine_attrs="override") if len(parts) > 1
              else parts[0])
        _save_dataset(sp, self.out / "split.nc", self.inputs["checksums"], self.seed, "split")
        return sp

    def _split_method_kwargs(self) -> dict[str, Any]:
        """Return the split estimand; for ``processes``, with the process model of the spectra."""
        method = self.study.split_method
        if method != "processes":
            return {"method": method}
        from .processes import fit_processes

        # the process model is fitted to the symmetric-cell spectra (its cell algebra); the
        # pulses then use each process's own step response with these time constants
        spectra = [s for s in self.inputs["spectra"]
                   if str(s.attrs.get("cell_type", "symmetric")) == "symmetric"]
        pfit = fit_processes(spectra, seed=self.seed)
        self.prog.info(f"      process model: {pfit.attrs.get('model', '?')}")
        return {"method": method, "processes": pfit}

    def soc_model(self, split: xr.Dataset) -> Any:
        """Fit the SOC curves of every design and component."""
        from .compare import fit_soc_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplingWarning)   # collected, as for the DRT
            m = fit_soc_model(split, components=self.study.components, seed=self.seed,
                              fast=self.fast, preset=self.presets["soc"]["preset_path"],
                              progress=not self.prog.quiet)
        m.tree.attrs["input_sha256"] = json.dumps(self.inputs["checksums"])
        m.save(self.out / "soc_model.nc", force=True)
        return m

    def crossover(self, soc_model: Any, split: xr.Dataset) -> dict[str, Any]:
        """Contrasts and crossover SOC of the compared designs, and resistance.csv."""
        from .compare import crossover_report

        st = self.study
        rep = crossover_report(soc_model, st.a, st.b, components=st.components)
        atomic_write_text(self.out / "crossover.json", json.dumps(rep, indent=2), force=True)
        atomic_write_text(self.out / "resistance.csv", resistance_table(split, soc_model),
                          force=True)
        return rep


def _run_stages(run: _Run) -> RunResult:
    """Run (or resume) the stages after ``read`` in order."""
    from . import report as report_mod
    from .results import load

    out, res = run.out, run.result
    fit = run.stage(2, "eis_fit", f"{len(run.inputs['spectra'])} spectra", run.fit_eis,
                    lambda: load(out / "eis_fit.nc"))
    res.warnings.extend(_fit_warnings(fit))
    bands = run.stage(3, "bands", f"{len(run.study.processes)} processes",
                      lambda: run.bands(fit), lambda: _load_ds(out / "bands.nc"))
    split = run.stage(4, "split", f"{len(run.inputs['gitt'])} records",
                      lambda: run.split(bands), lambda: _load_ds(out / "split.nc"))
    soc_model = run.stage(5, "soc_model", f"{len(run.study.components)} components",
                          lambda: run.soc_model(split), lambda: load(out / "soc_model.nc"))
    res.warnings.extend(_fit_warnings(soc_model, what="SOC model"))
    res.crossover = run.stage(
        6, "crossover", f"{run.study.a} vs {run.study.b}", lambda: run.crossover(soc_model, split),
        lambda: json.loads((out / "crossover.json").read_text(encoding="utf-8")))

    def do_report() -> None:
        report_mod.build_report(
            out, study=run.study, spectra=run.inputs["spectra"], gitt=run.inputs["gitt"],
            fit=fit, bands=bands, split=split, soc_model=soc_model, crossover=res.crossover,
            warnings_list=res.warnings, settings=run.settings,
            checksums=run.inputs["checksums"], truth=run.truth, fast=run.fast,
            progress=run.prog.info)

    run.stage(7, "report", "figures + html", do_report, lambda: None)
    res.files["figures"] = out / "figures"
    return res


def run_study(
    study: str | os.PathLike | Study,
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    force: bool = False,
    fast: bool = False,
    quiet: bool = False,
    progress: Progress | None = None,
    truth: dict[str, Any] | None = None,
    fit_kwargs: dict[str, Any] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> RunResult:
    """Run every stage of a study and write all results into ``out_dir``.

    Parameters
    ----------
    study
        A study file path or a loaded :class:`~drtbayes.study.Study`.
    out_dir
        Output folder (created). Holds ``eis_fit.nc``, ``bands.nc``, ``split.nc``,
        ``soc_model.nc``, ``resistance.csv``, ``crossover.json``, ``report.html`` and
        ``figures/*.png``.
    seed
        Random seed; the same seed gives the same numbers.
    force
        Recompute every stage and overwrite outputs.
    fast
        Approximate posteriors (MAP + Laplace) for a first look; labelled as such everywhere.
    quiet
        No progress output.
    progress
        A :class:`Progress` to report to (default: stderr).
    truth
        Optional known truth (from the simulator) to mark in the report.
    fit_kwargs
        Extra keyword arguments for :func:`drtbayes.fit_drt` (draws, tune, chains).
    scheduler, workers
        Run the per-cell GITT splits as Dask tasks on this scheduler address or on a local
        cluster of ``workers`` processes; each cell keeps its own seed, so the numbers are the
        same as a serial run.

    Returns
    -------
    RunResult
    """
    t_run = time.perf_counter()
    if not isinstance(study, Study):
        study = load_study(study)
    out = check_output_dir(out_dir, inputs=study.input_files() + [study.path])
    with output_lock(out):
        # Temporary files of a run that was killed mid-write: never valid outputs. Under the
        # lock no other run can be writing them.
        for stale in list(out.glob(".*.tmp")) + list((out / "figures").glob(".*.tmp")):
            stale.unlink(missing_ok=True)
        run = _Run(study, out, seed=seed, force=force, fast=fast,
                   prog=progress or Progress(quiet=quiet), fit_kwargs=fit_kwargs,
                   scheduler=scheduler, workers=workers, truth=truth)
        run.read()
        result = _run_stages(run)
    result.wall_s = time.perf_counter() - t_run
    return result


def _split_unit(unit: tuple[xr.Dataset, xr.Dataset, dict[str, Any]]) -> xr.Dataset:
    """One cell's GITT split (a picklable Dask task)."""
    from .split import split_gitt

    rec, bands, kw = unit
    return split_gitt(rec, bands, **kw)


def _fit_warnings(result: Any, *, what: str = "") -> list[str]:
    """Diagnostics-gate failures of a fit as report lines (``what`` prefixes unit labels)."""
    msgs = []
    for name, d in diagnostics_by_unit(result.tree.attrs.get("diagnostics"),
                                       whole_fit_label=SOC_WHOLE_FIT).items():
        if d.get("gate_pass") is not False:
            continue
        label = name if name == SOC_WHOLE_FIT or not what else f"{what} {name}"
        if "problems" in d:
            # the SOC model's records: their problems in words
            msgs.append(f"SamplingWarning: {label}: {'; '.join(d['problems'])}; rerun with "
                        "more draws or tuning (the soc-spline preset's [sampler])")
        else:
            msgs.append(
                f"SamplingWarning: {label}: R-hat max {d.get('rhat_max')}, bulk ESS min "
                f"{d.get('ess_bulk_min')}, divergences {d.get('divergences')}; "
                + gate_advice(gate_failures(d))
            )
    try:
        ppc = json.loads(result.tree.attrs.get("ppc", "{}") or "{}")
    except ValueError:
        ppc = {}
    for name, p in ppc.items():
        if isinstance(p, dict) and p.get("flagged"):
            where = p.get("outlying_frequencies_hz") or []
            msgs.append(
                f"DataWarning: {name}: posterior predictive check failed ("
                + (f"{len(where)} outlying point(s) at "
                   + ", ".join(f"{f:.4g}" for f in where[:5]) + " Hz; " if where else "")
                + f"residual lag-1 autocorrelation {p.get('autocorr')}); check the measurement "
                "or use the drt-robust preset"
            )
    try:
        trust = json.loads(result.tree.attrs.get("trust", "{}") or "{}")
    except ValueError:
        trust = {}
    nuts = result.tree.attrs.get("method") in (None, "nuts")
    for name, v in trust.items():
        # the gate, the PPC and --fast have their own lines (above, below): only the verdict's
        # other reasons get one here
        reasons = [r for r in (v or {}).get("reasons", [])
                   if not r.startswith(("sampler gate failed", "posterior predictive check",
                                        "MAP + Laplace"))]
        if isinstance(v, dict) and not v.get("trusted") and reasons:
            msgs.append(f"DataWarning: {name}: fit not trusted: {'; '.join(reasons)}")
    if not nuts:
        msgs.append(
            f"ApproximationWarning: {result.tree.attrs.get('drtbayes_kind')} posterior is "
            f"approximate ({result.tree.attrs.get('method')}, --fast); rerun without --fast "
            "for publication numbers"
        )
    return msgs


def _save_dataset(ds: xr.Dataset, path: Path, checksums: dict, seed: int, kind: str) -> None:
    from ._atomic import atomic_write_netcdf

    ds = ds.copy()
    ds.attrs.setdefault("drtbayes_kind", kind)
    ds.attrs.setdefault("drtbayes_version", __version__)
    ds.attrs["input_sha256"] = json.dumps(checksums)
    ds.attrs["seed"] = seed  # the run's seed (a stage's own default must not stand in for it)
    atomic_write_netcdf(path, ds, force=True)


def _load_ds(path: Path) -> xr.Dataset:
    return xr.load_dataset(path, engine="h5netcdf")
