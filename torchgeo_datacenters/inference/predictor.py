"""Find data centers in scenes of any size: tile, predict, stitch, vectorise, export.

:class:`Predictor` runs a model over a scene in overlapping tiles (:mod:`.tiling`), read
by DataLoader workers (:mod:`.reader`, :mod:`.batches`) and predicted in batches under
:func:`torch.inference_mode`, channels-last (with AMP on CUDA; in cache-sized chunks on
CPU). Tiles holding no valid pixel are not run through the model. Probabilities are
blended band by band (:mod:`.stitch`) into a :class:`~.sink.BandSink`, which thresholds
them, traces them into polygons (:mod:`torchgeo_datacenters.detections.vectorize`) and
optionally streams mask and probability COGs, so memory stays bounded whatever the scene's
height. The result, ordered once per run, is a :class:`~.results.Detections`: polygons
with areas, centroids and scores, plus the paths written and run statistics.

Example::

    predictor = Predictor("model.ckpt", tile_size=512)
    detections = predictor.predict("scene.tif", output_mask="mask.tif")
    detections.gdf.head()
"""

import dataclasses
import datetime as dt
import functools
import itertools
import math
import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
import shapely
import torch
from torch.utils.data import BatchSampler, DataLoader
from tqdm import tqdm

from ..detections.dates import ACQUIRED
from ..detections.metric import reproject
from ..detections.outlines import OutlineRules
from ..detections.schema import concat_detections, order_detections
from ..detections.vectorize import Vectorizer
from ..errors import TGDCError
from ..imagery import ImageryRules
from ..options import AUTO_TILE_SIZES, PredictorOptions
from ..outputs import (
    Outputs,
    paths_from_keywords,
    raster_formats,
    vector_formats,
    write_vectors,
)
from ..outputs.provenance import attach_provenance, raster_provenance
from ..outputs.rasters import GDAL_CACHE_MB
from ..outputs.space import check_free_space, output_sizes
from ..utils import end_with_parent, return_large_blocks
from .batches import (
    PIXELS_PER_BATCH,
    as_read,
    check_batch_memory,
    read_faults_named,
    shared_batches,
)
from .device import CHANNELS_LAST_DEVICES, resolve_device
from .model import ProbabilityModel, load_checkpoint
from .onnx import OnnxProbability, is_onnx, load_onnx, quantize_int8
from .precision import autocast, calibration_tiles, resolve_precision
from .reader import TileReader
from .results import Detections, RunStats
from .scene import Scene, assign_sources, group_rasters, open_scene
from .screen import UNFINISHED_REACH, Screen, check_screen, find_screen
from .sink import BandSink
from .stitch import Stitcher
from .tilecache import TileCache
from .tiling import TileLayout, scene_layout
from .tta import with_tta

if TYPE_CHECKING:
    import geopandas as gpd
    from torchgeo.datasets import RasterDataset

#: Pixels a model sees at once on CPU: a batch runs in chunks of at most this many
#: (measured with UNet4 on 2 cores, channels-last, end to end on a 2048² scene: one tile
#: of 256 px per call ran 1.19-1.25x faster than 4 in fp32 and 1.21-1.33x in int8; its
#: activations stay in the CPU's caches).
CPU_CHUNK_PIXELS = 256 * 256

#: A scene or a dataset to predict on.
type Source = str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | RasterDataset


