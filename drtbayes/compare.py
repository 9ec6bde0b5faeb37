"""Compare electrode designs over SOC: SOC-curve model, contrasts, crossover SOC, DRT contrasts.

The GITT split (:func:`drtbayes.split.split_gitt`) gives, for every pulse, a posterior sample of
the resistance components R1 (contact), R2 (charge transfer), R3 (diffusion) and their total.
This module turns those per-pulse posteriors into smooth curves of log resistance against SOC,
one per electrode design, pooling replicate cells, and asks the questions of the paper:

* :func:`contrast`: posterior of ``R_a - R_b`` and ``R_a / R_b`` over SOC and ``P(R_a < R_b)``;
* :func:`crossover`: posterior of the SOC where the two designs' curves cross, with the
  probability that they cross at all inside the measured range and one entry per supported
  crossing;
* :func:`drt_contrast`: the same kind of contrast between the design-level DRTs of a hierarchical
  EIS fit.

The SOC model (preset ``soc-spline``) is, for every design ``d`` and component ``k``::

    log R[d, k](soc) = sum_j B_j(u(soc)) * beta[d, k, j]        u = sqrt(soc) (denser low-SOC knots)
    beta[d, k, :]   = level[d, k] + trend[d, k] * g + rw2_sd[k] * M @ z[d, k, :]
    log R[cell, k]  = log R[design(cell), k] + cell_sd[k] * zc[cell, k]
    mean log R of pulse p ~ StudentT(nu, log R[cell(p), k](soc_p), sqrt(sd_p**2 + extra_sd[k]**2))

where ``B`` is a cubic B-spline basis, ``g`` the Greville abscissae (so ``trend`` is a straight
line in ``u``) and ``M`` maps standard normal second differences to spline coefficients with the
level and trend projected out (a random-walk-2 / P-spline prior whose smoothness ``rw2_sd`` is
inferred). The per-pulse data are the posterior mean and sd of log R from the split (a
measurement-error likelihood); ``extra_sd`` absorbs scatter the split posteriors do not explain.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import tomllib
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from . import __version__
from ._atomic import atomic_write_netcdf
from ._nutpie import compile_model
from ._packed import PACKED_NAME, pack_values, packed_data
from ._threads import one_blas_thread
from .errors import (
    ApproximationWarning,
    ColumnError,
    DataError,
    DataWarning,
    FileFormatError,
    PresetError,
    SamplingWarning,
    TooFewPointsError,
    ValueRangeError,
)
from .inference import finite_difference_hessian

__all__ = [
    "SocModelResult",
    "fit_soc_model",
    "load_soc_model",
    "contrast",
    "crossover",
    "crossover_report",
    "drt_contrast",
    "simulate_split",
    "find_crossings",
    "cluster_crossings",
]

COMPONENTS: tuple[str, ...] = ("R1", "R2", "R3", "total")
DEFAULT_PRESET = "soc-spline"


# --------------------------------------------------------------------------------------------
# preset
# --------------------------------------------------------------------------------------------


def _load_soc_preset(name_or_path: str | os.PathLike = DEFAULT_PRESET) -> tuple[str, dict, str]:
    """Return ``(name, preset dict, full TOML text)`` of a SOC-model preset.

    Looks in ``models/`` at the repository root (development checkout) and in the installed
    ``drtbayes/presets/`` folder; a path to a ``.toml`` file is read as it is. (A stand-in for
    the shared :mod:`drtbayes.presets` loader.)
    """
    candidates: list[Path] = []
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        candidates.append(p)
    else:
        fname = f"{name_or_path}.toml"
        candidates.append(Path(__file__).resolve().parents[1] / "models" / fname)
        try:
            candidates.append(Path(str(resources.files("drtbayes") / "presets" / fname)))
        except (ModuleNotFoundError, TypeError):  # pragma: no cover - odd installs
            pass
    for cand in candidates:
        if cand.is_file():
            text = cand.read_text(encoding="utf-8")
            try:
                preset = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                raise PresetError(f"{cand}: not valid TOML ({exc}); fix the file") from exc
            for section in ("spline", "priors", "data", "sampler", "fast", "gate"):
                if section not in preset:
                    raise PresetError(
                        f"{cand}: section [{section}] missing; copy it from models/soc-spline.toml"
                    )
            return str(preset.get("name", cand.stem)), preset, text
    raise PresetError(
        f"SOC-model preset {str(name_or_path)!r} not found (looked in "
        f"{', '.join(str(c) for c in candidates)}); use 'soc-spline' or a path to a .toml file"
    )


# --------------------------------------------------------------------------------------------
# data: per-pulse posterior summaries of log R
# --------------------------------------------------------------------------------------------


@dataclass
class _SocData:
    """Per-pulse log-resistance summaries and the labels of the study."""

    components: list[str]
    designs: list[str]
    cells: list[str]  # unique cell labels
    cell_design: list[str]  # design of each cell
    pulse_soc: np.ndarray  # (pulse,)
    pulse_design_idx: np.ndarray  # (pulse,)
    pulse_cell_idx: np.ndarray  # (pulse,)
    log_mean: np.ndarray  # (pulse, component), NaN where excluded
    log_sd: np.ndarray  # (pulse, component), NaN where excluded
    excluded: list[dict] = field(default_factory=list)
    design_soc_range: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    input_sha256: str = "{}"


def _coord_strings(split: xr.Dataset, name: str) -> np.ndarray:
    if name not in split.coords and name not in split.data_vars:
        raise ColumnError(
            f"split dataset: coordinate {name!r} on dim 'pulse' missing; the split must carry "
            f"'soc', 'design' and 'cell' per pulse (see docs/architecture.md, split)"
        )
    values = split[name].values
    if values.shape != (split.sizes["pulse"],):
        raise ColumnError(f"split dataset: coordinate {name!r} must be 1-D along 'pulse'")
    return values


def _prepare_data(split: xr.Dataset, components: tuple[str, ...], preset: dict) -> _SocData:
    if not isinstance(split, xr.Dataset):
        raise DataError(
            f"expected a split xr.Dataset (from split_gitt) or a SocModelResult, got "
            f"{type(split).__name__}"
        )
    if "resistance" not in split.data_vars:
        raise ColumnError(
            "split dataset: variable 'resistance' (pulse, component, sample) missing; pass the "
            "output of drtbayes.split_gitt"
        )
    res = split["resistance"]
    for dim in ("pulse", "component", "sample"):
        if dim not in res.dims:
            raise ColumnError(
                f"split dataset: 'resistance' has dims {res.dims}, needs 'pulse', 'component' "
                f"and 'sample'"
            )
    available = [str(c) for c in res["component"].values]
    comps = [str(c) for c in components]
    if not comps:
        raise DataError("components: empty; give at least one of R1, R2, R3, total")
    missing = [c for c in comps if c not in available]
    if missing:
        raise ColumnError(
            f"split dataset: component(s) {missing} not in 'component' coordinate {available}; "
            f"choose from those"
        )
    if len(set(comps)) != len(comps):
        raise DataError(f"components: {comps} contains duplicates; list each component once")
    soc = np.asarray(_coord_strings(split, "soc"), dtype=float)
    design_lab = np.asarray([str(v) for v in _coord_strings(split, "design")])
    cell_lab = np.asarray([str(v) for v in _coord_strings(split, "cell")])

    draws = res.sel(component=comps).transpose("pulse", "component", "sample").values
    draws = np.asarray(draws, dtype=float)
    n_pulse, n_comp, n_sample = draws.shape
    if n_pulse == 0 or n_sample < 2:
        raise TooFewPointsError(
            f"split dataset: {n_pulse} pulses x {n_sample} samples; the SOC model needs pulses "
            f"with at least 2 posterior samples each"
        )
    data_cfg = preset["data"]
    min_frac = float(data_cfg.get("min_valid_fraction", 0.5))
    min_sd = float(data_cfg.get("min_log_sd", 0.005))

    ok = np.isfinite(draws) & (draws > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        logd = np.where(ok, np.log(np.where(ok, draws, 1.0)), np.nan)
    n_ok = ok.sum(axis=-1)
    frac_ok = n_ok / n_sample
    log_mean = np.nanmean(np.where(n_ok[..., None] > 0, logd, 0.0), axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        log_sd = np.nanstd(logd, axis=-1, ddof=1)
    excluded: list[dict] = []
    use = np.ones((n_pulse, n_comp), dtype=bool)
    n_nonpos = 0
    for i in range(n_pulse):
        for k in range(n_comp):
            reason = None
            if not np.isfinite(soc[i]):
                reason = "SOC is NaN or infinite"
            elif frac_ok[i, k] < min_frac:
                reason = (
                    f"only {n_ok[i, k]} of {n_sample} draws finite and positive "
                    f"(< {min_frac:.0%})"
                )
            if reason is not None:
                use[i, k] = False
                excluded.append(
                    {
                        "pulse": int(i),
                        "design": str(design_lab[i]),
                        "cell": str(cell_lab[i]),
                        "component": comps[k],
                        "soc": None if not np.isfinite(soc[i]) else float(soc[i]),
                        "reason": reason,
                    }
                )
            elif n_ok[i, k] < n_sample:
                n_nonpos += int(n_sample - n_ok[i, k])
    if n_nonpos:
        warnings.warn(
            f"split dataset: {n_nonpos} resistance draws were zero, negative or not finite and "
            f"were left out of their pulse's log-R summary (pulses with < {min_frac:.0%} valid "
            f"draws are excluded and recorded in attrs['excluded'])",
            DataWarning,
            stacklevel=3,
        )
    log_mean = np.where(use, log_mean, np.nan)
    log_sd = np.where(use, np.maximum(np.nan_to_num(log_sd, nan=min_sd), min_sd), np.nan)

    designs = list(dict.fromkeys(design_lab.tolist()))
    pairs = list(dict.fromkeys(zip(design_lab.tolist(), cell_lab.tolist(), strict=True)))
    names = [c for _, c in pairs]
    # A cell name reused by two designs ("cell1") must not be pooled into one cell.
    if len(set(names)) != len(names):
        cells = [f"{d}/{c}" for d, c in pairs]
    else:
        cells = names
    pair_idx = {p: j for j, p in enumerate(pairs)}
    cell_idx = np.array([pair_idx[(d, c)] for d, c in zip(design_lab, cell_lab, strict=True)])
    design_idx = np.array([designs.index(d) for d in design_lab])

    min_pulses = int(data_cfg.get("min_pulses_per_design", 5))
    rng_rows = []
    for j, d in enumerate(designs):
        in_d = design_idx == j
        for k, c in enumerate(comps):
            n_used = int(np.sum(use[in_d, k]))
            if n_used < min_pulses:
                raise TooFewPointsError(
                    f"split dataset: design {d!r}, component {c}: {n_used} usable pulses, the "
                    f"SOC model needs at least {min_pulses}; check the split (attrs "
                    f"'fallback_reason') or leave this component out"
                )
        s = soc[in_d & np.isfinite(soc)]
        rng_rows.append([float(s.min()), float(s.max())])
    if np.nanmin(soc) >= np.nanmax(soc):
        raise TooFewPointsError("split dataset: all pulses have the same SOC; need an SOC range")
    if np.nanmin(soc) < -1.0 or np.nanmax(soc) > 101.0:
        raise ValueRangeError(
            f"split dataset: pulse SOC spans {np.nanmin(soc):.3g}..{np.nanmax(soc):.3g}; SOC "
            f"must be in percent 0-100 (a fraction 0-1 must be multiplied by 100)"
        )
    return _SocData(
        components=comps,
        designs=designs,
        cells=cells,
        cell_design=[d for d, _ in pairs],
        pulse_soc=soc,
        pulse_design_idx=design_idx,
        pulse_cell_idx=cell_idx,
        log_mean=log_mean,
        log_sd=log_sd,
        excluded=excluded,
        design_soc_range=np.asarray(rng_rows, dtype=float),
        input_sha256=str(split.attrs.get("input_sha256", "{}")),
    )


# --------------------------------------------------------------------------------------------
# spline basis (plain numpy / scipy)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Basis:
    knots: np.ndarray  # in transformed coordinate u
    degree: int
    spacing: str
    soc_lo: float
    soc_hi: float

    def u(self, soc: np.ndarray) -> np.ndarray:
        soc = np.clip(np.asarray(soc, dtype=float), self.soc_lo, self.soc_hi)
        return np.sqrt(np.maximum(soc, 0.0)) if self.spacing == "sqrt" else soc

    def matrix(self, soc: np.ndarray) -> np.ndarray:
        from scipy.interpolate import BSpline

        u = self.u(soc)
        return BSpline.design_matrix(u, self.knots, self.degree).toarray()

    @property
    def n_basis(self) -> int:
        return len(self.knots) - self.degree - 1

    def greville(self) -> np.ndarray:
        """Greville abscissae, scaled to [-0.5, 0.5] (coefficients = g give a straight line)."""
        p = self.degree
        g = np.array([self.knots[j + 1 : j + p + 1].mean() for j in range(self.n_basis)])
        return (g - g.min()) / (g.max() - g.min()) - 0.5


def _make_basis(soc_lo: float, soc_hi: float, spline_cfg: dict) -> _Basis:
    n_basis = int(spline_cfg.get("n_basis", 20))
    degree = int(spline_cfg.get("degree", 3))
    spacing = str(spline_cfg.get("knot_spacing", "sqrt"))
    if spacing not in ("sqrt", "linear"):
        raise PresetError(f"preset [spline] knot_spacing={spacing!r}; use 'sqrt' or 'linear'")
    if n_basis < degree + 3:
        raise PresetError(f"preset [spline] n_basis={n_basis}; needs at least degree + 3")
    lo = max(soc_lo, 0.0)
    f = np.sqrt if spacing == "sqrt" else (lambda x: x)
    inner = np.linspace(f(lo), f(soc_hi), n_basis - degree + 1)
    knots = np.concatenate([[inner[0]] * degree, inner, [inner[-1]] * degree])
    return _Basis(knots=knots, degree=degree, spacing=spacing, soc_lo=lo, soc_hi=soc_hi)


def _rw2_matrix(greville: np.ndarray) -> np.ndarray:
    """Map ``J-2`` second differences to ``J`` coefficients, level and trend projected out."""
    n = len(greville)
    c2 = np.zeros((n, n - 2))
    for i in range(n - 2):
        # a unit second difference at position i+2 gives a ramp 1, 2, 3, ... after it
        c2[i + 2 :, i] = np.arange(1, n - i - 1)
    x = np.column_stack([np.ones(n), greville])
    proj = np.eye(n) - x @ np.linalg.solve(x.T @ x, x.T)
    return proj @ c2


def _soc_grid(lo: float, hi: float, step: float) -> np.ndarray:
    start = np.ceil(lo / step - 1e-9) * step
    stop = np.floor(hi / step + 1e-9) * step
    grid = np.arange(start, stop + step / 2, step)
    if grid.size < 2:
        grid = np.array([lo, hi])
    return np.round(grid, 6)


# --------------------------------------------------------------------------------------------
# PyMC model, sampling
# --------------------------------------------------------------------------------------------

# the stored parameters (wiggle_z and cell_z are computed from the sampled wiggle_t, cell_t)
_FREE_VARS = (
    "level", "trend", "wiggle_z", "rw2_sd", "cell_z", "cell_mean_z", "cell_sd", "extra_sd"
)
# position of the component axis of each parameter's draws (chain, draw, ...)
_COMP_AXIS = {
    "level": 3, "trend": 3, "wiggle_z": 3, "rw2_sd": 2, "cell_z": 3, "cell_mean_z": 3,
    "cell_sd": 2, "extra_sd": 2,
}
_COMPILED_CACHE: dict[tuple, Any] = {}


def _obs_arrays(data: _SocData, basis: _Basis, k: int) -> dict[str, np.ndarray]:
    """Model data of component ``k``: every pulse's log-R mean and sd, basis rows and labels.

    Pulses without a usable estimate of this component stay in the arrays with ``obs_mask``
    0 (y 0, sd 1), so that every component has the same shapes and one compiled model serves
    them all.
    """
    use = np.isfinite(data.log_mean[:, k])
    return {
        "y": np.where(use, data.log_mean[:, k], 0.0),
        "y_sd": np.where(use, data.log_sd[:, k], 1.0),
        "obs_mask": use.astype(float),
        "basis": basis.matrix(data.pulse_soc),
        "design_idx": data.pulse_design_idx.astype("int64"),
        "cell_idx": data.pulse_cell_idx.astype("int64"),
        "comp_idx": np.zeros(use.size, dtype="int64"),
        "level_mu": np.array([np.mean(data.log_mean[use, k])]),
    }


def _zero_sum_basis(cell_design_idx: np.ndarray, n_design: int) -> np.ndarray:
    """Orthonormal basis (cell, n_cell - n_design) of the cell offsets that sum to zero within
    each design (Helmert contrasts): ``H @ w`` has covariance ``sd**2 * centering``."""
    n_cell = cell_design_idx.size
    cols = []
    for d in range(n_design):
        cells = np.flatnonzero(cell_design_idx == d)
        if cells.size > 1:
            q, _ = np.linalg.qr(np.eye(cells.size) - 1.0 / cells.size)
            block = np.zeros((n_cell, cells.size - 1))
            block[cells] = q[:, :cells.size - 1]
            cols.append(block)
    return np.hstack(cols) if cols else np.zeros((n_cell, 0))


def _centring_weights(obs: dict[str, np.ndarray], n_design: int, rw2_sd_scale: float
                      ) -> dict[str, np.ndarray]:
    """Partial non-centring weights of the spline wiggles and the cell contrasts (numpy).

    Why: the per-pulse data pin most of a design's curve, and there the non-centred form
    (coefficients = rw2_sd x z) makes z and rw2_sd a curved ridge: NUTS needed ~300 leapfrog
    steps per draw on the demo. Fully centred, the rough spline modes and the cell contrasts
    that the data barely see form funnels with their scales instead (divergences). Each
    coefficient c with prior sd s is therefore sampled as ``c = s**(1 - w) * c_t`` with
    ``c_t ~ N(0, s**w)`` (the same model for any w), and ``w = kappa / (1 + kappa)`` with
    ``kappa`` = prior variance / data variance of that coefficient, the choice that makes
    the two independent in a normal-normal model (Papaspiliopoulos, Roberts and Skold 2007).
    kappa comes from a Gaussian version of the model fitted here in closed form: the wiggle
    scale at the mode of its marginal posterior (grid over rw2_sd), the cell contrasts by GLS;
    a contrast within two standard errors of zero counts as zero (its scale may be ~0:
    non-centred), and the cell scale is taken at its 10 % lower bound. On the
    demo: 15-23 steps per draw, no divergences.
    """
    y, w_obs = obs["y"], obs["obs_mask"] / (obs["y_sd"] ** 2 + 0.01**2)
    basis, d_idx, c_idx = obs["basis"], obs["design_idx"], obs["cell_idx"]
    u, sv = obs["wiggle_u"], obs["wiggle_s"]
    h = obs["cell_contrasts"]
    n_mode = u.shape[1]
    fixed = []
    for d in range(n_design):
        m = (d_idx == d).astype(float)
        fixed += [m, m * (basis @ obs["greville"])]
    cells = np.column_stack([(c_idx == c).astype(float) for c in range(h.shape[0])]) @ h
    z = np.zeros((y.size, n_design * n_mode))
    for d in range(n_design):
        m = d_idx == d
        z[m, d * n_mode:(d + 1) * n_mode] = basis[m] @ u
    x = np.column_stack([*fixed, cells, z])
    n_fixed = len(fixed) + cells.shape[1]
    xtwx, xtwy = x.T @ (x * w_obs[:, None]), x.T @ (w_obs * y)
    best = None
    for log_s in np.linspace(np.log(1e-4), np.log(3.0), 60):
        prior_prec = np.concatenate([np.full(n_fixed, 1e-6),
                                     np.tile((np.exp(log_s) * sv) ** -2.0, n_design)])
        chol = np.linalg.cholesky(xtwx + np.diag(prior_prec))
        v = np.linalg.solve(chol, xtwy)
        # Gaussian marginal likelihood up to constants, times the HalfNormal prior of rw2_sd
        # (density of log rw2_sd): with few pulses the likelihood alone can prefer a scale far
        # beyond the prior, which made the wiggles centred where they should not be
        ll = (0.5 * v @ v - np.sum(np.log(np.diag(chol))) + 0.5 * np.sum(np.log(prior_prec))
              - 0.5 * (np.exp(log_s) / rw2_sd_scale) ** 2 + log_s)
        if best is None or ll > best[0]:
            best = (ll, np.exp(log_s), chol)
    _, s_eb, chol = best
    info = np.einsum("ni,n,ni->i", z, w_obs, z).reshape(n_design, n_mode)
    kappa = (s_eb * sv[None, :]) ** 2 * info
    inv_chol = np.linalg.inv(chol)
    cov = inv_chol.T @ inv_chol
    sl = slice(len(fixed), n_fixed)
    est = (cov @ xtwy)[sl]
    se = np.sqrt(np.diag(cov)[sl])
    clear = np.maximum(np.abs(est) - 2.0 * se, 0.0)
    sd_clear = float(np.sqrt(np.mean(clear**2))) if clear.size else 0.0
    # a cell sd estimated from a handful of contrasts is uncertain by a factor of ~3 (with
    # two contrasts its 10 % lower bound is ~0.3 x the estimate): the weight is taken at that
    # lower end, where a centred contrast would meet the funnel (SBC with 15 pulses per cell:
    # divergences in 15 of 50 fits at the estimate itself)
    from scipy.stats import chi2

    n_c = max(clear.size, 1)
    low = float(np.sqrt(chi2.ppf(0.1, n_c) / n_c))
    kappa_c = (low * sd_clear) ** 2 / np.maximum(se, 1e-12) ** 2
    return {"wiggle_w": kappa / (1.0 + kappa), "cell_w": kappa_c / (1.0 + kappa_c)}


def _build_model(obs: dict[str, np.ndarray], shape: tuple[int, int, int, int], priors: dict):
    """PyMC model; data enter as ``pm.Data`` so one compiled model serves same-shape studies.

    The wiggle of each design curve is sampled in the eigenbasis of its random-walk-2 prior
    (``rw2_sd * M @ z == U @ c`` with ``M = U diag(S) V'``, ``c ~ N(0, (rw2_sd S)^2)``) and the
    cell offsets in zero-sum contrasts, both partially non-centred (:func:`_centring_weights`);
    ``wiggle_z`` and ``cell_z`` of the stored posterior are computed back from them exactly.
    """
    import pymc as pm
    import pytensor.tensor as pt

    n_design, n_cell, n_comp, n_basis = shape
    likelihood = str(priors.get("likelihood", "student_t"))
    if likelihood not in ("student_t", "normal"):
        raise PresetError(f"preset [priors] likelihood={likelihood!r}; use 'student_t' or 'normal'")
    with pm.Model() as model:
        data = packed_data(obs)  # one container: compiles faster (see drtbayes._packed)
        y, y_sd, mask, basis = data["y"], data["y_sd"], data["obs_mask"], data["basis"]
        d_idx, c_idx, k_idx = data["design_idx"], data["cell_idx"], data["comp_idx"]
        level_mu, greville = data["level_mu"], data["greville"]
        u, sv, vt = data["wiggle_u"], data["wiggle_s"], data["wiggle_vt"]
        h, w_wig, w_cell = data["cell_contrasts"], data["wiggle_w"], data["cell_w"]

        level = pm.Normal(
            "level", mu=level_mu[None, :], sigma=float(priors["level_sd"]),
            shape=(n_design, n_comp),
        )
        trend = pm.Normal("trend", 0.0, float(priors["trend_sd"]), shape=(n_design, n_comp))
        rw2_sd = pm.HalfNormal("rw2_sd", float(priors["rw2_sd_scale"]), shape=(n_comp,))
        wig_scale = rw2_sd[None, :, None] * sv[None, None, :]          # (design, comp, mode)
        w3 = w_wig[:, None, :]
        wig_t = pm.Normal("wiggle_t", 0.0, wig_scale**w3, shape=(n_design, n_comp, n_basis - 2))
        wig_c = wig_t * wig_scale ** (1.0 - w3)
        cell_sd = pm.HalfNormal("cell_sd", float(priors["cell_sd_scale"]), shape=(n_comp,))
        n_contrast = n_cell - n_design
        wc = w_cell[:, None]
        cell_t = pm.Normal("cell_t", 0.0, cell_sd[None, :] ** wc, shape=(n_contrast, n_comp))
        cell_dev = pt.dot(h, cell_t * cell_sd[None, :] ** (1.0 - wc))   # (cell, comp)
        # prior-only part of the cell offsets: the mean offset of a design's cells
        pm.Normal("cell_mean_z", 0.0, 1.0, shape=(n_design, n_comp))
        extra_sd = pm.HalfNormal("extra_sd", float(priors["extra_noise_scale"]), shape=(n_comp,))
        pm.Deterministic("wiggle_z", pt.tensordot(wig_c / sv[None, None, :], vt,
                                                  axes=[[2], [0]]) / rw2_sd[None, :, None])
        pm.Deterministic("cell_z", cell_dev / cell_sd[None, :])

        # beta: spline of the mean curve of the design's measured cells
        beta = (
            level[:, :, None]
            + trend[:, :, None] * greville[None, None, :]
            + pt.tensordot(wig_c, u, axes=[[2], [1]])
        )
        mu = (basis * beta[d_idx, k_idx]).sum(axis=-1) + cell_dev[c_idx, k_idx]
        sigma = pt.sqrt(y_sd**2 + extra_sd[k_idx] ** 2)
        if likelihood == "student_t":
            dist = pm.StudentT.dist(nu=float(priors.get("student_t_nu", 5.0)), mu=mu,
                                    sigma=sigma)
        else:
            dist = pm.Normal.dist(mu=mu, sigma=sigma)
        # a Potential, not an observed RV: pulses a component lacks are masked out while the
        # shapes stay those of the other components (one compiled model for all)
        pm.Potential("obs", pt.sum(mask * pm.logp(dist, y)))
    return model


def _sample_nuts(
    model, key: tuple, obs: dict, *, draws, tune, chains, seed, target_accept, adaptation
):
    import nutpie

    compiled = _COMPILED_CACHE.get(key)
    if compiled is None:
        compiled = compile_model(model, var_names=list(_FREE_VARS))
        _COMPILED_CACHE[key] = compiled
    else:
        compiled = compiled.with_data(**pack_values(obs))
    trace = nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=min(chains, os.cpu_count() or 1),
        seed=seed,
        save_warmup=False,
        progress_bar=False,
        target_accept=target_accept,
        adaptation=adaptation,
    )
    post = trace["posterior"].to_dataset()
    params = {name: np.asarray(post[name].values) for name in _FREE_VARS}
    stats = trace["sample_stats"].to_dataset() if "sample_stats" in trace.children else None
    return params, stats


_LAPLACE_CACHE: dict[tuple, tuple[Any, ...]] = {}


def _laplace_functions(model, key: tuple) -> tuple[Any, ...]:
    """Compiled (logp, dlogp), the constrained-value map and the start point of a model.

    Compiled once per model structure and data layout (like the NUTS path): later components
    and studies of the same shape only swap the packed data, instead of recompiling three
    functions per component (~3 s each).
    """
    from pymc.blocking import DictToArrayBijection

    cached = _LAPLACE_CACHE.get(key)
    if cached is None:
        value_vars = model.value_vars
        vg = model.logp_dlogp_function(ravel_inputs=True)
        vg.set_extra_values({})
        to_constrained = model.compile_fn(
            model.replace_rvs_by_values([model[name] for name in _FREE_VARS]),
            inputs=value_vars,
            point_fn=False,
            on_unused_input="ignore",
        )
        start = model.initial_point(random_seed=0)
        x0 = DictToArrayBijection.map({v.name: start[v.name] for v in value_vars})
        cached = (vg, to_constrained, x0, model[PACKED_NAME])
        _LAPLACE_CACHE[key] = cached
    return cached


def _sample_laplace(model, obs: dict, key: tuple, *, draws: int, seed: int
                    ) -> tuple[dict, xr.Dataset | None]:
    """MAP plus a Gaussian at the mode in the unconstrained space (Jacobian included)."""
    from pymc.blocking import DictToArrayBijection, RaveledVars
    from scipy.optimize import minimize

    vg, to_constrained, x0, shared = _laplace_functions(model, key)
    shared.set_value(pack_values(obs)[PACKED_NAME])

    def unravel(x):
        return DictToArrayBijection.rmap(RaveledVars(x, x0.point_map_info))

    def neg(x):
        lp, grad = vg(x)
        return -float(lp), -np.asarray(grad, dtype=float)

    # the start point is the prior's centre, whose level is this component's data mean
    start = unravel(x0.data)
    start["level"] = np.broadcast_to(obs["level_mu"][None, :], start["level"].shape).copy()
    x_start = DictToArrayBijection.map(start).data
    opt = minimize(neg, x_start, jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    evals, evecs = np.linalg.eigh(finite_difference_hessian(neg, opt.x))
    if not opt.success or np.any(evals <= 0):
        warnings.warn(
            f"Laplace approximation of the SOC model is unreliable (optimizer: {opt.message}; "
            f"{int(np.sum(evals <= 0))} non-positive Hessian eigenvalues); use NUTS (fast=False)",
            ApproximationWarning,
            stacklevel=3,
        )
    # No direction of the Gaussian wider than sd 2 in the unconstrained space, the width of
    # the widest prior (level_sd, trend_sd = 2; the standard-normal z's; HalfNormal scales
    # ~1.1 in log space). Why: a component the data show flat and alike for both designs (R1)
    # drives the wiggle scale to 0, where log rw2_sd has no curvature; the earlier floor of
    # 1e-8 gave it sd 1e4, exp() overflowed, 95 % of the draws were inf/NaN, and a contrast
    # over them reported a credible difference (P(a better) 0.01-0.03) where there is none.
    evals = np.maximum(evals, 0.25)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((draws, len(opt.x)))
    x_draws = opt.x + (z / np.sqrt(evals)) @ evecs.T
    out = {name: [] for name in _FREE_VARS}
    for x in x_draws:
        vals = to_constrained(**unravel(x))
        for name, v in zip(_FREE_VARS, vals, strict=True):
            out[name].append(np.asarray(v))
    params = {name: np.stack(v)[None, ...] for name, v in out.items()}  # chain of length 1
    bad = [name for name, v in params.items() if not np.all(np.isfinite(v))]
    if bad:  # never pass non-finite draws on: every summary and contrast would be wrong
        from .errors import DrtbayesError

        raise DrtbayesError(f"Laplace draws of the SOC model are not finite ({', '.join(bad)}); "
                            "refit without --fast (NUTS)")
    return params, None


def _cell_centering(cell_design_idx: np.ndarray) -> np.ndarray:
    """Projection removing each design's mean from its cells (block ``I - 11'/n``)."""
    n = len(cell_design_idx)
    same = cell_design_idx[:, None] == cell_design_idx[None, :]
    n_in = same.sum(axis=1)
    return np.eye(n) - same / n_in[:, None]


def _curves_from_params(
    params: dict,
    basis_grid: np.ndarray,
    rw2: np.ndarray,
    g: np.ndarray,
    cell_design_idx: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design and cell log R on the grid, and cell offsets, from coefficient draws (numpy).

    The spline describes the mean curve of a design's measured cells; the cells deviate from
    it by zero-sum offsets, and the design (population) curve lies ``cell_sd / sqrt(n_cells)``
    times a standard normal away from it, which is the same model as iid cell offsets around
    the design curve but samples without the level/offset ridge.
    """
    beta = (
        params["level"][..., None]
        + params["trend"][..., None] * g
        + params["rw2_sd"][:, :, None, :, None]
        * np.einsum("...m,jm->...j", params["wiggle_z"], rw2)
    )
    mean_curve = np.einsum("...j,sj->...s", beta, basis_grid)  # (chain, draw, design, comp, soc)
    n_design = mean_curve.shape[2]
    n_cells = np.bincount(cell_design_idx, minlength=n_design).astype(float)
    centering = _cell_centering(cell_design_idx)
    cell_dev = params["cell_sd"][:, :, None, :] * np.einsum(
        "cj,...jk->...ck", centering, params["cell_z"]
    )
    cell_mean = params["cell_sd"][:, :, None, :] / np.sqrt(n_cells)[:, None] * params["cell_mean_z"]
    log_r = mean_curve - cell_mean[..., None]
    log_r_cell = mean_curve[:, :, cell_design_idx] + cell_dev[..., None]
    cell_offset = cell_dev + cell_mean[:, :, cell_design_idx]
    return log_r, log_r_cell, cell_offset


