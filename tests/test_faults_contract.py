"""The contract on bad input and outputs, held under attack (issue 23), through the CLI.

Every case runs the ``drtbayes`` command and asserts: exit status 2, exactly one line on stderr
that starts with ``drtbayes: error:`` and holds the expected words, no traceback; and, run again
with ``--debug``, the exact error class. Cases stop before any fit (the checks are up front), so
the table runs in seconds. The concurrency, full-disk, device-node and damaged-netCDF tests
follow the table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from drtbayes import elements as el
from drtbayes._atomic import LOCK_NAME, output_lock
from drtbayes.cli import main
from drtbayes.errors import (
    DiskFullError,
    OutputExistsError,
    OutputLockedError,
    OutputPathError,
    PresetError,
    ResultFileError,
    RunSizeError,
    SignConventionError,
    StudyFileError,
    TooFewPointsError,
    ValueRangeError,
)

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- inputs
def spectrum_csv(path: Path, *, flip: bool = False) -> Path:
    """Write a ZARC spectrum as CSV (optionally with the imaginary sign flipped)."""
    f = el.log_frequencies(1e5, 1e-1, 8)
    z = 5 + el.zarc_impedance(f, 10, 1e-3, 0.85)
    imag = -z.imag if flip else z.imag
    rows = "\n".join(f"{a},{b},{c}" for a, b, c in zip(f, z.real, imag, strict=True))
    path.write_text("frequency_hz,z_real_ohm,z_imag_ohm\n" + rows + "\n")
    return path


def one_pulse_gitt(path: Path) -> Path:
    """Write a GITT record with a single 10-minute discharge pulse between rests."""
    t = np.concatenate([np.linspace(0, 600, 61), 600 + np.geomspace(1e-3, 600, 120),
                        1200 + np.geomspace(1e-3, 3600, 160)])
    i = np.where((t > 600) & (t <= 1200), -1e-3, 0.0)
    v = 3.7 - np.where(i < 0, 0.02 + 0.005 * np.sqrt(np.clip(t - 600, 0, None) / 600), 0.0)
    v = v - np.where(t > 1200, 0.004 * np.exp(-(t - 1200) / 300), 0.0)
    rows = "\n".join(f"{a:.6f},{b:.6e},{c:.8f}" for a, b, c in zip(t, i, v, strict=True))
    path.write_text("time_s,current_a,voltage_v\n" + rows + "\n")
    return path


def split_nc(path: Path, design: str = "S_SE", cell: str = "S1", kind: str | None = "split",
             n: int = 6) -> Path:
    """Write a small synthetic result file of ``kind`` (a split by default)."""
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {"resistance": (("pulse", "component", "sample"),
                        np.exp(rng.normal(1, 0.1, (n, 4, 20))))},
        coords={"pulse": np.arange(n), "component": ["R1", "R2", "R3", "total"],
                "design": ("pulse", [design] * n), "cell": ("pulse", [cell] * n),
                "soc": ("pulse", np.linspace(5, 95, n))})
    if kind is not None:
        ds.attrs["drtbayes_kind"] = kind
    ds.to_netcdf(path, engine="h5netcdf")
    return path


STUDY = """
[study]
name = "faults"
capacity_mah = 2.4

[compare]
a = "L_SE"
b = "S_SE"

[checks]
kk_threshold = 0.01

[[cells]]
design = "S_SE"
cell = "S1"
gitt = "gitt/S1.csv"
eis = [{ file = "eis/S1.csv", soc = 50 }]

[[cells]]
design = "L_SE"
cell = "L1"
gitt = "gitt/L1.csv"
eis = [{ file = "eis/L1.csv", soc = 50, temperature_c = 25 }]
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Path]:
    """Build the inputs every case may use in a fresh folder."""
    (tmp_path / "eis").mkdir()
    (tmp_path / "gitt").mkdir()
    e = {"dir": tmp_path,
         "s": spectrum_csv(tmp_path / "s.csv"),
         "flipped": spectrum_csv(tmp_path / "flipped.csv", flip=True),
         "split": split_nc(tmp_path / "split.nc"),
         "split_l": split_nc(tmp_path / "split_l.nc", "L_SE", "L1"),
         "bands": split_nc(tmp_path / "bands.nc", kind="bands"),
         "nokind": split_nc(tmp_path / "plain.nc", kind=None),
         "folder": tmp_path / "afolder",
         "file": tmp_path / "notes.txt"}
    e["folder"].mkdir()
    e["file"].write_text("the user's notes\n")
    for cell in ("S1", "L1"):
        spectrum_csv(tmp_path / "eis" / f"{cell}.csv")
        one_pulse_gitt(tmp_path / "gitt" / f"{cell}.csv")
    (tmp_path / "study.toml").write_text(STUDY)
    return e


