"""The study file (kept as an import path): see :mod:`drtbayes.config.study`."""

from .config.study import (  # noqa: F401  re-exported
    COMPONENTS,
    PROCESS_NAMES,
    CellEntry,
    EISEntry,
    Study,
    load_study,
    parse_study,
)

__all__ = ["Study", "CellEntry", "EISEntry", "load_study", "parse_study", "COMPONENTS",
           "PROCESS_NAMES"]
