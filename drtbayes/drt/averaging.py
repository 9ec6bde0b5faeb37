"""Average the DRT with and without a series capacitance, by stacking of LOO predictions.

At the low-frequency end a series capacitance C and the slow tail of gamma trade against each
other: a spectrum whose slowest process runs past the last measured point is fitted as well by
"C plus a DRT that stops at the window" as by "no C, the DRT's tail carries on". Conditional on
either choice the R_pol interval is tight and, for one of them, wrong (issue 28: a ZARC at 2 s
gave R_pol 172.6 ohm [168.4, 178.6] against the true 185 ohm, C absorbing the tail). Fitting
both and mixing their posteriors by stacking weights (Yao, Vehtari, Simpson and Gelman 2018,
computed from PSIS-LOO point-wise predictive densities) makes that modelling ambiguity part of
the interval: where the data decide (a true capacitor, or a closed arc) one weight goes to ~1
and nothing changes; where they do not, the interval spans both answers.

Preset switch: ``[model] series_capacitance = "average"`` (single-spectrum presets; a
hierarchical fit shares fields across spectra, so mixing per spectrum would break its draws).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..numerics import derive_rng

__all__ = ["stacking_weight", "loo_pointwise", "average_with_and_without_capacitance"]


def loo_pointwise(result: Any, i: int) -> np.ndarray:
    """PSIS-LOO log predictive density of every measured point of spectrum ``i``."""
    from arviz_stats.base import array_stats
    from scipy.special import logsumexp

    from .trust import _model_draws, _pointwise_loglik

    post = result.posterior
    n_total = post.sizes["chain"] * post.sizes["draw"]
    draws = np.unique(np.linspace(0, n_total - 1, min(n_total, 2000)).astype(int))
    z, sd, zo = _model_draws(result, i, draws)
    ok = np.isfinite(zo)
    nu = None
    if "nu" in post:
        nu_all = post["nu"].values
        nu = nu_all.reshape(nu_all.shape[0] * nu_all.shape[1], -1)[:, 0][draws]
    ll = _pointwise_loglik(z[:, ok], sd[:, ok], zo[ok], nu).T       # (point, draw)
    lw, _ = array_stats.psislw(-ll, axis=-1)
    return logsumexp(ll + lw, axis=-1)


def stacking_weight(elpd_a: np.ndarray, elpd_b: np.ndarray) -> float:
    """Stacking weight of model A against B from their point-wise LOO log densities.

    Maximises sum_i log(w exp(a_i) + (1 - w) exp(b_i)) over w in [0, 1] (concave in w).
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    a, b = np.asarray(elpd_a, dtype=float), np.asarray(elpd_b, dtype=float)

    def neg(w: float) -> float:
        w = float(np.clip(w, 1e-12, 1 - 1e-12))
        return -float(np.sum(logsumexp(np.stack([a + np.log(w), b + np.log1p(-w)]), axis=0)))

    best = minimize_scalar(neg, bounds=(0.0, 1.0), method="bounded",
                           options={"xatol": 1e-4})
    w = float(best.x)
    # the ends: minimize_scalar stays inside (0, 1); an end is often the optimum
    for end in (0.0, 1.0):
        if neg(end) <= neg(w):
            w = end
    return w


def _no_c_preset(preset: dict[str, Any]) -> dict[str, Any]:
    import copy

    out = copy.deepcopy(preset)
    out["model"]["series_capacitance"] = False
    # a distinct text: compiled models are cached by the preset's text
    out["preset_toml"] = preset.get("preset_toml", "") + "\n# averaging: fit without series C\n"
    return out