def study_with(env: dict[str, Path], edit: Callable[[str], str], name: str = "s2.toml") -> str:
    """Write an edited copy of the study file and return its path."""
    p = env["dir"] / name
    p.write_text(edit(STUDY), encoding="utf-8")
    return str(p)


def refuse(args: list[str], cls: type[Exception], fragment: str, capsys) -> str:
    """Run the CLI: exit 2 and one line holding ``fragment``; with --debug, exactly ``cls``."""
    rc = main(args)
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith("drtbayes: warning:")]
    assert rc == 2, err
    assert len(lines) == 1 and lines[0].startswith("drtbayes: error: "), err
    assert "Traceback" not in err
    assert fragment in lines[0], lines[0]
    with pytest.raises(cls) as info:
        main(["--debug", *args])
    assert type(info.value) is cls, repr(info.value)
    capsys.readouterr()
    return lines[0]


def _s(env, key):
    return str(env[key])


def _o(env, name):
    return str(env["dir"] / name)


# --------------------------------------------------------------------------- the table
# (id, args from env, error class, words of the one-line message)
CASES: list[tuple[str, Callable[[dict], list[str]], type[Exception], str]] = [
    # ---- outputs: checked before any work
    ("json-exists", lambda e: ["fit-eis", _s(e, "s"), "--json", _s(e, "file")],
     OutputExistsError, "notes.txt: exists already; pass --force to overwrite it"),
    ("json-is-folder", lambda e: ["fit-eis", _s(e, "s"), "--json", _s(e, "folder"), "--force"],
     OutputPathError, "afolder: is a folder, not a regular file; give a file name inside it"),
    ("json-dev-null", lambda e: ["fit-eis", _s(e, "s"), "--json", "/dev/null", "--force"],
     OutputPathError, "/dev/null: is a character device, not a regular file; only regular "
                      "files are ever replaced"),
    ("out-is-input", lambda e: ["fit-eis", _s(e, "s"), "--out", _s(e, "s"), "--force"],
     OutputPathError, "s.csv: is an input file of this run; drtbayes never overwrites its "
                      "inputs"),
    ("json-parent-is-file",
     lambda e: ["fit-eis", _s(e, "s"), "--json", str(e["file"] / "x.json")],
     OutputPathError, "notes.txt is a file, not a folder; choose another path"),
    ("json-not-utf8", lambda e: ["fit-eis", _s(e, "s"), "--json",
                                 os.fsdecode(str(e["dir"]).encode() + b"/r\xe9sult.json")],
     OutputPathError, "the output name is not valid UTF-8"),
    ("out-and-json-same", lambda e: ["fit-eis", _s(e, "s"), "--out", _o(e, "f.nc"),
                                     "--json", _o(e, "f.nc")],
     OutputPathError, "f.nc: given for two outputs; give each its own file"),
    ("batch-out-is-file", lambda e: ["fit-eis", _s(e, "s"), "--out", _o(e, "plainfile")],
     OutputPathError, "plainfile: exists and is not a folder"),
    ("run-out-is-file", lambda e: ["run", _o(e, "study.toml"), "--out", _s(e, "file")],
     OutputPathError, "notes.txt: exists and is not a folder"),
    ("run-out-is-study", lambda e: ["run", _o(e, "study.toml"), "--out", _o(e, "study.toml")],
     OutputPathError, "study.toml: is an input file of this run, not an output folder"),
    ("simulate-out-is-file", lambda e: ["simulate", _s(e, "file")],
     OutputPathError, "notes.txt: exists and is not a folder"),
    ("split-out-exists", lambda e: ["split-gitt", _o(e, "gitt/S1.csv"), "--bands",
                                    _s(e, "bands"), "--capacity-mah", "2.4", "--out",
                                    _s(e, "file")],
     OutputExistsError, "notes.txt: exists already; pass --force"),
    ("split-out-is-bands", lambda e: ["split-gitt", _o(e, "gitt/S1.csv"), "--bands",
                                      _s(e, "bands"), "--capacity-mah", "2.4", "--out",
                                      _s(e, "bands"), "--force"],
     OutputPathError, "bands.nc: is an input file of this run"),
    ("crossover-json-dev-null", lambda e: ["crossover", _s(e, "split"), "--a", "L_SE", "--b",
                                           "S_SE", "--json", "/dev/null", "--force"],
     OutputPathError, "/dev/null: is a character device"),
    ("crossover-json-is-input", lambda e: ["crossover", _s(e, "split"), "--a", "L_SE", "--b",
                                           "S_SE", "--json", _s(e, "split"), "--force"],
     OutputPathError, "split.nc: is an input file of this run"),
    # ---- run sizes
    ("draws-1e9", lambda e: ["fit-eis", _s(e, "s"), "--draws", "1000000000"],
     RunSizeError, "--draws 1e+09: at most 100,000"),
    ("chains-1000", lambda e: ["fit-eis", _s(e, "s"), "--chains", "1000"],
     RunSizeError, "--chains 1000: at most 64"),
    ("tune-1e9-batch", lambda e: ["fit-eis", _s(e, "s"), "--tune", "1000000000", "--out",
                                  _o(e, "batch")],
     RunSizeError, "--tune 1e+09: at most 100,000"),
    ("split-samples-1e9", lambda e: ["split-gitt", _o(e, "gitt/S1.csv"), "--bands",
                                     _s(e, "bands"), "--capacity-mah", "2.4", "--out",
                                     _o(e, "sp.nc"), "--samples", "1000000000"],
     RunSizeError, "--samples 1e+09: at most 100,000"),
    ("split-samples-1", lambda e: ["split-gitt", _o(e, "gitt/S1.csv"), "--bands",
                                   _s(e, "bands"), "--capacity-mah", "2.4", "--out",
                                   _o(e, "sp.nc"), "--samples", "1"],
     ValueRangeError, "--samples 1: at least 10 posterior draws per pulse"),
    # ---- damaged or wrong result files
    ("crossover-text-as-nc", lambda e: ["crossover", _s(e, "file"), "--a", "L_SE", "--b",
                                        "S_SE"],
     ResultFileError, "notes.txt: not a netCDF-4/HDF5 file (wrong signature)"),
    ("crossover-wrong-kind", lambda e: ["crossover", _s(e, "bands"), "--a", "L_SE", "--b",
                                        "S_SE"],
     ResultFileError, "bands.nc: a drtbayes 'bands' result, where crossover needs 'split'"),
    ("crossover-no-kind", lambda e: ["crossover", _s(e, "nokind"), "--a", "L_SE", "--b",
                                     "S_SE"],
     ResultFileError, "plain.nc: a netCDF file without the 'drtbayes_kind' attribute"),
    ("crossover-missing", lambda e: ["crossover", _o(e, "nope.nc"), "--a", "L_SE", "--b",
                                     "S_SE"],
     ResultFileError, "nope.nc: file not found"),
    ("crossover-same-split-twice", lambda e: ["crossover", _s(e, "split"), _s(e, "split"),
                                              "--a", "L_SE", "--b", "S_SE"],
     ResultFileError, "split.nc: the same split as"),
    ("crossover-split-copy", lambda e: ["crossover", _s(e, "split"), _o(e, "copy.nc"),
                                        "--a", "L_SE", "--b", "S_SE"],
     ResultFileError, "copy.nc: the same split as"),
    ("crossover-cell-twice", lambda e: ["crossover", _s(e, "split"), _o(e, "other_s1.nc"),
                                        "--a", "L_SE", "--b", "S_SE"],
     ResultFileError, "other_s1.nc: cell S_SE/S1 is in"),
    ("crossover-folder", lambda e: ["crossover", _s(e, "folder"), "--a", "L_SE", "--b",
                                    "S_SE"],
     ResultFileError, "afolder: is not a regular file"),
    ("split-bands-wrong-kind", lambda e: ["split-gitt", _o(e, "gitt/S1.csv"), "--bands",
                                          _s(e, "split"), "--capacity-mah", "2.4", "--out",
                                          _o(e, "sp.nc")],
     ResultFileError, "split.nc: a drtbayes 'split' result, where --bands needs 'bands'"),
    ("split-bands-missing", lambda e: ["split-gitt", _o(e, "gitt/S1.csv"), "--bands",
                                       _o(e, "nope.nc"), "--capacity-mah", "2.4", "--out",
                                       _o(e, "sp.nc")],
     ResultFileError, "nope.nc: file not found"),
    # ---- study file: one schema, every violation at load time
    ("kk-strict-string", lambda e: ["run", study_with(e, lambda t: t.replace(
        "kk_threshold = 0.01", 'kk_strict = "false"')), "--out", _o(e, "o")],
     StudyFileError, "checks.kk_strict = 'false': expected true or false (a TOML boolean"),
    ("processes-string", lambda e: ["run", study_with(e, lambda t: t + '\n[bands]\n'
                                                      'processes = "abc"\n'), "--out", _o(e, "o")],
     StudyFileError, "bands.processes = 'abc': expected a list of 2 to 5 distinct values"),
    ("processes-unknown", lambda e: ["run", study_with(
        e, lambda t: t + '\n[bands]\nprocesses = ["x", "y", "z"]\n'), "--out", _o(e, "o")],
     StudyFileError, "bands.processes = ['x', 'y', 'z']: expected a list of 2 to 5 distinct "
                     "values, each one of 'contact'"),
    ("processes-two", lambda e: ["run", study_with(e, lambda t: t + '\n[bands]\nprocesses'
                                                   ' = ["contact", "diffusion"]\n'),
                                 "--out", _o(e, "o")],
     StudyFileError, "expected 3 processes, fastest first (the GITT split maps them to R1"),
    ("kk-threshold-negative", lambda e: ["run", study_with(e, lambda t: t.replace(
        "kk_threshold = 0.01", "kk_threshold = -0.1")), "--out", _o(e, "o")],
     StudyFileError, "checks.kk_threshold = -0.1: expected a relative residual (0.01 means "
                     "1 %), a number in (0, 1]"),
    ("kk-threshold-word", lambda e: ["run", study_with(e, lambda t: t.replace(
        "kk_threshold = 0.01", 'kk_threshold = "high"')), "--out", _o(e, "o")],
     StudyFileError, "checks.kk_threshold = 'high': expected a relative residual"),
    ("temperature-with-unit", lambda e: ["run", study_with(e, lambda t: t.replace(
        'name = "faults"', 'name = "faults"\ntemperature_c = "25 C"')), "--out", _o(e, "o")],
     StudyFileError, "study.temperature_c = '25 C': expected a temperature in °C, a number "
                     "in [-100, 400]"),
    ("temperature-list", lambda e: ["run", study_with(e, lambda t: t.replace(
        "temperature_c = 25", "temperature_c = [25]")), "--out", _o(e, "o")],
     StudyFileError, "cells[1].eis[0].temperature_c = [25]: expected a temperature"),
    ("typo-did-you-mean", lambda e: ["run", study_with(e, lambda t: t.replace(
        "kk_threshold", "kk_treshold")), "--out", _o(e, "o")],
     StudyFileError, "unknown key checks.kk_treshold; did you mean 'kk_threshold'?"),
    ("all-problems-together", lambda e: ["run", study_with(e, lambda t: t.replace(
        "kk_threshold = 0.01", 'kk_threshold = "high"\nkk_strict = 1').replace(
        "soc = 50 }]\n\n[[cells]]", "soc = 150 }]\n\n[[cells]]")), "--out", _o(e, "o")],
     StudyFileError, "3 problems: cells[0].eis[0].soc = 150: expected a state of charge in "
                     "percent, a number in [0, 100]; checks.kk_threshold = 'high'"),
    ("components-empty", lambda e: ["run", study_with(e, lambda t: t.replace(
        'b = "S_SE"', 'b = "S_SE"\ncomponents = []')), "--out", _o(e, "o")],
     StudyFileError, "compare.components = []: expected a list of at least 1 distinct values"),
    ("components-unknown", lambda e: ["run", study_with(e, lambda t: t.replace(
        'b = "S_SE"', 'b = "S_SE"\ncomponents = ["R4"]')), "--out", _o(e, "o")],
     StudyFileError, "compare.components = ['R4']"),
    ("draws-in-study", lambda e: ["run", study_with(e, lambda t: t + "\n[sampler]\ndraws = "
                                                    "1000000000\n"), "--out", _o(e, "o")],
     StudyFileError, "sampler.draws = 1000000000: expected an integer in [1, 100000]"),
    ("draws-float-in-study", lambda e: ["run", study_with(e, lambda t: t + "\n[sampler]\n"
                                                          "draws = 1e3\n"), "--out", _o(e, "o")],
     StudyFileError, "sampler.draws = 1000.0: expected an integer"),
    ("same-design-compared", lambda e: ["run", study_with(e, lambda t: t.replace(
        'a = "L_SE"', 'a = "S_SE"')), "--out", _o(e, "o")],
     StudyFileError, "compare.b = 'S_SE': expected a design other than compare.a"),
    ("cell-twice", lambda e: ["run", study_with(e, lambda t: t.replace(
        'cell = "L1"', 'cell = "S1"').replace('design = "L_SE"', 'design = "S_SE"')),
        "--out", _o(e, "o")],
     StudyFileError, "cells[1] = 'S_SE/S1': expected each design/cell once"),
    ("gitt-without-capacity", lambda e: ["run", study_with(e, lambda t: t.replace(
        "capacity_mah = 2.4\n", "")), "--out", _o(e, "o")],
     StudyFileError, "cells[0].capacity_mah is missing (needed for the GITT record's SOC"),
    ("missing-eis-file", lambda e: ["run", study_with(e, lambda t: t.replace(
        "eis/S1.csv", "eis/nope.csv")), "--out", _o(e, "o")],
     StudyFileError, "cells[0].eis[0].file = 'eis/nope.csv': expected a file that exists"),
    ("imag-sign-python-spelling", lambda e: ["run", study_with(e, lambda t: t.replace(
        "soc = 50 }]\n\n[[cells]]", 'soc = 50, imag_sign = "flipped" }]\n\n[[cells]]')),
        "--out", _o(e, "o")],
     StudyFileError, "cells[0].eis[0].imag_sign = 'flipped': expected one of 'auto', "
                     "'flip', 'as-is'"),
    ("eis-preset-of-wrong-kind", lambda e: ["run", study_with(e, lambda t: t + '\n[models]\n'
                                                              'eis = "gitt-split"\n'),
                                            "--out", _o(e, "o")],
     StudyFileError, "models.eis: "),
    ("soc-preset-unknown", lambda e: ["run", study_with(
        e, lambda t: t + '\n[models]\nsoc = "soc-splien"\n'), "--out", _o(e, "o")],
     StudyFileError, "models.soc: unknown model preset 'soc-splien'"),
    ("one-pulse-per-design", lambda e: ["run", _o(e, "study.toml"), "--out", _o(e, "o")],
     TooFewPointsError, "design 'S_SE' has 1 complete GITT pulse(s) (in S1.csv); the SOC "
                        "model needs at least 5 per design"),
    # ---- CLI spellings and presets
    ("flipped-sign-cli-spelling", lambda e: ["read", _s(e, "flipped")],
     SignConventionError, "--imag-sign flip"),
    ("models-unknown", lambda e: ["models", "drt-singel"],
     PresetError, "unknown model preset 'drt-singel'"),
    ("fit-eis-split-preset", lambda e: ["fit-eis", _s(e, "s"), "--model", "gitt-split",
                                        "--out", _o(e, "b2")],
     PresetError, "is of kind 'split'; fit-eis needs a DRT preset"),
]


