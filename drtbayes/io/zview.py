"""Scribner ZView ``Z60W`` text exports (written by Autolab/NOVA and others) and ZPlot ``.z``.

Both carry a fixed set of columns (``Freq(Hz)``, ``Ampl``, ``Bias``, ``Time(Sec)``, ``Z'(a)``,
``Z''(b)``, ``GD``, ``Err``, ``Range``); ``Z'(a)`` and ``Z''(b)`` are the real and imaginary parts
in ohm with Z'' < 0 on capacitive arcs. Their names would not survive the generic header
recognition (``(a)`` reads as the unit ampere), so the columns are renamed here, as the Gamry
reader does.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

from ..errors import ColumnError, DataWarning, FileFormatError, TruncatedFileError
from ._text import Table, table_from_lines

#: ZView column -> canonical name understood by the column recognition.
_ZVIEW_NAMES = {"freq(hz)": "frequency_hz", "z'(a)": "z_real_ohm", "z''(b)": "z_imag_ohm",
                "time(sec)": "time_s"}
_DATA_POINTS = re.compile(r"^\s*Data Points:\s*(\d+)\s*$")


def is_zview(head: str) -> bool:
    """Whether the first line of a text file is the ZView or ZPlot signature."""
    first = head.lstrip("\ufeff").split("\n", 1)[0].strip().strip('"')
    return first.startswith(("Z60W Data File", "ZPLOT2 ASCII"))


def _names(header: str) -> list[str]:
    """Column names from a ZView header: ``Freq (Hz)`` and ``Freq(Hz)`` are one name."""
    tokens = header.strip().strip('"').split()
    names: list[str] = []
    for t in tokens:
        if t.startswith("(") and names:
            names[-1] += t
        else:
            names.append(t)
    return [_ZVIEW_NAMES.get(n.lower(), n) for n in names]


def zview_table(path: Path, text: str) -> Table:
    """Parse a ZView ``Z60W`` export or a ZPlot ``.z`` file into a :class:`Table`."""
    lines = text.splitlines()
    first = lines[0].lstrip("\ufeff").strip().strip('"') if lines else ""
    zplot = first.startswith("ZPLOT2 ASCII")
    header = next((i for i, ln in enumerate(lines[1:], 1)
                   if "Freq" in ln and "Z'" in ln), None)
    if header is None:
        raise ColumnError(f"{path}: a {'ZPlot' if zplot else 'ZView'} file without its column "
                          "line (Freq(Hz) ... Z'(a) Z''(b)); export the data again")
    names = _names(lines[header])
    if "frequency_hz" not in names or "z_real_ohm" not in names or "z_imag_ohm" not in names:
        raise ColumnError(f"{path}: line {header + 1}: expected the columns Freq(Hz), Z'(a) "
                          f"and Z''(b), found {', '.join(names)}")
    expected = planned = None
    if zplot:
        # the column line sits inside the comment block; the data start after "End Comments"
        end = next((i for i in range(header, len(lines))
                    if lines[i].strip().startswith("End Comments")), None)
        if end is None:
            raise TruncatedFileError(f"{path}: no 'End Comments' line after the column line: "
                                     "the file is cut short; export it again")
        first_data = end + 1
        sep = "\t"
        # "Data Points" is the number of points the sweep was set up for, not the number
        # written: a sweep stopped early has fewer, and that is said, not refused
        planned = next((int(m.group(1)) for ln in lines[:header]
                        if (m := _DATA_POINTS.match(ln))), None)
    else:
        # Z60W: the line above the column line holds the number of points
        if header >= 1 and lines[header - 1].strip().isdigit():
            expected = int(lines[header - 1].strip())
        first_data = header + 1
        if first_data >= len(lines):
            raise TruncatedFileError(f"{path}: ends after the column line: the file is cut "
                                     "short; export it again")
        sample = lines[first_data]
        sep = "," if "," in sample else ("\t" if "\t" in sample else None)
    if expected is not None and expected <= 0:
        raise FileFormatError(f"{path}: the header announces {expected} data points")
    table = table_from_lines(lines, header, path, "zview", sep=sep, expected_rows=expected,
                             first_data=first_data, header_names=names,
                             text_ends_with_newline=text.endswith(("\n", "\r")))
    table.meta = {"zview_format": "ZPlot .z" if zplot else "ZView Z60W"}
    if zplot and planned is not None and planned != table.rows.size:
        table.meta["zplot_points_planned"] = planned
        warnings.warn(f"{path}: the header sets up {planned} frequencies but the file holds "
                      f"{table.rows.size}: the sweep was stopped early (or resumed); the "
                      f"{table.rows.size} points written are read", DataWarning, stacklevel=4)
    return table
