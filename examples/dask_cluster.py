"""Fit many spectra in parallel on a Dask cluster (here a local one with 2 workers).

What it shows
-------------
``drtbayes.batch.fit_eis_batch`` fits every file on its own and streams one result per file
(``<name>.nc`` + ``<name>.json``) and a ``summary.csv`` to the output folder; a failed file is
reported and skipped, and a rerun skips finished files. Given a Dask scheduler address it runs
one task per file on the cluster's workers. Every file's seed is fixed by its name, so the
numbers are the same serially, on this local cluster, or on a remote one (Slurm/PBS through
dask-jobqueue: see docs/performance.md). The command-line equivalents are
``drtbayes fit-eis FILES --out DIR --workers 2`` and ``--scheduler tcp://host:8786``;
``drtbayes run study.toml --out DIR --workers 2`` runs a whole study's GITT splits the same way.

Dask is an optional extra (``pip install "drtbayes[dask]"``); without it the script says so and
exits without error.

Run
---
::

    python examples/dask_cluster.py            # full NUTS, 6 spectra on 2 workers
    python examples/dask_cluster.py --fast     # MAP + Laplace

Outputs in ``--out`` (default: a new temporary folder): ``spectra/*.csv`` (synthetic inputs),
``fits/*.nc``, ``fits/*.json``, ``fits/summary.csv``.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

import numpy as np

from drtbayes import elements


def write_spectra(folder: Path, n: int = 6, seed: int = 4) -> list[Path]:
    """N synthetic spectra (R_inf + two ZARCs, scattered), one CSV each."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    freq = elements.log_frequencies(1e5, 1e-1, per_decade=8)
    paths = []
    for i in range(n):
        f = np.exp(rng.normal(0.0, 0.2, 2))
        net = (elements.RCNetwork(5.0) + elements.zarc(10.0 * f[0], 1e-3, 0.85)
               + elements.zarc(20.0 * f[1], 1e-1, 0.8))
        z = net.impedance(freq)
        z = z + 0.002 * np.abs(z) * (rng.normal(size=z.size) + 1j * rng.normal(size=z.size))
        path = folder / f"cell{i + 1:02d}.csv"
        rows = ["frequency_hz,z_real_ohm,z_imag_ohm"]
        rows += [f"{a:.6e},{b:.8e},{c:.8e}" for a, b, c in zip(freq, z.real, z.imag)]
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fast", action="store_true", help="MAP + Laplace instead of NUTS")
    ap.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: temporary)")
    args = ap.parse_args(argv)

    try:
        from dask.distributed import LocalCluster
    except ImportError:
        print('dask is not installed: pip install "drtbayes[dask]" to run this example; skipped')
        return 0
    from drtbayes.batch import fit_eis_batch

    out = args.out or Path(tempfile.mkdtemp(prefix="drtbayes-dask-"))
    out.mkdir(parents=True, exist_ok=True)
    files = write_spectra(out / "spectra")

    # One thread per worker process: each fit runs its chains itself, and each worker keeps its
    # own compiled model. Any scheduler address works here, e.g. a dask-jobqueue SLURMCluster's.
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        print(f"Dask scheduler at {cluster.scheduler_address} with {args.workers} workers")
        summary = fit_eis_batch(files, out / "fits", model="drt-single", fast=args.fast,
                                seed=0, scheduler=cluster.scheduler_address, quiet=True)
    print(f"{summary['ok']} fitted, {summary['skipped']} up to date, {summary['failed']} failed")
    with open(summary["table"], newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            print(f"  {Path(row['file']).name}: R_inf {float(row['r_inf_ohm']):.2f} ohm, "
                  f"R_pol {float(row['r_pol_ohm']):.2f} ohm, {row['n_peaks']} peaks, "
                  f"{float(row['wall_s']):.1f} s")
    print(f"table: {summary['table']}")
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
