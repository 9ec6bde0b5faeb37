"""Shared text handling of the readers: size limit, decoding, tables, column and unit names.

Every reader turns its file into a :class:`Table` (column name -> float array, with the file row
of every record), and the column recognition here maps the header names instruments and people
write (``freq/Hz``, ``Re(Z)/Ohm``, ``-Z''``, ``<I>/mA``, ``time/h``, ...) to the quantities
drtbayes needs, with the unit scale taken from the header.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import (
    ColumnError,
    EmptyFileError,
    EncodingError,
    FileFormatError,
    TruncatedFileError,
    UnitError,
)

#: Files larger than this are refused (bytes). A 100-pulse GITT export is a few MB; a file of
#: hundreds of MB is almost always the wrong file (a raw oscilloscope dump, a video) and reading
#: it would take minutes and gigabytes of memory. Raise it by assigning to it.
MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass
class Table:
    """Numeric columns of one file, as read, before any unit conversion or validation.

    Attributes
    ----------
    path
        The source file (used in every error message).
    fmt
        ``csv``, ``mpt``, ``mpr`` or ``dta``.
    names
        Column names in file order.
    columns
        Column name -> raw column text or numbers; numbers are parsed lazily with
        :meth:`numeric` so that text columns (dates, flags) never break a read.
    rows
        1-based file line (text) or 0-based record number (binary) of every record.
    units
        Column name -> unit given outside the name (the Gamry units row), if any.
    row_word
        How rows are called in messages: ``line`` for text files, ``record`` for binary ones.
    meta
        Extra facts about the file (header values) for the attrs.
    """

    path: Path
    fmt: str
    names: list[str]
    columns: dict[str, list[str] | np.ndarray]
    rows: np.ndarray
    units: dict[str, str] = field(default_factory=dict)
    row_word: str = "line"
    meta: dict[str, object] = field(default_factory=dict)

    def numeric(self, name: str) -> np.ndarray:
        """Column ``name`` as float64; a token that is not a number raises FileFormatError."""
        col = self.columns[name]
        if isinstance(col, np.ndarray):
            return col.astype(np.float64, copy=False)
        return parse_numbers(col, self, name)


def read_limited(path: str | os.PathLike) -> tuple[Path, bytes]:
    """Read a file's bytes, refusing missing, non-regular, empty and oversized files."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise FileFormatError(f"{path}: file not found; check the path") from None
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror})") from None
    if not path.is_file():
        raise FileFormatError(f"{path}: is not a regular file; give the path of a data file")
    if st.st_size > MAX_FILE_BYTES:
        raise FileFormatError(
            f"{path}: file is {st.st_size / 2**20:.0f} MiB, above the reader limit of "
            f"{MAX_FILE_BYTES / 2**20:.0f} MiB; check that this is the right file, split it, or "
            "raise drtbayes.io._text.MAX_FILE_BYTES"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise EmptyFileError(f"{path}: file is empty; export the measurement again")
    return path, data


# C0 control characters that never occur in a text export (tab, newlines, form feed and the
# DOS end-of-file mark 0x1a are allowed).
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")


def decode_text(data: bytes, path: Path) -> str:
    """Decode a text export: UTF-8 (with or without BOM), UTF-16 with BOM, else latin-1.

    EC-Lab writes latin-1 (``µ``, ``°``, ``²`` as single bytes), Gamry writes either. latin-1
    decodes any byte string, so binary content is recognised by its control bytes and refused
    with :class:`EncodingError` instead of being parsed as garbage.
    """
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise EncodingError(
                f"{path}: starts with a UTF-16 byte-order mark but byte {exc.start} does not "
                "decode as UTF-16; save the file again as UTF-8 or latin-1 text"
            ) from None
    m = _BINARY_BYTES.search(data)
    if m is not None:
        line = data.count(b"\n", 0, m.start()) + 1
        raise EncodingError(
            f"{path}: line {line} holds the binary byte 0x{data[m.start()]:02x} (offset "
            f"{m.start()}), so this is not a text export; export the data as text (CSV, .mpt, "
            ".DTA) or give a BioLogic binary file the .mpr extension"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_numbers(tokens: list[str], table: Table, name: str) -> np.ndarray:
    """Parse text tokens to float64; decimal commas are accepted.

    The fast path hands the whole column to numpy; only when that fails is the column walked
    token by token to name the offending row in the error.
    """
    if any("," in t for t in tokens[:50]) or any("," in t for t in tokens[-50:]):
        tokens = [t.replace(",", ".") for t in tokens]
    try:
        return np.array(tokens, dtype=np.float64)
    except (ValueError, OverflowError):
        pass
    out = np.empty(len(tokens), dtype=np.float64)
    for i, tok in enumerate(tokens):
        t = tok.strip().replace(",", ".")
        try:
            out[i] = float(t)
        except ValueError:
            if t == "":
                out[i] = np.nan
                continue
            raise FileFormatError(
                f"{table.path}: {table.row_word} {int(table.rows[i])}, column {name!r}: "
                f"{tok.strip()[:40]!r} is not a number; fix or delete that value"
            ) from None
    return out


# --- delimited text -------------------------------------------------------------------------


def _split_line(line: str, sep: str | None) -> list[str]:
    if sep is None:
        return line.split()
    if '"' in line:
        return next(csv.reader([line], delimiter=sep))
    return line.split(sep)


def guess_separator(header: str) -> str | None:
    """Tab, semicolon or comma from the header line; ``None`` means runs of whitespace."""
    for sep in ("\t", ";", ","):
        if sep in header:
            return sep
    return None


def table_from_lines(
    lines: list[str],
    header_index: int,
    path: Path,
    fmt: str,
    *,
    sep: str | None = None,
    expected_rows: int | None = None,
    text_ends_with_newline: bool = True,
    first_data: int | None = None,
    stop: int | None = None,
) -> Table:
    """Build a :class:`Table` from a header line and the data lines below it.

    Parameters
    ----------
    lines
        All lines of the file (without line ends).
    header_index
        0-based index of the column-name line.
    sep
        Separator; guessed from the header when ``None``.
    expected_rows
        Number of data rows the file header promises (TruncatedFileError when fewer).
    text_ends_with_newline
        Whether the file ends with a line break (a last row cut short without one is a
        truncated file).
    first_data, stop
        0-based index of the first data line (default: the line after the header) and of the
        line that ends the table (default: end of file).
    """
    header = lines[header_index].lstrip("\ufeff")
    if sep is None:
        sep = guess_separator(header)
    names = [_clean_name(n) for n in _split_line(header.strip("\r\n"), sep)]
    while names and names[-1] == "":
        names.pop()
    if not names:
        raise ColumnError(f"{path}: line {header_index + 1}: no column names found")
    ncol = len(names)
    data_tokens: list[list[str]] = []
    rows: list[int] = []
    stop = len(lines) if stop is None else stop
    start = header_index + 1 if first_data is None else first_data
    for i in range(start, stop):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _split_line(line.rstrip("\r\n"), sep)
        if len(fields) < ncol:
            is_last = all(not rest.strip() for rest in lines[i + 1 :])
            if is_last:
                raise TruncatedFileError(
                    f"{path}: line {i + 1} has {len(fields)} of {ncol} columns and is the last "
                    "line: the file looks cut short; export or copy it again"
                )
            raise FileFormatError(
                f"{path}: line {i + 1} has {len(fields)} fields but the header (line "
                f"{header_index + 1}) names {ncol} columns; fix that line or the separator"
            )
        if len(fields) > ncol and any(f.strip() for f in fields[ncol:]):
            raise FileFormatError(
                f"{path}: line {i + 1} has {len(fields)} fields but the header (line "
                f"{header_index + 1}) names {ncol} columns; with decimal commas use ';' or tab "
                "as the separator"
            )
        data_tokens.append(fields[:ncol])
        rows.append(i + 1)
    if not data_tokens:
        raise EmptyFileError(
            f"{path}: no data rows below the header (line {header_index + 1}); export the "
            "measurement again"
        )
    if expected_rows is not None and len(data_tokens) < expected_rows:
        raise TruncatedFileError(
            f"{path}: header promises {expected_rows} data rows but only {len(data_tokens)} "
            "are present: the file looks cut short; export or copy it again"
        )
    # A last line without a line break whose final number is shorter than its neighbours is
    # the typical trace of an interrupted copy.
    if not text_ends_with_newline and len(data_tokens) > 2:
        last = data_tokens[-1][-1].strip()
        prev = data_tokens[-2][-1].strip()
        if len(last) < len(prev) - 2 and ("e" in prev.lower() and "e" not in last.lower()):
            raise TruncatedFileError(
                f"{path}: line {rows[-1]} ends in the middle of a number ({last!r}): the file "
                "looks cut short; export or copy it again"
            )
    cols = list(zip(*data_tokens, strict=True))
    columns: dict[str, list[str] | np.ndarray] = {}
    unique_names = []
    for j, n in enumerate(names):
        key = n
        k = 2
        while key in columns:
            key = f"{n} ({k})"
            k += 1
        columns[key] = [c.strip() for c in cols[j]]
        unique_names.append(key)
    return Table(path, fmt, unique_names, columns, np.asarray(rows, dtype=np.int64))


def _clean_name(name: str) -> str:
    name = name.strip().strip("\ufeff").strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'" and name.count(name[0]) == 2:
        name = name[1:-1].strip()
    return name


# --- column names and units -----------------------------------------------------------------

_PRIMES = str.maketrans({"’": "'", "′": "'", "‘": "'", "″": "''", "“": "''", "”": "''",
                         "−": "-", "–": "-", "\u00a0": " "})

_ROLE_NAMES: dict[str, set[str]] = {
    "frequency": {"f", "freq", "frequency", "fr", "freq.", "frequenz"},
    "z_real": {"z'", "zre", "zreal", "re(z)", "real", "rez", "re", "z_re", "zr", "re(z)",
               "realz"},
    "z_imag": {"z''", 'z"', "zim", "zimag", "im(z)", "imaginary", "imag", "imz", "zi",
               "imagz", "z_im"},
    "z_mod": {"|z|", "abs(z)", "zmod", "mod(z)", "modulus", "|z|(ohm)", "magnitude"},
    "phase": {"phase", "phase(z)", "zphz", "phz", "arg(z)", "theta", "phi", "phaseangle"},
    "time": {"time", "t", "elapsedtime", "testtime", "totaltime", "time(s)", "runtime"},
    "current": {"i", "<i>", "current", "iwe", "<iwe>", "cur"},
    "voltage": {"ewe", "<ewe>", "e", "voltage", "v", "ecell", "<ecell>", "u", "potential",
                "cellvoltage", "vcell", "ewe-ece", "<ewe/v>"},
    "cycle": {"cyclenumber", "cycle", "loop", "loopnumber", "zcycle", "cycleno", "cycle_number",
              "loopindex"},
}
# underscores and spaces are dropped before look-up ("z_real" == "zreal", "cycle number")
_ROLE_LOOKUP = {n.replace("_", "").replace(" ", ""): role
                for role, names in _ROLE_NAMES.items() for n in names}

# base unit -> (quantity, scale to SI-ish unit drtbayes uses)
_BASE_UNITS: dict[str, tuple[str, float]] = {
    "hz": ("frequency", 1.0), "ohm": ("impedance", 1.0), "ω": ("impedance", 1.0),
    "ohms": ("impedance", 1.0), "s": ("time", 1.0), "sec": ("time", 1.0),
    "min": ("time", 60.0), "h": ("time", 3600.0), "hr": ("time", 3600.0),
    "hours": ("time", 3600.0), "a": ("current", 1.0), "v": ("voltage", 1.0),
    "deg": ("angle", 1.0), "°": ("angle", 1.0), "degree": ("angle", 1.0),
    "degrees": ("angle", 1.0), "rad": ("angle", 180.0 / np.pi),
}
_PREFIX = {"m": 1e-3, "M": 1e6, "k": 1e3, "K": 1e3, "u": 1e-6, "µ": 1e-6, "μ": 1e-6,
           "n": 1e-9, "G": 1e9}
_ROLE_QUANTITY = {"frequency": "frequency", "z_real": "impedance", "z_imag": "impedance",
                  "z_mod": "impedance", "phase": "angle", "time": "time", "current": "current",
                  "voltage": "voltage", "cycle": None}
_DEFAULT_UNIT = {"frequency": "Hz", "z_real": "Ohm", "z_imag": "Ohm", "z_mod": "Ohm",
                 "phase": "deg", "time": "s", "current": "A", "voltage": "V"}
_ACCEPTED_UNITS = {"frequency": "Hz, kHz, mHz, MHz", "impedance": "Ohm, mOhm, kOhm, MOhm",
                   "time": "s, ms, min, h", "current": "A, mA, uA, nA", "voltage": "V, mV",
                   "angle": "deg, rad"}


def unit_scale(unit: str) -> tuple[str, float] | None:
    """(quantity, scale) of a unit string such as ``mOhm``, ``kHz``, ``h``; None if unknown."""
    u = unit.strip().translate(_PRIMES)
    if not u:
        return None
    low = u.lower()
    if low in _BASE_UNITS:
        return _BASE_UNITS[low]
    if low == "ms":
        return ("time", 1e-3)
    if len(u) > 1 and u[0] in _PREFIX and u[1:].lower() in _BASE_UNITS:
        q, s = _BASE_UNITS[u[1:].lower()]
        if q in ("time", "angle"):
            return None
        return (q, s * _PREFIX[u[0]])
    return None


_UNIT_TAIL = re.compile(r"^(?P<base>.*?)\s*(?:\[(?P<u1>[^\[\]]*)\]|\((?P<u2>[^()]*)\))\s*$")


def split_name_unit(name: str) -> tuple[str, str | None]:
    """Split a column header into (base name, unit string or None)."""
    n = name.strip().translate(_PRIMES)
    if "/" in n:
        base, unit = n.rsplit("/", 1)
        if unit_scale(unit) is not None or unit.strip() == "":
            return base.strip(), unit.strip() or None
    m = _UNIT_TAIL.match(n)
    if m:
        unit = m.group("u1") if m.group("u1") is not None else m.group("u2")
        if unit is not None and unit_scale(unit) is not None:
            return m.group("base").strip(), unit.strip()
    if "_" in n:
        base, unit = n.rsplit("_", 1)
        if base and unit_scale(unit) is not None and not unit.isdigit():
            return base.strip(), unit.strip()
    if " " in n:
        base, unit = n.rsplit(" ", 1)
        if base and unit_scale(unit) is not None and len(unit) > 1:
            return base.strip(), unit.strip()
    return n, None


@dataclass
class ColumnMatch:
    """A recognised column: its role, sign, unit and scale factor."""

    name: str
    role: str
    negated: bool
    unit: str
    scale: float
    unit_given: bool


def match_column(name: str, unit_hint: str | None = None) -> ColumnMatch | None:
    """Recognise one column header; None when it is not a column drtbayes uses."""
    base, unit = split_name_unit(name)
    if unit is None and unit_hint:
        unit = unit_hint.strip() or None
    key = base.lower().replace(" ", "").replace("_", "")
    negated = False
    if key.startswith("-") and len(key) > 1:
        negated = True
        key = key[1:]
    role = _ROLE_LOOKUP.get(key)
    if role is None:
        return None
    if role == "cycle":
        return ColumnMatch(name, role, False, "", 1.0, False)
    if negated and role not in ("z_real", "z_imag", "phase"):
        return None
    given = unit is not None
    unit = unit if given else _DEFAULT_UNIT[role]
    us = unit_scale(unit)
    if us is None or us[0] != _ROLE_QUANTITY[role]:
        quantity = _ROLE_QUANTITY[role]
        raise UnitError(
            f"column {name!r}: unit {unit!r} is not a {quantity} unit drtbayes knows; use one "
            f"of {_ACCEPTED_UNITS[quantity]} in the header (for example '{base}/"
            f"{_DEFAULT_UNIT[role]}')"
        )
    return ColumnMatch(name, role, negated, unit, us[1], given)


def recognise(table: Table) -> dict[str, ColumnMatch]:
    """Map roles to the first column of each role in ``table`` (file order)."""
    found: dict[str, ColumnMatch] = {}
    for name in table.names:
        try:
            m = match_column(name, table.units.get(name))
        except UnitError as exc:
            raise UnitError(f"{table.path}: {exc}") from None
        if m is None:
            continue
        # a negated real/imag/phase and a plain one: the first one in the file wins
        found.setdefault(m.role, m)
    return found


def accepted_names_text(kind: str) -> str:
    """Human list of accepted header names for error messages."""
    if kind == "spectrum":
        return ("frequency: frequency_hz, f, freq, freq/Hz, frequency; real part: z_real_ohm, "
                "Z', Zre, Re(Z)/Ohm, real (or -Z'); imaginary part: z_imag_ohm, Z'', Zim, "
                "imaginary, -Z'', -Im(Z)/Ohm, -Zim; or polar |Z| with phase / -phase (deg)")
    return ("time: time_s, time/s, time/h, t; current: current_a, I/mA, <I>/mA, I/A, current; "
            "voltage: voltage_v, Ewe/V, <Ewe>/V, voltage, E")
