"""Atomic file writes: a crash leaves the old output or none, never half a file.

Every temporary file or directory is created beside its final output and named
``.tgdc-PID-HOST-...``: the process that owns it and a tag of its machine. A run killed
before it could clean up (SIGKILL, the OOM killer, a lost machine) leaves those behind;
the next run writing to the same directory removes the ones whose process is gone
(:func:`remove_stale_temporaries`).
"""

import contextlib
import errno
import os
import re
import shutil
import socket
import tempfile
import zlib
from collections.abc import Collection, Iterator
from pathlib import Path

from ..errors import TGDCError, describe_os_error

#: Start of the name of every temporary file and directory this package writes.
TEMPORARY_PREFIX = ".tgdc-"

#: Name of a temporary file or directory: owner's process id, then its machine's tag.
TEMPORARY_NAME = re.compile(rf"^{re.escape(TEMPORARY_PREFIX)}(\d+)-([0-9a-f]{{8}})-")

#: Errors of :func:`os.link` on file systems without hard links.
NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}

#: Temporary path -> the final output it stands for, while it exists (for messages).
_STAGED: dict[Path, Path] = {}


def _host_tag() -> str:
    """Tag of this machine in temporary names: 8 hex digits of its host name's CRC-32."""
    return f"{zlib.crc32(socket.gethostname().encode()):08x}"


def temporary_prefix() -> str:
    """Start of the names of this process's temporary files and directories.

    Returns:
        ``.tgdc-PID-HOST-``.
    """
    return f"{TEMPORARY_PREFIX}{os.getpid()}-{_host_tag()}-"


def process_alive(pid: int) -> bool:
    """Whether a process of this id runs on this machine (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(directory: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files and directories that dead runs left in *directory*.

    Only entries named by :func:`temporary_prefix` on this machine, whose process no
    longer runs, are removed: those of live runs and of other machines sharing the
    directory are kept.

    Args:
        directory: an output directory.

    Returns:
        The paths removed.
    """
    removed = []
    host = _host_tag()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            match = TEMPORARY_NAME.match(entry.name)
            if match is None or match[2] != host or process_alive(int(match[1])):
                continue
            with contextlib.suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def final_path(path: str | os.PathLike[str]) -> Path:
    """The output a temporary path stands for.

    Args:
        path: a path, staged by :func:`atomic_output` or :func:`temporary_directory`
            or not.

    Returns:
        The final output's path, or *path* itself when it is not a temporary one.
    """
    path = Path(path)
    while path in _STAGED:
        path = _STAGED[path]
    return path


def write_error(path: str | os.PathLike[str], error: OSError) -> TGDCError:
    """Turn an error writing an output into one line naming the final output.

    Args:
        path: the (possibly temporary) file being written.
        error: what the operating system or GDAL raised.

    Returns:
        The error to raise: the final path, the cause, and the space left there.
    """
    final = final_path(path)
    cause = describe_os_error(error)
    for staged in sorted(_STAGED, key=lambda p: -len(str(p))):
        cause = cause.replace(str(staged), str(final_path(staged)))
    try:
        free = shutil.disk_usage(final.parent).free
    except OSError:
        return TGDCError(f"{final}: cannot be written: {cause}")
    return TGDCError(
        f"{final}: cannot be written: {cause} ({free / 2**20:.1f} MiB free on its file system)"
    )


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[None]:
    """Turn an :class:`OSError` raised while writing *path* into one line naming it.

    Args:
        path: the (possibly temporary) file the block writes.

    Raises:
        TGDCError: see :func:`write_error`.
    """
    try:
        yield
    except OSError as error:
        raise write_error(path, error) from error


