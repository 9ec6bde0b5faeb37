"""Pulse detection in GITT records, with coulomb-counted SOC.

The record is cut into current segments (runs of samples with |I| above 1 % of the largest
current, split where the sign changes or the current steps by more than 20 %). A segment is a
GITT pulse when its current is constant (spread within 10 %) and its charge is not far above the
typical segment charge; other segments (the CC/CV charge before the pulses, CV holds) are
recorded in ``excluded_segments`` with their reason. Current is treated as held from one sample
to the next (zero-order hold), which is exact for instruments that log a sample at every
current change, whatever the sampling period (log-spaced, dE-triggered or fixed).
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import xarray as xr

from ..errors import (
    CapacityError,
    DataWarning,
    NoPulsesError,
    SignConventionError,
    UnitError,
    ValueRangeError,
)

#: |I| below this fraction of the largest current counts as rest.
REST_FRACTION = 0.01
#: A step of more than this relative size between two samples starts a new segment.
STEP_FRACTION = 0.2
#: Largest relative spread (max-min)/median of |I| within a constant-current pulse.
CC_SPREAD = 0.1
#: A segment with more than this multiple of the typical segment charge is not a pulse.
PULSE_CHARGE_FACTOR = 5.0
#: Charge passed in pulses may exceed the given capacity by this factor before it is an error.
#: Median pulse charge / capacity below this (0.001 % SOC per pulse) is a unit slip.
MIN_PULSE_SOC_FRACTION = 1e-5
CAPACITY_TOLERANCE = 1.2


def _segments(current: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [a, b) of runs of current-carrying samples."""
    imax = float(np.max(np.abs(current))) if current.size else 0.0
    if imax == 0.0:
        return []
    on = np.abs(current) > REST_FRACTION * imax
    sgn = np.where(on, np.sign(current), 0.0)
    mag = np.abs(current)
    prev, nxt = mag[:-1], mag[1:]
    step = on[:-1] & on[1:] & (np.abs(nxt - prev) > STEP_FRACTION * np.maximum(prev, nxt))
    change = (sgn[1:] != sgn[:-1]) | step
    bounds = np.concatenate([[0], np.flatnonzero(change) + 1, [current.size]])
    segs = [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if on[a]]
    segs = _absorb_ramp_samples(segs, sgn)
    # A CV hold logged sparsely decays in steps larger than STEP_FRACTION; three or more
    # back-to-back steps of the same sign with falling magnitude are one CV segment, not pulses.
    merged: list[tuple[int, int]] = []
    k = 0
    while k < len(segs):
        j = k
        while (j + 1 < len(segs) and segs[j + 1][0] == segs[j][1]
               and sgn[segs[j + 1][0]] == sgn[segs[k][0]]):
            j += 1
        levels = [float(np.median(mag[a:b])) for a, b in segs[k : j + 1]]
        if j - k >= 2 and all(x >= y for x, y in zip(levels[:-1], levels[1:], strict=True)):
            merged.append((segs[k][0], segs[j][1]))
        else:
            merged.extend(segs[k : j + 1])
        k = j + 1
    return merged


def _absorb_ramp_samples(segs: list[tuple[int, int]], sgn: np.ndarray
                         ) -> list[tuple[int, int]]:
    """Join a one-sample segment to the back-to-back segment of the same sign beside it.

    An instrument sampling faster than its current settles (1 kHz chronopotentiometry) logs one
    sample half-way up every step; on its own it would be a one-sample "pulse", and inside
    the step it would break the constant-current test.
    """
    out: list[tuple[int, int]] = []
    k = 0
    while k < len(segs):
        a, b = segs[k]
        if b - a == 1 and k + 1 < len(segs) and segs[k + 1][0] == b and sgn[b] == sgn[a]:
            segs[k + 1] = (a, segs[k + 1][1])
        elif b - a == 1 and out and out[-1][1] == a and sgn[out[-1][0]] == sgn[a]:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
        k += 1
    return out


