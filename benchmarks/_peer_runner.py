"""Run the peers' DRT methods on one spectrum in the peers' own interpreter (issue 27).

The peers (pyDRTtools, pyimpspec) pin their own numpy/scipy stacks, so they live in a separate
venv (``PYDRTTOOLS_PYTHON``, default ``/tmp/venv-peer/bin/python``; set it up as
``_peer_pydrttools.py`` says, adding ``pyimpspec`` to the pip line). This file has two roles:

* imported by ``bench_peers.py`` (drtbayes' venv): :func:`run_methods` writes the spectrum to a
  temporary ``.npz``, runs this file with the peer interpreter and reads the answer back;
* run as a script there: ``python _peer_runner.py IN.npz OUT.json OUT.npz`` runs each method
  named in ``IN.npz`` and writes, per method, the wall time of the call alone (the imports are
  timed apart) and, where the method samples a posterior, the post-burn-in gamma samples.

Methods (each with the peers' defaults: Gaussian RBF, FWHM coefficient 0.5, 1st-order
derivative penalty):

* ``pydrttools-ridge``: ``pyDRTtools.runs.simple_run``, Re+Im data, fitted inductance, lambda
  by GCV;
* ``pydrttools-bayes``: ``pyDRTtools.runs.Bayesian_run`` (the same ridge fit, then exact HMC of
  the truncated Gaussian, ``NMC_sample`` samples of which the first 501 are burn-in);
* ``pyimpspec-trrbf-ci``: ``pyimpspec.analysis.drt.calculate_drt_tr_rbf`` with
  ``credible_intervals=True`` (the same exact-HMC sampler, ``num_samples``; its own 60 s
  timeout raised to 3600 s so that a slow run is timed, not refused);
* ``pyimpspec-bht``: ``calculate_drt_bht`` (Bayesian Hilbert transform; no posterior draws).

Only the standard library and numpy are imported at module level.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PEER_PYTHON = "/tmp/venv-peer/bin/python"
BURN_IN = 501  # both peers drop the first 501 exact-HMC samples (hard-coded)
METHODS = ("pydrttools-ridge", "pydrttools-bayes", "pyimpspec-trrbf-ci", "pyimpspec-bht")


def peer_python() -> str:
    """Interpreter of the peer environment (env var ``PYDRTTOOLS_PYTHON``)."""
    return os.environ.get("PYDRTTOOLS_PYTHON", DEFAULT_PEER_PYTHON)


def run_methods(frequency_hz: np.ndarray, z: np.ndarray, methods: list[str], *,
                n_samples: int = 2000, seed: int = 0, procs: int = 2,
                timeout_s: float = 3600.0) -> dict[str, Any]:
    """Run ``methods`` on the spectrum (complex ``z``, Z'' < 0 capacitive) in the peer venv.

    Returns ``{"import_s": {...}, method: {"wall_s", ... , "gamma_samples"?, "error"?}}``;
    ``{"error": ...}`` alone when the peer interpreter is missing or the process fails.
    """
    exe = peer_python()
    if not Path(exe).is_file():
        return {"error": f"peer interpreter {exe} not found (see _peer_pydrttools.py)"}
    with tempfile.TemporaryDirectory(prefix="drtbayes-peers-") as tmp:
        inp, oj, on = (Path(tmp) / n for n in ("in.npz", "out.json", "out.npz"))
        np.savez(inp, frequency_hz=np.asarray(frequency_hz, float),
                 z_real_ohm=np.asarray(z, complex).real, z_imag_ohm=np.asarray(z, complex).imag,
                 methods=np.array(methods), n_samples=np.int64(n_samples), seed=np.int64(seed),
                 procs=np.int64(procs))
        try:
            proc = subprocess.run([exe, str(Path(__file__).resolve()), str(inp), str(oj),
                                   str(on)], capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            return {"error": f"peer process ran past {timeout_s:.0f} s"}
        if proc.returncode != 0 or not oj.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
            return {"error": f"peer process failed (exit {proc.returncode}): {tail}"}
        out = json.loads(oj.read_text())
        if on.is_file():
            with np.load(on) as data:
                for k in data.files:
                    method, field = k.split("::")
                    out.setdefault(method, {})[field] = np.array(data[k])
        return out


def _gaussian_rbf(tau_out: np.ndarray, tau_centres: np.ndarray, eps: float) -> np.ndarray:
    d = np.log(tau_out)[:, None] - np.log(tau_centres)[None, :]
    return np.exp(-((eps * d) ** 2))


def _pydrttools(data: Any, bayes: bool) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _peer_pydrttools import _import_runs

    # a second method in this process: the stub package is in place, find_spec would fail
    runs = sys.modules.get("pyDRTtools.runs") or _import_runs()
    from cvxopt import solvers

    solvers.options["show_progress"] = False
    entry = runs.EIS_object(data["frequency_hz"], data["z_real_ohm"], data["z_imag_ohm"])
    kw = {"rbf_type": "Gaussian", "data_used": "Combined Re-Im Data", "induct_used": 1,
          "der_used": "1st order", "cv_type": "GCV", "shape_control": "FWHM Coefficient",
          "coeff": 0.5}
    np.random.seed(int(data["seed"]))
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if bayes:
            runs.Bayesian_run(entry, NMC_sample=int(data["n_samples"]), **kw)
        else:
            runs.simple_run(entry, **kw)
    out: dict[str, Any] = {"wall_s": time.perf_counter() - t,
                           "r_inf_ohm": float(entry.R), "n_tau": int(np.size(entry.out_tau_vec))}
    if bayes:
        b = _gaussian_rbf(entry.out_tau_vec, entry.tau, float(entry.epsilon))
        g = (b @ entry.Xs[:, BURN_IN:]).T
        if not np.allclose(g.mean(0), np.ravel(entry.mean), rtol=1e-6, atol=1e-9):
            raise RuntimeError("RBF map disagrees with pyDRTtools' x_to_gamma")
        out["gamma_samples"] = g
    return out


def _pyimpspec(data: Any, method: str) -> dict[str, Any]:
    import pyimpspec
    import pyimpspec.analysis.drt.tr_rbf as tr

    ds = pyimpspec.DataSet(data["frequency_hz"],
                           data["z_real_ohm"] + 1j * data["z_imag_ohm"])
    procs = int(data["procs"])
    np.random.seed(int(data["seed"]))
    if method == "pyimpspec-bht":
        from pyimpspec.analysis.drt import calculate_drt_bht

        t = time.perf_counter()
        res = calculate_drt_bht(ds, num_procs=procs)
        return {"wall_s": time.perf_counter() - t,
                "n_tau": int(np.size(res.get_time_constants()))}
    # record the exact-HMC samples and the RBF map the credible intervals are computed from
    seen: dict[str, Any] = {}
    gen, cci = tr._generate_truncated_multivariate_gaussians, tr._calculate_credible_intervals

    def gen_rec(*a: Any, **k: Any) -> Any:
        seen["xs"] = gen(*a, **k)
        return seen["xs"]

    def cci_rec(num_rl: int, num_samples: int, mu: Any, sigma_inv: Any, x: Any,
                tau_fine: Any, tau: Any, epsilon: float, rbf_type: str, *a: Any) -> Any:
        seen.update(tau_fine=np.asarray(tau_fine), tau=np.asarray(tau), eps=float(epsilon),
                    rbf=rbf_type)
        seen["ci"] = cci(num_rl, num_samples, mu, sigma_inv, x, tau_fine, tau, epsilon,
                         rbf_type, *a)
        return seen["ci"]

    tr._generate_truncated_multivariate_gaussians = gen_rec
    tr._calculate_credible_intervals = cci_rec
    t = time.perf_counter()
    res = tr.calculate_drt_tr_rbf(ds, credible_intervals=True, timeout=3600, num_procs=procs,
                                  num_samples=int(data["n_samples"]))
    out: dict[str, Any] = {"wall_s": time.perf_counter() - t,
                           "n_tau": int(np.size(res.get_time_constants()))}
    if "xs" in seen and seen.get("rbf") == "gaussian":
        g = (_gaussian_rbf(seen["tau_fine"], seen["tau"], seen["eps"])
             @ np.asarray(seen["xs"])[:, BURN_IN:]).T
        mean_gamma = np.ravel(seen["ci"][0])
        if g.shape[1] == mean_gamma.size and np.allclose(g.mean(0), mean_gamma, rtol=1e-6,
                                                          atol=1e-9):
            out["gamma_samples"] = g
        else:
            out["samples_note"] = "RBF map disagrees with pyimpspec's _x_to_gamma; no ESS"
    return out


def _peer_main(inp: str, out_json: str, out_npz: str) -> None:
    data = dict(np.load(inp))
    result: dict[str, Any] = {"import_s": {}}
    t = time.perf_counter()
    with contextlib.suppress(ImportError):
        import pyimpspec  # noqa: F401
    result["import_s"]["pyimpspec"] = time.perf_counter() - t
    arrays: dict[str, np.ndarray] = {}
    for method in [str(m) for m in data["methods"]]:
        try:
            if method.startswith("pydrttools"):
                r = _pydrttools(data, bayes=method == "pydrttools-bayes")
            else:
                r = _pyimpspec(data, method)
        except Exception as exc:  # noqa: BLE001 - a peer failing on a file is a table entry
            r = {"error": f"{type(exc).__name__}: {exc}"[:300],
                 "trace": traceback.format_exc()[-800:]}
        for k in [k for k, v in r.items() if isinstance(v, np.ndarray)]:
            arrays[f"{method}::{k}"] = r.pop(k)
        result[method] = r
    Path(out_json).write_text(json.dumps(result))
    if arrays:
        np.savez(out_npz, **arrays)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: _peer_runner.py IN.npz OUT.json OUT.npz")
    _peer_main(*sys.argv[1:])
