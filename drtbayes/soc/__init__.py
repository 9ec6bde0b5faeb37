"""The SOC-curve model: log resistance against SOC per electrode design, replicate cells pooled.

Same shape as :mod:`drtbayes.drt`: ``model`` (the PyMC model and its preset), ``basis`` (the
spline), ``data`` (per-pulse summaries of the split), ``fit`` (:func:`fit_soc_model`, NUTS
through :mod:`drtbayes.inference`), ``fast`` (the Laplace path), ``result``
(:class:`SocModelResult`) and ``simulate`` (splits with a known crossover).
"""

from __future__ import annotations

from .fit import fit_soc_model
from .model import DEFAULT_PRESET, load_soc_preset
from .result import SocModelResult, load_soc_model
from .simulate import simulate_split

__all__ = ["DEFAULT_PRESET", "SocModelResult", "fit_soc_model", "load_soc_model",
           "load_soc_preset", "simulate_split"]
