"""Cost curve of batch DRT fitting: N = 1, 10, 100 (1000 with --full) spectra, serial vs Dask.

Generates N same-shaped spectrum CSV files (81 frequencies, 1 MHz - 10 mHz, the 2-ZARC circuit
of ``bench_drt.py`` with resistances and time constants scattered per file, 1 % noise), then
fits them with :func:`drtbayes.batch.fit_eis_batch` serially and with ``workers=2`` (a Dask
LocalCluster). Each (N, mode) runs in a fresh Python process, so every row pays the model
compilation once (per worker) and its peak memory is its own.

Per row: wall time (cluster start-up included), time per spectrum, throughput (spectra per
minute), the median per-file time after the first (the steady-state cost: sampling, reading,
writing), and peak RSS: of the main process (``getrusage``) and of the main process plus all
its workers together (sampled every 0.2 s with psutil).

Run:  python benchmarks/bench_batch.py [--quick] [--full] [--draws 500 --tune 500 --chains 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def write_spectra(folder: Path, n: int, seed: int) -> list[Path]:
    """``n`` CSV spectra (frequency_hz, z_real_ohm, z_imag_ohm) with per-file circuit scatter."""
    from bench_drt import NOISE_REL, R_INF_OHM, ZARCS

    from drtbayes import elements as el
    from drtbayes._atomic import atomic_write_text

    folder.mkdir(parents=True, exist_ok=True)
    f = el.log_frequencies(1e6, 1e-2, per_decade=10)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        # +-20 % in R, +-0.2 decade in tau: a screening set of similar cells, not one repeated
        z = R_INF_OHM * rng.uniform(0.9, 1.1) + sum(
            el.zarc_impedance(f, r * rng.uniform(0.8, 1.2), t * 10 ** rng.uniform(-0.2, 0.2), a)
            for r, t, a in ZARCS)
        z = z + NOISE_REL * np.abs(z) * (rng.standard_normal(f.size)
                                         + 1j * rng.standard_normal(f.size))
        text = "frequency_hz,z_real_ohm,z_imag_ohm\n" + "".join(
            f"{fi:.10g},{zi.real:.10g},{zi.imag:.10g}\n" for fi, zi in zip(f, z, strict=True))
        paths.append(atomic_write_text(folder / f"cell{i:04d}.csv", text, force=True))
    return paths


class _TreeRss:
    """Peak of the summed RSS of this process and all its descendants (Dask workers)."""

    def __init__(self, interval_s: float = 0.2) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._interval = interval_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self.peak_bytes = max(self.peak_bytes, total)
            self._stop.wait(self._interval)

    def __enter__(self) -> _TreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_one(files_dir: Path, n: int, workers: int, sampler: dict[str, int], seed: int) -> dict:
    """One row of the curve, in this (fresh) process."""
    import warnings

    from drtbayes.batch import fit_eis_batch

    warnings.simplefilter("ignore")
    files = sorted(files_dir.glob("cell*.csv"))[:n]
    out = Path(tempfile.mkdtemp(prefix=f"bench_batch_{n}_{workers}_"))
    try:
        try:
            tracker: Any = _TreeRss()
        except ImportError:
            tracker = None
        t0 = time.perf_counter()
        if tracker is not None:
            with tracker:
                res = fit_eis_batch(files, out, model="drt-single", seed=seed, force=True,
                                    workers=workers or None, quiet=True, **sampler)
        else:
            res = fit_eis_batch(files, out, model="drt-single", seed=seed, force=True,
                                workers=workers or None, quiet=True, **sampler)
        wall = time.perf_counter() - t0
        walls = [r["wall_s"] for r in res["rows"]]
        # per-file times in finishing order are not recorded; the first file of each process
        # compiles, so the steady state is the median of all but the slowest ``max(1, workers)``
        steady = sorted(walls)[: max(1, len(walls) - max(1, workers))] or walls
        return {
            "n": n, "workers": workers, "ok": res["ok"], "failed": res["failed"],
            "wall_s": wall, "per_spectrum_s": wall / n, "spectra_per_min": 60.0 * n / wall,
            "steady_per_file_s": float(np.median(steady)),
            "gate_pass": sum(bool(r.get("gate_pass")) for r in res["rows"]),
            "rss_main_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "rss_tree_peak_mib": (tracker.peak_bytes / 2**20) if tracker is not None else None,
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def render(rows: list[dict], sampler: dict[str, int]) -> str:
    """Markdown table of the cost curve."""
    lines = [f"drt-single, {sampler['chains']} chains x {sampler['draws']} draws "
             f"(+{sampler['tune']} warm-up) per spectrum; 81 frequencies per spectrum",
             "",
             "| N | mode | wall (s) | s per spectrum | spectra / min | steady s per file "
             "| gate passed | peak RSS main (MiB) | peak RSS main+workers (MiB) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mode = "serial" if not r["workers"] else f"{r['workers']} Dask workers"
        tree = "-" if r["rss_tree_peak_mib"] is None else f"{r['rss_tree_peak_mib']:.0f}"
        lines.append(
            f"| {r['n']} | {mode} | {r['wall_s']:.1f} | {r['per_spectrum_s']:.2f} | "
            f"{r['spectra_per_min']:.1f} | {r['steady_per_file_s']:.2f} | "
            f"{r['gate_pass']}/{r['ok']} | {r['rss_main_mib']:.0f} | {tree} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 1, 10 only")
    ap.add_argument("--full", action="store_true", help="add N = 1000 (long: ~1 h on 2 cores)")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="explicit N values")
    ap.add_argument("--workers", type=int, default=2, help="Dask local workers (0: serial only)")
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    ap.add_argument("--_one", nargs=3, metavar=("DIR", "N", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    sampler = {"draws": args.draws, "tune": args.tune, "chains": args.chains}

    if args._one:
        folder, n, workers = Path(args._one[0]), int(args._one[1]), int(args._one[2])
        print("ROW " + json.dumps(run_one(folder, n, workers, sampler, args.seed)))
        return

    sizes = args.sizes or ([1, 10] if args.quick else [1, 10, 100]) + ([1000] if args.full
                                                                      else [])
    modes = [0] + ([args.workers] if args.workers else [])
    data = Path(tempfile.mkdtemp(prefix="bench_batch_data_"))
    rows = []
    try:
        write_spectra(data, max(sizes), args.seed)
        for n in sizes:
            for w in modes:
                print(f"N={n} {'serial' if not w else f'{w} workers'} ...", file=sys.stderr,
                      flush=True)
                cmd = [sys.executable, __file__, "--_one", str(data), str(n), str(w),
                       "--draws", str(args.draws), "--tune", str(args.tune),
                       "--chains", str(args.chains), "--seed", str(args.seed)]
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                      env={**os.environ, "PYTHONWARNINGS": "ignore"})
                line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("ROW ")),
                            None)
                if proc.returncode != 0 or line is None:
                    print(f"  failed (exit {proc.returncode}):\n"
                          + "\n".join(proc.stderr.strip().splitlines()[-10:]), file=sys.stderr)
                    continue
                rows.append(json.loads(line[4:]))
                r = rows[-1]
                print(f"  {r['wall_s']:.1f} s, {r['spectra_per_min']:.1f} spectra/min",
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    print(render(rows, sampler))
    if args.json:
        from drtbayes._atomic import atomic_write_text

        atomic_write_text(args.json, json.dumps({"sampler": sampler, "rows": rows}, indent=1),
                          force=True)


if __name__ == "__main__":
    main()
