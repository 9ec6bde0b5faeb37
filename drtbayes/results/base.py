"""``ResultBase``: the one protocol of every saved drtbayes result.

A result wraps what it saves (a DataTree for the posterior fits, a Dataset for bands and the
split), knows its kind, writes itself atomically (never replacing a file without ``force``)
and loads only a file of its own kind, schema and a version this drtbayes can read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import xarray as xr

from .._atomic import atomic_write_netcdf
from ..errors import FileFormatError
from .provenance import version
from .schema import SCHEMA_VERSION, SCHEMAS

__all__ = ["ResultError", "ResultBase", "BandsResult", "SplitResult", "read_result_data",
           "check_result_data"]


class ResultError(FileFormatError):
    """A saved result of the wrong kind, an unknown schema, a newer version or missing parts."""


def _major(v: str) -> int:
    try:
        return int(str(v).split(".")[0])
    except ValueError:
        return -1


def check_result_data(data: xr.DataTree | xr.Dataset, kind: str, where: str) -> None:
    """Check kind, schema version, drtbayes version and required variables of a result.

    Parameters
    ----------
    data
        The result's DataTree or Dataset.
    kind
        Expected ``drtbayes_kind``.
    where
        File name (or "result") for the messages.

    Raises
    ------
    ResultError
        Naming what is wrong and how to go on.
    """
    attrs = data.attrs
    have = attrs.get("drtbayes_kind")
    if have != kind:
        raise ResultError(f"{where}: drtbayes_kind = {have!r}, expected {kind!r}; load it "
                          "with drtbayes.load, which picks the class from the kind")
    schema_v = int(attrs.get("drtbayes_schema", 1))
    if schema_v > SCHEMA_VERSION:
        raise ResultError(f"{where}: result layout (drtbayes_schema) {schema_v} is newer than "
                          f"this drtbayes reads ({SCHEMA_VERSION}); upgrade drtbayes")
    file_v = str(attrs.get("drtbayes_version", ""))
    if _major(file_v) > _major(version()):
        raise ResultError(f"{where}: written by drtbayes {file_v}, newer than this one "
                          f"({version()}); upgrade drtbayes to read it")
    for group, names in SCHEMAS[kind].groups.items():
        if group and (not isinstance(data, xr.DataTree) or group not in data.children):
            raise ResultError(f"{where}: group {group!r} missing from a {kind} result; the "
                              "file is damaged or was not written by drtbayes")
        node = data[group] if group else data
        missing = [v for v in names if v not in node]
        if missing:
            raise ResultError(f"{where}: {kind} result lacks {missing} in "
                              f"{group or 'its variables'}; the file is damaged or was not "
                              "written by drtbayes")


def read_result_data(path: str | os.PathLike, *, tree: bool) -> xr.DataTree | xr.Dataset:
    """Read a saved result into memory (a DataTree, or a Dataset when ``tree`` is False).

    Raises
    ------
    ResultError
        Missing file, or not readable as netCDF/HDF5.
    """
    # one checked opener for every result file read back (damaged, truncated, not netCDF:
    # one ResultFileError, a DataError, instead of an HDF5 traceback)
    from .._files import open_result

    return open_result(path, tree=tree)


class ResultBase:
    """Common protocol of the results: kind, save, load, summary, diagnostics.

    Subclasses set :attr:`kind` and whether they hold a DataTree (:attr:`holds_tree`).

    Parameters
    ----------
    data
        The result's DataTree (posterior fits) or Dataset (bands, split).
    """

    kind: ClassVar[str] = ""
    holds_tree: ClassVar[bool] = True

    def __init__(self, data: xr.DataTree | xr.Dataset) -> None:
        # only the kind here: hand-made results (tests, other tools) may hold a subset of the
        # schema's variables; load() checks a file in full
        have = data.attrs.get("drtbayes_kind")
        if have != self.kind:
            raise ResultError(f"not a {self.kind} result: root attr drtbayes_kind is {have!r}, "
                              f"expected {self.kind!r}")
        self._data = data
        data.attrs.setdefault("drtbayes_schema", SCHEMA_VERSION)

    @property
    def tree(self) -> xr.DataTree:
        """The result's DataTree (ArviZ layout) of a posterior fit."""
        if not self.holds_tree:
            raise AttributeError(f"a {self.kind} result holds a Dataset (.dataset), not a tree")
        return self._data  # type: ignore[return-value]

    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes (provenance: docs/architecture.md, Conventions)."""
        return self._data.attrs

    @property
    def diagnostics(self) -> dict[str, Any]:
        """Sampler / method diagnostics stored with the result (JSON attr ``diagnostics``)."""
        text = self.attrs.get("diagnostics")
        return json.loads(text) if text else {}

    def summary(self) -> Any:
        """Tidy table of the result (one row per unit and quantity)."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write to netCDF (h5netcdf) atomically; an existing file only with ``force``.

        Parameters
        ----------
        path
            Target file.
        force
            Replace an existing regular file.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        # built in memory, then written by plain file I/O: a full disk is a clean DiskFullError
        return atomic_write_netcdf(path, self._data, force=force)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ResultBase:
        """Read a result of this class's kind, checking kind, schema and version.

        Raises
        ------
        ResultError
            Missing or unreadable file, another kind, a newer layout or version, missing
            variables.
        """
        data = read_result_data(path, tree=cls.holds_tree)
        check_result_data(data, cls.kind, str(path))
        return cls(data)


