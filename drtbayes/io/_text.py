"""Shared text handling of the readers: size limit, decoding, tables, column and unit names.

Every reader turns its file into a :class:`Table` (column name -> float array, with the file row
of every record), and the column recognition here maps the header names instruments and people
write (``freq/Hz``, ``Re(Z)/Ohm``, ``-Z''``, ``<I>/mA``, ``time/h``, ...) to the quantities
drtbayes needs, with the unit scale taken from the header.
"""

from __future__ import annotations

import csv
import io
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

#: Files larger than this are refused (bytes), whatever their format. A 100-pulse GITT export
#: is a few MB and a binary .mpr sampled at 1 kHz for hours some hundred MB; larger files are
#: almost always the wrong file (a raw oscilloscope dump, a video). Raise it by assigning to it.
MAX_FILE_BYTES = 256 * 1024 * 1024
#: Text exports larger than this are refused before they are read. Reading text needs about
#: 12 bytes of memory per byte of file at the peak (the bytes, the decoded text, its lines and
#: the parsed block; benchmarks/bench_io.py measures it), so this limit keeps the peak near
#: 1 GB. A million-row three-column export written with 17 digits is 59 MB.
MAX_TEXT_BYTES = 80 * 1024 * 1024


def check_text_size(path: Path, size: int) -> None:
    """Refuse a text export too large to read within about 1 GB of memory."""
    if size > MAX_TEXT_BYTES:
        raise FileFormatError(
            f"{path}: text file is {size / 2**20:.0f} MiB, above the reader limit of "
            f"{MAX_TEXT_BYTES / 2**20:.0f} MiB for text exports (reading it would need about "
            f"{12 * size / 2**30:.1f} GiB of memory); check that this is the right file, split "
            "it, or raise drtbayes.io._text.MAX_TEXT_BYTES"
        )


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
    decimal
        ``"auto"``, ``"."`` or ``","``: how a comma inside a number is read (see
        :func:`parse_numbers`).
    headerless
        True when the file has no header line and the column roles were assumed by position.
    """

    path: Path
    fmt: str
    names: list[str]
    columns: dict[str, list[str] | np.ndarray]
    rows: np.ndarray
    units: dict[str, str] = field(default_factory=dict)
    row_word: str = "line"
    meta: dict[str, object] = field(default_factory=dict)
    decimal: str = "auto"
    headerless: bool = False

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
        if st.st_size > MAX_TEXT_BYTES:
            # refuse a large text file from its first bytes, before reading all of it
            with open(path, "rb") as fh:
                head = fh.read(64)
            if not (head.startswith(b"BIO-LOGIC MODULAR FILE")
                    or path.suffix.lower() in (".nda", ".ndax")):
                check_text_size(path, st.st_size)
        data = path.read_bytes()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot be read ({exc.strerror})") from None
    if not data.strip():
        raise EmptyFileError(f"{path}: file is empty; export the measurement again")
    return path, data


# C0 control characters that never occur in a text export (tab, newlines, form feed and the
# DOS end-of-file mark 0x1a are allowed).
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x19\x1b-\x1f]")


_BINARY_LUT = np.zeros(256, dtype=bool)
_BINARY_LUT[[*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1A), *range(0x1B, 0x20)]] = True


def _first_binary_byte(data: bytes) -> int | None:
    """Offset of the first control byte of :data:`_BINARY_BYTES`, or None.

    A table look-up over the bytes in 8 MB blocks: the regular expression scans a 60 MB
    export at about 150 MB/s, the table at well over 1 GB/s, with bounded extra memory.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    block = 8 * 2**20
    for a in range(0, arr.size, block):
        hits = _BINARY_LUT[arr[a : a + block]]
        if hits.any():
            return a + int(np.argmax(hits))
    return None


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
    pos = _first_binary_byte(data)
    if pos is not None:
        line = data.count(b"\n", 0, pos) + 1
        raise EncodingError(
            f"{path}: line {line} holds the binary byte 0x{data[pos]:02x} (offset "
            f"{pos}), so this is not a text export; export the data as text (CSV, .mpt, "
            ".DTA) or give a BioLogic binary file the .mpr extension"
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


#: A token that reads as a number with US thousands separators: 100,000 or 1,234,567.5.
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?([eE][+-]?\d+)?$")


def _comma_meaning(tokens: list[str], table: Table, name: str) -> str:
    """Return ``"decimal"`` or ``"thousands"``: what the commas in a column's numbers mean.

    A comma followed by anything but groups of three digits (``0,5``) can only be a decimal
    comma, and two commas in one number (``1,000,000``), a comma before a point
    (``1,000.5``) or a point in the column's other numbers (``794.3``) only a thousands
    separator. When every comma in the column sits before
    exactly three digits (``100,000``), both readings give plausible numbers a factor 1000
    apart (100 kHz or 100 Hz), so the column is refused unless ``decimal`` says which.
    """
    with_comma = [t.strip() for t in tokens if "," in t]
    if not all(_THOUSANDS.match(t) for t in with_comma):
        return "decimal"
    if any(t.count(",") > 1 or "." in t for t in with_comma):
        return "thousands"
    if any("." in t for t in tokens if "," not in t):
        # the column writes its decimals with a point (794.3), so 100,000 is a thousand-group
        return "thousands"
    if table.decimal == ",":
        return "decimal"
    if table.decimal == ".":
        return "thousands"
    k = next(i for i, t in enumerate(tokens) if "," in t)
    raise FileFormatError(
        f"{table.path}: {table.row_word} {int(table.rows[k])}, column {name!r}: "
        f"{tokens[k].strip()!r} may use ',' as a thousands separator or as a decimal comma "
        "(the values differ 1000x); pass decimal='.' (thousands separators) or decimal=',' "
        "(decimal commas), or save the file without thousands separators"
    )


def parse_numbers(tokens: list[str], table: Table, name: str) -> np.ndarray:
    """Parse text tokens to float64.

    Decimal commas and US thousands separators are read when unambiguous (see
    :func:`_comma_meaning`). The fast path hands the whole column to numpy; only
    when that fails is the column walked token by token to name the offending row.
    """
    if any("," in t for t in tokens):
        if _comma_meaning(tokens, table, name) == "decimal":
            tokens = [t.replace(",", ".") for t in tokens]
        else:
            tokens = [t.replace(",", "") for t in tokens]
    try:
        return np.array(tokens, dtype=np.float64)
    except (ValueError, OverflowError):
        pass
    out = np.empty(len(tokens), dtype=np.float64)
    for i, tok in enumerate(tokens):
        t = tok.strip()
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
    header_names: list[str] | None = None,
) -> Table:
    """Build a :class:`Table` from a header line and the data lines below it.

    Parameters
    ----------
    lines
        All lines of the file (without line ends).
    header_index
        0-based index of the column-name line (ignored when ``header_names`` is given).
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
    header_names
        Column names to use instead of a header line (headerless files, fixed layouts).
    """
    if header_names is None:
        header = lines[header_index].lstrip("\ufeff")
        if sep is None:
            sep = guess_separator(header)
        names = [_clean_name(n) for n in _split_line(header.strip("\r\n"), sep)]
        while names and names[-1] == "":
            names.pop()
    else:
        names = list(header_names)
    if not names:
        raise ColumnError(f"{path}: line {header_index + 1}: no column names found")
    stop = len(lines) if stop is None else stop
    start = header_index + 1 if first_data is None else first_data
    fast = _numeric_block(lines, start, stop, sep, len(names))
    if fast is not None:
        values, rows = fast
        _check_rows(rows, expected_rows, header_index, path)
        if not text_ends_with_newline and rows.size > 2:
            _check_cut_number(lines[rows[-2] - 1], lines[rows[-1] - 1], sep, int(rows[-1]),
                              path)
        columns: dict[str, list[str] | np.ndarray] = {}
        for j, key in enumerate(_unique(names)):
            columns[key] = values[:, j]
        return Table(path, fmt, list(columns), columns, rows)
    return _table_slow(lines, names, header_index, path, fmt, sep=sep, start=start, stop=stop,
                       expected_rows=expected_rows,
                       text_ends_with_newline=text_ends_with_newline)