class Predictor:
    """Find data centers in scenes of any size with a trained model."""

    def __init__(
        self,
        model: str | os.PathLike[str] | ProbabilityModel,
        options: PredictorOptions | None = None,
        *,
        progress: bool = True,
        **overrides: Any,
    ) -> None:
        """Initialize a new Predictor.

        On glibc this also fixes the C heap's mmap threshold for the process, so that the
        scene-wide arrays the predictor frees go back to the system
        (:func:`~torchgeo_datacenters.utils.return_large_blocks`).

        Args:
            model: a checkpoint written by training, an ONNX file written by
                :func:`~.onnx.export_onnx` (run by ONNX Runtime on the CPU), or a
                :class:`ProbabilityModel`.
            options: the options; see
                :class:`~torchgeo_datacenters.options.PredictorOptions` for each, its unit
                and its default (None: every default).
            progress: whether to show a progress bar.
            **overrides: options by name, replacing those of *options*, e.g.
                ``tile_size=512``.

        Raises:
            TGDCError: if an option is out of its limits (see
                :class:`~torchgeo_datacenters.options.PredictorOptions`), the precision
                cannot run on the device, or the model cannot be loaded.
            TypeError: for a keyword that names no option.
        """
        options = dataclasses.replace(options or PredictorOptions(), **overrides)
        largest_tile = options.tile_size or max(AUTO_TILE_SIZES)
        batch_size = options.batch_size or max(1, PIXELS_PER_BATCH // largest_tile**2)
        self.device = resolve_device(options.device)
        checkpoint = model if isinstance(model, str | os.PathLike) else None
        if isinstance(model, ProbabilityModel):
            onnx = isinstance(model.probability_fn, OnnxProbability)
        else:
            onnx = is_onnx(model)
        # The precision this device runs: checked before the model loads.
        self.precision = resolve_precision(options.precision, self.device, onnx=onnx)
        screen = find_screen(options.screen, checkpoint)
        if isinstance(model, str | os.PathLike) and onnx:
            model = load_onnx(model)
        elif not isinstance(model, ProbabilityModel):
            model = load_checkpoint(model, device=self.device)
        check_batch_memory(batch_size, largest_tile, model.band_count, max(options.num_workers, 1))
        if model.module is not None:
            model.module.to(self.device).eval()
            if self.device.type in CHANNELS_LAST_DEVICES:
                model.module.to(memory_format=torch.channels_last)
        self.model = model
        #: The screen used (its file; a scan records it), or ``off``.
        self.screen = "off" if screen is None else str(screen)
        #: The screening pass (:mod:`.screen`), or None.
        self.screening = (
            None if screen is None else Screen(screen, self.device, precision=self.precision)
        )
        if self.screening is not None:
            check_screen(self.screening.model, model)
        self.threshold = model.threshold if options.threshold is None else options.threshold
        self.tile_size = options.tile_size
        self.overlap = options.overlap
        self.batch_size = batch_size
        self.min_area = options.min_area
        self.merge_distance = options.merge_distance
        self.simplify = options.simplify
        self.regularize = options.regularize
        self.split_width = options.split_width
        self.outlines = OutlineRules(regularize=self.regularize, split_width=self.split_width)
        self.num_workers = options.num_workers
        self.progress = progress
        self.input_scale = options.input_scale
        self.resample = options.resample
        self.tta = options.tta
        #: The model as run: quantised (int8, once the first scene calibrates it) and
        #: with test-time augmentation.
        self._run_model = None if self.precision == "int8" else with_tta(model, self.tta)
        # Bands of the scene's width are freed in two threads: see utils.memory.
        return_large_blocks()

    def predict(
        self,
        source: Source,
        *,
        overwrite: bool = False,
        acquired: dt.date | None = None,
        run_outputs: Mapping[str, Path] | None = None,
        **outputs: str | os.PathLike[str] | None,
    ) -> Detections:
        """Find the data centers in one scene.

        Args:
            source: a GeoTIFF, several touching GeoTIFFs forming one mosaic, or a TorchGeo
                raster dataset of images.
            overwrite: whether existing output files may be replaced.
            acquired: acquisition date of the imagery, recorded in the ``acquired`` column
                (default: from each file's name or tags, see
                :func:`~torchgeo_datacenters.detections.dates.file_date`).
            run_outputs: the outputs the caller writes from the result, by kind of a
                :class:`~torchgeo_datacenters.outputs.RunFormat` (the report, the review
                page, the STAC collection): not written here, but counted with the others
                in the free-space check before prediction.
            **outputs: ``output_<kind>``: the path of an output to write, for every kind of
                :data:`~torchgeo_datacenters.outputs.FORMATS`, e.g. ``output_geojson``
                (RFC 7946 GeoJSON of the detections), ``output_csv``, ``output_gpkg``,
                ``output_parquet``, ``output_mask`` (uint8 COG of the detection mask on
                the scene's grid), ``output_probabilities`` (float32 COG of the stitched
                probabilities).

        Returns:
            The detections, with the paths written and run statistics.

        Raises:
            TGDCError: if the input cannot be read, does not match the model, or an output
                cannot be written; nothing is written then.
            TypeError: for a keyword that names no output format.
        """
        start = time.perf_counter()
        formats = [*vector_formats(), *raster_formats()]
        files = Outputs(paths_from_keywords(outputs, formats, "predict"))
        files.check(overwrite=overwrite)
        scene = open_scene(source, self.model.band_count, self.imagery_rules)
        sizes = {**files.requested(), **(run_outputs or {})}
        check_free_space(output_sizes(sizes, [scene.grid], images=len(scene.files)))
        layout = scene_layout(scene, self.tile_size, self.overlap)
        with files.staged(overwrite=overwrite) as staged, self._tiles_bar([layout]) as bar:
            gdf, stats = self._predict_scene(scene, layout, staged, bar)
            gdf = order_detections(gdf)
            if acquired is not None:
                gdf[ACQUIRED] = acquired.isoformat()
            write_vectors(gdf, staged)
        return self._result(gdf, files, [scene], stats, start)

    def predict_batch(
        self,
        sources: Iterable[str | os.PathLike[str]],
        *,
        overwrite: bool = False,
        run_outputs: Mapping[str, Path] | None = None,
        **outputs: str | os.PathLike[str] | None,
    ) -> Detections:
        """Find the data centers in many rasters (such as chips) at once.

        Rasters that touch or overlap and share a CRS are predicted together as one
        mosaic, so a data center spread over neighbouring chips is one detection, seen
        with its full context.

        Args:
            sources: the raster files.
            overwrite: whether existing output files may be replaced.
            run_outputs: the outputs the caller writes from the result, by kind of a
                :class:`~torchgeo_datacenters.outputs.RunFormat` (the report, the review
                page, the STAC collection): not written here, but counted with the others
                in the free-space check before prediction.
            **outputs: ``output_<kind>``: the path of an output of all detections, for
                every vector kind of :data:`~torchgeo_datacenters.outputs.FORMATS`, e.g.
                ``output_geojson``, ``output_csv``, ``output_gpkg``, ``output_parquet``.

        Returns:
            All detections, numbered together.

        Raises:
            TGDCError: if no raster is given, a raster cannot be read or does not match
                the model, or an output cannot be written; nothing is written then.
            TypeError: for a keyword that names no vector output format.
        """
        start = time.perf_counter()
        files = Outputs(paths_from_keywords(outputs, vector_formats(), "predict_batch"))
        files.check(overwrite=overwrite)
        groups = group_rasters(sources)
        if not groups:
            raise TGDCError("sources: no raster files given")
        scenes = [open_scene(group, self.model.band_count, self.imagery_rules) for group in groups]
        sizes = {**files.requested(), **(run_outputs or {})}
        images = sum(len(scene.files) for scene in scenes)
        check_free_space(output_sizes(sizes, [scene.grid for scene in scenes], images=images))
        layouts = [scene_layout(scene, self.tile_size, self.overlap) for scene in scenes]
        stats = RunStats()
        tables = []
        with self._tiles_bar(layouts) as bar:
            for scene, layout in zip(scenes, layouts, strict=True):
                gdf, scene_stats = self._predict_scene(scene, layout, {}, bar)
                tables.append(gdf)
                stats += scene_stats
        gdf = order_detections(concat_detections(tables))
        with files.staged(overwrite=overwrite) as staged:
            write_vectors(gdf, staged)
        return self._result(gdf, files, scenes, stats, start)

    @property
    def imagery_rules(self) -> ImageryRules:
        """What the model expects of imagery, and how other imagery is made to fit."""
        low, high = self.model.value_range
        return ImageryRules(
            dtype=self.model.dtype,
            value_range=(low, high),
            gsd=self.model.gsd,
            input_scale=self.input_scale,
            resample=self.resample == "auto",
        )

    def _result(
        self,
        gdf: "gpd.GeoDataFrame",
        outputs: Outputs,
        scenes: Sequence[Scene],
        stats: RunStats,
        start: float,
    ) -> Detections:
        """Package a run's result, warning when the input held no valid pixel.

        Args:
            gdf: the detections.
            outputs: the outputs written.
            scenes: the scenes predicted.
            stats: counts of the run.
            start: :func:`time.perf_counter` at the start of the run.

        Returns:
            The detections.
        """
        detections = Detections(
            gdf=gdf,
            outputs=outputs.requested(),
            sources=tuple(path.name for scene in scenes for path in scene.files),
            stats=stats,
            seconds=time.perf_counter() - start,
            precision=self.precision,
        )
        if stats.valid_pixels == 0:
            warnings.warn(detections.summary(), UserWarning, stacklevel=3)
        return detections

    def _tiles_bar(self, layouts: Sequence[TileLayout]) -> tqdm:
        """A progress bar over the tiles of a run: done out of all, percentage, time left.

        Args:
            layouts: the tiles of every scene of the run.

        Returns:
            The bar (silent without :attr:`progress`), to use as a context manager.
        """
        total = sum(len(layout.offsets) for layout in layouts)
        return tqdm(total=total, desc="tiles", unit="tile", disable=not self.progress)

    def _predict_scene(
        self,
        scene: Scene,
        layout: TileLayout,
        paths: Mapping[str, Path],
        bar: tqdm,
    ) -> tuple["gpd.GeoDataFrame", RunStats]:
        """Predict one scene, streaming rasters to the (staged) paths given.

        Args:
            scene: the scene.
            layout: its tiles.
            paths: output kind to (staged) path; the raster kinds among them are written.
            bar: the run's progress bar, advanced by every tile read.

        Returns:
            The detections (not yet ordered) and the counts of the run.
        """
        offsets = layout.offsets
        run = np.ones(len(offsets), bool)
        # The screen reads files at its own pixel size: a TorchGeo dataset runs in full.
        screening = self.screening if scene.dataset is None else None
        if screening is not None:
            run = screening.tiles(scene, self.imagery_rules, offsets, layout.tile_size)
        # A detection, or a patch too small to be one, that reaches the edge of the
        # screened area may go on outside it: the full model runs on the tiles around it
        # too (each tile once: the cache keeps those run), until every outline is whole
        # and no patch may be part of a larger one.
        reach = UNFINISHED_REACH + math.ceil((self.merge_distance + self.simplify) / self.model.gsd)
        screened = screening is not None
        with TileCache(len(offsets), layout.tile_size) if screened else nullcontext() as cache:
            gdf, stats, dropped = self._predict_tiles(scene, layout, paths, bar, run, cache)
            while (
                screening is not None
                and (
                    more := screening.unfinished(gdf, dropped, scene.grid, layout, run, reach)
                ).any()
            ):
                run |= more
                bar.total = (bar.total or 0) + len(offsets)
                bar.refresh()
                gdf, stats, dropped = self._predict_tiles(scene, layout, paths, bar, run, cache)
        stats.screened_scenes = int(screened)
        provenances = {path.name: raster_provenance(path) for path in scene.files}
        gdf = attach_provenance(assign_sources(gdf, scene), provenances)
        return gdf, stats

    def _predict_tiles(
        self,
        scene: Scene,
        layout: TileLayout,
        paths: Mapping[str, Path],
        bar: tqdm,
        run: np.ndarray,
        cache: TileCache | None = None,
    ) -> tuple["gpd.GeoDataFrame", RunStats, np.ndarray]:
        """Predict one scene with the full model on some of its tiles, 0 on the others.

        Args:
            scene: the scene.
            layout: its tiles.
            paths: output kind to (staged) path; the raster kinds among them are written.
            bar: the run's progress bar, advanced by every tile read.
            run: (tiles,) booleans: the tiles the full model runs on.
            cache: the probabilities of tiles run before, taken from it instead of the
                model; those of the tiles run now are put in it (None: none kept).

        Returns:
            The detections (EPSG:4326, without their sources), the counts of the run, and
            the pixel bounds of the patches too small to be detections
            (:attr:`~torchgeo_datacenters.detections.Vectorizer.dropped`).
        """
        grid = scene.grid
        tile_size, overlap, offsets = layout
        workers = self.num_workers if len(offsets) > self.batch_size else 0
        model = self._scene_model(scene, offsets, tile_size)
        # The tiles the model runs on now; the others need no pixels, only valid ones.
        needed = run & ~cache.held if cache is not None else run
        reader = TileReader(
            scene,
            offsets,
            tile_size,
            self.model.mean,
            self.model.std,
            channels_last=self._channels_last,
            shared=shared_batches(
                workers,
                self.device,
                (self.batch_size, tile_size, tile_size * self.model.band_count),
            ),
            needed=needed,
        )
        loader = DataLoader(
            reader,
            sampler=BatchSampler(range(len(offsets)), self.batch_size, drop_last=False),
            batch_size=None,
            # Batches as the reader makes them (the default would turn arrays to tensors).
            # torch types collate_fn for lists of samples; with batch_size=None it gets one.
            collate_fn=as_read,  # type: ignore[arg-type]
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            # Workers die with this process, even when it is killed.
            # DataLoader ignores what worker_init_fn returns (torch types it None).
            worker_init_fn=functools.partial(end_with_parent, os.getpid()),  # type: ignore[arg-type]
        )
        stats = RunStats(pixels=grid.width * grid.height, tiles=len(offsets))
        vectorizer = Vectorizer(
            grid.transform,
            grid.crs,
            (grid.height, grid.width),
            merge_distance=self.merge_distance,
            min_area=self.min_area,
            simplify=self.simplify,
            outlines=self.outlines,
        )
        writers = [
            (output.open(paths[output.name], grid, scene.input_grid), output)
            for output in raster_formats()
            if output.name in paths
        ]
        sink = BandSink(vectorizer, self.threshold, writers)
        stitcher = Stitcher(grid.height, grid.width, tile_size, overlap, sink)
        # A small GDAL block cache (inherited by forked workers) keeps memory independent
        # of the scene's size: every block is read for one band of tiles only.
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), sink, torch.inference_mode():
            for batch in read_faults_named(loader, scene):
                if "error" in batch:
                    raise TGDCError(batch["error"])
                valid, indices = batch["valid"], batch["index"]
                keep = valid.reshape(len(valid), -1).any(axis=1)
                stats.skipped_tiles += int((~keep).sum())
                # Tiles the screen rules out: probability 0 without the model, outside the blend.
                model_tiles = keep & run[indices]
                stats.screened_tiles += int((keep & ~model_tiles).sum())
                fresh = keep & needed[indices]
                probabilities: Iterator[np.ndarray] = iter(())
                if fresh.any():
                    images = reader.images(batch)
                    if not fresh.all():
                        images = images[torch.from_numpy(fresh)]
                    probabilities = itertools.chain.from_iterable(self._forward(model, images))
                # In the batch's order: the stitcher takes tiles in row order.
                for tile in np.flatnonzero(keep):
                    tile_probabilities = None
                    if fresh[tile]:
                        tile_probabilities = next(probabilities)
                        if cache is not None:
                            cache.put(indices[tile], tile_probabilities)
                    elif model_tiles[tile] and cache is not None:
                        tile_probabilities = cache.get(indices[tile])
                    stitcher.add(tile_probabilities, valid[tile], *offsets[indices[tile]])
                reader.release(batch)
                bar.update(len(batch["index"]))
            stitcher.finish()
            sink.drain()
        stats.valid_pixels = sink.valid_pixels
        scene_area = reproject(shapely.box(*grid.bounds), grid.crs, vectorizer.metric).area
        stats.scanned_m2 = scene_area * stats.valid_pixels / stats.pixels
        return vectorizer.finish(), stats, vectorizer.dropped

    @property
    def _channels_last(self) -> bool:
        """Whether tiles go to the model channels-last (torch models on these devices)."""
        torch_model = self.model.module is not None and self.precision != "int8"
        return torch_model and self.device.type in CHANNELS_LAST_DEVICES

    def _scene_model(
        self, scene: Scene, offsets: Sequence[tuple[int, int]], tile_size: int
    ) -> ProbabilityModel:
        """The model as it runs on a scene, quantised on the first one for int8.

        Args:
            scene: the scene about to be predicted.
            offsets: (row, column) of its tiles.
            tile_size: side of its tiles in pixels.

        Returns:
            The model at the predictor's precision, with its test-time augmentation.
        """
        if self._run_model is None:
            tiles = calibration_tiles(scene, offsets, tile_size, self.model.mean, self.model.std)
            self._run_model = with_tta(quantize_int8(self.model, tiles), self.tta)
        return self._run_model

    def _forward(self, model: ProbabilityModel, images: torch.Tensor) -> list[np.ndarray]:
        """Run the model on a batch of normalised tiles.

        Args:
            model: the model as it runs (:meth:`_scene_model`).
            images: (B, C, H, W) float32 tiles on the CPU.

        Returns:
            (b, H, W) float32 probabilities of consecutive chunks of the batch (on CPU,
            the model runs on cache-sized chunks; elsewhere on the whole batch).

        Raises:
            TGDCError: if the model returns another shape.
        """
        images = images.to(self.device, non_blocking=True)
        if self._channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        parts = [images]
        if self.device.type == "cpu":
            # Small chunks keep a CPU's activations in its caches.
            size = max(1, CPU_CHUNK_PIXELS // (images.shape[2] * images.shape[3]))
            parts = list(images.split(size))
        with autocast(self.precision, self.device):
            chunks = [model.probability_fn(part) for part in parts]
        for part, chunk in zip(parts, chunks, strict=True):
            expected = (part.shape[0], *part.shape[2:])
            if tuple(chunk.shape) != expected:
                raise TGDCError(
                    f"{model.name}: returned probabilities of shape"
                    f" {tuple(chunk.shape)} for tiles {tuple(part.shape)}; expected"
                    f" {expected}"
                )
        return [chunk.float().cpu().numpy() for chunk in chunks]
