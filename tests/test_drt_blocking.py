"""Blocking electrodes: detection of the constant-phase line and the bulk-resistance fit.

Truths: a synthetic R_s + R_bulk||CPE + CPE spectrum with known parameters; the shared LPSCl
pellet between blocking steel electrodes (../shared/data/real/hybriddrt), whose bulk arc ends
on the real axis where -Z'' is smallest, so R_s + R_bulk must be close to Z' there; and the
shared battery spectra, which have a DC resistance and must not be called blocking.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from drtbayes import elements as el
from drtbayes.drt.blocking import blocking_impedance, detect_blocking, fit_blocking

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
BLOCKING_FILE = REAL / "hybriddrt" / "PEIS_LPSCl_IonBlocking_-25C.mpr"
TRUE = {"r_s_ohm": 5.0, "r_bulk_ohm": 1500.0, "tau_bulk_s": 2e-7, "n_bulk": 0.9,
        "q_el": 2e-7, "n_el": 0.88}


def _synthetic(seed: int = 0):
    f = el.log_frequencies(7e6, 0.1, 10)
    z = blocking_impedance(f, *TRUE.values())
    rng = np.random.default_rng(seed)
    return f, z + 0.005 * np.abs(z) * (rng.standard_normal(f.size)
                                       + 1j * rng.standard_normal(f.size))


def _read(path: Path):
    import drtbayes

    if not path.is_file():
        pytest.skip(f"shared real data not found at {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = drtbayes.read_spectrum(path)
    return s["frequency"].values, s["z_real"].values + 1j * s["z_imag"].values


def test_synthetic_blocking_cell_detected_and_parameters_covered():
    """Every true parameter inside its 95 % interval; the line's exponent found."""
    f, z = _synthetic()
    det = detect_blocking(f, z)
    assert det["blocking"] and abs(det["n"] - TRUE["n_el"]) < 0.03, det
    fit = fit_blocking(f, z, seed=1)
    for name, truth in TRUE.items():
        lo, hi = fit[name]["hdi95"]
        assert lo <= truth <= hi, (name, truth, fit[name])
    # 0.5 % noise: R_bulk to better than 1 %
    assert abs(fit["r_bulk_ohm"]["median"] / TRUE["r_bulk_ohm"] - 1) < 0.01
    assert fit["rhat_max"] < 1.05


def test_dc_spectra_are_not_blocking():
    """An RC + ZARC + series-C battery-like spectrum (an ideal capacitor) is not blocking."""
    f = el.log_frequencies(1e6, 1e-2, 10)
    w = 2 * np.pi * f
    z = 5 + el.zarc_impedance(f, 30, 1e-3, 0.8) + 1 / (1j * w * 50.0)
    assert not detect_blocking(f, z)["blocking"]
    z2 = 5 + el.zarc_impedance(f, 30, 1e-3, 0.8) + el.warburg_transmissive_impedance(f, 20, 10)
    assert not detect_blocking(f, z2)["blocking"]


def test_real_lpscl_pellet_bulk_resistance():
    """The shared blocking pellet: detected; R_s + R_bulk within 10 % of Z' at the arc's end."""
    f, z = _read(BLOCKING_FILE)
    det = detect_blocking(f, z)
    assert det["blocking"], det
    fit = fit_blocking(f, z, seed=0)
    k = int(np.argmin(-z.imag))
    total = fit["r_s_ohm"]["median"] + fit["r_bulk_ohm"]["median"]
    assert abs(total / z.real[k] - 1) < 0.10, (total, z.real[k])
    lo, hi = fit["r_bulk_ohm"]["hdi95"]
    assert lo < fit["r_bulk_ohm"]["median"] < hi and hi - lo < 0.2 * fit["r_bulk_ohm"]["median"]


@pytest.mark.parametrize("name", ["hybriddrt/PEIS_SSB.mpr", "impedancepy/exampleDataBioLogic.mpt",
                                  "hybriddrt/EISGALV_EISTest3.DTA"])
def test_real_battery_spectra_are_not_blocking(name):
    """Spectra with a DC path (cells, an SOFC cathode) are not called blocking."""
    f, z = _read(REAL / name)
    assert not detect_blocking(f, z)["blocking"]


def test_drt_fit_of_the_pellet_refuses_r_pol():
    """fit_drt on the pellet: not trusted, R_pol None, the bulk circuit in the summary."""
    import drtbayes

    if not BLOCKING_FILE.is_file():
        pytest.skip("shared real data absent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = drtbayes.read_spectrum(BLOCKING_FILE)
        res = drtbayes.fit_drt(spec, "drt-single", fast=True, progress=False, seed=0)
    entry = res.summary_dict()[res.spectra[0]]
    assert entry["r_pol"] is None and entry["trust"]["trusted"] is False
    assert any("blocking electrode" in r for r in entry["trust"]["reasons"])
    assert entry["bulk_circuit"]["r_bulk_ohm"]["median"] > 0
