"""One configuration engine for the study file and every model preset.

:mod:`drtbayes.config.schema` holds the engine (declared tables and fields, every violation
collected and reported together); :mod:`drtbayes.config.study` the study file's schema and its
frozen dataclasses; :mod:`drtbayes.config.presets` the schemas of the preset kinds (``drt``,
``split``, ``soc_model``) used by :func:`drtbayes.presets.load_preset`.
"""

from .schema import Problem, Table, validate
from .study import CellEntry, EISEntry, Study, load_study

__all__ = ["Problem", "Table", "validate", "Study", "CellEntry", "EISEntry", "load_study"]
