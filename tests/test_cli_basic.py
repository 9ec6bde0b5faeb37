"""The CLI's thin face: one-line errors with exit 2, file summaries, preset listing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drtbayes import elements as el
from drtbayes.cli import main

DATA = Path(__file__).parent / "data"


def _spectrum_csv(path: Path, flip: bool = False) -> Path:
    f = el.log_frequencies(1e5, 1e-1, 8)
    z = 5 + el.zarc_impedance(f, 10, 1e-3, 0.85)
    imag = -z.imag if flip else z.imag
    rows = "\n".join(f"{a},{b},{c}" for a, b, c in zip(f, z.real, imag, strict=True))
    path.write_text("frequency_hz,z_real_ohm,z_imag_ohm\n" + rows + "\n")
    return path


def test_read_prints_summary(tmp_path, capsys):
    p = _spectrum_csv(tmp_path / "s.csv")
    assert main(["read", str(p)]) == 0
    out = capsys.readouterr().out
    assert "49" in out          # points: 6 decades x 8 + 1
    assert "s.csv" in out


def test_bad_file_is_one_line_exit_2(tmp_path, capsys):
    p = _spectrum_csv(tmp_path / "flipped.csv", flip=True)
    assert main(["read", str(p)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("drtbayes: error:")
    assert "--imag-sign flip" in err[0] and "flipped.csv" in err[0]


def test_missing_file_exit_2(tmp_path, capsys):
    assert main(["read", str(tmp_path / "nope.csv")]) == 2
    assert "nope.csv" in capsys.readouterr().err


def test_debug_shows_traceback(tmp_path):
    p = _spectrum_csv(tmp_path / "flipped.csv", flip=True)
    r = subprocess.run([sys.executable, "-m", "drtbayes.cli", "--debug", "read", str(p)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_no_traceback_without_debug(tmp_path):
    p = _spectrum_csv(tmp_path / "flipped.csv", flip=True)
    r = subprocess.run([sys.executable, "-m", "drtbayes.cli", "read", str(p)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_models_lists_presets(capsys):
    pytest.importorskip("drtbayes.presets")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("drt-single", "drt-hierarchical", "drt-robust"):
        assert name in out


def test_outputs_are_never_clobbered(tmp_path):
    from drtbayes._atomic import atomic_write_text
    from drtbayes.errors import OutputExistsError

    p = tmp_path / "x.txt"
    atomic_write_text(p, "one")
    with pytest.raises(OutputExistsError, match="--force"):
        atomic_write_text(p, "two")
    atomic_write_text(p, "three", force=True)
    assert p.read_text() == "three"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["x.txt"]   # no temp files left


def test_atomic_write_leaves_target_intact_on_failure(tmp_path):
    from drtbayes._atomic import atomic_write

    p = tmp_path / "x.txt"
    p.write_text("old")

    def boom(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(p, boom, force=True)
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["x.txt"]


@pytest.mark.parametrize("args, match", [
    (["--target-accept", "1.5"], "--target-accept 1.5: must lie strictly between 0 and 1"),
    (["--draws", "0"], "--draws 0: must be at least 1"),
    (["--tune", "-1"], "--tune -1: must be at least 0"),
    (["--capacitance-f", "-2"], "--capacitance-f -2: must be > 0 (F)"),
    (["--capacitance-f", "2", "--capacitance-rel-sd", "0"], "--capacitance-rel-sd 0: the sd"),
    (["--capacitance-rel-sd", "0.2"], "--capacitance-rel-sd needs --capacitance-f"),
])
def test_fit_eis_bad_sampler_option_is_one_line_exit_2(tmp_path, capsys, args, match):
    p = _spectrum_csv(tmp_path / "ok.csv")
    for out in ([], ["--out", str(tmp_path / "batch")]):  # one joint fit, and batch mode
        assert main(["fit-eis", str(p), *args, *out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and match in err[0], err
        assert not (tmp_path / "batch").exists()

