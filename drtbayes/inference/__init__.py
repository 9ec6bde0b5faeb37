"""The one inference backend of every drtbayes model.

* :mod:`~drtbayes.inference.compile`: nutpie compilation with disk-cached C callbacks and the
  one in-process cache of compiled models (:func:`clear_model_cache`);
* :mod:`~drtbayes.inference.packed`: all of a model's data in one ``pm.Data`` container;
* :mod:`~drtbayes.inference.whiten`: NUTS in coordinates whitened by a Laplace approximation;
* :mod:`~drtbayes.inference.threads`: one BLAS thread (same seed, same numbers);
* :mod:`~drtbayes.inference.nuts`: the one NUTS path (:func:`sample_nuts`, with progress);
* :mod:`~drtbayes.inference.laplace`: the one Laplace approximation and its eigenvalue floor;
* :mod:`~drtbayes.inference.diagnostics`: the one gate (:data:`GATE_DEFAULT`, :func:`gate`);
* :mod:`~drtbayes.inference.parallel`: units of work serially or on a Dask cluster.
"""

from __future__ import annotations

from .compile import clear_model_cache, compile_model, loaded_from_cache, model_cache
from .diagnostics import (
    GATE_DEFAULT,
    WHOLE_FIT,
    chain_diagnostics,
    check_sampler_settings,
    diagnostics_by_unit,
    gate,
    gate_advice,
    gate_failures,
    gate_reasons,
    posterior_diagnostics,
)
from .laplace import EIGENVALUE_FLOOR, finite_difference_hessian, floored_eigh, gaussian_draws
from .nuts import sample_nuts
from .packed import PACKED_NAME, pack_values, packed_data
from .threads import one_blas_thread

__all__ = [
    "EIGENVALUE_FLOOR", "GATE_DEFAULT", "PACKED_NAME", "chain_diagnostics",
    "WHOLE_FIT", "check_sampler_settings", "clear_model_cache", "compile_model",
    "diagnostics_by_unit", "finite_difference_hessian",
    "floored_eigh", "gate", "gate_advice", "gate_failures", "gate_reasons", "gaussian_draws",
    "loaded_from_cache", "model_cache", "one_blas_thread", "pack_values", "packed_data",
    "posterior_diagnostics", "sample_nuts",
]
