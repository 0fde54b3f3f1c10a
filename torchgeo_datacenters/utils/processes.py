"""Worker processes that never outlive the run that started them.

A reading worker blocked writing a batch to its pipe does not notice that the main
process died (killed by the OOM killer, say): it would hold its memory for as long as the
pipe stays open. :func:`end_with_parent` asks Linux to kill the worker as soon as its
parent ends (``prctl(PR_SET_PDEATHSIG, SIGKILL)``).
"""

import ctypes
import ctypes.util
import os
import signal
import sys

#: ``prctl`` option that sets the signal a process receives when its parent ends.
PR_SET_PDEATHSIG = 1


def end_with_parent(parent: int, *_worker_id: int) -> bool:
    """Make the calling process die with its parent (call it first thing in a worker).

    Use it as a DataLoader's ``worker_init_fn`` with
    ``functools.partial(end_with_parent, os.getpid())``.

    Args:
        parent: process id of the parent, read in the parent before the worker starts
            (a parent that died before this call is noticed too).

    Returns:
        Whether the parent-death signal is set (False off Linux).
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return True
