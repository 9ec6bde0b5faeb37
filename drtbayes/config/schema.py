"""A small schema engine for TOML configuration: declared tables and fields -> checked data.

Why not pydantic or jsonschema: the rules here are few (types, ranges, choices, lists, file
paths relative to a base folder), the messages must speak the TOML file's language (the key
path, the value as written, what was expected, a "did you mean" for typos) and every problem
must be collected and reported together; both libraries would need as much adapter code as
this engine is long, and neither is a dependency today.

A schema is a :class:`Table` of :class:`Field`, nested :class:`Table` and :class:`TableList`
entries. :func:`validate` walks the raw dict, returns the cleaned values (defaults filled in)
and a list of :class:`Problem`; :func:`raise_problems` turns them into one error.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "Field", "Table", "TableList", "Problem", "Invalid", "validate", "raise_problems",
    "number", "integer", "string", "boolean", "choice", "list_of", "number_or_list",
    "existing_file", "MISSING",
]

MISSING: Any = object()


class Invalid(Exception):
    """Raised by a field parser: the value is not what the field expects."""


class Problem(NamedTuple):
    """One violation: where (dotted key path), the value found, and what was expected."""

    key: str
    value: Any
    expected: str

    def text(self) -> str:
        """Say the violation in words, as it goes into the error message."""
        if self.value is MISSING:
            return f"{self.key} is missing ({self.expected})"
        if self.expected.startswith("unknown key"):
            return f"{self.expected.replace('KEY', self.key)}"
        return f"{self.key} = {_show(self.value)}: expected {self.expected}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True)
class Field:
    """A leaf value: ``parse`` cleans it or raises :class:`Invalid`; ``expected`` describes it."""

    parse: Callable[[Any], Any]
    expected: str
    required: bool = False
    default: Any = MISSING


@dataclass(frozen=True)
class Table:
    """A TOML table: named entries, and checks across them run on the cleaned values."""

    entries: Mapping[str, Field | Table | TableList]
    required: bool = False
    #: functions ``(cleaned, where) -> [Problem, ...]`` for rules that span several keys
    checks: Sequence[Callable[[dict[str, Any], str], list[Problem]]] = field(default=())
    #: keys accepted without checking (e.g. a preset's header handled elsewhere)
    passthrough: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TableList:
    """An array of tables (``[[cells]]`` or ``[{...}, {...}]``)."""

    table: Table
    min_len: int = 0
    required: bool = False
    expected: str = "a list of tables"


def _where(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _unknown(key: str, allowed: Sequence[str], prefix: str) -> Problem:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = prefix or "the top level"
    return Problem(_where(prefix, key), None,
                   f"unknown key KEY{hint} (allowed in {where}: {', '.join(sorted(allowed))})")


def validate(raw: Any, schema: Table, prefix: str = "") -> tuple[dict[str, Any], list[Problem]]:
    """Check ``raw`` against ``schema``.

    Parameters
    ----------
    raw
        The parsed TOML (a dict) or one of its tables.
    schema
        The table's schema.
    prefix
        Key path of ``raw`` in the whole file (``"cells[0]"``), for the messages.

    Returns
    -------
    tuple
        The cleaned values (every declared key with a value or a default; missing optional
        keys without a default are left out) and the problems found, in file order.
    """
    if not isinstance(raw, dict):
        return {}, [Problem(prefix, raw, "a table")]
    problems: list[Problem] = []
    out: dict[str, Any] = {}
    allowed = list(schema.entries) + sorted(schema.passthrough)
    for key in raw:
        if key not in schema.entries and key not in schema.passthrough:
            problems.append(_unknown(key, allowed, prefix))
        elif key in schema.passthrough:
            out[key] = raw[key]
    for key, entry in schema.entries.items():
        where = _where(prefix, key)
        present = key in raw
        if isinstance(entry, Table):
            if not present and entry.required:
                problems.append(Problem(where, MISSING, f"a [{where}] table"))
                continue
            sub, probs = validate(raw.get(key, {}), entry, where)
            # an optional table left out takes its defaults; its required keys are only
            # required when the table is given
            problems.extend(probs if present else [])
            out[key] = sub
        elif isinstance(entry, TableList):
            items = raw.get(key, [])
            if not present and entry.required:
                problems.append(Problem(where, MISSING, entry.expected))
            if not isinstance(items, list):
                problems.append(Problem(where, items, entry.expected))
                continue
            if present and len(items) < entry.min_len:
                n = entry.min_len
                problems.append(Problem(where, items, f"{entry.expected} with at least {n} "
                                        f"entr{'y' if n == 1 else 'ies'}"))
            cleaned = []
            for i, item in enumerate(items):
                sub, probs = validate(item, entry.table, f"{where}[{i}]")
                problems.extend(probs)
                cleaned.append(sub)
            out[key] = cleaned
        elif present:
            try:
                out[key] = entry.parse(raw[key])
            except Invalid:
                problems.append(Problem(where, raw[key], entry.expected))
        elif entry.required:
            problems.append(Problem(where, MISSING, entry.expected))
        elif entry.default is not MISSING:
            out[key] = entry.default
    if not problems:
        for check in schema.checks:
            problems.extend(check(out, prefix))
    return out, problems


def raise_problems(problems: Sequence[Problem], source: str | Path,
                   error: type[Exception]) -> None:
    """Raise ``error`` listing every problem in one message (nothing when there are none)."""
    if not problems:
        return
    texts = list(dict.fromkeys(p.text() for p in problems))
    head = f"{source}: " + ("" if len(texts) == 1 else f"{len(texts)} problems: ")
    raise error(head + "; ".join(texts))


# --------------------------------------------------------------------------- field builders
def _range_text(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return ""


def _in_range(v: float, lo: float | None, hi: float | None, lo_open: bool,
              hi_open: bool) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return not (hi is not None and (v >= hi if hi_open else v > hi))


def number(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
           hi_open: bool = False, required: bool = False, default: Any = MISSING,
           what: str = "a number") -> Field:
    """Declare a finite TOML number (integer or float, never a bool or a string) in a range."""
    rng = _range_text(lo, hi, lo_open, hi_open)
    expected = what + (f" {rng}" if rng else "")

    def parse(v: Any) -> float:
        # bool is an int subclass in Python; "25 C" or [25] are not numbers either
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise Invalid
        x = float(v)
        if not math.isfinite(x) or not _in_range(x, lo, hi, lo_open, hi_open):
            raise Invalid
        return x

    return Field(parse, expected, required, default)


def integer(lo: int | None = None, hi: int | None = None, *, required: bool = False,
            default: Any = MISSING) -> Field:
    """Declare a TOML integer within a range (a float such as 1000.5 or 1e3 is refused)."""
    rng = _range_text(lo, hi, False, False)
    expected = "an integer" + (f" {rng}" if rng else "")

    def parse(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise Invalid
        if not _in_range(v, lo, hi, False, False):
            raise Invalid
        return int(v)

    return Field(parse, expected, required, default)


def string(*, required: bool = False, default: Any = MISSING) -> Field:
    """Declare a non-empty string (surrounding blanks removed)."""

    def parse(v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise Invalid
        return v.strip()

    return Field(parse, "a non-empty string", required, default)


def boolean(*, required: bool = False, default: Any = MISSING) -> Field:
    """Declare a TOML boolean: ``true`` or ``false`` (the string "false" is refused)."""

    def parse(v: Any) -> bool:
        if not isinstance(v, bool):
            raise Invalid
        return v

    return Field(parse, "true or false (a TOML boolean, without quotes)", required, default)


def choice(options: Sequence[str], *, required: bool = False, default: Any = MISSING) -> Field:
    """Declare one string of ``options``."""
    opts = tuple(options)

    def parse(v: Any) -> str:
        if not isinstance(v, str) or v not in opts:
            raise Invalid
        return v

    return Field(parse, "one of " + ", ".join(repr(o) for o in opts), required, default)


def list_of(item: Field, *, min_len: int = 0, max_len: int | None = None, unique: bool = False,
            required: bool = False, default: Any = MISSING) -> Field:
    """Declare a TOML array of ``item`` values, cleaned to a tuple (a string is no list)."""
    size = (f"{min_len} to {max_len}" if max_len is not None and max_len != min_len
            else f"{min_len}" if max_len == min_len else f"at least {min_len}")
    expected = f"a list of {size} {'distinct ' if unique else ''}values, each {item.expected}"

    def parse(v: Any) -> tuple[Any, ...]:
        if not isinstance(v, list):
            raise Invalid
        if len(v) < min_len or (max_len is not None and len(v) > max_len):
            raise Invalid
        out = tuple(item.parse(x) for x in v)
        if unique and len(set(out)) != len(out):
            raise Invalid
        return out

    return Field(parse, expected, required, default)


def number_or_list(lo: float | None = None, *, lo_open: bool = False,
                   required: bool = False) -> Field:
    """Declare a number or a non-empty list of numbers, each within the range."""
    one = number(lo, lo_open=lo_open)

    def parse(v: Any) -> Any:
        if isinstance(v, list):
            if not v:
                raise Invalid
            return [one.parse(x) for x in v]
        return one.parse(v)

    return Field(parse, f"{one.expected}, or a non-empty list of them", required)


def existing_file(base: Path, *, required: bool = False) -> Field:
    """Declare a path relative to ``base`` naming an existing file (cleaned: absolute)."""

    def parse(v: Any) -> Path:
        if not isinstance(v, str) or not v.strip():
            raise Invalid
        p = (base / v.strip()).resolve()
        if not p.is_file():
            raise Invalid
        return p

    return Field(parse, f"a file that exists (paths are relative to {base})", required)