def detect_pulses(
    gitt: xr.Dataset,
    *,
    capacity_mah: float | None = None,
    min_rest_s: float | None = None,
    pulse_charge_factor: float = PULSE_CHARGE_FACTOR,
) -> xr.Dataset:
    """Find the current pulses of a GITT record.

    Parameters
    ----------
    gitt
        A GITT Dataset (:func:`read_gitt` / :func:`make_gitt`).
    capacity_mah
        Cell capacity for coulomb counting; defaults to ``gitt.attrs['capacity_mah']`` and,
        when neither is known, to the charge passed from the SOC reference to the end of the
        last discharge pulse (the record is assumed to span 100 % to 0 %).
    min_rest_s
        Shortest rest after a pulse for the pulse to count as complete; default a quarter of
        the median rest between pulses.
    pulse_charge_factor
        A constant-current segment passing more than this multiple of the typical segment
        charge is a CC charge or discharge, not a pulse (raise it to keep a long pulse).

    Returns
    -------
    xr.Dataset
        Over ``pulse``: ``t_start``, ``t_end``, ``t_rest_end`` (s), ``current_a``, ``kind``
        (``discharge``/``charge``), ``soc_start``, ``soc_end``, ``soc`` (middle, percent),
        ``ocv_before``, ``ocv_after`` (V), ``rest_s``, ``complete`` (bool), plus ``charge_mah``
        and ``flag`` (``""``, ``"truncated"``, ``"no rest"``, ``"short rest"``,
        ``"no rest before"``). Attrs ``capacity_mah``, ``soc_reference``, ``min_rest_s``,
        ``excluded_segments`` (JSON list of non-pulse segments with the reason).

    Warns
    -----
    DataWarning
        A constant-current segment between the pulses left out for its charge.

    Raises
    ------
    NoPulsesError, CapacityError, UnitError, SignConventionError
        No constant-current pulse; the charge passed contradicts the capacity (UnitError when
        it is off by about 1000x: mA read as A); the voltage moves against the current in most
        pulses (read the file with ``current_sign='flip'``).
    """
    src = gitt.attrs.get("source") or "<GITT record>"
    rec = _Record(src, np.asarray(gitt["time"].values, dtype=float),
                  np.asarray(gitt["current"].values, dtype=float),
                  np.asarray(gitt["voltage"].values, dtype=float))
    if not (pulse_charge_factor > 1 and math.isfinite(pulse_charge_factor)):
        raise ValueRangeError(f"{src}: pulse_charge_factor={pulse_charge_factor!r} must be a "
                              "finite number above 1")
    cap_given = _given_capacity(capacity_mah, gitt, src)
    segs = _segments(rec.cur)
    if not segs:
        raise NoPulsesError(f"{src}: the current is zero throughout, so there are no pulses; "
                            "check that the current column is the right one")
    info = _segment_info(rec, segs)
    pulses, excluded_segments = _classify(info, pulse_charge_factor, src)
    soc_at_ref, ref_idx, ref_text = _soc_reference(rec, info, pulses)
    capacity, cap_c, ref_text = _capacity(rec, pulses, cap_given, ref_idx, ref_text)
    min_rest_s = _rests(rec, info, pulses, min_rest_s)
    if gitt.attrs.get("current_sign", "auto") != "as-is":
        _check_current_sign(rec, pulses)
    q_ref_c = rec.qcum[ref_idx]
    soc_start, soc_end = (np.array([soc_at_ref + 100.0 * (rec.q_before(p[k]) - q_ref_c) / cap_c
                                    for p in pulses]) for k in ("a", "b"))
    if not math.isnan(cap_given) and (soc_end.min() < -20 or soc_end.max() > 120):
        raise CapacityError(
            f"{src}: coulomb counting with capacity_mah={cap_given:g} gives SOC from "
            f"{soc_end.min():.0f} % to {soc_end.max():.0f} %; the capacity does not match the "
            "charge passed")
    ds = _pulse_dataset(rec, pulses, soc_start, soc_end)
    ds.attrs = {"capacity_mah": float(capacity), "soc_reference": ref_text,
                "min_rest_s": float(min_rest_s),
                "excluded_segments": json.dumps(excluded_segments),
                "source": gitt.attrs.get("source", ""), "design": gitt.attrs.get("design", ""),
                "cell": gitt.attrs.get("cell", "")}
    return ds


