"""Scan many scenes: the policy of a scan, whose scenes run on a Ray worker pool.

:func:`scan` runs the predictor over every scene on a :class:`~.pool.WorkerPool` of Ray
actors (:class:`~.worker.SceneWorker`), each holding one model for its whole life, on a
Ray started here or on a cluster (:mod:`.cluster`).

Every scene that ends is recorded in the output directory's
:class:`~torchgeo_datacenters.scan.manifest.Manifest` at once, so a crash or a killed
worker loses at most the scenes in flight and a rerun skips the finished ones. A scene
whose attempt fails (a dropped download, a worker that died) is tried again up to
``retries`` times, then recorded as failed with its error while the scan goes on; a local
file the predictor refuses (not a raster, pixels too coarse, bands or georeferencing the
model cannot take) is recorded as failed at once, and named with its error in the summary.
At the end the detections of all finished scenes are merged across scene boundaries
(:func:`~torchgeo_datacenters.detections.merge_detections`) and written atomically, one
file per format of :func:`~torchgeo_datacenters.outputs.scan_files` (GeoJSON, CSV and
GeoParquet: ``detections.geojson``, ...).
"""

import contextlib
import dataclasses
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import torch
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from ..checkpoint import ModelContract
from ..detections import merge_detections, order_detections
from ..detections.outlines import OutlineRules
from ..errors import TGDCError
from ..inference.model import read_checkpoint_facts
from ..inference.precision import resolve_precision
from ..inference.screen import find_screen
from ..options import PredictorOptions, option_fields, option_help, scan_setting_names
from ..outputs import Outputs, scan_files, write_vectors
from ..outputs.provenance import attach_provenance
from ..utils.atomic import atomic_output
from .cluster import import_ray, ray_session
from .manifest import MANIFEST_FILE, Manifest, SceneRecord, file_sha256
from .pool import WorkerPool
from .scenes import ScanScene
from .worker import SceneOutcome


@dataclass
class ScanResult:
    """What a scan found and did."""

    #: Merged detections of every finished scene, as written.
    detections: gpd.GeoDataFrame
    #: The files written, by kind (geojson, parquet, csv).
    outputs: dict[str, Path]
    #: Number of scenes in the scan.
    scenes: int
    #: Probability at or above which a pixel is a data center: given, or the checkpoint's.
    threshold: float
    #: Scenes finished by this run.
    scanned: int = 0
    #: Scenes finished by an earlier run, skipped.
    skipped: int = 0
    #: Records of the scenes that failed in this run.
    failed: list[SceneRecord] = field(default_factory=list)
    #: Ids of those among them whose file the predictor refuses (no new attempt can help).
    unreadable: set[str] = field(default_factory=set)
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
        retry = [record.scene for record in self.failed if record.scene not in self.unreadable]
        if retry:
            text += f"; partial: {len(retry)} scene(s) failed ({', '.join(retry)}); rerun to retry"
        unreadable = [record for record in self.failed if record.scene in self.unreadable]
        if unreadable:
            named = "; ".join(f"{record.error}" for record in unreadable[:UNREADABLE_NAMED])
            more = len(unreadable) - UNREADABLE_NAMED
            text += (
                f"; partial: {len(unreadable)} scene file(s) cannot be scanned ({named}"
                + (f"; {more} more in {MANIFEST_FILE}" if more > 0 else "")
                + "): fix or remove them, then rerun"
            )
        return text


#: How many refused scene files a scan's summary names with their error.
UNREADABLE_NAMED = 3


#: Name of the note, beside the merged outputs, listing the scenes they lack.
PARTIAL_NOTE = "PARTIAL"


