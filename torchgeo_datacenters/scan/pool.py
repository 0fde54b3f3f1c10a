"""The worker pool of a scan: Ray actors, each predicting one scene at a time.

Every actor (:class:`SceneActor`) runs a :class:`~.worker.SceneWorker` and asks Ray for one
CPU and, where GPUs are present, ``gpus_per_worker`` GPUs. An actor whose process dies is
restarted by Ray (``max_restarts=-1``) and the attempt it was running ends with the error,
for the scan to retry or record; Ray does not retry the attempt itself
(``max_task_retries=0``), so every attempt is counted once.

Each actor is given, with the scene it predicts, the next scene it will predict, which it
downloads meanwhile (:mod:`.fetch`); that scene is kept for it, unless another actor runs
out of scenes first and takes it. On leaving, the actors are asked to remove their
downloads (for :data:`CLOSE_SECONDS` at most) before they are killed.

A scene goes only to an actor that has answered :meth:`SceneActor.ready` since it last
started, which loads the model: an actor whose node died may wait for a free CPU elsewhere
for as long as the scan lasts, and a scene handed to it would wait with it while other
actors sit idle.

The pool hands out scenes itself rather than through :class:`ray.util.ActorPool`:
``ActorPool`` returns a result without the scene it was computed from, and raises a dead
worker's error likewise, so the scene that worker held could be neither retried nor
recorded; it also drops a dead actor for good, where Ray restarts it.
"""

import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import TGDCError, describe_error
from ..options import PredictorOptions
from .scenes import ScanScene
from .worker import SceneOutcome, SceneWorker

#: Seconds the actors are given to remove their downloads when the pool closes.
CLOSE_SECONDS = 10.0


