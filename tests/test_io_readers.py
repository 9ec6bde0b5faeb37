"""Readers on every format: committed fixtures (exact analytic values) and the shared real files."""

# ruff: noqa: D103 (test names say what each test checks)

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_io_synth import log_freqs, ocv, synth_gitt, zarc_spectrum

import drtbayes.io as dio
from drtbayes.errors import DataWarning, KramersKronigWarning

DATA = Path(__file__).parent / "data"
F = log_freqs(1e5, 0.1, 6)
Z = zarc_spectrum(F)


def _rel_err(ds, z_true):
    z = ds["z_real"].values + 1j * ds["z_imag"].values
    return float(np.max(np.abs(z - z_true) / np.abs(z_true)))


@pytest.mark.parametrize(
    ("name", "fmt", "detected", "tol"),
    [
        ("eis_canonical.csv", "csv", "Z''", 1e-8),  # 10 significant digits written
        ("eis_semicolon_decimal_comma.csv", "csv", "-Z''", 1e-7),  # 9 digits (%.8E)
        ("eis_polar_khz_mohm.tsv", "csv", "Z''", 1e-8),
        ("eis_eispot.DTA", "dta", "Z''", 1e-8),
        ("eis_peis_2loops.mpt", "mpt", "-Z''", 1e-6),  # EC-Lab writes 8 digits
        ("eis_peis_2loops.mpr", "mpr", "-Z''", 1e-6),  # float32 in the binary
    ],
)
def test_fixture_spectrum_matches_analytic(name, fmt, detected, tol):
    spectra = dio.read_spectra(DATA / name, design="L_SE", soc=50, temperature_c=25,
                               area_cm2=0.785)
    s = spectra[0]
    assert s.attrs["source_format"] == fmt
    assert s.attrs["imag_sign_detected"] == detected
    np.testing.assert_allclose(s["frequency"].values, F, rtol=1e-6)
    assert _rel_err(s, Z) < tol
    assert np.all(np.diff(s["frequency"].values) < 0)
    assert (s.attrs["design"], s.attrs["soc"], s.attrs["temperature_c"]) == ("L_SE", 50.0, 25.0)
    assert s.attrs["area_cm2"] == 0.785 and s.attrs["cell_type"] == "symmetric"
    assert len(s.attrs["source_sha256"]) == 64
    assert json.loads(s.attrs["excluded"]) == []


@pytest.mark.parametrize("name", ["eis_peis_2loops.mpt", "eis_peis_2loops.mpr"])
def test_two_loops_give_two_spectra(name):
    spectra = dio.read_spectra(DATA / name)
    assert len(spectra) == 2
    # the second loop was written with R0 + 2 ohm
    assert _rel_err(spectra[1], zarc_spectrum(F, r0=22.0)) < 1e-6
    with pytest.warns(DataWarning, match="holds 2 spectra"):
        second = dio.read_spectrum(DATA / name, index=1)
    assert float(second["z_real"][0] - spectra[0]["z_real"][0]) == pytest.approx(2.0, abs=1e-4)


def test_unsorted_input_is_sorted_and_recorded():
    s = dio.read_spectrum(DATA / "eis_semicolon_decimal_comma.csv")  # written low -> high
    assert s.attrs["sorted_by_reader"] == 1
    assert s["row"].values[0] == 38  # highest frequency was the last line
    assert dio.read_spectrum(DATA / "eis_canonical.csv").attrs["sorted_by_reader"] == 0


def test_make_spectrum_and_stack():
    a = dio.make_spectrum(F, Z, design="L_SE", cell="c1", soc=20)
    b = dio.make_spectrum(F[::2] * 1.0004, Z[::2] * 1.1, design="S_SE", cell="c2", soc=20)
    st = dio.stack_spectra([a, b, a])
    assert st.sizes == {"spectrum": 3, "frequency": F.size}  # 0.04 % apart -> merged
    assert list(st["spectrum"].values) == ["L_SE/c1/soc20", "S_SE/c2/soc20", "L_SE/c1/soc20#2"]
    assert np.isnan(st["z_real"].values[1, 1]) and not np.isnan(st["z_real"].values[1, 2])
    np.testing.assert_allclose(st["z_real"].values[0], Z.real)
    assert list(st["design"].values) == ["L_SE", "S_SE", "L_SE"]
    # 1 % apart: not merged
    c = dio.make_spectrum(F * 1.01, Z)
    assert dio.stack_spectra([a, c]).sizes["frequency"] == 2 * F.size


def test_gitt_fixtures_all_formats_agree():
    expected_soc = 100 - np.arange(5) - 0.5
    for name, n in (("gitt_cp.mpt", 5), ("gitt.mpr", 5), ("gitt_hours_ma.csv", 5),
                    ("gitt_chronop.DTA", 4)):
        g = dio.read_gitt(DATA / name, capacity_mah=2.0, design="S_SE")
        assert g.attrs["capacity_mah"] == 2.0 and g.attrs["design"] == "S_SE"
        assert np.all(np.diff(g["time"].values) > 0) and g["time"].values[0] == 0
        p = dio.detect_pulses(g)
        assert p.sizes["pulse"] == n, name
        np.testing.assert_allclose(p["soc"].values, expected_soc[:n], atol=1e-4)
        np.testing.assert_allclose(p["current_a"].values, -1e-3, rtol=1e-5)
        # fixtures rest 1800 s with tau 300 s: e^-6 of the ~4.3 mV overpotential is left
        np.testing.assert_allclose(p["ocv_before"].values, ocv(100 - np.arange(n)), atol=3e-5)


