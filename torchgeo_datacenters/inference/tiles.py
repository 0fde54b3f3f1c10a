"""Read a scene as a grid of overlapping, normalised tiles: the predictor's input side.

A scene is one GeoTIFF, several touching GeoTIFFs that form a mosaic (in one CRS or
several), or any TorchGeo :class:`~torchgeo.datasets.RasterDataset`. Its tiles are laid
out on the scene's north-up pixel grid with a stride of tile - overlap; tiles that would
stick out of a scene at least one tile wide are moved inside it, so tiles only reach past
the border (and are padded) when the scene is smaller than a tile.

Files are read by :class:`~torchgeo_datacenters.imagery.ImageryFile`: plain windowed
reads for a file on the scene's pixel lattice, an on-the-fly warp for any other (south-up
rows, another CRS, another pixel size), every file with its own validity (nodata, NaN,
mask band, real alpha band; NAIP's alpha-tagged NIR band is data). Datasets are read
through their own indexing, invalid where every band equals the dataset's nodata value or
any band is NaN. Invalid pixels are NaN as read, become 0 after normalisation and are
marked invalid.
"""

import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import torch
from affine import Affine
from pyproj import CRS
from rasterio.enums import Resampling
from rasterio.features import geometry_mask
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from torch.utils.data import Dataset, get_worker_info
from torchgeo.datasets import RasterDataset

from ..detections.metric import metric_crs
from ..detections.vectorize import pixel_size_m
from ..errors import TGDCError
from ..imagery import GSD_TOLERANCE, ImageryFile, ImageryRules, input_scaling

#: Largest tile side accepted, in pixels: one 4-band float32 tile of this side takes
#: 256 MiB before the model's activations.
MAX_TILE_SIZE = 4096

#: Tiles are clamped to the scene rounded up to a multiple of this many pixels (the
#: downsampling factor models need).
TILE_MULTIPLE = 32


class SceneDataset(RasterDataset):
    """Georeferenced rasters of any band count, read with all their bands."""

    filename_glob = "*"


@dataclass(frozen=True)
class SceneGrid:
    """The pixel grid of a scene: where outputs go."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the scene, in its CRS."""
        left, top = self.transform @ (0, 0)
        right, bottom = self.transform @ (self.width, self.height)
        return left, bottom, right, top

    @classmethod
    def from_dataset(cls, dataset: RasterDataset) -> "SceneGrid":
        """Lay a north-up grid over the bounds of a dataset at its resolution.

        Args:
            dataset: the dataset.

        Returns:
            The grid.
        """
        x, y, _ = dataset.bounds
        xres, yres = dataset.res
        return cls(
            crs=dataset.crs,
            transform=Affine(xres, 0.0, float(x.start), 0.0, -yres, float(y.stop)),
            width=round((x.stop - x.start) / xres),
            height=round((y.stop - y.start) / yres),
        )

    @classmethod
    def over_files(
        cls,
        files: Sequence[ImageryFile],
        crs: CRS | None = None,
        res: tuple[float, float] | None = None,
    ) -> "SceneGrid":
        """Lay a north-up grid over raster files, on the first file's pixel lattice.

        Args:
            files: the files.
            crs: CRS of the grid (default: the first file's).
            res: (x, y) pixel size of the grid (default: the first file's).

        Returns:
            The smallest grid covering every file: the first file's own grid, flipped to
            north-up if its rows run south to north, when it is alone and neither *crs*
            nor *res* differ from its own.
        """
        first = files[0]
        crs = crs or first.crs
        xres, yres = res or first.res
        boxes = np.array([transform_bounds(f.crs, crs, *f.bounds, densify_pts=21) for f in files])
        left, bottom = boxes[:, :2].min(axis=0)
        right, top = boxes[:, 2:].max(axis=0)
        if crs == first.crs and (xres, yres) == first.res:
            # Snap to the first file's pixel lattice, so files on it are read unwarped.
            x0, _, _, y0 = first.bounds
            left = x0 + math.floor((left - x0) / xres + 1e-6) * xres
            top = y0 - math.floor((y0 - top) / yres + 1e-6) * yres
        return cls(
            crs=crs,
            transform=Affine(xres, 0.0, left, 0.0, -yres, top),
            width=max(math.ceil((right - left) / xres - 1e-6), 1),
            height=max(math.ceil((top - bottom) / yres - 1e-6), 1),
        )