def mark_partial(output_dir: str | os.PathLike[str], failed: Sequence[str]) -> Path | None:
    """Mark a scan's merged outputs as partial, or as whole again.

    Args:
        output_dir: the scan's output directory.
        failed: ids of the scenes missing from the merged outputs.

    Returns:
        The note :data:`PARTIAL_NOTE` (one failed scene id a line) if *failed* is not
        empty; else ``None``, with a note of an earlier run removed.
    """
    note = Path(output_dir) / PARTIAL_NOTE
    if not failed:
        note.unlink(missing_ok=True)
        return None
    with atomic_output(note, suffix=".txt") as tmp:
        tmp.write_text("".join(f"{scene}\n" for scene in failed))
    return note


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
            outcome.scene,
            outcome.error or "failed",
            seconds=outcome.seconds,
            attempts=attempts,
            node=outcome.node,
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
        node=outcome.node,
    )


def _run(
    pool: WorkerPool,
    scenes: Sequence[ScanScene],
    manifest: Manifest,
    result: ScanResult,
    *,
    retries: int,
    progress: bool,
    on_scene: Callable[[SceneRecord], None] | None,
) -> None:
    """Scan the scenes on a pool, retrying failed attempts and recording each scene as it ends.

    Args:
        pool: the started pool.
        scenes: the scenes to scan.
        manifest: the scan's manifest.
        result: the run's result, updated scene by scene.
        retries: further attempts at a scene whose attempt failed.
        progress: show a progress bar.
        on_scene: called with every record written.
    """
    attempts: Counter[str] = Counter()
    for scene in scenes:
        pool.submit(scene)
    start = time.perf_counter()
    with tqdm(
        total=result.scenes,
        initial=result.skipped,
        desc="scenes",
        unit="scene",
        disable=not progress,
    ) as bar:
        for scene, outcome in pool.outcomes():
            attempts[scene.id] += 1
            if (
                outcome.error is not None
                and not outcome.unreadable
                and attempts[scene.id] <= retries
            ):
                pool.submit(scene)
                continue
            if outcome.unreadable:
                result.unreadable.add(scene.id)
            record = _record(manifest, outcome, attempts[scene.id], result)
            result.scan_seconds = time.perf_counter() - start
            bar.update()
            bar.set_postfix_str(
                f"{result.scanned_km2:.2f} km², {result.rate:.3f} km²/s,"
                f" {len(result.failed)} failed"
            )
            if on_scene is not None:
                on_scene(record)


def _check_scan(scenes: Sequence[ScanScene], retries: int, workers: int | None) -> None:
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


def scan_settings(
    checkpoint: str | os.PathLike[str], options: PredictorOptions
) -> tuple[PredictorOptions, dict[str, Any]]:
    """Resolve a scan's options from the checkpoint's contract, without building its model.

    Args:
        checkpoint: the model checkpoint (.ckpt).
        options: the scan's options.

    Returns:
        The options every worker runs (the threshold resolved: the checkpoint's where
        none is given), and the settings the manifest records: the checkpoint's SHA-256
        and the options of :func:`~torchgeo_datacenters.options.scan_setting_names` as a
        CPU predictor resolves them (its precision, the screen file or ``off``).

    Raises:
        TGDCError: if a worker's option is set (the scan sets ``device`` and
            ``num_workers``), the checkpoint's contract cannot be read, the precision
            cannot run on a CPU or a named screen does not exist.
    """
    fixed = [
        f.name
        for f in option_fields()
        if not option_help(f).scan and getattr(options, f.name) != f.default
    ]
    if fixed:
        raise TGDCError(
            f"options: {', '.join(fixed)} are set by the scan for each worker; leave them out"
        )
    contract = ModelContract.from_hparams(read_checkpoint_facts(checkpoint).hparams)
    threshold = contract.threshold if options.threshold is None else options.threshold
    options = dataclasses.replace(options, threshold=threshold)
    settings: dict[str, Any] = {"checkpoint_sha256": file_sha256(checkpoint)}
    settings |= {name: getattr(options, name) for name in scan_setting_names()}
    screen = find_screen(options.screen, checkpoint)
    settings |= {
        "precision": resolve_precision(options.precision, torch.device("cpu")),
        "screen": "off" if screen is None else str(screen),
    }
    return options, settings


