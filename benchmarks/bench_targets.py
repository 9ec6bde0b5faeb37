"""Every speed target of issue 27 in one run: the figure beside the target and the peers.

Rows (each measured in fresh processes, so imports, caches and memory are each row's own):

* ``fit-eis``: ``drtbayes fit-eis one.csv`` as a whole process (the 2-ZARC spectrum of
  ``bench_drt.py``), NUTS and ``--fast``, each run once to warm the disk caches and then timed;
  wall and CPU (user + system) time of the child.
* ``later``: in one process, a NUTS fit of the 2-ZARC spectrum (compiles), then a fit of a
  new noise draw of the same shape: its wall time, split into the empirical-Bayes search,
  NUTS sampling and the rest; and the result's summary (``summary_dict``) timed apart.
* ``real``: in the same process, a NUTS fit of each real spectrum under
  ``../shared/data/real`` (``bench_real.py``'s files; the ion-blocking pellet is left out, not
  being a DRT case): wall time and wall time less the compilation its new shape needs,
  against the 2-ZARC later fit.
* ``demo``: ``drtbayes demo`` as a whole process (warm cache: the models compiled before).
* ``batch``: ``fit_eis_batch`` (``bench_batch.py``'s spectra, the preset's sampler) on N
  spectra serially and with 2 Dask workers, for each N of ``--batch-sizes``; the cost per
  spectrum at each N, the Dask speed-up, and the 1000-spectrum time: measured when 1000 is
  among the sizes, else extrapolated from the largest N (labelled so).
* ``split``: the band split of a 10,000-pulse record (``bench_split_large.py``'s case; with
  ``--quick`` 1,000 pulses, scaled x10 and labelled so).
* ``read``: ``read_spectrum`` of a 1e6-row CSV (``bench_io.py``'s case): wall, CPU, peak RSS.
* ``peers``: ``bench_peers.py`` (drtbayes vs pyDRTtools and pyimpspec) as a subprocess, or its
  JSON via ``--peers-json``: ESS/s against pyDRTtools' ``Bayesian_run`` (target >= 50x) and
  the time per spectrum against pyimpspec's TR-RBF with credible intervals.

The machine's load (``os.getloadavg``) is recorded before and after every row: on a shared
2-core machine the wall times are upper bounds of the quiet machine's (the CPU times less so).

Run::

    python benchmarks/bench_targets.py --json targets.json          # everything (~20 min)
    python benchmarks/bench_targets.py --quick                      # smaller cases (~8 min)
    python benchmarks/bench_targets.py --only fit-eis later         # some rows
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
import textwrap
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

ROWS = ("fit-eis", "later", "real", "demo", "batch", "split", "read", "peers")
ENV = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
       "PYTHONWARNINGS": "ignore"}


def _load() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.2f} {b:.2f} {c:.2f}"


def _timed_child(cmd: list[str], cwd: Path | None = None, timeout: float = 3600.0
                 ) -> dict[str, Any]:
    """Wall and CPU time (user + system of the child and its children) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=cwd, check=False,
                          timeout=timeout)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "rc": proc.returncode,
            "rss_peak_mb": after.ru_maxrss / 1024, "stdout": proc.stdout,
            "stderr_tail": "\n".join(proc.stderr.strip().splitlines()[-5:])}


