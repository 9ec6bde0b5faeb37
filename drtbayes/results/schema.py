"""What every saved result holds: docs/architecture.md ("Saved results") as code.

:func:`drtbayes.results.base.ResultBase.load` checks a file against its kind's entry, and a
test checks docs/architecture.md against this table (every kind and variable listed here is
described there, and the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..conventions import RESULT_KINDS

__all__ = ["SCHEMA_VERSION", "ResultSchema", "SCHEMAS"]

#: Version of the saved layouts below (root attr ``drtbayes_schema``); files without the
#: attribute were written before it existed and have layout 1.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ResultSchema:
    """The layout of one kind of saved result.

    Parameters
    ----------
    kind
        ``drtbayes_kind`` of the file.
    file_name
        Its name in a study's output folder.
    groups
        DataTree group -> variables it must hold (``""``: a flat Dataset's own variables).
    """

    kind: str
    file_name: str
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def variables(self) -> set[str]:
        """Every required variable, over all groups."""
        return {v for names in self.groups.values() for v in names}


SCHEMAS: dict[str, ResultSchema] = {
    "drt_fit": ResultSchema("drt_fit", "eis_fit.nc", {
        "posterior": ("gamma", "gamma_group", "r_inf", "r_pol"),
        "posterior_predictive": ("z_real", "z_imag"),
        "observed_data": ("z_real", "z_imag"),
    }),
    "bands": ResultSchema("bands", "bands.nc", {
        "": ("boundary_tau", "peak_tau", "peak_r", "band_r", "resolved", "p_resolved"),
    }),
    "split": ResultSchema("split", "split.nc", {
        "": ("resistance",),
    }),
    "soc_model": ResultSchema("soc_model", "soc_model.nc", {
        "posterior": ("log_r", "log_r_cell", "level", "trend", "wiggle_z", "rw2_sd", "cell_z",
                      "cell_sd", "extra_sd"),
        "observed_data": ("log_r_mean", "log_r_sd"),
    }),
}

assert tuple(SCHEMAS) == RESULT_KINDS
