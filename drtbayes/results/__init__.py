"""The one result protocol: ``load(path)`` reads any saved result, dispatching on its kind.

:class:`~drtbayes.results.base.ResultBase` (kind, ``save``, ``load`` checking kind, schema and
version, ``summary``, ``diagnostics``) is shared by :class:`~drtbayes.drt.DRTResult`,
:class:`~drtbayes.soc.SocModelResult`, :class:`BandsResult` and :class:`SplitResult`;
:func:`~drtbayes.results.provenance.stamp` writes their provenance attributes and
:mod:`~drtbayes.results.schema` lists what each holds (docs/architecture.md as code).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import DataError
from .base import BandsResult, ResultBase, ResultError, SplitResult
from .provenance import stamp

__all__ = ["load", "result_kind", "ResultBase", "ResultError", "BandsResult", "SplitResult",
           "stamp"]


def result_kind(path: str | os.PathLike) -> str:
    """Return the root attribute ``drtbayes_kind`` of a saved result (read without loading data)."""
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
    """Read a saved result, checking its kind, schema and version.

    Parameters
    ----------
    path
        A file written by drtbayes (``.save`` / the pipeline).

    Returns
    -------
    DRTResult, SocModelResult, BandsResult or SplitResult
        The class of the file's ``drtbayes_kind`` (all :class:`ResultBase`); bands and split
        results hold their Dataset as ``.dataset``.

    Raises
    ------
    DataError
        Missing file, not a drtbayes file, an unknown kind, or a file its class refuses
        (:class:`ResultError`).
    """
    kind = result_kind(path)
    if kind == "drt_fit":
        from ..drt import DRTResult

        return DRTResult.load(path)
    if kind == "soc_model":
        from ..soc import SocModelResult

        return SocModelResult.load(path)
    if kind == "bands":
        return BandsResult.load(path)
    if kind == "split":
        return SplitResult.load(path)
    raise DataError(f"{path}: unknown result kind {kind!r}; known: drt_fit, soc_model, bands, "
                    "split")
