"""Scan many scenes on Ray: actors keep the model loaded, finished scenes are never redone.

:func:`scan` runs the predictor over every scene on a pool of Ray actors
(:class:`SceneWorker`), each holding one model for its whole life and asking Ray for one
CPU and, where GPUs are present, ``gpus_per_worker`` GPUs. By default Ray is started in
this process on this machine (``ray.init(num_cpus=workers)``); with ``ray_address`` it
connects to a running Ray cluster instead, with no other change. If Ray is already
initialised (a notebook, a test), the scan uses it and leaves it running.

Every scene that ends is recorded in the output directory's
:class:`~torchgeo_datacenters.scan.manifest.Manifest` at once, so a crash or a killed
worker loses at most the scenes in flight and a rerun skips the finished ones. A scene
whose attempt fails (an unreadable file, a dropped download, a worker that died) is tried
again up to ``retries`` times, then recorded as failed with its error while the scan goes
on. At the end the detections of all finished scenes are merged across scene boundaries
(:func:`~torchgeo_datacenters.detections.merge_detections`) and written atomically, one
file per format of :func:`~torchgeo_datacenters.outputs.scan_files` (GeoJSON, CSV and
GeoParquet: ``detections.geojson``, ...).
"""

import contextlib
import logging
import os
import tempfile
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import geopandas as gpd
import rasterio
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from ..detections import merge_detections, order_detections, prune_small
from ..errors import TGDCError
from ..inference import Predictor
from ..options import scan_option_names
from ..outputs import Outputs, scan_files, write_vectors
from ..outputs.provenance import attach_provenance
from .manifest import Manifest, SceneRecord, file_sha256
from .scenes import Scene

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


@dataclass(frozen=True)
class SceneOutcome:
    """What one attempt at a scene gave.

    Attributes:
        scene: the scene's id.
        detections: its detections (None when the attempt failed).
        scanned_km2: area of valid pixels scanned, in km².
        seconds: duration of the attempt, in seconds.
        error: why the attempt failed (None when it succeeded).
    """

    scene: str
    detections: gpd.GeoDataFrame | None
    scanned_km2: float
    seconds: float
    error: str | None = None


def describe_error(error: BaseException) -> str:
    """One line naming what went wrong.

    Args:
        error: the error.

    Returns:
        The message of a :class:`TGDCError`, else the type and first line of the message.
    """
    lines = str(error).strip().splitlines()
    message = lines[0] if lines else ""
    if isinstance(error, TGDCError):
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class SceneWorker:
    """Predicts scenes one after another with one model kept loaded: a scan's Ray actor."""

    def __init__(
        self, checkpoint: bytes, name: str, options: Mapping[str, Any], device: str
    ) -> None:
        """Load the model.

        Args:
            checkpoint: the checkpoint file's bytes (workers may run on other machines).
            name: the checkpoint's file name.
            options: predictor options (see
                :func:`~torchgeo_datacenters.options.scan_option_names`), with
                ``min_area`` and ``merge_distance`` resolved.
            device: ``cpu`` or ``cuda``.
        """
        self._directory = tempfile.TemporaryDirectory(prefix="tgdc-model-")
        path = Path(self._directory.name) / name
        path.write_bytes(checkpoint)
        self.min_area = float(options["min_area"])
        self.merge_distance = float(options["merge_distance"])
        self.predictor = Predictor(
            path, device=device, progress=False, num_workers=0, **{**options, "min_area": 0.0}
        )

    def scan(self, scene: Scene) -> SceneOutcome:
        """Predict one scene.

        Detections of every size are kept near the scene's edge, where they may continue in
        a neighbouring scene; elsewhere those smaller than ``min_area`` are dropped.

        Args:
            scene: the scene.

        Returns:
            Its detections and counts, or the error that stopped it.
        """
        start = time.perf_counter()
        try:
            with scene.open() as path, warnings.catch_warnings():
                # A scene with no valid pixel is a result (0 km², no detection), not a warning.
                warnings.simplefilter("ignore", UserWarning)
                result = self.predictor.predict(path, acquired=scene.acquired())
                with rasterio.open(path) as src:
                    bounds, crs, pixel = tuple(src.bounds), src.crs, max(src.res)
            detections = prune_small(
                result.gdf,
                bounds,
                crs,
                min_area=self.min_area,
                distance=self.merge_distance + pixel,
            )
        except Exception as error:
            return SceneOutcome(
                scene.id, None, 0.0, time.perf_counter() - start, describe_error(error)
            )
        return SceneOutcome(scene.id, detections, result.scanned_km2, time.perf_counter() - start)