class _Record:
    """A GITT record's arrays with the cumulative charge, shared by the steps below."""

    def __init__(self, src: str, t: np.ndarray, cur: np.ndarray, volt: np.ndarray) -> None:
        self.src, self.t, self.cur, self.volt = src, t, cur, volt
        self.n = t.size
        self.dt = np.diff(t, append=t[-1])
        # qcum[k]: charge passed before sample k (C), current held from one sample to the next
        self.qcum = np.concatenate([[0.0], np.cumsum(cur * self.dt)])
        self.imax = float(np.max(np.abs(cur))) if cur.size else 0.0

    def q_before(self, idx: int) -> float:
        """Charge passed before sample ``idx`` (clipped to the last sample)."""
        return float(self.qcum[min(idx, self.n - 1)])


def _given_capacity(capacity_mah: float | None, gitt: xr.Dataset, src: str) -> float:
    """Return the capacity to count with (mAh; NaN when unknown); refuse 0, < 0 and NaN."""
    if capacity_mah is not None:
        try:
            cap = float(capacity_mah)
        except (TypeError, ValueError):
            raise CapacityError(f"{src}: capacity_mah={capacity_mah!r} is not a number") from None
        if not (cap > 0 and math.isfinite(cap)):
            raise CapacityError(f"{src}: capacity_mah={capacity_mah!r} must be a positive "
                                "number of mAh; leave it out to take the capacity from the "
                                "record")
        return cap
    cap = gitt.attrs.get("capacity_mah")
    cap = float(cap) if cap is not None else math.nan
    if not (math.isnan(cap) or cap > 0):
        raise CapacityError(f"{src}: capacity_mah={cap!r} must be positive")
    return cap


def _segment_info(rec: _Record, segs: list[tuple[int, int]]) -> list[dict]:
    """Describe every current segment: times, charge and whether the current is constant."""
    info = []
    for a, b in segs:
        mag = np.abs(rec.cur[a:b])
        # the spread of a long segment is taken between its 2nd and 98th percentiles, so that
        # a settling sample or a spike does not make a constant current "varying"
        lo, hi = np.percentile(mag, [2, 98]) if b - a >= 50 else (mag.min(), mag.max())
        spread = float((hi - lo) / np.median(mag))
        info.append({"a": a, "b": b, "t_start": float(rec.t[a]),
                     "t_end": float(rec.t[b] if b < rec.n else rec.t[-1]),
                     "q": float(rec.qcum[b] - rec.qcum[a]), "cc": spread <= CC_SPREAD,
                     "truncated": b >= rec.n})
    return info


def _classify(info: list[dict], factor: float, src: str) -> tuple[list[dict], list[dict]]:
    """Split segments into pulses and excluded segments (with their reason).

    A constant-current segment far above the typical charge is a CC charge or discharge. Apart
    from the charge before the pulses (the SOC reference), it may as well be a pulse longer
    than the others: it is left out, and a DataWarning names it, so that nothing is dropped
    silently.
    """
    q_ref = float(np.exp(np.median(np.log([max(abs(s["q"]), 1e-300) for s in info]))))
    excluded, pulses, long_cc = [], [], []
    for k, s in enumerate(info):
        reason = None
        if not s["cc"]:
            reason = "CV hold or varying current (not a constant-current pulse)"
        elif abs(s["q"]) > factor * q_ref:
            reason = "CC charge/discharge (far more charge than a pulse)"
        s["is_pulse"] = reason is None
        s["index"] = k
        if reason is None:
            pulses.append(s)
            continue
        if s["q"] > 0 and not pulses:
            reason = "CC/CV charge before the pulses"
        elif s["cc"]:
            long_cc.append((s, abs(s["q"]) / q_ref))
        excluded.append({"t_start": s["t_start"], "t_end": s["t_end"],
                         "charge_mah": s["q"] / 3.6, "reason": reason})
    if not pulses:
        raise NoPulsesError(
            f"{src}: no constant-current pulses found ({len(info)} current segment(s), none "
            "of them a short constant-current step); check the current column and its unit"
        )
    if long_cc:
        where = ", ".join(f"{s['t_start']:g}-{s['t_end']:g} s ({r:.0f}x)" for s, r in long_cc[:5])
        warnings.warn(
            f"{src}: {len(long_cc)} constant-current segment(s) besides the charge before the "
            f"pulses pass far more charge than a typical pulse ({where} the typical segment "
            "charge) and are "
            "left out as CC charge/discharge, not pulses (listed in excluded_segments); if "
            f"they are pulses, pass pulse_charge_factor above {max(r for _, r in long_cc):.0f}",
            DataWarning, stacklevel=3)
    return pulses, excluded


