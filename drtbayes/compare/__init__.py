"""Compare electrode designs: contrasts over SOC, the crossover SOC, DRT contrasts.

* :func:`contrast`: posterior of ``R_a - R_b`` and ``R_a / R_b`` over SOC and ``P(R_a < R_b)``;
* :func:`crossover`: posterior of the SOC where two designs' curves cross
  (:class:`CrossoverResult`), with the probability that they cross at all inside the measured
  range and one entry per supported crossing;
* :func:`drt_contrast`: the same kind of contrast between the design-level DRTs of a
  hierarchical EIS fit.

The SOC model itself lives in :mod:`drtbayes.soc`; its names stay importable from here.
"""

from __future__ import annotations

from ..conventions import COMPONENTS
from ..numerics import cluster_crossings, find_crossings
from ..soc import SocModelResult, fit_soc_model, load_soc_model, simulate_split
from ..soc.basis import cell_centering as _cell_centering
from ..soc.basis import make_basis as _make_basis
from ..soc.basis import rw2_matrix as _rw2_matrix
from ..soc.basis import soc_grid as _soc_grid
from ..soc.basis import zero_sum_basis as _zero_sum_basis
from ..soc.data import prepare_data as _prepare_data
from ..soc.model import build_model as _build_model
from ..soc.model import centring_weights as _centring_weights
from ..soc.model import curves_from_params as _curves_from_params
from ..soc.model import load_soc_preset as _load_soc_preset
from .contrast import contrast, drt_contrast, pair_curves
from .crossover import REVERSAL_LEVEL, CrossoverResult, crossover, crossover_report

# old private names used by plots/, benchmarks/_sbc_lib.py and tests/test_sbc.py
# (shim: remove after merge)
_pair_curves = pair_curves

__all__ = [
    "COMPONENTS", "REVERSAL_LEVEL", "CrossoverResult", "SocModelResult", "cluster_crossings",
    "contrast", "crossover", "crossover_report", "drt_contrast", "find_crossings",
    "fit_soc_model", "load_soc_model", "pair_curves", "simulate_split",
    "_build_model", "_cell_centering", "_centring_weights", "_make_basis", "_rw2_matrix",
    "_soc_grid", "_curves_from_params", "_load_soc_preset",
    "_pair_curves", "_prepare_data", "_zero_sum_basis",
]
