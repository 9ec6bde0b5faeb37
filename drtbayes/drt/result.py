"""``DRTResult``: the posterior of a DRT fit as an ArviZ-layout DataTree, summaries and peaks."""

from __future__ import annotations

import json
import math
import os
import warnings
from typing import Any

import numpy as np
import xarray as xr
from scipy.signal import find_peaks, peak_prominences

from ..numerics import cumulative_trapezoid, hdi, parabolic_offset
from ..results.base import ResultBase
from ..results.provenance import stamp
from .kernels import quadrature_weights
from .model import (
    ModelInputs,
    hyperparameters_by_empirical_bayes,
    noise_floor,
    spectrum_log_gamma,
)

__all__ = ["DRTResult", "build_tree", "load_drt", "find_peak_clusters"]

_STAT_KEEP = ("diverging", "depth", "maxdepth_reached", "step_size", "n_steps", "logp",
              "energy", "energy_error", "mean_tree_accept")


#: Posterior predictive check: |standardised residual| beyond which a point is outlying, and
#: the largest accepted mean lag-1 autocorrelation of the residuals along frequency.
PPC_OUTLIER_R = 5.0
PPC_AUTOCORR_MAX = 0.5


# over 80 lines (~120): it assembles the groups of one DataTree in order (posterior, predictive,
# observed, stats); split into helpers it would thread a dozen arrays through each of them
def build_tree(inputs: ModelInputs, preset: dict[str, Any], raw: dict[str, np.ndarray],
               stats: xr.Dataset | None, *, spectrum_labels: list[str],
               spectrum_coords: dict[str, np.ndarray], group_labels: list[str],
               group_design: list[str], group_soc: np.ndarray, seed: int,
               method: str) -> xr.DataTree:
    """Assemble the result DataTree from the draws of the model's variables (scaled units)."""
    zs = inputs.z_scale
    q = quadrature_weights(inputs.tau_s)
    f_spec = spectrum_log_gamma(raw, inputs, preset)  # chain, draw, S, T
    if "r_inf_rel" not in raw:
        raw = {**raw, "r_inf_rel": conditional_r_inf_draws(raw, f_spec, inputs, preset, seed)}
    gamma = zs * np.exp(f_spec)
    gamma_group = zs * np.exp(raw["f_group"])
    n_chain, n_draw, n_spec, _ = gamma.shape
    cd = ("chain", "draw")
    post: dict[str, Any] = {
        "gamma": (cd + ("spectrum", "tau"), gamma,
                  {"units": "ohm", "long_name": "DRT per unit ln tau"}),
        "gamma_group": (cd + ("group", "tau"), gamma_group,
                        {"units": "ohm", "long_name": "design-level DRT of each (design, soc)"}),
        "r_inf": (cd + ("spectrum",), zs * raw["r_inf_rel"], {"units": "ohm"}),
        "r_pol": (cd + ("spectrum",), gamma @ q,
                  {"units": "ohm", "long_name": "integral of gamma d ln tau"}),
        # the part of R_pol the measured window sees (1/w_max <= tau <= 1/w_min); the rest is
        # extrapolated by the prior and, with an open tail, not determined by the data
        "r_pol_window": (cd + ("spectrum",), gamma @ window_weights(inputs),
                         {"units": "ohm", "long_name": "integral of gamma over the measured "
                          "window 1/w_max <= tau <= 1/w_min"}),
        "sigma_const": (cd + ("spectrum",), zs * raw["sigma_const"],
                        {"units": "ohm", "long_name": "constant noise sd"}),
        "sigma_prop": (cd + ("spectrum",), raw["sigma_prop"],
                       {"units": "1", "long_name": "noise sd proportional to |Z|"}),
        "smoothness": (cd + ("group",), np.reshape(raw["smoothness"], (n_chain, n_draw, -1)),
                       {"units": "ln(ohm) per decade^1.5",
                        "long_name": "curvature scale of ln gamma (inferred regularisation)"}),
    }
    if method == "nuts" and hyperparameters_by_empirical_bayes(preset):
        # fixed at the mode of their marginal posterior (fit.py): say so where they are read
        post["smoothness"][2]["inference"] = "empirical Bayes (marginal posterior mode)"
    z_re = zs * (raw["r_inf_rel"][..., None] + np.exp(f_spec) @ inputs.k_real.T)
    z_im = zs * (np.exp(f_spec) @ inputs.k_imag.T)
    omega = 2 * np.pi * inputs.frequency_hz
    if "l_rel" in raw:
        l_h = raw["l_rel"] * zs / inputs.omega_max
        post["l_h"] = (cd + ("spectrum",), l_h, {"units": "H"})
        z_im = z_im + l_h[..., None] * omega
    if "elastance_rel" in raw:
        elast = raw["elastance_rel"] * zs * inputs.omega_min  # 1/C in 1/F
        with np.errstate(divide="ignore"):
            post["c_f"] = (cd + ("spectrum",), 1.0 / elast, {"units": "F"})
        z_im = z_im - elast[..., None] / omega
    if "cell_sd" in raw:
        post["cell_sd"] = (cd + (("group",) if raw["cell_sd"].ndim == 3 else ()),
                           raw["cell_sd"],
                           {"units": "1", "long_name": "sd of a cell's ln gamma deviation"})
        if "inference" in post["smoothness"][2]:
            post["cell_sd"][2]["inference"] = post["smoothness"][2]["inference"]
    if "nu_minus_one" in raw:
        post["nu"] = (cd + (("group",) if raw["nu_minus_one"].ndim == 3 else ()),
                      1.0 + raw["nu_minus_one"], {"long_name": "Student-t dof"})

    # posterior predictive: model impedance plus a noise draw of the fitted noise model
    mask = inputs.mask.astype(bool)
    abs_obs = np.hypot(np.nan_to_num(inputs.z_real), np.nan_to_num(inputs.z_imag))
    floor = noise_floor(preset)
    sigma = (zs * raw["sigma_const"][..., None]
             + (floor + raw["sigma_prop"][..., None]) * abs_obs)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xD27]))
    shape = z_re.shape
    if "nu_minus_one" in raw:
        nu = 1.0 + raw["nu_minus_one"][..., None, None]
        e_re = rng.standard_t(np.broadcast_to(nu, shape))
        e_im = rng.standard_t(np.broadcast_to(nu, shape))
    else:
        e_re = rng.standard_normal(shape)
        e_im = rng.standard_normal(shape)
    pp_re = np.where(mask, z_re + sigma * e_re, np.nan)
    pp_im = np.where(mask, z_im + sigma * e_im, np.nan)

    spec = {"spectrum": np.array(spectrum_labels, dtype=str)}
    for name, vals in spectrum_coords.items():
        arr = np.asarray(vals)
        if arr.dtype.kind in "OUS":
            arr = np.array(["" if v is None else str(v) for v in arr], dtype=str)
        else:
            arr = arr.astype(float)
        spec[name] = ("spectrum", arr)
    spec["spectrum_group"] = ("spectrum", np.array([group_labels[i] for i in
                                                    inputs.group_index], dtype=str))
    base = {"chain": np.arange(n_chain), "draw": np.arange(n_draw)}
    tau_c = ("tau", inputs.tau_s, {"units": "s"})
    freq_c = ("frequency", inputs.frequency_hz, {"units": "Hz"})
    posterior = xr.Dataset(post, coords={
        **base, **spec, "tau": tau_c,
        "group": np.array(group_labels, dtype=str),
        # contract names these design / soc; one Dataset cannot hold two coords of one name
        # on different dims, so they are group_design / group_soc (as bands.py reads them)
        "group_design": ("group", np.array(group_design, dtype=str)),
        "group_soc": ("group", np.asarray(group_soc, dtype=float)),
    })
    pp = xr.Dataset({"z_real": (cd + ("spectrum", "frequency"), pp_re, {"units": "ohm"}),
                     "z_imag": (cd + ("spectrum", "frequency"), pp_im, {"units": "ohm"})},
                    coords={**base, **spec, "frequency": freq_c})
    obs = xr.Dataset({"z_real": (("spectrum", "frequency"), inputs.z_real, {"units": "ohm"}),
                      "z_imag": (("spectrum", "frequency"), inputs.z_imag, {"units": "ohm"})},
                     coords={**spec, "frequency": freq_c})
    groups = {"posterior": posterior, "posterior_predictive": pp, "observed_data": obs}
    if stats is not None:
        # (chain, draw), or (chain, draw, group) when every group was sampled on its own
        keep = {k: stats[k] for k in _STAT_KEEP
                if k in stats and set(stats[k].dims) in ({*cd}, {*cd, "group"})}
        ss = xr.Dataset(
            {k: (tuple(d for d in (*cd, "group") if d in v.dims),
                 np.asarray(v.transpose(*cd, ...).values)) for k, v in keep.items()},
            coords=base)
        if "group" in ss.dims:
            ss = ss.assign_coords(group=np.array(group_labels, dtype=str))
        groups["sample_stats"] = ss
    tree = xr.DataTree.from_dict(groups)
    # input_sha256 and created_utc are stamped again by fit_drt once the inputs are hashed
    stamp(tree.attrs, kind="drt_fit", seed=seed, method=method,
          preset=str(preset.get("name", "")), preset_toml=str(preset.get("preset_toml", "")))
    tree.attrs["z_scale_ohm"] = float(zs)
    return tree



