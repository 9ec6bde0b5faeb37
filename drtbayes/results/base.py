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

__all__ = ["ResultError", "ResultBase", "DatasetResult", "BandsResult", "read_result_data",
           "check_result_data", "LABELS_GROUP", "arviz_ready", "restore_labels"]

#: Group of a saved DataTree result that holds every other group's non-index coordinates
#: (labels such as a spectrum's design, cell and SOC), under the group's own name.
LABELS_GROUP = "labels"


def arviz_ready(tree: xr.DataTree) -> xr.DataTree:
    """Return the tree with each group's non-index coordinates moved to ``labels/<group>``.

    Why: ArviZ stacks all variables of a group into one array (``az.summary``), and a label
    coordinate on one dimension (``design`` along ``spectrum``) is absent from the variables
    without that dimension, which xarray refuses ("coordinate 'design' not present in all
    datasets"). Saved results are written in this form, so ``az.summary(xr.open_datatree(
    "eis_fit.nc"))`` works; :func:`restore_labels` puts the labels back on load.

    Parameters
    ----------
    tree
        A result's DataTree with labels on its groups.

    Returns
    -------
    xarray.DataTree
        A new tree (the input is unchanged).
    """
    if LABELS_GROUP in tree.children:
        return tree
    nodes: dict[str, xr.Dataset] = {"/": tree.to_dataset(inherit=False)}
    for name, child in tree.children.items():
        ds = child.to_dataset(inherit=False)
        extra = [c for c in ds.coords if c not in ds.indexes]
        if extra:
            nodes[f"{LABELS_GROUP}/{name}"] = xr.Dataset(coords={c: ds[c].variable
                                                                 for c in extra})
            ds = ds.drop_vars(extra)
        nodes[name] = ds
    return xr.DataTree.from_dict(nodes)


def restore_labels(tree: xr.DataTree) -> xr.DataTree:
    """Undo :func:`arviz_ready`: the labels back on their groups, no ``labels`` group."""
    if LABELS_GROUP not in tree.children:
        return tree
    labels = tree[LABELS_GROUP]
    nodes: dict[str, xr.Dataset] = {"/": tree.to_dataset(inherit=False)}
    for name, child in tree.children.items():
        if name == LABELS_GROUP:
            continue
        ds = child.to_dataset(inherit=False)
        if name in labels.children:
            lab = labels[name].to_dataset(inherit=False)
            ds = ds.assign_coords({c: lab[c].variable for c in lab.coords})
        nodes[name] = ds
    return xr.DataTree.from_dict(nodes)


class _GroupView(xr.Dataset):
    """A group of a result as a Dataset (labels included) that ArviZ can also convert.

    ArviZ reads a group as ``getattr(tree, group).to_dataset()``; here that gives the group
    without its label coordinates (see :func:`arviz_ready`). Everything else is a Dataset.
    """

    __slots__ = ()

    @classmethod
    def of(cls, ds: xr.Dataset) -> _GroupView:
        """Return the view of ``ds`` (its variables, coordinates and attrs, not copied)."""
        return cls({k: v.variable for k, v in ds.data_vars.items()},
                   coords={k: v.variable for k, v in ds.coords.items()}, attrs=ds.attrs)

    def to_dataset(self) -> xr.Dataset:  # type: ignore[override]
        """Return the group as a plain Dataset without non-index coordinates (for ArviZ)."""
        return xr.Dataset({k: v.variable for k, v in self.data_vars.items()},
                          coords={k: self.coords[k].variable for k in self.indexes},
                          attrs=self.attrs)


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

    # ---------------------------------------------------------------- ArviZ hand-off
    # ArviZ 1.x (arviz-base 1.3) has no conversion hook for other classes: it accepts a
    # DataTree by ``isinstance`` and then reads ``getattr(tree, group).to_dataset()``. A
    # DataTree result therefore presents itself to ``isinstance`` as a DataTree, answers the
    # DataTree attributes it lacks from its ArviZ-ready tree (arviz_ready) and gives its
    # ``posterior`` as a Dataset whose ``to_dataset()`` ArviZ can use, so that az.summary(fit),
    # az.hdi(fit) and az.plot_trace(fit) work on the result itself. ``type(fit)`` stays the
    # result class (and isinstance against it holds), pickling keeps the class (__reduce__).

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105
        """``xarray.DataTree`` for DataTree results (ArviZ's ``isinstance`` test)."""
        return xr.DataTree if type(self).holds_tree else type(self)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the result class, not as the DataTree it presents itself as."""
        return (type(self), (self._data,))

    def __getattr__(self, name: str) -> Any:
        """DataTree attributes (for ArviZ), answered from the ArviZ-ready tree."""
        data = self.__dict__.get("_data")
        if name.startswith("_") or data is None or not type(self).holds_tree:
            raise AttributeError(name)
        return getattr(arviz_ready(data), name)

    def __getitem__(self, key: str) -> Any:
        """Return a group (DataTree node) or variable of the ArviZ-ready tree."""
        if not type(self).holds_tree:
            return self._data[key]
        return arviz_ready(self._data)[key]

    def to_datatree(self) -> xr.DataTree:
        """Return the result as ArviZ takes it: the DataTree with labels in a ``labels`` group."""
        return arviz_ready(self.tree)

    def _group_view(self, group: str) -> xr.Dataset:
        """Return a group as a Dataset with its labels; ArviZ's ``to_dataset()`` drops them."""
        return _GroupView.of(self.tree[group].to_dataset())

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
        data = arviz_ready(self._data) if self.holds_tree else self._data
        # built in memory, then written by plain file I/O: a full disk is a clean DiskFullError
        return atomic_write_netcdf(path, data, force=force)

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
        return cls(restore_labels(data) if cls.holds_tree else data)


class DatasetResult(ResultBase):
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


class BandsResult(DatasetResult):
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
