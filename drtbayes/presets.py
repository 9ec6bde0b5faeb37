"""Declarative model presets (``models/*.toml``): find, read and validate them.

A preset is a TOML file holding numbers and switches only (tau grid, priors, hyperpriors, noise
model, likelihood, sampler defaults); the code that builds a PyMC model from it lives in
:mod:`drtbayes.drt.model` (and the split / SOC modules for their kinds). Presets are found by
name in the installed package's ``drtbayes/presets/`` folder (the wheel force-includes the
top-level ``models/`` there) or, in a source / editable checkout, in ``models/`` next to the
package; a path to a ``.toml`` file works too.

DRT presets (``kind = "drt"``) are validated key by key here; presets of other kinds
(``split``, ``soc_model``) are checked for their common header only and validated by the module
that uses them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from .errors import PresetError

__all__ = ["load_preset", "list_presets", "preset_dirs"]

_NUM = (int, float)

#: Schema of a DRT preset: section -> key -> (accepted types, required, check or None).
#: A check is a (predicate, "what it must be") pair.
_POS = (lambda v: v > 0, "> 0")
_NONNEG = (lambda v: v >= 0, ">= 0")
_DRT_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], bool, tuple | None]]] = {
    "tau_grid": {
        "points_per_decade": (_NUM, True, (lambda v: 2 <= v <= 40, "between 2 and 40")),
        "extend_decades": (_NUM, True, (lambda v: 1.0 <= v <= 4.0, "between 1 and 4")),
    },
    "model": {
        "pooling": ((str,), True, (lambda v: v in ("none", "hierarchical"),
                                   "'none' or 'hierarchical'")),
        "inductance": ((bool,), True, None),
        "series_capacitance": ((bool, str), True, (lambda v: v in (True, False, "average"),
                                                   "true, false or 'average'")),
        "parameterization": ((str,), False, (lambda v: v in ("centered", "noncentered"),
                                             "'centered' or 'noncentered'")),
        "centered_fraction": (_NUM, False, (lambda v: 0 <= v <= 1, "between 0 and 1")),
    },
    "priors": {
        "log_gamma_level_mean": (_NUM, True, None),
        "log_gamma_level_sd": (_NUM, True, _POS),
        "tail_decay_per_decade": (_NUM, True, _NONNEG),
        "tail_decay_slow_per_decade": (_NUM, False, _NONNEG),
        "r_inf_scale": (_NUM, True, _POS),
        "inductance_scale": (_NUM, True, _POS),
        "elastance_scale": (_NUM, True, _POS),
    },
    "hyperpriors": {
        "smoothness_log_median": (_NUM, True, None),
        "smoothness_log_sd": (_NUM, True, _POS),
        "inference": ((str,), False, (lambda v: v in ("sampled", "empirical_bayes"),
                                                 "'sampled' or 'empirical_bayes'")),
    },
    "noise": {
        "constant_scale": (_NUM, True, _POS),
        "proportional_scale": (_NUM, True, _POS),
        "relative_floor": (_NUM, False, (lambda v: 0 <= v < 0.1, "in [0, 0.1)")),
        "correlation": ((str,), False, (lambda v: v in ("independent", "ar1"),
                                        "'independent' or 'ar1'")),
        "rho_alpha": (_NUM, False, _POS),
        "rho_beta": (_NUM, False, _POS),
    },
    "likelihood": {
        "family": ((str,), True, (lambda v: v in ("normal", "student_t"),
                                  "'normal' or 'student_t'")),
        "nu_alpha": (_NUM, False, _POS),
        "nu_beta": (_NUM, False, _POS),
    },
    "sampler": {
        "draws": ((int,), True, (lambda v: v >= 1, ">= 1")),
        "tune": ((int,), True, (lambda v: v >= 0, ">= 0")),
        "chains": ((int,), True, (lambda v: v >= 1, ">= 1")),
        "target_accept": (_NUM, True, (lambda v: 0.5 <= v < 1.0, "in [0.5, 1)")),
        "whiten": ((bool,), False, None),
        "adaptation": ((str,), False, (lambda v: v in ("low_rank", "diag"),
                                       "'low_rank' or 'diag'")),
    },
    "fast": {
        "method": ((str,), True, (lambda v: v == "laplace", "'laplace'")),
        "draws": ((int,), True, (lambda v: v >= 10, ">= 10")),
    },
    "gate": {
        "rhat_max": (_NUM, True, (lambda v: v >= 1.0, ">= 1")),
        "ess_bulk_min": (_NUM, True, _NONNEG),
        "max_divergences": ((int,), True, _NONNEG),
    },
    "peaks": {
        "rel_prominence": (_NUM, True, (lambda v: 0 < v < 1, "in (0, 1)")),
        "cluster_width_decades": (_NUM, True, _POS),
        "min_probability": (_NUM, True, (lambda v: 0 <= v < 1, "in [0, 1)")),
    },
    "hierarchy": {
        "cell_sd_scale": (_NUM, True, _POS),
        "deviation_length_decades": (_NUM, True, _POS),
        "deviation_rank": ((int,), True, (lambda v: v >= 1, ">= 1")),
        "hyperparameters": ((str,), False, (lambda v: v in ("per_group", "shared"),
                                            "'per_group' or 'shared'")),
    },
}
_HEADER = {"name": str, "description": str, "kind": str}
_KINDS = ("drt", "split", "soc_model")


def preset_dirs() -> list[Path]:
    """Folders searched for presets by name, in order (installed package first)."""
    here = Path(__file__).resolve().parent
    return [d for d in (here / "presets", here.parent / "models") if d.is_dir()]


def _find(name_or_path: str | os.PathLike) -> Path:
    text = str(name_or_path)
    cand = Path(text).expanduser()
    if cand.suffix == ".toml" or os.sep in text or "/" in text:
        if not cand.is_file():
            raise PresetError(f"{cand}: preset file not found; give an existing .toml file or "
                              f"one of the names {[n for n, _ in list_presets()]}")
        return cand
    for folder in preset_dirs():
        p = folder / f"{text}.toml"
        if p.is_file():
            return p
    raise PresetError(f"unknown model preset {text!r}; known presets: "
                      f"{[n for n, _ in list_presets()]} (or give a path to a .toml file)")


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join("number" if t is float else t.__name__ for t in types
                       if not (t is int and float in types))


def _validate_drt(cfg: dict[str, Any], where: str) -> None:
    needed = dict(_DRT_SCHEMA)
    pooling = cfg.get("model", {}).get("pooling") if isinstance(cfg.get("model"), dict) else None
    if pooling != "hierarchical":
        needed.pop("hierarchy")
    for section, keys in needed.items():
        if section not in cfg:
            raise PresetError(f"{where}: missing section [{section}]; see models/drt-single.toml "
                              "for a complete preset")
        sec = cfg[section]
        if not isinstance(sec, dict):
            raise PresetError(f"{where}: [{section}] must be a table, got {type(sec).__name__}")
        unknown = sorted(set(sec) - set(keys))
        if unknown:
            raise PresetError(f"{where}: unknown key(s) {unknown} in [{section}]; allowed: "
                              f"{sorted(keys)}")
        for key, (types, required, check) in keys.items():
            if key not in sec:
                if required:
                    raise PresetError(f"{where}: missing key '{section}.{key}'")
                continue
            val = sec[key]
            # bool is an int subclass in Python; a number key must not accept true/false
            if (bool not in types and isinstance(val, bool)) or not isinstance(val, types):
                raise PresetError(f"{where}: '{section}.{key}' must be a {_type_name(types)}, "
                                  f"got {val!r}")
            if check is not None and not check[0](val):
                raise PresetError(f"{where}: '{section}.{key}' = {val!r} must be {check[1]}")
    if (cfg["model"]["series_capacitance"] == "average"
            and cfg["model"]["pooling"] == "hierarchical"):
        raise PresetError(f"{where}: 'model.series_capacitance' = 'average' needs pooling = "
                          "'none' (a hierarchical fit shares fields across spectra); use true or "
                          "false")
    if cfg["likelihood"]["family"] == "student_t":
        for key in ("nu_alpha", "nu_beta"):
            if key not in cfg["likelihood"]:
                raise PresetError(f"{where}: 'likelihood.{key}' is needed when family is "
                                  "'student_t'")
    extra = sorted(set(cfg) - set(_DRT_SCHEMA) - set(_HEADER))
    if extra:
        raise PresetError(f"{where}: unknown section(s) or key(s) {extra}; allowed sections: "
                          f"{sorted(_DRT_SCHEMA)}")


def load_preset(name_or_path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate a model preset.

    Parameters
    ----------
    name_or_path
        A preset name (``"drt-single"``, ``"drt-hierarchical"``, ...) or a path to a ``.toml``
        file.

    Returns
    -------
    dict
        The preset's tables as nested dicts, plus ``preset_toml`` (the file's full text, stored
        in every result for provenance) and ``preset_path`` (str).

    Raises
    ------
    PresetError
        Unknown name, missing file, invalid TOML, or a missing / mistyped / out-of-range key
        (the message names the key).
    """
    path = _find(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read the preset ({exc})") from exc
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(f"{path}: not valid TOML ({exc}); fix the syntax there") from exc
    for key, typ in _HEADER.items():
        if not isinstance(cfg.get(key), typ):
            raise PresetError(f"{path}: top-level key '{key}' missing or not a string")
    if cfg["kind"] not in _KINDS:
        raise PresetError(f"{path}: 'kind' = {cfg['kind']!r} must be one of {list(_KINDS)}")
    if cfg["kind"] == "drt":
        _validate_drt(cfg, str(path))
    for reserved in ("preset_toml", "preset_path"):
        if reserved in cfg:
            raise PresetError(f"{path}: '{reserved}' is a reserved key; remove it")
    cfg["preset_toml"] = text
    cfg["preset_path"] = str(path)
    return cfg


def list_presets() -> list[tuple[str, str]]:
    """Names and one-line descriptions of the presets shipped with drtbayes, sorted by name."""
    seen: dict[str, str] = {}
    for folder in preset_dirs():
        for p in sorted(folder.glob("*.toml")):
            if p.stem in seen:
                continue
            try:
                desc = str(tomllib.loads(p.read_text(encoding="utf-8")).get("description", ""))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                desc = "(unreadable preset)"
            seen[p.stem] = desc
    return sorted(seen.items())
