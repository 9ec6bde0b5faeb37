"""Maccor cycler text exports (``.0NN`` files, "Today's Date ... Rec# Cyc# Step ...").

The export is tab-separated below one line of file facts. ``Test (Sec)``, ``Amps`` and ``Volts``
are the time, current and voltage. Depending on the export settings ``Amps`` is signed
(discharge negative) or a magnitude with the direction only in the ``State`` column (``C``
charge, ``D`` discharge, ``R`` rest); the second kind is signed here from ``State`` and that
is recorded, so a discharge is never read as a charge.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ColumnError
from ._text import Table, table_from_lines

# Maccor column -> canonical name understood by the column recognition
_MACCOR_NAMES = {"Test (Sec)": "time_s", "Amps": "current_a", "Volts": "voltage_v"}


def is_maccor(head: str) -> bool:
    """Whether the first lines of a text file are a Maccor export's."""
    lines = head.lstrip("\ufeff").splitlines()[:3]
    return bool(lines) and (lines[0].startswith("Today's Date")
                            or any(ln.startswith("Rec#\tCyc#") for ln in lines))


def maccor_table(path: Path, text: str) -> Table:
    """Parse a Maccor text export into a :class:`Table` (current signed, discharge < 0)."""
    lines = text.splitlines()
    header = next((i for i, ln in enumerate(lines[:20]) if ln.startswith("Rec#")), None)
    if header is None:
        raise ColumnError(f"{path}: a Maccor export without its column line (Rec#, Cyc#, "
                          "Step, Test (Sec), ... Amps, Volts, State); export it again")
    table = table_from_lines(lines, header, path, "maccor", sep="\t",
                             text_ends_with_newline=text.endswith(("\n", "\r")))
    missing = [n for n in _MACCOR_NAMES if n not in table.columns]
    if missing:
        raise ColumnError(f"{path}: line {header + 1}: the Maccor columns "
                          f"{', '.join(map(repr, missing))} are missing; columns found: "
                          f"{', '.join(map(repr, table.names[:30]))}")
    columns = {_MACCOR_NAMES.get(n, n): table.columns[n] for n in table.names}
    table.columns, table.names = columns, list(columns)
    table.meta = {"maccor_current_signed_from_state": 0}
    state = table.columns.get("State")
    if state is not None and not isinstance(state, np.ndarray):
        amps = table.numeric("current_a")
        discharge = np.array([s.strip().upper() == "D" for s in state])
        if discharge.any() and np.all(amps[np.isfinite(amps)] >= 0):
            table.columns["current_a"] = np.where(discharge, -amps, amps)
            table.meta = {"maccor_current_signed_from_state": 1}
    return table
