"""The disk-cached C callbacks of compiled models (drtbayes.inference.compile).

A model compiled in one process leaves its log-density and expansion wrappers in PyTensor's numba
cache; a later process loads them. The loaded code must read that process's data (values and
shapes come through nutpie's user-data pointer at run time, not from the compile) and give the
same numbers to the last digit as a fresh compile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

# y_i ~ Normal(mu, sigma), mu ~ Normal(0, 10), sigma ~ HalfNormal(2); y is pm.Data.
# Analytic log density at the unconstrained point (mu, log sigma), Jacobian included.
SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    warnings.simplefilter("ignore")
    import numpy as np, pymc as pm, pytensor
    from drtbayes.inference.compile import compile_model, loaded_from_cache

    y = np.array(json.loads(sys.argv[1]), dtype=float)
    cache = sys.argv[2] == "1"
    with pm.Model() as m:
        data = pm.Data("y", y)
        mu = pm.Normal("mu", 0.0, 10.0)
        sigma = pm.HalfNormal("sigma", 2.0)
        pm.Normal("obs", mu, sigma, observed=data)
    with pytensor.config.change_flags(numba__cache=cache):
        c = compile_model(m)
    x = np.array([0.7, -0.3])
    names = c.shape_info[0]
    order = [names.index("mu"), names.index("sigma_log__")]
    lp, g = c.logp_func(x[np.argsort(order)])
    print(json.dumps({"loaded": loaded_from_cache(c), "logp": float(lp),
                      "grad": [float(v) for v in np.asarray(g)[order]]}))
""")


def _analytic(y: np.ndarray, mu: float, log_sigma: float) -> tuple[float, list[float]]:
    s = np.exp(log_sigma)
    lp = (-0.5 * (mu / 10) ** 2 - np.log(10) - 0.5 * np.log(2 * np.pi)          # mu prior
          + np.log(2) - 0.5 * (s / 2) ** 2 - np.log(2) - 0.5 * np.log(2 * np.pi)  # half-normal
          + log_sigma                                                             # Jacobian
          + np.sum(-0.5 * ((y - mu) / s) ** 2 - np.log(s) - 0.5 * np.log(2 * np.pi)))
    d_mu = -mu / 100 + np.sum(y - mu) / s**2
    d_ls = -(s / 2) ** 2 + 1 + np.sum(((y - mu) / s) ** 2 - 1)
    return float(lp), [float(d_mu), float(d_ls)]


def _run(y: np.ndarray, cache: bool, compiledir: str) -> dict:
    env = {**os.environ, "PYTENSOR_FLAGS": f"base_compiledir={compiledir}"}
    r = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(list(y)), "1" if cache else "0"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_cached_wrappers_load_in_a_new_process_and_read_its_data(tmp_path):
    y1 = np.array([1.0, 2.0, 0.5, 1.5])
    y2 = np.array([-3.0, 4.0, 0.25, 7.0, 2.0, 2.5])   # other values and another length
    first = _run(y1, True, str(tmp_path))             # empty cache: compiles and stores
    second = _run(y2, True, str(tmp_path))            # new process: loads
    fresh = _run(y2, False, str(tmp_path))            # PyTensor caching off: compiles anew
    assert first["loaded"] is False
    assert second["loaded"] is True
    assert fresh["loaded"] is False
    for res, y in ((first, y1), (second, y2), (fresh, y2)):
        lp, grad = _analytic(y, 0.7, -0.3)
        # rel 1e-8: PyMC's normal log density of mu is 3.2e-8 off the exact one (its constants)
        assert res["logp"] == pytest.approx(lp, rel=1e-8)
        assert res["grad"] == pytest.approx(grad, rel=1e-10)
    # the loaded code is the compiled code: the same numbers to the last digit
    assert second["logp"] == fresh["logp"]
    assert second["grad"] == fresh["grad"]
