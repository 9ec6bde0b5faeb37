"""Hierarchical Bayesian distribution of relaxation times (DRT).

:func:`fit_drt` fits one or many spectra (pooled by design and SOC with the
``drt-hierarchical`` preset) and returns a :class:`DRTResult` holding the posterior in an
ArviZ-layout DataTree; :func:`load_drt` reads a saved one back.
"""

from __future__ import annotations

from .fit import clear_model_cache, fit_drt
from .result import DRTResult, find_peak_clusters, load_drt

__all__ = ["fit_drt", "DRTResult", "load_drt", "clear_model_cache", "find_peak_clusters"]
