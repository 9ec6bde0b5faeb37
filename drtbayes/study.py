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
``[sampler]`` (``draws``, ``tune``, ``chains``, ``target_accept``), ``[bands]`` (``processes``,
``policy``), ``[checks]`` (``kk_threshold``, ``kk_strict``). Paths are relative to the study
file. Unknown keys and missing files are :class:`~drtbayes.errors.StudyFileError` naming the
key or path.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import StudyFileError

_ALLOWED: dict[str, set[str]] = {
    "": {"study", "compare", "cells", "models", "sampler", "bands", "checks"},
    "study": {"name", "capacity_mah", "area_cm2", "temperature_c", "description"},
    "compare": {"a", "b", "components"},
    "models": {"eis", "split", "soc"},
    "sampler": {"draws", "tune", "chains", "target_accept", "split_samples"},
    "bands": {"processes", "policy"},
    "checks": {"kk_threshold", "kk_strict"},
    "cells": {"design", "cell", "gitt", "eis", "capacity_mah", "area_cm2", "temperature_c"},
    "eis": {"file", "soc", "cell_type", "temperature_c", "imag_sign", "capacitance_f",
            "capacitance_rel_sd"},
}

COMPONENTS = ("R1", "R2", "R3", "total")


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
    processes: tuple[str, ...] = ("contact", "charge_transfer", "diffusion")
    band_policy: str = "interpolate"
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
        """The study's settings as plain data (for provenance and stage keys)."""
        d = asdict(self)
        return _plain(d)


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


def _check_keys(table: dict[str, Any], kind: str, where: str, path: Path) -> None:
    unknown = set(table) - _ALLOWED[kind]
    if unknown:
        allowed = ", ".join(sorted(_ALLOWED[kind]))
        raise StudyFileError(
            f"{path}: unknown key {where}{sorted(unknown)[0]!r}; allowed here: {allowed}"
        )


