"""Figures of drtbayes results (matplotlib is imported only inside this package).

Each plotting function takes a result (or its DataTree / Dataset) and an optional Axes, and
returns the Axes (or a Figure for multi-panel plots); none calls ``plt.show``. The functions are
imported lazily so that ``import drtbayes.plots`` does not import matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> submodule of drtbayes.plots that defines it
_LAZY: dict[str, str] = {
    # drt: fits of spectra
    "plot_nyquist": "drt",
    "plot_bode": "drt",
    "plot_drt": "drt",
    "plot_residuals": "drt",
    "plot_diagnostics": "drt",
    "plot_fit_overview": "drt",
    "plot_residuals_grid": "drt",
    # split: bands and the GITT split
    "plot_bands": "split",
    "plot_pulse_fits": "split",
    "plot_components_vs_soc": "split",
    "plot_s7_check": "split",
    # compare: two designs over SOC
    "plot_soc_curves": "compare",
    "plot_cell_curves": "compare",
    "plot_contrast": "compare",
    "plot_crossover": "compare",
    # shared style
    "design_color": "_common",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'drtbayes.plots' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
