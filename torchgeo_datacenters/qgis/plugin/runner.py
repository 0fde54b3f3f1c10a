"""Run ``tgdc`` as a subprocess for QGIS: find it, stream its progress, stop it on Cancel.

QGIS's Python (the system's, with ``qgis.core``) is not the project's environment (torch,
TorchGeo): the plugin never imports either, it runs the ``tgdc`` command and reads what it
prints. Standard library only (Python 3.10 or newer, as QGIS 3.22+ on Linux has), and
no QGIS import: *feedback* is any object with :class:`Feedback`'s methods, as
``QgsProcessingFeedback`` has.

What ``tgdc`` prints, and how it is read:

* stdout: ``kind: path`` lines for the files written, then a one-line summary; shown as
  information.
* stderr: progress bars (tqdm: ``desc:  45%|#####     | 9/20 [00:01<00:01, ...]``, each
  update after a carriage return) become the progress bar and its text;
  ``tgdc: warning: ...`` lines become warnings; ``tgdc CMD: error: FILE: what is wrong
  and how to fix it`` (exit status 2) is the error the algorithm raises.

Cancel terminates ``tgdc`` with SIGTERM, which it handles as Ctrl-C: its staged
temporary files are removed and no output is left; if it has not ended within
:data:`TERMINATE_GRACE_S` seconds its whole process group is killed.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

#: File beside the plugin naming the ``tgdc`` that installed it (``tgdc qgis install``).
COMMAND_FILE = "tgdc_command.json"

#: Seconds ``tgdc`` gets to clean up after SIGTERM before its process group is killed.
TERMINATE_GRACE_S = 30.0

#: Seconds between checks of the Cancel button while ``tgdc`` runs.
POLL_S = 0.1

#: A tqdm progress bar with a total: its description and percentage.
PROGRESS = re.compile(r"^(?P<desc>[^|\r\n]*?):\s+(?P<percent>\d{1,3})%\|")

#: ``tgdc``'s one-line error.
ERROR_LINE = re.compile(r"^tgdc [\w-]+: error: .+")

#: ``tgdc``'s warnings.
WARNING_LINE = re.compile(r"^tgdc: warning: (?P<text>.+)")


class Feedback(Protocol):
    """What the runner uses of ``QgsProcessingFeedback``."""

    def isCanceled(self) -> bool: ...  # noqa: D102

    def setProgress(self, progress: float) -> None: ...  # noqa: D102

    def setProgressText(self, text: str) -> None: ...  # noqa: D102

    def pushInfo(self, info: str) -> None: ...  # noqa: D102

    def pushWarning(self, warning: str) -> None: ...  # noqa: D102


class TgdcError(Exception):
    """``tgdc`` failed, could not be found, or was cancelled: the message says which."""


class Cancelled(TgdcError):
    """The user cancelled the run; ``tgdc`` was stopped and left no output."""


def find_tgdc(
    executable: str = "", project_dir: str = "", plugin_dir: Path | None = None
) -> list[str]:
    """The command that runs ``tgdc``.

    In this order: the *executable* configured in QGIS; ``uv run --project DIR tgdc``
    for a configured project folder; the command recorded by ``tgdc qgis install`` in
    :data:`COMMAND_FILE`; ``tgdc`` on ``PATH``.

    Args:
        executable: path of a ``tgdc`` executable ("" for none).
        project_dir: a torchgeo-datacenters project folder run with ``uv`` ("" for none).
        plugin_dir: the plugin's folder (default: this file's).

    Returns:
        The command's words.

    Raises:
        TgdcError: if none of these gives a ``tgdc`` that exists.
    """
    if executable:
        if not Path(executable).is_file():
            raise TgdcError(
                f"{executable}: the tgdc executable configured in Processing options"
                " (Providers > Data centers (tgdc)) does not exist"
            )
        return [executable]
    if project_dir:
        uv = shutil.which("uv")
        if uv is None:
            raise TgdcError(
                f"{project_dir}: running tgdc in this project folder needs uv on PATH"
                " (python -m pip install uv)"
            )
        return [uv, "run", "--project", project_dir, "tgdc"]
    recorded = (plugin_dir or Path(__file__).parent) / COMMAND_FILE
    if recorded.is_file():
        command = [str(word) for word in json.loads(recorded.read_text())]
        if command and Path(command[0]).is_file():
            return command
    found = shutil.which("tgdc")
    if found is not None:
        return [found]
    raise TgdcError(
        "tgdc not found: run `tgdc qgis install` from the environment that has tgdc, or set"
        " the tgdc executable or the project folder in Settings > Options > Processing >"
        " Providers > Data centers (tgdc)"
    )


def describe(command: Sequence[str]) -> dict:
    """Ask ``tgdc`` for the options of its commands (``tgdc qgis describe``).

    Args:
        command: the ``tgdc`` command (:func:`find_tgdc`).

    Returns:
        Command name to its options, as ``tgdc qgis describe`` prints them.

    Raises:
        TgdcError: if ``tgdc`` cannot be run or its answer is not JSON.
    """
    try:
        done = subprocess.run(
            [*command, "qgis", "describe"], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TgdcError(f"{command[0]}: cannot be run ({error})") from error
    if done.returncode != 0:
        raise TgdcError(error_line(done.stderr) or f"{command[0]}: exit status {done.returncode}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as error:
        raise TgdcError(f"{command[0]}: `tgdc qgis describe` printed no JSON ({error})") from error


def error_line(stderr: str) -> str | None:
    """The last one-line error ``tgdc`` printed.

    Args:
        stderr: what it wrote to stderr.

    Returns:
        The line, or None if there is none.
    """
    lines = [line for line in re.split(r"[\r\n]+", stderr) if ERROR_LINE.match(line)]
    return lines[-1] if lines else None


def _segments(stream: IO[str]) -> Any:
    """Yield the pieces of a text stream between carriage returns and newlines."""
    piece = ""
    while True:
        chunk = stream.read(1)
        if not chunk:
            break
        if chunk in "\r\n":
            if piece:
                yield piece
            piece = ""
        else:
            piece += chunk
    if piece:
        yield piece


class _Reader(threading.Thread):
    """Read one of ``tgdc``'s streams to its end, handing each piece to a function."""

    def __init__(self, stream: IO[str], handle: Callable[[str], None]) -> None:
        super().__init__(daemon=True)
        self.stream, self.handle = stream, handle

    def run(self) -> None:
        for piece in _segments(self.stream):
            self.handle(piece)


