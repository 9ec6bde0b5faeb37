"""Simulation-based calibration harness (benchmarks/sbc.py, benchmarks/_sbc_lib.py).

Three layers, from exact to realistic:

* the rank / chi-square machinery on a conjugate normal model whose posterior is drawn exactly
  (so uniformity is exact and the assertions have a computable false-alarm rate);
* the prior generators reproduce the PyMC models' priors (checked against the models' own log
  densities and against ``pm.sample_prior_predictive`` where the model allows it);
* a small DRT SBC run through ``fit_drt`` (a few replicates on a tiny grid): ranks in range, no
  quantity flagged when the model is right, and a strongly mis-specified negative control
  flagged. The 100-replicate runs are in docs/validation.md.

Every random draw is seeded, so each test is deterministic; the levels below are chosen so that
a correctly working harness would fail them with small, stated probability over seeds.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _sbc_lib as sbc  # noqa: E402

L = 99  # thinned draws: ranks 0..99, 100 values


# --------------------------------------------------------------------------------- machinery
def _conjugate_ranks(n_rep: int, rng: np.random.Generator, *, sd_factor: float = 1.0,
                     shift: float = 0.0) -> list[int]:
    """Theta ~ N(0, 1), 5 observations y ~ N(theta, 1); exact posterior N(sum y / 6, 1 / 6).

    ``sd_factor`` / ``shift`` distort the 'fitted' posterior (over-confident, biased).
    """
    ranks = []
    for _ in range(n_rep):
        theta = rng.normal()
        y = rng.normal(theta, 1.0, 5)
        mean, sd = y.sum() / 6.0, np.sqrt(1.0 / 6.0)
        draws = rng.normal(mean + shift * sd, sd * sd_factor, 10 * L)  # then thinned
        ranks.append(sbc.sbc_rank(theta, sbc.thin(draws, L), rng))
    return ranks


def test_chi2_uniform_basics():
    flat = np.repeat(np.arange(L + 1), 2)  # every rank value twice: perfectly uniform
    res = sbc.chi2_uniform(flat, L, 10)
    assert res["counts"] == [20] * 10 and res["stat"] == 0.0 and res["p"] == pytest.approx(1.0)
    assert res["method"] == "chi2" and res["df"] == 9
    piled = sbc.chi2_uniform([0] * 100, L, 10)
    assert piled["p"] < 1e-100
    small = sbc.chi2_uniform([0] * 8, L, 4)  # expected 2 per bin: Monte Carlo p-value
    assert small["method"].startswith("monte-carlo")
    # P(all 8 in one of 4 bins) = 4 / 4**8 = 6.1e-5; the MC estimate is bounded below by 1/20001
    assert small["p"] < 5e-4
    with pytest.raises(ValueError, match="equal bins"):
        sbc.chi2_uniform([1, 2], L, 7)
    with pytest.raises(ValueError, match="outside"):
        sbc.chi2_uniform([100], L, 10)


def test_thin_and_rank():
    draws = np.arange(2 * 500, dtype=float).reshape(2, 500)  # (chain, draw)
    t = sbc.thin(draws, L)
    assert t.size == L and t[0] == 0 and t[-1] == 999 and np.all(np.diff(t) > 0)
    rng = np.random.default_rng(0)
    assert sbc.sbc_rank(-1.0, t, rng) == 0 and sbc.sbc_rank(1e9, t, rng) == L
    assert sbc.sbc_rank(500.5, np.arange(1000.0), rng) == 501
    tied = [sbc.sbc_rank(1.0, np.ones(4), rng) for _ in range(200)]
    assert set(tied) == {0, 1, 2, 3, 4}  # ties broken at random over every position
    with pytest.raises(ValueError):
        sbc.thin(np.zeros(10), L)
    with pytest.raises(ValueError, match="non-finite"):
        sbc.sbc_rank(np.nan, t, rng)


def test_exact_posterior_passes_and_distorted_ones_are_flagged():
    rng = np.random.default_rng(2024)
    good = _conjugate_ranks(400, rng)
    assert min(good) >= 0 and max(good) <= L
    # uniform ranks: p ~ U(0, 1); failing at p < 1e-3 has probability 0.1 % over seeds
    assert sbc.chi2_uniform(good, L, 10)["p"] > 1e-3
    # an over-confident posterior (sd halved) gives a U-shaped histogram, a biased one (shifted
    # by one posterior sd) a slope; with 400 replicates either is rejected with p << 1e-6
    over = sbc.chi2_uniform(_conjugate_ranks(400, rng, sd_factor=0.5), L, 10)
    assert over["p"] < 1e-6 and over["counts"][0] > 2 * 40 and over["counts"][-1] > 2 * 40
    biased = sbc.chi2_uniform(_conjugate_ranks(400, rng, shift=1.0), L, 10)
    # (posterior shifted up: the truth falls low among its draws)
    assert biased["p"] < 1e-6 and biased["counts"][0] > biased["counts"][-1]


def test_summarise_bonferroni_flags():
    rng = np.random.default_rng(5)
    recs = [{"ranks": {"good": int(g), "bad": int(b)}}
            for g, b in zip(_conjugate_ranks(200, rng),
                            _conjugate_ranks(200, rng, sd_factor=0.3), strict=True)]
    s = sbc.summarise(recs, ["good", "bad"], L, 10)
    assert s["threshold"] == pytest.approx(0.005)
    assert not s["quantities"]["good"]["flagged"] and s["quantities"]["bad"]["flagged"]
    assert s["any_flagged"]


# --------------------------------------------------------------------------------- generators
def test_drt_prior_matches_the_model_log_density():
    """The generator's joint prior density equals the PyMC model's (up to a constant).

    The model's prior on f is ``Normal(level_mean, level_sd)`` times a Potential; the generator
    samples its exact conditional. Checked by comparing log densities of two draws: the model's
    ``logp`` without the likelihood term must differ from the generator's Gaussian-Markov
    density by the same constant for any parameter values.
    """
    from scipy import stats

    from drtbayes.drt.model import build_model, prepare_inputs

    freq = 10.0 ** np.linspace(4, -1, 16)
    gen = sbc.DrtGenerator(freq)
    ones = np.ones((1, freq.size))
    # R_inf sampled: integrated out (the default), its HalfNormal prior sits inside the
    # likelihood term (tests/test_drt_marginal.py checks that term against quadrature)
    preset = {**gen.preset, "model": {**gen.preset["model"], "r_inf": "sampled"}}
    inputs = prepare_inputs(freq, ones, -ones, np.zeros(1, dtype=int), 1, preset)
    model = build_model(inputs, preset)
    # every prior term: the free variables and the smoothness Potential (not the likelihood)
    prior = model.logp(vars=[*model.free_RVs, model["smoothness_prior"]], jacobian=False)
    logp = model.compile_fn(prior, inputs=model.value_vars, on_unused_input="ignore",
                            mode="FAST_COMPILE")

    def gen_logp(th):
        pri, hyp, noi = gen.preset["priors"], gen.preset["hyperpriors"], gen.preset["noise"]
        rw = th["smoothness"] * gen.h ** 1.5
        prec = np.eye(gen.tau.size) / pri["log_gamma_level_sd"] ** 2 + gen.dtd / rw**2
        d = th["f"] - gen.level_mean
        _, logdet = np.linalg.slogdet(prec)
        out = 0.5 * logdet - 0.5 * d @ prec @ d
        # the model's coordinate is z = (ln smoothness - median) / sd: the density of ln
        # smoothness (a linear map of z: a constant Jacobian)
        out += stats.norm.logpdf(np.log(th["smoothness"]), hyp["smoothness_log_median"],
                                 hyp["smoothness_log_sd"])
        for name, scale in (("r_inf_rel", pri["r_inf_scale"]),
                            ("l_rel", pri["inductance_scale"]),
                            ("elastance_rel", pri["elastance_scale"]),
                            ("sigma_const", noi["constant_scale"]),
                            ("sigma_prop", noi["proportional_scale"])):
            out += stats.halfnorm.logpdf(th[name], scale=scale)
        return out

    def model_logp(th):
        hyp = gen.preset["hyperpriors"]
        z = (np.log(th["smoothness"]) - hyp["smoothness_log_median"]) / hyp["smoothness_log_sd"]
        point = {"smoothness_z": np.array([z]), "f_group": th["f"][None, :]}
        for name in ("r_inf_rel", "l_rel", "elastance_rel", "sigma_const", "sigma_prop"):
            point[f"{name}_log__"] = np.log([th[name]])
        assert set(point) == {v.name for v in model.value_vars}
        return float(logp(point))

    rng = np.random.default_rng(1)
    diffs = [model_logp(th) - gen_logp(th) for th in (gen.draw_prior(rng) for _ in range(4))]
    assert np.ptp(diffs) < 1e-6, diffs


@pytest.mark.slow  # ~25 s: PyMC builds the prior sampler
def test_soc_prior_matches_prior_predictive():
    """The SOC generator's simulated pulse means have the same distribution as pulse means built
    from PyMC prior draws of the model's stored parameters (level prior mean 0), compared by
    quantiles at three SOCs (2000 draws each: the 5-95 % quantiles agree to ~0.15).

    The model samples partially non-centred coordinates (``wiggle_t``, ``cell_t``) with
    data-dependent weights; ``wiggle_z`` and ``cell_z`` are computed back from them. This checks
    that their implied prior is the generator's (standard normal z), i.e. that the
    reparameterisation left the model unchanged, for weights strictly between 0 and 1.
    """
    import pymc as pm

    from drtbayes.compare import _build_model, _centring_weights, _zero_sum_basis

    gen = sbc.SocGenerator()
    n_obs = gen.pulse_soc.size
    u, sv, vt = np.linalg.svd(gen.rw2, full_matrices=False)
    obs = {"y": gen.simulate(gen.draw_prior(np.random.default_rng(9)), np.random.default_rng(9)),
           "y_sd": gen.y_sd, "obs_mask": np.ones(n_obs), "basis": gen.b_pulse,
           "design_idx": gen.pulse_design.astype("int64"),
           "cell_idx": gen.pulse_cell.astype("int64"), "comp_idx": np.zeros(n_obs, "int64"),
           "level_mu": np.array([0.0]), "greville": gen.g, "wiggle_u": u, "wiggle_s": sv,
           "wiggle_vt": vt, "cell_contrasts": _zero_sum_basis(gen.cell_design_idx, gen.n_designs)}
    obs.update(_centring_weights(obs, gen.n_designs, float(gen.priors["rw2_sd_scale"])))
    # weights strictly inside (0, 1) exercise the partial form (not only its two ends)
    obs["wiggle_w"] = np.clip(obs["wiggle_w"], 0.2, 0.8)
    obs["cell_w"] = np.full_like(obs["cell_w"], 0.5)
    shape = (gen.n_designs, gen.n_designs * gen.n_cells, 1, gen.basis.n_basis)
    model = _build_model(obs, shape, gen.priors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp = pm.sample_prior_predictive(draws=2000, model=model, random_seed=3,
                                        compile_kwargs={"mode": "FAST_COMPILE"})
    prior = pp["prior"]
    rng = np.random.default_rng(5)
    y_pm = np.stack([gen.simulate({k: np.asarray(prior[k].values[0, i]) for k in (
        "level", "trend", "wiggle_z", "rw2_sd", "cell_z", "cell_mean_z", "cell_sd", "extra_sd")},
        rng) for i in range(2000)])
    rng = np.random.default_rng(4)
    y_np = np.stack([gen.simulate(gen.draw_prior(rng), rng) for _ in range(2000)])
    for j in (0, n_obs // 3, n_obs - 1):
        qa = np.quantile(y_pm[:, j], [0.05, 0.25, 0.5, 0.75, 0.95])
        qb = np.quantile(y_np[:, j], [0.05, 0.25, 0.5, 0.75, 0.95])
        assert np.allclose(qa, qb, atol=0.25), (j, qa, qb)
    # and directly: the implied z are standard normal
    wz = np.asarray(prior["wiggle_z"].values).ravel()
    assert abs(wz.mean()) < 0.02 and abs(wz.std() - 1.0) < 0.02


def test_soc_split_dataset_reproduces_summaries():
    from drtbayes.compare import _load_soc_preset, _prepare_data

    gen = sbc.SocGenerator()
    rng = np.random.default_rng(0)
    y = gen.simulate(gen.draw_prior(rng), rng)
    split = gen.split_dataset(y, rng)
    data = _prepare_data(split, ("R2",), _load_soc_preset("soc-spline")[1])
    np.testing.assert_allclose(data.log_mean[:, 0], y, atol=1e-12)
    np.testing.assert_allclose(data.log_sd[:, 0], gen.y_sd, rtol=1e-10)
    assert data.designs == gen.designs and len(data.cells) == gen.n_designs * gen.n_cells


# --------------------------------------------------------------------------------- DRT SBC
TINY = 10.0 ** np.linspace(4, -1, 16)  # 16 frequencies, 3 per decade
FIT = {"chains": 2, "draws": 200, "tune": 300}


@pytest.fixture(scope="module")
def drt_runs():
    gen = sbc.DrtGenerator(TINY)
    good = sbc.run_sbc(gen, 8, seed=11, n_draws=L, n_bins=4, fit_kwargs=FIT)
    # Cauchy noise (Student-t, nu = 1) fitted with the Gaussian likelihood
    bad = sbc.run_sbc(gen, 8, seed=12, n_draws=L, n_bins=4, fit_kwargs=FIT,
                      sim_kwargs={"noise": "student_t", "nu": 1.0})
    return gen, good, bad


def test_drt_sbc_small_run(drt_runs):
    gen, good, bad = drt_runs
    for run in (good, bad):
        assert run["n_replicates"] == 8 and not run["failures"]
        for rec in run["records"]:
            assert set(rec["ranks"]) == set(gen.quantities)
            assert all(0 <= r <= L for r in rec["ranks"].values())
            assert abs(np.log(rec["z_scale"])) < gen.tol  # the scale selection held
    # correct model: with 8 replicates no quantity is flagged at the family-wise 1 % level
    # (p < 0.01 / 10); a calibrated fit fails this with probability <= 1 % over seeds
    s = good["summary"]
    assert not s["any_flagged"], {q: v["p"] for q, v in s["quantities"].items()}


def test_drt_sbc_negative_control_is_flagged(drt_runs):
    gen, good, bad = drt_runs
    s = bad["summary"]
    # Cauchy noise inflates the Gaussian fit's noise sd far above the true scale: the true
    # sigma_const / sigma_prop rank at the very bottom in (nearly) every replicate. All 8 in
    # the lowest of 4 bins has probability 4 / 4**8 = 6e-5 under uniformity.
    noise = [s["quantities"][q] for q in ("sigma_const", "sigma_prop")]
    flagged = [q for q in noise if q["flagged"]]
    assert flagged, [q["counts"] for q in noise]
    assert s["any_flagged"]
    # the flag comes from a shifted histogram (the true value sits at one end of the posterior),
    # not from a chance pile-up in a middle bin
    assert all(abs(q["mean_rank_frac"] - 0.5) > 0.25 for q in flagged)