def _unique(names: list[str]) -> list[str]:
    """Column names made unique by appending `` (2)``, `` (3)`` to repeats."""
    out: list[str] = []
    for n in names:
        key, k = n, 2
        while key in out:
            key = f"{n} ({k})"
            k += 1
        out.append(key)
    return out


_BLANK_LINE = re.compile(r"\n[ \t\r]*(\n|$)")


def _numeric_block(lines: list[str], start: int, stop: int, sep: str | None, ncol: int
                   ) -> tuple[np.ndarray, np.ndarray] | None:
    """All-numeric data lines parsed in one go by numpy's C parser, or None.

    A per-line split into Python string lists costs about 1 KB of memory and a few
    microseconds per row, which makes a million-row export take gigabytes; numpy's
    ``loadtxt`` reads the same block at C speed into one float array. Anything it cannot
    take as it is (quotes, commas inside numbers, text columns, ragged rows, empty fields)
    returns None, and the line-by-line parser then reads the file and names the offending
    line in its error.
    """
    while stop > start and not lines[stop - 1].strip():
        stop -= 1
    if stop <= start:
        return None
    block = "\n".join(lines[start:stop])
    if '"' in block or (sep != "," and "," in block):
        return None
    if sep is not None and lines[start].rstrip("\r").endswith(sep):
        # EC-Lab ends every line with a tab: an empty last field, not a column
        block = block.replace(sep + "\n", "\n").removesuffix(sep)
    if "#" in block or _BLANK_LINE.search(block) or (block and not block[0].strip()):
        # comment or blank lines in between: keep the file line of every data row
        kept = [i for i in range(start, stop) if (ln := lines[i].strip()) and ln[0] != "#"]
        block = "\n".join(lines[i] for i in kept)
    else:
        kept = range(start, stop)
    if not kept:
        return None
    try:
        values = np.loadtxt(io.StringIO(block), delimiter=sep, dtype=np.float64, ndmin=2,
                            comments=None)
    except (ValueError, OverflowError):
        return None
    del block
    if values.shape != (len(kept), ncol):
        return None
    return values, np.asarray(kept, dtype=np.int64) + 1


