"""Atomic, never-clobbering file output.

Every result drtbayes writes goes to a temporary file in the target's folder, is flushed and
fsynced, and then replaces the target with :func:`os.replace`, so an interrupted run never
leaves a half-written file. An existing target is only replaced when ``force`` is true.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from .errors import OutputExistsError


def check_writable(path: str | os.PathLike, *, force: bool = False) -> Path:
    """Raise :class:`OutputExistsError` if ``path`` exists and ``force`` is false."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(
            f"{path}: exists already; pass force=True (CLI: --force) to overwrite it"
        )
    return path


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    force: bool = False,
) -> Path:
    """Write a file atomically.

    Parameters
    ----------
    path
        Target file.
    write
        Called with a temporary path in the same folder; it must write the whole file there.
    force
        Replace an existing target.

    Returns
    -------
    Path
        The target path.
    """
    path = check_writable(path, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file owner-only (0600); results should get the permissions any new
    # file gets (0666 less the umask), so that colleagues on a shared filesystem can read them
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), force=force)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_bytes(data), force=force)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (recorded in every result for provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
