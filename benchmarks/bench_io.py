"""Reading speed and memory on large inputs (issue 27), beside the targets.

Each case runs in a fresh interpreter, so its peak resident memory (``ru_maxrss``) is its own
and not that of the cases before it; the imports (numpy, xarray, drtbayes.io) are included in
the peak and also printed alone. Wall time and CPU time (user + system) are both printed: on a
busy shared machine the wall time is the CPU time plus waiting for a core.

Cases

* ``read 1e6 rows``: ``read_spectrum`` on a three-column CSV of 1,000,000 log-spaced points
  written with 17 significant digits (59 MB). Target <= 5 s and <= 1 GB.
* ``read + KK 1e6 rows``: the same plus :func:`kk_check` (what ``drtbayes read FILE`` does).
* ``refuse > text limit``: a (sparse) text file one byte above ``MAX_TEXT_BYTES`` is refused
  from its size before it is read.
* ``detect_pulses N``: a GITT record of N pulses (60 s samples, 8 log-spaced samples in each
  pulse); linear in N, target <= 60 s for 10,000 pulses (the split's share is bench_split's).

Run::

    python benchmarks/bench_io.py            # all cases (about a minute on 2 cores)
    python benchmarks/bench_io.py --rows 200000 --pulses 1000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = textwrap.dedent("""
    import json, os, resource, sys, time
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    import numpy as np
    import drtbayes.io as dio
    from drtbayes.errors import FileFormatError
    case, arg = sys.argv[1], sys.argv[2]
    t_imp_wall, t_imp_cpu = time.perf_counter(), time.process_time()
    rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {}
    if case == "read":
        s = dio.read_spectrum(arg)
        out["points"] = int(s.sizes["frequency"])
    elif case == "read_kk":
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = dio.kk_check(dio.read_spectrum(arg))
        out["points"] = int(s.sizes["frequency"])
        out["kk_max_residual"] = float(s.attrs["kk_max_residual"])
    elif case == "refuse":
        try:
            dio.read_spectrum(arg)
            out["refused"] = False
        except FileFormatError:
            out["refused"] = True
    elif case == "pulses":
        n = int(arg)
        rng_t, cur = [0.0], [0.0]
        t = 600.0
        for k in range(n):
            rng_t += [t, t + 7200.0 / n]
            cur += [-1e-3, 0.0]
            t += 7200.0 / n + 600.0
        edges = np.array(rng_t)
        grid = np.unique(np.concatenate([np.arange(0.0, t, 60.0)] + [
            a + np.geomspace(1e-3, 7200.0 / n, 8) for a in edges[1::2]] + [edges]))
        i = np.array(cur)[np.searchsorted(edges, grid, side="right") - 1]
        q = np.concatenate([[0.0], np.cumsum(i[:-1] * np.diff(grid))])
        v = 3.8 + 0.5 * q / 7.2 + 5.0 * i
        rec = dio.make_gitt(grid, i, v, capacity_mah=2.0)
        t0w, t0c = time.perf_counter(), time.process_time()
        p = dio.detect_pulses(rec)
        out["detect_wall_s"] = time.perf_counter() - t0w
        out["detect_cpu_s"] = time.process_time() - t0c
        out["pulses"] = int(p.sizes["pulse"])
        out["samples"] = int(grid.size)
    out["wall_s"] = time.perf_counter() - t_imp_wall
    out["cpu_s"] = time.process_time() - t_imp_cpu
    out["import_wall_s"] = t_imp_wall - t_wall
    out["rss_imports_mb"] = rss_imports
    out["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
""")


def _run(case: str, arg: str) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    res = subprocess.run([sys.executable, "-c", _CHILD, case, arg], capture_output=True,
                         text=True, env=env, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _write_spectrum(path: Path, rows: int) -> int:
    """Write a ``rows``-point two-arc spectrum with 17 significant digits; return its size."""
    import numpy as np

    f = np.logspace(6, -2, rows)
    z = 10 + 100 / (1 + 1j * f / 1e3) + 50 / (1 + 1j * f / 1.0)
    with open(path, "w") as fh:
        fh.write("frequency_hz,z_real_ohm,z_imag_ohm\n")
        np.savetxt(fh, np.column_stack([f, z.real, z.imag]), delimiter=",", fmt="%.17g")
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print one line each, beside the target."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pulses", type=int, nargs="*", default=[1000, 10_000])
    a = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from drtbayes.io import _text

    print(f"{'case':<28}{'wall s':>8}{'cpu s':>8}{'peak MB':>9}{'imports MB':>11}  target")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.csv"
        size = _write_spectrum(big, a.rows)
        for case, label, target in (
            ("read", f"read {a.rows:.0e} rows", "<= 5 s, <= 1024 MB (1e6 rows)"),
            ("read_kk", f"read + KK {a.rows:.0e} rows", "(no target)"),
        ):
            r = _run(case, str(big))
            print(f"{label:<28}{r['wall_s']:8.2f}{r['cpu_s']:8.2f}{r['rss_peak_mb']:9.0f}"
                  f"{r['rss_imports_mb']:11.0f}  {target}  [{size / 2**20:.0f} MiB file, "
                  f"{r['points']} points]")
        huge = Path(tmp) / "huge.csv"
        with open(huge, "wb") as fh:  # sparse: no disk space used
            fh.write(b"frequency_hz,z_real_ohm,z_imag_ohm\n")
            fh.truncate(_text.MAX_TEXT_BYTES + 1)
        r = _run("refuse", str(huge))
        print(f"{'refuse > text limit':<28}{r['wall_s']:8.3f}{r['cpu_s']:8.3f}"
              f"{r['rss_peak_mb']:9.0f}{r['rss_imports_mb']:11.0f}  refused up front: "
              f"{r['refused']} (limit {_text.MAX_TEXT_BYTES / 2**20:.0f} MiB)")
    for n in a.pulses:
        r = _run("pulses", str(n))
        print(f"{'detect_pulses ' + str(n):<28}{r['detect_wall_s']:8.2f}{r['detect_cpu_s']:8.2f}"
              f"{r['rss_peak_mb']:9.0f}{r['rss_imports_mb']:11.0f}  <= 60 s for 10,000 pulses "
              f"[{r['pulses']} found, {r['samples']} samples]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
