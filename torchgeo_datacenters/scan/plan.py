"""The cost of a scan before it runs: items, pixels, bytes and time at a measured rate.

:func:`plan_scan` adds up the scenes a scan would run (the NAIP items of a STAC search, or
local GeoTIFFs): their pixels (``proj:shape`` of an item; else its footprint's area over
its ``gsd`` squared) and bytes (the asset's ``file:size`` where the catalogue gives it;
else the grid's size uncompressed, 1 byte per pixel and band: an upper bound). The time
comes from a rate in megapixels per second per worker: given (``--rate``, for hardware
the user knows), or measured by :func:`calibrate`, which runs the checkpoint with the
scan's options on a SYNTHETIC tile for a few seconds, as one scan worker runs it (one
thread on a CPU).

:func:`check_scan_space` refuses, before Ray starts, a scan whose downloads or files do not
fit (a scene at a time: the scan resumes).
"""

import dataclasses
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyproj
import rasterio
import shapely
import torch

from ..errors import TGDCError
from ..grid import Grid
from ..inference import Predictor
from ..options import PredictorOptions
from ..outputs import FORMATS, RunFormat, scan_files
from ..outputs.space import (
    check_free_space,
    detections_in,
    most_detections,
    table_bytes,
    vector_format,
)
from ..synthetic import generate_scenes
from .manifest import SCENES_DIR, scene_file_name
from .scenes import TMPDIR_ADVICE, LocalScene, ScanScene, StacScene, check_temporary_directory

#: Bands of a NAIP image where the item does not list them (red, green, blue, near-infrared).
NAIP_BANDS = 4

#: Ground pixel of NAIP where the item does not give one, in metres (the 2016+ national GSD).
NAIP_GSD = 0.6

#: Side of the SYNTHETIC calibration tile, in pixels.
CALIBRATION_SIDE = 512

#: Least time spent predicting on the calibration tile, in seconds (after one warm-up run).
CALIBRATION_SECONDS = 3.0


@dataclass(frozen=True)
class SceneSize:
    """What one scene weighs.

    Attributes:
        pixels: ground pixels (height x width).
        bytes: bytes of its image file.
        estimated: whether *bytes* is estimated from the grid (no size in the catalogue).
    """

    pixels: int
    bytes: int
    estimated: bool


