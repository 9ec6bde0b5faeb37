"""NUTS in whitened coordinates (drtbayes.inference.whiten).

The whitened model samples z with x = shift + L z. Its log density must be the original
model's at x (the affine map has a constant Jacobian, which drops out), its gradient L' times
the original gradient, and with shift 0 and L = I every Python-side function must be the
original model's. A fit sampled whitened and one sampled unwhitened draw from the same
posterior: their medians agree within Monte Carlo error.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from test_drt_fit import noisy_spectrum

from drtbayes.inference.whiten import laplace_whitening


def test_laplace_whitening_inverts_the_hessian():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    h = a @ a.T + 0.5 * np.eye(6)
    chol = laplace_whitening(h)
    np.testing.assert_allclose(chol @ chol.T, np.linalg.inv(h), rtol=1e-10, atol=1e-12)
    # a direction without curvature (or a negative one) gets the floor, not an infinite scale
    flat = np.diag([4.0, 1.0, 0.0, -1.0])
    scales = np.sort(np.linalg.norm(laplace_whitening(flat, floor=1e-4), axis=0))
    np.testing.assert_allclose(scales, [0.5, 1.0, 50.0, 50.0])


@pytest.fixture(scope="module")
def drt_models():
    from drtbayes.drt import fit as fitmod
    from drtbayes.drt.model import build_model, prepare_inputs
    from drtbayes.inference.compile import compile_model
    from drtbayes.inference.packed import pack_values
    from drtbayes.inference.whiten import WhitenedCompiled, whitened_model
    from drtbayes.presets import load_preset

    preset = load_preset("drt-single")
    freq, zr, zi = fitmod._validate(fitmod._as_stack(noisy_spectrum("two_zarc", seed=0)))
    inputs = prepare_inputs(freq, zr, zi, np.zeros(1, dtype=int), 1, preset)
    model = build_model(inputs, preset)
    packed = pack_values(inputs.data_values())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = compile_model(model)
        white = WhitenedCompiled(compile_model(whitened_model(model))).with_data(**packed)
    for var in original.shared_var_keys:
        var.set_value(packed[var.name])
    return original, white


def test_identity_whitening_is_the_original_model(drt_models):
    original, white = drt_models
    white.set_shared()
    assert white.n_dim == original.n_dim
    assert white.shape_info[0] == list(original.shape_info[0])
    assert [(s.start, s.stop) for s in white.shape_info[1]] == [
        (int(s.start), int(s.stop)) for s in original.shape_info[1]]
    x = np.random.default_rng(1).normal(scale=0.2, size=original.n_dim)
    lp0, g0 = original.logp_func(x)
    lp1, g1 = white.logp_func(x)
    # x = 0 + I z is exact; only the order of a few floating-point sums may differ
    np.testing.assert_allclose(float(lp1), float(lp0), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(g1), np.asarray(g0), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(white.expand_func(x)[0], np.asarray(original.expand_func(x)[0]),
                               rtol=1e-13, atol=0)


def test_whitened_log_density_and_gradient(drt_models):
    # the sampler's callbacks see this data: logp(z) = logp_x(shift + L z), grad = L' grad_x
    original, white = drt_models
    n = original.n_dim
    rng = np.random.default_rng(2)
    chol = 0.1 * rng.normal(size=(n, n))
    shift = rng.normal(scale=0.2, size=n)
    z = rng.normal(size=n)
    var = next(iter(white.nutpie_model.shared_var_keys))
    from drtbayes.inference.whiten import whitened_data

    var.set_value(whitened_data(white._packed, shift, chol)["whitened_data"])
    try:
        lp_z, g_z = white.nutpie_model.logp_func(z)
    finally:
        white.set_shared()
    lp_x, g_x = original.logp_func(shift + chol @ z)
    np.testing.assert_allclose(float(lp_z), float(lp_x), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(g_z), chol.T @ np.asarray(g_x), rtol=1e-9, atol=1e-9)


def test_whitened_and_plain_nuts_sample_one_posterior():
    """Same spectrum, same posterior, two samplers: R_pol and the two peak heights agree
    within 4 Monte Carlo standard errors of their difference (MCSE from each fit's ESS).
    """
    from drtbayes.drt import fit_drt
    from drtbayes.presets import load_preset

    plain = load_preset("drt-single")
    plain["sampler"].update(whiten=False, adaptation="low_rank")
    white = copy.deepcopy(plain)
    white["sampler"].update(whiten=True, adaptation="diag")
    spec = noisy_spectrum("two_zarc", seed=0)
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for preset in (plain, white):
            fits.append(fit_drt(spec, preset, seed=5, draws=500, tune=300, chains=2,
                                progress=False))
    import arviz_stats

    for what in ("r_pol", "r_inf"):
        means, mcse = [], []
        for res in fits:
            a = np.asarray(res.posterior[what].values[:, :, 0])
            means.append(a.mean())
            mcse.append(float(arviz_stats.mcse(a, chain_axis=0, draw_axis=1)))
        assert abs(means[0] - means[1]) < 4 * np.hypot(*mcse), (what, means, mcse)
    g = [np.asarray(r.posterior["gamma"].values[:, :, 0, :]) for r in fits]
    for i in np.argsort(np.median(g[0], axis=(0, 1)))[-2:]:   # the two highest grid points
        m = [x[:, :, i].mean() for x in g]
        se = [float(arviz_stats.mcse(x[:, :, i], chain_axis=0, draw_axis=1)) for x in g]
        assert abs(m[0] - m[1]) < 4 * np.hypot(*se), (i, m, se)
