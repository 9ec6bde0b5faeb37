"""``SocModelResult``: posterior curves of log resistance against SOC per design and cell."""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import xarray as xr

from ..conventions import SOC_WHOLE_FIT
from ..errors import ValueRangeError
from ..inference.diagnostics import diagnostics_by_unit
from ..results.base import ResultBase

__all__ = ["SocModelResult", "load_soc_model", "check_design"]

class SocModelResult(ResultBase):
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

    kind = "soc_model"

    @property
    def posterior(self) -> xr.Dataset:
        """The posterior group as a Dataset (labels included; ArviZ reads it too)."""
        return self._group_view("posterior")

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
    def diagnostics(self) -> dict[str, dict]:
        """Per component: ``rhat_max``, ``ess_bulk_min``, ``divergences``, ``gate_pass``, ...

        The shape of a DRT fit's diagnostics (unit label -> record). A result saved before
        the components were recorded one by one holds one record, returned under
        ``"SOC model"``.
        """
        return diagnostics_by_unit(self.tree.attrs.get("diagnostics"),
                                   whole_fit_label=SOC_WHOLE_FIT)

    def measured_range(self, design: str) -> tuple[float, float]:
        """SOC range (percent) covered by a design's pulses."""
        post = self.tree["posterior"]
        check_design(self, design)
        sel = post["soc_min"].sel(design=design), post["soc_max"].sel(design=design)
        return float(sel[0]), float(sel[1])

    def summary(self) -> Any:
        """Tidy table of the design curves: median and 95 % interval of R on the SOC grid.

        Returns
        -------
        pandas.DataFrame
            Columns ``design``, ``component``, ``soc`` (percent), ``r_median``, ``r_lo95``,
            ``r_hi95`` (ohm; equal-tailed), ``measured`` (inside the design's measured SOC
            range), ``method``. The JSON summary (labels, diagnostics, exclusions) is
            :meth:`summary_dict`.
        """
        import pandas as pd

        lr = self.tree["posterior"]["log_r"]
        q = np.exp(lr.quantile([0.025, 0.5, 0.975], dim=("chain", "draw"))
                   .transpose("quantile", "design", "component", "soc").values)
        rows = []
        for i, d in enumerate(self.designs):
            lo_s, hi_s = self.measured_range(d)
            for k, c in enumerate(self.components):
                for j, s in enumerate(self.soc):
                    rows.append({"design": d, "component": c, "soc": float(s),
                                 "r_median": q[1, i, k, j], "r_lo95": q[0, i, k, j],
                                 "r_hi95": q[2, i, k, j],
                                 "measured": bool(lo_s - 1e-9 <= s <= hi_s + 1e-9),
                                 "method": self.method})
        return pd.DataFrame(rows)

    def summary_dict(self) -> dict:
        """Return a JSON-ready summary: labels, method, diagnostics, exclusions."""
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

    def __repr__(self) -> str:
        """Describe the method, designs, components and SOC grid."""
        return (
            f"SocModelResult(method={self.method!r}, designs={self.designs}, "
            f"components={self.components}, soc={self.soc[0]:g}..{self.soc[-1]:g})"
        )


def load_soc_model(path: str | os.PathLike) -> SocModelResult:
    """Load a saved :class:`SocModelResult` (kind, schema and version checked)."""
    return SocModelResult.load(path)  # type: ignore[return-value]


def check_design(model: SocModelResult, design: str) -> None:
    """Raise a one-line error when ``design`` is not one of the model's designs."""
    if design not in model.designs:
        raise ValueRangeError(
            f"design {design!r} not in the data; designs are {model.designs} (check --a/--b)"
        )
