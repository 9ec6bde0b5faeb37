"""Gamry EXPLAIN ``.DTA`` files: EISPOT (``ZCURVE`` table) and CHRONOP / CHRONOA (``CURVE``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import ColumnError, FileFormatError, TruncatedFileError
from ._text import Table, table_from_lines

# Gamry column -> canonical header understood by the column recognition
_GAMRY_NAMES = {"Freq": "frequency_hz", "Zreal": "z_real_ohm", "Zimag": "z_imag_ohm",
                "T": "time_s", "Vf": "voltage_v", "Im": "current_a"}
_CURVE = re.compile(r"^CURVE\d*$")


def _tables(path: Path, lines: list[str]) -> list[tuple[str, int, int | None, int]]:
    """(name, header line index, declared row count, end index) of every TABLE block."""
    out = []
    i = 0
    while i < len(lines):
        fields = lines[i].split("\t")
        if len(fields) >= 2 and fields[1].strip() == "TABLE" and not lines[i].startswith("\t"):
            name = fields[0].strip()
            count = None
            if len(fields) >= 3 and fields[2].strip().isdigit():
                count = int(fields[2].strip())
            if i + 1 >= len(lines):
                raise TruncatedFileError(f"{path}: line {i + 1}: table {name} has no column "
                                         "header: the file is cut short")
            j = i + 3
            while j < len(lines) and lines[j].startswith("\t"):
                j += 1
            out.append((name, i + 1, count, j))
            i = j
        else:
            i += 1
    return out


def dta_table(path: Path, text: str, want: str) -> Table:
    """Parse a Gamry ``.DTA``; ``want`` is ``"spectrum"`` (ZCURVE) or ``"gitt"`` (CURVE*)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "EXPLAIN":
        raise FileFormatError(f"{path}: a Gamry .DTA starts with 'EXPLAIN' on line 1; this file "
                              "does not. Check the file or pass fmt=")
    tag = ""
    for line in lines[:50]:
        f = line.split("\t")
        if f[0] == "TAG" and len(f) > 1:
            tag = f[1].strip()
            break
    tables = _tables(path, lines)
    if want == "spectrum":
        chosen = [t for t in tables if t[0] == "ZCURVE"]
        if not chosen:
            raise ColumnError(f"{path}: no ZCURVE table (impedance data) in this {tag or 'Gamry'} "
                              "file; tables found: " + ", ".join(t[0] for t in tables)
                              + ("; for chronopotentiometry use read_gitt" if tables else ""))
    else:
        chosen = [t for t in tables if _CURVE.match(t[0])]
        if not chosen:
            raise ColumnError(f"{path}: no CURVE table (time series) in this {tag or 'Gamry'} "
                              "file; tables found: " + ", ".join(t[0] for t in tables))
    parts: list[Table] = []
    for name, hdr, count, end in chosen:
        if hdr + 1 >= len(lines):
            raise TruncatedFileError(f"{path}: table {name} (line {hdr}) ends before its units "
                                     "row: the file is cut short")
        t = table_from_lines(lines, hdr, path, "dta", sep="\t", expected_rows=count,
                             first_data=hdr + 2, stop=end,
                             text_ends_with_newline=text.endswith(("\n", "\r")))
        t.units = {}
        renamed: dict[str, object] = {}
        names = []
        drift = "ZrealDrCor" in t.columns and "ZimagDrCor" in t.columns
        for k, n in enumerate(t.names):
            new = n
            if drift and n in ("Zreal", "Zimag"):
                new = f"{n} (not drift-corrected)"
            elif drift and n in ("ZrealDrCor", "ZimagDrCor"):
                new = _GAMRY_NAMES[n[:5]]
            elif n in _GAMRY_NAMES:
                new = _GAMRY_NAMES[n]
            elif not n:
                new = f"(unnamed column {k})"
            renamed[new] = t.columns[n]
            names.append(new)
        t.columns = renamed
        t.names = names
        t.meta = {"gamry_tag": tag, "gamry_table": name, "gamry_drift_corrected": int(drift)}
        parts.append(t)
    if len(parts) == 1:
        return parts[0]
    # CHRONOP with several steps writes CURVE1, CURVE2, ...: join them in file order
    names = [n for n in parts[0].names if all(n in p.columns for p in parts)]
    cols = {n: [p.numeric(n) for p in parts] for n in names}
    offsets = []
    if "time_s" in cols:
        # each CURVEn restarts its clock at 0; put the steps one after the other and record it
        shift = 0.0
        prev_end = -np.inf
        for k, tk in enumerate(cols["time_s"]):
            if k and tk.size and np.isfinite(tk[0]) and tk[0] + shift < prev_end:
                shift = prev_end - tk[0]
            offsets.append(shift)
            cols["time_s"][k] = tk + shift
            finite = tk[np.isfinite(tk)]
            prev_end = float(finite[-1] + shift) if finite.size else shift
    joined_cols = {n: np.concatenate(v) for n, v in cols.items()}
    rows = np.concatenate([p.rows for p in parts])
    joined = Table(path, "dta", names, joined_cols, rows)
    joined.meta = {**parts[0].meta, "gamry_table": "+".join(t[0] for t in chosen),
                   "gamry_time_offsets_s": str(offsets)}
    return joined
