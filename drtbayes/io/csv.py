"""Delimited text (CSV, TSV, semicolon, whitespace) with a header line naming the columns.

Headerless numeric text with three columns is the native format of pyDRTtools and
impedance.py: it is read as frequency (Hz), Z' (ohm), Z'' (ohm) in that order when the first
column looks like a frequency sweep, and the table is marked ``headerless`` so that the
spectrum's attrs say what was assumed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import ColumnError, EmptyFileError
from ._text import Table, table_from_lines

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$",
                     re.IGNORECASE)
_TOKEN_SPLIT = re.compile(r"[,;\t ]+")
#: Column names given to a headerless three-column spectrum file.
HEADERLESS_SPECTRUM = ["frequency_hz", "z_real_ohm", "z_imag_ohm"]


def _looks_numeric(line: str) -> bool:
    tokens = [t for t in _TOKEN_SPLIT.split(line.strip().strip('"')) if t]
    return len(tokens) >= 2 and all(_NUMBER.match(t.strip('"')) for t in tokens)


def _headerless_separator(line: str) -> str | None:
    """Comma or semicolon when the line holds one, else runs of whitespace (tabs, spaces)."""
    for sep in (";", ","):
        if sep in line:
            return sep
    return None


def _looks_like_sweep(freq: np.ndarray) -> bool:
    """Whether a column reads as an impedance frequency sweep.

    EIS frequencies are positive (0 Hz end-of-loop rows aside), span at least a decade and are
    spaced about evenly in log f; a time column (linear spacing: log steps shrinking 100-fold
    along the record) or a current column fails this, so a headerless GITT export is never
    taken for a spectrum.
    """
    f = freq[np.isfinite(freq) & (freq > 0)]
    if f.size < 4 or f.size < 0.9 * np.isfinite(freq).sum():
        return False
    lf = np.log10(f)
    if lf.max() - lf.min() < 1.0:
        return False
    step = np.abs(np.diff(lf))
    step = step[step > 0]
    if step.size < 3:
        return False
    lo, hi = np.percentile(step, [10, 90])
    return bool(hi <= 20 * lo)


def csv_table(path: Path, text: str, fmt: str = "csv", want: str = "spectrum") -> Table:
    """Parse delimited text into a :class:`Table`.

    The header is the last non-blank, non-comment (``#``) line above the first numeric line,
    so a few free-text lines at the top of an export are skipped. A file of three numeric
    columns without any header is read as f, Z', Z'' when ``want`` is ``"spectrum"`` and the
    first column looks like a frequency sweep.
    """
    lines = text.splitlines()
    header = None
    first_numeric = None
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if _looks_numeric(s):
            first_numeric = i
            break
        header = i
    ends_nl = text.endswith(("\n", "\r"))
    if header is None:
        if first_numeric is None:
            raise EmptyFileError(f"{path}: no data found (no header line and no numbers)")
        table = _headerless(lines, first_numeric, path, fmt, want, ends_nl)
        if table is not None:
            return table
        raise ColumnError(
            f"{path}: line {first_numeric + 1}: numbers without a header line above them; add "
            "a header such as 'frequency_hz,z_real_ohm,z_imag_ohm' or 'time_s,current_a,"
            "voltage_v' (a headerless file is read only as a spectrum of exactly three "
            "columns f, Z', Z'' with log-spaced frequencies)"
        )
    if first_numeric is None:
        raise EmptyFileError(
            f"{path}: no numeric data rows below the header (line {header + 1}); export the "
            "measurement again"
        )
    return table_from_lines(lines, header, path, fmt, text_ends_with_newline=ends_nl)


def _headerless(lines: list[str], first: int, path: Path, fmt: str, want: str,
                ends_nl: bool) -> Table | None:
    """Read a headerless spectrum file as f, Z', Z''; None when it is not one."""
    if want != "spectrum":
        return None
    sep = _headerless_separator(lines[first])
    fields = [t for t in (lines[first].split(sep) if sep else lines[first].split())]
    if sep is None:
        ncol = len(fields)
    else:
        ncol = len(fields) - (1 if not fields[-1].strip() else 0)
    if ncol != 3:
        return None
    table = table_from_lines(lines, first - 1, path, fmt, sep=sep, first_data=first,
                             header_names=HEADERLESS_SPECTRUM, text_ends_with_newline=ends_nl)
    if not _looks_like_sweep(table.numeric("frequency_hz")):
        return None
    table.headerless = True
    return table
