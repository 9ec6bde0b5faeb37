"""Every script in examples/ runs (``--fast``) and writes what its docstring promises.

Each example is run as a user would run it: ``python examples/NAME.py --fast --out DIR`` in a
fresh process. The checks are deliberately loose (``--fast`` is a MAP + Laplace approximation);
they catch examples that rot when the API changes, not accuracy regressions (those have their
own tests). ``crossover_from_study.py`` runs the whole pipeline (~95 s).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import xarray as xr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: Seconds one example may take before the test fails. Their --fast runs took 30-55 s each on a
#: lightly loaded 2-core machine (mostly compiling the PyMC model once per process) and
#: crossover_from_study ~110 s; the margin is for busy shared machines.
TIMEOUT_S = 900


def run_example(name: str, out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    # One BLAS thread per process: the MAP + Laplace path factorises many small matrices, and
    # threaded OpenBLAS on a busy 2-core CI machine makes each factorisation ~100x slower.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--fast", "--out", str(out), *extra],
        capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=out.parent,
    )
    assert proc.returncode == 0, (
        f"{name} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


def test_every_example_is_tested_and_documented():
    tested = {"fit_one_spectrum.py", "compare_designs_hierarchical.py",
              "split_gitt_with_bands.py", "crossover_from_study.py", "custom_prior_preset.py",
              "dask_cluster.py"}
    found = {p.name for p in EXAMPLES.glob("*.py")}
    assert found == tested, f"examples and tests differ: {sorted(found ^ tested)}"
    for name in found:
        text = (EXAMPLES / name).read_text(encoding="utf-8")
        assert text.startswith('"""'), f"{name}: no module docstring"
        assert "--fast" in text and "--out" in text and "Run\n---" in text, name
        assert "drtbayes._" not in text and "from drtbayes._" not in text, f"{name}: private API"


def test_fit_one_spectrum(tmp_path):
    out = tmp_path / "out"
    proc = run_example("fit_one_spectrum.py", out)
    for f in ("synthetic.csv", "fit.nc", "summary.json", "drt.png", "overview.png"):
        assert (out / f).is_file(), f
    summary = json.loads((out / "summary.json").read_text())
    (entry,) = [v for k, v in summary.items() if not k.startswith("_")]
    # synthetic truth: R_inf 5 ohm, R_pol 30 ohm, two peaks
    assert abs(entry["r_inf"]["median"] - 5.0) < 0.5
    assert abs(entry["r_pol"]["median"] - 30.0) < 3.0
    assert summary["_method"] == "laplace"
    assert "r_pol" in proc.stdout


def test_fit_one_spectrum_reads_a_given_file(tmp_path, shared_formats):
    # the newcomer path: a Gamry file the tutorial does not use
    out = tmp_path / "out"
    proc = run_example("fit_one_spectrum.py", out, str(shared_formats / "data.dta"), "--soc", "50")
    assert (out / "drt.png").is_file() and not (out / "synthetic.csv").exists()
    assert "29 points" in proc.stdout


def test_compare_designs_hierarchical(tmp_path):
    out = tmp_path / "out"
    run_example("compare_designs_hierarchical.py", out)
    for f in ("fit.nc", "bands.nc", "contrast.nc", "design_drts.png", "contrast.png"):
        assert (out / f).is_file(), f
    con = xr.load_dataset(out / "contrast.nc", engine="h5netcdf")
    # L_SE was simulated with a 6 ohm lower charge-transfer resistance than S_SE
    ct = con.sel(process="charge_transfer")
    assert float(ct.band_diff_median) < 0.0
    assert 0.0 <= float(ct.band_p_a_lower) <= 1.0


def test_split_gitt_with_bands(tmp_path):
    out = tmp_path / "out"
    proc = run_example("split_gitt_with_bands.py", out)
    for f in ("study/study.toml", "bands.nc", "split.nc", "bands.png", "pulse_fits.png",
              "components.png"):
        assert (out / f).is_file(), f
    split = xr.load_dataset(out / "split.nc", engine="h5netcdf")
    assert split.attrs["drtbayes_kind"] == "split"
    assert list(split["component"].values) == ["R1", "R2", "R3", "total"]
    total = split["resistance"].sel(component="total").median("sample")
    assert bool((total > 0).all())
    assert "truth inside the 95 % interval" in proc.stdout


# The whole pipeline (EIS fit, bands, split, SOC model, report) with --fast: ~95 s on a quiet
# 2-core machine, the longest example; it runs in CI like the others so it cannot rot.
def test_crossover_from_study(tmp_path):
    out = tmp_path / "out"
    run_example("crossover_from_study.py", out)
    res = out / "results"
    for f in ("crossover.json", "resistance.csv", "report.html", "soc_model.nc"):
        assert (res / f).is_file(), f
    assert (out / "crossover_R2.png").is_file()
    rep = json.loads((res / "crossover.json").read_text())
    r2 = rep["components"]["R2"]
    # simulated truth: R2 crosses at 20 % SOC; the fast posterior must find it roughly there
    assert r2["p_crossing"] > 0.5
    assert abs(r2["soc_median"] - 20.0) < 10.0


def test_custom_prior_preset(tmp_path):
    import drtbayes

    out = tmp_path / "out"
    run_example("custom_prior_preset.py", out)
    preset = drtbayes.load_preset(out / "drt-stiff.toml")
    assert preset["hyperpriors"]["smoothness_log_median"] == -1.0
    assert preset["hyperpriors"]["smoothness_log_sd"] == 0.1
    assert preset["name"] == "drt-stiff"
    for f in ("fit_default.nc", "fit_stiff.nc", "prior_comparison.png"):
        assert (out / f).is_file(), f
    stiff = drtbayes.load(out / "fit_stiff.nc")
    assert stiff.tree.attrs["preset"] == "drt-stiff"


def test_dask_cluster(tmp_path):
    out = tmp_path / "out"
    proc = run_example("dask_cluster.py", out)
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        assert "skipped" in proc.stdout
        return
    with open(out / "fits" / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows), rows
    assert len(list((out / "fits").glob("*.nc"))) == 6
