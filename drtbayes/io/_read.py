"""File readers: format detection and the public ``read_*`` functions."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import xarray as xr

from ..errors import DataWarning, FileFormatError, ValueRangeError
from . import _text
from .biologic import mpr_table, mpt_table
from .csv import csv_table
from .gamry import dta_table
from .gitt import gitt_from_table
from .maccor import is_maccor, maccor_table
from .neware import nda_table
from .spectrum import spectra_from_table
from .zview import is_zview, zview_table

FORMATS = ("csv", "mpt", "mpr", "dta", "zview", "nda", "maccor")
_EXT = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv", ".mpt": "mpt",
        ".mpr": "mpr", ".dta": "dta", ".z": "zview", ".nda": "nda", ".ndax": "nda"}
#: Formats stored as binary (their size limit is MAX_FILE_BYTES, not MAX_TEXT_BYTES).
_BINARY = ("mpr", "nda")
_DECIMAL_OPTIONS = ("auto", ".", ",")


def detect_format(path: Path, data: bytes, fmt: str | None) -> str:
    """Format from ``fmt``, else from the first bytes, else from the extension (else csv)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise FileFormatError(f"{path}: fmt={fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    head = data[:64].lstrip(b"\xef\xbb\xbf")
    if head.startswith(b"BIO-LOGIC MODULAR FILE"):
        return "mpr"
    if head.startswith((b"EC-Lab ASCII FILE", b"BT-Lab ASCII FILE")):
        return "mpt"
    if head.startswith(b"EXPLAIN"):
        return "dta"
    if is_zview(head.lstrip(b'"').decode("latin-1")) or head.startswith(b'"Z60W'):
        return "zview"
    if is_maccor(data[:4096].lstrip(b"\xef\xbb\xbf").decode("latin-1")):
        return "maccor"
    return _EXT.get(path.suffix.lower(), "csv")


def load_table(path: str | os.PathLike, fmt: str | None, want: str, decimal: str = "auto"):
    """Read a file into a Table; returns (table, loop starts, sha256)."""
    if decimal not in _DECIMAL_OPTIONS:
        raise ValueRangeError(f"{path}: decimal={decimal!r}; use 'auto', '.' or ','")
    p, data = _text.read_limited(path)
    sha = hashlib.sha256(data).hexdigest()
    kind = detect_format(p, data, fmt)
    loops: list[int] = []
    if kind not in _BINARY:
        _text.check_text_size(p, len(data))
    if kind == "mpr":
        table, loops = mpr_table(p, data)
    elif kind == "nda":
        del data
        table = nda_table(p)
    else:
        text = _text.decode_text(data, p)
        del data
        if kind == "mpt":
            table = mpt_table(p, text)
        elif kind == "dta":
            table = dta_table(p, text, want)
        elif kind == "zview":
            table = zview_table(p, text)
        elif kind == "maccor":
            table = maccor_table(p, text)
        else:
            table = csv_table(p, text, want=want)
    table.decimal = decimal
    return table, loops, sha


def _spectra(path, *, fmt, imag_sign, decimal, phase_unit, **meta) -> list[xr.Dataset]:
    table, loops, sha = load_table(path, fmt, "spectrum", decimal)
    return spectra_from_table(
        table, imag_sign=imag_sign, split_sweeps=True, loop_starts=loops, source_sha256=sha,
        extra_attrs=dict(table.meta), phase_unit=phase_unit, **meta,
    )


def read_spectra(
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
    imag_sign: str = "auto",
    design: str | None = None,
    cell: str | None = None,
    soc: float | None = None,
    temperature_c: float | None = None,
    cell_type: str = "symmetric",
    area_cm2: float | None = None,
    decimal: str = "auto",
    phase_unit: str | None = None,
) -> list[xr.Dataset]:
    """Read every impedance spectrum in a file.

    A file with several loops (a ``cycle number`` or ``loop_index`` column that changes, a
    loop module in an ``.mpr``, or frequency sweeps restarting) gives one spectrum per loop,
    never one merged zig-zag spectrum; a loop with fewer than 10 points is an aborted sweep,
    left out with a :class:`DataWarning` and listed in the last spectrum's ``excluded``
    attribute. A :class:`DataWarning` says how many spectra a file holds when it holds more
    than one.

    Parameters
    ----------
    path
        CSV/TSV (with a header line, or headerless f, Z', Z''), BioLogic ``.mpt`` / ``.mpr``,
        Gamry ``.DTA`` (EISPOT, GALVEIS), ZView ``Z60W`` text or ZPlot ``.z`` file.
    fmt
        ``csv``, ``mpt``, ``mpr``, ``dta`` or ``zview``; detected from the content and
        extension when ``None``.
    imag_sign
        ``"auto"`` refuses a spectrum whose imaginary part looks flipped (a headerless file:
        takes the third column as -Z'' when most of its values are positive, and says so in
        ``attrs['assumed']``), ``"flip"`` negates Z'', ``"as-is"`` skips the check.
    design, cell, soc, temperature_c, cell_type, area_cm2
        Metadata stored in the attributes (cell defaults to the file name without extension).
    decimal
        ``"auto"`` reads a comma inside a number as a decimal comma or a US thousands
        separator where only one reading fits and refuses the file where both do
        (``100,000``); ``","`` or ``"."`` says which.
    phase_unit
        ``"deg"`` or ``"rad"`` for a phase column whose header names no unit; without it
        such a column is read as degrees unless all its values lie within +-pi/2, which is
        refused as ambiguous.

    Returns
    -------
    list of xr.Dataset
        Spectra in file order (see :func:`make_spectrum` for the layout).

    Raises
    ------
    drtbayes.errors.DataError
        A subclass naming the file, row or column, and the fix.
    """
    spectra = _spectra(path, fmt=fmt, imag_sign=imag_sign, decimal=decimal,
                       phase_unit=phase_unit, design=design, cell=cell, soc=soc,
                       temperature_c=temperature_c, cell_type=cell_type, area_cm2=area_cm2)
    if len(spectra) > 1:
        how = spectra[0].attrs.get("loops_found_by") or "loops"
        warnings.warn(f"{path}: holds {len(spectra)} spectra (loops found by {how}); each is "
                      "returned as its own spectrum, none merged", DataWarning, stacklevel=2)
    return spectra


def read_spectrum(
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
    imag_sign: str = "auto",
    design: str | None = None,
    cell: str | None = None,
    soc: float | None = None,
    temperature_c: float | None = None,
    cell_type: str = "symmetric",
    area_cm2: float | None = None,
    index: int = 0,
    decimal: str = "auto",
    phase_unit: str | None = None,
) -> xr.Dataset:
    """Read one impedance spectrum (the ``index``-th of the file).

    Parameters are those of :func:`read_spectra`, plus ``index``: which spectrum of a
    multi-loop file to return (a :class:`DataWarning` says when a file holds more than one).

    Returns
    -------
    xr.Dataset
        Dim ``frequency`` (Hz, high to low); vars ``z_real``, ``z_imag`` (ohm, Z'' < 0 on
        capacitive arcs); attrs design, cell, soc, temperature_c, cell_type, area_cm2, source,
        source_sha256, source_format, imag_sign_detected, sorted_by_reader, excluded,
        assumed.
    """
    spectra = _spectra(path, fmt=fmt, imag_sign=imag_sign, decimal=decimal,
                       phase_unit=phase_unit, design=design, cell=cell, soc=soc,
                       temperature_c=temperature_c, cell_type=cell_type, area_cm2=area_cm2)
    if not -len(spectra) <= index < len(spectra):
        raise ValueRangeError(f"{path}: index={index} but the file holds {len(spectra)} "
                              "spectra; use read_spectra to get all of them")
    if len(spectra) > 1:
        warnings.warn(f"{path}: holds {len(spectra)} spectra; returning index {index} (use "
                      "read_spectra for all)", DataWarning, stacklevel=2)
    return spectra[index]


def read_gitt(
    path: str | os.PathLike,
    *,
    fmt: str | None = None,
    design: str | None = None,
    cell: str | None = None,
    capacity_mah: float | None = None,
    area_cm2: float | None = None,
    current_unit: str | None = None,
    temperature_c: float | None = None,
    current_sign: str = "auto",
    decimal: str = "auto",
) -> xr.Dataset:
    """Read a GITT (chronopotentiometry) record.

    Parameters
    ----------
    path
        CSV/TSV, BioLogic ``.mpt`` / ``.mpr``, Gamry ``.DTA`` (CHRONOP ``CURVE`` tables) or
        Neware ``.nda`` / ``.ndax`` (through fastnda).
    fmt
        ``csv``, ``mpt``, ``mpr``, ``dta`` or ``nda``; detected when ``None``.
    design, cell, capacity_mah, area_cm2, temperature_c
        Metadata stored in the attributes (capacity in mAh; 0, negative and NaN are refused,
        leave it out when unknown).
    current_unit
        Unit of the current column when its header names none (``"mA"``, ``"A"``, ...);
        without it a unit-less current is taken as A and listed in ``units_assumed``.
    current_sign
        ``"auto"``, ``"flip"`` (negate the current: for files with charge negative) or
        ``"as-is"``; see :func:`detect_pulses`.
    decimal
        As for :func:`read_spectra`.

    Returns
    -------
    xr.Dataset
        Dim ``time`` (s from the first sample); vars ``current`` (A, discharge negative),
        ``voltage`` (V); attrs as for spectra plus ``capacity_mah``.
    """
    table, _, sha = load_table(path, fmt, "gitt", decimal)
    return gitt_from_table(table, current_unit=current_unit, source_sha256=sha,
                           extra_attrs=dict(table.meta), design=design, cell=cell,
                           capacity_mah=capacity_mah, area_cm2=area_cm2,
                           temperature_c=temperature_c, current_sign=current_sign)
