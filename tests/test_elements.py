"""The analytic elements agree with their RC-ladder forms (the ground truth of every other test)."""

import numpy as np

from drtbayes import elements as el


def test_zarc_gamma_integrates_to_r():
    ln_tau = np.linspace(np.log(1e-3) - 40, np.log(1e-3) + 40, 20001)
    g = el.zarc_gamma(np.exp(ln_tau), 10.0, 1e-3, 0.8)
    np.testing.assert_allclose(np.trapezoid(g, ln_tau), 10.0, rtol=1e-3)


def test_zarc_ladder_reproduces_impedance():
    f = el.log_frequencies(1e6, 1e-2, 10)
    z = el.zarc_impedance(f, 10.0, 1e-3, 0.85)
    z_ladder = el.zarc(10.0, 1e-3, 0.85, per_decade=40, decades=10).impedance(f)
    np.testing.assert_allclose(z_ladder, z, atol=2e-3 * 10)


def test_warburg_ladders_reproduce_impedance():
    f = el.log_frequencies(1e5, 1e-3, 10)
    zt = el.warburg_transmissive_impedance(f, 5.0, 10.0)
    np.testing.assert_allclose(el.warburg_transmissive(5.0, 10.0, n_terms=4000).impedance(f), zt,
                               rtol=2e-3, atol=2e-3)
    zr = el.warburg_reflective_impedance(f, 5.0, 10.0)
    net = el.warburg_reflective(5.0, 10.0, n_terms=4000)
    np.testing.assert_allclose(net.impedance(f), zr, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(net.r_pol_ohm, 5.0 / 3.0, rtol=1e-12)
    np.testing.assert_allclose(net.c_series_f, 10.0 / 5.0)


def test_step_response_rc_and_capacitor():
    net = el.RCNetwork(1.0, [2.0], [10.0], c_series_f=100.0)
    t = np.array([0.0, 5.0, 10.0, 30.0, 60.0])
    # 1 A from t=0 to t=10, then rest
    v = net.voltage_response(t, [0.0, 10.0], [1.0, 0.0])
    expected_on = 1.0 + 2.0 * (1 - np.exp(-t / 10.0)) + t / 100.0
    np.testing.assert_allclose(v[:2], expected_on[:2])
    # after the pulse: the RC relaxes and the capacitor keeps its charge (0.1 V)
    expected_off = 2.0 * (np.exp(-(t - 10) / 10.0) - np.exp(-t / 10.0)) + 10.0 / 100.0
    # at t = 10 s exactly the current is already off (steps act from their own time on)
    np.testing.assert_allclose(v[2:], expected_off[2:])


def test_band_resistance_sums_by_tau():
    net = el.RCNetwork(0.0, [1.0, 2.0, 3.0], [1e-5, 1e-2, 10.0])
    np.testing.assert_allclose(net.band_resistance([0, 1e-3, 1.0, np.inf]), [1.0, 2.0, 3.0])
