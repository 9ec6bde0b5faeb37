"""The analytic elements agree with their RC-ladder forms (the ground truth of every other test)."""

import numpy as np
import pytest

from drtbayes import elements as el


def test_zarc_gamma_integrates_to_r():
    """The analytic ZARC DRT integrates to R."""
    ln_tau = np.linspace(np.log(1e-3) - 40, np.log(1e-3) + 40, 20001)
    g = el.zarc_gamma(np.exp(ln_tau), 10.0, 1e-3, 0.8)
    np.testing.assert_allclose(np.trapezoid(g, ln_tau), 10.0, rtol=1e-3)


def test_zarc_ladder_reproduces_impedance():
    """The discretised ZARC reproduces the closed-form impedance."""
    f = el.log_frequencies(1e6, 1e-2, 10)
    z = el.zarc_impedance(f, 10.0, 1e-3, 0.85)
    z_ladder = el.zarc(10.0, 1e-3, 0.85, per_decade=40, decades=10).impedance(f)
    np.testing.assert_allclose(z_ladder, z, atol=2e-3 * 10)


def test_warburg_ladders_reproduce_impedance():
    """Both finite Warburg ladders reproduce their closed forms."""
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
    """Superposed step responses of an RC and a capacitor, by hand."""
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
    """Band sums put each RC element in its band."""
    net = el.RCNetwork(0.0, [1.0, 2.0, 3.0], [1e-5, 1e-2, 10.0])
    np.testing.assert_allclose(net.band_resistance([0, 1e-3, 1.0, np.inf]), [1.0, 2.0, 3.0])


# ------------------------------------------------------------------ issue 21: new elements
# Every new element is checked against a route that shares nothing with its ladder or DRT: the
# closed-form impedance, a numerical inverse Laplace transform of Z(s)/s, or a physical limit.

def test_talbot_inverts_known_transforms():
    """The inverse-Laplace oracle reproduces two textbook pairs."""
    t = np.array([1e-3, 0.1, 1.0, 10.0, 100.0])
    np.testing.assert_allclose(
        el.talbot_inverse_laplace(lambda s: 1.0 / (s * (1.0 + 3.0 * s)), t),
        1.0 - np.exp(-t / 3.0), rtol=1e-8, atol=1e-12)
    # 1/s^(3/2) <-> 2 sqrt(t/pi): a branch cut, as diffusion elements have
    np.testing.assert_allclose(el.talbot_inverse_laplace(lambda s: s**-1.5, t),
                               2.0 * np.sqrt(t / np.pi), rtol=1e-8)


def test_havriliak_negami_drt_reproduces_its_impedance():
    """The HN DRT, integrated, gives the closed-form HN impedance."""
    r, tau0, a, b = 10.0, 1e-3, 0.8, 0.6
    ln_tau = np.linspace(np.log(tau0) - 60, np.log(tau0) + 60, 40001)
    g = el.havriliak_negami_gamma(np.exp(ln_tau), r, tau0, a, b)
    np.testing.assert_allclose(np.trapezoid(g, ln_tau), r, rtol=1e-9)
    f = el.log_frequencies(1e6, 1e-3, 10)
    w = 2 * np.pi * f
    z_drt = np.trapezoid(g[None, :] / (1 + 1j * w[:, None] * np.exp(ln_tau)[None, :]), ln_tau,
                         axis=1)
    np.testing.assert_allclose(z_drt, el.havriliak_negami_impedance(f, r, tau0, a, b),
                               rtol=1e-8, atol=1e-9)
    # beta = 1 is the ZARC
    np.testing.assert_allclose(el.havriliak_negami_gamma(np.exp(ln_tau), r, tau0, a, 1.0),
                               el.zarc_gamma(np.exp(ln_tau), r, tau0, a), atol=1e-12)
    # the ladder (used by the simulator) reproduces the impedance
    net = el.havriliak_negami(r, tau0, a, b, per_decade=40, decades=12)
    np.testing.assert_allclose(net.impedance(f), el.havriliak_negami_impedance(f, r, tau0, a, b),
                               atol=2e-3 * r)


def test_havriliak_negami_step_matches_inverse_laplace_and_ladder():
    """HN step response: quadrature = inverse Laplace = ladder."""
    r, tau0, a, b = 10.0, 1e-3, 0.8, 0.6
    t = np.array([1e-6, 1e-4, 1e-3, 1e-2, 0.1, 10.0])
    h = el.havriliak_negami_step(t, r, tau0, a, b)
    h_lap = el.talbot_inverse_laplace(lambda s: r / (1 + (s * tau0) ** a) ** b / s, t)
    np.testing.assert_allclose(h, h_lap, rtol=1e-7, atol=1e-9)
    assert h[-1] == pytest.approx(r, rel=2e-3)      # t -> inf: the full R (slow tail ~ t^-a)
    net = el.havriliak_negami(r, tau0, a, b, per_decade=40, decades=12)
    np.testing.assert_allclose(net.step_response(t), h, rtol=2e-3, atol=2e-3)