def _prepare(case_id: str, env: dict[str, Path]) -> None:
    if case_id == "batch-out-is-file":
        (env["dir"] / "plainfile").write_text("x")
    if case_id == "crossover-split-copy":
        shutil.copy(env["split"], env["dir"] / "copy.nc")
    if case_id == "crossover-cell-twice":
        split_nc(env["dir"] / "other_s1.nc", n=7)


@pytest.mark.parametrize(("case_id", "args", "cls", "fragment"), CASES,
                         ids=[c[0] for c in CASES])
def test_fault_table(case_id, args, cls, fragment, env, capsys):
    """Each case: exit 2, one line with the message, the exact class, nothing changed."""
    _prepare(case_id, env)
    before = {p: p.read_bytes() for p in env["dir"].rglob("*") if p.is_file()}
    refuse(args(env), cls, fragment, capsys)
    # nothing the user had was changed, and no output folder was left behind by a refusal
    for p, data in before.items():
        assert p.read_bytes() == data, p
    assert not (env["dir"] / "o" / LOCK_NAME).exists()


def test_fault_table_is_large_enough():
    """Check the table holds at least the 40 cases the issue asks for."""
    assert len(CASES) >= 40


# --------------------------------------------------------------------------- named tests
def test_fifo_and_symlink_are_not_replaced(env, capsys):
    """Check --force never replaces a FIFO or a symbolic link."""
    fifo = env["dir"] / "pipe"
    os.mkfifo(fifo)
    refuse(["fit-eis", _s(env, "s"), "--json", str(fifo), "--force"], OutputPathError,
           "pipe: is a FIFO (named pipe), not a regular file", capsys)
    assert Path(fifo).is_fifo()
    link = env["dir"] / "link.json"
    link.symlink_to("/etc/hostname")
    refuse(["fit-eis", _s(env, "s"), "--json", str(link), "--force"], OutputPathError,
           "link.json: is a symbolic link, not a regular file", capsys)
    assert link.is_symlink()