def _soc_reference(rec: _Record, info: list[dict], pulses: list[dict]
                   ) -> tuple[float, int, str]:
    """SOC at the reference sample (percent), its index, and the reference in words.

    The reference is the end of the last non-pulse charge before the first discharge pulse
    (100 %), else the record start (100 %; 0 % for a charge-only record).
    """
    first_dis = next((p for p in pulses if p["q"] < 0), None)
    if first_dis is None:
        return 0.0, 0, "record start (0 %: charge-only record)"
    ref_idx, ref_text = 0, "record start (100 %)"
    for s in info:
        if not s["is_pulse"] and s["q"] > 0 and s["b"] <= first_dis["a"]:
            # the CV tail fades below the segment threshold before the charge really stops:
            # the reference is the first sample where the current is essentially zero
            tail = np.flatnonzero(np.abs(rec.cur[s["b"] : first_dis["a"]]) <= 1e-4 * rec.imax)
            ref_idx = s["b"] + int(tail[0]) if tail.size else first_dis["a"]
            ref_text = f"end of the charge at {rec.t[ref_idx]:g} s (100 %)"
    return 100.0, ref_idx, ref_text


def _capacity(rec: _Record, pulses: list[dict], cap_given: float, ref_idx: int,
              ref_text: str) -> tuple[float, float, str]:
    """(capacity in mAh, in C, reference text), checked against the charge of the pulses."""
    src = rec.src
    q_ref_c = rec.qcum[ref_idx]
    if math.isnan(cap_given):
        dis = [p for p in pulses if p["q"] < 0]
        last = max(dis or pulses, key=lambda p: p["a"])
        cap_c = abs(rec.q_before(last["b"]) - q_ref_c)
        if cap_c <= 0:
            cap_c = abs(sum(p["q"] for p in pulses))
        return (cap_c / 3.6, cap_c, ref_text + "; capacity from the record (charge passed to "
                "the end of the last pulse)")
    cap_c = cap_given * 3.6
    q_dis_pulses = -sum(p["q"] for p in pulses if p["q"] < 0)  # C
    ratio = q_dis_pulses / cap_c
    if ratio > CAPACITY_TOLERANCE:
        # 10x or more over, but consistent once divided by 1000: a unit slip, not a wrong
        # capacity
        if 10 <= ratio <= 1000 * CAPACITY_TOLERANCE:
            raise UnitError(
                f"{src}: discharge pulses pass {q_dis_pulses / 3.6:.4g} mAh, "
                f"{ratio:.0f}x the capacity of {cap_given:g} mAh: the current looks like mA "
                "read as A; put the unit in the header ('I/mA') or pass current_unit='mA'"
            )
        raise CapacityError(
            f"{src}: discharge pulses pass {q_dis_pulses / 3.6:.4g} mAh, more than "
            f"{CAPACITY_TOLERANCE:g}x the capacity_mah={cap_given:g}; check the capacity (in "
            "mAh) or the current unit"
        )
    # the other direction of a unit slip (A read as mA): every pulse then moves the SOC by a
    # few millionths of a percent, which no GITT protocol does
    pulse_frac = [abs(p["q"]) / cap_c for p in pulses if not p.get("truncated")]
    if pulse_frac and float(np.median(pulse_frac)) < MIN_PULSE_SOC_FRACTION:
        step = 100.0 * float(np.median(pulse_frac))
        hint = ("the current looks like A read as mA; put the unit in the header ('I/A') or "
                "pass current_unit='A'"
                if MIN_PULSE_SOC_FRACTION <= 1000 * float(np.median(pulse_frac)) <= 0.5
                else "check the capacity (in mAh) and the current unit")
        raise UnitError(
            f"{src}: a pulse passes a median {step:.2g} % of capacity_mah={cap_given:g} "
            f"(GITT pulses move the SOC by 0.1-10 %): {hint}")
    return cap_given, cap_c, ref_text


