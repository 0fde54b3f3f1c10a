"""The north-up pixel grid of a raster: where imagery is read from and outputs are written to.

:class:`Grid` is the one grid of the package: a download's output
(:mod:`~torchgeo_datacenters.stac.grid` lays it out in the local UTM zone), the grid a
model sees when it predicts a scene (laid over the scene's files or a TorchGeo dataset) and
the grid of every output raster. Bounds come from :func:`rasterio.transform.array_bounds`
and windows from :mod:`rasterio.windows`.

Nothing here imports torch or torchgeo.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import pyproj
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import WindowError
from rasterio.transform import array_bounds
from rasterio.warp import transform_bounds, transform_geom
from rasterio.windows import Window, from_bounds
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    from torchgeo.datasets import RasterDataset

    from .imagery import ImageryFile

#: A coordinate reference system as rasterio or pyproj gives it.
type AnyCRS = CRS | pyproj.CRS

#: Edges within this fraction of a pixel of a pixel edge are on it (float round-off).
EDGE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid.

    Attributes:
        crs: coordinate reference system.
        transform: affine transform of the top-left pixel corner.
        width: columns.
        height: rows.
    """

    crs: AnyCRS
    transform: Affine
    width: int
    height: int

    @property
    def gdal_crs(self) -> str:
        """The CRS as GDAL writes it unchanged into a GeoTIFF (for ``rasterio.open(crs=...)``).

        GDAL's GeoTIFF writer, given the WKT2 pyproj makes of a compound CRS, writes its
        vertical part in metres (a State Plane ftUS + NAVD88 height ftUS scene's mask came
        back in NAVD88 metres). An authority code it resolves itself keeps every part, so
        the code is given where the CRS is exactly one, else WKT1 where that describes it
        exactly, else WKT2.

        Returns:
            ``AUTHORITY:CODE`` or WKT.
        """
        crs = pyproj.CRS.from_user_input(self.crs)
        authority = crs.to_authority(min_confidence=100)
        if authority is not None and pyproj.CRS(":".join(authority)) == crs:
            return ":".join(authority)
        wkt1 = crs.to_wkt("WKT1_GDAL")
        if wkt1 is not None and pyproj.CRS.from_wkt(wkt1) == crs:
            return wkt1
        return crs.to_wkt()

    @property
    def res(self) -> float:
        """Pixel width in CRS units."""
        return self.transform.a

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in CRS units."""
        west, south, east, north = array_bounds(self.height, self.width, self.transform)
        return west, south, east, north

    def footprint(self, crs: AnyCRS | str = "EPSG:4326") -> shapely.Polygon:
        """The grid's outline in another CRS, densified so that it stays exact.

        Args:
            crs: the CRS of the outline.

        Returns:
            The outline.
        """
        box = shapely.segmentize(shapely.box(*self.bounds), self.res * 64)
        outline = shapely.geometry.shape(
            transform_geom(self.crs, crs, shapely.geometry.mapping(box))
        )
        # shape() is typed as any geometry; a box's outline is a polygon.
        return cast(shapely.Polygon, outline)

    def window_of(self, geometry: BaseGeometry, crs: AnyCRS | str = "EPSG:4326") -> Window | None:
        """The smallest window of whole pixels that holds a geometry's part in the grid.

        Args:
            geometry: the geometry.
            crs: its CRS.

        Returns:
            The window, or ``None`` if the geometry lies outside the grid.
        """
        projected = transform_geom(crs, self.crs, shapely.geometry.mapping(geometry))
        bounds = shapely.geometry.shape(projected).bounds
        return pixel_window(bounds, self.transform, self.width, self.height)

    @classmethod
    def from_dataset(cls, dataset: "RasterDataset") -> "Grid":
        """Lay a north-up grid over the bounds of a TorchGeo dataset at its resolution.

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
        files: Sequence["ImageryFile"],
        crs: AnyCRS | None = None,
        res: tuple[float, float] | None = None,
    ) -> "Grid":
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
            left = x0 + math.floor((left - x0) / xres + EDGE_TOLERANCE) * xres
            top = y0 - math.floor((y0 - top) / yres + EDGE_TOLERANCE) * yres
        return cls(
            crs=crs,
            transform=Affine(xres, 0.0, left, 0.0, -yres, top),
            width=max(math.ceil((right - left) / xres - EDGE_TOLERANCE), 1),
            height=max(math.ceil((top - bottom) / yres - EDGE_TOLERANCE), 1),
        )


def pixel_window(
    bounds: tuple[float, float, float, float], transform: Affine, width: int, height: int
) -> Window | None:
    """The smallest window of whole pixels of a raster that holds the part of a box in it.

    Args:
        bounds: ``(left, bottom, right, top)`` in the raster's CRS.
        transform: the raster's (north-up) transform.
        width: the raster's columns.
        height: the raster's rows.

    Returns:
        The window, or ``None`` if the box lies outside the raster.
    """
    try:
        window = from_bounds(*bounds, transform=transform)
        # Outward to whole pixels (rasterio's own rounding allows a tenth of a pixel).
        col0 = math.floor(window.col_off + EDGE_TOLERANCE)
        row0 = math.floor(window.row_off + EDGE_TOLERANCE)
        col1 = math.ceil(window.col_off + window.width - EDGE_TOLERANCE)
        row1 = math.ceil(window.row_off + window.height - EDGE_TOLERANCE)
        return Window(col0, row0, col1 - col0, row1 - row0).intersection(
            Window(0, 0, width, height)
        )
    except WindowError:  # inverted bounds, or no pixel in common
        return None
