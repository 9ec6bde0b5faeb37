"""Neware cycler files ``.nda`` / ``.ndax``, read with fastnda (the maintained reader of both).

fastnda returns one row per record with ``total_time_s``, ``current_mA`` (charge positive,
discharge negative, as drtbayes wants) and ``voltage_V``; they are renamed to the canonical
column names so that the generic GITT building applies, and the step type (``CC_DChg``,
``Rest``, ...) is kept in the table for reference.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import EmptyFileError, FileFormatError
from ._text import Table

# fastnda column -> canonical name understood by the column recognition
_NEWARE_NAMES = {"total_time_s": "time_s", "current_mA": "I/mA", "voltage_V": "voltage_v"}


def nda_table(path: Path) -> Table:
    """Read a Neware ``.nda`` or ``.ndax`` file into a :class:`Table` (needs ``fastnda``)."""
    try:
        import fastnda
    except ImportError:
        raise FileFormatError(f"{path}: reading Neware .nda/.ndax files needs the 'fastnda' "
                              "package: pip install fastnda (or drtbayes[cyclers])") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = fastnda.read(path, cycle_mode="raw")
    except Exception as exc:  # fastnda raises ValueError, KeyError, struct.error, zip errors...
        msg = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise FileFormatError(f"{path}: fastnda cannot read this Neware file ({msg}); export "
                              "it again from BTSDA, or export it as CSV") from None
    missing = [c for c in _NEWARE_NAMES if c not in frame.columns]
    if missing:
        raise FileFormatError(f"{path}: the Neware file has no {', '.join(missing)} column; "
                              f"columns found: {', '.join(frame.columns)}")
    if frame.height == 0:
        raise EmptyFileError(f"{path}: the Neware file holds no records")
    columns: dict[str, list[str] | np.ndarray] = {}
    for name in frame.columns:
        series = frame[name]
        if series.dtype.is_numeric():
            columns[_NEWARE_NAMES.get(name, name)] = series.to_numpy().astype(np.float64)
    names = list(columns)
    table = Table(path, "nda", names, columns, np.arange(frame.height, dtype=np.int64),
                  row_word="record")
    if "step_type" in frame.columns:
        kinds = frame["step_type"].cast(str).unique(maintain_order=True).to_list()
        table.meta = {"neware_step_types": ", ".join(str(k) for k in kinds)}
    return table