@dataclass
class ScanResult:
    """What a scan found and did."""

    #: Merged detections of every finished scene, as written.
    detections: gpd.GeoDataFrame
    #: The files written, by kind (geojson, parquet, csv).
    outputs: dict[str, Path]
    #: Number of scenes in the scan.
    scenes: int
    #: Scenes finished by this run.
    scanned: int = 0
    #: Scenes finished by an earlier run, skipped.
    skipped: int = 0
    #: Records of the scenes that failed in this run.
    failed: list[SceneRecord] = field(default_factory=list)
    #: Area of valid pixels scanned by this run, in km².
    scanned_km2: float = 0.0
    #: Area of valid pixels of every finished scene, in km².
    total_km2: float = 0.0
    #: Time from the first scene sent to the workers to the last one recorded, in seconds.
    scan_seconds: float = 0.0
    #: Wall-clock duration of the whole run (model check, Ray start, merging), in seconds.
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """km² scanned per second of scanning in this run."""
        return self.scanned_km2 / self.scan_seconds if self.scan_seconds > 0 else 0.0

    def summary(self) -> str:
        """One line describing the scan.

        Returns:
            Detections, scenes finished, skipped and failed, km² and km²/s.
        """
        text = (
            f"{len(self.detections)} detection(s) in {self.scanned + self.skipped}/{self.scenes}"
            f" scene(s) ({self.total_km2:.2f} km²): {self.scanned} scanned now"
            f" ({self.scanned_km2:.2f} km² in {self.scan_seconds:.1f} s, {self.rate:.3f}"
            f" km²/s; {self.seconds:.1f} s in all), {self.skipped} done before,"
            f" {len(self.failed)} failed"
        )
        if self.failed:
            text += f" ({', '.join(record.scene for record in self.failed)}; rerun to retry)"
        return text


@contextlib.contextmanager
def ray_session(ray: ModuleType, address: str | None, workers: int | None) -> Iterator[None]:
    """Use the running Ray, connect to a cluster, or start Ray on this machine.

    Args:
        ray: the ``ray`` module.
        address: address of a Ray cluster (None: start one here).
        workers: CPUs of a Ray started here (None: all).

    Yields:
        Nothing; Ray is initialised inside. A Ray started or connected here is shut down
        on leaving.

    Raises:
        TGDCError: if Ray cannot start or the cluster cannot be reached.
    """
    if ray.is_initialized():
        yield
        return
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
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=address, **options)
            break
        except Exception as error:  # Ray raises plain Exception when its processes fail
            ray.shutdown()
            if attempt < attempts:
                continue
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


