"""The spectrum data model: building, validating and stacking impedance spectra.

A spectrum is an :class:`xarray.Dataset` over ``frequency`` (Hz, strictly decreasing) with
``z_real`` and ``z_imag`` in ohm, convention Z = Z' + jZ'' (capacitive arcs have Z'' < 0).
Every input row that is not used is listed in the ``excluded`` attribute with its reason.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import (
    ColumnError,
    DataWarning,
    DuplicateError,
    SignConventionError,
    TooFewPointsError,
    UnitError,
    ValueRangeError,
)
from ._text import Table, accepted_names_text, recognise

#: Fewest points a spectrum may have after exclusions.
MIN_POINTS = 10

_IMAG_SIGN_OPTIONS = ("auto", "flip", "as-is")
_CELL_TYPES = ("symmetric", "half")


def _where(source: str, row_word: str, row: int | None) -> str:
    src = source or "<array>"
    return f"{src}: {row_word} {row}" if row is not None else src


def _opt_float(value: float | None, name: str, source: str, *, lo: float | None = None,
               hi: float | None = None, positive: bool = False) -> float:
    if value is None:
        return math.nan
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueRangeError(f"{source or '<array>'}: {name}={value!r} is not a number") from None
    if math.isnan(v):
        return v
    if not math.isfinite(v) or (positive and v <= 0) or (lo is not None and v < lo) or (
        hi is not None and v > hi
    ):
        rng = "> 0" if positive else f"between {lo:g} and {hi:g}"
        raise ValueRangeError(f"{source or '<array>'}: {name}={value!r} must be {rng}")
    return v


def spectrum_meta(source: str, *, design: str | None, cell: str | None, soc: float | None,
                  temperature_c: float | None, cell_type: str, area_cm2: float | None
                  ) -> dict[str, object]:
    """Validate the metadata attributes shared by spectra (and GITT records)."""
    if cell_type not in _CELL_TYPES:
        raise ValueRangeError(
            f"{source or '<array>'}: cell_type={cell_type!r}; use 'symmetric' or 'half'"
        )
    return {
        "design": "" if design is None else str(design),
        "cell": "" if cell is None else str(cell),
        "soc": _opt_float(soc, "soc", source, lo=0.0, hi=100.0),
        "temperature_c": _opt_float(temperature_c, "temperature_c", source, lo=-273.15,
                                    hi=1000.0),
        "cell_type": cell_type,
        "area_cm2": _opt_float(area_cm2, "area_cm2", source, positive=True),
    }


def build_spectrum(
    frequency_hz: np.ndarray,
    z_real: np.ndarray,
    z_imag: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    row_word: str = "row",
    source: str = "",
    source_sha256: str = "",
    source_format: str = "array",
    imag_sign: str = "auto",
    imag_sign_detected: str = "Z''",
    imag_column: str = "z_imag",
    excluded: list[dict] | None = None,
    assumed: list[str] | None = None,
    extra_attrs: dict[str, object] | None = None,
    **meta,
) -> xr.Dataset:
    """Validate arrays and build a spectrum Dataset (the engine behind every reader)."""
    if imag_sign not in _IMAG_SIGN_OPTIONS:
        raise ValueRangeError(
            f"{source or '<array>'}: imag_sign={imag_sign!r}; use 'auto', 'flip' or 'as-is'"
        )
    attrs_meta = spectrum_meta(source, **meta)
    f = np.asarray(frequency_hz, dtype=np.float64).ravel()
    zr = np.asarray(z_real, dtype=np.float64).ravel()
    zi = np.asarray(z_imag, dtype=np.float64).ravel()
    if not (f.size == zr.size == zi.size):
        raise ValueRangeError(
            f"{source or '<array>'}: frequency ({f.size}), real ({zr.size}) and imaginary "
            f"({zi.size}) parts must have the same length"
        )
    if rows is None:
        rows = np.arange(f.size)
    rows = np.asarray(rows, dtype=np.int64)
    excluded = list(excluded or [])

    f, zr, zi, rows = _drop_unusable(f, zr, zi, rows, excluded, source, row_word)
    if imag_sign == "flip":
        zi = -zi
    f, zr, zi, rows, sorted_by_reader = _sort_unique(f, zr, zi, rows, excluded, source,
                                                     row_word)
    if f.size < MIN_POINTS:
        raise TooFewPointsError(
            f"{source or '<array>'}: {f.size} usable point(s) after exclusions, at least "
            f"{MIN_POINTS} are needed for a DRT; measure more frequencies (about 7-10 per decade)"
        )

    if imag_sign == "auto":
        _check_signs(zr, zi, source, imag_column, imag_sign_detected)
    attrs = {
        **attrs_meta,
        "source": source,
        "source_sha256": source_sha256,
        "source_format": source_format,
        "imag_sign_detected": imag_sign_detected,
        "imag_sign": imag_sign,
        "sorted_by_reader": int(sorted_by_reader),
        "excluded": json.dumps(sorted(excluded, key=lambda e: (e["row"], e["reason"]))),
        "assumed": json.dumps(list(assumed or [])),
    }
    if extra_attrs:
        attrs.update(extra_attrs)
    ds = xr.Dataset(
        {
            "z_real": ("frequency", zr, {"units": "ohm", "long_name": "Z'"}),
            "z_imag": ("frequency", zi, {"units": "ohm", "long_name": "Z''"}),
        },
        coords={"frequency": ("frequency", f, {"units": "Hz"}),
                "row": ("frequency", rows, {"long_name": f"source {row_word}"})},
        attrs=attrs,
    )
    return ds


def _drop_unusable(f, zr, zi, rows, excluded: list[dict], source: str, row_word: str):
    """Refuse inf and negative frequencies; drop NaN, 0 Hz and all-zero rows (recorded)."""
    for arr, label in ((f, "frequency"), (zr, "real part"), (zi, "imaginary part")):
        bad = np.isinf(arr)
        if bad.any():
            k = int(np.argmax(bad))
            raise ValueRangeError(
                f"{_where(source, row_word, int(rows[k]))}: {label} is {arr[k]}; infinite "
                "values are not measurements, delete or fix that row"
            )
    nan = np.isnan(f) | np.isnan(zr) | np.isnan(zi)
    if nan.any():
        for k in np.flatnonzero(nan):
            excluded.append({"row": int(rows[k]),
                             "frequency": None if np.isnan(f[k]) else float(f[k]),
                             "reason": "NaN"})
        warnings.warn(
            f"{source or '<array>'}: {int(nan.sum())} row(s) with NaN values left out ("
            f"{row_word}s {', '.join(str(int(r)) for r in rows[nan][:8])}"
            f"{' ...' if nan.sum() > 8 else ''}); they are listed in attrs['excluded']",
            DataWarning, stacklevel=4,
        )
        keep = ~nan
        f, zr, zi, rows = f[keep], zr[keep], zi[keep], rows[keep]

    neg = f < 0
    if neg.any():
        k = int(np.argmax(neg))
        raise ValueRangeError(
            f"{_where(source, row_word, int(rows[k]))}: frequency {f[k]:g} Hz is not positive; "
            "delete that row, or fix the sign of the frequency column"
        )
    # Instruments write 0 Hz rows on purpose: EC-Lab ends every loop with one, Parstat logs
    # the DC part of the experiment in the same table. They are not impedance points, and
    # the contract keeps every unused row in the exclusion list with its reason.
    dc = f == 0
    if dc.any():
        for k in np.flatnonzero(dc):
            excluded.append({"row": int(rows[k]), "frequency": 0.0,
                             "reason": "0 Hz (DC or end-of-loop row, not an impedance point)"})
        keep = ~dc
        f, zr, zi, rows = f[keep], zr[keep], zi[keep], rows[keep]
    zero = (zr == 0) & (zi == 0)
    if zero.any():
        if zero.all():
            raise ValueRangeError(
                f"{source or '<array>'}: every impedance value is 0 ohm, which is no "
                "measurement (an empty export or the wrong columns); export the data again"
            )
        for k in np.flatnonzero(zero):
            excluded.append({"row": int(rows[k]), "frequency": float(f[k]),
                             "reason": "Z' = Z'' = 0 (placeholder, not a measurement)"})
        warnings.warn(
            f"{source or '<array>'}: {int(zero.sum())} row(s) with Z' = Z'' = 0 left out ("
            f"{row_word}s {', '.join(str(int(r)) for r in rows[zero][:8])}"
            f"{' ...' if zero.sum() > 8 else ''}); they are listed in attrs['excluded']",
            DataWarning, stacklevel=4,
        )
        keep = ~zero
        f, zr, zi, rows = f[keep], zr[keep], zi[keep], rows[keep]

    return f, zr, zi, rows


def _sort_unique(f, zr, zi, rows, excluded: list[dict], source: str, row_word: str):
    """Sort high to low and drop exact duplicate rows; refuse duplicates that differ."""
    sorted_by_reader = 0
    if f.size > 1 and not np.all(np.diff(f) < 0):
        sorted_by_reader = 1
        order = np.argsort(-f, kind="stable")
        f, zr, zi, rows = f[order], zr[order], zi[order], rows[order]
        same = np.flatnonzero(np.diff(f) == 0)
        if same.size:
            drop = np.zeros(f.size, dtype=bool)
            for k in same:
                # the first of a run of equal frequencies is the one kept (k may itself be
                # dropped when three rows share a frequency; compare against the kept one)
                first = k
                while drop[first]:
                    first -= 1
                if zr[k + 1] == zr[first] and zi[k + 1] == zi[first]:
                    drop[k + 1] = True
                    excluded.append({"row": int(rows[k + 1]), "frequency": float(f[k + 1]),
                                     "reason": f"duplicate of {row_word} {int(rows[first])}"})
                else:
                    raise DuplicateError(
                        f"{source or '<array>'}: {row_word}s {int(rows[first])} and "
                        f"{int(rows[k + 1])} have the same frequency {f[k]:g} Hz with "
                        "different impedances; delete one of them (or split the file if it "
                        "holds several sweeps)"
                    )
            keep = ~drop
            f, zr, zi, rows = f[keep], zr[keep], zi[keep], rows[keep]
            if np.all(np.diff(f) < 0) and np.array_equal(rows, np.sort(rows)):
                sorted_by_reader = 0

    return f, zr, zi, rows, sorted_by_reader


def _check_signs(zr, zi, source: str, imag_column: str, imag_sign_detected: str) -> None:
    """Refuse a spectrum whose imaginary (or real) part looks sign-flipped."""
    n_pos = int(np.sum(zi > 0))
    if n_pos > zi.size / 2:
        raise SignConventionError(
            f"{source or '<array>'}: {n_pos} of {zi.size} points have Z'' > 0 (column "
            f"{imag_column!r} read as {imag_sign_detected}); drtbayes needs Z = Z' + jZ'' "
            "with Z'' < 0 on capacitive arcs, so the imaginary sign looks flipped. If the "
            "column holds -Z'' under another name, pass imag_sign='flip'; if the data "
            "really are inductive, pass imag_sign='as-is'"
        )
    n_neg_re = int(np.sum(zr < 0))
    if n_neg_re > zi.size / 2:
        raise SignConventionError(
            f"{source or '<array>'}: {n_neg_re} of {zi.size} points have a negative real "
            "part; the real column probably holds -Z'. Name it -Z' in the header (or "
            "negate it) so that Z' > 0"
        )


def make_spectrum(
    frequency_hz: Sequence[float] | np.ndarray,
    z: Sequence[complex] | np.ndarray,
    *,
    imag_sign: str = "auto",
    design: str | None = None,
    cell: str | None = None,
    soc: float | None = None,
    temperature_c: float | None = None,
    cell_type: str = "symmetric",
    area_cm2: float | None = None,
    source: str = "",
) -> xr.Dataset:
    """Build a validated spectrum Dataset from arrays.

    Parameters
    ----------
    frequency_hz
        Frequencies in Hz (any order; they are sorted high to low and that is recorded).
    z
        Complex impedance in ohm, convention Z = Z' + jZ'' (capacitive: Z'' < 0).
    imag_sign
        ``"auto"`` (refuse a spectrum whose imaginary part looks flipped), ``"flip"`` (negate
        Z'') or ``"as-is"`` (no check).
    design, cell, soc, temperature_c, cell_type, area_cm2
        Metadata stored as attributes (soc in percent 0-100; cell_type ``symmetric`` or
        ``half``).
    source
        Where the data came from (used in messages and stored).

    Returns
    -------
    xr.Dataset
        Dims ``frequency``; vars ``z_real``, ``z_imag`` (ohm); attrs as in the architecture
        contract.

    Raises
    ------
    drtbayes.errors.DataError
        ValueRangeError (inf, non-positive frequency), DuplicateError, TooFewPointsError,
        SignConventionError.
    """
    zc = np.asarray(z)
    if not np.iscomplexobj(zc):
        zc = zc.astype(np.float64) + 0j
    return build_spectrum(
        np.asarray(frequency_hz, dtype=np.float64), zc.real, zc.imag, source=source,
        imag_sign=imag_sign, design=design, cell=cell, soc=soc, temperature_c=temperature_c,
        cell_type=cell_type, area_cm2=area_cm2,
    )


# --- from a table --------------------------------------------------------------------------


def _sweep_breaks(f: np.ndarray) -> list[int]:
    """Start indices of new sweeps in a file holding several sweeps back to back.

    A new sweep starts where the frequency jumps back by more than half the measured log range
    against the sweep direction; the split is only accepted if every piece is then monotonic,
    so that a single unsorted spectrum is never cut into fragments.
    """
    ok = np.isfinite(f) & (f > 0)
    idx = np.flatnonzero(ok)
    if idx.size < 4:
        return []
    lf = np.log10(f[idx])
    d = np.diff(lf)
    nz = d[d != 0]
    if nz.size == 0:
        return []
    direction = -1.0 if np.median(nz) < 0 else 1.0
    span = lf.max() - lf.min()
    jumps = np.flatnonzero((d * direction < 0) & (np.abs(d) > 0.5 * span))
    if jumps.size == 0:
        return []
    # a single stray line after a full sweep is no second sweep: the duplicate check decides
    jumps = jumps[jumps + 2 < idx.size]
    if jumps.size == 0:
        return []
    cuts = [0, *(int(j) + 1 for j in jumps), idx.size]
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        dd = np.diff(lf[a:b])
        if np.any(dd * direction < 0):
            return []
    return [int(idx[c]) for c in cuts[1:-1]]


def _cycle_breaks(cyc: np.ndarray) -> list[int]:
    ok = np.isfinite(cyc)
    if ok.sum() < 2 or np.unique(cyc[ok]).size < 2:
        return []
    idx = np.flatnonzero(ok)
    change = np.flatnonzero(np.diff(cyc[idx]) != 0)
    return [int(idx[c + 1]) for c in change]


_PHASE_UNITS = {"deg": 1.0, "rad": 180.0 / np.pi}


def _phase_degrees(table: Table, pm, phase_unit: str | None) -> tuple[np.ndarray, list[str]]:
    """Return the phase column in degrees, and what was assumed.

    A unit-less column whose values all lie within +-pi/2 is refused: it reads equally as
    radians and as degrees (a nearly resistive spectrum).
    """
    src = str(table.path)
    raw = table.numeric(pm.name)
    if phase_unit is not None:
        if phase_unit not in _PHASE_UNITS:
            raise UnitError(f"{src}: phase_unit={phase_unit!r}; use 'deg' or 'rad'")
        if pm.unit_given and not math.isclose(_PHASE_UNITS[phase_unit], pm.scale):
            raise UnitError(f"{src}: column {pm.name!r} says {pm.unit} but phase_unit="
                            f"{phase_unit!r} was given; drop phase_unit or fix the header")
        return raw * _PHASE_UNITS[phase_unit], []
    if pm.unit_given:
        return raw * pm.scale, []
    finite = raw[np.isfinite(raw)]
    if finite.size and float(np.max(np.abs(finite))) <= np.pi / 2 + 1e-9:
        raise UnitError(
            f"{src}: column {pm.name!r} names no unit and all its values lie within +-pi/2 "
            f"(largest |phase| {float(np.max(np.abs(finite))):.4g}): radians or degrees? Write "
            f"the unit in the header ('{pm.name}/deg' or '{pm.name}/rad') or pass "
            "phase_unit='deg' or 'rad'"
        )
    return raw * pm.scale, [f"column {pm.name!r} names no unit: phase read as degrees"]


def _impedance(table: Table, roles: dict, imag_sign: str, phase_unit: str | None):
    """(f, Z', Z'', imaginary sign read, imaginary column, columns used, assumptions)."""
    fm = roles["frequency"]
    f = table.numeric(fm.name) * fm.scale
    used = {"frequency": fm.name}
    assumed: list[str] = []
    if "z_real" in roles and "z_imag" in roles:
        rm, im = roles["z_real"], roles["z_imag"]
        zr = table.numeric(rm.name) * rm.scale * (-1.0 if rm.negated else 1.0)
        zi = table.numeric(im.name) * im.scale * (-1.0 if im.negated else 1.0)
        detected = "-Z''" if im.negated else "Z''"
        imag_column = im.name
        used.update(z_real=rm.name, z_imag=im.name)
    else:
        mm, pm = roles["z_mod"], roles["phase"]
        mod = table.numeric(mm.name) * mm.scale
        deg, assumed = _phase_degrees(table, pm, phase_unit)
        phase_rad = np.deg2rad(deg) * (-1.0 if pm.negated else 1)
        zr, zi = mod * np.cos(phase_rad), mod * np.sin(phase_rad)
        detected = "-Z''" if pm.negated else "Z''"
        imag_column = pm.name
        used.update(z_mod=mm.name, phase=pm.name)
    if table.headerless:
        assumed.append("no header line: columns read as frequency (Hz), Z' (ohm), Z'' (ohm) "
                       "in that order")
        ok = np.isfinite(zi) & (f > 0)
        n_pos, n = int(np.sum(zi[ok] > 0)), int(ok.sum())
        if imag_sign == "auto" and n_pos > n / 2:
            # pyDRTtools writes Z'', other tools -Z'': the capacitive arcs decide
            zi = -zi
            detected = "-Z''"
            assumed.append(f"third column read as -Z'' ({n_pos} of {n} values are positive, "
                           "and capacitive arcs have Z'' < 0); pass imag_sign='as-is' to take "
                           "it as Z''")
        elif imag_sign == "auto":
            assumed.append(f"third column read as Z'' ({n - n_pos} of {n} values are "
                           "negative, as on capacitive arcs); pass imag_sign='flip' to take it "
                           "as -Z''")
    return f, zr, zi, detected, imag_column, used, assumed


def _loop_breaks(table: Table, roles: dict, f: np.ndarray, loop_starts, split_sweeps: bool
                 ) -> tuple[list[int], str]:
    """Return the start index of every loop after the first, and how they were found.

    From the file's loop marks when it has them, else from frequency sweeps restarting (the
    reader's own decision, so it is said in the spectra's ``loops_found_by`` attribute and in
    the warning of :func:`read_spectra`).
    """
    if loop_starts:
        return sorted({int(s) for s in loop_starts if 0 < int(s) < f.size}), "loop module"
    if "cycle" in roles:
        breaks = _cycle_breaks(table.numeric(roles["cycle"].name))
        if breaks:
            return breaks, f"column {roles['cycle'].name!r}"
    if split_sweeps:
        breaks = _sweep_breaks(f)
        if breaks:
            rows = ", ".join(str(int(table.rows[k])) for k in breaks[:8])
            return breaks, (f"the frequency sweep restarting at {table.row_word}"
                            f"{'s' if len(breaks) > 1 else ''} {rows}")
    return [], ""


def spectra_from_table(
    table: Table,
    *,
    imag_sign: str = "auto",
    split_sweeps: bool = False,
    loop_starts: Sequence[int] | None = None,
    source_sha256: str = "",
    extra_attrs: dict[str, object] | None = None,
    phase_unit: str | None = None,
    **meta,
) -> list[xr.Dataset]:
    """Turn a parsed table into one spectrum per loop / sweep, with exclusions recorded."""
    roles = recognise(table)
    src = str(table.path)
    cartesian = "z_real" in roles and "z_imag" in roles
    polar = "z_mod" in roles and "phase" in roles
    if "frequency" not in roles or not (cartesian or polar):
        missing = [r for r in ("frequency",) if r not in roles]
        if not (cartesian or polar):
            missing.append("real and imaginary parts (or |Z| and phase)")
        raise ColumnError(
            f"{src}: cannot find {' and '.join(missing)}; columns found: "
            f"{', '.join(repr(n) for n in table.names[:30])}. Accepted names: "
            f"{accepted_names_text('spectrum')}"
        )
    f, zr, zi, detected, imag_column, used, assumed = _impedance(table, roles, imag_sign,
                                                                 phase_unit)
    rows = table.rows
    breaks, found_by = _loop_breaks(table, roles, f, loop_starts, split_sweeps)
    bounds = [0, *breaks, f.size]
    pieces = [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]

    attrs = {"columns_used": json.dumps(used), **(extra_attrs or {})}
    if not meta.get("cell"):
        meta["cell"] = Path(src).stem
    common = dict(row_word=table.row_word, source=src, source_sha256=source_sha256,
                  source_format=table.fmt, imag_sign=imag_sign, imag_sign_detected=detected,
                  imag_column=imag_column, assumed=assumed, **meta)
    if len(pieces) == 1:
        return [build_spectrum(f, zr, zi, rows=rows, extra_attrs=attrs, **common)]

    spectra: list[xr.Dataset] = []
    aborted: list[dict] = []
    for loop, (a, b) in enumerate(pieces):
        n_ok = int(np.sum(np.isfinite(f[a:b]) & np.isfinite(zr[a:b]) & np.isfinite(zi[a:b])))
        if n_ok < MIN_POINTS:
            # an interrupted last sweep (or a stub loop) is recorded, not silently dropped
            for k in range(a, b):
                aborted.append({"row": int(rows[k]),
                                "frequency": float(f[k]) if np.isfinite(f[k]) else None,
                                "reason": f"aborted sweep (loop {loop} has {n_ok} points)"})
            warnings.warn(
                f"{src}: loop {loop} ({table.row_word}s {int(rows[a])}-{int(rows[b - 1])}) has "
                f"only {n_ok} points and is left out as an aborted sweep", DataWarning,
                stacklevel=3,
            )
            continue
        ds = build_spectrum(f[a:b], zr[a:b], zi[a:b], rows=rows[a:b],
                            extra_attrs={**attrs, "loop": loop, "loops_found_by": found_by},
                            **common)
        spectra.append(ds)
    if not spectra:
        raise TooFewPointsError(
            f"{src}: none of the {len(pieces)} loops has {MIN_POINTS} usable points"
        )
    if aborted:
        last = spectra[-1]
        exc = json.loads(last.attrs["excluded"]) + aborted
        last.attrs["excluded"] = json.dumps(sorted(exc, key=lambda e: (e["row"], e["reason"])))
    return spectra


# --- stacking ------------------------------------------------------------------------------

_STACK_COORDS = ("design", "cell", "soc", "temperature_c", "cell_type", "area_cm2", "source")


# over 80 lines by its docstring (the body, ~75 lines, is one merge of frequency grids and labels)
def stack_spectra(spectra: Sequence[xr.Dataset], *, rtol: float = 1e-3) -> xr.Dataset:
    """Stack spectra along a new ``spectrum`` dimension on the union of their frequencies.

    Parameters
    ----------
    spectra
        Spectrum Datasets (as from :func:`read_spectrum` or :func:`make_spectrum`).
    rtol
        Frequencies within this relative distance are one frequency (default 0.1 %).

    Returns
    -------
    xr.Dataset
        Dims (``spectrum``, ``frequency``); points a spectrum lacks are NaN. Coords along
        ``spectrum``: design, cell, soc, temperature_c, cell_type, area_cm2, source, plus
        ``excluded``, ``sorted_by_reader`` and (when checked) ``kk_max_residual``, ``kk_pass``.
    """
    spectra = list(spectra)
    if not spectra:
        raise ValueRangeError("stack_spectra: no spectra given")
    all_f = np.concatenate([np.asarray(s["frequency"].values, dtype=float) for s in spectra])
    order = np.sort(all_f)[::-1]
    # greedy clustering from high to low frequency: a new cluster starts when a value is more
    # than rtol below the cluster's first (highest) value
    cluster_first: list[float] = []
    members: list[list[float]] = []
    for v in order:
        if cluster_first and v >= cluster_first[-1] * (1 - rtol):
            members[-1].append(v)
        else:
            cluster_first.append(v)
            members.append([v])
    grid = np.array([float(np.exp(np.mean(np.log(m)))) for m in members])
    firsts = np.array(cluster_first)
    n_s, n_f = len(spectra), grid.size
    zr = np.full((n_s, n_f), np.nan)
    zi = np.full((n_s, n_f), np.nan)
    has_kk = all("kk_res_real" in s for s in spectra)
    kr = np.full((n_s, n_f), np.nan) if has_kk else None
    ki = np.full((n_s, n_f), np.nan) if has_kk else None
    for i, s in enumerate(spectra):
        fs = np.asarray(s["frequency"].values, dtype=float)
        # index of the cluster each frequency falls in (firsts is decreasing)
        pos = np.searchsorted(-firsts, -fs, side="right") - 1
        if np.unique(pos).size != pos.size:
            raise DuplicateError(
                f"stack_spectra: spectrum {i} ({s.attrs.get('source', '')}) has two frequencies "
                f"within {rtol:.1%} of each other; they cannot be merged on a common grid"
            )
        zr[i, pos] = s["z_real"].values
        zi[i, pos] = s["z_imag"].values
        if has_kk:
            kr[i, pos] = s["kk_res_real"].values
            ki[i, pos] = s["kk_res_imag"].values

    def attr(s: xr.Dataset, k: str, default):
        return s.attrs.get(k, default)

    labels: list[str] = []
    for s in spectra:
        soc = attr(s, "soc", math.nan)
        base = f"{attr(s, 'design', '')}/{attr(s, 'cell', '')}/soc{float(soc):g}"
        label, k = base, 2
        while label in labels:
            label = f"{base}#{k}"
            k += 1
        labels.append(label)
    coords: dict[str, object] = {
        "spectrum": ("spectrum", np.array(labels, dtype=object)),
        "frequency": ("frequency", grid, {"units": "Hz"}),
    }
    for k in _STACK_COORDS:
        default = math.nan if k in ("soc", "temperature_c", "area_cm2") else ""
        vals = [attr(s, k, default) for s in spectra]
        dtype = float if k in ("soc", "temperature_c", "area_cm2") else object
        coords[k] = ("spectrum", np.array(vals, dtype=dtype))
    coords["excluded"] = ("spectrum", np.array([attr(s, "excluded", "[]") for s in spectra],
                                               dtype=object))
    coords["sorted_by_reader"] = ("spectrum", np.array(
        [int(attr(s, "sorted_by_reader", 0)) for s in spectra]))
    if all("kk_max_residual" in s.attrs for s in spectra):
        coords["kk_max_residual"] = ("spectrum", np.array(
            [float(s.attrs["kk_max_residual"]) for s in spectra]))
        coords["kk_pass"] = ("spectrum", np.array([int(s.attrs["kk_pass"]) for s in spectra]))
    data = {
        "z_real": (("spectrum", "frequency"), zr, {"units": "ohm"}),
        "z_imag": (("spectrum", "frequency"), zi, {"units": "ohm"}),
    }
    if has_kk:
        data["kk_res_real"] = (("spectrum", "frequency"), kr, {"units": "1"})
        data["kk_res_imag"] = (("spectrum", "frequency"), ki, {"units": "1"})
    return xr.Dataset(data, coords=coords)
