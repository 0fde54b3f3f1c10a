"""The processes of a Ray started by a scan end with the scan, however it ends.

Ray ties only part of a local Ray to the process that started it: its store and scheduler
get a parent-death signal, but the agents they start (``ray::DashboardAgent``,
``ray::RuntimeEnvAgent``) outlive a scan killed with SIGKILL (the OOM killer, ``kill -9``).
Every process of a Ray started inside :func:`reaped_processes` carries
:data:`MARKER_VARIABLE` in its environment. A watcher process started beside it notes,
every :data:`WATCH_INTERVAL` seconds, the processes so marked and their descendants (a
process may rewrite its environment's memory, as ``setproctitle`` does, and orphans lose
their place in the tree once their parent dies). When the scan ends (the close of a pipe
only the scan holds, which the kernel closes however the scan ends), it kills every
process it noted that still runs, and every process still marked, until none is left.
The same kill ends what a failed start of Ray left behind.

This file runs as the watcher script (``python reaper.py MARKER``) with the standard
library only, so the watcher starts in milliseconds and imports nothing of the package.
It needs Linux's ``/proc``; elsewhere nothing is marked or watched.
"""

import contextlib
import os
import secrets
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

#: Environment variable naming the scan that started a process of Ray.
MARKER_VARIABLE = "TGDC_SCAN_RAY"

#: Seconds between two looks of the watcher at the processes of the scan's Ray.
WATCH_INTERVAL = 0.5

#: Longest the watcher goes on killing after the scan's end, in seconds (Ray may be
#: starting a worker while it is being killed).
KILL_PATIENCE = 10.0


def process_status(pid: int) -> tuple[int, str] | None:
    """The parent and start time (clock ticks since boot) of *pid*, None if it has ended.

    A zombie has ended. The start time tells a process from a later process or thread given
    the same id (ids wrap quickly where ``pid_max`` is 32768).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # Fields after the command name: state, parent, ... start time is the 20th (stat's 22nd).
    return (int(fields[1]), fields[19]) if fields[0] not in "ZX" else None


def _carries(pid: int, needle: bytes) -> bool:
    """Whether the environment of *pid* holds *needle*."""
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def marked_processes(marker: str) -> dict[int, str]:
    """The live processes whose environment holds *marker*, and their descendants.

    Args:
        marker: the value of :data:`MARKER_VARIABLE` of one scan.

    Returns:
        Their process ids (this process's excepted), each with its start time (so that a
        process id taken again by a later process is not mistaken for it).
    """
    needle = f"{MARKER_VARIABLE}={marker}\0".encode()
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    live = {pid: process for pid in pids if pid != os.getpid() and (process := process_status(pid))}
    found = {pid: started for pid, (_, started) in live.items() if _carries(pid, needle)}
    grown = True
    while grown:  # add the children of what was found, until nothing is added
        children = {
            pid: started
            for pid, (parent, started) in live.items()
            if parent in found and pid not in found
        }
        found |= children
        grown = bool(children)
    return found


def kill_marked(marker: str, noted: dict[int, str] | None = None) -> list[int]:
    """Kill (SIGKILL) the processes of :func:`marked_processes` and those *noted* before.

    Args:
        marker: the value of :data:`MARKER_VARIABLE` of one scan.
        noted: processes noted earlier (id: start time); one that has ended, or whose id
            another process has taken since, is left alone.

    Returns:
        The process ids signalled.
    """
    targets = marked_processes(marker)
    for pid, started in (noted or {}).items():
        if (process := process_status(pid)) is not None and process[1] == started:
            targets[pid] = started
    killed = []
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def watch(marker: str) -> None:
    """Note the scan's Ray processes until standard input closes, then kill them all.

    Args:
        marker: the value of :data:`MARKER_VARIABLE` of one scan.
    """
    noted: dict[int, str] = {}
    while not select.select([sys.stdin], [], [], WATCH_INTERVAL)[0]:
        noted |= marked_processes(marker)
    # Standard input is readable only at its end: the scan has ended.
    deadline = time.monotonic() + KILL_PATIENCE
    while kill_marked(marker, noted) and time.monotonic() < deadline:
        time.sleep(0.05)


@contextlib.contextmanager
def reaped_processes() -> Iterator[str | None]:
    """Mark the processes started inside, and kill them once this process ends or leaves.

    Yields:
        The marker, ``PID-TOKEN`` (this process's id, then a random token), or None where
        ``/proc`` is missing: nothing is marked.
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
    watch(sys.argv[1])
