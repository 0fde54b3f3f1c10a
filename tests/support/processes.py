"""Processes of the tests, told apart from later processes given the same id."""

from torchgeo_datacenters.scan.reaper import process_status


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
