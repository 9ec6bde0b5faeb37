"""End to end: a small simulated study through `drtbayes run --fast`, resume, kill and rerun."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import drtbayes
from drtbayes.errors import OutputExistsError
from drtbayes.pipeline import STAGES, run_study

NC_FILES = ("eis_fit.nc", "bands.nc", "split.nc", "soc_model.nc")


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    from drtbayes.simulate import simulate_study

    root = tmp_path_factory.mktemp("study")
    simulate_study(root, seed=3, crossover_soc=25.0, fast=True)
    return root / "study.toml"


@pytest.fixture(scope="module")
def run_out(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    res = run_study(study, out, seed=5, fast=True, quiet=True)
    return res


def test_run_writes_every_output(run_out):
    out = run_out.out_dir
    for name in (*NC_FILES, "crossover.json", "resistance.csv", "report.html"):
        assert (out / name).is_file(), name
    for name in NC_FILES:
        obj = drtbayes.load(out / name)
        tree_attrs = obj.tree.attrs if hasattr(obj, "tree") else obj.attrs
        assert tree_attrs["drtbayes_version"] == drtbayes.__version__
        assert "input_sha256" in tree_attrs
    figs = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert len(figs) >= 8, figs
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") == len(figs)
    assert "could not be drawn" not in html
    assert "C / F (95 % HDI)" in html   # the series capacitance of every spectrum


def test_crossover_json_schema(run_out):
    rep = json.loads((run_out.out_dir / "crossover.json").read_text())
    assert rep["a"] == "L_SE" and rep["b"] == "S_SE"
    assert set(rep["components"]) == {"R1", "R2", "R3", "total"}
    for comp in rep["components"].values():
        assert 0.0 <= comp["p_crossing"] <= 1.0
        assert set(comp) >= {"p_crossing", "soc_median", "hdi95", "crossings", "p_a_better"}
        if comp["p_crossing"] < 0.5:
            assert comp["hdi95"] is None
        assert len(comp["p_a_better"]["soc"]) == len(comp["p_a_better"]["p"])


def test_crossover_near_truth_fast_mode(run_out, study):
    truth = json.loads((study.parent / "truth.json").read_text())
    rep = json.loads((run_out.out_dir / "crossover.json").read_text())
    # R2 crosses at the simulated 25 % SOC; even the approximate (--fast) posterior must
    # find a crossing there. Width of the fast-mode HDI is typically 5-10 % SOC.
    r2 = rep["components"]["R2"]
    assert r2["p_crossing"] > 0.5
    assert abs(r2["soc_median"] - truth["crossover_soc"]["R2"]) < 8.0


def test_resistance_csv(run_out):
    with open(run_out.out_dir / "resistance.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["design", "cell", "soc", "component", "median", "lo95", "hi95",
                            "method"]
    assert {r["method"] for r in rows} == {"bands"}
    comps = {r["component"] for r in rows}
    assert comps == {"R1", "R2", "R3", "total"}
    assert any(r["cell"] == "all" for r in rows)
    for r in rows[:200]:
        assert float(r["lo95"]) <= float(r["median"]) <= float(r["hi95"])


def _assert_s7_panel(out: Path, split: xr.Dataset) -> None:
    """The report's Fig. S7 panel: figure, caption and one sentence per design with its counts."""
    import html as html_mod
    import re

    assert (out / "figures" / "s7_check.png").stat().st_size > 10_000
    page = html_mod.unescape((out / "report.html").read_text(encoding="utf-8"))
    assert "<h3>GITT total vs EIS (Fig. S7 check)</h3>" in page
    assert "needs the process method" not in page
    assert page.count("GITT total vs EIS (Fig. S7 check): each cell's GITT total") >= 1
    ok = split["s7_consistent"].values
    for d in ("L_SE", "S_SE"):
        m = split["design"].values.astype(str) == d
        k, n = int(ok[m].sum()), int(m.sum())
        words = ("at every pulse" if k == n else "at no pulse" if k == 0
                 else f"at {k} of {n} pulses")
        assert re.search(rf"<b>{d}</b>: the GITT total agrees with the EIS prediction {words}",
                         page), d
    assert "the counter electrode (and its interface)" in page


