"""Output paths and files: checked before any work, written atomically, never clobbering.

Every output path a command will write is checked up front by :func:`check_output` (or
:func:`check_output_dir` for a folder), so a bad path is a one-line error before minutes of
fitting, not a traceback after them: an existing file without ``force``, a folder, a device, a
FIFO, a symbolic link, an input file of the same run, a read-only or non-writable place, a name
that is not valid UTF-8. Only regular files are ever replaced, and only with ``force``.

Every result then goes to a temporary file in the target's folder, is flushed and fsynced, and
replaces the target with :func:`os.replace`, so an interrupted run never leaves a half-written
file; a full disk is a :class:`~drtbayes.errors.DiskFullError` that leaves nothing behind.
netCDF files are serialised in memory first (:func:`atomic_write_netcdf`) because HDF5 that hits
a full disk leaves its file handle in a state that crashes the interpreter at exit.

:func:`output_lock` gives a process exclusive use of an output folder.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import DiskFullError, OutputExistsError, OutputLockedError, OutputPathError

__all__ = ["check_output", "check_output_dir", "check_outputs", "check_writable",
           "atomic_write", "atomic_write_text", "atomic_write_bytes", "atomic_write_netcdf",
           "output_lock", "sha256_file", "LOCK_NAME"]

#: Name of the lock file :func:`output_lock` keeps in an output folder while it is held.
LOCK_NAME = ".drtbayes.lock"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_NOT_ALLOWED = (errno.EROFS, errno.EACCES, errno.EPERM)


def _utf8_name(path: Path) -> None:
    # a name read from argv with undecodable bytes carries surrogates; it cannot go into the
    # UTF-8 text of results, provenance and the report
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(path).encode("utf-8", "replace").decode("utf-8")
        raise OutputPathError(f"{shown}: the output name is not valid UTF-8; use a name of "
                              "UTF-8 characters") from None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _writable_place(folder: Path, shown: Path) -> None:
    """Check that files can be created in ``folder`` (or in the nearest existing ancestor)."""
    anc = folder.absolute()
    while not anc.exists():
        if anc.is_symlink():  # a dangling link where a folder would be made
            raise OutputPathError(f"{shown}: {anc} is a broken symbolic link; remove it")
        anc = anc.parent
    if not anc.is_dir():
        raise OutputPathError(f"{shown}: {anc} is a file, not a folder; choose another path")
    try:
        readonly = bool(os.statvfs(anc).f_flag & os.ST_RDONLY)
    except OSError:
        readonly = False
    if readonly:
        raise OutputPathError(f"{shown}: {anc} is on a read-only file system; write elsewhere")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputPathError(f"{shown}: no permission to write in {anc}; choose a folder you "
                              "can write to")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.absolute() == b.absolute()


def check_output(path: str | os.PathLike, *, force: bool = False,
                 inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Check that a result may be written to ``path``, before any work is done.

    Parameters
    ----------
    path
        The output file.
    force
        Allow replacing an existing regular file.
    inputs
        Input files of the same run: never overwritten, even with ``force``.

    Returns
    -------
    Path

    Raises
    ------
    OutputExistsError
        ``path`` is an existing regular file and ``force`` is false.
    OutputPathError
        ``path`` is a folder, device, FIFO, socket or symbolic link, one of ``inputs``, in a
        place that cannot be written, or a name that is not UTF-8.
    """
    path = Path(path)
    _utf8_name(path)
    for src in inputs:
        if path.exists() and _same_file(path, Path(src)):
            raise OutputPathError(f"{path}: is an input file of this run; drtbayes never "
                                  "overwrites its inputs (--force neither); choose another name")
    try:
        st = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        st = None  # a parent that is a file is reported below
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot be checked ({exc.strerror})") from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            what = _kind(st.st_mode)
            hint = ("give a file name inside it" if stat.S_ISDIR(st.st_mode)
                    else "only regular files are ever replaced, --force included")
            raise OutputPathError(f"{path}: is {what}, not a regular file; {hint}")
        if not force:
            raise OutputExistsError(f"{path}: exists already; pass force=True (CLI: --force) "
                                    "to overwrite it")
    _writable_place(path.parent, path)
    return path


#: The former name of :func:`check_output` (same checks).
check_writable = check_output


