"""A scan worker's downloads: the next scene fetched while the model predicts the current one.

A :class:`SceneFetcher` runs every download of one worker in one background thread
(:class:`concurrent.futures.ThreadPoolExecutor` with one thread), so downloads never run
two at a time and a worker holds at most two scenes on disk: the one it predicts and the
one fetched ahead (:meth:`SceneFetcher.prefetch` takes one scene at most). Each scene gets
its own directory under the worker's, removed as soon as the scene is predicted or given
up, and the worker's directory is removed when the worker closes. A worker killed outright
(SIGKILL, its node lost) cannot remove anything: the next worker started on the machine
removes the directories of workers whose process is gone (:func:`remove_stale`).
"""

import os
import shutil
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..utils.atomic import process_alive
from .scenes import ScanScene, check_temporary_directory

#: Prefix of a worker's temporary directory, followed by its process id and a dash.
PREFIX = "tgdc-worker-"


@dataclass(frozen=True)
class Fetched:
    """A scene being fetched, or fetched, into its own directory.

    Attributes:
        scene: the scene's id.
        file: the download, giving the local GeoTIFF once done (or the error that
            stopped it).
        directory: the scene's temporary directory.
    """

    scene: str
    file: "Future[Path]"
    directory: Path

    def remove(self) -> None:
        """Remove the scene's directory once its download has ended (at once if it has)."""
        self.file.cancel()
        self.file.add_done_callback(lambda _: shutil.rmtree(self.directory, ignore_errors=True))


def remove_stale(temp_dir: Path) -> list[Path]:
    """Remove the directories of workers whose process is gone (killed, or lost with a node).

    Args:
        temp_dir: the directory holding the workers' directories.

    Returns:
        The directories removed.
    """
    removed = []
    for directory in temp_dir.glob(f"{PREFIX}*-*"):
        pid = directory.name.removeprefix(PREFIX).partition("-")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not process_alive(int(pid)):
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
    return removed


class SceneFetcher:
    """Downloads a worker's scenes in one background thread, at most one ahead of the model."""

    def __init__(self, temp_dir: str | os.PathLike[str] | None = None) -> None:
        """Make the worker's temporary directory, removing those of dead workers first.

        Args:
            temp_dir: where the worker's directory goes, created if missing (default: the
                system's temporary directory, :func:`tempfile.gettempdir`).

        Raises:
            TGDCError: if that directory is not writable, saying to set ``TMPDIR``.
        """
        if temp_dir is not None:
            Path(temp_dir).mkdir(parents=True, exist_ok=True)
        parent = check_temporary_directory(Path(temp_dir) if temp_dir is not None else None)
        remove_stale(parent)
        self.root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tgdc-fetch")
        self._ahead: Fetched | None = None

    def _start(self, scene: ScanScene) -> Fetched:
        """Queue a scene's download behind those already queued."""
        directory = Path(tempfile.mkdtemp(dir=self.root))
        return Fetched(scene.id, self._executor.submit(scene.fetch, directory), directory)

    def take(self, scene: ScanScene) -> Fetched:
        """The download of the scene to predict now: the one fetched ahead, or a new one.

        A scene fetched ahead that is not *scene* (another worker took it) is removed.

        Args:
            scene: the scene.

        Returns:
            Its download; call :meth:`Fetched.remove` once done with it.
        """
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.scene == scene.id:
            return ahead
        if ahead is not None:
            ahead.remove()
        return self._start(scene)

    def prefetch(self, scene: ScanScene) -> None:
        """Start fetching the scene to predict next, behind the current download.

        Args:
            scene: the next scene; one fetched ahead before and not taken is removed.
        """
        if self._ahead is not None:
            self._ahead.remove()
        self._ahead = self._start(scene)

    def close(self) -> None:
        """Stop queued downloads and remove every file of the worker.

        A download under way when the worker closes writes on into a removed directory
        until its process ends; nothing of it stays on disk.
        """
        self._executor.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.root, ignore_errors=True)