# over 80 lines by its docstring (the body, ~70 lines, is one stacking of two fits)
def average_with_and_without_capacitance(fit: Any, spectra: Any, preset: dict[str, Any],
                                         seed: int, **kwargs: Any) -> Any:
    """Fit ``spectra`` with and without C and mix the posteriors per spectrum by stacking.

    Parameters
    ----------
    fit
        :func:`drtbayes.drt.fit_drt` (passed in so that this module does not import the fit).
    spectra, seed, kwargs
        As for ``fit``.
    preset
        The preset dict (``[model] series_capacitance = "average"``).

    Returns
    -------
    DRTResult
        The with-C fit's tree with, per spectrum, a share (1 - w) of its draws replaced by the
        no-C fit's draws at the same positions (``c_f`` = inf there). ``attrs["averaging"]``
        (JSON): spectrum -> ``{"weight_with_c", "r_pol_with_c", "r_pol_without_c"}``. The
        diagnostics are the worse of the two fits'; the trust verdict is recomputed.
    """
    import copy

    from .trust import assess_trust

    with_c_preset = copy.deepcopy(preset)
    with_c_preset["model"]["series_capacitance"] = True
    res_c = fit(spectra, with_c_preset, seed=seed, **kwargs)
    res_n = fit(spectra, _no_c_preset(preset), seed=seed, **kwargs)
    tree = res_c.tree.copy(deep=True)
    post_c, post_n = res_c.posterior, res_n.posterior
    n_chain, n_draw = post_c.sizes["chain"], post_c.sizes["draw"]
    rng = derive_rng(seed, 0xAE)
    info: dict[str, Any] = {}
    diag_c, diag_n = res_c.diagnostics, res_n.diagnostics
    diag: dict[str, Any] = {}
    for i, lab in enumerate(res_c.spectra):
        w = stacking_weight(loo_pointwise(res_c, i), loo_pointwise(res_n, i))
        take_n = rng.uniform(size=(n_chain, n_draw)) >= w
        for group in ("posterior", "posterior_predictive"):
            ds = tree[group].to_dataset()
            src = (post_n if group == "posterior"
                   else res_n.tree["posterior_predictive"].to_dataset())
            for name in ds.data_vars:
                if "spectrum" not in ds[name].dims:
                    continue
                arr = np.array(ds[name].values)
                axis = ds[name].dims.index("spectrum")
                sel = [slice(None)] * arr.ndim
                sel[axis] = i
                cur = arr[tuple(sel)]
                if name in src:
                    new = np.asarray(src[name].values)[tuple(sel)]
                elif name == "c_f":
                    new = np.full_like(cur, np.inf)
                else:
                    continue
                mask = take_n.reshape(take_n.shape + (1,) * (cur.ndim - 2))
                arr[tuple(sel)] = np.where(mask, new, cur)
                ds[name] = (ds[name].dims, arr, ds[name].attrs)
            tree[group] = ds
        info[lab] = {
            "weight_with_c": round(w, 4),
            "r_pol_with_c": float(np.median(post_c["r_pol"].values[:, :, i])),
            "r_pol_without_c": float(np.median(post_n["r_pol"].values[:, :, i])),
        }
        dc, dn = diag_c.get(lab, {}), diag_n.get(lab, {})
        if dc and dn:
            diag[lab] = {
                "rhat_max": max(dc["rhat_max"], dn["rhat_max"]),
                "ess_bulk_min": min(dc["ess_bulk_min"], dn["ess_bulk_min"]),
                "divergences": dc["divergences"] + dn["divergences"],
                "gate_pass": bool(dc.get("gate_pass")) and bool(dn.get("gate_pass")),
            }
    tree.attrs["averaging"] = json.dumps(info)
    if diag:
        tree.attrs["diagnostics"] = json.dumps(diag)
    timing_c = json.loads(res_c.tree.attrs.get("timing", "{}") or "{}")
    timing_n = json.loads(res_n.tree.attrs.get("timing", "{}") or "{}")
    if "wall_s" in timing_c and "wall_s" in timing_n:
        timing_c["wall_s"] = round(timing_c["wall_s"] + timing_n["wall_s"], 3)
        timing_c["averaged_fits"] = 2
        tree.attrs["timing"] = json.dumps(timing_c)
    out = type(res_c)(tree)
    out.posterior_predictive_check(warn=False)
    assess_trust(out)
    return out