def test_dev_null_stays_a_character_device(env, capsys):
    """Check --json /dev/null --force leaves /dev/null a device."""
    import stat

    refuse(["crossover", _s(env, "split"), "--a", "L_SE", "--b", "S_SE", "--json",
            "/dev/null", "--force"], OutputPathError, "is a character device", capsys)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_memory_estimate_refuses_a_run_that_cannot_fit(env, capsys, monkeypatch):
    """Check the memory estimate refuses a run larger than the free memory."""
    from drtbayes.config import limits

    monkeypatch.setattr(limits, "available_memory_bytes", lambda: 2**30)  # 1 GiB free
    line = refuse(["fit-eis", _s(env, "s"), "--draws", "100000", "--chains", "64"],
                  RunSizeError, "100,000 draws x 64 chains need about", capsys)
    # per draw: gamma on the tau grid (6 per decade over 8 + 2 x 1 decades: 61 points) + 16
    # scalars, and the 49-point spectrum's real and imaginary parts; 8 bytes, 4 copies
    need = float(line.split("need about ")[1].split(" GiB")[0])
    assert need == pytest.approx(100_000 * 64 * (61 + 16 + 98) * 8 * 4 / 2**30, abs=0.05)
    assert "1.0 GiB are free; use fewer --draws or --chains" in line