@dataclass(frozen=True)
class ScanPlan:
    """The cost of a scan.

    Attributes:
        items: scenes (NAIP items or files) scanned.
        pixels: their ground pixels in all.
        bytes: their image bytes in all (some may be estimated, see *estimated_items*).
        estimated_items: scenes whose bytes are estimated from the grid.
        rate: megapixels per second of one worker.
        rate_source: where the rate comes from.
        workers: workers the wall time is given for.
    """

    items: int
    pixels: int
    bytes: int
    estimated_items: int
    rate: float
    rate_source: str
    workers: int

    @property
    def gigapixels(self) -> float:
        """Ground pixels, in billions."""
        return self.pixels / 1e9

    @property
    def gigabytes(self) -> float:
        """Image bytes, in GB (10⁹ bytes)."""
        return self.bytes / 1e9

    @property
    def worker_hours(self) -> float:
        """Hours of one worker to predict every pixel."""
        return self.pixels / (self.rate * 1e6) / 3600

    @property
    def wall_hours(self) -> float:
        """Hours with :attr:`workers` workers, scenes spread evenly (starting excluded)."""
        return self.worker_hours / self.workers

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-compatible values, the derived figures included."""
        return {
            "items": self.items,
            "gigapixels": self.gigapixels,
            "gigabytes": self.gigabytes,
            "estimated_items": self.estimated_items,
            "rate_mpx_per_s": self.rate,
            "rate_source": self.rate_source,
            "workers": self.workers,
            "worker_hours": self.worker_hours,
            "wall_hours": self.wall_hours,
        }

    def lines(self) -> list[str]:
        """The plan, as lines for a person."""
        size = f"{self.gigabytes:,.2f} GB"
        if self.estimated_items:
            size += (
                f" ({self.estimated_items} item(s) estimated from the grid, uncompressed: an"
                " upper bound)"
            )
        return [
            f"items: {self.items:,}",
            f"gigapixels: {self.gigapixels:,.3f}",
            f"bytes: {size}",
            f"rate: {self.rate:,.3f} Mpx/s per worker ({self.rate_source})",
            f"worker-hours: {self.worker_hours:,.3f}",
            f"wall time with {self.workers} worker(s): {format_hours(self.wall_hours)}",
        ]


def format_hours(hours: float) -> str:
    """A duration for a person: seconds, minutes, hours or days."""
    seconds = hours * 3600
    if seconds < 120:
        return f"{seconds:.0f} s"
    if hours < 2:
        return f"{seconds / 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def item_size(item: Mapping[str, Any], asset_key: str) -> SceneSize:
    """The pixels and bytes of a NAIP item, from its metadata alone.

    Args:
        item: the item as a STAC dictionary.
        asset_key: key of its image asset.

    Returns:
        Its size: pixels from ``proj:shape`` (else footprint area / ``gsd``²), bytes from
        the asset's ``file:size`` (else pixels x bands, one byte each).

    Raises:
        TGDCError: if the item has neither ``proj:shape`` nor a footprint.
    """
    properties = item.get("properties", {})
    asset = item.get("assets", {}).get(asset_key, {})
    shape = properties.get("proj:shape")
    if shape:
        pixels = int(shape[0]) * int(shape[1])
    elif item.get("geometry"):
        footprint = shapely.geometry.shape(item["geometry"])
        area, _ = pyproj.Geod(ellps="WGS84").geometry_area_perimeter(footprint)
        pixels = math.ceil(abs(area) / float(properties.get("gsd") or NAIP_GSD) ** 2)
    else:
        raise TGDCError(
            f"item {item.get('id')}: has neither proj:shape nor a footprint; its size cannot"
            " be planned"
        )
    if asset.get("file:size"):
        return SceneSize(pixels, int(asset["file:size"]), False)
    bands = len(asset.get("eo:bands") or properties.get("eo:bands") or []) or NAIP_BANDS
    return SceneSize(pixels, pixels * bands, True)


def scene_size(scene: ScanScene) -> SceneSize:
    """The pixels and bytes of a scene: an item's metadata, or a local file's header.

    Args:
        scene: the scene.

    Returns:
        Its size.
    """
    if isinstance(scene, StacScene):
        return item_size(scene.item, scene.asset_key)
    assert isinstance(scene, LocalScene)
    with rasterio.open(scene.path) as src:
        pixels = src.width * src.height
    return SceneSize(pixels, scene.path.stat().st_size, False)


def calibrate(checkpoint: str | Path, options: PredictorOptions) -> float:
    """Measure how fast one scan worker predicts, on a SYNTHETIC tile.

    The checkpoint runs with the scan's options (device, precision, tiling) on a
    :data:`CALIBRATION_SIDE`² SYNTHETIC scene, once to warm up, then again until
    :data:`CALIBRATION_SECONDS` have passed, with one thread on a CPU (as a scan worker,
    which has one CPU).

    Args:
        checkpoint: the model checkpoint.
        options: the scan's options.

    Returns:
        Megapixels per second.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="tgdc-plan-") as directory:
            data = generate_scenes(
                directory, size=CALIBRATION_SIDE, count=1, progress=False, overwrite=True
            )
            [scene] = data.scene_paths
            options = dataclasses.replace(options, num_workers=0)
            predictor = Predictor(checkpoint, options, progress=False)
            predictor.predict(scene)
            runs, start = 0, time.perf_counter()
            while runs == 0 or time.perf_counter() - start < CALIBRATION_SECONDS:
                predictor.predict(scene)
                runs += 1
            elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    return runs * CALIBRATION_SIDE**2 / elapsed / 1e6


