"""Bounds on run sizes: refuse sampler settings that cannot finish or would exhaust memory.

``--draws 1000000000`` would have NUTS allocate hundreds of GiB before failing; here it is a
one-line :class:`~drtbayes.errors.RunSizeError` before anything is read or fitted. The hard
bounds lie far above any useful run; the memory check compares an estimate of the posterior's
size with the memory the machine has free.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from ..errors import RunSizeError

__all__ = ["MAX_DRAWS", "MAX_TUNE", "MAX_CHAINS", "MAX_SAMPLES", "check_run_bounds",
           "check_draws_memory", "available_memory_bytes"]

MAX_DRAWS = 100_000
MAX_TUNE = 100_000
MAX_CHAINS = 64
#: posterior draws per GITT pulse of the split
MAX_SAMPLES = 100_000
#: copies of the draws alive at once while a fit is converted and saved (sampler buffer,
#: ArviZ arrays, derived quantities, the netCDF image in memory)
_COPIES = 4
_BOUNDS = {"draws": MAX_DRAWS, "tune": MAX_TUNE, "chains": MAX_CHAINS, "samples": MAX_SAMPLES,
           "split_samples": MAX_SAMPLES}


def check_run_bounds(settings: Mapping[str, float | None], label: Callable[[str], str]) -> None:
    """Refuse draws / tune / chains / samples above their hard bounds.

    ``label(key)`` names a setting in the message (``"--draws"`` on the command line).
    """
    for key, bound in _BOUNDS.items():
        value = settings.get(key)
        if value is not None and value > bound:
            raise RunSizeError(f"{label(key)} {value:g}: at most {bound:,} (more adds nothing "
                               "to the estimates and may not fit in memory)")


def available_memory_bytes() -> int | None:
    """Memory the system can give a new allocation (Linux ``MemAvailable``; None: unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_draws_memory(draws: int, chains: int, values_per_draw: int, *, what: str,
                       available: int | None = None) -> int:
    """Refuse a run whose posterior would not fit in the free memory.

    Parameters
    ----------
    draws, chains
        Posterior draws per chain and chains.
    values_per_draw
        Numbers stored per draw (parameters, derived quantities, predictions).
    what
        The run, for the message (``"the DRT fit of 3 spectra"``).
    available
        Free memory in bytes (default: :func:`available_memory_bytes`).

    Returns
    -------
    int
        The estimated bytes.
    """
    need = int(draws) * int(chains) * int(values_per_draw) * 8 * _COPIES
    free = available_memory_bytes() if available is None else available
    if free is not None and need > 0.8 * free:
        raise RunSizeError(f"{what}: {draws:,} draws x {chains} chains need about "
                           f"{need / 2**30:.1f} GiB of memory, {free / 2**30:.1f} GiB are free; "
                           "use fewer --draws or --chains")
    return need