def file_footprints(files: Sequence[ImageryFile], crs: CRS) -> gpd.GeoDataFrame:
    """Outlines of raster files in one CRS.

    Args:
        files: the files.
        crs: the CRS to draw them in.

    Returns:
        A GeoDataFrame with the ``filepath`` and outline of every file.
    """
    outlines = [
        gpd.GeoSeries([shapely.box(*f.bounds).segmentize(max(f.res) * 64)], crs=f.crs)
        .to_crs(crs)
        .iloc[0]
        for f in files
    ]
    return gpd.GeoDataFrame({"filepath": [str(f.path) for f in files]}, geometry=outlines, crs=crs)


class Scene:
    """A raster scene to predict on, read tile by tile."""

    def __init__(
        self,
        grid: SceneGrid,
        band_count: int,
        footprints: gpd.GeoDataFrame,
        *,
        imagery: Sequence[ImageryFile] = (),
        dataset: RasterDataset | None = None,
        nodata: float | None = None,
        resampling: Resampling = Resampling.nearest,
        input_grid: SceneGrid | None = None,
    ) -> None:
        """Initialize a new Scene (use :func:`open_scene`).

        Args:
            grid: the grid the model sees.
            band_count: number of bands of every tile.
            footprints: ``filepath`` and outline (in the grid's CRS) of every raster.
            imagery: the raster files, read in this order (the first valid pixel wins).
            dataset: the TorchGeo dataset to read instead of *imagery*.
            nodata: value that marks nodata pixels of *dataset* (in every band), or None.
            resampling: how files off the grid's lattice are resampled.
            input_grid: the grid of the input, where it differs from *grid* (resampled).
        """
        self.grid = grid
        self.input_grid = input_grid or grid
        self.band_count = band_count
        self.footprints = footprints
        self.imagery = tuple(imagery)
        self.dataset = dataset
        self.nodata = nodata
        self.resampling = resampling
        self.files = tuple(Path(path) for path in footprints["filepath"])
        footprint = footprints.geometry.union_all()
        self.footprint = None if footprint.covers(shapely.box(*grid.bounds)) else footprint

    def read(self, row_off: int, col_off: int, size: tuple[int, int]) -> np.ndarray:
        """Read a tile of raw pixel values, NaN where invalid or outside the scene.

        Args:
            row_off: scene row of the tile's top edge.
            col_off: scene column of the tile's left edge.
            size: tile (height, width), in pixels.

        Returns:
            A (height, width, bands) float32 array: pixel-interleaved, the memory layout
            of a channels-last batch.

        Raises:
            TGDCError: if a file's pixels cannot be read (truncated or corrupt).
        """
        height, width = size
        if self.dataset is not None:
            return self._read_dataset(row_off, col_off, size)
        window = Window(col_off, row_off, width, height)
        tile = np.empty((height, width, self.band_count), np.float32)
        transform, crs = self.grid.transform, self.grid.crs
        self.imagery[0].read(transform, crs, window, resampling=self.resampling, out=tile)
        for file in self.imagery[1:]:
            hole = np.isnan(tile).any(axis=2)
            if not hole.any():
                break
            part = file.read(transform, crs, window, resampling=self.resampling)
            tile[hole] = part[hole]
        return tile

    def _read_dataset(self, row_off: int, col_off: int, size: tuple[int, int]) -> np.ndarray:
        """Read a tile through the dataset's indexing (see :meth:`read`)."""
        assert self.dataset is not None
        height, width = size
        t = self.grid.transform
        x0, y1 = t @ (col_off, row_off)
        x1, y0 = t @ (col_off + width, row_off + height)
        sample = self.dataset[slice(x0, x1, t.a), slice(y0, y1, -t.e)]
        tile = np.ascontiguousarray(sample["image"].numpy().transpose(1, 2, 0), np.float32)
        invalid = np.isnan(tile).any(axis=2) | ~self._inside(row_off, col_off, size)
        if self.nodata is not None:
            nodata = np.isnan(tile) if np.isnan(self.nodata) else tile == self.nodata
            invalid |= nodata.all(axis=2)
        tile[invalid] = np.nan
        return tile

    def _inside(self, row_off: int, col_off: int, size: tuple[int, int]) -> np.ndarray:
        """(height, width) booleans: whether the pixels of a tile lie inside the scene."""
        rows = np.arange(row_off, row_off + size[0])
        cols = np.arange(col_off, col_off + size[1])
        return np.outer(
            (rows >= 0) & (rows < self.grid.height), (cols >= 0) & (cols < self.grid.width)
        )

    def valid(self, tile: np.ndarray, row_off: int, col_off: int) -> np.ndarray:
        """Find the pixels of a tile that hold data.

        Args:
            tile: (height, width, bands) raw values from :meth:`read`.
            row_off: scene row of the tile's top edge.
            col_off: scene column of the tile's left edge.

        Returns:
            A (height, width) boolean array, false outside the scene or its footprint and
            where the tile is NaN.
        """
        height, width, _ = tile.shape
        valid = self._inside(row_off, col_off, (height, width))
        valid &= ~np.isnan(tile).any(axis=2)
        if self.footprint is not None:
            transform = self.grid.transform @ Affine.translation(col_off, row_off)
            valid &= geometry_mask(
                [self.footprint], out_shape=(height, width), transform=transform, invert=True
            )
        return valid


