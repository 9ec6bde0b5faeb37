"""The one result protocol: ``load(path)`` reads any saved result, dispatching on its kind.

:class:`~drtbayes.results.base.ResultBase` (kind, ``save``, ``load`` checking kind, schema and
version, ``summary``, ``diagnostics``) is shared by :class:`~drtbayes.drt.DRTResult`,
:class:`~drtbayes.soc.SocModelResult`, :class:`BandsResult` and :class:`SplitResult`;
:func:`~drtbayes.results.provenance.stamp` writes their provenance attributes and
:mod:`~drtbayes.results.schema` lists what each holds (docs/architecture.md as code).
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import DataError
from .base import BandsResult, ResultBase, ResultError
from .provenance import stamp

__all__ = ["load", "result_kind", "ResultBase", "ResultError", "BandsResult", "SplitResult",
           "stamp"]


def __getattr__(name: str) -> Any:
    """``SplitResult`` from :mod:`drtbayes.split.result`, imported on first use.

    Why lazily: the split package sits above this layer (it imports the bands, which import
    the provenance stamp from here), so an import at module level would be circular.
    """
    if name == "SplitResult":
        from ..split.result import SplitResult

        return SplitResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def result_kind(path: str | os.PathLike) -> str:
    """Return the root attribute ``drtbayes_kind`` of a saved result (data not loaded).

    Damaged or non-netCDF files raise one :class:`~drtbayes.errors.ResultFileError`.
    """
    from .._files import result_kind as checked_kind

    return checked_kind(path)


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
        from ..split.result import SplitResult

        return SplitResult.load(path)
    raise DataError(f"{path}: unknown result kind {kind!r}; known: drt_fit, soc_model, bands, "
                    "split")