def test_spherical_diffusion_ladder_and_limits():
    """Spherical diffusion: ladder, inverse Laplace, sqrt(t) and DC limits."""
    r, tau = 5.0, 100.0
    f = el.log_frequencies(1e4, 1e-4, 10)
    net = el.spherical_diffusion(r, tau, n_terms=4000)
    z = el.spherical_diffusion_impedance(f, r, tau)
    np.testing.assert_allclose(net.impedance(f), z, rtol=2e-3, atol=2e-4)
    assert net.c_series_f == pytest.approx(tau / (3 * r))
    assert net.r_pol_ohm == pytest.approx(r / 5, rel=1e-12)
    # low frequency: C in series with R/5, from the closed form alone
    z_lo = el.spherical_diffusion_impedance(np.array([1e-7]), r, tau)[0]
    assert z_lo.real == pytest.approx(r / 5, rel=1e-6)
    assert -1.0 / (2 * np.pi * 1e-7 * z_lo.imag) == pytest.approx(tau / (3 * r), rel=1e-6)
    t = np.array([1e-3, 0.1, 1.0, 10.0, 100.0, 1000.0])

    def lap(s):
        x = np.sqrt(s * tau)
        return r * np.tanh(x) / (x - np.tanh(x)) / s

    np.testing.assert_allclose(net.step_response(t), el.talbot_inverse_laplace(lap, t),
                               rtol=2e-4, atol=1e-6)
    # short times: semi-infinite diffusion, 2 R sqrt(t / (pi tau)) (+ the curvature term R t/tau)
    t_short = np.array([1e-4, 1e-3])
    h = net.step_response(t_short)
    np.testing.assert_allclose(h, 2 * r * np.sqrt(t_short / (np.pi * tau)), rtol=0.02)
    # long times: R/5 + t/C
    h_long = net.step_response(np.array([50 * tau]))[0]
    assert h_long - 50 * tau / net.c_series_f == pytest.approx(r / 5, rel=1e-9)


def test_reflective_warburg_step_limits():
    """Reflective Warburg step: inverse Laplace, sqrt(t), R/3 limit."""
    r, tau = 5.0, 100.0
    net = el.warburg_reflective(r, tau, n_terms=4000)
    t = np.array([1e-3, 1.0, 30.0, 300.0])
    np.testing.assert_allclose(
        net.step_response(t),
        el.talbot_inverse_laplace(lambda s: r / (np.sqrt(s * tau) * np.tanh(np.sqrt(s * tau)))
                                  / s, t), rtol=2e-4, atol=1e-6)
    h = net.step_response(np.array([1e-4]))[0]
    assert h == pytest.approx(2 * r * np.sqrt(1e-4 / (np.pi * tau)), rel=0.01)
    # the part a GITT pulse sees against the bulk OCV tends to R/3
    assert net.step_response(np.array([50 * tau]), capacitor=False)[0] == pytest.approx(
        r / 3, rel=1e-9)


def test_transmission_line_ladder_and_limits():
    """Transmission line: ladder, DC value, both limits, inverse Laplace."""
    r_ion, r_ct, tau_ct = 3.0, 10.0, 1e-3
    f = el.log_frequencies(1e6, 1e-3, 10)
    z = el.transmission_line_impedance(f, r_ion, r_ct, tau_ct)
    net = el.transmission_line(r_ion, r_ct, tau_ct, n_terms=4000)
    np.testing.assert_allclose(net.impedance(f), z, rtol=1e-5)
    x = np.sqrt(r_ion / r_ct)
    assert net.r_pol_ohm == pytest.approx(np.sqrt(r_ion * r_ct) / np.tanh(x), rel=1e-12)
    # a vanishing ionic resistance leaves the interface's RC; a blocking interface (R_ct huge)
    # gives the 45-degree line of R_ion, Z -> sqrt(R_ion / (j w C_dl))
    np.testing.assert_allclose(el.transmission_line_impedance(f, 1e-9, r_ct, tau_ct),
                               el.rc_impedance(f, r_ct, tau_ct), rtol=1e-6)
    c_dl = tau_ct / r_ct
    zb = el.transmission_line_impedance(np.array([1e6]), r_ion, 1e9, 1e9 * c_dl)[0]
    assert zb == pytest.approx(np.sqrt(r_ion / (1j * 2 * np.pi * 1e6 * c_dl)), rel=1e-3)
    t = np.array([1e-5, 1e-3, 1e-2])

    def lap(s):
        u = np.sqrt(r_ion * (1.0 + s * tau_ct) / r_ct)
        return r_ion / (u * np.tanh(u)) / s

    np.testing.assert_allclose(net.step_response(t), el.talbot_inverse_laplace(lap, t),
                               rtol=1e-4, atol=1e-6)