def check_output_path(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    suffixes: Collection[str] = (),
    wrong_suffix: str = "",
) -> Path:
    """Check that an output file can be written.

    Args:
        path: the file to be written.
        overwrite: whether an existing file may be replaced.
        suffixes: the name's extensions its format is written under, lower case (default:
            any).
        wrong_suffix: what is wrong and how to fix it, for a name with another extension.

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        TGDCError: if the name's extension is not one of *suffixes*, the parent directory
            is missing or not writable (read-only file system, no permission), or the file
            exists and *overwrite* is false.
    """
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise TGDCError(f"{path}: {wrong_suffix}")
    if path.is_dir():
        raise TGDCError(f"{path}: is a directory; give a file name for the output")
    check_parent(path)
    if not os.access(path.parent, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(path.parent) else "permission denied"
        raise TGDCError(
            f"{path}: directory {path.parent} is not writable ({reason}); choose another"
            " output path"
        )
    if path.exists() and not overwrite:
        raise TGDCError(f"{path}: already exists; pass --overwrite to replace it")
    return path


def check_parent(path: Path) -> None:
    """Check that the directory an output is written in exists.

    Args:
        path: the output (a file or a directory).

    Raises:
        TGDCError: if the directory is missing (create it), or a file stands where it or a
            directory above it should be (no directory can be created there).
    """
    if path.parent.is_dir():
        return
    existing = _nearest_existing(path.parent)
    if not existing.is_dir():  # a file, where a directory must be
        raise TGDCError(
            f"{path}: {existing} is a file, not a directory; choose another output path"
        )
    raise TGDCError(
        f"{path}: directory {path.parent} does not exist; create it first or choose another"
        " output path"
    )


def _nearest_existing(path: Path) -> Path:
    """*path*, or the nearest path above it that exists (the root at the latest)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_dir(directory: str | os.PathLike[str]) -> Path:
    """Check that an output directory, or the nearest existing directory above it, is writable.

    Nothing is created: a run that is refused leaves no empty directory behind.

    Args:
        directory: the output directory (created later by the run if missing).

    Returns:
        The directory as a :class:`~pathlib.Path`.

    Raises:
        TGDCError: if the path is a file, or the directory (or the existing directory it
            would be created in) is not writable (read-only file system, no permission).
    """
    directory = Path(directory)
    existing = _nearest_existing(directory)
    if not existing.is_dir():
        raise TGDCError(f"{directory}: {existing} is a file; give a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        reason = "read-only file system" if _read_only(existing) else "permission denied"
        raise TGDCError(
            f"{directory}: directory {existing} is not writable ({reason}); choose another"
            " output directory"
        )
    return directory


def _read_only(directory: Path) -> bool:
    """Whether *directory* lies on a file system mounted read-only."""
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        return False


@contextlib.contextmanager
def temporary_directory(beside: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary directory beside an output, removed on exit.

    Args:
        beside: the output (possibly staged) that the directory's content becomes.

    Yields:
        The directory, named by :func:`temporary_prefix`.

    Raises:
        TGDCError: if the directory cannot be created.
    """
    beside = Path(beside)
    try:
        directory = Path(tempfile.mkdtemp(prefix=temporary_prefix(), dir=beside.parent))
    except OSError as error:
        raise write_error(beside, error) from error
    _STAGED[directory] = beside
    try:
        yield directory
    finally:
        _STAGED.pop(directory, None)
        shutil.rmtree(directory, ignore_errors=True)


def _publish(tmp: Path, final: Path, *, overwrite: bool) -> None:
    """Move a finished temporary file to its final path.

    With *overwrite*, the file replaces any existing one whole (:func:`os.replace`).
    Without it, the file is hard-linked to its final name, which fails if another run
    wrote that name meanwhile, so nothing is ever silently replaced.

    Raises:
        TGDCError: if *final* appeared since the run started and *overwrite* is false.
    """
    if overwrite:
        os.replace(tmp, final)
        return
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise TGDCError(
            f"{final}: was written by another run while this one ran; pass --overwrite to"
            " replace it"
        ) from None
    except OSError as error:
        if error.errno not in NO_HARD_LINKS:
            raise
        check_output_path(final)
        os.replace(tmp, final)
        return
    os.unlink(tmp)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, overwrite: bool = True, suffix: str | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside *path*, moved to *path* only on success.

    The temporary file lives in the same directory (so the final rename is atomic),
    is named by :func:`temporary_prefix` and keeps the extension of *path* (so drivers
    chosen by extension, such as GDAL's, still work). If the block raises, the
    temporary file is removed and *path* is left untouched. Temporary files that dead
    runs left in the directory are removed first (:func:`remove_stale_temporaries`).

    Args:
        path: the final output file.
        overwrite: whether an existing *path* may be replaced. Without it, a *path*
            written by another run meanwhile is never replaced.
        suffix: extension of the temporary file (defaults to that of *path*).

    Yields:
        The temporary path to write to.

    Raises:
        TGDCError: see :func:`check_output_path`; also when *path* cannot be written
            (no space, read-only) or another run wrote it meanwhile.
    """
    final = check_output_path(path, overwrite=overwrite)
    remove_stale_temporaries(final.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=temporary_prefix(),
            suffix=f"-{final.stem}{final.suffix if suffix is None else suffix}",
            dir=final.parent,
        )
    except OSError as error:
        raise write_error(final, error) from error
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    _STAGED[tmp] = final
    try:
        yield tmp
        _publish(tmp, final, overwrite=overwrite)
    except OSError as error:
        if tmp.name not in f"{getattr(error, 'filename', '')} {error}":
            raise
        raise write_error(tmp, error) from error
    finally:
        _STAGED.pop(tmp, None)
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
