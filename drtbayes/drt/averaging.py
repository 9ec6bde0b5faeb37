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
from ..progress import activity

__all__ = ["OPEN_TAIL_REACTANCE", "OPEN_TAIL_C_SHARE", "low_frequency_end", "open_tail",
           "stacking_weight", "loo_pointwise", "average_with_and_without_capacitance"]


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


#: ``series_capacitance = "auto"`` mixes in the fit without C where the low-frequency end is
#: open and C is used there: -Z'' at the lowest point at least OPEN_TAIL_REACTANCE of the
#: largest -Z'' (a closed arc falls to a few per cent), and the fitted C carrying at least
#: OPEN_TAIL_C_SHARE of that point's -Z'' (posterior median of 1/(w_min C)). Where the C
#: carries nothing the with-C fit already gives the tail to the DRT and a second fit would
#: change nothing.
OPEN_TAIL_REACTANCE = 0.1
OPEN_TAIL_C_SHARE = 0.05
#: stacking weight below which a model that could not be sampled does not matter: fewer of
#: its draws than the 2.5 % tail of an interval
NEGLIGIBLE_WEIGHT = 0.025


def low_frequency_end(result: Any, i: int) -> dict[str, float]:
    """How open spectrum ``i``'s low-frequency end is, and how much of it the series C carries.

    Returns ``reactance_ratio`` (-Z'' at the lowest measured frequency over the largest -Z'')
    and ``c_share`` (posterior median of 1/(w_min C) over that point's -Z''); both 0 when the
    lowest point's -Z'' is not positive (an inductive or noisy end: no open capacitive tail),
    ``c_share`` 0 when the model has no C.
    """
    obs = result.tree["observed_data"].to_dataset().isel(spectrum=i)
    f = np.asarray(obs["frequency"].values, dtype=float)
    zi = np.asarray(obs["z_imag"].values, dtype=float)
    ok = np.isfinite(zi)
    out = {"reactance_ratio": 0.0, "c_share": 0.0}
    if not ok.any():
        return out
    j = int(np.argmin(np.where(ok, f, np.inf)))
    reactance = -zi[j]
    if not reactance > 0:
        return out
    out["reactance_ratio"] = float(reactance / np.nanmax(-zi[ok]))
    post = result.posterior
    if "c_f" in post:
        with np.errstate(divide="ignore"):
            c_part = 1.0 / (2 * np.pi * f[j] * post["c_f"].values[:, :, i])
        out["c_share"] = float(np.median(c_part) / reactance)
    return out


def open_tail(end: dict[str, float]) -> bool:
    """Whether :func:`low_frequency_end`'s figures call for the fit without C."""
    return (end["reactance_ratio"] >= OPEN_TAIL_REACTANCE
            and end["c_share"] >= OPEN_TAIL_C_SHARE)


# over 80 lines by its docstring (the body is one stacking of two fits)
def average_with_and_without_capacitance(fit: Any, spectra: Any, preset: dict[str, Any],
                                         seed: int, *, only_open_tails: bool = False,
                                         **kwargs: Any) -> Any:
    """Fit ``spectra`` with and without C and mix the posteriors per spectrum by stacking.

    Parameters
    ----------
    fit
        :func:`drtbayes.drt.fit_drt` (passed in so that this module does not import the fit).
    spectra, seed, kwargs
        As for ``fit``.
    preset
        The preset dict (``[model] series_capacitance = "average"`` or ``"auto"``).
    only_open_tails
        Fit without C only when some spectrum has an open low-frequency end that its with-C
        fit gives to C (:func:`open_tail`), and mix only those spectra; the others keep the
        with-C posterior (weight 1). ``attrs["averaging"]`` records every spectrum's figures.

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
    ends = [{k: round(v, 4) for k, v in low_frequency_end(res_c, i).items()}
            for i in range(len(res_c.spectra))]
    mixed = [not only_open_tails or open_tail(e) for e in ends]
    if not any(mixed):
        tree = res_c.tree.copy(deep=True)
        tree.attrs["averaging"] = json.dumps({
            lab: {**e, "weight_with_c": 1.0, "mixed": False}
            for lab, e in zip(res_c.spectra, ends, strict=True)})
        return type(res_c)(tree)
    with activity("the fit without series C (open low-frequency tail)"):
        res_n = fit(spectra, _no_c_preset(preset), seed=seed, **kwargs)
    tree = res_c.tree.copy(deep=True)
    post_c, post_n = res_c.posterior, res_n.posterior
    n_chain, n_draw = post_c.sizes["chain"], post_c.sizes["draw"]
    # one fit may have been rerun with more draws (drt-single's gate retry): the mixture keeps
    # the with-C fit's layout and takes the other's draws at evenly spread positions
    chain_n = np.arange(n_chain) % post_n.sizes["chain"]
    draw_n = (np.arange(n_draw) * post_n.sizes["draw"]) // n_draw
    rng = derive_rng(seed, 0xAE)
    info: dict[str, Any] = {}
    diag_c, diag_n = res_c.diagnostics, res_n.diagnostics
    diag: dict[str, Any] = {}
    for i, lab in enumerate(res_c.spectra):
        if not mixed[i]:
            info[lab] = {**ends[i], "weight_with_c": 1.0, "mixed": False}
            if lab in diag_c:
                diag[lab] = diag_c[lab]
            continue
        w = stacking_weight(loo_pointwise(res_c, i), loo_pointwise(res_n, i))
        dn = diag_n.get(lab, {})
        if only_open_tails and dn and not dn.get("gate_pass"):
            # the fit without C could not be sampled (on a capacitive diffusion tail its DRT
            # runs into the grid's end): a mixture would carry unreliable draws and fail the
            # gate of a with-C fit that passed. Keep that fit; where the failed alternative
            # carries weight, R_pol past the window is reported as not determined (trust.py)
            info[lab] = {**ends[i], "mixed": False, "weight_with_c": round(w, 4),
                         "without_c_rhat": dn.get("rhat_max"),
                         "r_pol_with_c": float(np.median(post_c["r_pol"].values[:, :, i])),
                         "r_pol_without_c": float(np.median(post_n["r_pol"].values[:, :, i])),
                         "r_pol_determined": bool(w >= 1.0 - NEGLIGIBLE_WEIGHT)}
            if lab in diag_c:
                diag[lab] = diag_c[lab]
            continue
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
                    new = np.asarray(src[name].values)[tuple(sel)][chain_n][:, draw_n]
                elif name == "c_f":
                    new = np.full_like(cur, np.inf)
                else:
                    continue
                mask = take_n.reshape(take_n.shape + (1,) * (cur.ndim - 2))
                arr[tuple(sel)] = np.where(mask, new, cur)
                ds[name] = (ds[name].dims, arr, ds[name].attrs)
            tree[group] = ds
        info[lab] = {
            **ends[i],
            "mixed": True,
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
