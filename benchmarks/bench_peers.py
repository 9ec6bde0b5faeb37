"""drtbayes against the peers on the same spectra: time per spectrum and ESS/s (issue 27).

Spectra: the 2-ZARC benchmark spectrum of ``bench_drt.py`` (noise seed 0) and every real
spectrum of ``../shared/data/real`` that drtbayes reads (``bench_targets.REAL_FILES``; a
multi-loop file: its first loop; non-finite points dropped), the same points for every method.

The methods

* drtbayes NUTS (preset ``drt-single``: 4 chains x 1000 draws) and ``fast=True`` (Laplace),
  in one process whose first fit (another noise draw of the 2-ZARC spectrum) compiled the
  model and warmed the disk caches; a real file of a new length compiles its own shape, so its
  wall time holds that compilation (given apart);
* pyDRTtools ``simple_run`` (ridge, lambda by GCV) and ``Bayesian_run`` (ridge + exact HMC,
  ``--peer-samples``), pyimpspec TR-RBF with credible intervals (the same kind of sampler) and
  BHT, each in the peers' interpreter (``_peer_runner.py``), imports not timed.

ESS: the smallest bulk ESS (arviz-stats, as drtbayes' diagnostics) of gamma over the tau points
where the method's own median gamma exceeds 5 % of its maximum (the same rule for every
method; the tails of a truncated-Gaussian sampler sit at the positivity bound); ESS/s divides
it by the method's wall time. The peers' samplers give one chain (after their hard-coded 501
burn-in); drtbayes' fast draws are independent Laplace draws, so no ESS is given for them.

Run::

    python benchmarks/bench_peers.py --json peers.json                 # all spectra
    python benchmarks/bench_peers.py --files                           # 2-ZARC only
    python benchmarks/bench_peers.py --files pydrttools/LIB_data.txt   # 2-ZARC and one file
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

PEER_METHODS = ("pydrttools-ridge", "pydrttools-bayes", "pyimpspec-trrbf-ci", "pyimpspec-bht")


def _spectra(files: list[str], synthetic: bool = True) -> dict[str, Any]:
    from bench_drt import make_benchmark_spectrum
    from bench_real import read

    _, _, spec = make_benchmark_spectrum(0)
    out = {"2zarc": spec} if synthetic else {}
    for name in files:
        try:
            s = read(name)
            out[name] = s.isel(frequency=np.flatnonzero(np.isfinite(s["z_real"].values)))
        except Exception as exc:  # noqa: BLE001 - a reader gap is a table entry
            out[name] = f"not read: {type(exc).__name__}: {exc}"[:200]
    return out


def _support_ess(g: np.ndarray) -> float | None:
    """Min bulk ESS of gamma (chain, draw, tau) where its median > 5 % of the median's max."""
    import arviz_stats

    med = np.median(g.reshape(-1, g.shape[-1]), axis=0)
    keep = med > 0.05 * med.max()
    e = np.asarray(arviz_stats.ess(g[..., keep], chain_axis=0, draw_axis=1, method="bulk"))
    return float(np.nanmin(e)) if e.size else None