def scan(
    scenes: Sequence[ScanScene],
    checkpoint: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    options: PredictorOptions | None = None,
    region: BaseGeometry | None = None,
    workers: int | None = None,
    gpus_per_worker: float | None = None,
    retries: int = 2,
    ray_address: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    on_scene: Callable[[SceneRecord], None] | None = None,
    temp_dir: str | os.PathLike[str] | None = None,
) -> ScanResult:
    """Find the data centers in many scenes on Ray, resumably, merged across scenes.

    Args:
        scenes: the scenes (see :mod:`~torchgeo_datacenters.scan.scenes`).
        checkpoint: the model checkpoint (.ckpt).
        output_dir: where the manifest, per-scene detections and final outputs go
            (created if missing; rerun with the same directory to resume).
        options: the predictor's options (those of
            :func:`~torchgeo_datacenters.options.scan_option_names`; None: the defaults),
            checked against the checkpoint's contract without building its model (see
            :func:`scan_settings`).
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
        temp_dir: where the workers download scenes, each at most two at a time (default:
            the system's temporary directory of each node); emptied however the scan ends.

    Returns:
        The merged detections, the files written and the counts of the run.

    Raises:
        TGDCError: if Ray is missing, an option is set that the scan sets itself, the
            checkpoint's contract cannot be read, the output directory holds a scan with
            other settings, or a final output exists and *overwrite* is false; all before
            any scene is scanned (a checkpoint whose weights do not load fails every scene).
    """
    start = time.perf_counter()
    ray = import_ray(local=ray_address is None)
    _check_scan(scenes, retries, workers)
    # A cluster is joined before anything is written: an unreachable head or a missing
    # token leaves no output directory behind. A Ray of this machine starts only if needed.
    with ray_session(ray, ray_address, workers) if ray_address else contextlib.nullcontext():
        # What decides a scene's detections: a rerun with other values is refused
        # (batch_size, say, changes no detection and is not recorded).
        options, settings = scan_settings(checkpoint, options or PredictorOptions())
        outputs = Outputs({kind: Path(output_dir) / name for kind, name in scan_files().items()})
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
            threshold=settings["threshold"],
            skipped=len(scenes) - len(todo),
        )
        if todo:
            with (
                ray_session(ray, ray_address, workers),
                WorkerPool(
                    ray,
                    Path(checkpoint),
                    options,
                    workers,
                    gpus_per_worker,
                    len(todo),
                    temp_dir,
                ) as pool,
            ):
                _run(
                    pool,
                    todo,
                    manifest,
                    result,
                    retries=retries,
                    progress=progress,
                    on_scene=on_scene,
                )
        ids = [scene.id for scene in scenes]
        finished = manifest.finished()
        result.total_km2 = sum(finished[scene].scanned_km2 for scene in ids if scene in finished)
        detections = merge_detections(
            manifest.read(ids, finished),
            distance=options.merge_distance,
            min_area=options.min_area,
            outlines=OutlineRules(regularize=options.regularize, split_width=options.split_width),
        )
        if region is not None:
            detections = order_detections(detections[detections.intersects(region)])
        # Only the sources of detections are looked up: finished scenes with detections (a
        # failed one may not even open; a national scan's are mostly empty).
        sources = [
            scene for scene in scenes if scene.id in finished and finished[scene.id].detections
        ]
        provenances = {p.name: p for p in (scene.provenance() for scene in sources)}
        detections = attach_provenance(detections, provenances)
        with outputs.staged(overwrite=overwrite) as staged:
            write_vectors(detections, staged)
        mark_partial(output_dir, [scene for scene in ids if scene not in finished])
        result.detections = detections
        result.seconds = time.perf_counter() - start
        return result
