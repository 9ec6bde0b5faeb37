"""All of a model's data in one ``pm.Data`` container.

Why: nutpie compiles, for every ``pm.Data`` container of a model, a numba routine that pulls
the array out of its user-data record (with reshape and shape checks). Those routines are not
cached between processes, and each costs about a second of compilation on a 2-core machine:
the DRT model's ten containers made up ~10 s of its ~21 s compile. One flat container sliced
inside the graph (static offsets and shapes) keeps the compiled-model reuse across same-shaped
data (``with_data``) and pays that cost once.

Integer arrays (indices) travel as float64 and are cast back in the graph; they are small
exact integers, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["PACKED_NAME", "pack_values", "packed_data"]

#: Name of the single ``pm.Data`` container.
PACKED_NAME = "packed_data"


def _layout(values: Mapping[str, np.ndarray]) -> list[tuple[str, int, tuple[int, ...], bool]]:
    """(name, offset, shape, is_integer) for every array, in sorted-name order."""
    out, offset = [], 0
    for name in sorted(values):
        a = np.asarray(values[name])
        out.append((name, offset, tuple(int(s) for s in a.shape),
                    bool(np.issubdtype(a.dtype, np.integer))))
        offset += int(a.size)
    return out


def pack_values(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{PACKED_NAME: flat float64 vector}`` of ``values`` (for ``with_data`` / ``set_value``).

    Same names and shapes give the same layout, so a model compiled for one set of values
    accepts another.
    """
    parts = [np.asarray(values[name], dtype=np.float64).ravel() for name in sorted(values)]
    flat = np.concatenate(parts) if parts else np.zeros(0)
    return {PACKED_NAME: flat}


def packed_data(values: Mapping[str, np.ndarray]) -> dict[str, object]:
    """Create the container in the current PyMC model; return one tensor per named array.

    Must be called inside a ``pm.Model`` context.
    """
    import pymc as pm
    import pytensor.tensor as pt

    flat = pm.Data(PACKED_NAME, pack_values(values)[PACKED_NAME])
    tensors: dict[str, object] = {}
    for name, offset, shape, is_int in _layout(values):
        size = int(np.prod(shape, dtype=np.int64)) if shape else 1
        piece = flat[offset:offset + size]
        t = piece.reshape(shape) if shape else piece[0]
        tensors[name] = pt.cast(pt.round(t), "int64") if is_int else t
    return tensors