def run_tgdc(command: Sequence[str], arguments: Sequence[str], feedback: Feedback) -> list[str]:
    """Run ``tgdc`` to its end, streaming its output into *feedback*.

    Args:
        command: the ``tgdc`` command (:func:`find_tgdc`).
        arguments: the subcommand and its options.
        feedback: the algorithm's feedback (``QgsProcessingFeedback``): progress, text,
            warnings, and Cancel.

    Returns:
        The lines ``tgdc`` printed on stdout.

    Raises:
        Cancelled: if Cancel was pressed; ``tgdc`` was terminated and removed its
            temporary files.
        TgdcError: if ``tgdc`` failed: its one-line error, else its last line and exit
            status.
    """
    environment = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONIOENCODING="utf-8")
    feedback.pushInfo(" ".join([*command, *arguments]))
    try:
        process = subprocess.Popen(
            [*command, *arguments],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=environment,
            # Its own process group: Cancel reaches tgdc and every process it started.
            start_new_session=sys.platform != "win32",
        )
    except OSError as error:
        raise TgdcError(f"{command[0]}: cannot be run ({error})") from error
    stdout: list[str] = []
    errors: list[str] = []
    last: list[str] = []

    def on_stdout(line: str) -> None:
        stdout.append(line)
        feedback.pushInfo(line)

    def on_stderr(piece: str) -> None:
        progress = PROGRESS.match(piece)
        if progress is not None:
            feedback.setProgress(min(100.0, float(progress["percent"])))
            feedback.setProgressText(piece.strip())
            return
        warning = WARNING_LINE.match(piece)
        if warning is not None:
            feedback.pushWarning(warning["text"])
        elif ERROR_LINE.match(piece):
            errors.append(piece)
        else:
            feedback.pushInfo(piece)
        last[:] = [piece]

    assert process.stdout is not None and process.stderr is not None
    readers = [_Reader(process.stdout, on_stdout), _Reader(process.stderr, on_stderr)]
    for reader in readers:
        reader.start()
    cancelled = False
    while True:
        try:
            process.wait(timeout=POLL_S)
            break
        except subprocess.TimeoutExpired:
            if feedback.isCanceled() and not cancelled:
                cancelled = True
                _stop(process)
    for reader in readers:
        reader.join()
    process.stdout.close()
    process.stderr.close()
    if cancelled:
        raise Cancelled(f"tgdc {arguments[0]}: cancelled; no output was written")
    if process.returncode != 0:
        if errors:
            raise TgdcError(errors[-1])
        tail = last[0] if last else "no message"
        raise TgdcError(
            f"tgdc {arguments[0]}: failed with exit status {process.returncode}: {tail}"
        )
    feedback.setProgress(100.0)
    return stdout


def _stop(process: "subprocess.Popen[str]") -> None:
    """Terminate ``tgdc``'s process group (SIGTERM: tgdc cleans up), then kill what lingers.

    SIGTERM goes to the whole group, so that it reaches ``tgdc`` also when a ``uv run``
    started it; the group gets :data:`TERMINATE_GRACE_S` seconds to end before SIGKILL.

    Args:
        process: the running ``tgdc`` (or ``uv``), leader of its own process group.
    """
    if sys.platform == "win32":
        process.terminate()
        process.wait()
        return
    deadline = time.monotonic() + TERMINATE_GRACE_S
    _signal_group(process.pid, signal.SIGTERM)
    while time.monotonic() < deadline and _signal_group(process.pid, 0):
        process.poll()  # reaps the leader, whose zombie would keep the group alive
        time.sleep(POLL_S)
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def _signal_group(group: int, number: int) -> bool:
    """Send a signal to a process group.

    Args:
        group: the process group id.
        number: the signal (0: only check that the group has a process).

    Returns:
        Whether the group still had a process.
    """
    try:
        os.killpg(group, number)
    except (ProcessLookupError, PermissionError):
        return False
    return True