def test_batch_summary_of_the_user_is_kept(env, capsys):
    """Check a user's summary.csv in a batch folder is never replaced without --force."""
    out = env["dir"] / "batch"
    out.mkdir()
    (out / "summary.csv").write_text("my,own,table\n")
    refuse(["fit-eis", _s(env, "s"), "--out", str(out), "--fast"], OutputExistsError,
           "summary.csv: exists and was not written by a drtbayes batch in this folder", capsys)
    assert (out / "summary.csv").read_text() == "my,own,table\n"
    assert sorted(p.name for p in out.iterdir()) == ["summary.csv"]   # nothing fitted


def test_batch_summary_that_is_an_input_is_refused_even_with_force(env, capsys):
    """Check an input named summary.csv is never replaced, --force included."""
    out = env["dir"] / "batch"
    out.mkdir()
    table = spectrum_csv(out / "summary.csv")
    refuse(["fit-eis", str(table), "--out", str(out), "--force", "--fast"], OutputPathError,
           "summary.csv: is an input file of this run", capsys)
    assert table.read_text().startswith("frequency_hz")


def test_second_writer_of_an_output_folder_is_refused(env, capsys):
    """Check a held lock refuses `run` and batch `fit-eis` on the same folder."""
    out = env["dir"] / "o"
    with output_lock(out):
        msg = refuse(["run", _o(env, "study.toml"), "--out", str(out)], OutputLockedError,
                     f"{out}: process {os.getpid()} on", capsys)
        assert "is writing into this folder; wait for it to finish or give another --out" in msg
        refuse(["fit-eis", _s(env, "s"), "--out", str(out), "--fast"], OutputLockedError,
               "is writing into this folder", capsys)
    assert not (out / LOCK_NAME).exists()


