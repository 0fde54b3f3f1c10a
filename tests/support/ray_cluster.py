"""A real Ray cluster of separate nodes on this machine, as the README's "A Ray cluster" starts one.

:class:`RayCluster` runs the README's commands: ``ray get-auth-token --generate`` makes the
cluster's token, then ``ray start --head`` and ``ray start --address HEAD`` start a head
and worker nodes, each with its own raylet, object store and temporary directory, one CPU
each, on ``127.0.0.1``, every one with ``RAY_AUTH_MODE=token`` and the token file
(``RAY_AUTH_TOKEN_PATH``). A driver (``tgdc scan --ray-address``) run with :attr:`env`
joins it.

``ray stop`` would stop every Ray of this machine (other test runs' too), so each node's
processes carry their own marker (:data:`~torchgeo_datacenters.scan.reaper.MARKER_VARIABLE`,
inherited by everything a node starts, also the scan's workers): :meth:`RayCluster.kill`
kills one node, processes whose parent died (Ray's agents, re-parented to 1) included, and
:meth:`RayCluster.stop` kills them all.
"""

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from torchgeo_datacenters.scan.reaper import MARKER_VARIABLE, kill_marked, marked_processes

#: Longest wait for ``ray start`` on a busy 2-core machine, in seconds.
START_SECONDS = 240.0

#: The ``ray`` command of this environment.
RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RayCluster:
    """A head and worker nodes of one CPU each, with token authentication, on loopback.

    Use it as a context manager: the head starts on entering, :meth:`add_node` adds
    worker nodes, and every node is killed on leaving.
    """

    def __init__(self) -> None:
        # Short: Ray's socket paths under the temporary directory must fit in 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="tgdc-ray-", dir="/tmp"))
        self.tag = secrets.token_hex(4)
        self.port = free_port()
        self.token = self.root / ".ray" / "auth_token"
        #: Environment of the nodes and of a driver that joins the cluster.
        self.env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token),
            # The nodes run this very environment (not one built by Ray's uv integration).
            "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
        }
        self.env.pop(MARKER_VARIABLE, None)
        self.nodes: list[str] = []

    @property
    def address(self) -> str:
        """The head's address, for ``ray start --address`` and ``--ray-address``."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "RayCluster":
        """Make the token and start the head."""
        # The token is written to ~/.ray/auth_token: a home of the cluster's own.
        env = {**self.env, "HOME": str(self.root)}
        del env["RAY_AUTH_TOKEN_PATH"]  # not there yet
        subprocess.run(
            [RAY, "get-auth-token", "--generate"], env=env, check=True, capture_output=True
        )
        head = ["--head", "--port", str(self.port), "--ray-client-server-port", str(free_port())]
        self._start("head", [*head, "--include-dashboard", "false", "--dashboard-port", "0"])
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Kill every node."""
        self.stop()

    def add_node(self, name: str) -> None:
        """Start a worker node that joins the head.

        Args:
            name: its name (and its temporary directory's).
        """
        self._start(name, ["--address", self.address])

    def _start(self, name: str, options: list[str]) -> None:
        """Run ``ray start`` for one node, marked as *name*."""
        directory = self.root / name
        directory.mkdir()
        command = [RAY, "start", *options, "--num-cpus", "1", "--node-ip-address", "127.0.0.1"]
        command += ["--temp-dir", str(directory), "--disable-usage-stats"]
        self.nodes.append(name)
        run = subprocess.run(
            command,
            env={**self.env, MARKER_VARIABLE: self.marker(name)},
            capture_output=True,
            text=True,
            timeout=START_SECONDS,
        )
        if run.returncode != 0:
            raise RuntimeError(f"ray start for {name} failed:\n{run.stdout}\n{run.stderr}")

    def marker(self, name: str) -> str:
        """The marker of the processes of node *name*."""
        return f"{self.tag}-{name}"

    def node_id(self, name: str) -> str:
        """The Ray node id of node *name*, from its raylet's log."""
        [log] = (self.root / name).glob("session_latest/logs/raylet.out")
        for line in log.read_text().splitlines():
            if "node_id=" in line:
                return line.split("node_id=", 1)[1].split()[0].strip(",")
        raise RuntimeError(f"{log}: names no node id")

    def processes(self, name: str | None = None) -> dict[int, str]:
        """The live processes of node *name* (None: of every node)."""
        found: dict[int, str] = {}
        for node in [name] if name else self.nodes:
            found |= marked_processes(self.marker(node))
        return found

    def kill(self, name: str) -> None:
        """Kill every process of node *name* (SIGKILL), until none is left."""
        deadline = time.monotonic() + 30
        while kill_marked(self.marker(name)) and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        """Kill every node."""
        for name in self.nodes:
            self.kill(name)
