"""A prior over physical equivalent circuits, with analytic truths (the DRT calibration's ground).

Written from the analytic impedance formulas of each element, not from the DRT model, so the
truth does not share the DRT's discretisation or its prior. Every replicate is a series
connection of R_inf, an optional inductance L, an optional series capacitance C and 1-4
processes drawn from five shape families:

* ``rc``: R / (1 + j w tau) (DRT: a line at tau);
* ``zarc``: R / (1 + (j w tau0)^phi), phi in [0.6, 1) (symmetric DRT, mode at tau0);
* ``hn``: Havriliak-Negami R / (1 + (j w tau0)^a)^b (skewed DRT; mode found numerically on the
  analytic DRT);
* ``warburg_fl``: finite-length (transmissive) Warburg R tanh(sqrt(j w tau))/sqrt(j w tau),
  tau inside the window (DRT: lines at tau / ((k - 1/2) pi)^2, 81 % of R in the first);
* ``warburg_si``: the same element with tau 1-3 decades beyond the slowest measured point: in the
  window it is a semi-infinite Warburg (a 45 degree line), its resistance not determined there.

Truths: R_inf, R_pol (sum of the processes' DC resistances), R_pol inside the window (the true
DRT integrated over 1/w_max <= tau <= 1/w_min) and each process's characteristic time (the
mode of its own DRT) and resistance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FAMILIES = ("rc", "zarc", "hn", "warburg_fl", "warburg_si")
F_MAX_HZ, F_MIN_HZ, PER_DECADE = 1e6, 1e-2, 10


def frequencies() -> np.ndarray:
    """Return the measurement grid of every replicate: 1 MHz - 10 mHz, 10 per decade, high first."""
    n = int(round(np.log10(F_MAX_HZ / F_MIN_HZ) * PER_DECADE)) + 1
    return np.logspace(np.log10(F_MAX_HZ), np.log10(F_MIN_HZ), n)


def window_log10_tau() -> tuple[float, float]:
    """log10 tau (s) of the measured window's ends, 1/w_max and 1/w_min."""
    return (float(np.log10(1 / (2 * np.pi * F_MAX_HZ))),
            float(np.log10(1 / (2 * np.pi * F_MIN_HZ))))


# --------------------------------------------------------------------------- elements
def impedance(kind: str, f_hz: np.ndarray, r: float, tau: float, a: float = 1.0,
              b: float = 1.0) -> np.ndarray:
    """Analytic impedance of one process."""
    jwt = 1j * 2 * np.pi * np.asarray(f_hz, dtype=float) * tau
    if kind == "rc":
        return r / (1 + jwt)
    if kind == "zarc":
        return r / (1 + jwt**a)
    if kind == "hn":
        return r / (1 + jwt**a) ** b
    if kind in ("warburg_fl", "warburg_si"):
        x = np.sqrt(jwt)
        return r * np.tanh(x) / x
    raise ValueError(kind)


def gamma(kind: str, tau_grid: np.ndarray, r: float, tau: float, a: float = 1.0,
          b: float = 1.0) -> np.ndarray:
    """Analytic DRT per unit ln tau of a continuous process (zarc, hn) on ``tau_grid``.

    HN: gamma = R/pi * y^(ab) sin(b theta) / (y^(2a) + 2 y^a cos(pi a) + 1)^(b/2),
    y = tau/tau0, theta = atan2(sin(pi a), y^a + cos(pi a)). A ZARC is HN with b = 1.
    """
    y = np.asarray(tau_grid, dtype=float) / tau
    if kind == "zarc":
        b = 1.0
    ya = y**a
    theta = np.arctan2(np.sin(np.pi * a), ya + np.cos(np.pi * a))
    return (r / np.pi * y ** (a * b) * np.sin(b * theta)
            / (ya**2 + 2 * ya * np.cos(np.pi * a) + 1) ** (b / 2))