# --------------------------------------------------------------------------------------------
# diagnostics
# --------------------------------------------------------------------------------------------


_GATED_VARS = ("log_r", "rw2_sd", "cell_sd", "extra_sd")


def _diagnostics(posterior: xr.Dataset, stats: xr.Dataset | None, gate: dict) -> dict:
    """R-hat, bulk ESS and divergences; the gate looks at the curves and the scale parameters.

    The raw spline and cell z-scores are reported (``rhat_max_all``) but not gated: with a few
    hundred of them the maximum R-hat exceeds 1.01 by chance alone at the default draws, while
    the curves built from them (what every answer is computed from) are well converged.
    """
    import arviz_stats as azs

    n_chain = posterior.sizes["chain"]
    out: dict[str, Any] = {"chains": int(n_chain), "draws": int(posterior.sizes["draw"])}
    gated = [v for v in _GATED_VARS if v in posterior]
    everything = [*gated, *(v for v in _FREE_VARS if v in posterior and v not in gated)]
    if n_chain >= 2:
        rhat = azs.rhat(posterior[everything])
        ess = azs.ess(posterior[everything], method="bulk")
        out["rhat_max"] = float(max(float(rhat[v].max()) for v in gated))
        out["ess_bulk_min"] = float(min(float(ess[v].min()) for v in gated))
        out["rhat_max_all"] = float(max(float(rhat[v].max()) for v in everything))
        out["ess_bulk_min_all"] = float(min(float(ess[v].min()) for v in everything))
    else:
        out["rhat_max"] = out["ess_bulk_min"] = None
        out["rhat_max_all"] = out["ess_bulk_min_all"] = None
    div = 0
    if stats is not None and "diverging" in stats:
        div = int(np.asarray(stats["diverging"].values).sum())
    out["divergences"] = div
    rhat_lim = float(gate.get("rhat_max", 1.01))
    ess_lim = float(gate.get("ess_bulk_min", 400))
    problems = []
    if out["rhat_max"] is not None and out["rhat_max"] > rhat_lim:
        problems.append(f"R-hat max {out['rhat_max']:.3f} > {rhat_lim}")
    if out["ess_bulk_min"] is not None and out["ess_bulk_min"] < ess_lim:
        problems.append(f"bulk ESS min {out['ess_bulk_min']:.0f} < {ess_lim:.0f}")
    if div > int(gate.get("max_divergences", 0)):
        problems.append(f"{div} divergent transitions")
    out["gate_pass"] = not problems
    out["problems"] = problems
    return out


