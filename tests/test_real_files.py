"""Real measurements: a DRT fit of a real-format file, and every shared real file read.

A DRT fit of a real-format instrument file through the command line (issue 3, "Done when").

The BioLogic ``.mpt`` test file of pyimpspec (29 points, 10 kHz - 1 Hz, about 0.02 % scatter) is
read from ``../shared/data/formats`` (skipped when absent) and fitted with ``drtbayes fit-eis``.
Its posterior predictive must cover the measured points, and the chains must agree: before the
likelihood had a 0.1 % error floor, this very quiet spectrum gave R-hat 1.5 and six spurious
peaks (the chains sat on different fine structures of gamma).
"""

# ruff: noqa: D103 (test names say what each test checks)
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import drtbayes.io as dio
from drtbayes.cli import main
from drtbayes.errors import DataWarning


@pytest.mark.timeout(600)
def test_fit_eis_on_biologic_mpt_covers_the_data(shared_formats, tmp_path):
    import drtbayes

    out, js = tmp_path / "fit.nc", tmp_path / "fit.json"
    rc = main(["fit-eis", str(shared_formats / "data.mpt"), "--soc", "50", "--seed", "1",
               "--out", str(out), "--json", str(js), "--quiet"])
    assert rc == 0
    summary = json.loads(js.read_text())
    (entry,) = [v for k, v in summary.items() if not k.startswith("_")]
    fit = drtbayes.load(out)
    pp = fit.tree["posterior_predictive"].to_dataset()
    obs = fit.tree["observed_data"].to_dataset()
    for part in ("z_real", "z_imag"):
        lo = pp[part].quantile(0.025, ("chain", "draw"))
        hi = pp[part].quantile(0.975, ("chain", "draw"))
        inside = ((obs[part] >= lo) & (obs[part] <= hi)).values
        # 95 % bands: with 29 points, at most 2 outside is well within chance
        assert inside.mean() >= 0.9, (part, inside.mean())
    assert entry["ppc"]["flagged"] is False
    # the chains agree (a spurious multi-modal fit had R-hat 1.5 and bulk ESS 8)
    assert entry["diagnostics"]["rhat_max"] < 1.05
    assert entry["diagnostics"]["ess_bulk_min"] > 100
    # Z' is 109 ohm at 10 kHz and the fastest arc is still falling there: R_inf a bit lower
    r_inf = entry["r_inf"]["median"]
    assert 90.0 < r_inf < 109.0
    # total resistance at 1 Hz is 645 ohm: R_inf + R_pol reaches at least that
    assert r_inf + entry["r_pol"]["median"] > 640.0
    # the fastest process: the arc at ~1.6e-4 s (peak of -Z'' near 1 kHz)
    tau0 = entry["peaks"][0]["tau_s"]["median"]
    assert 5e-5 < tau0 < 5e-4
    assert np.isfinite(entry["wall_s"])


# --- reading every file in ../shared/data/real (issue 22) -------------------------------------
# Each test checks numbers with a physical reason against what NOTICE.md (and the files' own
# sample_info.txt) say: the point count and frequency range of the file, the high-frequency
# intercept (Re Z where Z'' crosses zero, which lies at or a little above the peers' R_inf,
# the arc starting there), and the sign convention (capacitive arcs have Z'' < 0).


REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


@pytest.fixture
def real() -> Path:
    if not REAL.is_dir():
        pytest.skip(f"shared real measurements not found at {REAL}")
    return REAL


def _intercept(s) -> float:
    """Re Z where Z'' first crosses from inductive (> 0) to capacitive (< 0), interpolated."""
    zr, zi = s["z_real"].values, s["z_imag"].values
    k = int(np.flatnonzero((zi[:-1] > 0) & (zi[1:] <= 0))[0])
    t = zi[k] / (zi[k] - zi[k + 1])
    return float(zr[k] + t * (zr[k + 1] - zr[k]))