# --------------------------------------------------------------------------- fit-eis
def row_fit_eis(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import numpy as np
    from bench_drt import make_benchmark_spectrum

    f, z, _ = make_benchmark_spectrum(0)
    csv = tmp / "one.csv"
    np.savetxt(csv, np.c_[f, z.real, z.imag], delimiter=",", comments="",
               header="frequency_hz,z_real_ohm,z_imag_ohm")
    out: dict[str, Any] = {}
    for label, extra in (("nuts", []), ("fast", ["--fast"])):
        cmd = [sys.executable, "-m", "drtbayes.cli", "fit-eis", str(csv), "--out",
               str(tmp / f"fit-{label}.nc"), "--force", "--seed", "0", *extra]
        warm = _timed_child(cmd)  # fills the PyTensor / numba disk caches if they are empty
        runs = [_timed_child(cmd) for _ in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall_s"])
        out[label] = {"warm_up_wall_s": warm["wall_s"], "wall_s": best["wall_s"],
                      "cpu_s": best["cpu_s"], "rc": best["rc"],
                      "all_wall_s": [r["wall_s"] for r in runs], "load": _load()}
    # where a fresh process spends its time before any fitting: the imports alone
    imp = _timed_child([sys.executable, "-c",
                        "import drtbayes.io, drtbayes.drt, pymc, nutpie"])
    out["imports_wall_s"], out["imports_cpu_s"] = imp["wall_s"], imp["cpu_s"]
    return out


# --------------------------------------------------------------------------- later + real
_LATER_CHILD = textwrap.dedent("""
    import json, sys, time, warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import nutpie, pymc  # noqa: F401
    import drtbayes, drtbayes.drt  # noqa: F401
    from bench_drt import make_benchmark_spectrum
    from bench_real import REAL, read
    files = json.loads(sys.argv[2])
    out = {}

    def fit(spec, seed):
        t = time.process_time(), time.perf_counter()
        res = drtbayes.fit_drt(spec, "drt-single", seed=seed, progress=False)
        wall, cpu = time.perf_counter() - t[1], time.process_time() - t[0]
        tm = json.loads(res.tree.attrs["timing"])
        t2 = time.perf_counter()
        res.summary_dict()
        summ = time.perf_counter() - t2
        d = next(iter(res.diagnostics.values()))
        return {"wall_s": wall, "cpu_s": cpu, "compile_s": tm.get("compile_s"),
                "sample_s": tm.get("sample_s"),
                "eb_search_s": (tm.get("empirical_bayes") or {}).get("search_s"),
                "summary_s": summ, "n_freq": int(spec.sizes["frequency"]),
                "ess_bulk_min": d.get("ess_bulk_min"), "gate_pass": d.get("gate_pass")}

    for i in range(3):  # 1st compiles; the later ones reuse the compiled model
        _, _, spec = make_benchmark_spectrum(i)
        out[f"2zarc_{i}"] = fit(spec, i)
    for name in files:
        try:
            spec = read(name)
            spec = spec.isel(frequency=np.flatnonzero(np.isfinite(spec["z_real"].values)))
            out[name] = fit(spec, 0)
        except Exception as exc:  # a reader or fit gap is a row of the table
            out[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        print("PROGRESS", name, file=sys.stderr, flush=True)
    print("RESULT " + json.dumps(out, default=float))
""")

REAL_FILES = [
    "impedancepy/exampleData.csv", "pydrttools/LIB_data.txt", "pydrttools/data_1.csv",
    "impedancepy/exampleDataParstat.txt", "hybriddrt/PEIS_SSB.mpr",
    "hybriddrt/Sample2_PEIS_AtRest.csv", "hybriddrt/EISGALV_EISTest3.DTA",
    "impedancepy/exampleDataAutolab.txt", "impedancepy/exampleDataBioLogic.mpt",
    "impedancepy/exampleDataZPlot.z",
]
#: the battery cells among them (the target's "real battery spectra")
BATTERY = {"impedancepy/exampleData.csv", "pydrttools/LIB_data.txt", "pydrttools/data_1.csv",
           "impedancepy/exampleDataParstat.txt", "hybriddrt/PEIS_SSB.mpr",
           "hybriddrt/Sample2_PEIS_AtRest.csv", "hybriddrt/EISGALV_EISTest3.DTA"}


def row_later_real(args: argparse.Namespace, with_real: bool) -> dict[str, Any]:
    files = (REAL_FILES[:3] if args.quick else REAL_FILES) if with_real else []
    r = _timed_child([sys.executable, "-c", _LATER_CHILD, str(HERE), json.dumps(files)])
    line = next((ln for ln in r["stdout"].splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        return {"error": r["stderr_tail"], "load": _load()}
    return {"fits": json.loads(line[7:]), "load": _load()}


# --------------------------------------------------------------------------- demo
def row_demo(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, extra in (("nuts", []),) + ((("fast", ["--fast"]),) if args.quick else ()):
        r = _timed_child([sys.executable, "-m", "drtbayes.cli", "demo", "--out",
                          str(tmp / f"demo-{label}"), "--force", "--quiet", *extra])
        out[label] = {k: r[k] for k in ("wall_s", "cpu_s", "rc", "stderr_tail")}
        out[label]["load"] = _load()
    return out


# --------------------------------------------------------------------------- batch
def row_batch(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bench_batch import write_spectra

    sizes = args.batch_sizes
    data = tmp / "batch"
    write_spectra(data, max(sizes), 0)
    rows = []
    for n in sizes:
        for w in (0, 2):
            cmd = [sys.executable, str(HERE / "bench_batch.py"), "--_one", str(data), str(n),
                   str(w), "--draws", "1000", "--tune", "300", "--chains", "4", "--seed", "0"]
            r = _timed_child(cmd)
            line = next((ln for ln in r["stdout"].splitlines() if ln.startswith("ROW ")), None)
            if line is None:
                rows.append({"n": n, "workers": w, "error": r["stderr_tail"]})
                continue
            rows.append({**json.loads(line[4:]), "load": _load()})
            print(f"  batch N={n} workers={w}: {rows[-1]['wall_s']:.1f} s", file=sys.stderr,
                  flush=True)
    return {"rows": rows, "sampler": "preset drt-single: 4 chains x 1000 draws, 300 warm-up"}


# --------------------------------------------------------------------------- split, read
def row_split(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bench_split_large import _CHILD, _bands

    n = 1000 if args.quick else 10_000
    bands = _bands(tmp / "split")
    r = _timed_child([sys.executable, "-c", _CHILD, str(n), str(bands)])
    if r["rc"] != 0:
        return {"error": r["stderr_tail"]}
    res = json.loads(r["stdout"].strip().splitlines()[-1])
    return {**res, "n_pulses": n, "scaled_to_10k": n != 10_000, "load": _load()}


def row_read(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bench_io import _run, _write_spectrum

    rows = 200_000 if args.quick else 1_000_000
    big = tmp / "big.csv"
    size = _write_spectrum(big, rows)
    r = _run("read", str(big))
    return {**r, "rows": rows, "file_mib": size / 2**20, "load": _load()}


# --------------------------------------------------------------------------- peers
def row_peers(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    if args.peers_json:  # one or more bench_peers.py JSONs, their spectra merged
        parts = [json.loads(Path(p).read_text()) for p in args.peers_json]
        merged = {**parts[0], "spectra": {}, "sources": [str(p) for p in args.peers_json]}
        for part in parts:
            for name, entry in part["spectra"].items():
                merged["spectra"].setdefault(name, {}).update(entry)
        merged["load"] = "; ".join(p.get("load", "") for p in parts)
        return merged
    out = tmp / "peers.json"
    cmd = [sys.executable, str(HERE / "bench_peers.py"), "--json", str(out)]
    if args.quick:
        cmd += ["--files"]  # the 2-ZARC spectrum only
    r = _timed_child(cmd)
    if not out.is_file():
        return {"error": r["stderr_tail"]}
    return json.loads(out.read_text())


# --------------------------------------------------------------------------- table
def _f(x: Any, spec: str = ".2f") -> str:
    return "-" if x is None else format(x, spec)


def table(res: dict[str, Any], args: argparse.Namespace) -> list[list[str]]:
    """Rows: what | target | measured | met? | peer figure | load."""
    t: list[list[str]] = []

    def add(what: str, target: str, measured: str, met: bool | None, peer: str = "",
            load: str = "") -> None:
        t.append([what, target, measured, "-" if met is None else ("yes" if met else "NO"),
                  peer, load])

    peers = res.get("peers") or {}
    pz = (peers.get("spectra") or {}).get("2zarc") or {}

    def pt(method: str, label: str) -> str:
        v = pz.get(method) or {}
        return f"{label} {v['wall_s']:.1f} s" if v.get("wall_s") else ""

    peer_fast = pt("pydrttools-ridge", "pyDRTtools ridge+GCV")
    peer_nuts = "; ".join(x for x in (pt("pydrttools-bayes", "Bayesian_run"),
                                      pt("pyimpspec-trrbf-ci", "TR-RBF-CI"),
                                      pt("pyimpspec-bht", "BHT")) if x)
    fe = res.get("fit-eis")
    if fe:
        for label, lim in (("nuts", 4.0), ("fast", 1.5)):
            r = fe[label]
            how = "NUTS" if label == "nuts" else "--fast"
            add(f"fit-eis one.csv, whole process, warm cache ({how})",
                f"<= {lim:g} s", f"{r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU"
                + ("" if r["rc"] == 0 else f" (exit {r['rc']})"),
                r["wall_s"] <= lim and r["rc"] == 0,
                peer=peer_nuts if label == "nuts" else peer_fast, load=r["load"])
        add("  of which: imports alone (drtbayes.io, .drt, pymc, nutpie)", "-",
            f"{fe['imports_wall_s']:.1f} s wall, {fe['imports_cpu_s']:.1f} s CPU", None)
    lr = res.get("later") or res.get("real")
    if lr and "fits" in lr:
        fits = lr["fits"]
        later = [fits[k] for k in ("2zarc_1", "2zarc_2") if k in fits]
        best = min(later, key=lambda r: r["wall_s"])
        # timing's sample_s holds the empirical-Bayes search and the NUTS run
        eb, smp = best["eb_search_s"] or 0.0, best["sample_s"] or 0.0
        add("later in-process NUTS fit, 2-ZARC", "<= 0.6 s",
            f"{best['wall_s']:.2f} s (EB search {eb:.2f}, NUTS {smp - eb:.2f}, rest "
            f"{best['wall_s'] - smp:.2f}); "
            f"summary {best['summary_s']:.2f} s apart", best["wall_s"] <= 0.6,
            peer=peer_nuts, load=lr["load"])
        real = {k: v for k, v in fits.items() if not k.startswith("2zarc")}
        if real:
            ok = {k: v for k, v in real.items() if "error" not in v}
            bat = {k: v for k, v in ok.items() if k in BATTERY}
            ratios = {k: (v["wall_s"] - (v["compile_s"] or 0.0)) / best["wall_s"]
                      for k, v in bat.items()}
            worst = max(ratios, key=ratios.get) if ratios else None
            add("NUTS on real battery spectra (fit less compile of the new shape)",
                "<= 2x the synthetic",
                (f"worst {ratios[worst]:.2f}x ({worst}); median "
                 f"{sorted(ratios.values())[len(ratios) // 2]:.2f}x over {len(ratios)} files"
                 if worst else "no file fitted")
                + (f"; {len(real) - len(ok)} not fitted" if len(ok) < len(real) else ""),
                (max(ratios.values()) <= 2.0) if ratios else None, load=lr["load"])
    dm = res.get("demo")
    if dm:
        r = dm["nuts"]
        add("drtbayes demo", "<= 45 s", f"{r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} s CPU"
            + ("" if r["rc"] == 0 else f" (exit {r['rc']})"), r["wall_s"] <= 45 and r["rc"] == 0,
            load=r["load"])
        if "fast" in dm:
            add("  drtbayes demo --fast", "-", f"{dm['fast']['wall_s']:.0f} s", None,
                load=dm["fast"]["load"])
    bt = res.get("batch")
    if bt:
        rows = [r for r in bt["rows"] if "error" not in r]
        by = {(r["n"], r["workers"]): r for r in rows}
        ns = sorted({r["n"] for r in rows})
        if ns:
            big = ns[-1]
            modes = [w for w in (2, 0) if (big, w) in by]
            w_best = min(modes, key=lambda w: by[(big, w)]["wall_s"])
            per = by[(big, w_best)]["per_spectrum_s"]
            measured = 1000 in ns
            t1000 = by[(1000, w_best)]["wall_s"] if measured else per * 1000
            flat = ", ".join(f"N={n}: {by[(n, w_best)]['per_spectrum_s']:.2f}"
                             for n in ns if (n, w_best) in by)
            add("1000 spectra, NUTS, 2 cores", "<= 10 min, flat cost per spectrum",
                f"{t1000 / 60:.1f} min {'measured' if measured else f'EXTRAPOLATED from N={big}'}"
                f" ({'2 Dask workers' if w_best else 'serial'}); s per spectrum {flat}",
                t1000 <= 600, load=by[(big, w_best)]["load"])
            if (big, 0) in by and (big, 2) in by:
                sp = by[(big, 0)]["wall_s"] / by[(big, 2)]["wall_s"]
                add("Dask, 2 workers against 1 (serial)", ">= 1.8x",
                    f"{sp:.2f}x at N={big} ({by[(big, 0)]['wall_s']:.0f} s vs "
                    f"{by[(big, 2)]['wall_s']:.0f} s)", sp >= 1.8, load=by[(big, 2)]["load"])
    sp = res.get("split")
    if sp and "error" not in sp:
        w = sp["wall_s"] * (10_000 / sp["n_pulses"])
        add("10,000-pulse split", "<= 60 s",
            f"{w:.0f} s{' (SCALED x10 from 1,000 pulses)' if sp['scaled_to_10k'] else ''}, "
            f"CPU {sp['cpu_s'] * 10_000 / sp['n_pulses']:.0f} s, peak {sp['rss_peak_mb']:.0f} MB",
            w <= 60, load=sp["load"])
    rd = res.get("read")
    if rd:
        scale = 1_000_000 / rd["rows"]
        add(f"1e6-row read{'' if scale == 1 else ' (SCALED from 2e5 rows)'}",
            "<= 5 s and <= 1 GB",
            f"{rd['wall_s'] * scale:.1f} s wall, {rd['cpu_s'] * scale:.1f} s CPU, peak "
            f"{rd['rss_peak_mb']:.0f} MB (imports {rd['rss_imports_mb']:.0f} MB)",
            rd["wall_s"] * scale <= 5 and rd["rss_peak_mb"] <= 1024, load=rd["load"])
    if peers and "spectra" in peers:
        z = peers["spectra"].get("2zarc") or {}
        db, bay = z.get("drtbayes-nuts") or {}, z.get("pydrttools-bayes") or {}
        if db.get("ess_per_s") and bay.get("ess_per_s"):
            ratio = db["ess_per_s"] / bay["ess_per_s"]
            add("ESS/s against pyDRTtools Bayesian_run (2-ZARC)", ">= 50x",
                f"{ratio:.0f}x ({db['ess_per_s']:.0f} vs {bay['ess_per_s']:.2f} ESS/s)",
                ratio >= 50, peer=f"Bayesian_run {bay['wall_s']:.0f} s", load=peers.get("load", ""))
        worse = []
        n = 0
        for name, s in peers["spectra"].items():
            a, b = (s.get("drtbayes-nuts") or {}), (s.get("pyimpspec-trrbf-ci") or {})
            if a.get("wall_s") and b.get("wall_s"):
                n += 1
                if a["wall_s"] >= b["wall_s"]:
                    worse.append(f"{name} {a['wall_s']:.1f} vs {b['wall_s']:.1f} s")
        if n:
            zt = (z.get("pyimpspec-trrbf-ci") or {}).get("wall_s")
            add("NUTS time per spectrum below pyimpspec TR-RBF + credible intervals",
                "below", f"below on {n - len(worse)}/{n} spectra"
                + (f"; not on: {'; '.join(worse)}" if worse else ""), not worse,
                peer=f"TR-RBF-CI {zt:.1f} s (2-ZARC)" if zt else "", load=peers.get("load", ""))
    return t


def render(t: list[list[str]]) -> str:
    head = ["what", "target", "measured", "met?", "peer figure", "load (1/5/15 min)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in t]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", choices=ROWS, default=None, help="these rows only")
    ap.add_argument("--quick", action="store_true",
                    help="smaller cases: 3 real files, batch N=4/8, 1,000-pulse split (x10), "
                         "2e5-row read (x5), peers on the 2-ZARC spectrum only")
    ap.add_argument("--batch-sizes", type=int, nargs="*", default=None,
                    help="batch N values (default 10 20; --quick 4 8); include 1000 to "
                         "measure the 1000-spectrum row instead of extrapolating")
    ap.add_argument("--repeat", type=int, default=1, help="timed fit-eis runs (best kept)")
    ap.add_argument("--peers-json", type=Path, nargs="*", default=None,
                    help="bench_peers.py's JSON (one or more, merged) instead of running it")
    ap.add_argument("--reuse", type=Path, default=None,
                    help="an earlier run's JSON: its rows are taken from it, not measured")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = ap.parse_args()
    if args.batch_sizes is None:
        args.batch_sizes = [4, 8] if args.quick else [10, 20]
    only = args.only or list(ROWS)
    res: dict[str, Any] = {"config": {"quick": args.quick, "batch_sizes": args.batch_sizes,
                                      "cpus": os.cpu_count(), "started": time.ctime(),
                                      "load_start": _load()}}
    if args.reuse:
        old = json.loads(args.reuse.read_text())
        res.update({k: v for k, v in old.items() if k in ROWS})
        res["config"]["reused_from"] = str(args.reuse)
    tmp = Path(tempfile.mkdtemp(prefix="bench_targets_"))
    try:
        for row in only:
            if row in res:
                continue  # reused
            if row == "real" and "later" in only:
                continue  # measured with 'later'
            print(f"[{time.strftime('%H:%M:%S')}] {row} (load {_load()}) ...", file=sys.stderr,
                  flush=True)
            t0 = time.perf_counter()
            if row == "fit-eis":
                res[row] = row_fit_eis(args, tmp)
            elif row in ("later", "real"):
                res[row] = row_later_real(args, with_real="real" in only)
            else:
                res[row] = globals()[f"row_{row}"](args, tmp)
            res[row]["row_wall_s"] = time.perf_counter() - t0
            if args.json:
                Path(args.json).write_text(json.dumps(res, indent=1, default=float))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["config"]["load_end"] = _load()
    print(f"issue 27 targets; {os.cpu_count()} CPUs; load at start {res['config']['load_start']}"
          f", at end {res['config']['load_end']} (wall times are upper bounds on a busy "
          "machine)")
    print(render(table(res, args)))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
