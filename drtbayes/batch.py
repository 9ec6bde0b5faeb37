"""Screening-scale batch fitting: one DRT fit per input file, streamed to disk.

``drtbayes fit-eis DIR/*.mpt --out DIR2`` writes ``DIR2/<file>.nc`` and ``DIR2/<file>.json``
per input and a combined ``DIR2/summary.csv``. A failed or invalid file is reported and skipped;
it never stops the batch and never loses the other results; a rerun skips finished files. The
compiled model is cached per shape inside each process (see :mod:`drtbayes.drt`), so the cost of
each further spectrum of the same shape is sampling only. Results stream to disk per file, so
memory stays flat however many files there are.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._atomic import atomic_write_text, sha256_file
from .errors import DrtbayesError
from .parallel import dask_client, map_units


def unit_seed(seed: int, path: Path) -> int:
    """Seed of one file: fixed by the base seed and the file name, not by its position."""
    return (int(seed) * 1_000_003 + zlib.crc32(path.name.encode())) % (2**31 - 1)


@dataclass(frozen=True)
class _Unit:
    path: Path
    out_nc: Path
    out_json: Path
    model: str
    seed: int
    fast: bool
    force: bool
    read_kwargs: dict[str, Any] = field(default_factory=dict)
    sampler: dict[str, Any] = field(default_factory=dict)


def _done(unit: _Unit, sha: str) -> bool:
    if unit.force or not unit.out_nc.is_file() or not unit.out_json.is_file():
        return False
    try:
        meta = json.loads(unit.out_json.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return False
    return meta.get("_input_sha256") == sha and meta.get("_seed") == unit.seed


def _fit_one(unit: _Unit) -> dict[str, Any]:
    """Fit one file; never raises for bad input (the failure is returned as a row)."""
    from .drt import fit_drt
    from .io import kk_check, read_spectra

    row: dict[str, Any] = {"file": str(unit.path), "status": "ok", "error": "", "wall_s": 0.0}
    t0 = time.perf_counter()
    try:
        sha = sha256_file(unit.path)
        if _done(unit, sha):
            row["status"] = "skipped"
            meta = json.loads(unit.out_json.read_text(encoding="utf-8"))
            row.update(_headline(meta))
            return row
        spectra = [kk_check(s) for s in read_spectra(unit.path, **unit.read_kwargs)]
        fit = fit_drt(spectra, model=unit.model, seed=unit.seed, fast=unit.fast,
                      progress=False, **unit.sampler)
        fit.save(unit.out_nc, force=True)
        summary = fit.to_json_summary()
        summary["_input_sha256"] = sha
        summary["_seed"] = unit.seed
        atomic_write_text(unit.out_json, json.dumps(summary, indent=1), force=True)
        row.update(_headline(summary))
    except (DrtbayesError, OSError) as exc:
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    row["wall_s"] = round(time.perf_counter() - t0, 3)
    return row


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    specs = [v for k, v in summary.items() if not k.startswith("_") and isinstance(v, dict)]
    if not specs:
        return {}
    s = specs[0]
    return {
        "n_spectra": len(specs),
        "r_inf_ohm": (s.get("r_inf") or {}).get("median"),
        "r_pol_ohm": (s.get("r_pol") or {}).get("median"),
        "n_peaks": len(s.get("peaks", [])),
        "gate_pass": (s.get("diagnostics") or {}).get("gate_pass"),
    }


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
        Spectrum files (any readable format).
    out_dir
        Output folder; ``<stem>.nc``, ``<stem>.json`` per input and ``summary.csv``.
    model, seed, fast, force
        As for :func:`drtbayes.fit_drt`; each file's seed is :func:`unit_seed` of ``seed``.
    scheduler, workers
        A Dask scheduler address or a number of local Dask workers; serial when both are None.
    quiet
        No progress lines.
    read_kwargs
        Metadata passed to the reader (design, cell, soc, cell_type, imag_sign).
    **sampler
        draws, tune, chains.

    Returns
    -------
    dict
        ``ok``, ``skipped``, ``failed`` counts, ``rows`` and the ``table`` path.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rk = {k: v for k, v in (read_kwargs or {}).items() if v is not None}
    units = []
    seen: set[str] = set()
    for f in files:
        f = Path(f)
        stem = f.stem if f.stem not in seen else f"{f.stem}-{zlib.crc32(str(f).encode()):08x}"
        seen.add(stem)
        units.append(_Unit(f, out_dir / f"{stem}.nc", out_dir / f"{stem}.json", model,
                           unit_seed(seed, f), fast, force, rk, dict(sampler)))
    t0 = time.perf_counter()

    def report(i: int, row: dict[str, Any]) -> None:
        if not quiet:
            msg = row["error"] if row["status"] == "failed" else f"{row['wall_s']:.1f} s"
            print(f"[{i + 1}/{len(units)}] {Path(row['file']).name}: {row['status']} ({msg}); "
                  f"elapsed {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    with dask_client(scheduler, workers) as client:
        rows = map_units(_fit_one, units, client=client, on_result=report)
    cols = ["file", "status", "n_spectra", "r_inf_ohm", "r_pol_ohm", "n_peaks", "gate_pass",
            "wall_s", "error"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    table = atomic_write_text(out_dir / "summary.csv", buf.getvalue(), force=True)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "failed")}
    return {**counts, "rows": rows, "table": table}
