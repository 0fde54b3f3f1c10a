"""User-facing errors.

Every error a user can fix (a missing file, a wrong band count, a bad option) is raised
as :class:`TGDCError` with a message that names the file, the field and the fix. A fault
of the machine or of a file rather than of the program (a full disk, a read-only or
forbidden directory, a truncated scene, a dropped connection) reaches the user as the
:class:`OSError` the system or GDAL raised, which :func:`describe_os_error` turns into one
line. The ``tgdc`` command prints either as one line and exits with status 2; any other
exception is a bug and keeps its traceback.
"""

import os
import re
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

#: Lines naming an exception and its message in a traceback's text.
_EXCEPTION_LINE = re.compile(
    r"^(?:Original )?(?:[\w.]+\.)?\w*(?:Error|Exception|Exit)\w*: (.+)$", re.MULTILINE
)

#: Words of messages that only point to another exception of the chain.
_POINTER = re.compile(r"See previous exception for details|^Caught \w+ in DataLoader")


class TGDCError(Exception):
    """An error caused by the user's input, with a message that says how to fix it."""


def _messages(error: BaseException) -> list[str]:
    """Messages of an exception and of the exceptions it was raised from, deepest first.

    An exception re-raised from a DataLoader worker carries the worker's traceback as
    text; the messages are read back from it.
    """
    messages: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if "in DataLoader worker process" in text:
            messages[:0] = _EXCEPTION_LINE.findall(text)
        elif isinstance(current, OSError) and current.strerror:
            where = f"{current.filename}: " if current.filename else ""
            messages.insert(0, f"{where}{current.strerror}")
        elif text:
            messages.insert(0, " ".join(text.split()))
        current = current.__cause__ or current.__context__
    return messages


def describe_os_error(error: BaseException) -> str:
    """Describe, in one line, what the system or GDAL reported.

    Args:
        error: an :class:`OSError` (rasterio's errors are ones), possibly raised from
            other errors or re-raised from a DataLoader worker.

    Returns:
        The deepest message of the chain that says what happened, e.g. ``"/out/a.geojson:
        No space left on device"`` or ``"TIFFReadEncodedStrip:Read error at scanline 170;
        got 3154 bytes, expected 8192"``.
    """
    messages = [m for m in _messages(error) if not _POINTER.search(m)]
    if not messages:
        return type(error).__name__
    return messages[0]


def describe_error(error: BaseException) -> str:
    """One line naming what went wrong.

    Args:
        error: the error.

    Returns:
        The message of a :class:`TGDCError`; for an :class:`OSError` (rasterio's errors
        included) its type and what the system or GDAL reported (see
        :func:`describe_os_error`), not rasterio's "See
        previous exception"; else the type and first line of the message.
    """
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else ""
    if isinstance(error, TGDCError):
        return message
    if isinstance(error, OSError):
        message = describe_os_error(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def user_error(error: BaseException) -> TGDCError | None:
    """The :class:`TGDCError` *error* is, or was raised from or while handling.

    Args:
        error: any exception.

    Returns:
        The first :class:`TGDCError` of its chain, or None.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, TGDCError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _one_line_hook(previous: Callable[..., Any]) -> Callable[..., Any]:
    """An exception hook printing a user error in one line, else calling *previous*."""

    def hook(
        kind: type[BaseException], error: BaseException, traceback: TracebackType | None
    ) -> None:
        found = user_error(error)
        if found is None or os.environ.get("TGDC_DEBUG"):
            previous(kind, error, traceback)
            return
        command = " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:2]]).strip()
        print(f"{command}: error: {found}", file=sys.stderr)

    hook.previous = previous  # type: ignore[attr-defined]
    return hook


def install_excepthook() -> None:
    """Make an uncaught :class:`TGDCError` end a program with its one line, not a traceback.

    Installed when the datamodule or task is imported, so that ``torchgeo fit --config``
    with a configuration they refuse prints ``torchgeo fit: error: <message>`` on stderr
    (and exits 1, as Python does after any uncaught exception) instead of the same
    message at the end of a 35-line traceback. Other exceptions keep their traceback;
    ``TGDC_DEBUG=1`` keeps it for user errors too. Installing twice changes nothing.
    """
    if not hasattr(sys.excepthook, "previous"):
        sys.excepthook = _one_line_hook(sys.excepthook)
