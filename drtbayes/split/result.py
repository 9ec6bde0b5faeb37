"""``SplitResult`` and the layout of one record's split Dataset (both estimands share it)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import COMPONENTS
from ..numerics import hdi
from ..results.base import DatasetResult

__all__ = ["SplitResult", "record_dataset"]


class SplitResult(DatasetResult):
    """GITT pulse resistances split into R1, R2, R3 (:func:`drtbayes.split_gitt`).

    Construct it from the split's Dataset with ``SplitResult(ds)`` (root attr
    ``drtbayes_kind = "split"`` and a ``resistance`` (pulse, component, sample) variable).
    """

    kind = "split"

    def summary(self) -> Any:
        """Median and 95 % HDI of every pulse's components.

        Returns
        -------
        pandas.DataFrame
            Columns ``pulse``, ``design``, ``cell``, ``soc`` (where the split has them),
            ``component``, ``median``, ``hdi95_lo``, ``hdi95_hi`` (ohm).
        """
        import pandas as pd

        res = self._data["resistance"].transpose("pulse", "component", "sample")
        labels = {c: self._data[c].values for c in ("design", "cell", "soc")
                  if c in self._data.coords and self._data[c].dims == ("pulse",)}
        rows = []
        for i, pulse in enumerate(res["pulse"].values):
            for k, comp in enumerate(res["component"].values):
                x = np.asarray(res.values[i, k], dtype=float)
                lo, hi = hdi(x)
                rows.append({"pulse": pulse, **{c: v[i] for c, v in labels.items()},
                             "component": str(comp), "median": float(np.nanmedian(x))
                             if np.isfinite(x).any() else float("nan"),
                             "hdi95_lo": lo, "hdi95_hi": hi})
        return pd.DataFrame(rows)


def record_dataset(arrays: dict[str, np.ndarray], plist: list[dict], *, design: str, cell: str,
                   tau_grid: np.ndarray, per_decade: Any, n_samples: int, area: float | None,
                   capacity_mah: float, skipped: list[dict], source: str) -> xr.Dataset:
    """One record's band-method split as a Dataset (layout: :func:`drtbayes.split_gitt`).

    Parameters
    ----------
    arrays
        ``res`` (pulse, 4, sample) ohm, ``resolved``, ``reasons`` (pulse, 4), ``fit_t``
        (pulse, fit_point), ``fit_q`` (3, pulse, fit_point) V, ``rmse``, ``noise`` (pulse) V,
        ``r_med`` (pulse, pulse_tau) ohm.
    plist
        The pulses (:func:`drtbayes.split.pulses.pulse_list`).
    design, cell
        Labels of the record.
    tau_grid, per_decade
        The pulse DRT grid and its points per decade.
    n_samples
        Draws per pulse.
    area
        Electrode area (cm2) or None.
    capacity_mah
        Capacity used for coulomb counting.
    skipped
        Incomplete pulses with why.
    source
        The record's source.

    Returns
    -------
    xr.Dataset
        The record's pulses.
    """
    res = arrays["res"]
    fit_q = arrays["fit_q"]
    labels = [f"{cell}/{k:03d}" for k in range(len(plist))]
    coords = {
        "pulse": labels,
        "component": list(COMPONENTS),
        "sample": np.arange(n_samples),
        "pulse_tau": tau_grid,
        "soc": ("pulse", np.array([p["soc"] for p in plist]), {"units": "%"}),
        "design": ("pulse", np.array([design] * len(plist), dtype=object)),
        "cell": ("pulse", np.array([cell] * len(plist), dtype=object)),
        "t_start": ("pulse", np.array([p["t_start"] for p in plist]), {"units": "s"}),
        "t_end": ("pulse", np.array([p["t_end"] for p in plist]), {"units": "s"}),
        "current_a": ("pulse", np.array([p["current_a"] for p in plist]), {"units": "A"}),
        "kind": ("pulse", np.array([p["kind"] for p in plist], dtype=object)),
    }
    data = {
        "resistance": (("pulse", "component", "sample"), res, {"units": "ohm"}),
        "resolved": (("pulse", "component"), arrays["resolved"]),
        "fallback_reason": (("pulse", "component"), arrays["reasons"]),
        "fit_rmse_v": ("pulse", arrays["rmse"], {"units": "V"}),
        "noise_sd_v": ("pulse", arrays["noise"], {"units": "V",
                                                  "long_name": "empirical-Bayes noise sd"}),
        "first_sample_s": ("pulse", np.array([p["first_sample_s"] for p in plist]),
                           {"units": "s", "long_name": "first sample after the current step"}),
        "fit_time_s": (("pulse", "fit_point"), arrays["fit_t"],
                       {"units": "s", "long_name": "time since pulse start"}),
        "fit_v_median": (("pulse", "fit_point"), fit_q[0], {"units": "V"}),
        "fit_v_lo95": (("pulse", "fit_point"), fit_q[1], {"units": "V"}),
        "fit_v_hi95": (("pulse", "fit_point"), fit_q[2], {"units": "V"}),
        "pulse_r_median": (("pulse", "pulse_tau"), arrays["r_med"],
                           {"units": "ohm", "long_name": "pulse DRT, ohm per grid cell "
                            f"({per_decade} per decade)"}),
    }
    if area is not None:
        data["resistance_area"] = (("pulse", "component", "sample"), res * area,
                                   {"units": "ohm cm2"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({"design": design, "cell": cell, "area_cm2": area if area else math.nan,
                     "capacity_mah": capacity_mah, "skipped_pulses": json.dumps(skipped),
                     "source": source})
    return ds
