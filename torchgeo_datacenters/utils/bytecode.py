"""Compile the environment to bytecode once, in the background, where Python does not.

Where ``PYTHONDONTWRITEBYTECODE`` is set, Python never caches what it compiles, so every
process compiles torch, Lightning and TorchGeo again at import (48 s instead of 21 s for one
small ``tgdc detect``, measured on a 2-core machine that sets it). The first ``tgdc`` command
or test session in a virtual environment therefore starts one detached ``compileall`` of its
site-packages and goes on without waiting; later processes load the cached bytecode, which
Python reads whatever the variable says. Nothing is printed. The packages installed are
recorded beside the environment (:data:`MARKER`), so the environment is compiled again after
``uv sync`` changes them, and not before.
"""

import hashlib
import os
import sys
import sysconfig
from pathlib import Path

MARKER = ".tgdc-bytecode"
"""File in the environment's prefix naming the packages last compiled (a SHA-256)."""


def installed_packages(site: Path) -> str:
    """Return a digest of the distributions installed in *site* (names and versions).

    Args:
        site: a site-packages directory.

    Returns:
        The SHA-256 hex digest of its sorted ``*.dist-info`` directory names.
    """
    names = sorted(entry.name for entry in os.scandir(site) if entry.name.endswith(".dist-info"))
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def compile_environment_once() -> None:
    """Start compiling this virtual environment to bytecode if it needs it and nobody has.

    Does nothing where Python writes bytecode itself, outside a virtual environment (a system
    Python is not ours to write to), where the environment is not writable, or without
    ``posix_spawn`` (Windows).
    """
    needed = sys.flags.dont_write_bytecode and sys.prefix != sys.base_prefix
    if not needed or not hasattr(os, "posix_spawn"):
        return
    site = Path(sysconfig.get_path("purelib"))
    marker = Path(sys.prefix) / MARKER
    try:
        packages = installed_packages(site)
        if marker.exists() and marker.read_text() == packages:
            return
        # Recorded first, so that the processes started while it compiles start no other.
        marker.write_text(packages)
    except OSError:
        return
    # Spawned in a session of its own with no terminal, so that it outlives this process
    # silently and Ctrl-C in the terminal leaves it be.
    os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "compileall", "-q", "-q", "-j", "0", str(site)],
        os.environ,
        file_actions=[(os.POSIX_SPAWN_OPEN, fd, os.devnull, os.O_RDWR, 0) for fd in (0, 1, 2)],
        setsid=True,
    )
