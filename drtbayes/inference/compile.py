"""``compile_model``: nutpie's PyMC compilation with cheaper, disk-cached C callbacks.

Why, 1 (cheaper): nutpie wraps the log density in a numba ``cfunc`` that copies the gradient
with ``out[...] = grad``. numba compiles that slice assignment together with its shape-mismatch
error message, whose string formatting (``str.join``, ``int`` to ``str``, f-strings) costs ~5 s
of compilation in every new process. The wrappers here copy in loops (no error path to format).

Why, 2 (cached): even so, the two ``cfunc`` wrappers (log density + gradient, and the expansion
to every model variable) took ~6.5 of the ~7 s a DRT model needed to compile in a new process,
although PyTensor loads the numba code of the model's graph itself from its disk cache in under
a second: numba links the whole graph into each ``cfunc`` and optimises the result again, and
a ``cfunc`` built from a closure cannot be cached. Here the wrappers are generated from source
and registered with PyTensor's numba cache locator under a key that fixes everything their
machine code depends on (PyTensor's own key of the graph, the number of parameters, the layout
of the shared data, the wrapper source and the numba / nutpie / PyTensor versions), so a later
process loads them from PyTensor's numba cache directory. The data are read through nutpie's
user-data pointer at run time (shapes included), so one cached wrapper serves every data set of
the same graph. A graph PyTensor cannot key, or ``pytensor.config.numba__cache = False``,
compiles the wrappers as before, without caching.

Everything else (graph, shared data, expansion, sampler) is nutpie's own. With another nutpie
version whose internals differ, ``compile_model`` falls back to ``nutpie.compile_pymc_model``.

Models are compiled without numba's fastmath: with it, LLVM may reassociate sums and fuse
multiply-adds differently in a function compiled fresh (where it can inline across functions)
and in one loaded from numba's on-disk cache, so a Laplace fit in a new process and in one with a
warm cache differed in the 5th digit (found by the serial vs Dask-cluster identity test in a
fresh environment). Without it the same seed gives the same numbers in every process, whether
the wrappers were compiled or loaded, at no measurable cost to sampling speed (the work is in
BLAS calls).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

__all__ = ["compile_model", "loaded_from_cache", "model_cache", "clear_model_cache"]

_LOCK = threading.Lock()
_STATE = threading.local()

# bump when the wrappers' source or their key changes in a way the key would not show
_WRAPPER_VERSION = "drtbayes-cfunc-1"

_LOGP_SRC = """
def logp_numba(dim, x_, out_, logp_, user_data_):
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
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def expand_numba(dim, expanded, x_, out_, user_data_):
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
    except Exception:
        return -2
    return 0
"""


# every model's in-process cache of compiled models (and compiled helper functions), by name
_MODEL_CACHES: dict[str, dict[Any, Any]] = {}


def model_cache(name: str) -> dict[Any, Any]:
    """Return the in-process cache of compiled models of one model kind (created on first use).

    Parameters
    ----------
    name
        Cache name, e.g. ``"drt"``, ``"soc"``, ``"soc-laplace"``.

    Returns
    -------
    dict
        Key -> compiled object; :func:`clear_model_cache` empties every such dict.
    """
    return _MODEL_CACHES.setdefault(str(name), {})


def clear_model_cache() -> None:
    """Forget every compiled model of every model kind (frees memory; the next fit recompiles)."""
    for cache in _MODEL_CACHES.values():
        cache.clear()


class _NoCacheKey(Exception):
    """The graph has no PyTensor cache key: compile the wrappers uncached."""


def _cache_key(src: str, jit_fn: Any, n_dim: int, n_expanded: int | None, user_data: Any,
               shared_data: dict[str, Any]) -> str | None:
    """Key of a wrapper's machine code, or None when PyTensor has no key for the graph."""
    import numba
    import nutpie
    import pytensor
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    graph_key = CACHED_SRC_FUNCTIONS.get(getattr(jit_fn, "py_func", None))
    if graph_key is None:
        return None
    # the user-data record: one (pointer, size, shape) entry per shared array, in this order;
    # offsets follow from the count and the ranks, the element types fix the array types
    names = list(user_data.dtype["shared"]["data"].names)
    layout = [(int(shared_data[k].ndim), shared_data[k].dtype.str) for k in names]
    # __name__ too: numba rebuilds a cached function's globals by importing the module it was
    # compiled in, so an entry written from another module path (an older drtbayes layout)
    # must not be found
    text = repr((_WRAPPER_VERSION, __name__, src, graph_key, int(n_dim), n_expanded, layout,
                 numba.__version__, nutpie.__version__, pytensor.__version__))
    return hashlib.sha256(text.encode()).hexdigest()


def _wrapper(src: str, name: str, jit_fn: Any, env: dict[str, Any], n_dim: int,
             n_expanded: int | None, user_data: Any, shared_data: dict[str, Any]) -> Any:
    import numba
    import numpy as np
    from pytensor.link.numba.cache import compile_numba_function_src

    key = None
    if getattr(_STATE, "cache", False):
        key = _cache_key(src, jit_fn, n_dim, n_expanded, user_data, shared_data)
        if key is None:
            raise _NoCacheKey
    # __name__: numba rebuilds a cached function's environment from this module's globals
    return compile_numba_function_src(
        src, name, global_env={"__name__": __name__, "numba": numba, "np": np, **env},
        cache_key=key)


def _make_c_logp_func(n_dim, logp_fn, user_data, shared_keys, shared_data):
    import numba
    from nutpie.compile_pymc import make_extraction_fn

    extract = make_extraction_fn(logp_fn, shared_data, shared_keys, user_data.dtype)
    c_sig = numba.types.int64(
        numba.types.uint64,
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.CPointer(numba.types.double),
        numba.types.voidptr,
    )
    fn = _wrapper(_LOGP_SRC, "logp_numba", logp_fn, {"extract": extract, "n_dim": n_dim},
                  n_dim, None, user_data, shared_data)
    return fn, c_sig


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
    fn = _wrapper(_EXPAND_SRC, "expand_numba", expand_fn,
                  {"extract": extract, "n_dim": n_dim, "n_expanded": n_expanded},
                  n_dim, n_expanded, user_data, shared_data)
    return fn, c_sig


def loaded_from_cache(compiled: Any) -> bool:
    """Whether both C callbacks of a compiled model came from the disk cache."""
    compiled = getattr(compiled, "nutpie_model", compiled)
    fns = (getattr(compiled, "compiled_logp_func", None),
           getattr(compiled, "compiled_expand_func", None))
    return all(getattr(f, "cache_hits", 0) > 0 for f in fns)


def compile_model(model: Any, **kwargs: Any) -> Any:
    """``nutpie.compile_pymc_model(model, **kwargs)`` with the C callbacks above."""
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
            _STATE.cache = bool(pytensor.config.numba__cache)
            try:
                return nutpie.compile_pymc_model(model, **kwargs,
                                                 **({"cache": True} if _STATE.cache else {}))
            except _NoCacheKey:
                _STATE.cache = False
                return nutpie.compile_pymc_model(model, **kwargs)
        finally:
            _STATE.cache = False
            ncp._make_c_logp_func, ncp._make_c_expand_func = saved