def warburg_lines(r: float, tau: float, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Resistances and times of the transmissive Warburg's RC lines (poles of tanh x / x)."""
    a2 = ((np.arange(1, n + 1) - 0.5) * np.pi) ** 2
    return 2 * r / a2, tau / a2


@dataclass
class Process:
    kind: str
    r_ohm: float
    tau_s: float           # the element's own time constant (tau0, tau_W)
    a: float = 1.0
    b: float = 1.0

    @property
    def family(self) -> str:
        return self.kind

    def characteristic_tau_s(self) -> float:
        """Mode of the process's DRT (the position a DRT peak estimates)."""
        if self.kind in ("rc", "zarc"):
            return self.tau_s
        if self.kind == "hn":
            g = np.logspace(-4, 4, 16001) * self.tau_s
            return float(g[np.argmax(gamma("hn", g, 1.0, self.tau_s, self.a, self.b))])
        return float(self.tau_s / (0.5 * np.pi) ** 2)   # Warburg: the first (largest) line

    def r_in_window(self, lo: float, hi: float) -> float:
        """Integrate the process's DRT over lo <= log10 tau <= hi."""
        if self.kind == "rc":
            return self.r_ohm if lo <= np.log10(self.tau_s) <= hi else 0.0
        if self.kind in ("zarc", "hn"):
            t = np.logspace(lo, hi, 4001)
            g = gamma(self.kind, t, self.r_ohm, self.tau_s, self.a, self.b)
            return float(np.trapezoid(g, np.log(t)))
        r_k, t_k = warburg_lines(self.r_ohm, self.tau_s)
        lt = np.log10(t_k)
        return float(r_k[(lt >= lo) & (lt <= hi)].sum())


@dataclass
class Circuit:
    r_inf_ohm: float
    processes: list[Process]
    l_h: float = 0.0
    c_f: float | None = None
    noise_rel: float = 0.01
    outliers: list[int] = field(default_factory=list)

    def impedance(self, f_hz: np.ndarray) -> np.ndarray:
        w = 2 * np.pi * np.asarray(f_hz, dtype=float)
        z = self.r_inf_ohm + 1j * w * self.l_h + sum(
            impedance(p.kind, f_hz, p.r_ohm, p.tau_s, p.a, p.b) for p in self.processes)
        if self.c_f is not None:
            z = z + 1 / (1j * w * self.c_f)
        return z

    @property
    def r_pol_ohm(self) -> float:
        return float(sum(p.r_ohm for p in self.processes))

    def r_pol_window_ohm(self) -> float:
        lo, hi = window_log10_tau()
        return float(sum(p.r_in_window(lo, hi) for p in self.processes))

    @property
    def families(self) -> list[str]:
        return sorted({p.kind for p in self.processes})

    def describe(self) -> str:
        parts = [f"R_inf {self.r_inf_ohm:.3g}"]
        for p in self.processes:
            extra = {"zarc": f" phi {p.a:.2f}", "hn": f" a {p.a:.2f} b {p.b:.2f}"}.get(p.kind, "")
            parts.append(f"{p.kind}(R {p.r_ohm:.3g}, tau {p.tau_s:.3g}{extra})")
        if self.l_h:
            parts.append(f"L {self.l_h:.3g}")
        if self.c_f is not None:
            parts.append(f"C {self.c_f:.3g}")
        out = " + ".join(parts) + f", noise {100 * self.noise_rel:.2g} %"
        return out + (f", outliers at points {self.outliers}" if self.outliers else "")


def draw_circuit(rng: np.random.Generator) -> Circuit:
    """One replicate from the prior on circuits (see the module docstring)."""
    lo, hi = window_log10_tau()
    n_proc = int(rng.integers(1, 5))
    kinds = list(rng.choice(FAMILIES, size=n_proc, p=[0.2, 0.3, 0.2, 0.15, 0.15]))
    # at most one Warburg of each kind, and it is the slowest process (diffusion is)
    kinds = [k for k in kinds if not k.startswith("warburg")] + [
        k for k in dict.fromkeys(kinds) if k.startswith("warburg")][:1]
    # log10 tau of the non-diffusion processes: across the window and up to 1 decade beyond its
    # fast end / half a decade beyond its slow end; at least 1 decade apart, so that each peak is
    # its own process
    n_fast = sum(not k.startswith("warburg") for k in kinds)
    for _ in range(200):
        lt = np.sort(rng.uniform(lo - 0.5, hi + 0.5, size=n_fast))
        if n_fast < 2 or np.diff(lt).min() >= 1.0:
            break
    procs = []
    scale = 10 ** rng.uniform(0, 3)                    # ohm: 1 ohm to 1 kohm cells
    for k, t in zip([k for k in kinds if not k.startswith("warburg")], lt, strict=True):
        r = scale * 10 ** rng.uniform(-1, 1)           # two decades of resistance
        if k == "rc":
            procs.append(Process("rc", r, 10**t))
        elif k == "zarc":
            procs.append(Process("zarc", r, 10**t, a=float(rng.uniform(0.6, 0.98))))
        else:
            procs.append(Process("hn", r, 10**t, a=float(rng.uniform(0.6, 0.95)),
                                 b=float(rng.uniform(0.4, 0.9))))
    base = lt.max() if n_fast else lo + 2
    # a finite-length Warburg needs room: its first line >= 1 decade above the slowest other
    # process and 0.3 decade inside the window; without it the element is semi-infinite here
    kinds = ["warburg_si" if k == "warburg_fl" and base + 1.0 > hi - 0.3 else k for k in kinds]
    for k in kinds:
        if k == "warburg_fl":
            first = min(base + rng.uniform(1.0, 3.0), hi - 0.3)
            procs.append(Process(k, scale * 10 ** rng.uniform(-0.5, 1),
                                 10**first * (np.pi / 2) ** 2))
        elif k == "warburg_si":
            procs.append(Process(k, scale * 10 ** rng.uniform(0, 1.5),
                                 10 ** rng.uniform(hi + 1, hi + 3)))
    c = None
    if rng.random() < 0.3:
        # a blocking / intercalation capacitance whose reactance at f_min is 0.3-10 x R_pol
        r_pol = sum(p.r_ohm for p in procs)
        c = float(1 / (2 * np.pi * F_MIN_HZ * r_pol * 10 ** rng.uniform(-0.5, 1)))
    l_h = 0.0
    if rng.random() < 0.3:
        # inductive reactance at f_max 1-30 % of R_inf
        r_inf = scale * 10 ** rng.uniform(-1, 0.5)
        l_h = float(r_inf * 10 ** rng.uniform(-2, -0.5) / (2 * np.pi * F_MAX_HZ))
    else:
        r_inf = scale * 10 ** rng.uniform(-1, 0.5)
    noise = float(10 ** rng.uniform(np.log10(0.001), np.log10(0.02)))
    outliers = []
    if rng.random() < 0.15:
        outliers = sorted(int(i) for i in rng.choice(6, size=int(rng.integers(1, 3)),
                                                     replace=False))
    return Circuit(r_inf, procs, l_h, c, noise, outliers)


def noisy(circuit: Circuit, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(frequency, impedance with noise and outliers) of one replicate.

    Noise: independent Gaussian on Z' and Z'' with sd ``noise_rel`` |Z|. Outliers: the listed
    points (indices among the highest frequencies) moved by 10-30 % of |Z| (a cable resonance
    or an overloaded current range at the top of the sweep).
    """
    f = frequencies()
    z = circuit.impedance(f)
    sd = circuit.noise_rel * np.abs(z)
    z = z + sd * (rng.standard_normal(f.size) + 1j * rng.standard_normal(f.size))
    for i in circuit.outliers:
        z[i] += np.abs(z[i]) * rng.uniform(0.1, 0.3) * np.exp(1j * rng.uniform(0, 2 * np.pi))
    return f, z