def run_drtbayes(spectra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    import nutpie  # noqa: F401
    import pymc  # noqa: F401
    from bench_drt import make_benchmark_spectrum

    import drtbayes

    warnings.simplefilter("ignore")
    _, _, warm = make_benchmark_spectrum(1)
    drtbayes.fit_drt(warm, "drt-single", seed=1, progress=False)
    drtbayes.fit_drt(warm, "drt-single", seed=1, fast=True, progress=False)
    out: dict[str, dict[str, Any]] = {}
    for name, spec in spectra.items():
        if isinstance(spec, str):
            continue
        out[name] = {}
        for label, fast in (("drtbayes-nuts", False), ("drtbayes-fast", True)):
            try:
                t = time.perf_counter()
                res = drtbayes.fit_drt(spec, "drt-single", seed=0, fast=fast, progress=False)
                wall = time.perf_counter() - t
            except Exception as exc:  # noqa: BLE001
                out[name][label] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                continue
            tm = json.loads(res.tree.attrs["timing"])
            g = np.asarray(res.posterior["gamma"].values[:, :, 0, :])
            r = {"wall_s": wall, "compile_s": tm.get("compile_s"), "n_tau": int(g.shape[-1]),
                 "n_draws": int(g.shape[0] * g.shape[1])}
            if not fast:
                r["ess_min"] = _support_ess(g)
                r["ess_per_s"] = r["ess_min"] / wall if r["ess_min"] else None
                r["ess_per_s_excl_compile"] = (r["ess_min"] / (wall - (r["compile_s"] or 0))
                                               if r["ess_min"] else None)
            out[name][label] = r
            print(f"  drtbayes {name} {label}: {wall:.2f} s", file=sys.stderr, flush=True)
    return out


def run_peers(spectra: dict[str, Any], samples: int, methods: list[str]
              ) -> dict[str, dict[str, Any]]:
    from _peer_runner import run_methods

    out: dict[str, dict[str, Any]] = {}
    for name, spec in spectra.items():
        if isinstance(spec, str):
            continue
        f = spec["frequency"].values
        z = spec["z_real"].values + 1j * spec["z_imag"].values
        r = run_methods(f, z, methods, n_samples=samples)
        out[name] = {}
        if "error" in r and len(r) == 1:
            out[name] = {m: {"error": r["error"]} for m in methods}
            continue
        for m in methods:
            v = dict(r.get(m) or {"error": "no answer"})
            g = v.pop("gamma_samples", None)
            if g is not None:
                v["n_draws"] = int(g.shape[0])
                v["ess_min"] = _support_ess(g[None])
                v["ess_per_s"] = v["ess_min"] / v["wall_s"] if v["ess_min"] else None
            v.pop("trace", None)
            out[name][m] = v
        out[name]["_import_s"] = r.get("import_s")
        print(f"  peers {name}: " + ", ".join(
            f"{m} {out[name][m].get('wall_s', float('nan')):.1f} s" for m in methods),
            file=sys.stderr, flush=True)
    return out


def render(result: dict[str, Any]) -> str:
    methods = ["drtbayes-nuts", "drtbayes-fast", *result["config"]["peer_methods"]]
    head = "| spectrum | points | " + " | ".join(methods) + " |"
    lines = ["time per spectrum (s); in brackets: min bulk ESS of gamma / s where the method "
             "samples a posterior", "", head, "|---|---|" + "---|" * len(methods)]
    for name, s in result["spectra"].items():
        cells = []
        for m in methods:
            v = s.get(m) or {}
            if "error" in v:
                cells.append("failed: " + v["error"][:50].replace("|", "/"))
            elif "wall_s" not in v:
                cells.append("-")
            else:
                c = f"{v['wall_s']:.2f}"
                if v.get("compile_s") and v["compile_s"] > 0.2:
                    c += f" (compile {v['compile_s']:.1f})"
                if v.get("ess_per_s"):
                    c += f" [{v['ess_per_s']:.1f}]"
                cells.append(c)
        lines.append(f"| {name} | {s.get('n_points', '-')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    from bench_targets import REAL_FILES

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", default=None,
                    help="real files (relative to shared/data/real); none: 2-ZARC only; "
                         "default: all")
    ap.add_argument("--peer-samples", type=int, default=2000,
                    help="exact-HMC samples of Bayesian_run and TR-RBF-CI (default 2000, "
                         "both peers' default; the first 501 are burn-in)")
    ap.add_argument("--peer-methods", nargs="*", default=list(PEER_METHODS),
                    choices=PEER_METHODS)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--no-2zarc", action="store_true", help="the real files only")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    files = REAL_FILES if args.files is None else args.files
    spectra = _spectra(files, synthetic=not args.no_2zarc)
    result: dict[str, Any] = {
        "config": {"files": files, "peer_samples": args.peer_samples,
                   "peer_methods": [] if args.no_peers else args.peer_methods},
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), "spectra": {}}
    for name, spec in spectra.items():
        result["spectra"][name] = ({"error": spec} if isinstance(spec, str) else
                                   {"n_points": int(spec.sizes["frequency"])})
    print("drtbayes ...", file=sys.stderr, flush=True)
    for name, r in run_drtbayes(spectra).items():
        result["spectra"][name].update(r)
    if not args.no_peers:
        print("peers ...", file=sys.stderr, flush=True)
        for name, r in run_peers(spectra, args.peer_samples, args.peer_methods).items():
            result["spectra"][name].update(r)
    result["load_end"] = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    print(f"load (1/5/15 min) at start {result['load']}, at end {result['load_end']}")
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
