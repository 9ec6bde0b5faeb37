"""drtbayes: Bayesian DRT analysis of all-solid-state battery electrodes.

Read EIS spectra and GITT records, fit hierarchical Bayesian DRT models, turn the posterior into
time-constant bands, split every GITT pulse resistance into contact / charge-transfer /
diffusion parts, and compare electrode designs over SOC with credible intervals on the
crossover.

The public API is imported lazily so that ``drtbayes --help`` and the readers do not pay for
importing PyMC.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (  # noqa: F401  (re-exported)
    DataError,
    DataWarning,
    DrtbayesError,
    DrtbayesWarning,
    OutputExistsError,
    SamplingWarning,
)

__version__ = "0.1.0"

# Before anything imports PyTensor: its generated source goes to drtbayes' cache folder, not
# one file per generated function in the system temp folder.
from ._cache import route_generated_source as _route_generated_source  # noqa: E402

_route_generated_source()

# public name -> module that defines it
_LAZY: dict[str, str] = {
    # io
    "read_spectrum": "drtbayes.io",
    "read_spectra": "drtbayes.io",
    "read_gitt": "drtbayes.io",
    "stack_spectra": "drtbayes.io",
    "detect_pulses": "drtbayes.io",
    "kk_check": "drtbayes.io",
    "make_spectrum": "drtbayes.io",
    "make_gitt": "drtbayes.io",
    "describe": "drtbayes.io",
    # models / inference
    "fit_drt": "drtbayes.drt",
    "DRTResult": "drtbayes.drt",
    "load_preset": "drtbayes.presets",
    "list_presets": "drtbayes.presets",
    # analyses
    "time_constant_bands": "drtbayes.bands",
    "bands_at_soc": "drtbayes.bands",
    "split_gitt": "drtbayes.split",
    "fit_soc_model": "drtbayes.soc",
    "SocModelResult": "drtbayes.soc",
    "simulate_split": "drtbayes.soc",
    "CrossoverResult": "drtbayes.compare",
    "contrast": "drtbayes.compare",
    "crossover": "drtbayes.compare",
    "drt_contrast": "drtbayes.compare",
    "answer_in_words": "drtbayes.answer",
    # simulation, study, results
    "simulate_study": "drtbayes.simulate",
    "run_study": "drtbayes.pipeline",
    "load": "drtbayes.results",
    "BandsResult": "drtbayes.results",
    "SplitResult": "drtbayes.split",
    "clear_model_cache": "drtbayes.inference",
}

__all__ = sorted([*_LAZY, "DataError", "DrtbayesError", "OutputExistsError", "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'drtbayes' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
