"""Process model: each electrode process a parametric element with a posterior.

``fit_processes`` fits contact / charge-transfer ZARCs and a finite reflective Warburg to
symmetric-cell spectra (pooled across cells); ``split_pulses`` splits GITT pulses with the
elements' exact current-step responses (``split_gitt(..., method="processes")``).
"""

from .fit import R1_CONTAINS, fit_processes
from .model import CANDIDATES, ROLES

__all__ = ["CANDIDATES", "R1_CONTAINS", "ROLES", "fit_processes"]
