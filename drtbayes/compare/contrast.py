"""Contrasts of two designs: SOC-model curves (``contrast``) and design-level DRTs."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ..conventions import GROUP_COORDS
from ..errors import ColumnError, DataError, ValueRangeError
from ..soc.fit import fit_soc_model
from ..soc.result import SocModelResult, check_design

__all__ = ["contrast", "drt_contrast", "pair_curves", "as_model"]

def as_model(split_or_model: Any, components: tuple[str, ...], fit_kwargs: dict
             ) -> SocModelResult:
    """Return a fitted SOC model holding ``components``: the one given, or one fitted to a split."""
    if isinstance(split_or_model, SocModelResult):
        missing = [c for c in components if c not in split_or_model.components]
        if missing:
            raise ColumnError(
                f"SOC model has components {split_or_model.components}, not {missing}; refit "
                f"with fit_soc_model(split, components=...)"
            )
        return split_or_model
    if isinstance(split_or_model, xr.DataTree):
        return as_model(SocModelResult(split_or_model), components, fit_kwargs)
    return fit_soc_model(split_or_model, components=tuple(components), **fit_kwargs)


def pair_curves(model: SocModelResult, a: str, b: str, component: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SOC grid and log R_a, log R_b draws (sample, soc) over the SOC range both measured."""
    check_design(model, a)
    check_design(model, b)
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
    model = as_model(split_or_socmodel, (component,), fit_kwargs)
    soc, la, lb = pair_curves(model, a, b, component)
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


# over 80 lines by its docstring (the body, ~55 lines, is one contrast, gamma then bands)
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
    dn, sn = GROUP_COORDS["design"], GROUP_COORDS["soc"]
    if dn not in gg.coords or sn not in gg.coords:
        raise ColumnError(f"drt_contrast: 'gamma_group' needs group coords {dn!r} and {sn!r} "
                          "(a fit by drtbayes.fit_drt)")
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
        if dn not in br.coords or sn not in br.coords:
            raise ColumnError(f"drt_contrast: bands' 'group_band_r' needs group coords {dn!r} "
                              f"and {sn!r} (bands by drtbayes.time_constant_bands)")
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