def conditional_r_inf_draws(raw: dict[str, np.ndarray], f_spec: np.ndarray,
                            inputs: ModelInputs, preset: dict[str, Any],
                            seed: int) -> np.ndarray:
    """One draw of R_inf (scaled) from its exact conditional for every posterior draw.

    Where the model integrates R_inf out (:func:`~drtbayes.drt.model.r_inf_marginalised`),
    its conditional given the other variables is N(b / p, 1 / p) truncated to >= 0
    (:func:`~drtbayes.drt.model.r_inf_conditional`); a draw from it for each draw of the rest
    is a draw of the joint posterior. Seeded by ``seed``: same seed, same numbers.
    """
    from scipy.stats import truncnorm

    from .model import r_inf_conditional

    vals = inputs.data_values()
    floor = noise_floor(preset)
    sigma = (raw["sigma_const"][..., None]
             + (floor + raw["sigma_prop"][..., None]) * vals["abs_z_obs"])
    resid = vals["z_real_obs"] - np.exp(f_spec) @ inputs.k_real.T
    p, b = r_inf_conditional(resid, sigma, vals["obs_mask"],
                             float(preset["priors"]["r_inf_scale"]))
    mean, sd = b / p, 1.0 / np.sqrt(p)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x41F]))
    return truncnorm.rvs(-mean / sd, np.inf, loc=mean, scale=sd, size=mean.shape,
                         random_state=rng)


