"""``describe(path)``: the few lines ``drtbayes read FILE`` prints to show what was read."""

from __future__ import annotations

import json
import os
import warnings

from ..errors import ColumnError, DataWarning, KramersKronigWarning
from ._read import read_gitt, read_spectra
from .kk import KK_THRESHOLD, kk_check
from .pulses import detect_pulses


def _fmt_hz(f: float) -> str:
    for scale, unit in ((1e6, "MHz"), (1e3, "kHz"), (1.0, "Hz"), (1e-3, "mHz")):
        if f >= scale:
            return f"{f / scale:.4g} {unit}"
    return f"{f * 1e6:.4g} uHz"


def _fmt_duration(s: float) -> str:
    return f"{s / 3600:.2f} h" if s >= 3600 else f"{s:.0f} s"


def describe(path: str | os.PathLike, *, kk_threshold: float = KK_THRESHOLD, **kw) -> str:
    """Summarise what drtbayes reads from a file.

    Spectra: number of spectra, points, frequency range, imaginary-sign convention of the
    column, exclusions, and the Kramers-Kronig residual with pass/fail. GITT records: duration,
    number of pulses, pulse current, SOC range and exclusions.

    Parameters
    ----------
    path
        Any file :func:`read_spectra` or :func:`read_gitt` accepts.
    kk_threshold
        Threshold for the Kramers-Kronig verdict (fraction of |Z|).
    **kw
        Passed to the reader (``fmt``, ``imag_sign``, ``capacity_mah``, ``current_unit``...).

    Returns
    -------
    str
        A few lines of text (no trailing newline).

    Raises
    ------
    drtbayes.errors.DataError
        What the reader or the pulse detection raises.
    """
    spectrum_kw = {k: v for k, v in kw.items() if k in (
        "fmt", "imag_sign", "design", "cell", "soc", "temperature_c", "cell_type", "area_cm2",
        "decimal", "phase_unit")}
    gitt_kw = {k: v for k, v in kw.items() if k in (
        "fmt", "design", "cell", "capacity_mah", "area_cm2", "current_unit", "temperature_c",
        "current_sign", "decimal")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            spectra = read_spectra(path, **spectrum_kw)
        except ColumnError as spectrum_error:
            try:
                gitt = read_gitt(path, **gitt_kw)
            except ColumnError:
                raise spectrum_error from None
            return _describe_gitt(path, gitt, caught)
        lines = [f"{path}: {len(spectra)} impedance spectr{'um' if len(spectra) == 1 else 'a'} "
                 f"({spectra[0].attrs['source_format']})"]
        cols = _file_names(json.loads(spectra[0].attrs.get("columns_used", "{}")),
                           spectra[0].attrs.get("source_format"))
        for k, s in enumerate(spectra):
            f = s["frequency"].values
            checked = kk_check(s, threshold=kk_threshold)
            excl = json.loads(s.attrs["excluded"])
            resorted = ", sorted high to low by the reader" if s.attrs["sorted_by_reader"] else ""
            lines.append(
                f"  [{k}] {f.size} points, {_fmt_hz(float(f.max()))} .. {_fmt_hz(float(f.min()))}"
                f", Re Z {float(s['z_real'].min()):.4g} .. {float(s['z_real'].max()):.4g} ohm"
                f", {len(excl)} row(s) excluded{resorted}"
            )
            a = checked.attrs
            limit = (f"limit {a['kk_limit']:.2%}: the larger of the threshold "
                     f"{kk_threshold:.1%} and 4.5 x the point-to-point noise {a['kk_noise']:.2%}"
                     if "kk_limit" in a else f"threshold {kk_threshold:.1%}")
            lines.append(
                f"      KK: max residual {a['kk_max_residual']:.3%} of |Z| -> "
                f"{'pass' if a['kk_pass'] else 'FAIL'} ({limit})"
            )
        lines.insert(1, f"  columns: {', '.join(f'{k}={v!r}' for k, v in cols.items())}; "
                        f"imaginary column read as {spectra[0].attrs['imag_sign_detected']} "
                        "(stored as Z'', capacitive < 0)")
    notes = [str(w.message) for w in caught if not issubclass(w.category, KramersKronigWarning)]
    # what the reader assumed (headerless columns, the sign it chose, a unit-less phase)
    notes += [f"assumed: {a}" for a in json.loads(spectra[0].attrs.get("assumed", "[]"))]
    lines += [f"  note: {n}" for n in notes]
    return "\n".join(lines)


def _file_names(cols: dict[str, str], fmt: str | None) -> dict[str, str]:
    """Column names as the file spells them (the Gamry reader renames its columns first)."""
    if fmt != "dta":
        return cols
    from .gamry import _GAMRY_NAMES

    inverse = {v: k for k, v in _GAMRY_NAMES.items()}
    return {role: inverse.get(name, name) for role, name in cols.items()}


def _describe_gitt(path, gitt, caught) -> str:
    pulses = detect_pulses(gitt)
    t = gitt["time"].values
    lines = [f"{path}: GITT record ({gitt.attrs['source_format']}), {t.size} samples over "
             f"{_fmt_duration(float(t[-1]))}"]
    cols = _file_names(json.loads(gitt.attrs.get("columns_used", "{}")),
                       gitt.attrs.get("source_format"))
    lines.append(f"  columns: {', '.join(f'{k}={v!r}' for k, v in cols.items())}")
    n = pulses.sizes["pulse"]
    kinds = list(pulses["kind"].values)
    n_dis = kinds.count("discharge")
    i_ma = abs(pulses["current_a"].values) * 1e3
    lines.append(f"  {n} pulses ({n_dis} discharge, {n - n_dis} charge), |I| "
                 f"{i_ma.min():.4g} .. {i_ma.max():.4g} mA, "
                 f"{int(pulses['complete'].values.sum())} complete")
    soc = pulses["soc"].values
    lines.append(f"  SOC {soc.min():.1f} .. {soc.max():.1f} % (capacity "
                 f"{pulses.attrs['capacity_mah']:.4g} mAh; reference: "
                 f"{pulses.attrs['soc_reference']})")
    excl = json.loads(gitt.attrs["excluded"])
    segs = json.loads(pulses.attrs["excluded_segments"])
    lines.append(f"  {len(excl)} sample(s) excluded, {len(segs)} non-pulse segment(s) "
                 "(e.g. CC/CV charge) left out")
    assumed = json.loads(gitt.attrs.get("units_assumed", "[]"))
    if assumed:
        lines.append(f"  note: no unit in the header of {', '.join(map(repr, assumed))}; "
                     "SI units (s, A, V) assumed")
    lines += [f"  note: {w.message}" for w in caught]
    return "\n".join(lines)
