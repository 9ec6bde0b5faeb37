"""The GITT record data model: time (s), current (A, discharge negative), voltage (V)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import (
    ColumnError,
    DataWarning,
    TimeOrderError,
    TooFewPointsError,
    UnitError,
    ValueRangeError,
)
from ._text import Table, accepted_names_text, recognise, unit_scale
from .spectrum import _opt_float

#: Fewest samples a GITT record may have.
MIN_SAMPLES = 10
#: Largest |voltage| (V) accepted; anything larger is a unit mix-up (mV read as V).
MAX_ABS_VOLTAGE_V = 50.0
_CURRENT_SIGN_OPTIONS = ("auto", "flip", "as-is")


def build_gitt(
    time_s: np.ndarray,
    current_a: np.ndarray,
    voltage_v: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    row_word: str = "row",
    source: str = "",
    source_sha256: str = "",
    source_format: str = "array",
    design: str | None = None,
    cell: str | None = None,
    capacity_mah: float | None = None,
    area_cm2: float | None = None,
    temperature_c: float | None = None,
    current_sign: str = "auto",
    excluded: list[dict] | None = None,
    extra_attrs: dict[str, object] | None = None,
) -> xr.Dataset:
    """Validate arrays and build a GITT Dataset (engine behind :func:`make_gitt` and readers)."""
    where = source or "<array>"
    if current_sign not in _CURRENT_SIGN_OPTIONS:
        raise ValueRangeError(f"{where}: current_sign={current_sign!r}; use 'auto', 'flip' or "
                              "'as-is'")
    t = np.asarray(time_s, dtype=np.float64).ravel()
    i = np.asarray(current_a, dtype=np.float64).ravel()
    v = np.asarray(voltage_v, dtype=np.float64).ravel()
    if not (t.size == i.size == v.size):
        raise ValueRangeError(f"{where}: time ({t.size}), current ({i.size}) and voltage "
                              f"({v.size}) must have the same length")
    rows = np.arange(t.size) if rows is None else np.asarray(rows, dtype=np.int64)
    excluded = list(excluded or [])
    t, i, v, rows = _clean_samples(t, i, v, rows, excluded, where, row_word)
    vmax = float(np.max(np.abs(v)))
    if vmax > MAX_ABS_VOLTAGE_V:
        raise UnitError(
            f"{where}: voltage reaches {vmax:g}, which is not a cell voltage in V; the column "
            "is probably in mV: write the unit in the header (e.g. 'Ewe/mV')"
        )
    if current_sign == "flip":
        i = -i
    try:
        cap_nan = capacity_mah is not None and math.isnan(float(capacity_mah))
    except (TypeError, ValueError):
        cap_nan = False  # not a number at all: _opt_float names it
    if cap_nan:
        raise ValueRangeError(f"{where}: capacity_mah=nan must be > 0 (a number of mAh); leave "
                              "it out to take the capacity from the record")
    cap = _opt_float(capacity_mah, "capacity_mah", where, positive=True)
    attrs: dict[str, object] = {
        "design": "" if design is None else str(design),
        "cell": "" if cell is None else str(cell),
        "temperature_c": _opt_float(temperature_c, "temperature_c", where, lo=-273.15, hi=1000),
        "area_cm2": _opt_float(area_cm2, "area_cm2", where, positive=True),
        "capacity_mah": cap,
        "source": source,
        "source_sha256": source_sha256,
        "source_format": source_format,
        "current_sign": current_sign,
        "time_offset_s": float(t[0]),
        "excluded": json.dumps(sorted(excluded, key=lambda e: (e["row"], e["reason"]))),
    }
    if extra_attrs:
        attrs.update(extra_attrs)
    return xr.Dataset(
        {
            "current": ("time", i, {"units": "A", "long_name": "current (discharge negative)"}),
            "voltage": ("time", v, {"units": "V"}),
        },
        coords={"time": ("time", t - t[0], {"units": "s"}),
                "row": ("time", rows, {"long_name": f"source {row_word}"})},
        attrs=attrs,
    )


def _clean_samples(t: np.ndarray, i: np.ndarray, v: np.ndarray, rows: np.ndarray,
                   excluded: list[dict], where: str, row_word: str):
    """Refuse inf and time going back; drop NaN rows and repeated time stamps (recorded)."""
    for arr, label in ((t, "time"), (i, "current"), (v, "voltage")):
        bad = np.isinf(arr)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueRangeError(f"{where}: {row_word} {int(rows[k])}: {label} is {arr[k]}; "
                                  "delete or fix that row")
    nan = np.isnan(t) | np.isnan(i) | np.isnan(v)
    if nan.any():
        for k in np.flatnonzero(nan):
            excluded.append({"row": int(rows[k]), "time": None if np.isnan(t[k]) else float(t[k]),
                             "reason": "NaN"})
        warnings.warn(f"{where}: {int(nan.sum())} row(s) with NaN values left out; they are "
                      "listed in attrs['excluded']", DataWarning, stacklevel=4)
        keep = ~nan
        t, i, v, rows = t[keep], i[keep], v[keep], rows[keep]
    if t.size < MIN_SAMPLES:
        raise TooFewPointsError(f"{where}: {t.size} usable sample(s); a GITT record needs at "
                                f"least {MIN_SAMPLES}")
    dt = np.diff(t)
    back = np.flatnonzero(dt < 0)
    if back.size:
        k = int(back[0])
        raise TimeOrderError(
            f"{where}: {row_word} {int(rows[k + 1])}: time goes back from {t[k]:g} s to "
            f"{t[k + 1]:g} s; GITT time must increase. Join several files in time order, or "
            "remove the restarted part"
        )
    same = np.flatnonzero(dt == 0)
    if same.size:
        # Potentiostats log the last sample of one step and the first of the next with the same
        # time stamp; the later sample is the one that holds for the following interval.
        drop = np.zeros(t.size, dtype=bool)
        drop[same] = True
        for k in same:
            identical = i[k] == i[k + 1] and v[k] == v[k + 1]
            excluded.append({"row": int(rows[k]), "time": float(t[k]),
                             "reason": "duplicate" if identical else
                             f"same time as {row_word} {int(rows[k + 1])} (later sample kept)"})
        n_diff = int(sum(not (i[k] == i[k + 1] and v[k] == v[k + 1]) for k in same))
        if n_diff:
            warnings.warn(f"{where}: {n_diff} sample(s) share their time stamp with the next "
                          "one; the later sample is kept and the others are listed in "
                          "attrs['excluded']", DataWarning, stacklevel=4)
        keep = ~drop
        t, i, v, rows = t[keep], i[keep], v[keep], rows[keep]
    return t, i, v, rows


def make_gitt(
    time_s: np.ndarray,
    current_a: np.ndarray,
    voltage_v: np.ndarray,
    *,
    design: str | None = None,
    cell: str | None = None,
    capacity_mah: float | None = None,
    area_cm2: float | None = None,
    temperature_c: float | None = None,
    current_sign: str = "auto",
    source: str = "",
) -> xr.Dataset:
    """Build a validated GITT record from arrays.

    Parameters
    ----------
    time_s
        Sample times in s (must not decrease; stored relative to the first sample).
    current_a
        Current in A, discharge negative.
    voltage_v
        Cell voltage in V.
    design, cell, capacity_mah, area_cm2, temperature_c
        Metadata stored as attributes.
    current_sign
        ``"auto"`` (:func:`detect_pulses` refuses a record whose current sign looks reversed),
        ``"flip"`` (negate the current) or ``"as-is"`` (no check).
    source
        Where the data came from (messages and attrs).

    Returns
    -------
    xr.Dataset
        Dim ``time`` (s); vars ``current`` (A), ``voltage`` (V); attrs per the contract.
    """
    return build_gitt(time_s, current_a, voltage_v, source=source, design=design, cell=cell,
                      capacity_mah=capacity_mah, area_cm2=area_cm2, temperature_c=temperature_c,
                      current_sign=current_sign)


def gitt_from_table(table: Table, *, current_unit: str | None = None, source_sha256: str = "",
                    extra_attrs: dict[str, object] | None = None, **meta) -> xr.Dataset:
    """Turn a parsed table into a GITT record.

    Units come from the header, or from ``current_unit`` when the header gives none.
    """
    roles = recognise(table)
    src = str(table.path)
    missing = [r for r in ("time", "current", "voltage") if r not in roles]
    if missing:
        raise ColumnError(
            f"{src}: cannot find the {', '.join(missing)} column(s); columns found: "
            f"{', '.join(repr(n) for n in table.names[:30])}. Accepted names: "
            f"{accepted_names_text('gitt')}"
        )
    tm, cm, vm = roles["time"], roles["current"], roles["voltage"]
    scale = cm.scale
    if current_unit is not None:
        us = unit_scale(current_unit)
        if us is None or us[0] != "current":
            raise UnitError(f"{src}: current_unit={current_unit!r} is not a current unit; use "
                            "'A', 'mA', 'uA' or 'nA'")
        if cm.unit_given and not math.isclose(us[1], cm.scale):
            raise UnitError(
                f"{src}: column {cm.name!r} says {cm.unit} but current_unit={current_unit!r} "
                "was given; drop current_unit or fix the header"
            )
        scale = us[1]
    assumed = [m.name for m in (tm, cm, vm) if not m.unit_given]
    if current_unit is not None and cm.name in assumed:
        assumed.remove(cm.name)
    if not meta.get("cell"):
        meta["cell"] = Path(src).stem
    attrs = {
        "columns_used": json.dumps({"time": tm.name, "current": cm.name, "voltage": vm.name}),
        "units_assumed": json.dumps(assumed),
        **(extra_attrs or {}),
    }
    return build_gitt(
        table.numeric(tm.name) * tm.scale, table.numeric(cm.name) * scale,
        table.numeric(vm.name) * vm.scale, rows=table.rows, row_word=table.row_word,
        source=src, source_sha256=source_sha256, source_format=table.fmt, extra_attrs=attrs,
        **meta,
    )
