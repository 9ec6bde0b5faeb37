"""Names every layer shares: resistance components, processes, dimension names and units.

Defined once here so that a model, a saved result and a plot cannot disagree about a label.
docs/architecture.md ("Conventions") describes the same names in words.
"""

from __future__ import annotations

from typing import Final

__all__ = ["COMPONENTS", "PROCESSES", "PROCESS_COMPONENT", "DIMS", "UNITS", "GROUP_COORDS",
           "RESULT_KINDS", "SOC_WHOLE_FIT"]

#: Resistance components of a GITT pulse: R1 contact, R2 charge transfer, R3 diffusion, sum.
COMPONENTS: Final[tuple[str, ...]] = ("R1", "R2", "R3", "total")

#: Label of the one diagnostics record of a SOC model saved before its components were
#: recorded one by one (such files still load; new fits record each component).
SOC_WHOLE_FIT: Final[str] = "SOC model"

#: Processes of the DRT, fastest first (the order of their time-constant bands).
PROCESSES: Final[tuple[str, ...]] = ("contact", "charge_transfer", "diffusion")

#: Which component each process's resistance becomes in the split.
PROCESS_COMPONENT: Final[dict[str, str]] = {"contact": "R1", "charge_transfer": "R2",
                                            "diffusion": "R3"}

#: Dimension names of every Dataset and saved result.
DIMS: Final[tuple[str, ...]] = (
    "spectrum", "frequency", "tau", "group", "time", "pulse", "soc", "component", "design",
    "cell", "chain", "draw", "sample", "process", "boundary",
)

#: Units of the quantities whose names do not say them.
UNITS: Final[dict[str, str]] = {
    "frequency": "Hz", "tau": "s", "soc": "percent", "time": "s", "current": "A",
    "voltage": "V", "z_real": "ohm", "z_imag": "ohm", "gamma": "ohm", "r_pol": "ohm",
    "resistance": "ohm", "resistance_area": "ohm cm2", "log_r": "ln(ohm)",
}

#: Coordinates that label the (design, SOC) groups of a hierarchical DRT fit along dim
#: ``group``: a coordinate name can belong to one dimension only, and ``design`` / ``soc``
#: already label the spectra.
GROUP_COORDS: Final[dict[str, str]] = {"design": "group_design", "soc": "group_soc"}

#: Kinds of saved results (root attribute ``drtbayes_kind``).
RESULT_KINDS: Final[tuple[str, ...]] = ("drt_fit", "bands", "split", "soc_model")