# --------------------------------------------------------------------------------------------
# result class
# --------------------------------------------------------------------------------------------


class SocModelResult:
    """Posterior of the SOC-curve model: log resistance against SOC per design and cell.

    Wraps an :class:`xarray.DataTree` (``.tree``) in ArviZ layout:

    * ``posterior``: ``log_r`` (chain, draw, design, component, soc) natural log of ohm;
      ``log_r_cell`` (chain, draw, cell, component, soc); model parameters ``level``,
      ``trend``, ``wiggle_z``, ``rw2_sd``, ``cell_z``, ``cell_sd``, ``extra_sd``.
      Coords: ``soc`` (percent), ``design`` with ``soc_min``/``soc_max`` (measured range),
      ``cell`` with ``design``.
    * ``observed_data``: per-pulse ``log_r_mean``, ``log_r_sd`` (pulse, component), NaN where a
      pulse was excluded, coords ``soc``, ``design``, ``cell``.
    * ``sample_stats`` (NUTS only).
    * root attrs: ``drtbayes_kind="soc_model"``, version, preset, preset_toml, seed, method,
      input_sha256, created_utc, diagnostics (JSON), excluded (JSON).
    """

    def __init__(self, tree: xr.DataTree):
        self.tree = tree

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset."""
        return self.tree["posterior"].to_dataset()

    @property
    def observed(self) -> xr.Dataset:
        """Per-pulse data the model was fitted to."""
        return self.tree["observed_data"].to_dataset()

    @property
    def designs(self) -> list[str]:
        """Design labels."""
        return [str(d) for d in self.tree["posterior"]["design"].values]

    @property
    def components(self) -> list[str]:
        """Modelled components."""
        return [str(c) for c in self.tree["posterior"]["component"].values]

    @property
    def soc(self) -> np.ndarray:
        """SOC grid (percent) of the posterior curves."""
        return np.asarray(self.tree["posterior"]["soc"].values)

    @property
    def method(self) -> str:
        """``nuts`` or ``laplace``."""
        return str(self.tree.attrs.get("method"))

    @property
    def diagnostics(self) -> dict:
        """Sampler diagnostics (R-hat, ESS, divergences, gate)."""
        return json.loads(self.tree.attrs.get("diagnostics", "{}"))

    def measured_range(self, design: str) -> tuple[float, float]:
        """SOC range (percent) covered by a design's pulses."""
        post = self.tree["posterior"]
        _check_design(self, design)
        sel = post["soc_min"].sel(design=design), post["soc_max"].sel(design=design)
        return float(sel[0]), float(sel[1])

    def summary(self) -> dict:
        """A JSON-ready summary: labels, method, diagnostics, exclusions."""
        attrs = self.tree.attrs
        return {
            "kind": "soc_model",
            "method": self.method,
            "seed": int(attrs.get("seed", 0)),
            "preset": str(attrs.get("preset")),
            "designs": self.designs,
            "cells": [str(c) for c in self.tree["posterior"]["cell"].values],
            "components": self.components,
            "soc_grid": [float(self.soc[0]), float(self.soc[-1])],
            "measured_range": {d: list(self.measured_range(d)) for d in self.designs},
            "n_pulses": int(self.tree["observed_data"].sizes["pulse"]),
            "n_excluded": len(json.loads(attrs.get("excluded", "[]"))),
            "diagnostics": self.diagnostics,
        }

    def save(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write to netCDF (h5netcdf) atomically; an existing file only with ``force``."""
        return atomic_write_netcdf(path, self.tree, force=force)

    def __repr__(self) -> str:
        return (
            f"SocModelResult(method={self.method!r}, designs={self.designs}, "
            f"components={self.components}, soc={self.soc[0]:g}..{self.soc[-1]:g})"
        )


def load_soc_model(path: str | os.PathLike) -> SocModelResult:
    """Load a saved :class:`SocModelResult` from netCDF."""
    path = Path(path)
    try:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            tree = tree.load()
    except (OSError, ValueError) as exc:
        raise FileFormatError(f"{path}: cannot be read as a netCDF result ({exc})") from exc
    kind = tree.attrs.get("drtbayes_kind")
    if kind != "soc_model":
        raise FileFormatError(
            f"{path}: drtbayes_kind={kind!r}, expected 'soc_model'; load it with drtbayes.load"
        )
    return SocModelResult(tree)


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------


def fit_soc_model(
    split: xr.Dataset,
    *,
    components: tuple[str, ...] | list[str] = COMPONENTS,
    seed: int = 0,
    fast: bool = False,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    preset: str | os.PathLike = DEFAULT_PRESET,
) -> SocModelResult:
    """Fit smooth curves of log resistance against SOC per design, pooling replicate cells.

    Parameters
    ----------
    split
        GITT split Dataset (``resistance`` (pulse, component, sample) in ohm; pulse coords
        ``soc``, ``design``, ``cell``); several cells concatenated along ``pulse``.
    components
        Components to model (one joint model; they share nothing but the sampler run).
    seed
        Random seed; the same seed gives the same numbers.
    fast
        Use a Laplace approximation (MAP plus a Gaussian in the unconstrained space) instead of
        NUTS; seconds instead of tens of seconds. Warns :class:`ApproximationWarning`.
    draws, tune, chains
        NUTS settings; default from the preset (``[sampler]``; ``[fast] draws`` when ``fast``).
    preset
        Name or path of the SOC-model preset (default ``soc-spline``).

    Returns
    -------
    SocModelResult
        Posterior curves ``log_r`` (chain, draw, design, component, soc) on a grid of
        ``[spline] grid_step_pct`` over the measured SOC range and ``log_r_cell``.

    Raises
    ------
    DataError
        Malformed split (missing variables or coords, too few usable pulses, SOC not percent).
    """
    preset_name, cfg, preset_text = _load_soc_preset(preset)
    data = _prepare_data(split, tuple(components), cfg)
    soc_lo = float(np.nanmin(data.pulse_soc))
    soc_hi = float(np.nanmax(data.pulse_soc))
    with one_blas_thread():  # LAPACK's last bits depend on the thread count (see _threads)
        basis = _make_basis(soc_lo, soc_hi, cfg["spline"])
        g = basis.greville()
        rw2 = _rw2_matrix(g)
        cell_design_idx = np.array([data.designs.index(d) for d in data.cell_design])
        u_w, s_w, vt_w = np.linalg.svd(rw2, full_matrices=False)
        shared = {"greville": g, "wiggle_u": u_w, "wiggle_s": s_w, "wiggle_vt": vt_w,
                  "cell_contrasts": _zero_sum_basis(cell_design_idx, len(data.designs))}
    # One model per component, all of the same shape: nutpie compiles it once and swaps the
    # data; per component the sampler also adapts its step size to that component alone
    # (a joint model needs ~2x longer trajectories, set by its hardest component).
    shape = (len(data.designs), len(data.cells), 1, basis.n_basis)
    priors = cfg["priors"]
    sampler = cfg["sampler"]
    if fast:
        method = str(cfg["fast"].get("method", "laplace"))
        if method != "laplace":
            raise PresetError(f"preset [fast] method={method!r}; only 'laplace' is implemented")
    else:
        method = "nuts"

    def _fit_component(k: int) -> tuple[dict, xr.Dataset | None]:
        obs = {**_obs_arrays(data, basis, k), **shared}
        obs.update(_centring_weights(obs, len(data.designs), float(priors["rw2_sd_scale"])))
        model = _build_model(obs, shape, priors)
        seed_k = int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])
        # the packed data's layout (every array's shape) is part of the compiled model
        layout = tuple(sorted((name, np.shape(v)) for name, v in obs.items()))
        key = (shape, layout, json.dumps(priors, sort_keys=True))
        if fast:
            n_draws = int(draws or cfg["fast"].get("draws", 1000))
            return _sample_laplace(model, obs, key, draws=n_draws, seed=seed_k)
        return _sample_nuts(
            model,
            key,
            obs,
            draws=int(draws or sampler.get("draws", 500)),
            tune=int(tune or sampler.get("tune", 1000)),
            chains=int(chains or sampler.get("chains", 4)),
            seed=seed_k,
            target_accept=float(sampler.get("target_accept", 0.95)),
            adaptation=str(sampler.get("adaptation", "diag")),
        )

    per_comp: list[tuple[dict, xr.Dataset | None]] = []
    with one_blas_thread():  # same seed, same numbers whatever the BLAS thread count
        for k in range(len(data.components)):
            per_comp.append(_fit_component(k))
    if fast:
        warnings.warn(
            "SOC model fitted with a Laplace approximation (fast=True); credible intervals "
            "are approximate, refit without fast for final numbers",
            ApproximationWarning,
            stacklevel=2,
        )
    params = {
        name: np.concatenate([pc[0][name] for pc in per_comp], axis=_COMP_AXIS[name])
        for name in _FREE_VARS
    }
    stats = None
    if per_comp[0][1] is not None:
        stats = xr.concat([pc[1] for pc in per_comp], dim="component", coords="minimal",
                          compat="override", join="override")
        stats = stats.assign_coords(component=data.components)

    grid = _soc_grid(soc_lo, soc_hi, float(cfg["spline"].get("grid_step_pct", 1.0)))
    log_r, log_r_cell, cell_offset = _curves_from_params(
        params, basis.matrix(grid), rw2, g, cell_design_idx
    )

    n_chain, n_draw = log_r.shape[:2]
    coords = {
        "chain": np.arange(n_chain),
        "draw": np.arange(n_draw),
        "design": data.designs,
        "cell": data.cells,
        "component": data.components,
        "soc": grid,
        "basis_rw2": np.arange(basis.n_basis - 2),
    }
    posterior = xr.Dataset(
        {
            "log_r": (("chain", "draw", "design", "component", "soc"), log_r),
            "log_r_cell": (("chain", "draw", "cell", "component", "soc"), log_r_cell),
            "level": (("chain", "draw", "design", "component"), params["level"]),
            "trend": (("chain", "draw", "design", "component"), params["trend"]),
            "wiggle_z": (("chain", "draw", "design", "component", "basis_rw2"),
                         params["wiggle_z"]),
            "rw2_sd": (("chain", "draw", "component"), params["rw2_sd"]),
            "cell_z": (("chain", "draw", "cell", "component"), params["cell_z"]),
            "cell_mean_z": (("chain", "draw", "design", "component"), params["cell_mean_z"]),
            "cell_offset": (("chain", "draw", "cell", "component"), cell_offset),
            "cell_sd": (("chain", "draw", "component"), params["cell_sd"]),
            "extra_sd": (("chain", "draw", "component"), params["extra_sd"]),
        },
        coords=coords,
    )
    posterior = posterior.assign_coords(
        soc_min=("design", data.design_soc_range[:, 0]),
        soc_max=("design", data.design_soc_range[:, 1]),
        cell_design=("cell", data.cell_design),
    )
    posterior["log_r"].attrs.update(units="ln(ohm)", long_name="design-level log resistance")
    posterior["log_r_cell"].attrs.update(units="ln(ohm)", long_name="cell-level log resistance")
    posterior["soc"].attrs["units"] = "percent"

    observed = xr.Dataset(
        {
            "log_r_mean": (("pulse", "component"), data.log_mean),
            "log_r_sd": (("pulse", "component"), data.log_sd),
        },
        coords={
            "pulse": np.arange(len(data.pulse_soc)),
            "component": data.components,
            "soc": ("pulse", data.pulse_soc),
            "design": ("pulse", np.array(data.designs)[data.pulse_design_idx]),
            "cell": ("pulse", np.array(data.cells)[data.pulse_cell_idx]),
        },
    )

    diag = _diagnostics(posterior, stats, cfg["gate"])
    diag["method"] = method
    if method == "nuts" and not diag["gate_pass"]:
        warnings.warn(
            "SOC model sampling failed the diagnostics gate (" + "; ".join(diag["problems"])
            + "); increase tune/draws (e.g. tune=1000, draws=1000) or raise "
            "[sampler] target_accept in the preset",
            SamplingWarning,
            stacklevel=2,
        )

    groups: dict[str, xr.Dataset] = {"posterior": posterior, "observed_data": observed}
    if stats is not None:
        groups["sample_stats"] = stats
    tree = xr.DataTree.from_dict(groups)
    tree.attrs.update(
        drtbayes_kind="soc_model",
        drtbayes_version=__version__,
        preset=preset_name,
        preset_toml=preset_text,
        seed=int(seed),
        method=method,
        input_sha256=data.input_sha256,
        created_utc=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        diagnostics=json.dumps(diag),
        excluded=json.dumps(data.excluded),
        components=json.dumps(data.components),
        spline_knots=json.dumps(basis.knots.tolist()),
        spline_degree=int(basis.degree),
        knot_spacing=basis.spacing,
    )
    return SocModelResult(tree)


# --------------------------------------------------------------------------------------------
# contrasts and crossover
# --------------------------------------------------------------------------------------------


def _as_model(split_or_model, components, fit_kwargs) -> SocModelResult:
    if isinstance(split_or_model, SocModelResult):
        missing = [c for c in components if c not in split_or_model.components]
        if missing:
            raise ColumnError(
                f"SOC model has components {split_or_model.components}, not {missing}; refit "
                f"with fit_soc_model(split, components=...)"
            )
        return split_or_model
    if isinstance(split_or_model, xr.DataTree):
        return _as_model(SocModelResult(split_or_model), components, fit_kwargs)
    return fit_soc_model(split_or_model, components=tuple(components), **fit_kwargs)


def _check_design(model: SocModelResult, design: str) -> None:
    if design not in model.designs:
        raise ValueRangeError(
            f"design {design!r} not in the data; designs are {model.designs} (check --a/--b)"
        )


def _pair_curves(model: SocModelResult, a: str, b: str, component: str):
    """log R_a and log R_b draws (sample, soc) over the SOC range both designs measured."""
    _check_design(model, a)
    _check_design(model, b)
    if a == b:
        raise DataError(f"designs a and b are both {a!r}; compare two different designs")
    lo = max(model.measured_range(a)[0], model.measured_range(b)[0])
    hi = min(model.measured_range(a)[1], model.measured_range(b)[1])
    soc = model.soc
    inside = (soc >= lo - 1e-9) & (soc <= hi + 1e-9)
    if inside.sum() < 2:
        raise ValueRangeError(
            f"designs {a!r} and {b!r} share no SOC range (measured {model.measured_range(a)} "
            f"and {model.measured_range(b)}); nothing to compare"
        )
    lr = model.tree["posterior"]["log_r"].sel(component=component)
    la = lr.sel(design=a).stack(sample=("chain", "draw")).transpose("sample", "soc").values
    lb = lr.sel(design=b).stack(sample=("chain", "draw")).transpose("sample", "soc").values
    return soc[inside], la[:, inside], lb[:, inside]


def contrast(
    split_or_socmodel: xr.Dataset | SocModelResult,
    a: str,
    b: str,
    component: str = "R2",
    **fit_kwargs: Any,
) -> xr.Dataset:
    """Posterior contrast of two designs' resistance over SOC.

    Parameters
    ----------
    split_or_socmodel
        A fitted :class:`SocModelResult`, or a split Dataset (then the SOC model is fitted
        first for ``component`` with ``fit_kwargs``).
    a, b
        Design labels.
    component
        ``R1``, ``R2``, ``R3`` or ``total``.
    **fit_kwargs
        Passed to :func:`fit_soc_model` when a split is given.

    Returns
    -------
    xr.Dataset
        Over ``soc`` (percent; the range both designs measured): ``diff_median``,
        ``diff_lo95``, ``diff_hi95`` (``R_a - R_b``, ohm), ``ratio_median``, ``ratio_lo95``,
        ``ratio_hi95`` (``R_a / R_b``), ``p_a_better`` (``P(R_a < R_b)``). Intervals are
        equal-tailed 95 % posterior intervals.
    """
    model = _as_model(split_or_socmodel, (component,), fit_kwargs)
    soc, la, lb = _pair_curves(model, a, b, component)
    diff = np.exp(la) - np.exp(lb)
    log_ratio = la - lb
    q = [0.025, 0.5, 0.975]
    dq = np.quantile(diff, q, axis=0)
    rq = np.exp(np.quantile(log_ratio, q, axis=0))
    ds = xr.Dataset(
        {
            "diff_median": ("soc", dq[1]),
            "diff_lo95": ("soc", dq[0]),
            "diff_hi95": ("soc", dq[2]),
            "ratio_median": ("soc", rq[1]),
            "ratio_lo95": ("soc", rq[0]),
            "ratio_hi95": ("soc", rq[2]),
            "p_a_better": ("soc", np.mean(la < lb, axis=0)),
        },
        coords={"soc": soc},
        attrs={"a": a, "b": b, "component": component, "method": model.method},
    )
    for v in ("diff_median", "diff_lo95", "diff_hi95"):
        ds[v].attrs["units"] = "ohm"
    ds["soc"].attrs["units"] = "percent"
    ds["p_a_better"].attrs["long_name"] = f"P(R_{a} < R_{b})"
    return ds


def find_crossings(diff: np.ndarray, soc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sign changes of each row of ``diff`` over ``soc``, located by linear interpolation.

    Parameters
    ----------
    diff
        (n_draws, n_soc) difference of two curves.
    soc
        (n_soc,) increasing SOC grid.

    Returns
    -------
    draw_index, soc_crossing
        One entry per crossing: the row it belongs to and its SOC.
    """
    diff = np.asarray(diff, dtype=float)
    soc = np.asarray(soc, dtype=float)
    positive = diff >= 0.0  # an exact zero counts with the positives: no double counting
    change = positive[:, 1:] != positive[:, :-1]
    rows, cols = np.nonzero(change)
    d0 = diff[rows, cols]
    d1 = diff[rows, cols + 1]
    frac = np.divide(d0, d0 - d1, out=np.zeros_like(d0), where=(d0 - d1) != 0)
    loc = soc[cols] + frac * (soc[cols + 1] - soc[cols])
    return rows, loc


def cluster_crossings(
    soc_crossing: np.ndarray,
    *,
    soc_range: tuple[float, float],
    bandwidth: float | None = None,
    valley_ratio: float = 0.3,
) -> np.ndarray:
    """Group crossing locations pooled over draws into clusters (modes of their density).

    A Gaussian kernel density of the locations is cut at its local minima; neighbouring
    segments are merged back unless the valley between them falls below ``valley_ratio`` of
    the smaller of the two peaks (so sampling noise does not split one broad mode).

    Parameters
    ----------
    soc_crossing
        Crossing SOC values (percent), any number per draw.
    soc_range
        Measured SOC range; sets the default bandwidth (2 % of the range, at least 1 % SOC).
    bandwidth
        Kernel bandwidth in % SOC.
    valley_ratio
        Depth a valley must reach, relative to the smaller neighbouring peak, to separate modes.

    Returns
    -------
    np.ndarray
        Cluster label (0, 1, ... in increasing SOC) of each crossing.
    """
    x = np.asarray(soc_crossing, dtype=float)
    if x.size == 0:
        return np.zeros(0, dtype=int)
    lo, hi = soc_range
    h = bandwidth if bandwidth is not None else max(1.0, 0.02 * (hi - lo))
    grid = np.linspace(min(lo, x.min()) - 3 * h, max(hi, x.max()) + 3 * h, 2000)
    # density via a binned convolution: O(grid) regardless of the number of draws
    step = grid[1] - grid[0]
    counts, _ = np.histogram(x, bins=np.append(grid - step / 2, grid[-1] + step / 2))
    half = int(np.ceil(4 * h / step))
    kern = np.exp(-0.5 * ((np.arange(-half, half + 1) * step) / h) ** 2)
    dens = np.convolve(counts, kern, mode="same")
    # segments between local minima of the density
    interior = np.nonzero((dens[1:-1] < dens[:-2]) & (dens[1:-1] <= dens[2:]))[0] + 1
    cuts = list(interior)
    changed = True
    while changed and cuts:
        changed = False
        edges = [0, *cuts, len(grid) - 1]
        for i, c in enumerate(cuts):
            left_peak = dens[edges[i] : c + 1].max()
            right_peak = dens[c : edges[i + 2] + 1].max()
            if dens[c] >= valley_ratio * min(left_peak, right_peak):
                cuts.pop(i)
                changed = True
                break
    boundaries = grid[cuts] if cuts else np.zeros(0)
    return np.searchsorted(boundaries, x).astype(int)


def _hdi95(values: np.ndarray) -> list[float]:
    import arviz_stats as azs

    values = np.asarray(values, dtype=float)
    if values.size < 3 or np.ptp(values) == 0:
        return [float(values.min()), float(values.max())]
    lo, hi = np.asarray(azs.hdi(values, prob=0.95), dtype=float).ravel()[:2]
    return [float(lo), float(hi)]


def _resolve_grid(grid, soc: np.ndarray) -> np.ndarray:
    if grid is None:
        return soc
    if np.isscalar(grid):
        step = float(grid)
        if not step > 0:
            raise ValueRangeError(f"grid step {grid!r}: must be a positive SOC step in percent")
        return _soc_grid(float(soc[0]), float(soc[-1]), step)
    out = np.asarray(grid, dtype=float)
    if out.ndim != 1 or out.size == 0 or not np.all(np.isfinite(out)):
        raise ValueRangeError("grid: must be a step (percent) or a 1-D array of finite SOC values")
    return out


#: Posterior probability at which one design counts as credibly better (crossover "reversal").
REVERSAL_LEVEL = 0.9


def crossover(
    split_or_socmodel: xr.Dataset | SocModelResult,
    a: str,
    b: str,
    component: str = "R2",
    *,
    grid: float | np.ndarray | None = None,
    min_probability: float = 0.01,
    **fit_kwargs: Any,
) -> dict:
    """Posterior of the SOC at which two designs' resistance curves cross.

    For every posterior draw the sign changes of ``log R_a - log R_b`` inside the SOC range both
    designs measured are located by linear interpolation between grid points. Draws without a
    crossing are counted (they lower ``p_crossing``), not dropped. Crossing locations pooled
    over draws are clustered (:func:`cluster_crossings`); each cluster is reported with the
    fraction of draws that cross inside it.

    Parameters
    ----------
    split_or_socmodel
        A fitted :class:`SocModelResult` or a split Dataset (fitted first).
    a, b
        Design labels.
    component
        ``R1``, ``R2``, ``R3`` or ``total``.
    grid
        SOC values (percent), or a step, on which ``p_a_better`` is reported; default the model
        grid. Crossings are always located on the model grid.
    min_probability
        Clusters supported by fewer than this fraction of draws are not listed (they still count
        in ``p_crossing``).
    **fit_kwargs
        Passed to :func:`fit_soc_model` when a split is given.

    Returns
    -------
    dict
        ``{"p_crossing", "reversal", "soc_median", "hdi95", "crossings", "p_a_better"}``:
        ``reversal`` says whether the crossing is a credible reversal (``credible``: design a
        better with posterior probability >= ``level`` = 0.9 at some SOC and b at another, with
        the extremes of P(R_a < R_b) over the SOC grid). ``soc_median`` and
        ``hdi95`` (95 % HDI, percent SOC, via ``arviz_stats.hdi``) describe the most probable
        crossing; ``soc_median`` is None without any crossing and ``hdi95`` is None when
        ``p_crossing < 0.5``. ``crossings`` is a list of ``{"soc_median", "hdi95",
        "probability"}``, most probable first. ``p_a_better`` is ``{"soc": [...], "p": [...]}``
        with ``p = P(R_a < R_b)``.
    """
    model = _as_model(split_or_socmodel, (component,), fit_kwargs)
    soc, la, lb = _pair_curves(model, a, b, component)
    n_draws = la.shape[0]
    rows, loc = find_crossings(la - lb, soc)
    p_crossing = float(np.unique(rows).size / n_draws)

    crossings: list[dict] = []
    if loc.size:
        labels = cluster_crossings(loc, soc_range=(float(soc[0]), float(soc[-1])))
        for lab in np.unique(labels):
            in_c = labels == lab
            # one location per draw and cluster: a draw that wiggles across twice counts once
            draws_c, inverse = np.unique(rows[in_c], return_inverse=True)
            per_draw = np.bincount(inverse, weights=loc[in_c]) / np.bincount(inverse)
            prob = draws_c.size / n_draws
            if prob < min_probability:
                continue
            crossings.append(
                {
                    "soc_median": float(np.median(per_draw)),
                    "hdi95": _hdi95(per_draw),
                    "probability": float(prob),
                }
            )
        crossings.sort(key=lambda c: -c["probability"])

    report_soc = _resolve_grid(grid, soc)
    p_better = np.mean(la < lb, axis=0)
    p_report = np.interp(report_soc, soc, p_better)
    head = crossings[0] if crossings else None
    # Two curves that do not differ (R1 of the paper's designs) cross somewhere in most draws,
    # so P(cross) alone is no evidence of a crossover. A credible *reversal* needs one design
    # credibly better at some SOC and the other credibly better at another.
    p_hi, p_lo = float(p_better.max()), float(p_better.min())
    reversal = {"level": REVERSAL_LEVEL, "p_a_better_max": p_hi, "p_a_better_min": p_lo,
                "credible": bool(p_hi >= REVERSAL_LEVEL and p_lo <= 1.0 - REVERSAL_LEVEL)}
    return {
        "p_crossing": p_crossing,
        "reversal": reversal,
        "soc_median": head["soc_median"] if head else None,
        "hdi95": head["hdi95"] if (head and p_crossing >= 0.5) else None,
        "crossings": crossings,
        "p_a_better": {
            "soc": [float(s) for s in report_soc],
            "p": [float(p) for p in p_report],
        },
    }


def crossover_report(
    split_or_socmodel: xr.Dataset | SocModelResult,
    a: str,
    b: str,
    components: tuple[str, ...] | list[str] = COMPONENTS,
    *,
    grid: float | np.ndarray | None = None,
    **fit_kwargs: Any,
) -> dict:
    """Crossover of two designs for several components, in the CLI JSON schema.

    Returns
    -------
    dict
        ``{"a": a, "b": b, "components": {component: crossover(...)}}``, plus ``"method"`` and
        ``"diagnostics"`` of the SOC model (so sampling problems reach the JSON).
    """
    model = _as_model(split_or_socmodel, tuple(components), fit_kwargs)
    out = {
        "a": a,
        "b": b,
        "components": {c: crossover(model, a, b, c, grid=grid) for c in components},
        "method": model.method,
        "diagnostics": model.diagnostics,
    }
    return out


# --------------------------------------------------------------------------------------------
# DRT-level contrast
# --------------------------------------------------------------------------------------------


def _group_index(coords_design, coords_soc, design: str, soc: float, what: str) -> int:
    designs = np.asarray([str(d) for d in coords_design])
    socs = np.asarray(coords_soc, dtype=float)
    if design not in designs:
        raise ValueRangeError(
            f"{what}: design {design!r} has no group; designs are {sorted(set(designs))}"
        )
    cand = np.nonzero((designs == design) & np.isclose(socs, soc, atol=0.5))[0]
    if cand.size == 0:
        have = sorted({float(s) for s in socs[designs == design]})
        raise ValueRangeError(
            f"{what}: design {design!r} has no group at SOC {soc:g} % (within 0.5 %); its EIS "
            f"SOCs are {have}"
        )
    return int(cand[np.argmin(np.abs(socs[cand] - soc))])


def drt_contrast(
    fit: Any,
    a: str,
    b: str,
    soc: float,
    *,
    bands: xr.Dataset | None = None,
) -> xr.Dataset:
    """Contrast of two designs' design-level DRTs (and band resistances) at one SOC.

    Parameters
    ----------
    fit
        A DRT fit: ``DRTResult`` (with ``.tree``) or its DataTree, whose posterior holds
        ``gamma_group`` (chain, draw, group, tau) with group coords ``design`` and ``soc``.
    a, b
        Design labels.
    soc
        EIS SOC in percent (matched to a group within 0.5 % SOC).
    bands
        Optional bands Dataset (:func:`drtbayes.time_constant_bands`); when it has
        ``group_band_r`` (sample, group, process) the band resistances are contrasted too.

    Returns
    -------
    xr.Dataset
        Over ``tau`` (s): ``gamma_diff_median``, ``gamma_diff_lo95``, ``gamma_diff_hi95``
        (ohm per unit ln tau, ``gamma_a - gamma_b``), ``p_a_lower`` (``P(gamma_a < gamma_b)``);
        with bands, over ``process``: ``band_diff_median``, ``band_diff_lo95``,
        ``band_diff_hi95`` (ohm), ``band_p_a_lower``.
    """
    tree = getattr(fit, "tree", fit)
    try:
        post = tree["posterior"]
    except (KeyError, TypeError) as exc:
        raise DataError("drt_contrast: fit has no 'posterior' group; pass a DRT fit") from exc
    if "gamma_group" not in post:
        raise ColumnError(
            "drt_contrast: posterior has no 'gamma_group'; fit the spectra with the "
            "hierarchical preset (drt-hierarchical)"
        )
    gg = post["gamma_group"]
    # fit_drt names the group coords group_design / group_soc (architecture.md); accept both
    dn, sn = ("group_design", "group_soc") if "group_design" in gg.coords else ("design", "soc")
    if dn not in gg.coords or sn not in gg.coords:
        raise ColumnError("drt_contrast: 'gamma_group' needs group coords 'group_design' and "
                          "'group_soc'")
    ia = _group_index(gg[dn].values, gg[sn].values, a, soc, "gamma_group")
    ib = _group_index(gg[dn].values, gg[sn].values, b, soc, "gamma_group")
    ga = gg.isel(group=ia).stack(sample=("chain", "draw")).transpose("sample", "tau").values
    gb = gg.isel(group=ib).stack(sample=("chain", "draw")).transpose("sample", "tau").values
    diff = ga - gb
    q = np.quantile(diff, [0.025, 0.5, 0.975], axis=0)
    ds = xr.Dataset(
        {
            "gamma_diff_median": ("tau", q[1]),
            "gamma_diff_lo95": ("tau", q[0]),
            "gamma_diff_hi95": ("tau", q[2]),
            "p_a_lower": ("tau", np.mean(ga < gb, axis=0)),
        },
        coords={"tau": np.asarray(gg["tau"].values)},
        attrs={"a": a, "b": b, "soc": float(soc)},
    )
    ds["tau"].attrs["units"] = "s"
    for v in ("gamma_diff_median", "gamma_diff_lo95", "gamma_diff_hi95"):
        ds[v].attrs["units"] = "ohm"
    if bands is not None and "group_band_r" in bands:
        br = bands["group_band_r"]
        dn, sn = ("group_design", "group_soc") if "group_design" in br.coords else ("design", "soc")
        ja = _group_index(br[dn].values, br[sn].values, a, soc, "group_band_r")
        jb = _group_index(br[dn].values, br[sn].values, b, soc, "group_band_r")
        ra = br.isel(group=ja).transpose("sample", "process").values
        rb = br.isel(group=jb).transpose("sample", "process").values
        # band samples of both groups come from the same posterior draws, so pair them
        bdiff = ra - rb
        qb = np.nanquantile(bdiff, [0.025, 0.5, 0.975], axis=0)
        ds = ds.assign(
            band_diff_median=("process", qb[1]),
            band_diff_lo95=("process", qb[0]),
            band_diff_hi95=("process", qb[2]),
            band_p_a_lower=("process", np.mean(ra < rb, axis=0)),
        ).assign_coords(process=np.asarray(br["process"].values))
        for v in ("band_diff_median", "band_diff_lo95", "band_diff_hi95"):
            ds[v].attrs["units"] = "ohm"
    return ds


# --------------------------------------------------------------------------------------------
# simulation of split datasets with a known crossover (ground truth for tests and docs)
# --------------------------------------------------------------------------------------------


def _true_log_r(soc: np.ndarray, crossover_soc: float | None) -> dict[str, dict[str, np.ndarray]]:
    """Design-level true log R (ohm) of the simulated designs 'a' (first) and 'b' (second)."""
    s = np.asarray(soc, dtype=float)
    if crossover_soc is None:
        g2 = np.full_like(s, -0.30)
        g3 = np.full_like(s, -0.25)
    else:
        # a above b below the crossover, below it above: a smooth sign change at crossover_soc
        g2 = 0.35 * np.tanh((crossover_soc - s) / 10.0)
        g3 = 0.30 * np.tanh((crossover_soc - s) / 12.0)
    r1_b = np.log(3.0) + 0.25 * np.exp(-s / 10.0)
    r2_b = np.log(8.0) + 1.6 * np.exp(-s / 7.0) + 0.4 * ((s - 50.0) / 50.0) ** 2
    r3_b = np.log(5.0) + 1.2 * np.exp(-s / 12.0)
    b = {"R1": r1_b, "R2": r2_b, "R3": r3_b}
    a = {"R1": r1_b + np.log(0.8), "R2": r2_b + g2, "R3": r3_b + g3}
    for d in (a, b):
        d["total"] = np.log(np.exp(d["R1"]) + np.exp(d["R2"]) + np.exp(d["R3"]))
    return {"a": a, "b": b}


def simulate_split(
    *,
    seed: int = 0,
    crossover_soc: float | None = 20.0,
    designs: tuple[str, str] = ("L_SE", "S_SE"),
    n_cells_per_design: int = 2,
    n_pulses: int = 100,
    n_samples: int = 200,
    soc_range: tuple[float, float] = (1.0, 99.0),
    cell_sd: float = 0.03,
    extra_sd: float = 0.02,
) -> tuple[xr.Dataset, dict]:
    """Simulate a two-design GITT split with a known crossover of R2 and R3.

    True design curves (log ohm) rise steeply at low SOC; design ``designs[0]`` has higher R2
    and R3 than ``designs[1]`` below ``crossover_soc`` and lower above it (``None``: lower at
    every SOC, no crossing), and 20 % lower R1 everywhere; ``total`` is the sum. Each cell adds
    an offset ~ N(0, ``cell_sd``) per component; each pulse's split posterior is log-normal
    with a width drawn per component (R1 3-8 %, R2 5-20 %, R3 15-40 %, total 2 %) and a center
    scattered around the truth by that width plus ``extra_sd``, as a calibrated posterior is.

    Parameters
    ----------
    seed
        Random seed.
    crossover_soc
        True crossover SOC of R2 and R3 (percent), or None for designs that never cross.
    designs
        Labels of design a and design b.
    n_cells_per_design, n_pulses, n_samples
        Replicate cells per design, pulses per cell, posterior draws per pulse.
    soc_range
        Pulse SOC range (percent); pulses run from high to low SOC as in a GITT discharge.
    cell_sd, extra_sd
        Cell-offset sd and extra pulse scatter, natural-log units.

    Returns
    -------
    split, truth
        ``split``: Dataset in the split layout (``resistance`` (pulse, component, sample)).
        ``truth``: ``{"soc": grid, "log_r": {design: {component: array}}, "crossings":
        {component: [SOC, ...]}}`` for the design-level curves.
    """
    rng = np.random.default_rng(seed)
    lo, hi = soc_range
    fine = np.round(np.arange(lo, hi + 1e-9, 0.01), 6)
    true_fine = _true_log_r(fine, crossover_soc)
    true_crossings = {}
    for comp in COMPONENTS:
        _, loc = find_crossings((true_fine["a"][comp] - true_fine["b"][comp])[None, :], fine)
        true_crossings[comp] = [float(x) for x in loc]

    res_blocks, soc_all, des_all, cell_all = [], [], [], []
    width_rng = {"R1": (0.03, 0.08), "R2": (0.05, 0.20), "R3": (0.15, 0.40), "total": (0.02, 0.02)}
    for di, design in enumerate(designs):
        key = "a" if di == 0 else "b"
        for ci in range(n_cells_per_design):
            soc = np.linspace(hi, lo, n_pulses) + rng.uniform(-0.3, 0.3, n_pulses)
            soc = np.clip(soc, lo, hi)
            truth = _true_log_r(soc, crossover_soc)[key]
            offs = {c: rng.normal(0.0, cell_sd) for c in ("R1", "R2", "R3")}
            cell_true = {c: truth[c] + offs[c] for c in ("R1", "R2", "R3")}
            cell_true["total"] = np.log(sum(np.exp(cell_true[c]) for c in ("R1", "R2", "R3")))
            block = np.empty((n_pulses, len(COMPONENTS), n_samples))
            for k, comp in enumerate(COMPONENTS):
                w = rng.uniform(*width_rng[comp], n_pulses)
                center = cell_true[comp] + rng.normal(0.0, 1.0, n_pulses) * np.sqrt(
                    w**2 + extra_sd**2
                )
                block[:, k, :] = np.exp(
                    center[:, None] + w[:, None] * rng.standard_normal((n_pulses, n_samples))
                )
            res_blocks.append(block)
            soc_all.append(soc)
            des_all += [design] * n_pulses
            cell_all += [f"{design}-c{ci + 1}"] * n_pulses
    resistance = np.concatenate(res_blocks, axis=0)
    n_total = resistance.shape[0]
    split = xr.Dataset(
        {"resistance": (("pulse", "component", "sample"), resistance)},
        coords={
            "pulse": np.arange(n_total),
            "component": list(COMPONENTS),
            "sample": np.arange(n_samples),
            "soc": ("pulse", np.concatenate(soc_all)),
            "design": ("pulse", np.array(des_all)),
            "cell": ("pulse", np.array(cell_all)),
            "t_start": ("pulse", np.arange(n_total) * 3600.0),
        },
        attrs={
            "drtbayes_kind": "split",
            "drtbayes_version": __version__,
            "simulated": 1,
            "seed": int(seed),
            "crossover_soc_true": -1.0 if crossover_soc is None else float(crossover_soc),
        },
    )
    split["resistance"].attrs["units"] = "ohm"
    truth = {
        "soc": fine,
        "log_r": {designs[0]: true_fine["a"], designs[1]: true_fine["b"]},
        "crossings": true_crossings,
    }
    return split, truth
