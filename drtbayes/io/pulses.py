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

import numpy as np
import xarray as xr

from ..errors import CapacityError, NoPulsesError, SignConventionError, UnitError

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


def detect_pulses(
    gitt: xr.Dataset,
    *,
    capacity_mah: float | None = None,
    min_rest_s: float | None = None,
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

    Returns
    -------
    xr.Dataset
        Over ``pulse``: ``t_start``, ``t_end``, ``t_rest_end`` (s), ``current_a``, ``kind``
        (``discharge``/``charge``), ``soc_start``, ``soc_end``, ``soc`` (middle, percent),
        ``ocv_before``, ``ocv_after`` (V), ``rest_s``, ``complete`` (bool), plus ``charge_mah``
        and ``flag`` (``""``, ``"truncated"``, ``"no rest"``, ``"short rest"``,
        ``"no rest before"``). Attrs ``capacity_mah``, ``soc_reference``, ``min_rest_s``,
        ``excluded_segments`` (JSON list of non-pulse segments with the reason).

    Raises
    ------
    NoPulsesError
        No constant-current pulse in the record.
    CapacityError, UnitError
        The charge passed contradicts the capacity (UnitError when it is off by about 1000x,
        i.e. mA read as A).
    SignConventionError
        The voltage moves against the current in most pulses (current sign reversed; read the
        file with ``current_sign='flip'``).
    """
    src = gitt.attrs.get("source") or "<GITT record>"
    t = np.asarray(gitt["time"].values, dtype=float)
    cur = np.asarray(gitt["current"].values, dtype=float)
    volt = np.asarray(gitt["voltage"].values, dtype=float)
    n = t.size
    segs = _segments(cur)
    if not segs:
        raise NoPulsesError(f"{src}: the current is zero throughout, so there are no pulses; "
                            "check that the current column is the right one")
    dt = np.diff(t, append=t[-1])
    qcum = np.concatenate([[0.0], np.cumsum(cur * dt)])[:n]  # C, charge passed before t_k

    info = []
    for a, b in segs:
        t_end = t[b] if b < n else t[-1]
        q = float(np.sum(cur[a:b] * dt[a:b]))
        mag = np.abs(cur[a:b])
        spread = float((mag.max() - mag.min()) / np.median(mag))
        info.append({"a": a, "b": b, "t_start": float(t[a]), "t_end": float(t_end), "q": q,
                     "cc": spread <= CC_SPREAD, "truncated": b >= n})
    log_q = np.log([max(abs(s["q"]), 1e-300) for s in info])
    q_ref = float(np.exp(np.median(log_q)))
    cap_given = capacity_mah if capacity_mah is not None else gitt.attrs.get("capacity_mah")
    cap_given = float(cap_given) if cap_given is not None else math.nan
    if not (math.isnan(cap_given) or cap_given > 0):
        raise CapacityError(f"{src}: capacity_mah={cap_given!r} must be positive")
    excluded_segments = []
    pulses = []
    for s in info:
        reason = None
        if not s["cc"]:
            reason = "CV hold or varying current (not a constant-current pulse)"
        elif abs(s["q"]) > PULSE_CHARGE_FACTOR * q_ref:
            reason = "CC charge/discharge (far more charge than a pulse)"
        s["is_pulse"] = reason is None
        if reason:
            if s["q"] > 0:
                reason = "CC/CV charge before the pulses" if not pulses else reason
            excluded_segments.append({"t_start": s["t_start"], "t_end": s["t_end"],
                                      "charge_mah": s["q"] / 3.6, "reason": reason})
        else:
            pulses.append(s)
    if not pulses:
        raise NoPulsesError(
            f"{src}: no constant-current pulses found ({len(info)} current segment(s), none "
            "of them a short constant-current step); check the current column and its unit"
        )

    # SOC reference: end of the last non-pulse charge segment before the first discharge pulse
    first_dis = next((p for p in pulses if p["q"] < 0), None)
    ref_idx, ref_text = 0, "record start (100 %)"
    soc_at_ref = 100.0
    if first_dis is not None:
        for s in info:
            if not s["is_pulse"] and s["q"] > 0 and s["b"] <= first_dis["a"]:
                # the CV tail fades below the segment threshold before the charge really stops:
                # the reference is the first sample where the current is essentially zero
                tail = np.flatnonzero(np.abs(cur[s["b"] : first_dis["a"]])
                                      <= 1e-4 * np.max(np.abs(cur)))
                ref_idx = s["b"] + int(tail[0]) if tail.size else first_dis["a"]
                ref_text = f"end of the charge at {t[ref_idx]:g} s (100 %)"
    else:
        soc_at_ref = 0.0
        ref_text = "record start (0 %: charge-only record)"
    q_ref_c = qcum[ref_idx]

    q_dis_pulses = -sum(p["q"] for p in pulses if p["q"] < 0)  # C
    if math.isnan(cap_given):
        last = (max((p for p in pulses if p["q"] < 0), key=lambda p: p["a"]) if first_dis
                else max(pulses, key=lambda p: p["a"]))
        cap_c = abs(qcum[min(last["b"], n - 1)] - q_ref_c)
        if cap_c <= 0:
            cap_c = abs(sum(p["q"] for p in pulses))
        capacity = cap_c / 3.6
        ref_text += "; capacity from the record (charge passed to the end of the last pulse)"
    else:
        capacity = cap_given
        cap_c = capacity * 3.6
        ratio = q_dis_pulses / cap_c
        if ratio > CAPACITY_TOLERANCE:
            # 10x or more over, but consistent once divided by 1000: a unit slip, not a
            # wrong capacity
            if 10 <= ratio <= 1000 * CAPACITY_TOLERANCE:
                raise UnitError(
                    f"{src}: discharge pulses pass {q_dis_pulses / 3.6:.4g} mAh, "
                    f"{ratio:.0f}x the capacity of {capacity:g} mAh: the current looks like mA "
                    "read as A; put the unit in the header ('I/mA') or pass current_unit='mA'"
                )
            raise CapacityError(
                f"{src}: discharge pulses pass {q_dis_pulses / 3.6:.4g} mAh, more than "
                f"{CAPACITY_TOLERANCE:g}x the capacity_mah={capacity:g}; check the capacity (in "
                "mAh) or the current unit"
            )

        # the other direction of a unit slip (A read as mA): every pulse then moves the SOC
        # by a few millionths of a percent, which no GITT protocol does
        pulse_frac = [abs(p["q"]) / cap_c for p in pulses if not p.get("truncated")]
        if pulse_frac and float(np.median(pulse_frac)) < MIN_PULSE_SOC_FRACTION:
            step = 100.0 * float(np.median(pulse_frac))
            hint = ("the current looks like A read as mA; put the unit in the header "
                    "('I/A') or pass current_unit='A'"
                    if MIN_PULSE_SOC_FRACTION <= 1000 * float(np.median(pulse_frac)) <= 0.5
                    else "check the capacity (in mAh) and the current unit")
            raise UnitError(
                f"{src}: a pulse passes a median {step:.2g} % of capacity_mah={capacity:g} "
                f"(GITT pulses move the SOC by 0.1-10 %): {hint}")

    def soc_at(idx: int) -> float:
        return soc_at_ref + 100.0 * (qcum[min(idx, n - 1)] - q_ref_c) / cap_c

    rests = []
    for k, p in enumerate(pulses):
        nxt = next((s for s in info if s["a"] >= p["b"]), None)
        rest_end_idx = (nxt["a"] if nxt is not None else n) - 1
        p["t_rest_end"] = float(t[nxt["a"]]) if nxt is not None else float(t[-1])
        p["rest_s"] = max(0.0, p["t_rest_end"] - p["t_end"]) if p["b"] < n else 0.0
        p["no_rest"] = p["b"] < n and nxt is not None and nxt["a"] == p["b"]
        p["ocv_after"] = float(volt[rest_end_idx]) if p["b"] < n and not p["no_rest"] else math.nan
        p["ocv_before"] = float(volt[p["a"] - 1]) if p["a"] > 0 else math.nan
        p["no_rest_before"] = p["a"] > 0 and abs(cur[p["a"] - 1]) > REST_FRACTION * np.max(
            np.abs(cur))
        if nxt is not None and not p["truncated"]:
            rests.append(p["rest_s"])
    if min_rest_s is None:
        min_rest_s = 0.25 * float(np.median([r for r in rests if r > 0])) if any(
            r > 0 for r in rests) else 0.0

    for p in pulses:
        flag = ""
        if p["truncated"]:
            flag = "truncated"
        elif p["no_rest"]:
            flag = "no rest"
        elif p["rest_s"] < min_rest_s:
            flag = "short rest"
        elif p["no_rest_before"]:
            flag = "no rest before"
        p["flag"] = flag

    if gitt.attrs.get("current_sign", "auto") != "as-is":
        votes = []
        for p in pulses:
            if math.isnan(p["ocv_before"]) or p["no_rest_before"]:
                continue
            dv = volt[p["b"] - 1] - p["ocv_before"]
            if abs(dv) > 1e-6:
                votes.append(dv * p["q"] < 0)
        if votes and sum(votes) > len(votes) / 2:
            raise SignConventionError(
                f"{src}: in {sum(votes)} of {len(votes)} pulses the voltage moves against the "
                "current (it falls while the current is positive), so the current sign looks "
                "reversed; drtbayes needs discharge current negative. Read the file with "
                "current_sign='flip' (or 'as-is' to keep it)"
            )

    def col(key, dtype=float):
        return np.array([p[key] for p in pulses], dtype=dtype)

    soc_start = np.array([soc_at(p["a"]) for p in pulses])
    soc_end = np.array([soc_at(p["b"]) for p in pulses])
    dur = col("t_end") - col("t_start")
    mean_i = np.where(dur > 0, col("q") / np.where(dur > 0, dur, 1.0),
                      np.array([cur[p["a"]] for p in pulses]))
    ds = xr.Dataset(
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
            "complete": ("pulse", np.array([p["flag"] == ""
                                            for p in pulses], dtype=bool)),
            "charge_mah": ("pulse", col("q") / 3.6, {"units": "mAh"}),
            "flag": ("pulse", np.array([p["flag"] for p in pulses], dtype=object)),
        },
        coords={"pulse": np.arange(len(pulses))},
        attrs={
            "capacity_mah": float(capacity),
            "soc_reference": ref_text,
            "min_rest_s": float(min_rest_s),
            "excluded_segments": json.dumps(excluded_segments),
            "source": gitt.attrs.get("source", ""),
            "design": gitt.attrs.get("design", ""),
            "cell": gitt.attrs.get("cell", ""),
        },
    )
    soc_min, soc_max = float(np.min(soc_end)), float(np.max(soc_end))
    if not math.isnan(cap_given) and (soc_min < -20 or soc_max > 120):
        raise CapacityError(
            f"{src}: coulomb counting with capacity_mah={cap_given:g} gives SOC from "
            f"{soc_min:.0f} % to {soc_max:.0f} %; the capacity does not match the charge passed"
        )
    return ds
