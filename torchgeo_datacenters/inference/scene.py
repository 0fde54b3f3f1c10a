"""A raster scene to predict on: its files or dataset, its grid, its valid pixels.

A scene is one GeoTIFF, several touching GeoTIFFs that form a mosaic (in one CRS or
several), or any TorchGeo :class:`~torchgeo.datasets.RasterDataset`. :func:`open_scene`
checks it and lays the :class:`~torchgeo_datacenters.grid.Grid` the model sees over it
(resampled to the checkpoint's pixel size where the input's differs too much);
:func:`group_rasters` groups loose files into such mosaics.

Files are read by :class:`~torchgeo_datacenters.imagery.ImageryFile`: plain windowed
reads for a file on the scene's pixel lattice, a decimated (or magnified) read for one at
another pixel size on the same axes that marks no pixel invalid (as TorchGeo's datasets
read it in training), an on-the-fly warp for any other (south-up rows, another CRS), every
file with its own validity (nodata, NaN, mask band, real alpha band; NAIP's alpha-tagged
NIR band is data). Datasets are read
through their own indexing, invalid where every band equals the dataset's nodata value or
any band is NaN. Invalid pixels are NaN as read.
"""

import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS
from rasterio import windows
from rasterio.enums import Resampling
from rasterio.features import geometry_mask
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from ..detections.grouping import connected_groups
from ..detections.metric import metric_crs, reproject
from ..detections.vectorize import pixel_size_m
from ..errors import TGDCError
from ..grid import Grid
from ..imagery import GSD_TOLERANCE, MAX_COARSER, ImageryFile, ImageryRules, input_scaling

if TYPE_CHECKING:
    import geopandas as gpd
    from torchgeo.datasets import RasterDataset
    from typing_extensions import TypeIs


def is_raster_dataset(source: Any) -> "TypeIs[RasterDataset]":
    """Tell whether *source* is a TorchGeo raster dataset, without importing TorchGeo.

    A raster dataset can only exist once ``torchgeo.datasets`` is imported, so a run on
    files never pays for that import (about 2.5 s: it brings in torchvision and
    ``torch._dynamo``).

    Args:
        source: anything.

    Returns:
        Whether it is a :class:`~torchgeo.datasets.RasterDataset`.
    """
    datasets = sys.modules.get("torchgeo.datasets")
    return datasets is not None and isinstance(source, datasets.RasterDataset)


def file_outlines(files: Sequence[ImageryFile], crs: CRS) -> list[BaseGeometry]:
    """Outlines of raster files in one CRS.

    Args:
        files: the files.
        crs: the CRS to draw them in.

    Returns:
        The outline of every file in *crs*, its edges densified (every 64 pixels) so
        that they bend as the file's edges do in *crs*.
    """
    return [
        reproject(shapely.box(*f.bounds).segmentize(max(f.res) * 64), f.crs, crs) for f in files
    ]


class Scene:
    """A raster scene to predict on, read tile by tile."""

    def __init__(
        self,
        grid: Grid,
        band_count: int,
        files: Sequence[str | os.PathLike[str]],
        outlines: Sequence[BaseGeometry],
        *,
        imagery: Sequence[ImageryFile] = (),
        dataset: "RasterDataset | None" = None,
        nodata: float | None = None,
        resampling: Resampling = Resampling.nearest,
        input_grid: Grid | None = None,
    ) -> None:
        """Initialize a new Scene (use :func:`open_scene`).

        Args:
            grid: the grid the model sees.
            band_count: number of bands of every tile.
            files: the raster files.
            outlines: the outline of every file, in the grid's CRS.
            imagery: the raster files, read in this order (the first valid pixel wins).
            dataset: the TorchGeo dataset to read instead of *imagery*.
            nodata: value that marks nodata pixels of *dataset* (in every band), or None.
            resampling: how files off the grid's lattice are resampled.
            input_grid: the grid of the input, where it differs from *grid* (resampled).
        """
        self.grid = grid
        self.input_grid = input_grid or grid
        self.band_count = band_count
        self.files = tuple(Path(path) for path in files)
        self.outlines = tuple(outlines)
        self.imagery = tuple(imagery)
        self.dataset = dataset
        self.nodata = nodata
        self.resampling = resampling
        footprint = shapely.union_all(self.outlines)
        self.footprint = None if footprint.covers(shapely.box(*grid.bounds)) else footprint
        #: Whether a pixel's validity is known only from its values; where not, it is valid
        #: inside the scene and its footprint (:meth:`valid_area`), whatever it holds:
        #: files on the grid's lattice that mark no pixel invalid.
        self.validity_needs_pixels = dataset is not None or any(
            file.marks_invalid or file.lattice_offset(grid.transform, grid.crs) is None
            for file in self.imagery
        )

    @property
    def footprints(self) -> "gpd.GeoDataFrame":
        """A GeoDataFrame of the ``filepath`` and outline of every file, in the grid's CRS."""
        import geopandas as gpd

        return gpd.GeoDataFrame(
            {"filepath": [str(path) for path in self.files]},
            geometry=list(self.outlines),
            crs=self.grid.crs,
        )

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
        t = self.grid.transform
        x0, y0, x1, y1 = windows.bounds(Window(col_off, row_off, size[1], size[0]), t)
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
        valid = self.valid_area(row_off, col_off, tile.shape[:2])
        valid &= ~np.isnan(tile).any(axis=2)
        return valid

    def valid_area(self, row_off: int, col_off: int, size: tuple[int, int]) -> np.ndarray:
        """Find the pixels of a tile inside the scene and its footprint.

        Where :attr:`validity_needs_pixels` is false, these are the valid pixels, known
        without reading the tile.

        Args:
            row_off: scene row of the tile's top edge.
            col_off: scene column of the tile's left edge.
            size: tile (height, width), in pixels.

        Returns:
            A (height, width) boolean array.
        """
        height, width = size
        valid = self._inside(row_off, col_off, size)
        if self.footprint is not None:
            window = Window(col_off, row_off, width, height)
            transform = windows.transform(window, self.grid.transform)
            valid &= geometry_mask(
                [self.footprint], out_shape=(height, width), transform=transform, invert=True
            )
        return valid


