"""Linear Kramers-Kronig check: clean ZARC spectra pass, drift and outliers are flagged."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from test_io_synth import log_freqs, zarc_spectrum

import drtbayes.io as dio
from drtbayes.errors import KramersKronigError, KramersKronigWarning

F = log_freqs(1e5, 0.01, 8)


def test_zarc_passes_with_tiny_residual():
    s = dio.make_spectrum(F, zarc_spectrum(F, l_h=1e-7))  # with an inductive tail
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = dio.kk_check(s)
    # a ZARC is a continuous sum of RC elements; the fixed-tau Voigt series fits it to ~1e-4
    assert out.attrs["kk_max_residual"] < 1e-3 and out.attrs["kk_pass"] == 1
    assert out["kk_res_real"].shape == (F.size,)
    assert np.nanmax(np.abs(out["kk_res_imag"].values)) <= out.attrs["kk_max_residual"]


def test_noise_at_0p1_percent_passes(rng):
    z = zarc_spectrum(F)
    z = z + 0.001 * np.abs(z) * (rng.standard_normal(F.size) + 1j * rng.standard_normal(F.size))
    out = dio.kk_check(dio.make_spectrum(F, z))
    assert out.attrs["kk_pass"] == 1


def test_drift_is_flagged():
    z = zarc_spectrum(F)
    # the resistance grows linearly during the sweep: +8 % of R_total by the last point
    drift = np.linspace(0, 0.08 * (20 + 60 + 150), F.size)
    s = dio.make_spectrum(F, z + drift, source="drift.csv")
    with pytest.warns(KramersKronigWarning, match="drift.csv"):
        out = dio.kk_check(s)
    assert out.attrs["kk_pass"] == 0 and out.attrs["kk_max_residual"] > 0.01
    with pytest.raises(KramersKronigError, match="limit 1.0%"):
        dio.kk_check(s, strict=True)


def test_outliers_are_flagged():
    z = zarc_spectrum(F).copy()
    z[[10, 25]] *= 1.05  # two points 5 % off
    with pytest.warns(KramersKronigWarning):
        out = dio.kk_check(dio.make_spectrum(F, z))
    assert out.attrs["kk_pass"] == 0 and out.attrs["kk_max_residual"] > 0.02
    # the largest residuals sit near the outliers (the KK fit smears them over neighbours)
    res = np.maximum(np.abs(out["kk_res_real"].values), np.abs(out["kk_res_imag"].values))
    assert min(abs(int(np.argmax(res)) - 10), abs(int(np.argmax(res)) - 25)) <= 3


def test_stacked_spectra():
    a = dio.make_spectrum(F, zarc_spectrum(F), cell="a")
    b = dio.make_spectrum(F, zarc_spectrum(F) + np.linspace(0, 20, F.size), cell="b")
    st = dio.stack_spectra([a, b])
    with pytest.warns(KramersKronigWarning):
        out = dio.kk_check(st)
    assert list(out["kk_pass"].values) == [1, 0]


def test_noise_alone_is_not_flagged_but_drift_in_noise_is():
    """1 % noise gives ~3 % residuals: noise, not a KK violation; a 10 % drift still is."""
    z = zarc_spectrum(F)
    rng = np.random.default_rng(4)
    noisy = z + 0.01 * np.abs(z) * (rng.standard_normal(F.size) + 1j * rng.standard_normal(F.size))
    with warnings.catch_warnings():
        warnings.simplefilter("error", KramersKronigWarning)
        out = dio.kk_check(dio.make_spectrum(F, noisy, source="noisy.csv"))
    assert out.attrs["kk_pass"] == 1 and out.attrs["kk_max_residual"] > 0.01
    # the noise estimate recovers the 1 % noise to within its sampling error
    assert 0.006 < out.attrs["kk_noise"] < 0.014
    drift = np.linspace(0, 0.25 * (20 + 60 + 150), F.size)
    with pytest.warns(KramersKronigWarning, match="drifted.csv"):
        bad = dio.kk_check(dio.make_spectrum(F, noisy + drift, source="drifted.csv"))
    assert bad.attrs["kk_pass"] == 0