def check_output_dir(path: str | os.PathLike, *,
                     inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Check that ``path`` is, or can be made, an output folder (before any work is done).

    Raises
    ------
    OutputPathError
        ``path`` exists and is not a folder, is an input file, cannot be created or written, or
        its name is not UTF-8.
    """
    path = Path(path)
    _utf8_name(path)
    for src in inputs:
        if path.exists() and _same_file(path, Path(src)):
            raise OutputPathError(f"{path}: is an input file of this run, not an output folder")
    if path.is_symlink() and not path.exists():
        raise OutputPathError(f"{path}: is a broken symbolic link; remove it or give a folder")
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{path}: exists and is not a folder; give a folder for --out "
                              "(it is created if missing)")
    _writable_place(path, path)
    return path


def check_outputs(paths: Iterable[str | os.PathLike | None], *, force: bool = False,
                  inputs: Iterable[str | os.PathLike] = ()) -> list[Path]:
    """Check several output files (None entries skipped) and that no two are the same."""
    inputs = list(inputs)
    out: list[Path] = []
    for p in paths:
        if p is None:
            continue
        p = check_output(p, force=force, inputs=inputs)
        for q in out:
            if p.absolute() == q.absolute() or (p.exists() and _same_file(p, q)):
                raise OutputPathError(f"{p}: given for two outputs; give each its own file")
        out.append(p)
    return out


def _fail(path: Path, exc: OSError) -> OutputPathError:
    if exc.errno in _DISK_FULL:
        try:
            free = shutil.disk_usage(path.parent).free
            room = f" ({free / 1e6:.1f} MB free there)"
        except OSError:
            room = ""
        return DiskFullError(f"{path}: the disk is full{room}; nothing was written (no partial "
                             "file is left); free some space or write elsewhere")
    if exc.errno in _NOT_ALLOWED:
        return OutputPathError(f"{path}: cannot write here ({exc.strerror}); write elsewhere")
    return OutputPathError(f"{path}: writing failed ({exc.strerror or exc}); nothing was written")


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
        Replace an existing regular file.

    Returns
    -------
    Path
        The target path.

    Raises
    ------
    OutputExistsError, OutputPathError
        See :func:`check_output`.
    DiskFullError
        The disk filled up (no partial file is left, an existing target is untouched).
    """
    path = check_output(path, force=force)
    tmp_path: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        # mkstemp makes the file owner-only (0600); results should get the permissions any new
        # file gets (0666 less the umask), so that colleagues on a shared filesystem can read
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            fh.flush()
            os.fsync(fh.fileno())
        # checked again: something may have appeared at the target while the file was written
        check_output(path, force=force)
        os.replace(tmp_path, path)
    except OSError as exc:
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        if isinstance(exc, OutputExistsError):
            raise
        if exc.errno is None:
            if "No space left" not in str(exc):
                raise
            exc.errno = errno.ENOSPC
        raise _fail(path, exc) from None
    except BaseException:
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"), force=force)


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview, *,
                       force: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda p: p.write_bytes(data), force=force)


def atomic_write_netcdf(path: str | os.PathLike, obj: Any, *, force: bool = False) -> Path:
    """Write an xarray Dataset or DataTree as netCDF-4 (h5netcdf) atomically.

    The file is built in memory and then written by plain file I/O: HDF5 writing straight to a
    disk that fills up fails to close its file and crashes the interpreter at exit, while a
    failed plain write is an ordinary :class:`DiskFullError`.
    """
    check_output(path, force=force)
    buf = io.BytesIO()
    with _local_scheduler():
        obj.to_netcdf(buf, engine="h5netcdf")
    return atomic_write_bytes(path, buf.getbuffer(), force=force)


@contextmanager
def _local_scheduler() -> Iterator[None]:
    # On a Dask worker xarray would guard the in-memory write with a distributed lock named
    # after the target, which a BytesIO cannot have; the data are in memory, so no scheduler
    # is involved in writing them
    try:
        import dask
    except ImportError:
        yield
        return
    with dask.config.set(scheduler="synchronous"):
        yield


def _holder(lock: Path) -> str:
    try:
        text = lock.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return "another drtbayes process"
    return f"process {text[0]} on {text[1]}" if len(text) >= 2 else "another drtbayes process"


def _pid_alive(text: list[str]) -> bool:
    if len(text) < 2 or not text[0].isdigit():
        return False
    if text[1] != socket.gethostname():
        return True  # a process on another host cannot be checked: assume it runs
    try:
        os.kill(int(text[0]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire(lock: Path, folder: Path) -> int:
    import fcntl

    for _ in range(5):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"{folder}: {_holder(lock)} is writing into this folder; wait for it to "
                "finish or give another --out") from None
        except OSError:
            # no flock on this file system (some network mounts): fall back on the pid written
            # in the file, taking over a lock whose process is gone
            try:
                text = os.read(fd, 200).decode("utf-8", "replace").split()
            except OSError:
                text = []
            if text and _pid_alive(text) and text[0] != str(os.getpid()):
                os.close(fd)
                raise OutputLockedError(f"{folder}: {_holder(lock)} is writing into this "
                                        "folder; wait for it or give another --out") from None
        # the holder before us may have removed the file between our open and our flock:
        # then we locked an orphan and must try again on the new file
        try:
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise OutputLockedError(f"{folder}: the lock {lock.name} keeps changing; another process "
                            "is using this folder")


@contextmanager
def output_lock(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold an exclusive lock on an output folder for the duration of a ``with`` block.

    The lock is a file ``.drtbayes.lock`` (holding the pid and host) locked with
    :func:`fcntl.flock`; the kernel drops the lock of a process that dies, so a stale file left
    by a killed run does not block the next run.

    Raises
    ------
    OutputLockedError
        Another live process holds the lock.
    """
    folder = check_output_dir(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(folder / LOCK_NAME, exc) from None
    lock = folder / LOCK_NAME
    fd = _acquire(lock, folder)
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        yield folder
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (recorded in every result for provenance)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
