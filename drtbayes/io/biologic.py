"""BioLogic EC-Lab files: ``.mpt`` text exports and ``.mpr`` binaries (parsed with galvani)."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import FileFormatError, TruncatedFileError
from ._text import Table, table_from_lines
from .csv import csv_table

_MAGIC_LINES = ("EC-Lab ASCII FILE", "BT-Lab ASCII FILE")
_NB_HEADER = re.compile(r"^\s*Nb header lines\s*:\s*(\d+)\s*$")
#: No real EC-Lab export has a header this long; a larger number means a corrupt file.
_MAX_HEADER_LINES = 100_000


def mpt_table(path: Path, text: str) -> Table:
    """Parse an EC-Lab ``.mpt`` export (long header announced by ``Nb header lines : N``)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() not in _MAGIC_LINES:
        # exports saved without the header are plain tab-separated text
        return csv_table(path, text, fmt="mpt")
    if len(lines) < 2:
        raise TruncatedFileError(f"{path}: ends after the first line; export it again")
    m = _NB_HEADER.match(lines[1])
    if m is None:
        raise FileFormatError(
            f"{path}: line 2 should read 'Nb header lines : N' in an EC-Lab export but reads "
            f"{lines[1].strip()[:60]!r}; export the file again from EC-Lab"
        )
    n_header = int(m.group(1))
    if n_header < 3 or n_header > _MAX_HEADER_LINES:
        raise FileFormatError(f"{path}: line 2: header length {n_header} is not possible")
    if len(lines) < n_header:
        raise TruncatedFileError(
            f"{path}: header announces {n_header} header lines but the file has only "
            f"{len(lines)} lines: it is cut short; export or copy it again"
        )
    return table_from_lines(lines, n_header - 1, path, "mpt", sep="\t",
                            text_ends_with_newline=text.endswith(("\n", "\r")))


def mpr_table(path: Path, data: bytes) -> tuple[Table, list[int]]:
    """Parse an EC-Lab binary ``.mpr`` with galvani; returns the table and loop start records."""
    try:
        from galvani.BioLogic import MPR_MAGIC, MPRfile
    except ImportError:  # pragma: no cover - galvani is a core dependency
        raise FileFormatError(f"{path}: reading .mpr needs the 'galvani' package") from None
    if not data.startswith(MPR_MAGIC[:22]):
        raise FileFormatError(
            f"{path}: does not start with the BioLogic binary signature 'BIO-LOGIC MODULAR "
            "FILE', so it is not an .mpr file; export the data as text (.mpt) instead"
        )
    if len(data) < len(MPR_MAGIC):
        raise TruncatedFileError(f"{path}: ends inside the file signature: the file is cut short")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mpr = MPRfile(io.BytesIO(data))
            names = [n for n in mpr.dtype.names if n != "flags"]
            columns = {n: np.asarray(mpr.data[n], dtype=np.float64) for n in names}
            n = int(mpr.data.shape[0])
            loops = [] if mpr.loop_index is None else [int(x) for x in mpr.loop_index]
    except (OSError, EOFError) as exc:
        raise TruncatedFileError(
            f"{path}: the binary file ends before its modules do ({str(exc).splitlines()[0]}); "
            "it is cut short, copy it again from the instrument PC"
        ) from None
    except Exception as exc:  # galvani raises ValueError, AssertionError, NotImplementedError...
        msg = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        if "buffer size" in msg or "multiple of element size" in msg:
            raise TruncatedFileError(
                f"{path}: the data block has a partial record: the file is cut short; copy it "
                "again") from None
        raise FileFormatError(
            f"{path}: galvani cannot parse this .mpr ({msg}); export it as text (.mpt) from "
            "EC-Lab and read that"
        ) from None
    if n == 0:
        from ..errors import EmptyFileError

        raise EmptyFileError(f"{path}: the .mpr holds no data points")
    table = Table(path, "mpr", names, columns, np.arange(n, dtype=np.int64), row_word="record")
    return table, loops
