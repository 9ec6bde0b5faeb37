"""``load(path)``: read any saved drtbayes result, dispatching on its ``drtbayes_kind``."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

from ._files import open_result
from ._files import result_kind as _checked_kind
from .errors import DataError

__all__ = ["load", "result_kind"]


def result_kind(path: str | os.PathLike) -> str:
    """Return the root attribute ``drtbayes_kind`` of a saved result (data not loaded)."""
    import h5netcdf

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    try:
        with h5netcdf.File(p, "r") as fh:
            kind = fh.attrs.get("drtbayes_kind")
    except (OSError, ValueError) as exc:
        raise DataError(f"{p}: not a netCDF/HDF5 file written by drtbayes ({exc})") from exc
    if isinstance(kind, bytes):
        kind = kind.decode()
    if kind is None:
        raise DataError(f"{p}: no 'drtbayes_kind' attribute; was this file written by drtbayes?")
    return str(kind)


def load(path: str | os.PathLike) -> Any:
    """Read a saved result.

    Parameters
    ----------
    path
        A file written by drtbayes (``.save`` / the pipeline).

    Returns
    -------
    DRTResult, SocModelResult or xarray.Dataset
        ``drt_fit`` -> :class:`drtbayes.drt.DRTResult`; ``soc_model`` ->
        ``drtbayes.compare.load_soc_model(path)``; ``bands`` / ``split`` -> the Dataset.

    Raises
    ------
    DataError
        Missing file, not a drtbayes file, or an unknown kind.
    """
    kind = _checked_kind(path)  # damaged or non-netCDF files: one-line ResultFileError
    if kind == "drt_fit":
        from .drt import load_drt

        return load_drt(path)
    if kind == "soc_model":
        return importlib.import_module("drtbayes.compare").load_soc_model(path)
    if kind in ("bands", "split"):
        return open_result(path)
    raise DataError(f"{path}: unknown result kind {kind!r}; known: drt_fit, soc_model, bands, "
                    "split")