def dataset_band_count(dataset: RasterDataset) -> int:
    """Count the bands a raster dataset returns.

    Args:
        dataset: the dataset.

    Returns:
        The number of bands of its images.
    """
    if dataset.separate_files:
        return len(dataset.bands)
    if dataset.band_indexes:
        return len(dataset.band_indexes)
    return ImageryFile(dataset.files[0]).count


def open_scene(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | RasterDataset,
    band_count: int,
    rules: ImageryRules | None = None,
) -> Scene:
    """Open a GeoTIFF, a mosaic of GeoTIFFs or a raster dataset for prediction.

    Args:
        source: one raster file, several (a mosaic, warped to the first one's CRS), or a
            TorchGeo raster dataset of images.
        band_count: number of bands the model expects.
        rules: the data type, value range and pixel size the model expects of files, and
            how other files are made to fit (default: :class:`ImageryRules`).

    Returns:
        The scene.

    Raises:
        TGDCError: if a file is missing, not a raster, has no CRS, the wrong number of
            bands, a data type or pixel size the rules refuse, or the dataset holds masks
            rather than images.
    """
    rules = rules or ImageryRules()
    if isinstance(source, RasterDataset):
        if not source.is_image:
            raise TGDCError(f"{type(source).__name__}: is a mask dataset; give imagery")
        count = dataset_band_count(source)
        if count != band_count:
            raise TGDCError(
                f"{type(source).__name__} ({source.files[0]} ...): returns {count} band(s) but"
                f" the checkpoint expects {band_count}"
            )
        nodata = source.nodata if source.nodata is not None else ImageryFile(source.files[0]).nodata
        footprints = source.index[["filepath", "geometry"]].reset_index(drop=True)
        return Scene(
            SceneGrid.from_dataset(source), count, footprints, dataset=source, nodata=nodata
        )
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not paths:
        raise TGDCError("image: no raster files given")
    files = [ImageryFile(path, band_count) for path in paths]
    for file in files:
        file.scale, file.offset = input_scaling(
            str(file.path), file.dtype, rules.input_scale, rules.dtype, rules.value_range
        )
    grid = SceneGrid.over_files(files)
    model_grid = resampled_grid(files, grid, rules)
    return Scene(
        model_grid,
        band_count,
        file_footprints(files, model_grid.crs),
        imagery=files,
        resampling=Resampling.nearest if model_grid == grid else Resampling.bilinear,
        input_grid=grid,
    )


def resampled_grid(files: Sequence[ImageryFile], grid: SceneGrid, rules: ImageryRules) -> SceneGrid:
    """The grid at the checkpoint's pixel size, where the input's differs too much.

    Args:
        files: the scene's files.
        grid: the input's grid.
        rules: what the model expects.

    Returns:
        *grid* if its pixels are within :data:`GSD_TOLERANCE` of the rules' ground
        sample distance (or none is set); else a grid of that pixel size over the same
        ground, in the input's CRS if it measures true metres, else in its UTM zone.

    Raises:
        TGDCError: if the pixel sizes differ and the rules refuse to resample.
    """
    if rules.gsd is None:
        return grid
    metric = metric_crs(grid.crs, grid.bounds)
    size = pixel_size_m(grid.transform, grid.crs, metric, (grid.height, grid.width))
    if abs(size / rules.gsd - 1) <= GSD_TOLERANCE:
        return grid
    name = files[0].path
    if not rules.resample:
        raise TGDCError(
            f"{name}: pixels are {size:.2f} m on the ground but the checkpoint was trained"
            f" on {rules.gsd:g} m; resample it (gdalwarp -tr {rules.gsd:g} {rules.gsd:g}"
            " -r bilinear ...) or leave --resample at auto"
        )
    warnings.warn(
        f"{name}: {size:.2f} m pixels are resampled on the fly to the checkpoint's"
        f" {rules.gsd:g} m (--resample no refuses instead)",
        UserWarning,
        stacklevel=3,
    )
    return SceneGrid.over_files(files, crs=metric, res=(rules.gsd, rules.gsd))


