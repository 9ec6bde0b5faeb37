"""Where drtbayes keeps what it generates: one cache folder, never the system temp folder.

PyTensor's numba backend writes the Python source of every function it generates. Without
``pytensor.config.generated_src_dir`` it uses ``NamedTemporaryFile(delete=False)``, which leaves
one file per generated function in the system temp folder for ever (hundreds a minute while
fitting). With the flag set, the files are content-addressed in that folder (the same source
is one file, however often it is generated) and PyTensor prunes old ones at exit, so the folder
stays bounded. drtbayes sets the flag once, at import, before PyTensor is imported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["cache_dir", "generated_src_dir", "route_generated_source"]


def cache_dir() -> Path:
    """Return the drtbayes cache folder.

    ``$DRTBAYES_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/drtbayes``, else
    ``~/.cache/drtbayes``.

    Returns
    -------
    Path
        The folder (not created here).
    """
    explicit = os.environ.get("DRTBAYES_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "drtbayes"


def generated_src_dir() -> Path:
    """Return the folder for PyTensor's generated source files."""
    return cache_dir() / "generated_src"


def route_generated_source() -> None:
    """Point PyTensor's generated source at the drtbayes cache unless the user chose a folder.

    Before PyTensor is imported the flag goes into ``PYTENSOR_FLAGS`` (so Dask workers and
    subprocesses inherit it); after, it is set on ``pytensor.config`` directly.
    """
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "generated_src_dir" in flags:
        return
    target = generated_src_dir()
    if "pytensor" in sys.modules:
        _set_on_config(target)
        return
    text = str(target)
    if "," in text or "=" in text:
        # PYTENSOR_FLAGS cannot carry such a path; set it on the config after import instead.
        import pytensor  # noqa: F401  (imported here only for a path the flags cannot hold)

        _set_on_config(target)
        return
    os.environ["PYTENSOR_FLAGS"] = f"{flags},generated_src_dir={text}" if flags else (
        f"generated_src_dir={text}")


def _set_on_config(target: Path) -> None:
    import pytensor

    if not pytensor.config.generated_src_dir:
        pytensor.config.generated_src_dir = str(target)
