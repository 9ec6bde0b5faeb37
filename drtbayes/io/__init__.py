"""Input layer of drtbayes: readers, data model, validation, Kramers-Kronig check, pulses.

Public functions: :func:`read_spectrum`, :func:`read_spectra`, :func:`read_gitt`,
:func:`make_spectrum`, :func:`make_gitt`, :func:`stack_spectra`, :func:`kk_check`,
:func:`detect_pulses`, :func:`describe`.
"""

from __future__ import annotations

from ._read import read_gitt, read_spectra, read_spectrum
from .describe import describe
from .gitt import make_gitt
from .kk import kk_check
from .pulses import detect_pulses
from .spectrum import make_spectrum, stack_spectra

__all__ = [
    "describe",
    "detect_pulses",
    "kk_check",
    "make_gitt",
    "make_spectrum",
    "read_gitt",
    "read_spectra",
    "read_spectrum",
    "stack_spectra",
]
