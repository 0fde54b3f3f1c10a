"""Processes of the tests, told apart from later processes given the same id."""

from pathlib import Path


def start_time(pid: int) -> str | None:
    """When the process *pid* started (clock ticks after boot); None if it has ended.

    A zombie has ended. The time tells a process from a later process or thread given the
    same id: ids wrap quickly where ``pid_max`` is 32768 and Ray starts hundreds of threads.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19] if fields[0] not in "ZX" else None


def alive(process: tuple[int, str | None]) -> bool:
    """Whether *process*, a process id and its :func:`start_time`, still runs."""
    pid, started = process
    return started is not None and start_time(pid) == started
