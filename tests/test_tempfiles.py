"""A fit leaves nothing in the system temp folder (PyTensor's generated source goes to the cache).

PyTensor's numba backend writes each generated function's source with
``NamedTemporaryFile(delete=False)`` unless ``generated_src_dir`` is set; drtbayes sets it at
import. Counted around a real fit in a subprocess whose TMPDIR is an empty folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import drtbayes
    f = np.logspace(6, -2, 41)
    w = 2 * np.pi * f
    z = 10 + 30 / (1 + 1j * w * 1e-3) + 50 / (1 + (1j * w * 0.1) ** 0.8)
    spec = drtbayes.make_spectrum(f, z, design="A", cell="c1", soc=50.0)
    fit = drtbayes.fit_drt(spec, model="drt-single", fast=True, progress=False)
    print(float(fit.posterior["r_pol"].median()))
    """
)


def _run(tmp_path, env_extra):
    tmpdir = tmp_path / "tmp"
    cache = tmp_path / "cache"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir), "DRTBAYES_CACHE_DIR": str(cache), **env_extra}
    env["PYTENSOR_FLAGS"] = "floatX=float64"
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmpdir, cache, float(proc.stdout.strip().splitlines()[-1])


def test_fit_leaves_no_files_in_the_system_temp_folder(tmp_path):
    tmpdir, cache, r_pol = _run(tmp_path, {})
    # The fit itself is real: R_pol of 30 + 50 ohm within 5 %.
    assert abs(r_pol - 80.0) / 80.0 < 0.05
    left = [p for p in tmpdir.rglob("*")]
    assert left == [], f"{len(left)} files left in TMPDIR, e.g. {left[:3]}"
    generated = list((cache / "generated_src").glob("*.py"))
    assert generated, "PyTensor's generated source should be in the drtbayes cache folder"


def test_generated_source_is_content_addressed_so_reruns_do_not_grow_it(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _, cache, _ = _run(run_dir, {})
    first = sorted(p.name for p in (cache / "generated_src").glob("*.py"))
    (run_dir / "tmp").rmdir()
    _run(run_dir, {})
    second = sorted(p.name for p in (cache / "generated_src").glob("*.py"))
    assert first and second == first