def dataset_band_count(dataset: "RasterDataset") -> int:
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
    source: "str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | RasterDataset",
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
    if is_raster_dataset(source):
        if not source.is_image:
            raise TGDCError(f"{type(source).__name__}: is a mask dataset; give imagery")
        count = dataset_band_count(source)
        if count != band_count:
            raise TGDCError(
                f"{type(source).__name__} ({source.files[0]} ...): returns {count} band(s) but"
                f" the checkpoint expects {band_count}"
            )
        nodata = source.nodata if source.nodata is not None else ImageryFile(source.files[0]).nodata
        index = source.index
        return Scene(
            Grid.from_dataset(source),
            count,
            index["filepath"],
            index.geometry.to_numpy(),
            dataset=source,
            nodata=nodata,
        )
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    if not paths:
        raise TGDCError("image: no raster files given")
    files = [ImageryFile(path, band_count) for path in paths]
    for file in files:
        file.scale, file.offset = input_scaling(
            str(file.path), file.dtype, rules.input_scale, rules.dtype, rules.value_range
        )
    grid = Grid.over_files(files)
    model_grid = resampled_grid(files, grid, rules)
    return Scene(
        model_grid,
        band_count,
        [file.path for file in files],
        file_outlines(files, model_grid.crs),
        imagery=files,
        resampling=Resampling.nearest if model_grid == grid else Resampling.bilinear,
        input_grid=grid,
    )


def resampled_grid(files: Sequence[ImageryFile], grid: Grid, rules: ImageryRules) -> Grid:
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
        TGDCError: if the pixel sizes differ and the rules refuse to resample, or the
            input's pixels are more than :data:`MAX_COARSER` times the checkpoint's.
    """
    if rules.gsd is None:
        return grid
    metric = metric_crs(grid.crs, grid.bounds)
    size = pixel_size_m(grid.transform, grid.crs, metric, (grid.height, grid.width))
    if abs(size / rules.gsd - 1) <= GSD_TOLERANCE:
        return grid
    name = files[0].path
    if size > MAX_COARSER * rules.gsd * (1 + GSD_TOLERANCE):
        raise TGDCError(
            f"{name}: pixels are {size:.2f} m on the ground, {size / rules.gsd:.1f}x the"
            f" {rules.gsd:g} m the checkpoint was trained on: too coarse to show a data"
            f" center (resampling cannot add the detail the model looks for); give imagery"
            f" of {MAX_COARSER * rules.gsd:g} m pixels or finer (NAIP: 0.6 m from 2016, 1 m"
            " before), or train a checkpoint on imagery of this pixel size (set"
            " data.init_args.gsd)"
        )
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
    return Grid.over_files(files, crs=metric, res=(rules.gsd, rules.gsd))


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
    tolerance = min(min(f.res) for f in files if f.crs == files[0].crs) / 2
    boxes = file_outlines(files, files[0].crs)
    left, right = shapely.STRtree(boxes).query(boxes, predicate="dwithin", distance=tolerance)
    labels = connected_groups((left, right), len(files))
    groups = [[files[i].path for i in np.flatnonzero(labels == g)] for g in set(labels)]
    return sorted(groups, key=lambda group: str(group[0]))


def assign_sources(detections: "gpd.GeoDataFrame", scene: Scene) -> "gpd.GeoDataFrame":
    """Name, for every detection, the raster file its centroid lies in (or nearest to).

    Args:
        detections: detections in EPSG:4326.
        scene: the scene they were found in.

    Returns:
        The detections with the ``source`` column filled with file names.
    """
    import geopandas as gpd

    detections = detections.copy()
    if len(scene.files) == 1 or detections.empty:
        detections["source"] = scene.files[0].name
        return detections
    footprints = scene.footprints
    centroids = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(detections["centroid_lon"], detections["centroid_lat"]),
        crs="EPSG:4326",
    ).to_crs(footprints.crs)
    joined = gpd.sjoin_nearest(centroids, footprints, how="left")
    joined = joined.sort_values("filepath", kind="stable")
    nearest = joined[~joined.index.duplicated(keep="first")].sort_index()
    detections["source"] = [Path(path).name for path in nearest["filepath"]]
    return detections