def _rests(rec: _Record, info: list[dict], pulses: list[dict], min_rest_s: float | None
           ) -> float:
    """Rest, OCV and completeness flag of every pulse; returns the min_rest_s used."""
    rests = []
    for p in pulses:
        k = p["index"] + 1
        nxt = info[k] if k < len(info) else None  # segments are in time order
        p["t_rest_end"] = float(rec.t[nxt["a"]]) if nxt is not None else float(rec.t[-1])
        p["rest_s"] = max(0.0, p["t_rest_end"] - p["t_end"]) if p["b"] < rec.n else 0.0
        p["no_rest"] = p["b"] < rec.n and nxt is not None and nxt["a"] == p["b"]
        rest_end_idx = (nxt["a"] if nxt is not None else rec.n) - 1
        p["ocv_after"] = (float(rec.volt[rest_end_idx]) if p["b"] < rec.n and not p["no_rest"]
                          else math.nan)
        p["ocv_before"] = float(rec.volt[p["a"] - 1]) if p["a"] > 0 else math.nan
        p["no_rest_before"] = p["a"] > 0 and abs(rec.cur[p["a"] - 1]) > REST_FRACTION * rec.imax
        if nxt is not None and not p["truncated"]:
            rests.append(p["rest_s"])
    if min_rest_s is None:
        positive = [r for r in rests if r > 0]
        min_rest_s = 0.25 * float(np.median(positive)) if positive else 0.0
    for p in pulses:
        p["flag"] = ("truncated" if p["truncated"] else "no rest" if p["no_rest"]
                     else "short rest" if p["rest_s"] < min_rest_s
                     else "no rest before" if p["no_rest_before"] else "")
    return float(min_rest_s)


def _check_current_sign(rec: _Record, pulses: list[dict]) -> None:
    """Refuse a record in which the voltage moves against the current in most pulses."""
    votes = []
    for p in pulses:
        if math.isnan(p["ocv_before"]) or p["no_rest_before"]:
            continue
        dv = rec.volt[p["b"] - 1] - p["ocv_before"]
        if abs(dv) > 1e-6:
            votes.append(dv * p["q"] < 0)
    if votes and sum(votes) > len(votes) / 2:
        raise SignConventionError(
            f"{rec.src}: in {sum(votes)} of {len(votes)} pulses the voltage moves against the "
            "current (it falls while the current is positive), so the current sign looks "
            "reversed; drtbayes needs discharge current negative. Read the file with "
            "current_sign='flip' (or 'as-is' to keep it)"
        )


def _pulse_dataset(rec: _Record, pulses: list[dict], soc_start: np.ndarray,
                   soc_end: np.ndarray) -> xr.Dataset:
    """Build the per-pulse table of :func:`detect_pulses` (the caller sets its attrs)."""
    def col(key, dtype=float):
        return np.array([p[key] for p in pulses], dtype=dtype)

    dur = col("t_end") - col("t_start")
    mean_i = np.where(dur > 0, col("q") / np.where(dur > 0, dur, 1.0),
                      np.array([rec.cur[p["a"]] for p in pulses]))
    return xr.Dataset(
        {
            "t_start": ("pulse", col("t_start"), {"units": "s"}),
            "t_end": ("pulse", col("t_end"), {"units": "s"}),
            "t_rest_end": ("pulse", col("t_rest_end"), {"units": "s"}),
            "current_a": ("pulse", mean_i, {"units": "A"}),
            "kind": ("pulse", np.array(["discharge" if p["q"] < 0 else "charge"
                                        for p in pulses], dtype=object)),
            "soc_start": ("pulse", soc_start, {"units": "%"}),
            "soc_end": ("pulse", soc_end, {"units": "%"}),
            "soc": ("pulse", 0.5 * (soc_start + soc_end), {"units": "%"}),
            "ocv_before": ("pulse", col("ocv_before"), {"units": "V"}),
            "ocv_after": ("pulse", col("ocv_after"), {"units": "V"}),
            "rest_s": ("pulse", col("rest_s"), {"units": "s"}),
            "complete": ("pulse", np.array([p["flag"] == "" for p in pulses], dtype=bool)),
            "charge_mah": ("pulse", col("q") / 3.6, {"units": "mAh"}),
            "flag": ("pulse", np.array([p["flag"] for p in pulses], dtype=object)),
        },
        coords={"pulse": np.arange(len(pulses))},
    )
