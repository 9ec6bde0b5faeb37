"""``compile_model``: nutpie's PyMC compilation with cheaper C callbacks.

Why: nutpie wraps the log density in a numba ``cfunc`` that copies the gradient with
``out[...] = grad``. numba compiles that slice assignment together with its shape-mismatch error
message, whose string formatting (``str.join``, ``int`` to ``str``, f-strings) costs ~5 s of
compilation in every new process, more than half of a DRT model's compile time. The wrappers
here are nutpie's with the two copies written as loops (no error path to format); everything
else (graph, shared data, expansion, sampler) is nutpie's own. With another nutpie version whose
internals differ, ``compile_model`` falls back to ``nutpie.compile_pymc_model`` unchanged.

Models are compiled without numba's fastmath: with it, LLVM may reassociate sums and fuse
multiply-adds differently in a function compiled fresh (where it can inline across functions)
and in one loaded from numba's on-disk cache, so a Laplace fit in a new process and in one with a
warm cache differed in the 5th digit (found by the serial vs Dask-cluster identity test in a
fresh environment). Without it the same seed gives the same numbers in every process, at no
measurable cost to sampling speed (the work is in BLAS calls).
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["compile_model"]

_LOCK = threading.Lock()


def _make_c_logp_func(n_dim, logp_fn, user_data, shared_keys, shared_data):
    import numba
    import numpy as np
    from nutpie.compile_pymc import make_extraction_fn

    extract = make_extraction_fn(logp_fn, shared_data, shared_keys, user_data.dtype)
    c_sig = numba.types.int64(
        numba.types.uint64,
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.voidptr,
    )

    def logp_numba(dim, x_, out_, logp_, user_data_):  # pragma: no cover - compiled
        if dim != n_dim:
            return -1
        try:
            x = numba.carray(x_, (n_dim,))
            out = numba.carray(out_, (n_dim,))
            logp = numba.carray(logp_, ())
            logp_val, grad = extract(x, user_data_)
            logp[()] = logp_val
            for i in range(n_dim):
                out[i] = grad[i]
            if not np.all(np.isfinite(out)):
                return 3
            if not np.isfinite(logp_val):
                return 4
        except Exception:  # noqa: BLE001
            return 1
        return 0

    return logp_numba, c_sig


def _make_c_expand_func(n_dim, n_expanded, expand_fn, user_data, shared_var_keys, shared_data):
    import numba
    from nutpie.compile_pymc import make_extraction_fn

    extract = make_extraction_fn(expand_fn, shared_data, shared_var_keys, user_data.dtype)
    c_sig = numba.types.int64(
        numba.types.uint64,
        numba.types.uint64,
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.voidptr,
    )

    def expand_numba(dim, expanded, x_, out_, user_data_):  # pragma: no cover - compiled
        if dim != n_dim:
            return -1
        if expanded != n_expanded:
            return -1
        try:
            x = numba.carray(x_, (n_dim,))
            out = numba.carray(out_, (n_expanded,))
            (values,) = extract(x, user_data_)
            for i in range(n_expanded):
                out[i] = values[i]
        except Exception:  # noqa: BLE001
            return -2
        return 0

    return expand_numba, c_sig


def compile_model(model: Any, **kwargs: Any) -> Any:
    """``nutpie.compile_pymc_model(model, **kwargs)`` with loop-copy C callbacks (see above)."""
    import nutpie
    import nutpie.compile_pymc as ncp
    import pytensor

    needed = ("_make_c_logp_func", "_make_c_expand_func", "make_extraction_fn",
              "_compile_pymc_model_numba")
    if not all(hasattr(ncp, name) for name in needed):  # pragma: no cover - other nutpie
        with pytensor.config.change_flags(numba__fastmath=False):
            return nutpie.compile_pymc_model(model, **kwargs)
    with _LOCK, pytensor.config.change_flags(numba__fastmath=False):
        saved = ncp._make_c_logp_func, ncp._make_c_expand_func
        ncp._make_c_logp_func, ncp._make_c_expand_func = _make_c_logp_func, _make_c_expand_func
        try:
            return nutpie.compile_pymc_model(model, **kwargs)
        finally:
            ncp._make_c_logp_func, ncp._make_c_expand_func = saved