def test_two_processes_on_one_out(env):
    """Check a second process's `drtbayes run` on a held --out refuses in one line.

    The first process holds the folder as `drtbayes run` does while it works; after it is
    killed its stale lock file does not block (the run then stops at the one-pulse records).
    """
    out = env["dir"] / "o"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from drtbayes._atomic import output_lock\n"
         f"with output_lock({str(out)!r}):\n    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        r = _drtbayes("run", _o(env, "study.toml"), "--out", str(out))
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert r.stderr.count("\n") == 1 and f"process {holder.pid} on" in r.stderr
    finally:
        holder.kill()
        holder.wait()
    assert (out / LOCK_NAME).exists()     # killed: its lock file stays behind, stale
    r = _drtbayes("run", _o(env, "study.toml"), "--out", str(out))
    assert r.returncode == 2 and "has 1 complete GITT pulse(s)" in r.stderr, r.stderr
    assert not (out / LOCK_NAME).exists()


def _drtbayes(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "drtbayes.cli", *args], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO),
                                                    "MPLBACKEND": "Agg"}, timeout=600)


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a 200 kB tmpfs (root on Linux), unmounted afterwards."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_netcdf_write_in_a_subprocess(tmpfs):
    """Check a DataTree written to a full disk fails cleanly and the interpreter exits 0.

    The fast half of the CLI test below: the same HDF5 write without the fit before it.
    """
    code = textwrap.dedent(f"""
        import numpy as np, xarray as xr
        from drtbayes._atomic import atomic_write_netcdf
        from drtbayes.errors import DiskFullError
        ds = xr.Dataset({{"x": ("a", np.random.default_rng(0).random(40000))}})
        tree = xr.DataTree.from_dict({{"/posterior": ds, "/sample_stats": ds}})
        try:
            atomic_write_netcdf({str(tmpfs / "fit.nc")!r}, tree)
        except DiskFullError as exc:
            print(exc)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr[-2000:])
    assert "fit.nc: the disk is full (0.2 MB free there); nothing was written" in r.stdout
    assert list(tmpfs.iterdir()) == []


@pytest.mark.slow
def test_full_disk_is_one_line_and_leaves_nothing(env, tmpfs):
    """Check a full disk gives one line, exit 2, no partial file and no segmentation fault.

    The fit's netCDF does not fit on the 200 kB disk; HDF5 writing to a full disk used to
    crash the interpreter at exit (status 139).
    """
    (tmpfs / "filler").write_bytes(b"\0" * 150_000)
    r = _drtbayes("fit-eis", _s(env, "s"), "--fast", "--quiet", "--out", str(tmpfs / "fit.nc"),
                  "--json", str(tmpfs / "fit.json"))
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("drtbayes: error:")]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and len(errors) == 1
    assert "fit.nc: the disk is full" in errors[0] and "nothing was written" in errors[0]
    assert sorted(p.name for p in tmpfs.iterdir()) == ["filler"]


def test_full_disk_during_a_text_write_is_a_disk_full_error(tmp_path, monkeypatch):
    """Check ENOSPC mid-write through a patched write (where no tmpfs can be mounted)."""
    import errno

    from drtbayes._atomic import atomic_write_text

    target = tmp_path / "crossover.json"
    target.write_text("old result")

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(DiskFullError, match="crossover.json: the disk is full"):
        atomic_write_text(target, "new", force=True)
    monkeypatch.undo()
    assert target.read_text() == "old result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crossover.json"]


def test_read_only_file_system(env, tmpfs, capsys):
    """Check an output on a read-only file system is refused up front."""
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    refuse(["fit-eis", _s(env, "s"), "--json", str(tmpfs / "fit.json")], OutputPathError,
           "is on a read-only file system; write elsewhere", capsys)


def _nobody_can_run_python(tmp_path: Path) -> bool:
    try:
        probe = subprocess.run([sys.executable, "-c", "import drtbayes"], user=65534,
                               group=65534, capture_output=True, text=True, check=False,
                               env={**os.environ, "HOME": str(tmp_path)}, timeout=60)
    except OSError:  # the interpreter lies in a folder only root may enter
        return False
    return probe.returncode == 0


def test_non_writable_parent_folder(env, tmp_path, capsys, monkeypatch):
    """An output in a folder the user may not write to is refused before any work.

    Root may write anywhere: as root the command runs as the unprivileged user 'nobody' when
    that user can run this checkout's interpreter; otherwise the permission check
    (``os.access``) is made to answer as it would for such a user. As any other user the
    folder's mode alone denies it.
    """
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    target = locked / "fit.json"
    expected = (f"drtbayes: error: {target}: no permission to write in {locked}; choose a "
                "folder you can write to")
    if os.geteuid() == 0 and not _nobody_can_run_python(tmp_path):
        real_access = os.access

        def access(path, mode, **kw):
            return False if Path(path) == locked and mode & os.W_OK else real_access(
                path, mode, **kw)

        monkeypatch.setattr(os, "access", access)
        refuse(["fit-eis", _s(env, "s"), "--fast", "--json", str(target)], OutputPathError,
               expected.removeprefix("drtbayes: error: "), capsys)
        assert list(locked.iterdir()) == []
        return
    for d in (tmp_path, env["dir"]):
        d.chmod(0o755)
    spec = env["dir"] / "s.csv"
    spec.chmod(0o644)
    kw = {"user": 65534, "group": 65534} if os.geteuid() == 0 else {}
    res = subprocess.run([sys.executable, "-m", "drtbayes", "fit-eis", str(spec), "--fast",
                          "--json", str(target)], capture_output=True, text=True, check=False,
                         timeout=120, env={**os.environ, "HOME": str(tmp_path),
                                           "DRTBAYES_CACHE_DIR": str(tmp_path / "cache")},
                         **kw)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [expected], res.stderr
    assert list(locked.iterdir()) == []


def _damage(src: Path, dst: Path, how: str) -> Path:
    data = bytearray(src.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "superblock-rot":
        for k in range(8, 48):
            data[k] ^= 0xA5
    elif how == "metadata-rot":
        # the object headers and B-trees sit after the superblock: flip every 7th byte there
        for k in range(96, min(len(data), 2400), 7):
            data[k] ^= 0xFF
    elif how == "empty":
        data = bytearray()
    elif how == "signature-only":
        data = data[:8]
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.parametrize("how", ["truncated", "superblock-rot", "metadata-rot", "empty",
                                 "signature-only"])
def test_damaged_netcdf_is_one_line(env, capsys, how):
    """Check damaged split and bands files give one line in crossover and split-gitt."""
    bad = _damage(env["split"], env["dir"] / f"{how}.nc", how)
    line = refuse(["crossover", str(bad), "--a", "L_SE", "--b", "S_SE"], ResultFileError,
                  f"{how}.nc: ", capsys)
    assert ("damaged or truncated netCDF file" in line or "not a netCDF-4/HDF5 file" in line)
    bands = _damage(env["bands"], env["dir"] / f"bands-{how}.nc", how)
    refuse(["split-gitt", _o(env, "gitt/S1.csv"), "--bands", str(bands), "--capacity-mah",
            "2.4", "--out", _o(env, "sp.nc")], ResultFileError, f"bands-{how}.nc: ", capsys)


def test_netcdf3_file_is_refused(env, capsys):
    """Check a netCDF-3 file is refused as not netCDF-4/HDF5."""
    pytest.importorskip("scipy")
    p = env["dir"] / "v3.nc"
    xr.Dataset({"x": ("a", [1.0])}, attrs={"drtbayes_kind": "split"}).to_netcdf(
        p, engine="scipy")
    refuse(["crossover", str(p), "--a", "L_SE", "--b", "S_SE"], ResultFileError,
           "v3.nc: not a netCDF-4/HDF5 file (wrong signature)", capsys)


def test_results_load_uses_the_checked_opener(env):
    """Check drtbayes.results.load refuses damaged files and loads good ones."""
    from drtbayes.results import load

    bad = _damage(env["split"], env["dir"] / "t.nc", "truncated")
    with pytest.raises(ResultFileError, match="t.nc: damaged or truncated netCDF file"):
        load(bad)
    res = load(env["split"])
    assert res.kind == "split" and res.dataset.sizes["pulse"] == 6


def test_utf8_bom_study_file_loads(env):
    """Check a study file saved with a byte-order mark loads."""
    from drtbayes.study import load_study

    p = env["dir"] / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + STUDY.encode())
    st = load_study(p)
    assert st.name == "faults" and (st.a, st.b) == ("L_SE", "S_SE")
    assert st.cells[1].eis[0].temperature_c == 25.0 and st.kk_strict is False


def test_errors_after_all_checks_pass_are_the_pipelines(env):
    """Check one bad value does not cascade into follow-on messages of cross-key rules."""
    from drtbayes.study import load_study

    p = Path(study_with(env, lambda t: t.replace('a = "L_SE"', "a = 3")))
    with pytest.raises(StudyFileError) as info:
        load_study(p)
    assert str(info.value).endswith("compare.a = 3: expected a non-empty string")


def test_preset_problems_are_listed_together(tmp_path):
    """Check every problem of a split preset is listed in one message."""
    from drtbayes.presets import load_preset

    src = (REPO / "models" / "gitt-split.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace("per_decade = 6", 'per_decade = "6"').replace(
        "n_samples = 400", "n_samples = 0\nn_sample = 3").replace(
        "eis_templates = true", 'eis_templates = "yes"'))
    with pytest.raises(PresetError) as info:
        load_preset(bad)
    msg = str(info.value)
    assert "4 problems:" in msg
    for words in ("pulse_grid.per_decade = '6': expected a number in [1, 40]",
                  "prior.eis_templates = 'yes': expected true or false",
                  "unknown key sampling.n_sample; did you mean 'n_samples'?",
                  "sampling.n_samples = 0: expected an integer >= 10"):
        assert words in msg, msg
    with pytest.raises(PresetError, match="a preset of kind 'split', where one of kind "
                                          "'soc_model' is needed"):
        load_preset("gitt-split", kind="soc_model")


def test_lock_without_flock_goes_by_the_pid(tmp_path, monkeypatch):
    """Check the no-flock fallback: a dead pid's lock is taken over, a live pid's refuses."""
    import errno
    import fcntl
    import socket

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    out = tmp_path / "o"
    out.mkdir()
    host = socket.gethostname()
    (out / LOCK_NAME).write_text(f"999999999 {host}\n")        # no such process
    with output_lock(out):
        assert (out / LOCK_NAME).read_text().split()[0] == str(os.getpid())
    assert not (out / LOCK_NAME).exists()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / LOCK_NAME).write_text(f"{sleeper.pid} {host}\n")
        with pytest.raises(OutputLockedError, match=f"process {sleeper.pid} on {host} is "
                                                    "writing into this folder"):
            with output_lock(out):
                pass
    finally:
        sleeper.kill()
        sleeper.wait()


def test_no_partial_file_after_a_failed_netcdf_serialisation(tmp_path):
    """Check a failed serialisation leaves no file behind."""
    from drtbayes._atomic import atomic_write_netcdf

    class Broken:
        def to_netcdf(self, *a, **k):
            raise ValueError("cannot serialise")

    with pytest.raises(ValueError, match="cannot serialise"):
        atomic_write_netcdf(tmp_path / "x.nc", Broken())
    assert list(tmp_path.iterdir()) == []


def test_cli_exits_2_without_traceback_on_a_damaged_file_in_a_subprocess(env):
    """Check a damaged file gives one line and no destructor noise in a real process."""
    bad = _damage(env["split"], env["dir"] / "rot.nc", "metadata-rot")
    r = _drtbayes("crossover", str(bad), "--a", "L_SE", "--b", "S_SE")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("drtbayes: error: ") and r.stderr.count("\n") == 1

