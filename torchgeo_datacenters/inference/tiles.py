"""Read a scene as a grid of overlapping, normalised tiles: the predictor's input side.

A scene is one GeoTIFF, several touching GeoTIFFs that form a mosaic, or any TorchGeo
:class:`~torchgeo.datasets.RasterDataset`. Its tiles are laid out by TorchGeo's
:class:`~torchgeo.samplers.GriddedPatchSampler` (stride = tile - overlap) and placed on
the scene's pixel grid by rounding their float64 corners. Tiles that would stick out of a
scene at least one tile wide are moved inside it, so tiles only reach past the border (and
are padded) when the scene is smaller than a tile.

A single GeoTIFF is read with plain windowed reads (GDAL reads no more than the tile, and
band 4 of NAIP, which GDAL takes for alpha, is left alone); mosaics and datasets go
through the dataset's own indexing. Pixels are nodata where every band equals the
rasters' nodata value or where no raster covers them; such pixels become 0 after
normalisation and are marked invalid.
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
import torch
from affine import Affine
from pyproj import CRS
from rasterio.features import geometry_mask
from rasterio.windows import Window
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from torch.utils.data import Dataset, get_worker_info
from torchgeo.datasets import RasterDataset
from torchgeo.samplers import GriddedPatchSampler

from ..errors import TGDCError


class SceneDataset(RasterDataset):
    """Georeferenced rasters of any band count, read with all their bands."""

    filename_glob = "*"


@dataclass(frozen=True)
class RasterInfo:
    """What the predictor needs to know about one raster file."""

    path: Path
    count: int
    crs: CRS
    nodata: float | None
    bounds: tuple[float, float, float, float]
    res: tuple[float, float]


def inspect_raster(path: str | os.PathLike[str]) -> RasterInfo:
    """Open a raster file and check that it can be predicted on.

    Args:
        path: the raster file.

    Returns:
        Its band count, CRS, nodata value, bounds and resolution.

    Raises:
        TGDCError: if the file is missing, not a raster, or has no CRS or geotransform.
    """
    path = Path(path)
    if not path.is_file():
        raise TGDCError(f"{path}: image file does not exist")
    try:
        with rasterio.open(path) as src:
            info = RasterInfo(
                path=path,
                count=src.count,
                crs=CRS.from_user_input(src.crs) if src.crs else None,
                nodata=src.nodata,
                bounds=tuple(src.bounds),
                res=src.res,
            )
            rectilinear = src.transform.b == 0 and src.transform.d == 0
            identity = src.transform.is_identity
    except rasterio.errors.RasterioIOError as error:
        raise TGDCError(f"{path}: not a readable raster ({error})") from error
    if info.crs is None:
        raise TGDCError(
            f"{path}: raster has no CRS; assign one (e.g. gdal_edit.py -a_srs EPSG:26916)"
        )
    if identity or not rectilinear:
        raise TGDCError(
            f"{path}: raster has no north-up geotransform; warp it first (gdalwarp -t_srs ...)"
        )
    return info


def check_band_count(info: RasterInfo, band_count: int) -> None:
    """Check that a raster has the bands a model expects.

    Args:
        info: the raster.
        band_count: number of bands the model was trained on.

    Raises:
        TGDCError: if the counts differ.
    """
    if info.count != band_count:
        raise TGDCError(
            f"{info.path}: has {info.count} band(s) but the checkpoint expects {band_count};"
            " give imagery with the bands the model was trained on"
        )


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


class Scene:
    """A raster scene to predict on, read tile by tile."""

    def __init__(
        self,
        dataset: RasterDataset,
        *,
        band_count: int,
        nodata: float | None,
        files: Sequence[Path],
        single_file: bool,
    ) -> None:
        """Initialize a new Scene (use :func:`open_scene`).

        Args:
            dataset: the scene as a TorchGeo dataset (used for tiling and mosaics).
            band_count: number of bands of every tile.
            nodata: value that marks nodata pixels (in every band), or None.
            files: the raster files behind the scene.
            single_file: whether the scene is exactly ``files[0]`` on its own grid, read
                with windowed reads instead of through the dataset.
        """
        self.dataset = dataset
        self.grid = SceneGrid.from_dataset(dataset)
        self.band_count = band_count
        self.nodata = nodata
        self.files = tuple(files)
        self.single_file = single_file
        footprint = dataset.index.geometry.union_all()
        full = shapely.box(*self.grid.bounds)
        self.footprint = None if footprint.covers(full) else footprint
        self._src: Any = None
        self._pid = -1

    def read(self, row_off: int, col_off: int, size: tuple[int, int]) -> np.ndarray:
        """Read a tile of raw pixel values, zero outside the scene.

        Args:
            row_off: scene row of the tile's top edge.
            col_off: scene column of the tile's left edge.
            size: tile (height, width), in pixels.

        Returns:
            A (height, width, bands) float32 array: pixel-interleaved, the memory layout
            of a channels-last batch.
        """
        height, width = size
        if not self.single_file:
            t = self.grid.transform
            x0, y1 = t @ (col_off, row_off)
            x1, y0 = t @ (col_off + width, row_off + height)
            sample = self.dataset[slice(x0, x1, t.a), slice(y0, y1, -t.e)]
            image = sample["image"].numpy().transpose(1, 2, 0)
            return np.ascontiguousarray(image, dtype=np.float32)
        if self._pid != os.getpid():
            self._src = rasterio.open(self.files[0])
            self._pid = os.getpid()
        r0, r1 = max(row_off, 0), min(row_off + height, self.grid.height)
        c0, c1 = max(col_off, 0), min(col_off + width, self.grid.width)
        inside = (r0, r1, c0, c1) == (row_off, row_off + height, col_off, col_off + width)
        tile = (np.empty if inside else np.zeros)((height, width, self.band_count), np.float32)
        if r0 < r1 and c0 < c1:
            window = Window(c0, r0, c1 - c0, r1 - r0)
            part = tile[r0 - row_off : r1 - row_off, c0 - col_off : c1 - col_off]
            # GDAL converts to float32 and interleaves the bands as it copies the pixels.
            self._src.read(window=window, out=part.transpose(2, 0, 1))
        return tile

    def valid(self, tile: np.ndarray, row_off: int, col_off: int) -> np.ndarray:
        """Find the pixels of a tile that hold data.

        Args:
            tile: (height, width, bands) raw values from :meth:`read`.
            row_off: scene row of the tile's top edge.
            col_off: scene column of the tile's left edge.

        Returns:
            A (height, width) boolean array, false outside the scene or its footprint and
            where every band is nodata.
        """
        height, width, _ = tile.shape
        rows = np.arange(row_off, row_off + height)
        cols = np.arange(col_off, col_off + width)
        valid = np.outer(
            (rows >= 0) & (rows < self.grid.height), (cols >= 0) & (cols < self.grid.width)
        )
        if self.nodata is not None:
            nodata = np.isnan(tile) if np.isnan(self.nodata) else tile == self.nodata
            valid &= ~nodata.all(axis=2)
        if self.footprint is not None:
            transform = self.grid.transform @ Affine.translation(col_off, row_off)
            valid &= geometry_mask(
                [self.footprint], out_shape=(height, width), transform=transform, invert=True
            )
        return valid

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open file handle (workers open their own)."""
        state = self.__dict__.copy()
        state["_src"], state["_pid"] = None, -1
        return state


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
    return inspect_raster(dataset.files[0]).count