def _pool_size(
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


def _record(
    manifest: Manifest, outcome: SceneOutcome, attempts: int, result: ScanResult
) -> SceneRecord:
    """Write how a scene ended to the manifest and count it in the result.

    Args:
        manifest: the scan's manifest.
        outcome: the scene's last attempt.
        attempts: attempts made.
        result: the run's result, updated.

    Returns:
        The record written.
    """
    if outcome.detections is None:
        record = manifest.record_failed(
            outcome.scene, outcome.error or "failed", seconds=outcome.seconds, attempts=attempts
        )
        result.failed.append(record)
        return record
    result.scanned += 1
    result.scanned_km2 += outcome.scanned_km2
    return manifest.record_done(
        outcome.scene,
        outcome.detections,
        scanned_km2=outcome.scanned_km2,
        seconds=outcome.seconds,
        attempts=attempts,
    )


class WorkerPool:
    """Ray actors running :class:`SceneWorker`, each fed one scene at a time.

    Use it as a context manager: the actors start on entering and are killed on leaving,
    also when the scan is interrupted. An actor whose process dies is replaced.
    """

    def __init__(
        self,
        ray: ModuleType,
        checkpoint: Path,
        options: Mapping[str, Any],
        workers: int | None,
        gpus_per_worker: float | None,
        scenes: int,
    ) -> None:
        """Size the pool from the cluster's resources.

        Args:
            ray: the ``ray`` module, initialised.
            checkpoint: the model checkpoint, sent to every actor.
            options: predictor options of the actors.
            workers: actors asked for (None: see :func:`_pool_size`).
            gpus_per_worker: GPUs per actor asked for (None: see :func:`_pool_size`).
            scenes: scenes to scan.

        Raises:
            TGDCError: if more GPUs per worker are asked for than the cluster has.
        """
        self.ray = ray
        self.checkpoint = checkpoint
        self.options = dict(options)
        self.size, self.gpus = _pool_size(ray, workers, gpus_per_worker, scenes)
        self.actors: list[Any] = []
        self._model: Any = None

    def _start(self) -> Any:
        """Start one actor (it loads the model once).

        Returns:
            The actor's handle.
        """
        actor = self.ray.remote(SceneWorker).options(num_cpus=1, num_gpus=self.gpus)
        device = "cuda" if self.gpus > 0 else "cpu"
        handle = actor.remote(self._model, self.checkpoint.name, self.options, device)
        self.actors.append(handle)
        return handle

    def __enter__(self) -> "WorkerPool":
        """Start the actors."""
        self._model = self.ray.put(self.checkpoint.read_bytes())
        for _ in range(self.size):
            self._start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Kill the actors."""
        for actor in self.actors:
            self.ray.kill(actor)

    def run(
        self,
        scenes: Sequence[Scene],
        manifest: Manifest,
        result: ScanResult,
        *,
        retries: int,
        progress: bool,
        on_scene: Callable[[SceneRecord], None] | None,
    ) -> None:
        """Scan the scenes, recording each as it ends.

        Args:
            scenes: the scenes to scan.
            manifest: the scan's manifest.
            result: the run's result, updated scene by scene.
            retries: further attempts at a scene whose attempt failed.
            progress: show a progress bar.
            on_scene: called with every record written.
        """
        queue = deque(scenes)
        attempts: Counter[str] = Counter()
        idle = list(self.actors)
        running: dict[Any, tuple[Any, Scene]] = {}
        start = time.perf_counter()
        with tqdm(
            total=result.scenes,
            initial=result.skipped,
            desc="scenes",
            unit="scene",
            disable=not progress,
        ) as bar:
            while queue or running:
                while idle and queue:
                    actor, scene = idle.pop(), queue.popleft()
                    attempts[scene.id] += 1
                    running[actor.scan.remote(scene)] = (actor, scene)
                [ready], _ = self.ray.wait(list(running), num_returns=1)
                actor, scene = running.pop(ready)
                try:
                    outcome = self.ray.get(ready)
                    idle.append(actor)
                except self.ray.exceptions.RayError as error:
                    # The actor's process died (or its task could not run): replace it.
                    outcome = SceneOutcome(
                        scene.id, None, 0.0, 0.0, f"worker failed: {describe_error(error)}"
                    )
                    self.ray.kill(actor)
                    idle.append(self._start())
                if outcome.error is not None and attempts[scene.id] <= retries:
                    queue.append(scene)
                    continue
                record = _record(manifest, outcome, attempts[scene.id], result)
                result.scan_seconds = time.perf_counter() - start
                bar.update()
                bar.set_postfix_str(
                    f"{result.scanned_km2:.2f} km², {result.rate:.3f} km²/s,"
                    f" {len(result.failed)} failed"
                )
                if on_scene is not None:
                    on_scene(record)


def _check_scan(scenes: Sequence[Scene], retries: int, workers: int | None) -> None:
    """Check the scenes and counts of a scan.

    Args:
        scenes: the scenes.
        retries: retries per scene.
        workers: workers asked for.

    Raises:
        TGDCError: if there is no scene, two share an id, or a count is out of range.
    """
    if not scenes:
        raise TGDCError("scenes: nothing to scan")
    repeated = sorted(scene for scene, n in Counter(s.id for s in scenes).items() if n > 1)
    if repeated:
        raise TGDCError(f"scenes: ids {repeated[:5]} occur more than once; give each scene once")
    if not isinstance(retries, int) or retries < 0:
        raise TGDCError(f"retries: {retries!r} must be a whole number >= 0")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise TGDCError(f"workers: {workers!r} must be a whole number >= 1")


def scan(
    scenes: Sequence[Scene],
    checkpoint: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    predictor_options: Mapping[str, Any] | None = None,
    region: BaseGeometry | None = None,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
    retries: int = 2,
    ray_address: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    on_scene: Callable[[SceneRecord], None] | None = None,
) -> ScanResult:
    """Find the data centers in many scenes on Ray, resumably, merged across scenes.

    Args:
        scenes: the scenes (see :mod:`~torchgeo_datacenters.scan.scenes`).
        checkpoint: the model checkpoint (.ckpt).
        output_dir: where the manifest, per-scene detections and final outputs go
            (created if missing; rerun with the same directory to resume).
        predictor_options: options of :class:`~torchgeo_datacenters.inference.Predictor`
            (those of :func:`~torchgeo_datacenters.options.scan_option_names`, with the
            defaults of :class:`~torchgeo_datacenters.options.PredictorOptions`).
        region: keep only the detections that intersect this area (EPSG:4326).
        workers: Ray actors, each predicting one scene at a time (default: one per GPU, or
            one per CPU without GPUs).
        gpus_per_worker: GPUs per actor; fractions share a GPU (default: 1 where the
            cluster has GPUs, else 0).
        retries: further attempts at a scene whose attempt failed.
        ray_address: address of a running Ray cluster (default: start Ray here).
        overwrite: replace existing final outputs (finished scenes are still skipped);
            those of an earlier run of the same scan in *output_dir* are always replaced.
        progress: show a progress bar.
        on_scene: called with every scene record as soon as it is written.

    Returns:
        The merged detections, the files written and the counts of the run.

    Raises:
        TGDCError: if Ray is missing, an option is out of range, the checkpoint cannot be
            loaded, the output directory holds a scan with other settings, or a final output
            exists and *overwrite* is false; all before any scene is scanned.
    """
    start = time.perf_counter()
    ray = import_ray(local=ray_address is None)
    _check_scan(scenes, retries, workers)
    options = dict(predictor_options or {})
    unknown = sorted(set(options) - set(scan_option_names()))
    if unknown:
        raise TGDCError(f"predictor_options: {unknown} are not options of a scan")
    predictor = Predictor(checkpoint, device="cpu", progress=False, num_workers=0, **options)
    options |= {
        "threshold": predictor.threshold,
        "min_area": predictor.min_area,
        "merge_distance": predictor.merge_distance,
    }
    outputs = Outputs({kind: Path(output_dir) / name for kind, name in scan_files().items()})
    settings = {
        "checkpoint_sha256": file_sha256(checkpoint),
        "tile_size": predictor.tile_size,
        "overlap": predictor.overlap,
        "threshold": predictor.threshold,
        "min_area": predictor.min_area,
        "merge_distance": predictor.merge_distance,
        "simplify": predictor.simplify,
        "input_scale": predictor.input_scale,
        "resample": predictor.resample,
        "precision": predictor.precision,
        "tta": predictor.tta,
    }
    manifest = Manifest(output_dir, settings)
    # The merged outputs of an earlier run of this scan (same settings, scenes recorded)
    # are its own: a rerun that retries failed scenes rewrites them.
    overwrite = overwrite or bool(manifest.records())
    outputs.check(overwrite=overwrite)
    finished = manifest.finished()
    todo = [scene for scene in scenes if scene.id not in finished]
    result = ScanResult(
        detections=gpd.GeoDataFrame(),
        outputs=outputs.requested(),
        scenes=len(scenes),
        skipped=len(scenes) - len(todo),
    )
    if todo:
        with ray_session(ray, ray_address, workers):
            pool = WorkerPool(ray, Path(checkpoint), options, workers, gpus_per_worker, len(todo))
            with pool:
                pool.run(
                    todo, manifest, result, retries=retries, progress=progress, on_scene=on_scene
                )
    ids = [scene.id for scene in scenes]
    finished = manifest.finished()
    result.total_km2 = sum(finished[scene].scanned_km2 for scene in ids if scene in finished)
    detections = merge_detections(
        manifest.read(ids), distance=predictor.merge_distance, min_area=predictor.min_area
    )
    if region is not None:
        detections = order_detections(detections[detections.intersects(region)])
    provenances = {p.name: p for p in (scene.provenance() for scene in scenes)}
    detections = attach_provenance(detections, provenances)
    with outputs.staged(overwrite=overwrite) as staged:
        write_vectors(detections, staged)
    result.detections = detections
    result.seconds = time.perf_counter() - start
    return result
