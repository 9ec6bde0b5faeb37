"""Screening-scale batch fitting: one DRT fit per input file, streamed to disk.

``drtbayes fit-eis DIR/*.mpt --out DIR2`` writes ``DIR2/<file>.nc`` and ``DIR2/<file>.json``
per input and a combined ``DIR2/summary.csv``. A failed or invalid file is reported and skipped;
it never stops the batch and never loses the other results; a rerun skips finished files. The
compiled model is cached per shape inside each process (see :mod:`drtbayes.drt`), so the cost of
each further spectrum of the same shape is sampling only. Results stream to disk per file, so
memory stays flat however many files there are.

A file is *finished* when its ``.json`` exists, parses, and records the same input checksum
and the same settings (preset text, seed, ``fast``, sampler and reader options); the ``.json``
is written last, after the ``.nc``, so a run killed between the two redoes that file. Outputs
made with other settings are never replaced without ``force`` (the file is reported failed with
an :class:`~drtbayes.errors.OutputExistsError` message instead).
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import sys
import time
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._atomic import (
    atomic_write_text,
    check_output,
    check_output_dir,
    check_outputs,
    output_lock,
    sha256_file,
)
from .errors import DrtbayesWarning, OutputExistsError, PresetError
from .inference.parallel import dask_client, map_units

__all__ = ["fit_eis_batch", "unit_seed", "SUMMARY_COLUMNS", "TABLE_MARK"]

#: Columns of ``summary.csv``, in order.
#: ``*_lo95`` / ``*_hi95`` bound the 95 % highest-density interval of the first spectrum's
#: posterior; ``design``, ``cell``, ``soc`` are its labels as read.
SUMMARY_COLUMNS = ["file", "status", "design", "cell", "soc", "n_spectra", "method",
                   "r_inf_ohm", "r_inf_lo95", "r_inf_hi95", "r_pol_ohm", "r_pol_lo95",
                   "r_pol_hi95", "n_peaks", "gate_pass", "kk_pass", "wall_s", "warnings", "error"]
#: Hidden file recording the SHA-256 of the summary.csv a batch wrote, so that a rerun may
#: replace its own table but never a user's file of that name without ``force``.
TABLE_MARK = ".drtbayes-batch-table"


_WARNING_REGISTRY: dict[Any, Any] = {}


def unit_seed(seed: int, path: Path) -> int:
    """Seed of one file: fixed by the base seed and the file name, not by its position."""
    return (int(seed) * 1_000_003 + zlib.crc32(Path(path).name.encode())) % (2**31 - 1)


@dataclass(frozen=True)
class _Unit:
    path: Path
    out_nc: Path
    out_json: Path
    # the loaded preset (a dict) rather than its name: a preset .toml given by path need not
    # exist on remote workers, and every file is fitted with exactly the same text
    preset: dict[str, Any]
    seed: int
    fast: bool
    force: bool
    settings_key: str
    read_kwargs: dict[str, Any] = field(default_factory=dict)
    sampler: dict[str, Any] = field(default_factory=dict)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _previous(unit: _Unit) -> dict[str, Any] | None:
    """Return the metadata of an earlier result of this unit (None: no finished one)."""
    if not unit.out_json.is_file():
        return None
    try:
        meta = json.loads(unit.out_json.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None  # a corrupt/unreadable .json marks no finished result: redo the file
    return meta if isinstance(meta, dict) else None


def _fit_one(unit: _Unit) -> dict[str, Any]:
    """Fit one file and write its ``.nc`` and ``.json``; never raises (failures become rows)."""
    from .drt import fit_drt
    from .io import kk_check, read_spectra

    row: dict[str, Any] = {"file": str(unit.path), "status": "ok", "error": "", "wall_s": 0.0,
                           "warnings": ""}
    t0 = time.perf_counter()
    try:
        sha = sha256_file(unit.path)
        prev = _previous(unit)
        if prev is not None and not unit.force:
            same = (prev.get("_input_sha256") == sha and prev.get("_seed") == unit.seed
                    and prev.get("_settings_key") == unit.settings_key)
            if same and unit.out_nc.is_file():
                row["status"] = "skipped"
                row.update(_headline(prev))
                return row
            if not same:
                raise OutputExistsError(
                    f"{unit.out_json}: made from another version of {unit.path.name} or with "
                    "other settings (model, seed, --fast, draws/tune/chains/target_accept, "
                    "capacitance, reader options); use --force to refit, or another --out folder")
        if prev is None and unit.out_nc.exists() and not unit.force and not _ours(unit.out_nc):
            raise OutputExistsError(f"{unit.out_nc}: exists and is not a drtbayes DRT fit; "
                                    "use --force to replace it, or another --out folder")
        # Leftover temporary files of this unit from a killed run (never valid outputs).
        for out in (unit.out_nc, unit.out_json):
            for stale in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
                stale.unlink(missing_ok=True)
        # Warnings are recorded in the row as well as shown: on a remote worker nobody sees its
        # stderr, and a KK failure or an approximate posterior must reach the summary table.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DrtbayesWarning)
            spectra = [kk_check(s) for s in read_spectra(unit.path, **unit.read_kwargs)]
            fit = fit_drt(spectra, model=unit.preset, seed=unit.seed, fast=unit.fast,
                          progress=False, **unit.sampler)
        for w in caught:
            # shown as if not caught; the shared registry keeps "default" filters at once per
            # message, not once per file
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno,
                                   registry=_WARNING_REGISTRY)
        kk_pass = all(bool(s.attrs.get("kk_pass", 1)) for s in spectra)
        # .nc first, .json last: the .json is the "finished" mark of this file
        fit.save(unit.out_nc, force=True)
        summary = fit.to_json_summary()
        summary["_input_sha256"] = sha
        summary["_seed"] = unit.seed
        summary["_settings_key"] = unit.settings_key
        summary["_kk_pass"] = kk_pass
        summary["_warnings"] = sorted({w.category.__name__ for w in caught
                                       if issubclass(w.category, DrtbayesWarning)})
        summary["_labels"] = {k: _plain_label(spectra[0].attrs.get(k))
                              for k in ("design", "cell", "soc")}
        atomic_write_text(unit.out_json, json.dumps(summary, indent=1), force=True)
        row.update(_headline(summary))
    except Exception as exc:
        # Whatever goes wrong with one file (bad input, a numerical failure, a full disk) is
        # that file's failure only: the batch must go on with the others.
        row["status"] = "failed"
        row["error"] = _one_line(exc)
    row["wall_s"] = round(time.perf_counter() - t0, 3)
    return row


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    specs = [v for k, v in summary.items() if not k.startswith("_") and isinstance(v, dict)]
    out: dict[str, Any] = {"method": summary.get("_method"),
                           "kk_pass": summary.get("_kk_pass"),
                           "warnings": " ".join(summary.get("_warnings") or [])}
    if not specs:
        return out
    s = specs[0]
    out.update(summary.get("_labels") or {})
    for key in ("r_inf", "r_pol"):
        stat = s.get(key) or {}
        lo, hi = stat.get("hdi95") or (None, None)
        out.update({f"{key}_ohm": stat.get("median"), f"{key}_lo95": lo, f"{key}_hi95": hi})
    out.update({
        "n_spectra": len(specs),
        "n_peaks": len(s.get("peaks", [])),
        "gate_pass": (s.get("diagnostics") or {}).get("gate_pass"),
    })
    return out


def _plain_label(v: Any) -> Any:
    # labels come from netCDF attrs as numpy scalars; NaN (no SOC given) is left empty
    if v is None:
        return None
    v = v.item() if hasattr(v, "item") else v
    return None if isinstance(v, float) and v != v else v


def _ours(path: Path) -> bool:
    """Tell whether ``path`` is a DRT fit drtbayes wrote (which a rerun may redo)."""
    from ._files import result_kind
    from .errors import ResultFileError

    try:
        return result_kind(path) == "drt_fit"
    except ResultFileError:
        return False


def _check_table(out_dir: Path, inputs: list[Path], force: bool) -> Path:
    """Check, before any fit, that summary.csv may be written (ours, absent, or --force)."""
    table = check_output(out_dir / "summary.csv", force=True, inputs=inputs)
    if table.exists() and not force:
        try:
            mark = json.loads((out_dir / TABLE_MARK).read_text(encoding="utf-8"))
            ours = mark.get("summary_sha256") == sha256_file(table)
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise OutputExistsError(f"{table}: exists and was not written by a drtbayes batch "
                                    "in this folder; use --force to replace it, or another "
                                    "--out folder")
    return table


def _settings_key(preset: dict[str, Any], fast: bool, sampler: dict[str, Any],
                  read_kwargs: dict[str, Any]) -> str:
    """Fingerprint of everything besides the input and seed that changes a file's result."""
    text = json.dumps({"preset": hashlib.sha256(preset["preset_toml"].encode()).hexdigest(),
                       "fast": bool(fast), "sampler": sampler, "read": read_kwargs},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fit_eis_batch(
    files: list[Path],
    out_dir: Path,
    *,
    model: str = "drt-single",
    seed: int = 0,
    fast: bool = False,
    force: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    quiet: bool = False,
    read_kwargs: dict[str, Any] | None = None,
    **sampler: Any,
) -> dict[str, Any]:
    """Fit every file on its own and write one result per file plus a summary table.

    Parameters
    ----------
    files
        Spectrum files (any readable format). On a remote scheduler the workers read them, so
        they must lie on a filesystem the workers see under the same (absolute) path.
    out_dir
        Output folder; ``<stem>.nc``, ``<stem>.json`` per input and ``summary.csv``
        (:data:`SUMMARY_COLUMNS`, one row per input in input order). Two inputs with the same
        stem get a suffix made from their full path.
    model, seed, fast, force
        As for :func:`drtbayes.fit_drt`; each file's seed is :func:`unit_seed` of ``seed``.
        ``force`` refits finished files and replaces results made with other settings.
    scheduler, workers
        A Dask scheduler address or a number of local Dask workers; serial when both are None.
        A task whose worker dies is rerun by the scheduler (see
        :mod:`drtbayes.inference.parallel`); if
        its workers keep dying it is reported as failed (``KilledWorker``) and a rerun of the
        batch retries it.
    quiet
        No progress lines.
    read_kwargs
        Metadata passed to the reader (design, cell, soc, cell_type, imag_sign).
    **sampler
        draws, tune, chains, target_accept; capacitance_f, capacitance_rel_sd (as for
        :func:`drtbayes.fit_drt`, the same for every file).

    Returns
    -------
    dict
        ``ok``, ``skipped``, ``failed`` counts, ``rows`` (one dict per input, in input order;
        ``status`` is ``ok``, ``skipped`` or ``failed`` with the reason in ``error``) and the
        ``table`` path.

    Raises
    ------
    PresetError
        The model is unknown or not a DRT preset (checked once, before any file is read).
    SchedulerError
        Dask is missing or the scheduler cannot be reached.
    """
    from .presets import load_preset

    out_dir = check_output_dir(Path(out_dir).absolute(), inputs=files)
    preset = load_preset(model)
    if preset.get("kind") != "drt":
        raise PresetError(f"preset {preset.get('name')!r} is of kind {preset.get('kind')!r}; "
                          "fit-eis needs a DRT preset (drt-single, drt-hierarchical, drt-robust)")
    with output_lock(out_dir):
        return _run_batch(files, out_dir, preset, seed=seed, fast=fast, force=force,
                          scheduler=scheduler, workers=workers, quiet=quiet,
                          read_kwargs=read_kwargs, sampler=sampler)


def _run_batch(files: list[Path], out_dir: Path, preset: dict[str, Any], *, seed: int,
               fast: bool, force: bool, scheduler: str | None, workers: int | None, quiet: bool,
               read_kwargs: dict[str, Any] | None, sampler: dict[str, Any]) -> dict[str, Any]:
    """Fit the files of a batch under the folder's lock (see :func:`fit_eis_batch`)."""
    inputs = [Path(f).absolute() for f in files]
    table_path = _check_table(out_dir, inputs, force)
    rk = {k: v for k, v in (read_kwargs or {}).items() if v is not None}
    sampler = {k: v for k, v in sampler.items() if v is not None}
    key = _settings_key(preset, fast, sampler, rk)
    units = []
    seen: set[str] = set()
    for f in files:
        # absolute paths: workers of a remote scheduler do not share our working directory
        f = Path(f).absolute()
        stem = f.stem if f.stem not in seen else f"{f.stem}-{zlib.crc32(str(f).encode()):08x}"
        seen.add(stem)
        unit = _Unit(f, out_dir / f"{stem}.nc", out_dir / f"{stem}.json", preset,
                     unit_seed(seed, f), fast, force, key, rk, dict(sampler))
        # an input inside the output folder under an output's name: refused up front, even
        # with force (it would be replaced by its own result)
        check_outputs([unit.out_nc, unit.out_json], force=True, inputs=inputs)
        units.append(unit)
    t0 = time.perf_counter()

    def lost(i: int, exc: BaseException) -> dict[str, Any]:
        # only reached on a cluster (_fit_one itself never raises): the task's workers died
        # too often (KilledWorker) or it was cancelled; its finished neighbours are on disk
        return {"file": str(units[i].path), "status": "failed", "wall_s": 0.0, "warnings": "",
                "error": f"{_one_line(exc)} (lost on the cluster; rerun to retry this file)"}

    def report(i: int, row: dict[str, Any]) -> None:
        if not quiet:
            msg = row["error"] if row["status"] == "failed" else f"{row['wall_s']:.1f} s"
            print(f"[{i + 1}/{len(units)}] {Path(row['file']).name}: {row['status']} ({msg}); "
                  f"elapsed {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    with dask_client(scheduler, workers) as client:
        rows = map_units(_fit_one, units, client=client, on_result=report, on_error=lost)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore",
                       lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    # the table describes this run, so it replaces the previous run's table (checked above)
    table = atomic_write_text(table_path, buf.getvalue(), force=True)
    atomic_write_text(out_dir / TABLE_MARK, json.dumps({"summary_sha256": sha256_file(table)}),
                      force=True)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "failed")}
    return {**counts, "rows": rows, "table": table}