def open_scene(
    source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | RasterDataset,
    band_count: int,
) -> Scene:
    """Open a GeoTIFF, a mosaic of GeoTIFFs or a raster dataset for prediction.

    Args:
        source: one raster file, several (a mosaic, warped to the first one's CRS), or a
            TorchGeo raster dataset of images.
        band_count: number of bands the model expects.

    Returns:
        The scene.

    Raises:
        TGDCError: if a file is missing, not a raster, has no CRS or the wrong number of
            bands, or the dataset holds masks rather than images.
    """
    if isinstance(source, RasterDataset):
        if not source.is_image:
            raise TGDCError(f"{type(source).__name__}: is a mask dataset; give imagery")
        files = [Path(f) for f in source.files]
        count = dataset_band_count(source)
        if count != band_count:
            raise TGDCError(
                f"{type(source).__name__} ({files[0]} ...): returns {count} band(s) but the"
                f" checkpoint expects {band_count}"
            )
        nodata = source.nodata if source.nodata is not None else inspect_raster(files[0]).nodata
        return Scene(source, band_count=count, nodata=nodata, files=files, single_file=False)
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not paths:
        raise TGDCError("image: no raster files given")
    infos = [inspect_raster(path) for path in paths]
    for info in infos:
        check_band_count(info, band_count)
    dataset = SceneDataset([str(info.path) for info in infos])
    return Scene(
        dataset,
        band_count=band_count,
        nodata=infos[0].nodata,
        files=[info.path for info in infos],
        single_file=len(infos) == 1,
    )


def check_tiling(tile_size: int, overlap: int) -> None:
    """Check a tile size and overlap.

    Args:
        tile_size: tile side, in pixels.
        overlap: overlap between neighbouring tiles, in pixels.

    Raises:
        TGDCError: if the tile size is not positive, the overlap negative, or the overlap
            not smaller than the tile.
    """
    if not isinstance(tile_size, int) or tile_size <= 0:
        raise TGDCError(f"tile_size: {tile_size!r} must be a positive whole number of pixels")
    if not isinstance(overlap, int) or not 0 <= overlap < tile_size:
        raise TGDCError(
            f"overlap: {overlap!r} px must be a whole number from 0 to tile_size - 1"
            f" ({tile_size - 1})"
        )


