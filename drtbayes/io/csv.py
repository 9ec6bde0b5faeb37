"""Delimited text (CSV, TSV, semicolon, whitespace) with a header line naming the columns."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import ColumnError, EmptyFileError
from ._text import Table, table_from_lines

_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$|^[+-]?(nan|inf|infinity)$",
                     re.IGNORECASE)
_TOKEN_SPLIT = re.compile(r"[,;\t ]+")


def _looks_numeric(line: str) -> bool:
    tokens = [t for t in _TOKEN_SPLIT.split(line.strip().strip('"')) if t]
    return len(tokens) >= 2 and all(_NUMBER.match(t.strip('"')) for t in tokens)


def csv_table(path: Path, text: str, fmt: str = "csv") -> Table:
    """Parse delimited text into a :class:`Table`.

    The header is the last non-blank, non-comment (``#``) line above the first numeric line,
    so a few free-text lines at the top of an export are skipped.
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
    if header is None:
        if first_numeric is None:
            raise EmptyFileError(f"{path}: no data found (no header line and no numbers)")
        raise ColumnError(
            f"{path}: line {first_numeric + 1}: numbers without a header line above them; add "
            "a header such as 'frequency_hz,z_real_ohm,z_imag_ohm' or 'time_s,current_a,"
            "voltage_v'"
        )
    if first_numeric is None:
        raise EmptyFileError(
            f"{path}: no numeric data rows below the header (line {header + 1}); export the "
            "measurement again"
        )
    return table_from_lines(lines, header, path, fmt,
                            text_ends_with_newline=text.endswith(("\n", "\r")))
