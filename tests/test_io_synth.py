"""Synthetic ground truth shared by the io tests (no tests here).

``zarc_spectrum`` gives an R-L-ZARC-ZARC impedance with a known analytic form; ``synth_gitt``
simulates a GITT record (optional CC/CV charge, constant-current pulses, rests) with an RC
overpotential on a known OCV curve and instrument-like sampling (log-spaced after every current
change, plus a fixed period), so every pulse quantity has an exact expected value.
"""

from __future__ import annotations

import numpy as np


def zarc_spectrum(f_hz: np.ndarray, *, r0=20.0, r1=60.0, tau1=1e-4, a1=0.85, r2=150.0,
                  tau2=1e-1, a2=0.8, l_h=0.0) -> np.ndarray:
    """Z = R0 + jwL + R1/(1+(jw tau1)^a1) + R2/(1+(jw tau2)^a2) (ohm)."""
    w = 2 * np.pi * np.asarray(f_hz, dtype=float)
    return (r0 + 1j * w * l_h + r1 / (1 + (1j * w * tau1) ** a1)
            + r2 / (1 + (1j * w * tau2) ** a2))


def log_freqs(f_max=1e5, f_min=0.1, per_decade=8) -> np.ndarray:
    n = int(round(np.log10(f_max / f_min) * per_decade)) + 1
    return np.logspace(np.log10(f_max), np.log10(f_min), n)


def ocv(soc):
    soc = np.asarray(soc, dtype=float)
    return 3.0 + 1.2 * soc / 100 + 0.05 * np.tanh((soc - 50) / 10)


def synth_gitt(*, capacity_mah=2.0, n_pulses=10, pulse_s=72.0, c_rate=0.5, rest_s=5000.0,
               charge_first=True, kinds=None, rests=None, sample_period_s=10.0,
               truncate_last_s=None, r0=5.0, r1=20.0, tau_s=300.0, no_rest_after=(),
               cv_step_s=10.0, n_log=25):
    """Simulate a GITT record; returns (time_s, current_a, voltage_v, truth dict).

    Pulses are 'discharge' unless ``kinds`` says otherwise; SOC is 100 % at the end of the
    CC/CV charge (or at the start without one). ``truncate_last_s`` cuts the record that many
    seconds after the start of the last pulse. Pulse numbers in ``no_rest_after`` are followed
    at once by the next pulse, at 1.5x current, so the two are separate steps.
    """
    cap_c = capacity_mah * 3.6
    i_pulse = c_rate * capacity_mah * 1e-3
    kinds = kinds or ["discharge"] * n_pulses
    rests = rests or [rest_s] * n_pulses
    events = []  # (t, current) piecewise constant from t on
    t = 0.0
    events.append((t, 0.0))
    t += 600.0
    if charge_first:
        # CC at C/10 then a CV-like exponential current decay (sampled below)
        events.append((t, 0.1 * capacity_mah * 1e-3))
        t += 3 * 3600.0
        cv_start = t
        for k in range(int(3600 / cv_step_s)):  # 1 h of CV, current decaying (tau 15 min)
            events.append((cv_start + cv_step_s * k,
                           0.1 * capacity_mah * 1e-3 * np.exp(-k * cv_step_s / 900)))
        t = cv_start + 3600.0
        events.append((t, 0.0))
        t += 3600.0
    charge_end = t - 3600.0 if charge_first else 0.0
    starts = []
    for k in range(n_pulses):
        sign = -1.0 if kinds[k] == "discharge" else 1.0
        scale = 1.5 if (k - 1) in no_rest_after else 1.0
        events.append((t, sign * i_pulse * scale))
        starts.append(t)
        t += pulse_s
        if k in no_rest_after:
            continue
        events.append((t, 0.0))
        t += rests[k]
    t_stop = t if truncate_last_s is None else starts[-1] + truncate_last_s
    ev_t = np.array([e[0] for e in events])
    ev_i = np.array([e[1] for e in events])
    # sampling: a fixed grid plus log-spaced samples after every current change
    grid = [np.arange(0.0, t_stop, sample_period_s)]
    offs = np.concatenate([[0.0], np.logspace(-2, np.log10(200), n_log)])
    for te in ev_t:
        grid.append(te + offs)
    ts = np.unique(np.concatenate(grid))
    ts = ts[ts <= t_stop]
    idx = np.searchsorted(ev_t, ts, side="right") - 1
    cur = ev_i[idx]
    dt = np.diff(ts, append=ts[-1])
    q = np.concatenate([[0.0], np.cumsum(cur * dt)])[: ts.size]
    q_ref = np.interp(charge_end, ts, q) if charge_first else 0.0
    soc = 100.0 + 100.0 * (q - q_ref) / cap_c
    eta = np.zeros(ts.size)
    for k in range(1, ts.size):
        d = ts[k] - ts[k - 1]
        target = cur[k - 1] * r1
        eta[k] = target + (eta[k - 1] - target) * np.exp(-d / tau_s)
    volt = ocv(soc) + cur * r0 + eta
    truth = {"starts": np.array(starts), "i_pulse": i_pulse, "cap_c": cap_c,
             "kinds": kinds, "pulse_s": pulse_s}
    return ts, cur, volt, truth


def write_csv(path, header, columns, sep=",", decimal="."):
    lines = [sep.join(header)]
    for row in zip(*columns, strict=True):
        cells = [repr(float(v)) for v in row]
        if decimal != ".":
            cells = [c.replace(".", decimal) for c in cells]
        lines.append(sep.join(cells))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
