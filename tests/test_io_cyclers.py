"""GITT readers for cycler exports, on real files the cyclers wrote (tests/data/NOTICE.md).

Each test checks the charge drtbayes counts from the record it read (zero-order hold, as
:func:`drtbayes.io.detect_pulses` counts it) against the cycler's own capacity counter stored
in the same file, an independent figure: a wrong unit, sign or time base breaks the match.
"""

# ruff: noqa: D103 (test names say what each test checks)
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import drtbayes.io as dio
from drtbayes.errors import FileFormatError

DATA = Path(__file__).parent / "data"


def _read(name: str, **kw):
    with warnings.catch_warnings():
        # Neware logs the last sample of a step and the first of the next at one time stamp;
        # that is said in a DataWarning and is not what these tests check
        warnings.simplefilter("ignore")
        return dio.read_gitt(DATA / name, **kw)


def _charge_mah(rec, a: int, b: int) -> float:
    """Charge passed between samples a and b (exclusive), current held to the next sample."""
    t, i = rec["time"].values, rec["current"].values
    b = min(b, t.size - 1)
    return float(np.sum(i[a:b] * (t[a + 1 : b + 1] - t[a:b]))) / 3.6


def test_neware_ndax_charge_then_discharge():
    pytest.importorskip("fastnda")
    rec = _read("neware_46_1_5_60_bts16.ndax")
    assert rec.attrs["source_format"] == "nda"
    assert rec.attrs["neware_step_types"] == "Rest, CC_Chg, CC_DChg"
    t, i, v = rec["time"].values, rec["current"].values, rec["voltage"].values
    assert float(t[-1]) == pytest.approx(80.0)
    # 2 A charge for 30 s, then 2 A discharge (mA in the file, A in drtbayes; charge > 0)
    assert float(np.max(i)) == pytest.approx(2.0, rel=0.01)
    assert float(np.min(i)) == pytest.approx(-2.0, rel=0.01)
    assert 2.8 < float(v.min()) and float(v.max()) < 3.1
    chg = np.flatnonzero(i > 1.0)
    dis = np.flatnonzero(i < -1.0)
    # the cycler's capacity counter at the end of each step: 16.68 and 16.64 mAh
    assert _charge_mah(rec, chg[0], chg[-1] + 1) == pytest.approx(16.6815, rel=2e-3)
    assert -_charge_mah(rec, dis[0], dis[-1] + 1) == pytest.approx(16.6408, rel=2e-3)


def test_neware_nda_discharge_step():
    pytest.importorskip("fastnda")
    rec = _read("neware_nda_v8.nda")
    i = rec["current"].values
    assert float(np.min(i)) == pytest.approx(-2.297e-3, rel=1e-4)  # -2.297 mA
    dis = np.flatnonzero(i < 0)
    # the cycler's counter at the end of the 483 s step: 0.30818 mAh
    assert -_charge_mah(rec, dis[0], dis[-1] + 1) == pytest.approx(0.3081808, rel=1e-4)


def test_neware_damaged_file_is_refused(tmp_path):
    pytest.importorskip("fastnda")
    bad = tmp_path / "cut.ndax"
    bad.write_bytes((DATA / "neware_46_1_5_60_bts16.ndax").read_bytes()[:3000])
    with pytest.raises(FileFormatError, match="fastnda cannot read this Neware file") as info:
        dio.read_gitt(bad)
    assert str(bad) in str(info.value)


def test_maccor_text_export():
    rec = _read("maccor_prediag_first1300.034")
    assert rec.attrs["source_format"] == "maccor"
    t, i = rec["time"].values, rec["current"].values
    assert rec.sizes["time"] == 1298
    # rest 3 h, 1 s at 4.85 A, rest, CC-CV charge from 0.70 A, CC discharge at -0.70 A
    assert float(np.max(i)) == pytest.approx(4.8455, rel=1e-4)
    assert float(np.min(i)) == pytest.approx(-0.6986, rel=1e-3)
    assert rec.attrs["maccor_current_signed_from_state"] == 0  # this export signs Amps
    step = np.flatnonzero((t >= 10861.02) & (t <= 32008.62))
    assert np.all(i[step] > 0) and float(i[step[0]]) == pytest.approx(0.69604)
    # the Amp-hr column counts the step: 3.8515575 Ah at its last sample (file line 1248),
    # 0.0000038 Ah at its first; the sparse log of the CV tail (80 s between samples) limits
    # the zero-order-hold count to about 0.5 %
    counted = _charge_mah(rec, step[0], step[-1] + 1) / 1000
    assert counted == pytest.approx(3.8515575 - 0.0000038, rel=5e-3)


def test_arbin_csv_export():
    rec = _read("arbin_test-TC-contact_CH33.csv")
    assert rec.attrs["source_format"] == "csv"
    # Arbin writes Test_Time (s), Current (A), Voltage (V) without units in the header
    assert rec.attrs["units_assumed"] == '["Test_Time", "Current", "Voltage"]'
    i = rec["current"].values
    assert float(np.max(i)) == pytest.approx(6.6006, rel=1e-4)
    # the cycler's Charge_Capacity column: 0.0051783 Ah at the first sample, then counted
    total = _charge_mah(rec, 0, rec.sizes["time"] - 1) / 1000
    assert total == pytest.approx(ARBIN_LAST_CHARGE_AH - 0.0051783411763608456, rel=5e-3)


#: Charge_Capacity (Ah) on the last line of the Arbin file.
ARBIN_LAST_CHARGE_AH = float(
    (DATA / "arbin_test-TC-contact_CH33.csv").read_text().strip().splitlines()[-1].split(",")[8])
