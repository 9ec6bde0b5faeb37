"""Run pyDRTtools' Bayesian DRT (the peer of the DRT benchmark) in its own interpreter.

pyDRTtools pins its own numpy/scipy/cvxopt stack and its package import pulls in a Qt GUI, so
it never goes into drtbayes' environment. This file has two roles:

* imported by ``bench_drt.py`` (drtbayes' venv): :func:`run_peer` writes the spectrum to a
  temporary ``.npz``, runs this same file with the peer's interpreter and reads the answer back;
* run as a script by the peer's interpreter: ``python _peer_pydrttools.py IN.npz OUT.npz``
  fits the spectrum with ``pyDRTtools.runs.Bayesian_run`` and writes wall time, gamma (MAP,
  mean, the peer's own 99 % band) and every post-burn-in HMC sample of gamma.

Only the standard library and numpy are imported at module level, so both interpreters can
load it.

Set up the peer environment once (a separate venv; never the project's)::

    /root/.pyenv/versions/3.12.1/bin/python3.12 -m venv /tmp/venv-peer
    /tmp/venv-peer/bin/pip install pyDRTtools cvxopt scikit-learn numpy scipy \
        matplotlib pandas

(pyDRTtools 0.2 imports pandas without declaring it) and point ``PYDRTTOOLS_PYTHON`` at its
interpreter (default ``/tmp/venv-peer/bin/python``).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_PEER_PYTHON = "/tmp/venv-peer/bin/python"
# pyDRTtools' Bayesian_run drops the first 501 HMC samples as burn-in (hard-coded in runs.py)
PEER_BURN_IN = 501

SETUP_HINT = (
    "pyDRTtools (the peer) is not available. Install it in a separate venv:\n"
    "  /root/.pyenv/versions/3.12.1/bin/python3.12 -m venv /tmp/venv-peer\n"
    "  /tmp/venv-peer/bin/pip install pyDRTtools cvxopt scikit-learn numpy scipy matplotlib "
    "pandas\n"
    "then set PYDRTTOOLS_PYTHON=/tmp/venv-peer/bin/python (the default) and rerun."
)


def peer_python() -> str:
    """Interpreter of the peer environment (env var ``PYDRTTOOLS_PYTHON``)."""
    return os.environ.get("PYDRTTOOLS_PYTHON", DEFAULT_PEER_PYTHON)


def run_peer(
    frequency_hz: np.ndarray,
    z_real_ohm: np.ndarray,
    z_imag_ohm: np.ndarray,
    *,
    seed: int = 0,
    n_samples: int = 2000,
    python: str | None = None,
    timeout_s: float = 900.0,
) -> dict[str, Any] | None:
    """Fit one spectrum with pyDRTtools' ``Bayesian_run`` in the peer interpreter.

    Parameters
    ----------
    frequency_hz, z_real_ohm, z_imag_ohm
        The spectrum (Z'' < 0 for capacitive arcs, as drtbayes stores it).
    seed
        Seed of numpy's global generator, which the peer's HMC sampler draws from.
    n_samples
        ``NMC_sample`` of ``Bayesian_run`` (the first 501 are burn-in and discarded).
    python
        Peer interpreter; None: :func:`peer_python`.
    timeout_s
        Give up after this long.

    Returns
    -------
    dict or None
        ``wall_s`` (Bayesian_run alone), ``hmc_s`` (its HMC sampler alone), ``import_s``,
        ``tau_s``, ``gamma_map``, ``gamma_mean``, ``gamma_lo99``, ``gamma_hi99`` (the peer's
        own band), ``gamma_samples`` (sample, tau), ``r_inf_ohm``, ``l_h``, ``lambda``; None
        when the peer interpreter is missing or cannot import pyDRTtools (the reason is
        printed with :data:`SETUP_HINT`).
    """
    exe = python or peer_python()
    if not Path(exe).is_file():
        print(f"peer interpreter {exe} not found.\n{SETUP_HINT}", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="drtbayes-peer-") as tmp:
        inp, out = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(inp, frequency_hz=np.asarray(frequency_hz, float),
                 z_real_ohm=np.asarray(z_real_ohm, float),
                 z_imag_ohm=np.asarray(z_imag_ohm, float),
                 seed=np.int64(seed), n_samples=np.int64(n_samples))
        proc = subprocess.run([exe, str(Path(__file__).resolve()), str(inp), str(out)],
                              capture_output=True, text=True, timeout=timeout_s, check=False)
        if proc.returncode != 0 or not out.is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
            print(f"pyDRTtools run failed (exit {proc.returncode}):\n{tail}\n"
                  f"(if pyDRTtools is not installed there:)\n{SETUP_HINT}",
                  file=sys.stderr)
            return None
        with np.load(out) as data:
            return {k: (data[k].item() if data[k].ndim == 0 else np.array(data[k]))
                    for k in data.files}


def _import_runs() -> Any:
    """``pyDRTtools.runs`` without executing the package ``__init__`` (it imports the Qt GUI)."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("pyDRTtools")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("pyDRTtools is not installed in this interpreter")
    pkg = types.ModuleType("pyDRTtools")
    pkg.__path__ = list(spec.submodule_search_locations)
    sys.modules["pyDRTtools"] = pkg
    import pyDRTtools.runs as runs  # noqa: PLC0415 (after the stub package is in place)

    return runs


