"""Declarative model presets (``models/*.toml``): find, read and validate them.

A preset is a TOML file holding numbers and switches only (tau grid, priors, hyperpriors, noise
model, likelihood, sampler defaults); the code that builds a PyMC model from it lives in
:mod:`drtbayes.drt.model` (and the split / SOC modules for their kinds). Presets are found by
name in the installed package's ``drtbayes/presets/`` folder (the wheel force-includes the
top-level ``models/`` there) or, in a source / editable checkout, in ``models/`` next to the
package; a path to a ``.toml`` file works too.

Every kind (``drt``, ``split``, ``soc_model``) is validated key by key against its schema in
:mod:`drtbayes.config.presets`, by the same engine as the study file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from .config.presets import PRESET_SCHEMAS
from .config.schema import raise_problems, validate
from .config.study import read_toml
from .errors import PresetError

__all__ = ["load_preset", "list_presets", "preset_dirs"]

_KINDS = ("drt", "split", "soc_model")
#: Kind names a caller may ask for, as the CLI and the older modules spell them.
_KIND_ALIASES = {"gitt-split": "split", "soc": "soc_model", "soc-spline": "soc_model"}


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


def load_preset(name_or_path: str | os.PathLike, kind: str | None = None) -> dict[str, Any]:
    """Read and validate a model preset.

    Parameters
    ----------
    name_or_path
        A preset name (``"drt-single"``, ``"gitt-split"``, ``"soc-spline"``, ...) or a path to
        a ``.toml`` file.
    kind
        The kind the caller needs (``"drt"``, ``"split"``, ``"soc_model"``); None accepts any.

    Returns
    -------
    dict
        The preset's tables as nested dicts, plus ``preset_toml`` (the file's full text, stored
        in every result for provenance) and ``preset_path`` (str).

    Raises
    ------
    PresetError
        Unknown name, missing file, invalid TOML, a preset of another kind than ``kind``, or
        missing / mistyped / out-of-range / unknown keys (all listed together, each with its
        key path; an unknown key with a "did you mean").
    """
    path = _find(name_or_path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise PresetError(f"{path}: cannot read the preset ({exc}); save it as UTF-8") from None
    cfg = read_toml(path, PresetError)
    for reserved in ("preset_toml", "preset_path"):
        if reserved in cfg:
            raise PresetError(f"{path}: '{reserved}' is a reserved key; remove it")
    found = cfg.get("kind")
    if found not in PRESET_SCHEMAS:
        raise PresetError(f"{path}: kind = {found!r}: expected one of {list(_KINDS)}")
    want = _KIND_ALIASES.get(kind, kind) if kind is not None else None
    if want is not None and found != want:
        raise PresetError(f"{path}: a preset of kind {found!r}, where one of kind {want!r} is "
                          f"needed; the shipped {want} presets: "
                          f"{[n for n, _ in list_presets(want)]}")
    _, problems = validate(cfg, PRESET_SCHEMAS[found])
    raise_problems(problems, path, PresetError)
    cfg["preset_toml"] = text
    cfg["preset_path"] = str(path)
    return cfg


def list_presets(kind: str | None = None) -> list[tuple[str, str]]:
    """List names and one-line descriptions of the shipped presets, sorted by name.

    Only those of ``kind`` when it is given.
    """
    seen: dict[str, str] = {}
    for folder in preset_dirs():
        for p in sorted(folder.glob("*.toml")):
            if p.stem in seen:
                continue
            try:
                head = tomllib.loads(p.read_bytes().decode("utf-8-sig"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                head = {"description": "(unreadable preset)"}
            if kind is None or head.get("kind") == kind:
                seen[p.stem] = str(head.get("description", ""))
    return sorted(seen.items())
