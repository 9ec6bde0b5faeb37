"""Wall time of the process split against the number of pulses (issue 21: about linear).

Alternating-pulse records (10 s pulses at C/2, discharge and charge in turn, 50 s rests, 1 s
logging; at most 1000 pulses per record, several records for more) are synthesised, their
voltage from the process elements' step responses. This is a
timing benchmark only: the voltages use the estimator's own element code, so it says nothing
about accuracy (tests/test_processes.py and bench_split_processes.py do).

    python benchmarks/bench_processes_speed.py --pulses 100 1000 10000 [--fast]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from drtbayes import elements as el
from drtbayes.io import make_gitt, make_spectrum
from drtbayes.processes import elements as pe
from drtbayes.processes import fit_processes
from drtbayes.processes.pulse import FAST
from drtbayes.split import split_gitt


def _record(n_pulses: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    pulse_s, rest_s, i_a = 10.0, 50.0, 1.2e-3
    period = pulse_s + rest_s
    t = np.arange(0.0, 300.0 + n_pulses * period + 1.0, 1.0)
    cur = np.zeros_like(t)
    v = np.full_like(t, 3.9)
    for k in range(n_pulses):
        t_on = 300.0 + k * period
        sign = -1.0 if k % 2 == 0 else 1.0
        cur[(t >= t_on) & (t < t_on + pulse_s)] = sign * i_a
        sel = (t >= t_on) & (t < t_on + 20 * period)
        tt = t[sel]
        on = ((tt >= t_on) & (tt < t_on + pulse_s)).astype(float)
        dv = (10.0 * on + 20.0 * pe.pulse_column("zarc", tt, t_on, t_on + pulse_s, 3e-2, 0.85)
              + 10.0 * pe.pulse_column("warburg", tt, t_on, t_on + pulse_s, 100.0))
        v[sel] += sign * i_a * dv
    v += rng.normal(0.0, 1e-4, v.size)
    return make_gitt(t, cur, v, design="A", cell=f"c{seed}", capacity_mah=2.4)


def main() -> None:
    """Time the split of records of each size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pulses", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--fast", action="store_true", help="the split's fast settings")
    args = ap.parse_args()
    f = el.log_frequencies(1e6, 1e-2, 10)
    cath = el.rc(6.0, 1e-5) + el.zarc(20.0, 3e-2, 0.85) + el.warburg_reflective(30.0, 100.0)
    z = (el.RCNetwork(8.0) + cath.scaled(2.0)).impedance(f)
    pf = fit_processes([make_spectrum(f, z, design="A", cell="s1", soc=50.0)],
                       candidates=["contact+ct+diffusion"])
    for n in args.pulses:
        # the readers' checks allow at most ~1.2 capacities of discharge per record, so a
        # large count is split over records of at most 1000 pulses (one per cell)
        per = min(n, 1000)
        rec = [_record(per, seed=k) for k in range(max(1, n // per))]
        t0 = time.perf_counter()
        sp = split_gitt(rec, pf, method="processes", n_samples=200,
                        process_settings=FAST if args.fast else None)
        dt = time.perf_counter() - t0
        print(f"{n} pulses ({sp.sizes['pulse']} split): {dt:.1f} s, "
              f"{1e3 * dt / sp.sizes['pulse']:.1f} ms per pulse")


if __name__ == "__main__":
    main()