def tile_offsets(scene: Scene, tile_size: int, overlap: int) -> list[tuple[int, int]]:
    """Lay out the tiles of a scene with TorchGeo's gridded sampler.

    Args:
        scene: the scene.
        tile_size: tile side, in pixels.
        overlap: overlap between neighbouring tiles, in pixels.

    Returns:
        The (row, column) offsets of the tiles' top-left corners on the scene grid, in
        row order. Tiles are moved inside the scene where it is at least a tile wide.

    Raises:
        TGDCError: see :func:`check_tiling`.
    """
    check_tiling(tile_size, overlap)
    sampler = GriddedPatchSampler(scene.dataset, size=tile_size, stride=tile_size - overlap)
    inverse = ~scene.grid.transform
    offsets = set()
    for x, y, *_ in sampler:
        col, row = inverse @ (float(x.start), float(y.stop))
        row, col = round(row), round(col)
        if scene.grid.height >= tile_size:
            row = min(max(row, 0), scene.grid.height - tile_size)
        if scene.grid.width >= tile_size:
            col = min(max(col, 0), scene.grid.width - tile_size)
        offsets.add((row, col))
    return sorted(offsets)


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
            ``valid`` (batch, height, width) bool array; ``index`` (batch,) array of the
            tile numbers; ``slot``, the shared buffer holding the tiles (None if none
            does); ``image`` (batch, bands, height, width) float32 tensor, normalised, 0
            where invalid, if no shared buffer holds them (:meth:`images` returns them
            either way).
        """
        bands = self.scene.band_count
        height, width = self.size
        slot = self.shared.acquire() if self.shared is not None else None
        if slot is None:
            # Allocated by NumPy, which backs large arrays with transparent huge pages.
            shape = (len(indices), height, width * bands)
            image = torch.from_numpy(np.empty(shape, np.float32))
        else:
            image = self.shared.buffers[slot, : len(indices)]
        valid = np.empty((len(indices), height, width), bool)
        # One read per row of tiles in the batch: overlapping columns are read once.
        rows: dict[int, list[tuple[int, int]]] = {}
        for i, index in enumerate(indices):
            row_off, col_off = self.offsets[index]
            rows.setdefault(row_off, []).append((i, col_off))
        for row_off, members in rows.items():
            left = min(col for _, col in members)
            span = max(col for _, col in members) + width - left
            strip = self.scene.read(row_off, left, (height, span))
            strip_valid = self.scene.valid(strip, row_off, left)
            pixels = torch.from_numpy(strip.reshape(height, span * bands))
            for i, col_off in members:
                start = col_off - left
                tile = pixels[:, start * bands : (start + width) * bands]
                torch.addcmul(self.shift, tile, self.scale, out=image[i])
                valid[i] = strip_valid[:, start : start + width]
        if not valid.all():
            image.view(len(indices), height, width, bands)[torch.from_numpy(~valid)] = 0
        batch = {"valid": valid, "index": np.asarray(indices, dtype=np.intp), "slot": slot}
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
        if batch["slot"] is None:
            return batch["image"]
        return self._layout(self.shared.buffers[batch["slot"], : len(batch["index"])])

    def release(self, batch: dict[str, Any]) -> None:
        """Hand a batch's shared buffer back to its worker (the tiles are not used again).

        Args:
            batch: a batch from this reader.
        """
        if batch["slot"] is not None:
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


def group_rasters(paths: Iterable[str | os.PathLike[str]]) -> list[list[Path]]:
    """Group raster files into mosaics of touching or overlapping files sharing a CRS.

    Args:
        paths: the files (checked with :func:`inspect_raster`).

    Returns:
        The groups, each sorted by path, in the order of their first paths.

    Raises:
        TGDCError: see :func:`inspect_raster`.
    """
    infos = sorted((inspect_raster(path) for path in paths), key=lambda info: str(info.path))
    by_crs: dict[str, list[RasterInfo]] = {}
    for info in infos:
        by_crs.setdefault(info.crs.to_wkt(), []).append(info)
    groups = []
    for members in by_crs.values():
        boxes = np.array([shapely.box(*info.bounds) for info in members])
        tolerance = min(min(info.res) for info in members) / 2
        left, right = shapely.STRtree(boxes).query(boxes, predicate="dwithin", distance=tolerance)
        graph = coo_matrix((np.ones(left.size), (left, right)), shape=(len(members),) * 2)
        labels = connected_components(graph, directed=False)[1]
        groups += [[members[i].path for i in np.flatnonzero(labels == g)] for g in set(labels)]
    return sorted(groups, key=lambda group: str(group[0]))