class _DatasetResult(ResultBase):
    """A result that is one Dataset (bands, split); item access goes to the Dataset."""

    holds_tree = False

    @property
    def dataset(self) -> xr.Dataset:
        """The result's Dataset."""
        return self._data  # type: ignore[return-value]

    def __getitem__(self, name: str) -> Any:
        """Variable or coordinate ``name`` of the Dataset."""
        return self._data[name]

    def __contains__(self, name: object) -> bool:
        """Whether the Dataset has variable or coordinate ``name``."""
        return name in self._data

    def __repr__(self) -> str:
        """Kind and the Dataset's sizes."""
        return f"{type(self).__name__}({dict(self._data.sizes)})"


class BandsResult(_DatasetResult):
    """Time-constant bands of a DRT fit (:func:`drtbayes.time_constant_bands`)."""

    kind = "bands"

    def summary(self) -> Any:
        """Median and 95 % HDI of each band's resistance and peak tau, per spectrum/group.

        Returns
        -------
        pandas.DataFrame
            Columns ``unit`` (spectrum or group label), ``level`` (``spectrum``/``group``),
            ``process``, ``quantity`` (``band_r`` ohm, ``peak_tau`` s), ``median``,
            ``hdi95_lo``, ``hdi95_hi``, ``p_resolved``.
        """
        import numpy as np
        import pandas as pd

        from ..numerics import hdi

        ds, rows = self._data, []
        for prefix, dim in (("", "spectrum"), ("group_", "group")):
            if f"{prefix}band_r" not in ds:
                continue
            for q in ("band_r", "peak_tau"):
                da = ds[f"{prefix}{q}"].transpose("sample", dim, "process")
                p_res = ds[f"{prefix}p_resolved"].transpose(dim, "process").values
                for i, unit in enumerate(ds[dim].values):
                    for j, proc in enumerate(ds["process"].values):
                        x = np.asarray(da.values[:, i, j], dtype=float)
                        lo, hi = hdi(x)
                        rows.append({"unit": str(unit), "level": dim, "process": str(proc),
                                     "quantity": q, "median": float(np.nanmedian(x))
                                     if np.isfinite(x).any() else float("nan"),
                                     "hdi95_lo": lo, "hdi95_hi": hi,
                                     "p_resolved": float(p_res[i, j])})
        return pd.DataFrame(rows)


class SplitResult(_DatasetResult):
    """GITT pulse resistances split into R1, R2, R3 (:func:`drtbayes.split_gitt`).

    Construct it from the split's Dataset with ``SplitResult(ds)`` (root attr
    ``drtbayes_kind = "split"`` and a ``resistance`` (pulse, component, sample) variable).
    """

    kind = "split"

    def summary(self) -> Any:
        """Median and 95 % HDI of every pulse's components.

        Returns
        -------
        pandas.DataFrame
            Columns ``pulse``, ``design``, ``cell``, ``soc`` (where the split has them),
            ``component``, ``median``, ``hdi95_lo``, ``hdi95_hi`` (ohm).
        """
        import numpy as np
        import pandas as pd

        from ..numerics import hdi

        res = self._data["resistance"].transpose("pulse", "component", "sample")
        labels = {c: self._data[c].values for c in ("design", "cell", "soc")
                  if c in self._data.coords and self._data[c].dims == ("pulse",)}
        rows = []
        for i, pulse in enumerate(res["pulse"].values):
            for k, comp in enumerate(res["component"].values):
                x = np.asarray(res.values[i, k], dtype=float)
                lo, hi = hdi(x)
                rows.append({"pulse": pulse, **{c: v[i] for c, v in labels.items()},
                             "component": str(comp), "median": float(np.nanmedian(x))
                             if np.isfinite(x).any() else float("nan"),
                             "hdi95_lo": lo, "hdi95_hi": hi})
        return pd.DataFrame(rows)
