"""The study file: one TOML description of a whole two-design study.

Example
-------
.. code-block:: toml

    [study]
    name = "LPSCl particle size"
    capacity_mah = 2.4      # per cell unless a cell overrides it
    area_cm2 = 0.785        # optional; results also in ohm cm2 when given

    [compare]
    a = "L_SE"
    b = "S_SE"

    [[cells]]
    design = "S_SE"
    cell = "S1"
    gitt = "gitt/S1.csv"
    eis = [{ file = "eis/S1_soc50.csv", soc = 50 }, { file = "eis/S1_soc0.csv", soc = 0 }]

Optional tables: ``[models]`` (``eis``, ``split``, ``soc``: preset names or paths),
``[sampler]`` (``draws``, ``tune``, ``chains``, ``target_accept``, ``split_samples``),
``[bands]`` (``processes``, ``policy``), ``[checks]`` (``kk_threshold``, ``kk_strict``). Paths
are relative to the study file. Every violation (unknown key, wrong type, value out of range,
missing file, a rule across keys) is collected and reported together in one
:class:`~drtbayes.errors.StudyFileError` naming each key path, the value and what was expected.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..conventions import COMPONENTS, PROCESSES
from ..errors import StudyFileError
from .limits import MAX_CHAINS, MAX_DRAWS, MAX_SAMPLES, MAX_TUNE
from .schema import (
    MISSING,
    Problem,
    Table,
    TableList,
    boolean,
    choice,
    existing_file,
    integer,
    list_of,
    number,
    raise_problems,
    string,
    validate,
)

__all__ = ["Study", "CellEntry", "EISEntry", "load_study", "parse_study", "COMPONENTS",
           "PROCESS_NAMES", "read_toml"]

#: Process names a band may carry, fastest first in a study's ``bands.processes``.
PROCESS_NAMES = ("contact", "grain_boundary", "interphase", "charge_transfer", "diffusion")
DEFAULT_PROCESSES = PROCESSES


@dataclass(frozen=True)
class EISEntry:
    """One impedance spectrum of a cell."""

    file: Path
    soc: float
    cell_type: str = "symmetric"
    temperature_c: float = math.nan
    imag_sign: str = "auto"
    capacitance_f: float | None = None   # known series capacitance (F): a prior on C
    capacitance_rel_sd: float = 0.1      # sd of ln C of that prior


@dataclass(frozen=True)
class CellEntry:
    """One cell: its design, GITT record and spectra."""

    design: str
    cell: str
    gitt: Path | None
    eis: tuple[EISEntry, ...]
    capacity_mah: float | None
    area_cm2: float | None
    temperature_c: float = math.nan


@dataclass(frozen=True)
class Study:
    """A parsed, validated study file."""

    path: Path
    name: str
    a: str
    b: str
    cells: tuple[CellEntry, ...]
    components: tuple[str, ...] = COMPONENTS
    capacity_mah: float | None = None
    area_cm2: float | None = None
    models: dict[str, str] = field(default_factory=dict)
    sampler: dict[str, int | float] = field(default_factory=dict)
    processes: tuple[str, ...] = DEFAULT_PROCESSES
    band_policy: str = "interpolate"
    split_method: str = "bands"
    kk_threshold: float = 0.01
    kk_strict: bool = False

    @property
    def designs(self) -> tuple[str, ...]:
        """Designs in order of first appearance."""
        return tuple(dict.fromkeys(c.design for c in self.cells))

    def input_files(self) -> list[Path]:
        """Every input file the study reads."""
        files: list[Path] = []
        for c in self.cells:
            files.extend(e.file for e in c.eis)
            if c.gitt is not None:
                files.append(c.gitt)
        return files

    def settings(self) -> dict[str, Any]:
        """Return the study's settings as plain data (for provenance and stage keys)."""
        return _plain(asdict(self))


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, float) and math.isnan(x):
        return None
    return x


