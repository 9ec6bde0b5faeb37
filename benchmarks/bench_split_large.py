"""Time and memory of the band split on long GITT records (issue 23's 10,000-pulse case).

A record of N pulses is simulated with drtbayes' GITT simulator (L_SE, 72 s pulses at a current
that moves the SOC by 0.99 % / N * 100 per pulse, 600 s rests, 1 ms first sample, 1 uV noise),
and split with the simulated study's EIS bands (``simulate.synthetic_drt_tree``, 200 draws)
and the default ``gitt-split`` preset. Each N runs in a fresh interpreter, so its peak resident
memory (``ru_maxrss``, imports included) is its own. Target: 10,000 pulses in <= 60 s and
<= 2 GB on 2 cores (issue 27); the record itself is 1.2 million samples.

Run::

    python benchmarks/bench_split_large.py                 # 1,000 and 10,000 pulses
    python benchmarks/bench_split_large.py --pulses 200    # a quick look
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
    import json, resource, sys, time, warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import xarray as xr
    from drtbayes import simulate as sim
    from drtbayes.io import make_gitt
    from drtbayes.split import split_gitt
    n, bands_path = int(sys.argv[1]), sys.argv[2]
    cp = sim.CommonParams()
    proto = sim.GittProtocol(n_pulses=n, soc_step_pct=99.0 / n, c_rate=50.0 / n, rest_s=600.0,
                             noise_v=1e-6, charge_start_soc=99.9)
    t0 = time.perf_counter()
    rec, _ = sim.simulate_gitt(sim.CellParams("L_SE", "L1"), sim.design_params()["L_SE"], cp,
                               proto, np.random.default_rng(0))
    t_sim = time.perf_counter() - t0
    g = make_gitt(rec["time_s"], rec["current_a"], rec["voltage_v"],
                  capacity_mah=cp.capacity_mah)
    g.attrs.update(design="L_SE", cell="L1")
    del rec
    bands = xr.load_dataset(bands_path)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    w0, c0 = time.perf_counter(), time.process_time()
    sp = split_gitt(g, bands, seed=1)
    out = {"pulses": int(sp.sizes["pulse"]), "samples": int(g.sizes["time"]),
           "simulate_s": t_sim, "wall_s": time.perf_counter() - w0,
           "cpu_s": time.process_time() - c0, "rss_before_mb": rss0,
           "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "r_median_ohm": [float(x) for x in
                            np.nanmedian(sp["resistance"].values, axis=(0, 2))]}
    print(json.dumps(out))
""")


def _bands(folder: Path) -> Path:
    import warnings

    from drtbayes import simulate as sim
    from drtbayes.bands import time_constant_bands

    warnings.simplefilter("ignore")
    sim.simulate_study(folder / "study", seed=0, force=True)
    path = folder / "bands.nc"
    time_constant_bands(sim.synthetic_drt_tree(folder / "study", n_draws=200,
                                               seed=0)).to_netcdf(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Split records of each size and print a line per size beside the target."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pulses", type=int, nargs="*", default=[1000, 10_000])
    args = ap.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    with tempfile.TemporaryDirectory(prefix="bench_split_large_") as tmp:
        bands = _bands(Path(tmp))
        print(f"{'pulses':>7}{'samples':>10}{'split s':>9}{'CPU s':>8}{'ms/pulse':>9}"
              f"{'peak MB':>9}   target")
        for n in args.pulses:
            res = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(bands)],
                                 capture_output=True, text=True, env=env, check=False)
            if res.returncode != 0:
                print(res.stderr[-2000:], file=sys.stderr)
                return 1
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{r['pulses']:7d}{r['samples']:10d}{r['wall_s']:9.1f}{r['cpu_s']:8.1f}"
                  f"{1e3 * r['wall_s'] / r['pulses']:9.1f}{r['rss_peak_mb']:9.0f}   "
                  "<= 60 s and <= 2 GB for 10,000 pulses"
                  f"   (R1/R2/R3/total medians {', '.join(f'{x:.2f}' for x in r['r_median_ohm'])}"
                  " ohm)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
