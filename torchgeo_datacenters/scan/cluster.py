"""Ray for a scan: imported where installed, started here or reached on a cluster.

By default Ray is started in this process on this machine (``ray.init(num_cpus=workers)``);
with an address the scan connects to a running Ray cluster instead, with no other change.
If Ray is already initialised (a notebook, a test), the scan uses it and leaves it running.

A cluster is checked before Ray is asked to join it, because Ray itself waits forever for a
head that does not answer and answers a missing token with a traceback: a ``HOST:PORT``
(or ``ray://HOST:PORT``) address must accept a TCP connection within
:data:`REACH_SECONDS`, and a cluster that refuses the token (Ray's token authentication,
``RAY_AUTH_MODE=token``, see https://docs.ray.io/en/latest/ray-security/token-auth.html)
gets one line saying where the token goes.
"""

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from ..errors import TGDCError, describe_error
from .reaper import kill_marked, reaped_processes

#: How to install Ray where it is missing.
RAY_HINT = (
    "tgdc scan runs scenes on Ray, which is not installed: run `uv sync --extra scale` (or"
    " `pip install 'torchgeo-datacenters[scale]'`)"
)

#: Tries at starting Ray on this machine before giving up.
LOCAL_START_ATTEMPTS = 3

#: Shared-memory object store of a Ray started by the scan, in bytes: only the checkpoint
#: and the detections pass through it (workers read their scenes themselves).
OBJECT_STORE_BYTES = 256 * 2**20

#: Longest wait for the head of a cluster to accept a connection, in seconds.
REACH_SECONDS = 10.0

#: How to give the driver the token of a cluster with token authentication.
TOKEN_HINT = (
    "set RAY_AUTH_MODE=token and give this machine the head's token: copy its"
    " ~/.ray/auth_token here, or set RAY_AUTH_TOKEN_PATH to a copy"
)

#: Words of Ray's errors that say the cluster refused (or was not sent) a token.
_TOKEN_ERRORS = ("InvalidAuthToken", "AuthenticationError", "ray-security/token-auth")


def import_ray(*, local: bool = True) -> ModuleType:
    """Import Ray, or say how to install it.

    For a Ray started on this machine, Ray's ``uv run`` integration (which would package
    the working directory and start every worker through ``uv``) is turned off unless the
    environment sets ``RAY_ENABLE_UV_RUN_RUNTIME_ENV``: local workers run this very
    interpreter. It stays on for clusters, where it ships the project to the nodes.

    Args:
        local: whether Ray will be started on this machine.

    Returns:
        The ``ray`` module.

    Raises:
        TGDCError: if Ray is not installed.
    """
    if local:
        os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError as error:
        raise TGDCError(RAY_HINT) from error
    return ray


#: The logger of Ray's token set-up, which warns that a local Ray asks for a token.
RAY_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"


@contextlib.contextmanager
def ray_session(ray: ModuleType, address: str | None, workers: int | None) -> Iterator[None]:
    """Use the running Ray, connect to a cluster, or start Ray on this machine.

    Args:
        ray: the ``ray`` module.
        address: address of a Ray cluster (None: start one here).
        workers: CPUs of a Ray started here (None: all).

    Yields:
        Nothing; Ray is initialised inside. A Ray started or connected here is shut down
        on leaving; the processes of a Ray started here end with this process, also when
        it is killed (:mod:`.reaper`).

    Raises:
        TGDCError: if Ray cannot start or the cluster cannot be reached.
    """
    if ray.is_initialized():
        yield
        return
    if address is not None:
        check_reachable(address)
        # Ray's core logs every failed try at reaching the cluster on stderr; a failure
        # is reported once, as one line.
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    else:
        # A Ray started here asks for a token of this user's (~/.ray/auth_token, made if
        # missing), as Ray does by default, without its warning that it does.
        logging.getLogger(RAY_TOKEN_LOGGER).setLevel(logging.ERROR)
    # Ray started here ends with the scan, also when the scan is killed (see .reaper).
    reaper = reaped_processes() if address is None else contextlib.nullcontext(None)
    with reaper as marker, _started(ray, address, workers, marker=marker):
        yield


@contextlib.contextmanager
def _started(
    ray: ModuleType, address: str | None, workers: int | None, *, marker: str | None
) -> Iterator[None]:
    """Start or reach Ray (see :func:`ray_session`), and shut it down on leaving.

    Args:
        ray: the ``ray`` module.
        address: address of a Ray cluster (None: start one here).
        workers: CPUs of a Ray started here (None: all).
        marker: the marker of the processes a local start makes (see .reaper), whose
            leftovers a failed start kills.

    Yields:
        Nothing; Ray is initialised inside.

    Raises:
        TGDCError: if Ray cannot start or the cluster cannot be reached.
    """
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:
        options |= {
            "num_cpus": workers,
            "include_dashboard": False,
            "object_store_memory": OBJECT_STORE_BYTES,
        }
    # A local Ray's processes must start within fixed timeouts, which a busy machine can
    # miss: a local start is tried again before giving up.
    attempts = 1 if address else LOCAL_START_ATTEMPTS
    # Ray's core puts a crash handler on SIGTERM that dumps a stack and aborts (exit 134):
    # the caller's handler (tgdc's stops and cleans up as Ctrl-C does) is put back.
    on_sigterm = signal.getsignal(signal.SIGTERM)
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=address, **options)
            if on_sigterm is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, on_sigterm)
            break
        except Exception as error:  # Ray raises plain Exception when its processes fail
            ray.shutdown()
            if marker is not None:
                kill_marked(marker)  # what the failed start left running
            if attempt < attempts:
                continue
            if address and _refused_token(error):
                raise TGDCError(
                    f"--ray-address {address}: the Ray cluster asks for its token; {TOKEN_HINT}"
                ) from error
            fix = (
                f"could not connect to the Ray cluster at {address}; check --ray-address"
                if address
                else "could not start Ray on this machine; its logs are in"
                " /tmp/ray/session_latest/logs"
            )
            raise TGDCError(f"{fix} ({describe_error(error)})") from error
    try:
        yield
    finally:
        ray.shutdown()


def _refused_token(error: BaseException) -> bool:
    """Whether *error*, or an error it was raised from, says the cluster wants its token."""
    seen: BaseException | None = error
    while seen is not None:
        if any(words in str(seen) for words in _TOKEN_ERRORS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def check_reachable(address: str) -> None:
    """Check that the head of a cluster accepts connections.

    Args:
        address: ``HOST:PORT``, ``ray://HOST:PORT`` or a name Ray resolves itself
            (``auto``, ``local``), which is not checked.

    Raises:
        TGDCError: if nothing accepts a TCP connection at ``HOST:PORT`` within
            :data:`REACH_SECONDS`.
    """
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=REACH_SECONDS).close()
    except OSError as error:
        raise TGDCError(
            f"--ray-address {address}: no Ray head answers there"
            f" ({describe_error(error)}); start one with `ray start --head --port {port}`"
            " on that machine, or give the address `ray start --head` printed"
        ) from error