def window_weights(inputs: ModelInputs) -> np.ndarray:
    """Quadrature weights of gamma over the measured window only (1/w_max <= tau <= 1/w_min)."""
    from .kernels import window_quadrature_weights

    return window_quadrature_weights(inputs.tau_s, inputs.omega_max, inputs.omega_min)


# --------------------------------------------------------------------------- peaks
def _draw_peaks(g: np.ndarray, ln_tau: np.ndarray, rel_prom: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of one draw: log10 tau (parabolic refinement in ln gamma) and resistance (ohm).

    The resistance of a peak is the integral of gamma between the minima that bound it (the
    grid ends for the outermost peaks).
    """
    top = float(g.max())
    if not np.isfinite(top) or top <= 0:
        return np.zeros(0), np.zeros(0)
    idx, _ = find_peaks(g, prominence=rel_prom * top)
    if idx.size == 0:
        return np.zeros(0), np.zeros(0)
    # bounding minima: argmin of gamma between consecutive peaks
    bounds = [0]
    for a, b in zip(idx[:-1], idx[1:], strict=True):
        bounds.append(a + int(np.argmin(g[a:b + 1])))
    bounds.append(g.size - 1)
    cum = cumulative_trapezoid(g, ln_tau)
    r = np.array([cum[bounds[i + 1]] - cum[bounds[i]] for i in range(idx.size)])
    lg = np.log(np.maximum(g, 1e-300))
    pos = ln_tau[idx].copy()
    inner = (idx > 0) & (idx < g.size - 1)
    i = idx[inner]
    den = lg[i - 1] - 2 * lg[i] + lg[i + 1]
    # a maximum only where ln gamma curves down
    shift = np.where(den < 0, parabolic_offset(lg[i - 1], lg[i], lg[i + 1]), 0.0)
    pos[inner] += shift * (ln_tau[1] - ln_tau[0])
    return pos / np.log(10.0), r


def _all_draw_peaks(gd: np.ndarray, ln_tau: np.ndarray, rel_prom: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_draw_peaks` of every row of ``gd`` (draw, tau) at once: (log10 tau, ohm, draw).

    Bit-identical to calling :func:`_draw_peaks` draw by draw (``tests/test_drt_peaks.py``
    compares them): the valid draws are laid end to end with a ``+inf`` between them, where
    ``find_peaks``' search for local maxima and its prominence walks stop exactly as at the
    end of an array; the separators themselves are dropped. Draws whose maximum is not
    finite and positive have no peaks (as in :func:`_draw_peaks`).
    """
    empty = (np.zeros(0), np.zeros(0), np.zeros(0, dtype=int))
    n = gd.shape[1]
    if n == 0:
        return empty
    top = gd.max(axis=1)
    rows = np.flatnonzero(np.isfinite(top) & (top > 0))
    if rows.size == 0:
        return empty
    g, top = gd[rows], top[rows]
    buf = np.full((rows.size, n + 1), np.inf)
    buf[:, :n] = g
    flat = np.concatenate([[np.inf], buf.ravel()])
    idx, _ = find_peaks(flat)
    row, col = np.divmod(idx - 1, n + 1)
    keep = col < n  # not a separator (its prominence walk would cross the whole array)
    idx, row, col = idx[keep], row[keep], col[keep]
    keep = rel_prom * top[row] <= peak_prominences(flat, idx)[0]
    row, col = row[keep], col[keep]
    if row.size == 0:
        return empty
    # bounding minima: the first argmin of gamma between consecutive peaks of a draw
    same = row[1:] == row[:-1]
    a, b, pr = col[:-1][same], col[1:][same], row[1:][same]
    j = np.arange(n)
    seg = np.where((j >= a[:, None]) & (j <= b[:, None]), g[pr], np.inf)
    mins = np.argmin(seg, axis=1)
    left = np.zeros(row.size, dtype=int)
    right = np.full(row.size, n - 1)
    left[1:][same] = mins
    right[:-1][same] = mins
    cum = cumulative_trapezoid(g, ln_tau)
    r = cum[row, right] - cum[row, left]
    pos = ln_tau[col].copy()
    inner = (col > 0) & (col < n - 1)
    ri, i = row[inner], col[inner]
    l0, l1, l2 = (np.log(np.maximum(g[ri, i + k], 1e-300)) for k in (-1, 0, 1))
    den = l0 - 2 * l1 + l2
    # a maximum only where ln gamma curves down
    shift = np.where(den < 0, parabolic_offset(l0, l1, l2), 0.0)
    pos[inner] += shift * (ln_tau[1] - ln_tau[0])
    return pos / np.log(10.0), r, rows[row]


def _stat(x: np.ndarray) -> dict[str, Any]:
    x = np.asarray(x, dtype=float).ravel()
    return {"median": float(np.median(x)), "hdi95": hdi(x)}


def find_peak_clusters(gamma_draws: np.ndarray, tau_s: np.ndarray, *, rel_prominence: float = 0.05,
                       cluster_width_decades: float = 0.5, min_probability: float = 0.5
                       ) -> list[dict[str, Any]]:
    """Return the processes (peaks) of a DRT posterior, fastest first.

    Peaks are found in every draw as local maxima of gamma whose prominence is at least
    ``rel_prominence`` of the draw's maximum; peaks of different draws are matched by
    clustering in log10 tau (modes of the smoothed histogram of all draws' peak positions,
    each peak going to the nearest mode within ``cluster_width_decades``/2). A cluster is
    reported when more than ``min_probability`` of the draws have a peak in it.

    Parameters
    ----------
    gamma_draws
        (draw, tau) in ohm per unit ln tau.
    tau_s
        Tau grid (s, ascending).

    Returns
    -------
    list of dict
        ``tau_s`` and ``r_ohm`` (each ``{"median", "hdi95"}``) and ``probability``.
    """
    ln_tau = np.log(np.asarray(tau_s, dtype=float))
    gd = np.asarray(gamma_draws, dtype=float)
    n_draws = len(gd)
    if n_draws == 0:
        return []
    pos, res, drw = _all_draw_peaks(gd, ln_tau, rel_prominence)
    if pos.size == 0:
        return []
    lt = ln_tau / np.log(10.0)
    edges = np.arange(lt[0] - 0.025, lt[-1] + 0.05, 0.05)
    hist, _ = np.histogram(pos, bins=edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    ker = np.exp(-0.5 * (np.arange(-6, 7) * 0.05 / 0.1) ** 2)
    smooth = np.convolve(hist, ker / ker.sum(), mode="same")
    modes, _ = find_peaks(np.pad(smooth, 1), prominence=0.02 * n_draws)
    modes = centres[modes - 1]
    if modes.size == 0:
        return []
    nearest = np.argmin(np.abs(pos[:, None] - modes[None, :]), axis=1)
    near_ok = np.abs(pos - modes[nearest]) <= cluster_width_decades / 2
    out = []
    for k, m in enumerate(modes):
        sel = near_ok & (nearest == k)
        if not sel.any():
            continue
        # one peak per draw and cluster: the one with the largest resistance (the first of
        # equal ones); lexsort is stable, so this is the per-draw loop's choice
        ps_k, rs_k, d_k = pos[sel], res[sel], drw[sel]
        order = np.lexsort((-rs_k, d_k))
        d_sorted = d_k[order]
        pick = order[np.concatenate([[True], d_sorted[1:] != d_sorted[:-1]])]
        prob = pick.size / n_draws
        if prob <= min_probability:
            continue
        ps, rs = ps_k[pick], rs_k[pick]
        tau_stat = _stat(10.0 ** ps)
        out.append({"tau_s": tau_stat, "r_ohm": _stat(rs), "probability": round(prob, 4),
                    "log10_tau_median": float(np.median(ps))})
    out.sort(key=lambda c: c["log10_tau_median"])
    for c in out:
        c.pop("log10_tau_median")
    return out


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# --------------------------------------------------------------------------- result
class DRTResult(ResultBase):
    """Result of :func:`drtbayes.fit_drt`: the posterior DataTree and what is derived from it.

    Parameters
    ----------
    data
        ArviZ-layout DataTree (``posterior``, ``posterior_predictive``, ``observed_data``,
        ``sample_stats``) with root attrs ``drtbayes_kind="drt_fit"`` etc.
    """

    kind = "drt_fit"

    def __repr__(self) -> str:
        """Describe the method, preset and sizes of the fit."""
        p = self.posterior
        return (f"DRTResult(method={self.method!r}, preset={self.tree.attrs.get('preset')!r}, "
                f"spectra={p.sizes.get('spectrum', 0)}, chains={p.sizes.get('chain')}, "
                f"draws={p.sizes.get('draw')}, tau={p.sizes.get('tau')})")

    # ------------------------------------------------------------------ views
    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset (labels included; ArviZ reads it too)."""
        return self._group_view("posterior")

    @property
    def tau(self) -> np.ndarray:
        """Tau grid, s (ascending)."""
        return np.asarray(self.tree["posterior"]["tau"].values, dtype=float)

    @property
    def method(self) -> str:
        """``nuts`` or ``laplace``."""
        return str(self.tree.attrs.get("method", ""))

    @property
    def diagnostics(self) -> dict[str, dict[str, Any]]:
        """Per spectrum: ``rhat_max``, ``ess_bulk_min``, ``divergences``, ``gate_pass``."""
        return super().diagnostics

    @property
    def spectra(self) -> list[str]:
        """Spectrum labels."""
        return [str(s) for s in self.tree["posterior"]["spectrum"].values]

    # ------------------------------------------------------------------ diagnostics
    def _group_of_spectrum(self) -> list[int]:
        """Position on the ``group`` dim of each spectrum's (design, SOC) group."""
        post = self.posterior
        if "group" not in post.coords or "spectrum_group" not in post.coords:
            return [0] * len(self.spectra)
        groups = [str(g) for g in post["group"].values]
        return [groups.index(str(g)) for g in post["spectrum_group"].values]

    def apply_gate(self) -> bool:
        """Compute per-spectrum diagnostics and apply the one gate; True when all pass.

        The diagnostics are stored in ``attrs["diagnostics"]``; a failure warns
        (:class:`~drtbayes.errors.SamplingWarning`).
        """
        import tomllib

        from ..inference import chain_diagnostics, gate

        post = self.posterior
        try:
            th = tomllib.loads(self.tree.attrs.get("preset_toml", "")).get("gate", {})
        except tomllib.TOMLDecodeError:
            th = {}
        group_of = self._group_of_spectrum()
        diverging = None
        if "sample_stats" in self.tree.children and "diverging" in self.tree["sample_stats"]:
            diverging = self.tree["sample_stats"]["diverging"]
        diag: dict[str, dict[str, Any]] = {}
        for i, lab in enumerate(self.spectra):
            # hyperparameters (shared, or of this spectrum's group when fitted per group)
            shared = []
            for v in ("smoothness", "cell_sd", "nu"):
                if v in post:
                    shared.append(post[v].values[:, :, group_of[i]] if "group" in post[v].dims
                                  else post[v].values)
            div = 0
            if diverging is not None:
                d = (diverging.isel(group=group_of[i]) if "group" in diverging.dims
                     else diverging)
                div = int(np.asarray(d.values).sum())
            arrays = [np.log(np.maximum(post["gamma"].values[:, :, i], 1e-300))]
            for v in ("r_inf", "r_pol", "l_h", "sigma_const", "sigma_prop"):
                if v in post:
                    arrays.append(post[v].values[:, :, i])
            if "c_f" in post:
                with np.errstate(divide="ignore"):
                    arrays.append(1.0 / post["c_f"].values[:, :, i])
            rhat, ess = chain_diagnostics(arrays + shared)
            diag[lab] = {"rhat_max": round(rhat, 4), "ess_bulk_min": round(ess, 1),
                         "divergences": div}
        ok = gate(diag, th)
        self.tree.attrs["diagnostics"] = json.dumps(_json_safe(diag))
        return ok

    # ------------------------------------------------------------------ summaries
    def summary(self) -> Any:
        """Tidy table: one row per spectrum and quantity (``r_inf``, ``r_pol``, ``l``, ``c``).

        Returns
        -------
        pandas.DataFrame
            Columns ``spectrum``, ``design``, ``cell``, ``soc``, ``quantity``, ``units``,
            ``median``, ``hdi95_lo``, ``hdi95_hi``, ``n_peaks``, ``rhat_max``,
            ``ess_bulk_min``, ``divergences``, ``gate_pass``, ``method``. The nested dict
            (peaks with their intervals, the PPC) is :meth:`summary_dict`.
        """
        import pandas as pd

        post = self.tree["posterior"]
        units = {"r_inf": "ohm", "r_pol": "ohm", "l": "H", "c": "F"}
        rows = []
        for i, (lab, entry) in enumerate((k, v) for k, v in self.summary_dict().items()
                                         if not k.startswith("_")):
            meta = {c: post[c].values[i].item() for c in ("design", "cell", "soc")
                    if c in post.coords and post[c].dims == ("spectrum",)}
            d = entry["diagnostics"]
            for q, u in units.items():
                if entry.get(q) is None:
                    continue
                rows.append({"spectrum": lab, **meta, "quantity": q, "units": u,
                             "median": entry[q]["median"], "hdi95_lo": entry[q]["hdi95"][0],
                             "hdi95_hi": entry[q]["hdi95"][1], "n_peaks": len(entry["peaks"]),
                             "rhat_max": d.get("rhat_max"), "ess_bulk_min": d.get("ess_bulk_min"),
                             "divergences": d.get("divergences"), "gate_pass": d.get("gate_pass"),
                             "method": self.method})
        return pd.DataFrame(rows)

    def summary_dict(self) -> dict[str, Any]:
        """Per spectrum: r_inf, r_pol, l, c (median and 95 % HDI), peaks, diagnostics, wall_s.

        Returns
        -------
        dict
            Spectrum label -> entry; plus ``_method`` and ``_preset`` (strings). ``l`` / ``c``
            are None when the preset switches them off.
        """
        import tomllib

        post = self.posterior
        try:
            pk = tomllib.loads(self.tree.attrs.get("preset_toml", "")).get("peaks", {})
        except tomllib.TOMLDecodeError:
            pk = {}
        diag = self.diagnostics
        ppc = json.loads(self.tree.attrs.get("ppc", "{}") or "{}")
        trust = json.loads(self.tree.attrs.get("trust", "{}") or "{}")
        timing = json.loads(self.tree.attrs.get("timing", "{}") or "{}")
        n_spec = len(self.spectra)
        wall = timing.get("wall_s")
        out: dict[str, Any] = {"_method": self.method,
                               "_preset": str(self.tree.attrs.get("preset", ""))}
        tau = self.tau
        for i, lab in enumerate(self.spectra):
            g = post["gamma"].values[:, :, i].reshape(-1, tau.size)
            entry: dict[str, Any] = {
                "r_inf": _stat(post["r_inf"].values[:, :, i]),
                "r_pol": _stat(post["r_pol"].values[:, :, i]),
                "r_pol_window": (_stat(post["r_pol_window"].values[:, :, i])
                                 if "r_pol_window" in post else None),
                "l": _stat(post["l_h"].values[:, :, i]) if "l_h" in post else None,
                "c": self._c_stat(i) if "c_f" in post else None,
                "peaks": find_peak_clusters(
                    g, tau, rel_prominence=float(pk.get("rel_prominence", 0.05)),
                    cluster_width_decades=float(pk.get("cluster_width_decades", 0.5)),
                    min_probability=float(pk.get("min_probability", 0.5))),
                "diagnostics": diag.get(lab, {"rhat_max": None, "ess_bulk_min": None,
                                              "divergences": None, "gate_pass": None}),
                "ppc": ppc.get(lab),
                "trust": trust.get(lab),
                "method": self.method,
                "wall_s": None if wall is None else round(float(wall) / n_spec, 3),
            }
            tv = trust.get(lab) or {}
            if "bulk_circuit" in tv:
                # a blocking electrode: the DRT's R_pol is the grid's end, not the cell's
                # (drtbayes.drt.blocking); the bulk resistance is what the spectrum gives
                entry["r_pol"] = None
                entry["r_pol_window"] = None
                entry["bulk_circuit"] = tv["bulk_circuit"]
            out[lab] = entry
        return out

    def posterior_predictive_check(self, *, outlier_r: float = PPC_OUTLIER_R,
                                   autocorr_max: float = PPC_AUTOCORR_MAX,
                                   warn: bool = True) -> dict[str, dict[str, Any]]:
        """Posterior predictive check of every spectrum: outlying points and systematic misfit.

        Each observed point is standardised against its posterior predictive distribution,
        r = (observed - median) / (half the central 68 % width), separately for Z' and Z''.
        A point is outlying when |r| > ``outlier_r``; a misfit along the sweep (drift, a
        process the model cannot represent) shows as a mean lag-1 autocorrelation of r along
        frequency above ``autocorr_max`` (independent residuals: sd ~ 1/sqrt(n)).

        Returns
        -------
        dict
            Spectrum label -> ``outlying_frequencies_hz`` (list), ``autocorr`` (float),
            ``flagged`` (bool). Stored in ``tree.attrs["ppc"]`` and in :meth:`summary`.

        Warns
        -----
        DataWarning
            For every flagged spectrum (``warn=True``).
        """
        from ..errors import DataWarning

        pp = self.tree["posterior_predictive"]
        obs = self.tree["observed_data"]
        freq = np.asarray(obs["frequency"].values, dtype=float)
        out: dict[str, dict[str, Any]] = {}
        for i, lab in enumerate(self.spectra):
            outlying: set[int] = set()
            ac = []
            for part in ("z_real", "z_imag"):
                o = np.asarray(obs[part].values, dtype=float)[i]
                d = np.asarray(pp[part].values, dtype=float)[:, :, i].reshape(-1, freq.size)
                ok = np.isfinite(o) & np.all(np.isfinite(d), axis=0)
                q16, q50, q84 = np.quantile(d[:, ok], [0.16, 0.5, 0.84], axis=0)
                r = (o[ok] - q50) / np.maximum(0.5 * (q84 - q16), 1e-300)
                idx = np.flatnonzero(ok)
                outlying.update(int(idx[k]) for k in np.flatnonzero(np.abs(r) > outlier_r))
                if r.size > 3 and np.std(r) > 0:
                    ac.append(float(np.corrcoef(r[:-1], r[1:])[0, 1]))
            autocorr = float(np.mean(ac)) if ac else float("nan")
            flagged = bool(outlying) or (np.isfinite(autocorr) and autocorr > autocorr_max)
            out[lab] = {"outlying_frequencies_hz": [float(freq[k]) for k in sorted(outlying)],
                        "autocorr": round(autocorr, 3), "flagged": flagged}
            if flagged and warn:
                why = []
                if outlying:
                    why.append(f"{len(outlying)} point(s) outside the posterior predictive "
                               f"(|r| > {outlier_r:g}) at "
                               + ", ".join(f"{freq[k]:.4g}" for k in sorted(outlying)[:5])
                               + " Hz")
                if np.isfinite(autocorr) and autocorr > autocorr_max:
                    why.append(f"residuals correlated along the sweep (lag-1 {autocorr:.2f} > "
                               f"{autocorr_max:g}: drift or a process the model lacks)")
                warnings.warn(f"{lab}: posterior predictive check failed: " + "; ".join(why)
                              + ". Check the measurement (KK residuals), drop the bad points "
                              "or use the drt-robust preset.", DataWarning, stacklevel=2)
        self.tree.attrs["ppc"] = json.dumps(_json_safe(out))
        return out

    def _c_stat(self, i: int) -> dict[str, Any]:
        c = self.posterior["c_f"].values[:, :, i].ravel()
        with np.errstate(divide="ignore"):
            el = 1.0 / c
        lo, hi = hdi(el)
        # HDI of the elastance 1/C (finite, includes 0 = "no capacitor"), mapped back to C
        with np.errstate(divide="ignore"):
            return {"median": float(np.median(c)),
                    "hdi95": [1.0 / hi if hi > 0 else math.inf, 1.0 / lo if lo > 0 else math.inf]}

    def to_json_summary(self) -> dict[str, Any]:
        """:meth:`summary` with non-finite numbers as null, ready for ``json.dumps``."""
        return _json_safe(self.summary_dict())



def load_drt(path: str | os.PathLike) -> DRTResult:
    """Read a DRT fit written by :meth:`DRTResult.save` (kind, schema and version checked)."""
    return DRTResult.load(path)  # type: ignore[return-value]