# --------------------------------------------------------------------------- the schema
def _eis_rules(e: dict[str, Any], where: str) -> list[Problem]:
    if "capacitance_rel_sd" in e and "capacitance_f" not in e:
        return [Problem(f"{where}.capacitance_rel_sd", e["capacitance_rel_sd"],
                        f"to be given with {where}.capacitance_f (it is the sd of that prior)")]
    return []


def _study_rules(s: dict[str, Any], _where: str) -> list[Problem]:
    out: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    cap = s["study"].get("capacity_mah")
    for i, c in enumerate(s["cells"]):
        key = (c["design"], c["cell"])
        if key in seen:
            out.append(Problem(f"cells[{i}]", f"{key[0]}/{key[1]}",
                               "each design/cell once (this cell is listed twice)"))
        seen.add(key)
        if "gitt" in c and c.get("capacity_mah", cap) is None:
            out.append(Problem(f"cells[{i}].capacity_mah", MISSING,
                               "needed for the GITT record's SOC; set it here or as "
                               "study.capacity_mah"))
    designs = list(dict.fromkeys(c["design"] for c in s["cells"]))
    a = s["compare"].get("a", designs[0] if designs else None)
    b = s["compare"].get("b", designs[1] if len(designs) > 1 else a)
    for key, d in (("compare.a", a), ("compare.b", b)):
        if designs and d not in designs:
            out.append(Problem(key, d, f"a design that has cells ({', '.join(designs)})"))
    if designs and a == b:
        out.append(Problem("compare.b", b, f"a design other than compare.a; the study needs two "
                                           f"designs (it has: {', '.join(designs)})"))
    procs = s["bands"]["processes"]
    if len(procs) != 3:
        out.append(Problem("bands.processes", list(procs),
                           "3 processes, fastest first (the GITT split maps them to R1, R2, "
                           "R3), e.g. ['contact', 'charge_transfer', 'diffusion']"))
    return out


def study_schema(base: Path) -> Table:
    """Build the study file's schema; relative paths start from the folder ``base``."""
    temp = number(-100, 400, what="a temperature in °C, a number")
    eis = Table({
        "file": existing_file(base, required=True),
        "soc": number(0, 100, required=True, what="a state of charge in percent, a number"),
        "cell_type": choice(("symmetric", "half"), default="symmetric"),
        "temperature_c": temp,
        "imag_sign": choice(("auto", "flip", "as-is"), default="auto"),
        "capacitance_f": number(0, lo_open=True, what="a capacitance in F, a number"),
        "capacitance_rel_sd": number(0, 5, lo_open=True,
                                     what="the sd of ln C (0.1 means about 10 %), a number"),
    }, checks=(_eis_rules,))
    cell = Table({
        "design": string(required=True),
        "cell": string(required=True),
        "gitt": existing_file(base),
        "eis": TableList(eis, expected="a list of tables { file = ..., soc = ... }"),
        "capacity_mah": number(0, lo_open=True, what="a capacity in mAh, a number"),
        "area_cm2": number(0, lo_open=True, what="an area in cm², a number"),
        "temperature_c": temp,
    })
    preset = string()
    return Table({
        "study": Table({
            "name": string(),
            "capacity_mah": number(0, lo_open=True, what="a capacity in mAh, a number"),
            "area_cm2": number(0, lo_open=True, what="an area in cm², a number"),
            "temperature_c": temp,
            "description": string(),
        }),
        "compare": Table({
            "a": string(),
            "b": string(),
            "components": list_of(choice(COMPONENTS), min_len=1, unique=True,
                                  default=COMPONENTS),
        }),
        "cells": TableList(cell, min_len=1, required=True,
                           expected="[[cells]] tables, at least one cell per design"),
        "models": Table({"eis": preset, "split": preset, "soc": preset}),
        "sampler": Table({
            "draws": integer(1, MAX_DRAWS),
            "tune": integer(0, MAX_TUNE),
            "chains": integer(1, MAX_CHAINS),
            "target_accept": number(0, 1, lo_open=True, hi_open=True,
                                    what="a NUTS step-size target (e.g. 0.98), a number"),
            "split_samples": integer(10, MAX_SAMPLES),
        }),
        "bands": Table({
            "processes": list_of(choice(PROCESS_NAMES), min_len=2, max_len=5, unique=True,
                                 default=DEFAULT_PROCESSES),
            "policy": choice(("interpolate", "nearest"), default="interpolate"),
        }),
        # which estimand the GITT split reports: the paper's band integral, or each process's
        # own time-domain response (drtbayes.processes); docs/model.md
        "split": Table({"method": choice(("bands", "processes"), default="bands")}),
        "checks": Table({
            "kk_threshold": number(0, 1, lo_open=True, default=0.01,
                                   what="a relative residual (0.01 means 1 %), a number"),
            "kk_strict": boolean(default=False),
        }),
    }, checks=(_study_rules,))