def plan_scan(
    scenes: Sequence[ScanScene], *, rate: float, rate_source: str, workers: int
) -> ScanPlan:
    """Add up the cost of scanning *scenes*.

    Args:
        scenes: the scenes.
        rate: megapixels per second of one worker (see :func:`calibrate`).
        rate_source: where the rate comes from, for the reader.
        workers: workers the wall time is given for.

    Returns:
        The plan.

    Raises:
        TGDCError: if *rate* or *workers* is not positive.
    """
    if not rate > 0:
        raise TGDCError(f"--rate {rate}: give megapixels per second, above 0")
    if workers < 1:
        raise TGDCError(f"--workers {workers}: give a whole number >= 1")
    sizes = [scene_size(scene) for scene in scenes]
    return ScanPlan(
        items=len(sizes),
        pixels=sum(size.pixels for size in sizes),
        bytes=sum(size.bytes for size in sizes),
        estimated_items=sum(size.estimated for size in sizes),
        rate=rate,
        rate_source=rate_source,
        workers=workers,
    )


def scene_detections(scene: ScanScene) -> int:
    """The most detections a scene can hold (see :mod:`~torchgeo_datacenters.outputs.space`).

    Args:
        scene: the scene: an item's footprint (else its pixels at its ``gsd``), or a local
            file's grid.

    Returns:
        The count; 0 for a local file that cannot be read or has no CRS (its worker
        records the scene as failed, and the scan goes on).
    """
    if isinstance(scene, LocalScene):
        try:
            with rasterio.open(scene.path) as src:
                if src.crs is None:
                    return 0
                return most_detections(Grid(src.crs, src.transform, src.width, src.height))
        except (rasterio.errors.RasterioError, OSError):
            return 0
    if scene.item.get("geometry"):
        footprint = shapely.geometry.shape(scene.item["geometry"])
        area, _ = pyproj.Geod(ellps="WGS84").geometry_area_perimeter(footprint)
        return detections_in(abs(area))
    gsd = float(scene.item.get("properties", {}).get("gsd") or NAIP_GSD)
    return detections_in(item_size(scene.item, scene.asset_key).pixels * gsd**2)


def check_scan_space(
    scenes: Sequence[ScanScene],
    output_dir: Path,
    *,
    downloads: int,
    run_outputs: Mapping[str, Path] | None = None,
) -> None:
    """Refuse a scan, before Ray starts, whose scenes cannot be downloaded or written.

    A scan keeps every finished scene and a rerun resumes, so what must fit before it starts
    is a scene at a time: the largest image in the temporary download directory once per
    worker downloading on this machine, and in the output directory the detection file of
    the scene with the most ground, with the final outputs of that many detections (each
    worker checks the space for its own download again before reading it).

    Args:
        scenes: the scenes.
        output_dir: the scan's output directory (made later where missing).
        downloads: workers of this machine downloading at once (0 on a Ray cluster, whose
            nodes check their own).
        run_outputs: the run outputs written once the scan is over (the report, the review
            page, the STAC collection), by kind; counted like the final detection files,
            showing the scan's local scenes.

    Raises:
        TGDCError: if the temporary directory is not writable, or a file system has not the
            space (:func:`~torchgeo_datacenters.outputs.space.check_free_space`).
    """
    stac = [scene for scene in scenes if isinstance(scene, StacScene)]
    if stac and downloads:
        largest = max(item_size(scene.item, scene.asset_key).bytes for scene in stac)
        directory = check_temporary_directory()
        check_free_space({directory / "scan-downloads": largest * downloads}, advice=TMPDIR_ADVICE)
    counts = [scene_detections(scene) for scene in scenes]
    count = max(counts)
    biggest = scenes[counts.index(count)]
    scene_file = output_dir / SCENES_DIR / scene_file_name(biggest.id)
    sizes = {scene_file: table_bytes(vector_format(scene_file), count)}
    for name in scan_files().values():
        sizes[output_dir / name] = table_bytes(vector_format(output_dir / name), count)
    images = sum(isinstance(scene, LocalScene) for scene in scenes)
    for kind, path in (run_outputs or {}).items():
        output = FORMATS[kind]
        if isinstance(output, RunFormat):
            sizes[path] = output.most_bytes(count, images)
    check_free_space(sizes)
