"""Processes of the tests, told apart from later ones given the same id, and waiting for them."""

import time
from collections.abc import Callable

import pytest

from torchgeo_datacenters.scan.reaper import process_status

#: Longest wait for a process to reach a state, in seconds (a loaded 2-core machine).
PATIENCE = 300.0


def start_time(pid: int) -> str | None:
    """When the process *pid* started (clock ticks after boot); None if it has ended.

    See :func:`~torchgeo_datacenters.scan.reaper.process_status`: ids wrap quickly where
    ``pid_max`` is 32768 and Ray starts hundreds of threads.
    """
    status = process_status(pid)
    return None if status is None else status[1]


def alive(process: tuple[int, str | None]) -> bool:
    """Whether *process*, a process id and its :func:`start_time`, still runs."""
    pid, started = process
    return started is not None and start_time(pid) == started


def wait_for(
    condition: Callable[[], object],
    what: str,
    timeout: float = PATIENCE,
    explain: Callable[[], str] | None = None,
) -> object:
    """Poll *condition* until it is true; fail after *timeout* seconds.

    Args:
        explain: what the failure message adds, read when the wait fails.

    Returns:
        The condition's true value.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"waited {timeout:.0f} s for {what}" + (f":\n{explain()}" if explain else ""))
