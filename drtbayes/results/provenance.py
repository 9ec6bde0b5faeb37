"""``stamp``: the one place that writes a saved result's provenance attributes."""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import MutableMapping
from typing import Any

__all__ = ["PROVENANCE_ATTRS", "version", "stamp"]

#: Root attributes every saved result carries (docs/architecture.md, Conventions).
PROVENANCE_ATTRS: tuple[str, ...] = (
    "drtbayes_kind", "drtbayes_version", "preset", "preset_toml", "seed", "method",
    "input_sha256", "created_utc",
)


def version() -> str:
    """Return the installed drtbayes version (``drtbayes.__version__``)."""
    from .. import __version__

    return __version__


def stamp(attrs: MutableMapping[str, Any], *, kind: str, seed: int | None, method: str = "",
          preset: str = "", preset_toml: str = "", input_sha256: Any = "{}",
          created_utc: str | None = None) -> MutableMapping[str, Any]:
    """Write the provenance attributes of a result into ``attrs`` (in place) and return it.

    Parameters
    ----------
    attrs
        Root attrs of the result's Dataset or DataTree.
    kind
        ``drtbayes_kind``: ``drt_fit``, ``bands``, ``split`` or ``soc_model``.
    seed
        The run's seed (None: -1, "not seeded").
    method
        ``nuts``, ``laplace`` or the analysis' own method name.
    preset, preset_toml
        Preset name and its full TOML text ("" for analyses without a preset).
    input_sha256
        JSON text or a dict path -> sha256 of the inputs.
    created_utc
        ISO time stamp (default: now, to the second).

    Returns
    -------
    MutableMapping
        ``attrs``.
    """
    attrs.update(
        drtbayes_kind=str(kind),
        drtbayes_version=version(),
        preset=str(preset),
        preset_toml=str(preset_toml),
        seed=-1 if seed is None else int(seed),
        method=str(method),
        input_sha256=input_sha256 if isinstance(input_sha256, str)
        else json.dumps(input_sha256, sort_keys=True),
        created_utc=created_utc
        or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    )
    return attrs
