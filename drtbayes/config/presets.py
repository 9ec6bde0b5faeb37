"""Schemas of the model presets (``models/*.toml``), one per kind: drt, split, soc_model.

Every key a model reads is declared here with its type and range, so a typo or a wrong value is
refused when the preset is loaded, with every problem listed together, rather than deep inside
a fit. A model that needs a new preset key declares it here as well.
"""

from __future__ import annotations

from typing import Any

from .schema import (
    MISSING,
    Field,
    Invalid,
    Problem,
    Table,
    boolean,
    choice,
    integer,
    number,
    number_or_list,
    string,
)

__all__ = ["PRESET_SCHEMAS", "HEADER"]

HEADER = {"name": string(required=True), "description": string(required=True),
          "kind": choice(("drt", "split", "soc_model"), required=True)}

_POS = {"lo": 0, "lo_open": True}


def _pos(*, required: bool = True) -> Any:
    return number(required=required, **_POS)


def _nonneg(*, required: bool = True) -> Any:
    return number(0, required=required)


def _gate() -> Table:
    return Table({
        "rhat_max": number(1.0, required=True),
        "ess_bulk_min": _nonneg(),
        "max_divergences": integer(0, required=True),
    }, required=True)


def _fast() -> Table:
    return Table({"method": choice(("laplace",), required=True),
                  "draws": integer(10, required=True)}, required=True)


def _sampler() -> Table:
    return Table({
        "draws": integer(1, required=True),
        "tune": integer(0, required=True),
        "chains": integer(1, required=True),
        "target_accept": number(0.5, 1.0, hi_open=True, required=True),
        "whiten": boolean(),
        "adaptation": choice(("low_rank", "diag")),
        # a second NUTS run when the first fails the gate (drt presets)
        "retry": Table({
            "draws": integer(1, required=True),
            "tune": integer(0, required=True),
            "target_accept": number(0.5, 1.0, hi_open=True, required=True),
        }),
    }, required=True)


def _bool_or_average(v: Any) -> bool | str:
    if isinstance(v, bool) or v in ("average", "auto"):
        return v
    raise Invalid


def _drt_rules(cfg: dict[str, Any], _where: str) -> list[Problem]:
    out = []
    if cfg["model"]["series_capacitance"] == "average" and cfg["model"]["pooling"] == \
            "hierarchical":
        out.append(Problem("model.series_capacitance", "average",
                           "true or false with pooling = 'hierarchical' ('average' needs "
                           "pooling = 'none': a hierarchical fit shares fields across spectra)"))
    if cfg["model"]["pooling"] == "hierarchical" and not cfg["hierarchy"]:
        out.append(Problem("hierarchy", MISSING, "a [hierarchy] table when model.pooling is "
                                              "'hierarchical' (see models/drt-hierarchical.toml)"))
    if cfg["likelihood"]["family"] == "student_t":
        for key in ("nu_alpha", "nu_beta"):
            if key not in cfg["likelihood"]:
                out.append(Problem(f"likelihood.{key}", MISSING,
                                   "a number > 0 when likelihood.family is 'student_t'"))
    return out


