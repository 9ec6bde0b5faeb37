"""Run independent units of work serially or on a Dask cluster, with the same results.

Every unit carries its own seed (fixed by the unit, never by the worker or the order in which
tasks finish), so serial, local-cluster and remote-cluster runs give identical numbers. Dask is
an optional extra (``pip install drtbayes[dask]``); without it everything runs in-process.

What happens when a worker dies
-------------------------------
A task whose worker process dies (killed, out of memory, node lost) is not an error of the
task: the Dask *scheduler* reruns it on another worker, up to its
``distributed.scheduler.allowed-failures`` setting (3 by default) deaths per task. After that
the task ends with ``KilledWorker``. :func:`map_units` then either raises (the default) or,
with ``on_error``, turns that unit into a result of its own (a "failed" row for the batch
command), so the other units are never lost. Exceptions raised *by* a unit are not retried by
default (``retries=0``): a unit is deterministic (its own seed, its own input), so a rerun of
it would fail the same way and only waste a worker.

Why every unit runs with one BLAS thread
----------------------------------------
Multi-threaded BLAS/LAPACK (OpenBLAS) splits a matrix product or factorisation differently with
1 or 2 threads, and the sums then round differently in the last bit. Dask's nanny starts every
worker with ``OMP_NUM_THREADS=1`` while the serial path would use all cores, so the same unit
gave last-bit-different numbers serially and on a cluster (seen in the GITT split's fitted
transients). :func:`map_units` therefore runs each unit under a one-thread BLAS limit, in this
process and on the workers alike. Parallelism comes from the units (and nutpie's chains), not
from BLAS inside small matrices.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from ..errors import DrtbayesError
from .threads import one_blas_thread

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["SchedulerError", "dask_client", "map_units", "one_blas_thread"]


class SchedulerError(DrtbayesError):
    """Dask is not installed, the worker count is invalid, or the scheduler cannot be reached."""


class _OneBlasThread(Generic[T, R]):
    """``fn`` run under :func:`one_blas_thread`; a picklable class, so Dask can ship it."""

    def __init__(self, fn: Callable[[T], R]) -> None:
        self.fn = fn

    def __call__(self, unit: T) -> R:
        with one_blas_thread():
            return self.fn(unit)


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                *, timeout_s: float = 20.0) -> Iterator[Any]:
    """Return a Dask client for a remote scheduler address or a local cluster of ``workers``.

    Parameters
    ----------
    scheduler
        Address of a running Dask scheduler (``tcp://host:8786``); wins over ``workers``.
    workers
        Number of local worker processes (one thread each); 0 or None with no scheduler means
        serial execution in this process.
    timeout_s
        How long to try to reach ``scheduler``.

    Yields
    ------
    dask.distributed.Client or None
        None for serial execution.

    Raises
    ------
    SchedulerError
        Dask is not installed, ``workers`` is negative, or the scheduler cannot be reached.
    """
    if workers is not None and int(workers) < 0:
        raise SchedulerError(f"--workers {workers}: must be 0 (serial) or a positive number")
    if scheduler is None and not workers:
        yield None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError(
            "--scheduler/--workers need Dask: pip install 'drtbayes[dask]'"
        ) from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s")
        except (OSError, TimeoutError, ValueError) as exc:
            # ValueError: a malformed address such as "host:port:extra"
            raise SchedulerError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}; check the address "
                "(tcp://host:8786) and that `dask scheduler` runs there") from None
        try:
            yield client
        finally:
            client.close()
        return
    # One thread per worker process: PyMC/nutpie sampling holds the GIL in places and each
    # worker keeps its own compiled-model cache.
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


# over 80 lines by its docstring (the body is ~45 lines)
def map_units(
    fn: Callable[[T], R],
    units: Iterable[T],
    *,
    client: Any | None = None,
    retries: int = 0,
    on_result: Callable[[int, R], None] | None = None,
    on_error: Callable[[int, BaseException], R] | None = None,
) -> list[R]:
    """Apply ``fn`` to every unit, serially or as Dask tasks.

    Parameters
    ----------
    fn
        A picklable function of one unit; it must do its own writing (atomically) so that a
        killed worker loses only its unfinished unit.
    units
        The independent units (each should carry its seed).
    client
        A ``dask.distributed.Client`` or None for serial execution.
    retries
        How often Dask reruns a task that *raised* an exception (not one whose worker died:
        the scheduler reruns those by itself, see the module docstring). 0 by default because
        units are deterministic.
    on_result
        Called with (index, result) as each unit finishes (progress, streaming to disk); also
        for the results made by ``on_error``.
    on_error
        Called with (index, exception) for a unit that failed: ``fn`` raised an ``Exception``,
        or (on a cluster) its task was lost with ``KilledWorker`` or cancelled. Its return value
        becomes that unit's result and the other units go on. Without it the first failure is
        raised and the units not yet finished are cancelled.

    Returns
    -------
    list
        Results in the order of ``units``.

    Notes
    -----
    Each unit runs with one BLAS thread (see the module docstring), serially as on a cluster,
    so that both give bit-identical numbers.
    """
    units = list(units)
    fn = _OneBlasThread(fn)
    results: list[Any] = [None] * len(units)
    if client is None:
        for i, u in enumerate(units):
            try:
                r = fn(u)
            except Exception as exc:
                if on_error is None:
                    raise
                r = on_error(i, exc)
            if on_result is not None:
                on_result(i, r)
            results[i] = r
        return results
    from dask.distributed import as_completed

    futures = client.map(fn, units, pure=False, retries=retries)
    index = {f.key: i for i, f in enumerate(futures)}
    try:
        for fut in as_completed(futures):
            i = index[fut.key]
            try:
                r = fut.result()
            except Exception as exc:
                # KilledWorker, CancelledError and fn's own exceptions all land here
                if on_error is None:
                    raise
                r = on_error(i, exc)
            # The result is in our hands now: let the worker drop its copy, so memory on the
            # workers stays flat however many units there are.
            fut.release()
            results[i] = r
            if on_result is not None:
                on_result(i, r)
    except BaseException:
        # the caller stops here (first failure, Ctrl-C): do not leave tasks running; a failure
        # to cancel (the scheduler is gone) must not hide the error that stopped us
        try:
            client.cancel(futures)
        except Exception:
            pass
        raise
    return results