def _gaussian_rbf_matrix(tau_out: np.ndarray, tau_centres: np.ndarray, eps: float) -> np.ndarray:
    """Linear map from RBF coefficients to gamma, as pyDRTtools' ``x_to_gamma`` (Gaussian RBF)."""
    d = np.log(tau_out)[:, None] - np.log(tau_centres)[None, :]
    return np.exp(-((eps * d) ** 2))


def _peer_main(inp: str, out: str) -> None:
    data = np.load(inp)
    t0 = time.perf_counter()
    runs = _import_runs()
    from cvxopt import solvers

    solvers.options["show_progress"] = False
    import_s = time.perf_counter() - t0

    np.random.seed(int(data["seed"]))  # the peer's HMC draws from numpy's global generator
    entry = runs.EIS_object(data["frequency_hz"], data["z_real_ohm"], data["z_imag_ohm"])
    # time the exact-HMC sampler on its own (the rest is the ridge fit with GCV lambda search)
    hmc_s = [0.0]
    tmg = runs.HMC.generate_tmg

    def timed_tmg(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return tmg(*args, **kwargs)
        finally:
            hmc_s[0] += time.perf_counter() - t

    runs.HMC.generate_tmg = timed_tmg
    t1 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints lambda and solver chatter
        # defaults of the GUI: Gaussian RBF, Re+Im data, fitted inductance, 1st-order
        # derivative penalty, lambda by GCV
        runs.Bayesian_run(entry, rbf_type="Gaussian", data_used="Combined Re-Im Data",
                          induct_used=1, der_used="1st order", cv_type="GCV",
                          shape_control="FWHM Coefficient", coeff=0.5,
                          NMC_sample=int(data["n_samples"]))
    wall_s = time.perf_counter() - t1

    b = _gaussian_rbf_matrix(entry.out_tau_vec, entry.tau, float(entry.epsilon))
    gamma_samples = (b @ entry.Xs[:, PEER_BURN_IN:]).T
    # the peer's own mean through our re-implementation of its map: guards the matrix above
    if not np.allclose(gamma_samples.mean(0), np.ravel(entry.mean), rtol=1e-6, atol=1e-9):
        raise RuntimeError("RBF map disagrees with pyDRTtools' x_to_gamma")
    np.savez(out, wall_s=wall_s, import_s=import_s, tau_s=np.asarray(entry.out_tau_vec),
             gamma_map=np.ravel(entry.gamma), gamma_mean=np.ravel(entry.mean),
             gamma_lo99=np.ravel(entry.lower_bound), gamma_hi99=np.ravel(entry.upper_bound),
             gamma_samples=gamma_samples, r_inf_ohm=float(entry.R), l_h=float(entry.L),
             hmc_s=hmc_s[0], **{"lambda": float(np.ravel(entry.lambda_value)[0])})


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: _peer_pydrttools.py IN.npz OUT.npz")
    _peer_main(sys.argv[1], sys.argv[2])