def check_tiling(tile_size: int, overlap: int) -> None:
    """Check a tile size and overlap.

    Args:
        tile_size: tile side, in pixels.
        overlap: overlap between neighbouring tiles, in pixels.

    Raises:
        TGDCError: if the tile size is not positive or above :data:`MAX_TILE_SIZE`, the
            overlap negative, or the overlap not smaller than the tile.
    """
    if not isinstance(tile_size, int) or not 0 < tile_size <= MAX_TILE_SIZE:
        raise TGDCError(
            f"tile_size: {tile_size!r} must be a whole number of pixels from 1 to"
            f" {MAX_TILE_SIZE} (a batch of {MAX_TILE_SIZE} px tiles already takes GiBs)"
        )
    if not isinstance(overlap, int) or not 0 <= overlap < tile_size:
        raise TGDCError(
            f"overlap: {overlap!r} px must be a whole number from 0 to tile_size - 1"
            f" ({tile_size - 1})"
        )


def scene_tiling(grid: SceneGrid, tile_size: int, overlap: int) -> tuple[int, int]:
    """Clamp tiles to a scene: no tile larger than the scene needs.

    Args:
        grid: the scene's grid.
        tile_size: tile side asked for, in pixels.
        overlap: overlap asked for, in pixels.

    Returns:
        (tile side, overlap): the tile side at most the scene's larger side rounded up to
        :data:`TILE_MULTIPLE`, the overlap smaller than it.

    Raises:
        TGDCError: see :func:`check_tiling`.
    """
    check_tiling(tile_size, overlap)
    needed = math.ceil(max(grid.height, grid.width) / TILE_MULTIPLE) * TILE_MULTIPLE
    tile = min(tile_size, needed)
    return tile, min(overlap, tile // 2)


def tile_starts(length: int, tile_size: int, stride: int) -> list[int]:
    """Offsets of tiles along one side of a scene.

    Args:
        length: the scene's side, in pixels.
        tile_size: tile side, in pixels.
        stride: step between tiles, in pixels.

    Returns:
        Offsets every *stride* with the last tile moved inside the scene, or one tile
        centred on a scene shorter than a tile.
    """
    if length <= tile_size:
        return [-((tile_size - length) // 2)]
    return [*range(0, length - tile_size, stride), length - tile_size]


def tile_offsets(scene: Scene, tile_size: int, overlap: int) -> list[tuple[int, int]]:
    """Lay out the tiles of a scene on its grid (stride = tile - overlap).

    Args:
        scene: the scene.
        tile_size: tile side, in pixels.
        overlap: overlap between neighbouring tiles, in pixels.

    Returns:
        The (row, column) offsets of the tiles' top-left corners on the scene grid, in
        row order, without tiles that miss every raster of a mosaic. Tiles are moved inside
        the scene where it is at least a tile wide.

    Raises:
        TGDCError: see :func:`check_tiling`.
    """
    check_tiling(tile_size, overlap)
    stride = tile_size - overlap
    rows = tile_starts(scene.grid.height, tile_size, stride)
    cols = tile_starts(scene.grid.width, tile_size, stride)
    offsets = [(row, col) for row in rows for col in cols]
    if scene.footprint is not None:
        t = scene.grid.transform
        boxes = [
            shapely.box(*(t @ (col, row + tile_size)), *(t @ (col + tile_size, row)))
            for row, col in offsets
        ]
        hits = shapely.intersects(np.array(boxes), scene.footprint)
        offsets = [offset for offset, hit in zip(offsets, hits, strict=True) if hit]
    return offsets


class SharedBatches:
    """Batch buffers in shared memory, filled by DataLoader workers and read in place.

    A tensor returned by a worker is moved to a new shared-memory segment for every batch:
    a copy, page faults in both processes and a file-descriptor round trip. Workers instead
    fill one of a few buffers that the main process allocated before they started and pass
    on its number; the main process reads the batch where it lies and frees the buffer
    when it is done with it. Each worker has buffers of its own, so no two processes ever
    take the same one; a worker that finds all of its buffers taken returns a fresh tensor
    instead.
    """

    def __init__(self, workers: int, per_worker: int, shape: Sequence[int]) -> None:
        """Initialize new SharedBatches.

        Args:
            workers: number of DataLoader workers.
            per_worker: buffers per worker (the DataLoader's prefetch factor + 1 are in
                use at most: those prefetched and the one being predicted).
            shape: shape of one float32 buffer.

        Raises:
            ValueError: if there are no workers or no buffers per worker.
            RuntimeError: if the shared memory cannot be allocated.
        """
        if workers < 1 or per_worker < 1:
            raise ValueError(
                f"SharedBatches: workers={workers}, per_worker={per_worker}; both must be"
                " at least 1 (read in the main process without shared buffers instead)"
            )
        self.per_worker = per_worker
        self.buffers = torch.empty((workers * per_worker, *shape)).share_memory_()
        self.busy = torch.zeros(workers * per_worker, dtype=torch.bool).share_memory_()

    def acquire(self) -> int | None:
        """Take a free buffer of the calling worker.

        Returns:
            The buffer's number, or None in the main process or when all of the worker's
            buffers are taken.
        """
        worker = get_worker_info()
        if worker is None:
            return None
        first = worker.id * self.per_worker
        for slot in range(first, first + self.per_worker):
            if not self.busy[slot]:
                self.busy[slot] = True
                return slot
        return None

    def release(self, slot: int) -> None:
        """Free a buffer once its batch has been used.

        Args:
            slot: the buffer's number, from :meth:`acquire`.
        """
        self.busy[slot] = False


class TileReader(Dataset[dict[str, Any]]):
    """Batches of a scene's tiles, normalised for a model, as a map-style PyTorch dataset.

    Indexed by a list of tile numbers (use a :class:`~torch.utils.data.BatchSampler` and
    ``batch_size=None`` in the DataLoader), it reads each row of tiles in the batch as one
    strip and normalises the tiles straight into one batch tensor, so no per-tile tensors
    are stacked. The batch is built pixel-interleaved (channels-last); with
    ``channels_last`` it is handed over in that memory format, so neither the reading
    worker nor the model's process reorders it. With ``shared`` batches, workers read into
    shared buffers: take a batch's tiles with :meth:`images` and hand the buffer back
    with :meth:`release`.
    """

    def __init__(
        self,
        scene: Scene,
        offsets: Sequence[tuple[int, int]],
        tile_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        channels_last: bool = False,
        shared: SharedBatches | None = None,
    ) -> None:
        """Initialize a new TileReader.

        Args:
            scene: the scene.
            offsets: (row, column) of every tile, from :func:`tile_offsets`.
            tile_size: tile side, in pixels.
            mean: per-band mean of raw pixel values.
            std: per-band standard deviation of raw pixel values.
            channels_last: whether batches are in channels-last memory format.
            shared: buffers for workers to read batches into, each of shape (batch size,
                tile_size, tile_size * bands).
        """
        self.scene = scene
        self.offsets = list(offsets)
        self.size = (tile_size, tile_size)
        # (raw - mean) / std as raw * scale + shift, over one pixel-interleaved tile row.
        scale = 1 / np.asarray(std, np.float64)
        shift = -np.asarray(mean, np.float64) * scale
        self.scale = torch.from_numpy(np.tile(scale, tile_size).astype(np.float32))
        self.shift = torch.from_numpy(np.tile(shift, tile_size).astype(np.float32))
        self.channels_last = channels_last
        self.shared = shared

    def __len__(self) -> int:
        """Number of tiles."""
        return len(self.offsets)

    def __getitem__(self, indices: Sequence[int]) -> dict[str, Any]:
        """Read a batch of tiles.

        Args:
            indices: tile numbers.

        Returns:
            ``error``, the one-line message of a read that failed, and ``index`` only,
            if one did; else ``valid`` (batch, height, width) bool array; ``index``
            (batch,) array of the tile numbers; ``slot``, the shared buffer holding the
            tiles (None if none does); ``image`` (batch, bands, height, width) float32
            tensor, normalised, 0 where invalid, if no shared buffer holds them
            (:meth:`images` returns them either way).
        """
        bands = self.scene.band_count
        height, width = self.size
        shared = self.shared
        slot = shared.acquire() if shared is not None else None
        if shared is None or slot is None:
            # Allocated by NumPy, which backs large arrays with transparent huge pages.
            shape = (len(indices), height, width * bands)
            image = torch.from_numpy(np.empty(shape, np.float32))
        else:
            image = shared.buffers[slot, : len(indices)]
        valid = np.empty((len(indices), height, width), bool)
        # One read per row of tiles in the batch: overlapping columns are read once.
        rows: dict[int, list[tuple[int, int]]] = {}
        for i, index in enumerate(indices):
            row_off, col_off = self.offsets[index]
            rows.setdefault(row_off, []).append((i, col_off))
        for row_off, members in rows.items():
            left = min(col for _, col in members)
            span = max(col for _, col in members) + width - left
            try:
                strip = self.scene.read(row_off, left, (height, span))
            except TGDCError as error:
                # Handed over as a batch: a worker's exception would reach the main
                # process as a traceback, not the one-line message.
                if shared is not None and slot is not None:
                    shared.release(slot)
                return {"error": str(error), "index": np.asarray(indices, np.intp), "slot": None}
            strip_valid = self.scene.valid(strip, row_off, left)
            pixels = torch.from_numpy(strip.reshape(height, span * bands))
            for i, col_off in members:
                start = col_off - left
                tile = pixels[:, start * bands : (start + width) * bands]
                torch.addcmul(self.shift, tile, self.scale, out=image[i])
                valid[i] = strip_valid[:, start : start + width]
        if not valid.all():
            image.view(len(indices), height, width, bands)[torch.from_numpy(~valid)] = 0
        batch: dict[str, Any] = {
            "valid": valid,
            "index": np.asarray(indices, dtype=np.intp),
            "slot": slot,
        }
        if slot is None:
            batch["image"] = self._layout(image)
        return batch

    def images(self, batch: dict[str, Any]) -> torch.Tensor:
        """The normalised tiles of a batch, wherever they were read to.

        Args:
            batch: a batch from this reader.

        Returns:
            A (batch, bands, height, width) float32 tensor.
        """
        if batch["slot"] is None or self.shared is None:
            return batch["image"]
        return self._layout(self.shared.buffers[batch["slot"], : len(batch["index"])])

    def release(self, batch: dict[str, Any]) -> None:
        """Hand a batch's shared buffer back to its worker (the tiles are not used again).

        Args:
            batch: a batch from this reader.
        """
        if batch["slot"] is not None and self.shared is not None:
            self.shared.release(batch["slot"])

    def _layout(self, image: torch.Tensor) -> torch.Tensor:
        """View pixel-interleaved tiles as a (batch, bands, height, width) tensor.

        Args:
            image: (batch, height, width * bands) tiles.

        Returns:
            The tiles, in channels-last memory format if the reader uses it.
        """
        height, width = self.size
        image = image.view(len(image), height, width, self.scene.band_count)
        image = image.permute(0, 3, 1, 2)
        return image if self.channels_last else image.contiguous()


def group_rasters(paths: Iterable[str | os.PathLike[str]]) -> list[list[Path | str]]:
    """Group raster files into mosaics of touching or overlapping files, in any CRS.

    Files are compared in the CRS of the first file (by path): neighbouring chips in two
    UTM zones touch there too, and are predicted as one mosaic.

    Args:
        paths: the files (checked with :class:`~torchgeo_datacenters.imagery.ImageryFile`).

    Returns:
        The groups, each sorted by path, in the order of their first paths.

    Raises:
        TGDCError: see :class:`~torchgeo_datacenters.imagery.ImageryFile`.
    """
    files = sorted((ImageryFile(path) for path in paths), key=lambda f: str(f.path))
    if not files:
        return []
    footprints = file_footprints(files, files[0].crs)
    tolerance = min(min(f.res) for f in files if f.crs == files[0].crs) / 2
    boxes = footprints.geometry.to_numpy()
    left, right = shapely.STRtree(boxes).query(boxes, predicate="dwithin", distance=tolerance)
    graph = coo_matrix((np.ones(left.size), (left, right)), shape=(len(files),) * 2)
    labels = connected_components(graph, directed=False)[1]
    groups = [[files[i].path for i in np.flatnonzero(labels == g)] for g in set(labels)]
    return sorted(groups, key=lambda group: str(group[0]))
