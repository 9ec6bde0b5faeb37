"""The GITT pulse split: every pulse resistance into R1 / R2 / R3 / total, with posterior draws.

Same shape as :mod:`drtbayes.drt` and :mod:`drtbayes.soc`: ``model`` (the band method's
per-pulse Gaussian linear model and its preset), ``pulses`` (pulse detection, fit windows, the
EIS information at each pulse SOC), ``components`` (R1 / R2 / R3 from the pulse DRT and the EIS
bands), ``fit`` (:func:`split_gitt` and the loop over records) and ``result``
(:class:`SplitResult` and the split Dataset's layout). There is no ``fast`` module: the band
method's posterior is exactly Gaussian given its empirical-Bayes hyperparameters
(:mod:`drtbayes.inference.gaussian`), sampled without MCMC, so it is already the fast path and
no sampler gate applies. The process method (``method="processes"``) is
:mod:`drtbayes.processes.pulse`, to which :func:`split_gitt` hands the records.
"""

from __future__ import annotations

from ..conventions import COMPONENTS
from .components import NOTE_LEAK_FRACTION
from .fit import split_each_record, split_gitt
from .model import METHOD, load_split_preset
from .result import SplitResult

__all__ = ["COMPONENTS", "METHOD", "NOTE_LEAK_FRACTION", "SplitResult", "load_split_preset",
           "split_each_record", "split_gitt"]
