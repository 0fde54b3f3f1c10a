"""The watcher that ends a scan's Ray processes with the scan."""

import subprocess
import time
from pathlib import Path

import pytest
from support.processes import alive, start_time

from torchgeo_datacenters.scan.reaper import WATCH_INTERVAL, reaped_processes

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="needs /proc")


def ended_within(pid: int, seconds: float) -> bool:
    """Whether the running process *pid* ends within *seconds*."""
    process = (pid, start_time(pid))
    deadline = time.monotonic() + seconds
    while alive(process) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(process)


def test_processes_started_inside_end_with_it_and_others_do_not() -> None:
    outside = subprocess.Popen(["sleep", "60"])
    with reaped_processes() as marker:
        assert marker is not None
        inside = subprocess.Popen(["sleep", "60"])
    try:
        assert ended_within(inside.pid, 10)
        assert start_time(outside.pid) is not None
    finally:
        outside.kill()
        outside.wait()
        inside.wait()


def test_an_orphan_that_dropped_the_marker_still_ends() -> None:
    # A marked shell starts a child with an empty environment (as a process that rewrites
    # its environment looks) and exits, so the child is an orphan, unmarked, outside any
    # marked process's tree by the time the scan ends.
    with reaped_processes():
        shell = subprocess.Popen(
            ["sh", "-c", f"env -i sleep 60 & echo $!; sleep {4 * WATCH_INTERVAL}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert shell.stdout is not None
        orphan = int(shell.stdout.readline())
        shell.wait()
        assert start_time(orphan) is not None
    assert ended_within(orphan, 10)