# --------------------------------------------------------------------------- loading
def read_toml(path: Path, error: type[Exception]) -> dict[str, Any]:
    """Parse a TOML file as UTF-8 text, raising ``error`` with a one-line reason.

    A leading byte-order mark, as Notepad writes it, is accepted.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as "
                    "UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None


def _eis_entry(e: dict[str, Any], temp: float) -> EISEntry:
    kw = {k: e[k] for k in ("capacitance_f", "capacitance_rel_sd") if k in e}
    return EISEntry(file=e["file"], soc=e["soc"], cell_type=e["cell_type"],
                    temperature_c=e.get("temperature_c", temp), imag_sign=e["imag_sign"], **kw)


def _cell_entry(c: dict[str, Any], st: dict[str, Any]) -> CellEntry:
    temp = c.get("temperature_c", st.get("temperature_c", math.nan))
    return CellEntry(
        design=c["design"],
        cell=c["cell"],
        gitt=c.get("gitt"),
        eis=tuple(_eis_entry(e, temp) for e in c.get("eis", [])),
        capacity_mah=c.get("capacity_mah", st.get("capacity_mah")),
        area_cm2=c.get("area_cm2", st.get("area_cm2")),
        temperature_c=temp,
    )


def parse_study(raw: dict[str, Any], path: Path) -> Study:
    """Validate parsed TOML ``raw`` of the study file ``path`` into a :class:`Study`."""
    clean, problems = validate(raw, study_schema(path.resolve().parent))
    raise_problems(problems, path, StudyFileError)
    st = clean["study"]
    cells = tuple(_cell_entry(c, st) for c in clean["cells"])
    designs = list(dict.fromkeys(c.design for c in cells))
    cmp_ = clean["compare"]
    return Study(
        path=path.resolve(),
        name=st.get("name", path.stem),
        a=cmp_.get("a", designs[0]),
        b=cmp_.get("b", designs[1] if len(designs) > 1 else designs[0]),
        cells=cells,
        components=tuple(cmp_["components"]),
        capacity_mah=st.get("capacity_mah"),
        area_cm2=st.get("area_cm2"),
        models=dict(clean["models"]),
        sampler=dict(clean["sampler"]),
        processes=tuple(clean["bands"]["processes"]),
        band_policy=clean["bands"]["policy"],
        split_method=clean["split"]["method"],
        kk_threshold=clean["checks"]["kk_threshold"],
        kk_strict=clean["checks"]["kk_strict"],
    )


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path
        The study TOML file (UTF-8, with or without a byte-order mark).

    Returns
    -------
    Study

    Raises
    ------
    StudyFileError
        The file is missing or not TOML; or, all listed together: unknown keys (with a "did
        you mean"), wrong types, values out of range, missing files, fewer than two designs,
        a compared design without cells, a GITT record without a capacity.
    """
    path = Path(path)
    if not path.is_file():
        raise StudyFileError(f"{path}: study file not found")
    return parse_study(read_toml(path, StudyFileError), path)