_DRT = Table({
    **HEADER,
    "tau_grid": Table({
        "points_per_decade": number(2, 40, required=True),
        "extend_decades": number(1.0, 4.0, required=True),
    }, required=True),
    "model": Table({
        "pooling": choice(("none", "hierarchical"), required=True),
        "inductance": boolean(required=True),
        # "average": fits with and without a series C mixed by stacking (drt/averaging.py);
        # "auto": the same, only for spectra whose fitted C carries the lowest point's reactance
        "series_capacitance": Field(_bool_or_average, "true, false, 'average' or 'auto'", True),
        "parameterization": choice(("centered", "noncentered")),
        "centered_fraction": number(0, 1),
        # "marginal": R_inf integrated out of NUTS (normal likelihood, independent errors)
        "r_inf": choice(("marginal", "sampled")),
    }, required=True),
    "priors": Table({
        "log_gamma_level_mean": number(required=True),
        "log_gamma_level_sd": _pos(),
        "tail_decay_per_decade": _nonneg(),
        "tail_decay_slow_per_decade": _nonneg(required=False),
        "r_inf_scale": _pos(),
        "inductance_scale": _pos(),
        "elastance_scale": _pos(),
    }, required=True),
    "hyperpriors": Table({
        "smoothness_log_median": number(required=True),
        "smoothness_log_sd": _pos(),
        "inference": choice(("sampled", "empirical_bayes")),
    }, required=True),
    "noise": Table({
        "constant_scale": _pos(),
        "proportional_scale": _pos(),
        "relative_floor": number(0, 0.1, hi_open=True),
        "correlation": choice(("independent", "ar1")),
        "rho_alpha": _pos(required=False),
        "rho_beta": _pos(required=False),
    }, required=True),
    "likelihood": Table({
        "family": choice(("normal", "student_t"), required=True),
        "nu_alpha": _pos(required=False),
        "nu_beta": _pos(required=False),
    }, required=True),
    "sampler": _sampler(),
    "fast": _fast(),
    "gate": _gate(),
    "peaks": Table({
        "rel_prominence": number(0, 1, lo_open=True, hi_open=True, required=True),
        "cluster_width_decades": _pos(),
        "min_probability": number(0, 1, hi_open=True, required=True),
    }, required=True),
    "hierarchy": Table({
        "cell_sd_scale": _pos(),
        "deviation_length_decades": _pos(),
        "deviation_rank": integer(1, required=True),
        "hyperparameters": choice(("per_group", "shared")),
    }),
}, checks=(_drt_rules,))


def _split_rules(cfg: dict[str, Any], _where: str) -> list[Problem]:
    g = cfg["pulse_grid"]
    if g["tau_min_s"] >= g["tau_max_s"]:
        return [Problem("pulse_grid.tau_max_s", g["tau_max_s"],
                        f"a value above pulse_grid.tau_min_s = {g['tau_min_s']:g}")]
    return []


_SPLIT = Table({
    **HEADER,
    "pulse_grid": Table({
        "tau_min_s": _pos(),
        "tau_max_s": _pos(),
        "per_decade": number(1, 40, required=True),
        "tau_min_first_sample_factor": number_or_list(0, lo_open=True, required=True),
        "tau_max_pulse_factor": _pos(),
        "tau_max_rest_fraction": _pos(),
    }, required=True),
    "window": Table({
        "pre_rest_s": _nonneg(),
        "skip_after_step_s": _nonneg(),
        "max_fit_points": integer(10, required=True),
    }, required=True),
    "prior": Table({
        "smoothness_order": integer(1, 3, required=True),
        "ridge_epsilon": _pos(),
        "eis_templates": boolean(),
        "weak_precision": _pos(),
    }, required=True),
    "pooling": Table({"width_soc": number(0, 100)}),
    "resolution": Table({
        "min_observed_fraction": number(0, 1, required=True),
        "fallback_log_sd": _nonneg(),
        "soc_transfer_sd_fraction": number(0),
    }, required=True),
    "sampling": Table({"n_samples": integer(10, required=True)}, required=True),
}, checks=(_split_rules,))

_SOC = Table({
    **HEADER,
    "spline": Table({
        "n_basis": integer(4, 200, required=True),
        "degree": integer(1, 5, required=True),
        "knot_spacing": choice(("sqrt", "linear")),
        "grid_step_pct": number(0.01, 10),
    }, required=True),
    "priors": Table({
        "level_sd": _pos(),
        "trend_sd": _pos(),
        "rw2_sd_scale": _pos(),
        "cell_sd_scale": _pos(),
        "extra_noise_scale": _pos(),
        "likelihood": choice(("student_t", "normal"), required=True),
        "student_t_nu": number(1, lo_open=True),
    }, required=True),
    "data": Table({
        "min_valid_fraction": number(0, 1),
        "min_log_sd": number(0, lo_open=True),
        "min_pulses_per_design": integer(1),
    }, required=True),
    "sampler": _sampler(),
    "fast": _fast(),
    "gate": _gate(),
})

#: kind -> schema of a preset of that kind.
PRESET_SCHEMAS: dict[str, Table] = {"drt": _DRT, "split": _SPLIT, "soc_model": _SOC}