def _number(value: Any, key: str, path: Path, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StudyFileError(f"{path}: {key} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (positive and v <= 0):
        raise StudyFileError(f"{path}: {key} must be a positive finite number, got {value!r}")
    return v


def _string(value: Any, key: str, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StudyFileError(f"{path}: {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _file(value: Any, key: str, base: Path, path: Path) -> Path:
    rel = _string(value, key, path)
    p = (base / rel).resolve()
    if not p.is_file():
        raise StudyFileError(f"{path}: {key} = {rel!r}: file not found ({p})")
    return p


def _capacitance(e: dict[str, Any], where: str, path: Path) -> dict[str, float]:
    """An eis entry's known series capacitance and the sd of its ln (checked)."""
    out: dict[str, float] = {}
    if "capacitance_f" in e:
        out["capacitance_f"] = _number(e["capacitance_f"], where + "capacitance_f", path)
    if "capacitance_rel_sd" in e:
        if "capacitance_f" not in e:
            raise StudyFileError(f"{path}: {where}capacitance_rel_sd needs {where}capacitance_f")
        sd = _number(e["capacitance_rel_sd"], where + "capacitance_rel_sd", path)
        if sd > 5:
            raise StudyFileError(f"{path}: {where}capacitance_rel_sd = {sd} is the sd of ln C; "
                                 "it must be in (0, 5] (0.1 means about 10 %)")
        out["capacitance_rel_sd"] = sd
    return out


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path
        The study TOML file.

    Returns
    -------
    Study

    Raises
    ------
    StudyFileError
        Unknown keys, wrong types, missing files, fewer than two designs, or a compared
        design that has no cells.
    """
    path = Path(path)
    if not path.is_file():
        raise StudyFileError(f"{path}: study file not found")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise StudyFileError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(f"{path}: not valid TOML: {exc}") from None
    base = path.resolve().parent
    _check_keys(raw, "", "", path)
    for tab in ("study", "compare", "models", "sampler", "bands", "checks"):
        if tab in raw:
            if not isinstance(raw[tab], dict):
                raise StudyFileError(f"{path}: [{tab}] must be a table")
            _check_keys(raw[tab], tab, f"{tab}.", path)
    st = raw.get("study", {})
    name = _string(st.get("name", path.stem), "study.name", path)
    capacity = (
        _number(st["capacity_mah"], "study.capacity_mah", path) if "capacity_mah" in st else None
    )
    area = _number(st["area_cm2"], "study.area_cm2", path) if "area_cm2" in st else None
    temp = float(st.get("temperature_c", math.nan))

    cells_raw = raw.get("cells")
    if not isinstance(cells_raw, list) or not cells_raw:
        raise StudyFileError(f"{path}: no [[cells]] entries; add at least one cell per design")
    cells: list[CellEntry] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(cells_raw):
        where = f"cells[{i}]."
        if not isinstance(c, dict):
            raise StudyFileError(f"{path}: cells[{i}] must be a table")
        _check_keys(c, "cells", where, path)
        for req in ("design", "cell"):
            if req not in c:
                raise StudyFileError(f"{path}: {where}{req} is missing")
        design = _string(c["design"], where + "design", path)
        cell = _string(c["cell"], where + "cell", path)
        if (design, cell) in seen:
            raise StudyFileError(f"{path}: cell {design}/{cell} is listed twice")
        seen.add((design, cell))
        gitt = _file(c["gitt"], where + "gitt", base, path) if "gitt" in c else None
        eis_raw = c.get("eis", [])
        if not isinstance(eis_raw, list):
            raise StudyFileError(f"{path}: {where}eis must be a list of tables")
        eis: list[EISEntry] = []
        for j, e in enumerate(eis_raw):
            ew = f"{where}eis[{j}]."
            if not isinstance(e, dict):
                raise StudyFileError(f"{path}: {ew[:-1]} must be a table {{ file = ..., soc = ... }}")
            _check_keys(e, "eis", ew, path)
            if "file" not in e or "soc" not in e:
                raise StudyFileError(f"{path}: {ew}file and {ew}soc are required")
            soc = _number(e["soc"], ew + "soc", path, positive=False)
            if not 0 <= soc <= 100:
                raise StudyFileError(f"{path}: {ew}soc = {soc} must be in 0..100 (percent)")
            cell_type = e.get("cell_type", "symmetric")
            if cell_type not in ("symmetric", "half"):
                raise StudyFileError(
                    f"{path}: {ew}cell_type = {cell_type!r}; use 'symmetric' or 'half'"
                )
            eis.append(
                EISEntry(
                    file=_file(e["file"], ew + "file", base, path),
                    soc=soc,
                    cell_type=cell_type,
                    temperature_c=float(e.get("temperature_c", c.get("temperature_c", temp))),
                    imag_sign=str(e.get("imag_sign", "auto")),
                    **_capacitance(e, ew, path),
                )
            )
        cap = (
            _number(c["capacity_mah"], where + "capacity_mah", path)
            if "capacity_mah" in c
            else capacity
        )
        if gitt is not None and cap is None:
            raise StudyFileError(
                f"{path}: {where}capacity_mah is needed for the GITT record (set study.capacity_mah)"
            )
        cells.append(
            CellEntry(
                design=design,
                cell=cell,
                gitt=gitt,
                eis=tuple(eis),
                capacity_mah=cap,
                area_cm2=_number(c["area_cm2"], where + "area_cm2", path)
                if "area_cm2" in c
                else area,
                temperature_c=float(c.get("temperature_c", temp)),
            )
        )

    designs = list(dict.fromkeys(c.design for c in cells))
    cmp_ = raw.get("compare", {})
    a = _string(cmp_.get("a", designs[0]), "compare.a", path)
    b = _string(cmp_.get("b", designs[1] if len(designs) > 1 else designs[0]), "compare.b", path)
    for key, d in (("compare.a", a), ("compare.b", b)):
        if d not in designs:
            raise StudyFileError(
                f"{path}: {key} = {d!r} has no cells; designs in the study: {', '.join(designs)}"
            )
    if a == b:
        raise StudyFileError(f"{path}: compare.a and compare.b are both {a!r}")
    components = tuple(cmp_.get("components", COMPONENTS))
    bad = [c for c in components if c not in COMPONENTS]
    if bad:
        raise StudyFileError(f"{path}: compare.components has {bad[0]!r}; use {list(COMPONENTS)}")

    models = {k: str(v) for k, v in raw.get("models", {}).items()}
    sampler = {}
    for k, v in raw.get("sampler", {}).items():
        if k == "target_accept":
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v < 1.0:
                raise StudyFileError(f"{path}: sampler.target_accept must lie strictly between "
                                     f"0 and 1 (e.g. 0.98), got {v!r}")
            sampler[k] = float(v)
            continue
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise StudyFileError(f"{path}: sampler.{k} must be a positive integer, got {v!r}")
        sampler[k] = v
    bands = raw.get("bands", {})
    processes = tuple(bands.get("processes", ("contact", "charge_transfer", "diffusion")))
    if not 2 <= len(processes) <= 5:
        raise StudyFileError(f"{path}: bands.processes must name 2 to 5 processes")
    policy = str(bands.get("policy", "interpolate"))
    if policy not in ("interpolate", "nearest"):
        raise StudyFileError(f"{path}: bands.policy = {policy!r}; use 'interpolate' or 'nearest'")
    checks = raw.get("checks", {})
    return Study(
        path=path.resolve(),
        name=name,
        a=a,
        b=b,
        cells=tuple(cells),
        components=components,
        capacity_mah=capacity,
        area_cm2=area,
        models=models,
        sampler=sampler,
        processes=processes,
        band_policy=policy,
        kk_threshold=float(checks.get("kk_threshold", 0.01)),
        kk_strict=bool(checks.get("kk_strict", False)),
    )
