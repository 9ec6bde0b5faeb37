"""One-thread BLAS for reproducible numbers (see :mod:`drtbayes.parallel` for the story).

Multi-threaded BLAS splits sums differently with 1 or 2 threads, so the last bits of a matrix
product depend on the thread count. An optimiser or sampler amplifies those bits: the MAP search
of ``fit_drt(fast=True)`` on the demo's 8 spectra ended at visibly different points (split
resistances 60 % apart) in a process with one BLAS thread and in one with two. Every fit
therefore computes under one BLAS thread: same seed, same numbers, whatever the environment.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

__all__ = ["one_blas_thread"]


def one_blas_thread() -> AbstractContextManager[Any]:
    """Return a context in which BLAS/LAPACK use one thread (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with PyMC
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
