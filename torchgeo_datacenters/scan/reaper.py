"""The processes of a Ray started by a scan end with the scan, however it ends.

Ray ties only part of a local Ray to the process that started it: its store and scheduler
get a parent-death signal, but the agents they start (``ray::DashboardAgent``,
``ray::RuntimeEnvAgent``) outlive a scan killed with SIGKILL (the OOM killer, ``kill -9``).
Every process of a Ray started inside :func:`reaped_processes` carries
:data:`MARKER_VARIABLE` in its environment; a watcher process started beside it waits for
the scan's end (the close of a pipe only the scan holds, which the kernel closes however
the scan ends) and then kills every process so marked. The same kill ends what a failed
start of Ray left behind.

This file runs as the watcher script (``python reaper.py MARKER``) with the standard
library only, so the watcher starts in milliseconds and imports nothing of the package.
It needs Linux's ``/proc``; elsewhere nothing is marked or watched.
"""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

#: Environment variable naming the scan that started a process of Ray.
MARKER_VARIABLE = "TGDC_SCAN_RAY"


def marked_processes(marker: str) -> list[int]:
    """Process ids of the live processes whose environment holds *marker*.

    Args:
        marker: the value of :data:`MARKER_VARIABLE` of one scan.

    Returns:
        Their process ids (this process's excepted).
    """
    needle = f"{MARKER_VARIABLE}={marker}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
    return found


def kill_marked(marker: str) -> list[int]:
    """Kill (SIGKILL) the processes whose environment holds *marker*.

    Args:
        marker: the value of :data:`MARKER_VARIABLE` of one scan.

    Returns:
        The process ids signalled.
    """
    killed = []
    for pid in marked_processes(marker):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


@contextlib.contextmanager
def reaped_processes() -> Iterator[str | None]:
    """Mark the processes started inside, and kill them once this process ends or leaves.

    Yields:
        The marker (None where ``/proc`` is missing: nothing is marked).
    """
    if not Path("/proc/self/environ").is_file():
        yield None
        return
    marker = f"{os.getpid()}-{secrets.token_hex(4)}"
    watcher_env = {name: value for name, value in os.environ.items() if name != MARKER_VARIABLE}
    read, write = os.pipe()
    try:
        watcher = subprocess.Popen(
            [sys.executable, "-I", __file__, marker],  # -I: no package directory on sys.path
            stdin=read,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=watcher_env,
            start_new_session=True,  # a Ctrl-C or SIGTERM to the scan's group spares it
        )
    finally:
        os.close(read)
    previous = os.environ.get(MARKER_VARIABLE)
    os.environ[MARKER_VARIABLE] = marker
    try:
        yield marker
    finally:
        if previous is None:
            del os.environ[MARKER_VARIABLE]
        else:
            os.environ[MARKER_VARIABLE] = previous
        os.close(write)  # the watcher kills what is left, then ends
        with contextlib.suppress(subprocess.TimeoutExpired):
            watcher.wait(timeout=10)


if __name__ == "__main__":
    sys.stdin.buffer.read()  # returns at end of file: the scan has ended
    kill_marked(sys.argv[1])