def test_process_split_method_runs_end_to_end_and_is_labelled(study, tmp_path):
    """``[split] method = "processes"`` reaches the split; every output row says so."""
    text = study.read_text(encoding="utf-8") + '\n[split]\nmethod = "processes"\n'
    alt = study.parent / "study_processes.toml"
    alt.write_text(text, encoding="utf-8")
    res = run_study(alt, tmp_path / "run", seed=5, fast=True, quiet=True)
    split = drtbayes.load(res.out_dir / "split.nc").dataset
    assert split.attrs["split_method"] == "processes"
    with open(res.out_dir / "resistance.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["method"] for r in rows} == {"processes"}
    _assert_s7_panel(res.out_dir, split)
    # the simulated R2 crossover (25 % SOC) is found by the process split as well
    truth = json.loads((study.parent / "truth.json").read_text())
    r2 = res.crossover["components"]["R2"]
    assert r2["p_crossing"] > 0.5
    assert abs(r2["soc_median"] - truth["crossover_soc"]["R2"]) < 8.0


def test_rerun_skips_and_guards(run_out, study):
    res = run_study(study, run_out.out_dir, seed=5, fast=True, quiet=True)
    assert res.stages_skipped == list(STAGES)
    with pytest.raises(OutputExistsError, match="--force"):
        run_study(study, run_out.out_dir, seed=6, fast=True, quiet=True)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "drtbayes.cli", *args]


