"""Pulse detection on simulated GITT records with known SOC, OCV and current."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_io_synth import ocv, synth_gitt

import drtbayes.io as dio
from drtbayes.errors import CapacityError, NoPulsesError, SignConventionError, UnitError

# A 1800-5000 s rest with tau = 300 s leaves e^-16 .. e^-6 of the <= 4.3 mV pulse overpotential:
# OCV tolerance 3e-5 V covers the shortest rest used here.
OCV_TOL_V = 3e-5


def _pulses(**kw):
    cap = kw.pop("capacity_mah", 2.0)
    t, i, v, truth = synth_gitt(capacity_mah=2.0, **kw)
    return dio.detect_pulses(dio.make_gitt(t, i, v, capacity_mah=cap)), truth


def test_cccv_charge_then_100_pulses():
    p, truth = _pulses(n_pulses=100)
    k = np.arange(100)
    assert p.sizes["pulse"] == 100
    np.testing.assert_allclose(p["soc_start"].values, 100 - k, atol=1e-9)
    np.testing.assert_allclose(p["soc_end"].values, 99 - k, atol=1e-9)
    np.testing.assert_allclose(p["soc"].values, 99.5 - k, atol=1e-9)
    np.testing.assert_allclose(p["t_start"].values, truth["starts"])
    np.testing.assert_allclose(p["t_end"].values - p["t_start"].values, 72.0)
    np.testing.assert_allclose(p["current_a"].values, -1e-3, rtol=1e-12)  # 0.5 C of 2 mAh
    np.testing.assert_allclose(p["ocv_before"].values, ocv(100 - k), atol=OCV_TOL_V)
    np.testing.assert_allclose(p["ocv_after"].values, ocv(99 - k), atol=OCV_TOL_V)
    np.testing.assert_allclose(p["rest_s"].values[:-1], 5000.0)
    assert p["complete"].values.all() and set(p["kind"].values) == {"discharge"}
    segs = json.loads(p.attrs["excluded_segments"])
    assert len(segs) == 1 and segs[0]["reason"].startswith("CC/CV charge")
    assert p.attrs["capacity_mah"] == 2.0 and "end of the charge" in p.attrs["soc_reference"]


def test_capacity_from_record_when_not_given():
    t, i, v, _ = synth_gitt(n_pulses=100)
    p = dio.detect_pulses(dio.make_gitt(t, i, v))
    # 100 pulses of 1 % from 100 %: the record spans the full capacity of 2 mAh
    assert p.attrs["capacity_mah"] == pytest.approx(2.0, rel=1e-9)
    np.testing.assert_allclose(p["soc"].values, 99.5 - np.arange(100), atol=1e-6)


def test_charge_and_discharge_pulses_without_charge():
    kinds = ["discharge"] * 4 + ["charge"] * 3
    p, _ = _pulses(n_pulses=7, kinds=kinds, charge_first=False)
    assert list(p["kind"].values) == kinds
    np.testing.assert_allclose(p["soc"].values, [99.5, 98.5, 97.5, 96.5, 96.5, 97.5, 98.5])
    np.testing.assert_allclose(p["current_a"].values, [-1e-3] * 4 + [1e-3] * 3)
    assert "record start" in p.attrs["soc_reference"]


def test_rests_of_different_length_and_variable_sampling():
    rests = [5000.0, 1800.0, 9000.0, 2500.0, 5000.0]
    p, _ = _pulses(n_pulses=5, rests=rests, sample_period_s=37.0, n_log=40)
    # the last rest ends with the record (its last sample), the others at the next pulse
    np.testing.assert_allclose(p["rest_s"].values[:-1], rests[:-1])
    np.testing.assert_allclose(p["soc"].values, 99.5 - np.arange(5), atol=1e-9)
    assert p["complete"].values.all()


def test_truncated_last_pulse():
    t, i, v, truth = synth_gitt(n_pulses=6, truncate_last_s=30.0)
    p = dio.detect_pulses(dio.make_gitt(t, i, v, capacity_mah=2.0))
    assert p.sizes["pulse"] == 6
    assert list(p["complete"].values) == [True] * 5 + [False]
    assert p["flag"].values[-1] == "truncated" and np.isnan(p["ocv_after"].values[-1])
    # the record ends (last sample) a little before start + 30 s; 1 % SOC per 72 s
    done_s = t[-1] - truth["starts"][-1]
    assert 25 < done_s <= 30
    assert p["soc_end"].values[-1] == pytest.approx(95 - done_s / 72, abs=1e-9)


def test_pulse_without_rest_is_flagged():
    p, _ = _pulses(n_pulses=5, no_rest_after=(1,))
    assert p.sizes["pulse"] == 5
    assert list(p["flag"].values) == ["", "no rest", "no rest before", "", ""]
    assert list(p["complete"].values) == [True, False, False, True, True]
    np.testing.assert_allclose(p["current_a"].values[2], -1.5e-3)
    assert np.isnan(p["ocv_after"].values[1])


def test_short_rest_flagged_incomplete():
    p, _ = _pulses(n_pulses=5, rests=[5000.0, 200.0, 5000.0, 5000.0, 5000.0])
    assert list(p["flag"].values) == ["", "short rest", "", "", ""]


def test_capacity_contradiction_and_unit_mixup():
    t, i, v, _ = synth_gitt(n_pulses=100)
    with pytest.raises(CapacityError, match="more than 1.2x the capacity"):
        dio.detect_pulses(dio.make_gitt(t, i, v, capacity_mah=1.0))
    with pytest.raises(UnitError, match="mA read as A"):
        dio.detect_pulses(dio.make_gitt(t, i * 1000, v, capacity_mah=2.0))


def test_reversed_current_sign():
    t, i, v, _ = synth_gitt(n_pulses=5)
    with pytest.raises(SignConventionError, match="current_sign='flip'"):
        dio.detect_pulses(dio.make_gitt(t, -i, v))
    p = dio.detect_pulses(dio.make_gitt(t, -i, v, current_sign="flip", capacity_mah=2.0))
    np.testing.assert_allclose(p["soc"].values, 99.5 - np.arange(5), atol=1e-9)


def test_no_pulses():
    t = np.arange(100.0)
    with pytest.raises(NoPulsesError, match="current is zero"):
        dio.detect_pulses(dio.make_gitt(t, np.zeros(100), np.full(100, 3.7)))
