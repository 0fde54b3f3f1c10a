"""The watcher that ends a scan's Ray processes with the scan."""

import subprocess
import time
from pathlib import Path

import pytest

from torchgeo_datacenters.scan.reaper import WATCH_INTERVAL, reaped_processes

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").is_file(), reason="needs /proc")


def alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in "ZX"


def ended_within(pid: int, seconds: float) -> bool:
    """Whether *pid* has ended within *seconds*."""
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


def test_processes_started_inside_end_with_it_and_others_do_not() -> None:
    outside = subprocess.Popen(["sleep", "60"])
    with reaped_processes() as marker:
        assert marker is not None
        inside = subprocess.Popen(["sleep", "60"])
    try:
        assert ended_within(inside.pid, 10)
        assert alive(outside.pid)
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
        assert alive(orphan)
    assert ended_within(orphan, 10)