def test_read_gitt_current_unit():
    p = DATA / "gitt_chronop.DTA"
    g = dio.read_gitt(p)
    assert json.loads(g.attrs["units_assumed"]) == []
    assert np.isclose(np.min(g["current"].values), -1e-3)


def test_gitt_csv_60k_rows_reads_exactly(tmp_path):
    # Reading speed is measured in benchmarks, never asserted here; this checks that a full
    # 100-pulse record (> 60k rows) is read completely and exactly.
    t, i, v, _ = synth_gitt(n_pulses=100)
    assert t.size > 60_000
    path = tmp_path / "big.csv"
    path.write_text("time_s,current_a,voltage_v\n" + "\n".join(
        f"{float(a)!r},{b:.6g},{c:.8g}" for a, b, c in zip(t, i, v, strict=True)) + "\n")
    g = dio.read_gitt(path)
    assert g.sizes["time"] == t.size
    np.testing.assert_array_equal(g["time"].values, t)
    np.testing.assert_allclose(g["voltage"].values, v, rtol=1e-7)


def test_describe_spectrum_and_gitt():
    text = dio.describe(DATA / "eis_peis_2loops.mpt")
    assert "2 impedance spectra" in text
    assert "37 points, 100 kHz .. 100 mHz" in text
    assert "-Z''" in text and "KK: max residual" in text and "pass" in text
    text = dio.describe(DATA / "gitt_cp.mpt", capacity_mah=2.0)
    assert "GITT record" in text and "5 pulses (5 discharge, 0 charge)" in text
    assert "SOC 95.5 .. 99.5 %" in text


# --- the shared real-format files ------------------------------------------------------------

SHARED = ["case-multiple-spectra.mpt", "case-negative-real-imaginary.csv",
          "data-comma-decimal-separator.csv", "data-comma.csv", "data-header-variant-2.csv",
          "data-header-variant-3.csv", "data-header-variant-4.csv", "data-semicolon.csv",
          "data-space.csv", "data-tab.csv", "data.dta", "data.mpt"]


@pytest.mark.parametrize("name", SHARED)
def test_shared_format_files(shared_formats, name):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # a clean file must read without any warning
        spectra = dio.read_spectra(shared_formats / name)
    # ... except the one saying that a multi-loop file holds several spectra
    expected = ["holds 3 spectra"] if name == "case-multiple-spectra.mpt" else []
    assert [m for m in expected if any(m in str(w.message) for w in caught)] == expected
    assert len(caught) == len(expected), [str(w.message) for w in caught]
    s = spectra[0]
    f = s["frequency"].values
    assert f.size == 29 and f[0] == pytest.approx(1e4) and f[-1] == pytest.approx(1.0)
    # real part 109.009 ohm at 10 kHz (NOTICE.md); capacitive: Z'' < 0 everywhere
    assert float(s["z_real"][0]) == pytest.approx(109.00918, rel=1e-6)
    assert float(s["z_imag"][0]) == pytest.approx(-26.55568, rel=1e-6)
    assert np.all(s["z_imag"].values < 0)
    # the same spectrum from every file (text exports round to 8 significant digits)
    ref = dio.read_spectrum(shared_formats / "data-comma.csv")
    np.testing.assert_allclose(s["z_real"].values, ref["z_real"].values, rtol=1e-7)
    np.testing.assert_allclose(s["z_imag"].values, ref["z_imag"].values, rtol=1e-6)
    if name == "case-multiple-spectra.mpt":
        assert len(spectra) == 3
        for other in spectra[1:]:
            np.testing.assert_allclose(other["z_real"].values, s["z_real"].values)
    checked = dio.kk_check(s)
    assert checked.attrs["kk_pass"] == 1 and checked.attrs["kk_max_residual"] < 1e-3


def test_shared_drift_corrected_dta(shared_formats):
    s = dio.read_spectrum(shared_formats / "drift-corrected-data.dta")
    assert s.sizes["frequency"] == 55 and s.attrs["gamry_drift_corrected"] == 1
    # the drift-corrected columns are used: at 5.98 Hz ZrealDrCor = 6821.895 (Zreal 6819.833)
    k = int(np.argmin(np.abs(s["frequency"].values - 5.978954)))
    assert float(s["z_real"][k]) == pytest.approx(6821.895)
    # its high-frequency points scatter by several % of |Z|: the KK check flags it
    with pytest.warns(KramersKronigWarning, match="Kramers-Kronig residuals"):
        assert dio.kk_check(s).attrs["kk_pass"] == 0


def test_describe_shared(shared_formats):
    text = dio.describe(shared_formats / "data.dta")
    assert "29 points, 10 kHz .. 1 Hz" in text and "pass" in text
