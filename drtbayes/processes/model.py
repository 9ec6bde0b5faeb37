"""The process model of a symmetric-cell spectrum: candidate element sets and their parameters.

Cell algebra (what each fitted quantity holds)
---------------------------------------------
A symmetric cell is SE layer + 2 x electrode (+ the SE|SE interface of a stacked cell):

    Z_sym = r_inf + j w L + sum_p Z_p,     Z_p = 2 x (one electrode's process p)

so every process resistance fitted here is the symmetric-cell value, twice one electrode's; the
time constants and ZARC exponents are those of one electrode (a series connection of two equal
elements has the same tau). ``r_inf`` holds the SE layer (and any SE|SE interface and the
leads). A half cell is SE layer + counter electrode + 1 x electrode, so a GITT pulse sees
r_inf_half + R_counter + sum_p Z_p / 2: the split's R1 is everything the pulse sees as
instantaneous (SE layer, counter electrode, contact processes complete before the first sample).

Parameters (unconstrained vector per group of spectra that share design and SOC)
--------------------------------------------------------------------------------
``[ln r_inf, (ln L), per process: ln R, ln tau, (z_phi for a ZARC)]`` then, when the group holds
several cells, per cell deviations of ``ln r_inf``, every ``ln R`` and every ``ln tau`` (a
pooled model: the design-level values are the group's, cells deviate with sd ``cell_sd``; the
ZARC exponents are shared). ``phi = 0.3 + 0.7 /
(1 + exp(-z_phi))``. For the Warburg, R is the DC ladder resistance R_diff (= R_W / 3) and tau
is tau_D (= L^2 / D); its capacitor tau_D / R_W is the intercalation capacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..conventions import PROCESSES
from . import elements as pe

#: process roles; ``contact`` holds every process faster than charge transfer (bulk, grain
#: boundaries, contact), which a half-cell pulse sees as part of R1
ROLES = PROCESSES
#: candidate element sets compared by their Laplace evidence (fastest first)
CANDIDATES: dict[str, tuple[tuple[str, str], ...]] = {
    "ct+diffusion": (("zarc", "charge_transfer"), ("warburg", "diffusion")),
    "contact+ct+diffusion": (("zarc", "contact"), ("zarc", "charge_transfer"),
                             ("warburg", "diffusion")),
    # a fourth element: which of the two slower ZARCs is charge transfer is then ambiguous;
    # the split uses the best candidate with one element per role, and this one's evidence
    # lowers P(label)
    "contact+2zarc+diffusion": (("zarc", "contact"), ("zarc", "ambiguous"),
                                ("zarc", "ambiguous"), ("warburg", "diffusion")),
    "contact+ct": (("zarc", "contact"), ("zarc", "charge_transfer")),
}
PHI_LO, PHI_SPAN = 0.3, 0.7


@dataclass(frozen=True)
class ProcessModel:
    """One candidate: element kinds and roles, fastest first, and whether L is fitted."""

    name: str
    kinds: tuple[str, ...]
    roles: tuple[str, ...]
    inductance: bool
    n_cells: int

    @property
    def n_group(self) -> int:
        """Length of the group-level part of the parameter vector."""
        return 1 + int(self.inductance) + sum(3 if k == "zarc" else 2 for k in self.kinds)

    @property
    def n_params(self) -> int:
        """Length of the whole vector (group part plus cell deviations)."""
        dev = (1 + 2 * len(self.kinds)) * self.n_cells if self.n_cells > 1 else 0
        return self.n_group + dev

    def unpack(self, theta: np.ndarray) -> dict:
        """Natural parameters of the group and of each cell from an unconstrained vector."""
        i = 0
        out: dict = {"ln_r_inf": theta[i]}
        i += 1
        out["l_h"] = math.exp(theta[i]) if self.inductance else 0.0
        i += int(self.inductance)
        ln_r, tau, phi = [], [], []
        for k in self.kinds:
            ln_r.append(theta[i])
            tau.append(math.exp(theta[i + 1]))
            if k == "zarc":
                phi.append(PHI_LO + PHI_SPAN / (1.0 + math.exp(-theta[i + 2])))
                i += 3
            else:
                phi.append(1.0 if k == "rc" else math.nan)
                i += 2
        out["ln_r"], out["tau"], out["phi"] = np.array(ln_r), np.array(tau), np.array(phi)
        nd = 1 + 2 * len(self.kinds)
        if self.n_cells > 1:
            out["dev"] = theta[i:i + nd * self.n_cells].reshape(self.n_cells, nd)
        else:
            out["dev"] = np.zeros((1, nd))
        return out

    def impedance(self, frequency_hz: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """Model impedance (cell, frequency) of every cell of the group."""
        p = self.unpack(theta)
        w = 2.0 * np.pi * frequency_hz
        out = np.empty((p["dev"].shape[0], frequency_hz.size), complex)
        for c, dev in enumerate(p["dev"]):
            z = math.exp(p["ln_r_inf"] + dev[0]) + 1j * w * p["l_h"]
            n = len(self.kinds)
            for j, k in enumerate(self.kinds):
                z = z + pe.process_impedance(k, frequency_hz, math.exp(p["ln_r"][j] + dev[1 + j]),
                                             p["tau"][j] * math.exp(dev[1 + n + j]), p["phi"][j])
            out[c] = z
        return out


def candidate(name: str, *, inductance: bool, n_cells: int) -> ProcessModel:
    """Return the candidate element set ``name`` (a key of :data:`CANDIDATES`)."""
    elems = CANDIDATES[name]
    return ProcessModel(name, tuple(k for k, _ in elems), tuple(r for _, r in elems),
                        inductance, n_cells)
