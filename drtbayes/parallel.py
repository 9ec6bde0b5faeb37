"""Run independent units of work serially or on a Dask cluster, with the same results.

Every unit carries its own seed (fixed by the unit, never by the worker or the order in which
tasks finish), so serial, local-cluster and remote-cluster runs give identical numbers. Dask is
an optional extra (``pip install drtbayes[dask]``); without it everything runs in-process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .errors import DrtbayesError

T = TypeVar("T")
R = TypeVar("R")


class SchedulerError(DrtbayesError):
    """Dask is not installed, or the scheduler cannot be reached."""


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A Dask client for a remote scheduler address or a local cluster of ``workers``.

    Yields ``None`` when neither is given (serial execution).
    """
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
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
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


def map_units(
    fn: Callable[[T], R],
    units: Iterable[T],
    *,
    client: Any | None = None,
    retries: int = 2,
    on_result: Callable[[int, R], None] | None = None,
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
        Dask retries of a task whose worker died.
    on_result
        Called with (index, result) as each unit finishes (progress, streaming to disk).

    Returns
    -------
    list
        Results in the order of ``units``.
    """
    units = list(units)
    if client is None:
        out = []
        for i, u in enumerate(units):
            r = fn(u)
            if on_result is not None:
                on_result(i, r)
            out.append(r)
        return out
    from dask.distributed import as_completed

    futures = client.map(fn, units, pure=False, retries=retries)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(units)
    for fut in as_completed(futures):
        i = index[fut.key]
        results[i] = fut.result()
        if on_result is not None:
            on_result(i, results[i])
    return results
