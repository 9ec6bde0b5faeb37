"""One checked opener for every saved result file drtbayes reads back.

A result given on the command line may be damaged (bit rot, a truncated copy), not netCDF at
all, or a netCDF of another kind; HDF5 then raises OSError, RuntimeError, KeyError or worse from
deep inside h5py. Every reader of a result file goes through :func:`open_result`, which turns
each of these into one :class:`~drtbayes.errors.ResultFileError` naming the file, what is wrong
and what to do.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import ResultFileError

__all__ = ["open_result", "result_kind", "load_splits", "HDF5_SIGNATURE"]

#: The first bytes of every HDF5 file (netCDF-4 is HDF5).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_MAKE = {"bands": "drtbayes run (bands.nc)", "split": "drtbayes split-gitt or drtbayes run",
         "soc_model": "drtbayes run (soc_model.nc)", "drt_fit": "drtbayes fit-eis --out"}


def _head(p: Path) -> bytes:
    if not p.exists():
        raise ResultFileError(f"{p}: file not found")
    if not p.is_file():
        raise ResultFileError(f"{p}: is not a regular file; give a result file written by "
                              "drtbayes")
    try:
        with open(p, "rb") as fh:
            return fh.read(8)
    except OSError as exc:
        raise ResultFileError(f"{p}: cannot be read ({exc.strerror})") from None


def _damaged(p: Path, exc: BaseException) -> ResultFileError:
    detail = " ".join(str(exc).split())[:160]
    return ResultFileError(f"{p}: damaged or truncated netCDF file ({type(exc).__name__}: "
                           f"{detail}); restore it from a copy or rerun the step that wrote it")


_H5_ERRORS = (OSError, RuntimeError, ValueError, KeyError, TypeError, IndexError)


def _guarded(p: Path, read: Callable[[], Any]) -> Any:
    """Run ``read`` on a possibly damaged file; any HDF5 failure -> one ResultFileError.

    A half-opened h5netcdf file object fails again in its destructor ("Exception ignored in
    ... File.__del__"), printed on stderr after the one-line error; its destructor runs, quietly,
    before the error is raised.
    """
    error: ResultFileError | None = None
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda _unraisable: None
    try:
        try:
            return read()
        # h5py reports damage as any of these, depending on which structure the bytes broke
        except _H5_ERRORS as exc:
            error = _damaged(p, exc)
        gc.collect()
    finally:
        sys.unraisablehook = old_hook
    raise error


def result_kind(path: str | os.PathLike) -> str:
    """Read the ``drtbayes_kind`` attribute of a saved result, checking the file on the way.

    Raises
    ------
    ResultFileError
        Missing, unreadable, not netCDF-4/HDF5, damaged, or without a ``drtbayes_kind``.
    """
    import h5netcdf

    p = Path(path)
    if _head(p) != HDF5_SIGNATURE:
        raise ResultFileError(f"{p}: not a netCDF-4/HDF5 file (wrong signature); give a result "
                              "file written by drtbayes (.nc)")
    def read() -> Any:
        with h5netcdf.File(p, "r") as fh:
            return fh.attrs.get("drtbayes_kind")

    kind = _guarded(p, read)
    if isinstance(kind, bytes):
        kind = kind.decode("utf-8", "replace")
    if kind is None:
        raise ResultFileError(f"{p}: a netCDF file without the 'drtbayes_kind' attribute; was "
                              "it written by drtbayes?")
    return str(kind)


def open_result(path: str | os.PathLike, kinds: Sequence[str] | None = None, *,
                tree: bool = False, needed_by: str = "") -> Any:
    """Open and fully load a saved result, refusing damaged files and files of another kind.

    Parameters
    ----------
    path
        A ``.nc`` file written by drtbayes.
    kinds
        The kinds the caller accepts (``"bands"``, ``"split"``, ``"soc_model"``,
        ``"drt_fit"``); None accepts any.
    tree
        Load as an :class:`xarray.DataTree` (results with groups) instead of a Dataset.
    needed_by
        What needs the file (``"--bands"``), for the message.

    Returns
    -------
    xarray.Dataset or xarray.DataTree
        Loaded into memory; the file is closed.

    Raises
    ------
    ResultFileError
        The file is missing, not netCDF, damaged or truncated, or of a kind not in ``kinds``.
    """
    import xarray as xr

    p = Path(path)
    kind = result_kind(p)
    if kinds is not None and kind not in kinds:
        want = " or ".join(repr(k) for k in kinds)
        how = "; make one with " + _MAKE[kinds[0]] if kinds[0] in _MAKE else ""
        raise ResultFileError(f"{p}: a drtbayes {kind!r} result, where {needed_by or 'this'} "
                              f"needs {want}{how}")
    def read() -> Any:
        if tree:
            with xr.open_datatree(p, engine="h5netcdf") as t:
                return t.load().copy()
        return xr.load_dataset(p, engine="h5netcdf")

    return _guarded(p, read)


def load_splits(paths: Iterable[str | os.PathLike]) -> Any:
    """Load GITT split results and join them along ``pulse``, refusing any pulse given twice.

    The same file given twice (under any name), or two files holding the same cell, would count
    its pulses twice and narrow every interval; both are refused.

    Raises
    ------
    ResultFileError
        A file fails :func:`open_result`, is not a split, or repeats a file or a cell.
    """
    import xarray as xr

    from ._atomic import sha256_file

    parts: list[Any] = []
    by_sha: dict[str, Path] = {}
    by_cell: dict[tuple[str, str], Path] = {}
    for raw in paths:
        p = Path(raw)
        ds = open_result(p, ("split",), needed_by="crossover")
        sha = sha256_file(p)
        if sha in by_sha:
            raise ResultFileError(f"{p}: the same split as {by_sha[sha]} (given twice); its "
                                  "pulses would count twice; give each split file once")
        by_sha[sha] = p
        cells = set(zip((str(d) for d in ds["design"].values),
                        (str(c) for c in ds["cell"].values), strict=True))
        for cell in sorted(cells):
            if cell in by_cell:
                raise ResultFileError(f"{p}: cell {cell[0]}/{cell[1]} is in {by_cell[cell]} "
                                      "too; its pulses would count twice; give each cell once")
            by_cell[cell] = p
        parts.append(ds)
    if len(parts) == 1:
        return parts[0]
    return xr.concat(parts, dim="pulse", combine_attrs="override")