def pool_size(
    ray: ModuleType, workers: int | None, gpus_per_worker: float | None, scenes: int
) -> tuple[int, float]:
    """Choose the number of workers and the GPUs of each from the cluster's resources.

    Args:
        ray: the ``ray`` module, initialised.
        workers: workers asked for (None: one per GPU where there are GPUs, else one per
            CPU).
        gpus_per_worker: GPUs per worker asked for (None: 1 where there are GPUs, else 0).
        scenes: scenes to scan (no more workers are started).

    Returns:
        Workers and GPUs per worker.

    Raises:
        TGDCError: if more GPUs per worker are asked for than the cluster has.
    """
    resources = ray.cluster_resources()
    gpus = float(resources.get("GPU", 0))
    if gpus_per_worker is None:
        gpus_per_worker = 1.0 if gpus >= 1 else 0.0
    if gpus_per_worker > gpus:
        raise TGDCError(
            f"--gpus-per-worker {gpus_per_worker:g}: the Ray cluster has {gpus:g} GPU(s); ask"
            " for fewer (0 runs on CPUs)"
        )
    if workers is None:
        workers = int(gpus // gpus_per_worker) if gpus_per_worker else int(resources["CPU"])
    return max(1, min(workers, scenes)), gpus_per_worker


class SceneActor:
    """A scan's Ray actor: a :class:`~.worker.SceneWorker` that :meth:`ready` builds.

    The checkpoint comes with :meth:`ready`, not with the constructor: Ray warns on every
    actor built from arguments in its object store that a restart may find them freed
    (ray-project/ray#53727), and the pool asks a restarted actor to be ready again anyway.
    """

    def __init__(
        self,
        name: str,
        options: PredictorOptions,
        device: str,
        temp_dir: str | os.PathLike[str] | None,
    ) -> None:
        """Keep what the worker is built with.

        Args:
            name: the checkpoint's file name.
            options: the scan's options (see :class:`~.worker.SceneWorker`).
            device: ``cpu`` or ``cuda``.
            temp_dir: where the worker downloads scenes.
        """
        self.settings = (name, options, device, temp_dir)
        self.worker: SceneWorker | None = None

    def ready(self, checkpoint: bytes) -> str | None:
        """Load the model, once: the pool hands scenes only to ready actors.

        Args:
            checkpoint: the checkpoint file's bytes.

        Returns:
            The actor's Ray node id.
        """
        if self.worker is None:
            self.worker = SceneWorker(checkpoint, *self.settings)
        return self.worker.ready()

    def scan(self, scene: ScanScene, following: ScanScene | None = None) -> SceneOutcome:
        """Predict one scene (see :meth:`~.worker.SceneWorker.scan`); call :meth:`ready` first."""
        if self.worker is None:
            raise TGDCError("the scan's actor was given a scene before its model")
        return self.worker.scan(scene, following)

    def close(self) -> None:
        """Remove the worker's files (see :meth:`~.worker.SceneWorker.close`)."""
        if self.worker is not None:
            self.worker.close()


class WorkerPool:
    """Ray actors running :class:`~.worker.SceneWorker`, each fed one scene at a time.

    Use it as a context manager: the actors start on entering and are killed on leaving,
    also when the scan is interrupted. Scenes given to :meth:`submit` are handed to idle
    actors in order; :meth:`outcomes` yields each attempt as it ends.
    """

    def __init__(
        self,
        ray: ModuleType,
        checkpoint: Path,
        options: PredictorOptions,
        workers: int | None,
        gpus_per_worker: float | None,
        scenes: int,
        temp_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        """Size the pool from the cluster's resources.

        Args:
            ray: the ``ray`` module, initialised.
            checkpoint: the model checkpoint, sent to every actor.
            options: the scan's options, with the threshold resolved (see
                :class:`~.worker.SceneWorker`).
            workers: actors asked for (None: see :func:`pool_size`).
            gpus_per_worker: GPUs per actor asked for (None: see :func:`pool_size`).
            scenes: scenes to scan.
            temp_dir: where the actors download scenes (default: the system's temporary
                directory of each node).

        Raises:
            TGDCError: if more GPUs per worker are asked for than the cluster has.
        """
        self.ray = ray
        self.temp_dir = None if temp_dir is None else os.fspath(temp_dir)
        self.checkpoint = checkpoint
        self.options = options
        self.size, self.gpus = pool_size(ray, workers, gpus_per_worker, scenes)
        self.actors: list[Any] = []
        self._queue: deque[ScanScene] = deque()
        self._running: dict[Any, tuple[Any, ScanScene]] = {}
        self._starting: dict[Any, Any] = {}
        #: The scene each actor fetches ahead, to run when it is next idle.
        self._ahead: dict[Any, ScanScene] = {}

    def __enter__(self) -> "WorkerPool":
        """Start the actors (each loads the model once)."""
        # Held while the pool lives: a restarted actor loads it again.
        self._model = self.ray.put(self.checkpoint.read_bytes())
        actor = self.ray.remote(SceneActor).options(
            num_cpus=1,
            num_gpus=self.gpus,
            max_restarts=-1,
            max_task_retries=0,
            # A second thread, for close() to run while a scene is predicted: the pool
            # never gives an actor two scenes at once.
            max_concurrency=2,
        )
        device = "cuda" if self.gpus > 0 else "cpu"
        self.actors = [
            actor.remote(self.checkpoint.name, self.options, device, self.temp_dir)
            for _ in range(self.size)
        ]
        self._starting = {actor.ready.remote(self._model): actor for actor in self.actors}
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Have the actors remove their downloads, then kill them."""
        closing = [actor.close.remote() for actor in self.actors]
        self.ray.wait(closing, num_returns=len(closing), timeout=CLOSE_SECONDS)
        for actor in self.actors:
            self.ray.kill(actor)

    def submit(self, scene: ScanScene) -> None:
        """Queue a scene for the next idle actor.

        Args:
            scene: the scene.
        """
        self._queue.append(scene)

    def outcomes(self) -> Iterator[tuple[ScanScene, SceneOutcome]]:
        """Run the queued scenes, and those submitted meanwhile, to the end.

        Yields:
            Each scene with the outcome of its attempt, as attempts end; an attempt whose
            worker died (or could not run it) ends with ``worker failed: ...``.

        Raises:
            TGDCError: if scenes are left and every actor has failed to start for good.
        """
        idle: list[Any] = []
        while self._queue or self._running or self._ahead:
            self._dispatch(idle)
            if not self._running and not self._starting:
                raise TGDCError("no Ray worker could start; see the Ray logs of the cluster")
            [ready], _ = self.ray.wait([*self._running, *self._starting], num_returns=1)
            if ready in self._starting:
                actor = self._starting.pop(ready)
                try:
                    self.ray.get(ready)
                except self.ray.exceptions.RayError:
                    continue  # dead for good: Ray gave up restarting it
                idle.append(actor)
                continue
            actor, scene = self._running.pop(ready)
            try:
                outcome = self.ray.get(ready)
            except self.ray.exceptions.RayError as error:
                outcome = SceneOutcome(
                    scene.id, None, 0.0, 0.0, f"worker failed: {describe_error(error)}"
                )
                # Its next scene goes to the others; Ray restarts a dead actor, and it
                # takes scenes again once it answers.
                if actor in self._ahead:
                    self._queue.appendleft(self._ahead.pop(actor))
                self._starting[actor.ready.remote(self._model)] = actor
            else:
                idle.append(actor)
            yield scene, outcome

    def _dispatch(self, idle: list[Any]) -> None:
        """Start a scene on every idle actor that can have one, with the scene after it.

        An actor runs the scene it fetched ahead, else the first queued one, else the
        scene another actor fetches ahead (rather than wait idle at the end of a scan).

        Args:
            idle: the idle actors; those given a scene are taken out.
        """
        for actor in list(idle):
            scene = self._ahead.pop(actor, None)
            if scene is None and self._queue:
                scene = self._queue.popleft()
            elif scene is None and self._ahead:
                scene = self._ahead.popitem()[1]
            if scene is None:
                continue
            following = self._queue.popleft() if self._queue else None
            if following is not None:
                self._ahead[actor] = following
            idle.remove(actor)
            self._running[actor.scan.remote(scene, following)] = (actor, scene)
