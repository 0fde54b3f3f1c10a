"""Atomic file writes: a crash leaves the old output or none, never half a file."""

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import TGDCError


def check_output_path(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that an output file can be written.

    Args:
        path: the file to be written.
        overwrite: whether an existing file may be replaced.

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        TGDCError: if the parent directory is missing, or the file exists and
            *overwrite* is false.
    """
    path = Path(path)
    if path.is_dir():
        raise TGDCError(f"{path}: is a directory; give a file name for the output")
    if not path.parent.is_dir():
        raise TGDCError(
            f"{path}: directory {path.parent} does not exist; create it first or choose another"
            " output path"
        )
    if path.exists() and not overwrite:
        raise TGDCError(f"{path}: already exists; pass --overwrite to replace it")
    return path


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, overwrite: bool = True, suffix: str | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside *path*, renamed to *path* only on success.

    The temporary file lives in the same directory (so the final :func:`os.replace`
    is atomic) and keeps the extension of *path* (so drivers chosen by extension,
    such as GDAL's, still work). If the block raises, the temporary file is removed
    and *path* is left untouched.

    Args:
        path: the final output file.
        overwrite: whether an existing *path* may be replaced.
        suffix: extension of the temporary file (defaults to that of *path*).

    Yields:
        The temporary path to write to.

    Raises:
        TGDCError: see :func:`check_output_path`.
    """
    final = check_output_path(path, overwrite=overwrite)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{final.name}.",
        suffix=final.suffix if suffix is None else suffix,
        dir=final.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