def _check_rows(rows: np.ndarray, expected_rows: int | None, header_index: int, path: Path
                ) -> None:
    if rows.size == 0:
        raise EmptyFileError(
            f"{path}: no data rows below the header (line {header_index + 1}); export the "
            "measurement again"
        )
    if expected_rows is not None and rows.size < expected_rows:
        raise TruncatedFileError(
            f"{path}: header promises {expected_rows} data rows but only {rows.size} "
            "are present: the file looks cut short; export or copy it again"
        )


def _check_cut_number(prev_line: str, last_line: str, sep: str | None, row: int, path: Path
                      ) -> None:
    """Refuse a last line cut inside a number.

    A last line without a line break whose final number is shorter than its neighbours is the
    typical trace of an interrupted copy.
    """
    last = _split_line(last_line.rstrip("\r\n"), sep)[-1].strip()
    prev = _split_line(prev_line.rstrip("\r\n"), sep)[-1].strip()
    if len(last) < len(prev) - 2 and ("e" in prev.lower() and "e" not in last.lower()):
        raise TruncatedFileError(
            f"{path}: line {row} ends in the middle of a number ({last!r}): the file "
            "looks cut short; export or copy it again"
        )


def _table_slow(lines: list[str], names: list[str], header_index: int, path: Path, fmt: str,
                *, sep: str | None, start: int, stop: int, expected_rows: int | None,
                text_ends_with_newline: bool) -> Table:
    """Line-by-line parser: text columns, quotes, decimal commas, and exact error lines."""
    ncol = len(names)
    data_tokens: list[list[str]] = []
    rows: list[int] = []
    for i in range(start, stop):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = _split_line(line.rstrip("\r\n"), sep)
        if len(fields) < ncol:
            is_last = all(not rest.strip() for rest in lines[i + 1 : stop])
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
            hint = ("with decimal commas use ';' or tab as the separator, and write numbers "
                    "without thousands separators" if sep == "," else
                    "check that line "
                    f"{header_index + 1} is the column header and that the separator is right")
            raise FileFormatError(
                f"{path}: line {i + 1} has {len(fields)} fields but the header (line "
                f"{header_index + 1}) names {ncol} columns; {hint}"
            )
        data_tokens.append(fields[:ncol])
        rows.append(i + 1)
    row_arr = np.asarray(rows, dtype=np.int64)
    _check_rows(row_arr, expected_rows, header_index, path)
    if not text_ends_with_newline and len(data_tokens) > 2:
        _check_cut_number(lines[rows[-2] - 1], lines[rows[-1] - 1], sep, rows[-1], path)
    cols = list(zip(*data_tokens, strict=True))
    columns: dict[str, list[str] | np.ndarray] = {}
    for j, key in enumerate(_unique(names)):
        columns[key] = [c.strip() for c in cols[j]]
    return Table(path, fmt, list(columns), columns, row_arr)


def _clean_name(name: str) -> str:
    name = name.strip().strip("\ufeff").strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'" and name.count(name[0]) == 2:
        name = name[1:-1].strip()
    return name


# --- column names and units -----------------------------------------------------------------

_PRIMES = str.maketrans({"’": "'", "′": "'", "‘": "'", "″": "''", "“": "''", "”": "''",
                         "−": "-", "–": "-", "\u00a0": " "})

_ROLE_NAMES: dict[str, set[str]] = {
    "frequency": {"f", "freq", "frequency", "fr", "freq.", "frequenz", "frequencies"},
    "z_real": {"z'", "zre", "zreal", "re(z)", "real", "rez", "re", "z_re", "zr", "re(z)",
               "realz", "realimpedance", "realimpedances", "zreal(z)"},
    "z_imag": {"z''", 'z"', "zim", "zimag", "im(z)", "imaginary", "imag", "imz", "zi",
               "imagz", "z_im", "imaginaryimpedance", "imaginaryimpedances", "imagimpedance",
               "imagimpedances"},
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