@pytest.mark.timeout(900)
def test_killed_runs_resume_to_valid_files(study, tmp_path, run_out):
    """Kill `drtbayes run` (SIGKILL) at 10 random points; every output that exists after a
    kill is complete and loadable, and the final rerun completes with the uninterrupted run's
    numbers. Each rerun resumes from the finished stages, so the kills fall in every stage.
    """
    out = tmp_path / "killed"
    rng = np.random.default_rng(11)
    # one BLAS thread in the subprocesses, the default (all cores) in this process, whose
    # in-process run is the reference: the numbers must not depend on it
    env = {**os.environ, "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1"}
    delays = rng.uniform(1.5, 12.0, size=10)
    for delay in delays:
        proc = subprocess.Popen(_cli("run", str(study), "--out", str(out), "--seed", "5",
                                     "--fast", "--quiet"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        for name in NC_FILES:   # whatever exists is complete and loadable
            if (out / name).exists():
                drtbayes.load(out / name)
        if (out / "crossover.json").exists():
            json.loads((out / "crossover.json").read_text())
        if (out / "resistance.csv").exists():
            assert (out / "resistance.csv").read_text().startswith("design,cell,soc,component")
    r = subprocess.run(_cli("run", str(study), "--out", str(out), "--seed", "5", "--fast",
                            "--quiet"), env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not list(out.glob(".*.tmp"))
    # the resumed run is complete and gives the uninterrupted in-process run's numbers exactly:
    # same seed, same numbers, across processes and BLAS thread counts (every fit computes
    # under one BLAS thread; before that the --fast MAP search amplified last-bit differences
    # of a two-thread LAPACK into 60 % different split resistances)
    a = xr.load_dataset(out / "split.nc", engine="h5netcdf")["resistance"]
    b = xr.load_dataset(run_out.out_dir / "split.nc", engine="h5netcdf")["resistance"]
    assert np.isfinite(a.values).mean() > 0.99
    np.testing.assert_array_equal(a.values, b.values)
    ca = json.loads((out / "crossover.json").read_text())
    cb = json.loads((run_out.out_dir / "crossover.json").read_text())
    assert ca == cb


class _FakeTTY:
    def __init__(self, tty: bool) -> None:
        self.text, self.tty = "", tty

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_progress_ticks_on_a_terminal_only(tty):
    from drtbayes.pipeline import Progress

    stream = _FakeTTY(tty)
    prog = Progress(stream=stream)
    with prog.stage(2, 7, "eis_fit", "8 spectra"):
        time.sleep(2.3)
    lines = stream.text.replace("\r", "\n").splitlines()
    assert lines[-1].startswith("[2/7] eis_fit (8 spectra): done in 2.")
    ticks = [ln for ln in lines if ln.endswith(" s") and "..." in ln]
    # a terminal sees the elapsed time move once a second; a log sees only the finished line
    if tty:
        secs = [int(ln.split("... ")[1][:-2]) for ln in ticks]
        assert secs and secs[0] >= 1 and secs == sorted(secs)
    else:
        assert lines == lines[-1:]
    quiet = _FakeTTY(True)
    with Progress(stream=quiet, quiet=True).stage(1, 7, "read"):
        time.sleep(1.2)
    assert quiet.text == ""


def test_gate_failures_of_both_fits_reach_the_run_warnings():
    """DRT (per spectrum) and SOC (one record) gate failures become report/CLI lines; the
    live warnings are silenced in run_study, so these are the only place they appear.
    """
    from types import SimpleNamespace

    from drtbayes.pipeline import _fit_warnings

    drt = SimpleNamespace(tree=SimpleNamespace(attrs={"diagnostics": json.dumps(
        {"A/c1/soc50": {"rhat_max": 1.03, "ess_bulk_min": 150.0, "divergences": 2,
                        "gate_pass": False},
         "A/c2/soc50": {"rhat_max": 1.0, "ess_bulk_min": 900.0, "divergences": 0,
                        "gate_pass": True}}), "method": "nuts"}))
    soc = SimpleNamespace(tree=SimpleNamespace(attrs={"diagnostics": json.dumps(
        {"chains": 4, "draws": 1000, "rhat_max": 1.02, "gate_pass": False,
         "problems": ["R-hat max 1.020 > 1.01"], "method": "nuts"}), "method": "nuts"}))
    d = _fit_warnings(drt)
    assert len(d) == 1 and "A/c1/soc50" in d[0] and "R-hat max 1.03" in d[0]
    # the advice fits the failure: divergences -> target_accept, R-hat -> run longer
    assert "target_accept" in d[0] and "run longer" in d[0]
    s = _fit_warnings(soc, what="SOC model")
    assert len(s) == 1 and s[0].startswith("SamplingWarning: SOC model: R-hat max 1.020")
    # a SOC model of now: one record per component; only the failing one is named
    per_comp = SimpleNamespace(tree=SimpleNamespace(attrs={"diagnostics": json.dumps(
        {"R2": {"rhat_max": 1.004, "ess_bulk_min": 900.0, "divergences": 0, "gate_pass": True,
                "problems": []},
         "R3": {"rhat_max": 1.02, "ess_bulk_min": 900.0, "divergences": 0, "gate_pass": False,
                "problems": ["R-hat max 1.020 > 1.01"]}}), "method": "nuts"}))
    s = _fit_warnings(per_comp, what="SOC model")
    assert s == ["SamplingWarning: SOC model R3: R-hat max 1.020 > 1.01; rerun with more draws "
                 "or tuning (the soc-spline preset's [sampler])"]


def test_gate_advice_follows_the_failed_check():
    from drtbayes.inference import gate_advice, gate_failures

    ess_only = {"rhat_max": 1.004, "ess_bulk_min": 180.0, "divergences": 0}
    assert gate_failures(ess_only) == ["ess"]
    advice = gate_advice(gate_failures(ess_only))
    assert "more draws" in advice and "target_accept" not in advice
    div_only = {"rhat_max": 1.004, "ess_bulk_min": 900.0, "divergences": 3}
    assert gate_failures(div_only) == ["divergences"]
    advice = gate_advice(gate_failures(div_only))
    assert "target_accept to 0.98" in advice and "more draws do not remove" in advice
    assert gate_failures({"rhat_max": float("nan"), "ess_bulk_min": None, "divergences": None}
                         ) == ["rhat", "ess", "divergences"]
    assert gate_failures({"rhat_max": 1.0, "ess_bulk_min": 900.0, "divergences": 0}) == []



def test_known_capacitances_of_the_study_file_reach_the_eis_fit(study, tmp_path, monkeypatch):
    import re
    import shutil

    import drtbayes.drt

    root = tmp_path / "s"
    shutil.copytree(study.parent, root)
    path = root / "study.toml"
    text = path.read_text()
    # the first spectrum of the first cell gets a known C, the others stay unknown
    text = re.sub(r"(soc = \d+) \}", r"\1, capacitance_f = 3.5, capacitance_rel_sd = 0.2 }",
                  text, count=1)
    path.write_text(text)
    seen = {}

    def fake_fit(spectra, **kw):
        seen.update(kw, n=len(spectra))
        raise RuntimeError("stop after the call")

    monkeypatch.setattr(drtbayes.drt, "fit_drt", fake_fit)
    with pytest.raises(RuntimeError, match="stop after the call"):
        run_study(path, tmp_path / "out", seed=5, fast=True, quiet=True)
    assert seen["capacitance_f"] == [3.5] + [None] * (seen["n"] - 1)
    assert seen["capacitance_rel_sd"] == [0.2] + [0.1] * (seen["n"] - 1)