def _read_quiet(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        return dio.read_spectra(path, **kw)


def _range(s) -> tuple[int, float, float]:
    f = s["frequency"].values
    return f.size, float(f[0]), float(f[-1])


def test_headerless_impedancepy_li_ion(real):
    (s,) = _read_quiet(real / "impedancepy" / "exampleData.csv")
    n, fmax, fmin = _range(s)
    assert (n, fmax) == (66, pytest.approx(1e4)) and fmin == pytest.approx(3.1623e-3)
    assert s.attrs["imag_sign_detected"] == "Z''"  # the file stores Z'' (< 0 on the arcs)
    assumed = json.loads(s.attrs["assumed"])
    assert "no header line" in assumed[0] and "third column read as Z''" in assumed[1]
    # every point below 1 kHz is on the capacitive arcs
    assert np.all(s["z_imag"].values[s["frequency"].values < 1e3] < 0)
    # peers: R_inf 15.15 mOhm; the intercept lies above it, within the inductive bend
    assert 15.15e-3 <= _intercept(s) <= 1.05 * 15.15e-3
    # an option overrides the detected sign
    (flipped,) = _read_quiet(real / "impedancepy" / "exampleData.csv", imag_sign="flip")
    np.testing.assert_allclose(flipped["z_imag"].values, -s["z_imag"].values)


@pytest.mark.parametrize("name", ["LIB_data.txt", "data_1.csv"])
def test_headerless_pydrttools_li_ion(real, name):
    (s,) = _read_quiet(real / "pydrttools" / name)  # whitespace+tab, and comma separated
    n, fmax, fmin = _range(s)
    assert n == 107 and fmax == pytest.approx(999.04) and fmin == pytest.approx(5.0e-3, rel=1e-3)
    assert s.attrs["imag_sign_detected"] == "Z''"
    # inductive above ~450 Hz, capacitive below: the intercept near 0.11 ohm
    assert 0.105 < _intercept(s) < 0.115
    # the main peer peak holds 17.3 mOhm; the whole polarisation seen (Re Z at 5 mHz minus
    # the intercept) must hold at least that and the arcs after it
    assert float(s["z_real"][-1]) - _intercept(s) > 17.3e-3


def test_zview_autolab(real):
    (s,) = _read_quiet(real / "impedancepy" / "exampleDataAutolab.txt")
    assert s.attrs["source_format"] == "zview" and s.attrs["zview_format"] == "ZView Z60W"
    n, fmax, fmin = _range(s)
    assert (n, fmax, fmin) == (41, pytest.approx(1e4), pytest.approx(0.1))  # "41" in the file
    assert float(s["z_real"][0]) == pytest.approx(0.013785863964281)  # first data line
    # "a ~14 mOhm cell": the intercept
    assert _intercept(s) == pytest.approx(14e-3, rel=0.05)
    assert np.all(s["z_imag"].values[s["frequency"].values < 1e3] < 0)


def test_zplot_stopped_sweep(real):
    with pytest.warns(DataWarning, match="sets up 56 frequencies but the file holds 21"):
        (s,) = dio.read_spectra(real / "impedancepy" / "exampleDataZPlot.z")
    n, fmax, fmin = _range(s)
    assert (n, fmax, fmin) == (21, pytest.approx(3e5), pytest.approx(3e3))
    assert float(s["z_real"][0]) == pytest.approx(147.77)
    # one capacitive arc seen from its high-frequency side: Z'' < 0, Z' rising as f falls
    assert np.all(s["z_imag"].values < 0) and np.all(np.diff(s["z_real"].values) > 0)


def test_parstat_dc_rows_excluded(real):
    (s,) = _read_quiet(real / "impedancepy" / "exampleDataParstat.txt")
    n, fmax, fmin = _range(s)
    assert (n, fmax, fmin) == (31, pytest.approx(1e4), pytest.approx(10.0))
    excl = json.loads(s.attrs["excluded"])
    # the DC part of the experiment (battery at 3.49 V, -0.15 A), one row every 10 s
    assert len(excl) == 781 and {e["reason"] for e in excl} == {
        "0 Hz (DC or end-of-loop row, not an impedance point)"}
    assert excl[0]["row"] == 2 and excl[-1]["row"] == 782
    assert _intercept(s) == pytest.approx(16.6e-3, rel=0.03)


def test_biologic_mpt_sofc(real):
    (s,) = _read_quiet(real / "impedancepy" / "exampleDataBioLogic.mpt")
    n, fmax, fmin = _range(s)
    assert n == 43 and fmax == pytest.approx(1000.3, rel=1e-4) and fmin == pytest.approx(
        0.0169, rel=1e-2)
    assert s.attrs["imag_sign_detected"] == "-Z''"
    r = _intercept(s)
    assert 63.6 <= r <= 1.03 * 63.6  # peers' R_inf 63.6 ohm
    # peers: one peak of 47.5 ohm; Re Z at the lowest frequency minus the intercept
    assert float(s["z_real"][-1]) - r == pytest.approx(47.5, rel=0.05)


def test_ssb_mpr(real):
    (s,) = _read_quiet(real / "hybriddrt" / "PEIS_SSB.mpr")
    n, fmax, fmin = _range(s)  # sample_info.txt: 7 MHz - 10 mHz
    assert n == 89 and fmax == pytest.approx(7e6, rel=1e-4) and fmin == pytest.approx(
        0.01, rel=1e-3)
    assert np.all(s["z_imag"].values < 0)
    assert float(s["z_real"][0]) == pytest.approx(49.0087, rel=1e-5)


def test_ssb_polar_ten_loops_with_end_of_loop_rows(real):
    path = real / "hybriddrt" / "Sample2_PEIS_AtRest.csv"
    with pytest.warns(DataWarning, match="holds 10 spectra .loops found by column 'loop_index'"):
        spectra = dio.read_spectra(path)
    assert len(spectra) == 10
    for s in spectra:
        n, fmax, fmin = _range(s)
        assert n == 89 and fmax == pytest.approx(7e6, rel=1e-5)
        assert fmin == pytest.approx(0.01, rel=1e-3)
        excl = json.loads(s.attrs["excluded"])
        assert [e["frequency"] for e in excl] == [0.0]  # EC-Lab's end-of-loop row
        assert np.all(s["z_imag"].values < 0)
    # first data line: |Z| 50.752583 ohm at -20.75998 deg
    z0 = 50.752583 * np.exp(1j * np.deg2rad(-20.75998))
    s0 = spectra[0]
    assert float(s0["z_real"][0]) == pytest.approx(z0.real, rel=1e-7)
    assert float(s0["z_imag"][0]) == pytest.approx(z0.imag, rel=1e-7)
    # ten loops of one cell at rest: the high-frequency resistance barely moves
    hf = np.array([float(s["z_real"][0]) for s in spectra])
    assert np.ptp(hf) / hf.mean() < 0.05


def test_gamry_galveis_inductive(real):
    (s,) = _read_quiet(real / "hybriddrt" / "EISGALV_EISTest3.DTA")
    n, fmax, fmin = _range(s)
    assert n == 71 and fmax == pytest.approx(1e6, rel=1e-3) and fmin == pytest.approx(
        0.1, rel=1e-2)
    zi = s["z_imag"].values
    # strongly inductive at high frequency, kept as measured: the 26 fastest points
    assert int(np.sum(zi > 0)) == 26 and np.all(zi[:26] > 0)
    assert _intercept(s) == pytest.approx(24e-3, rel=0.03)  # "a ~24 mOhm cell"


def test_blocking_electrode_mpr(real):
    (s,) = _read_quiet(real / "hybriddrt" / "PEIS_LPSCl_IonBlocking_-25C.mpr")
    n, fmax, fmin = _range(s)
    assert n == 79 and fmax == pytest.approx(7e6, rel=1e-4) and fmin == pytest.approx(
        0.1, rel=1e-3)
    f, zr, zi = s["frequency"].values, s["z_real"].values, s["z_imag"].values
    assert np.all(zi < 0)
    # a blocking line: at the lowest frequency the phase is steeper than -75 deg, and over
    # the last decade -Z'' grows as f^-n with n of a CPE near a capacitor (0.7-1)
    assert np.degrees(np.arctan2(zi[-1], zr[-1])) < -75
    low = f <= 10 * f[-1]
    n_cpe = -np.polyfit(np.log10(f[low]), np.log10(-zi[low]), 1)[0]
    assert 0.7 < n_cpe < 1.0


def test_chronopotentiometry_mpr_reads_as_pulse_record(real):
    rec = dio.read_gitt(real / "hybriddrt" / "CP_SSB.mpr")
    t, i = rec["time"].values, rec["current"].values
    assert t.size == 30208 and float(t[-1]) == pytest.approx(30.2, abs=0.01)
    assert float(np.median(np.diff(t))) == pytest.approx(1e-3, rel=1e-4)  # 1 kHz sampling
    # +-8.4 uA square steps (NOTICE.md), read from I/mA into A
    assert float(np.max(i)) == pytest.approx(8.4e-6, rel=0.01)
    assert float(np.min(i)) == pytest.approx(-8.4e-6, rel=0.01)
    on = np.abs(i) > 4e-6
    sign = np.sign(i) * on
    changes = t[1:][np.diff(sign) != 0]
    # rest to 3 s, then steps of 0.1, 0.1, 1, 1, 10, 10 s alternating in sign, rest after
    np.testing.assert_allclose(changes, [3.0, 3.1, 3.2, 4.2, 5.2, 15.2, 25.2], atol=2e-3)


def test_chronopotentiometry_steps_found_as_pulses(real):
    rec = dio.read_gitt(real / "hybriddrt" / "CP_SSB.mpr")
    # the 10 s steps pass 10x the charge of the median step: left out, and said
    with pytest.warns(DataWarning, match="2 constant-current segment.s. besides the charge"):
        short = dio.detect_pulses(rec)
    assert short.sizes["pulse"] == 4
    # with the factor the warning names, all six square steps are pulses; each sample at
    # 1 kHz that catches the current half-way up a step belongs to that step
    p = dio.detect_pulses(rec, pulse_charge_factor=20)
    dur = p["t_end"].values - p["t_start"].values
    np.testing.assert_allclose(dur, [0.1, 0.1, 1.0, 1.0, 10.0, 10.0], atol=2e-3)
    i = p["current_a"].values
    assert list(np.sign(i)) == [1, -1, 1, -1, 1, -1]
    np.testing.assert_allclose(np.abs(i), 8.4e-6, rtol=0.01)
    # back to back, no rest in between: none of them is a complete GITT pulse
    assert not p["complete"].values.any()
