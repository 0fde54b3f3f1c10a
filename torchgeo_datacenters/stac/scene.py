"""Download one NAIP scene around a point or over a box (the seed's ``download_naip.py``)."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rasterio.enums import Resampling

from ..errors import TGDCError
from ..grid import Grid
from ..outputs.space import check_free_space
from ..utils import check_output_path
from .grid import grid_around, grid_for_bbox
from .mosaic import Mosaic, format_bytes, mosaic_items, write_mosaic
from .search import NaipCatalog


@dataclass(frozen=True)
class SceneResult:
    """What :func:`download_scene` wrote.

    Attributes:
        path: the GeoTIFF.
        grid: its grid (CRS, transform, size).
        item_ids: ids of the STAC items that supplied pixels, newest first.
        dates: their acquisition dates, oldest first.
        coverage: fraction of pixels holding imagery (the rest are nodata, 0).
        bytes_read: compressed bytes of COG tiles read (see
            :func:`~torchgeo_datacenters.stac.mosaic.tile_bytes`).
    """

    path: Path
    grid: Grid
    item_ids: tuple[str, ...]
    dates: tuple[str, ...]
    coverage: float
    bytes_read: int

    @classmethod
    def from_mosaic(cls, path: Path, mosaic: Mosaic) -> "SceneResult":
        """Describe a written mosaic.

        Args:
            path: where it was written.
            mosaic: the mosaic.

        Returns:
            The result.
        """
        return cls(
            path=path,
            grid=mosaic.grid,
            item_ids=tuple(item.id for item in mosaic.items),
            dates=tuple(date.isoformat() for date in mosaic.dates),
            coverage=mosaic.coverage,
            bytes_read=mosaic.bytes_read,
        )

    def summary(self) -> str:
        """One line for the user.

        Returns:
            The summary.
        """
        grid = self.grid
        return (
            f"wrote {self.path}: {grid.width}x{grid.height} px at {grid.res:g} m in"
            f" {grid.crs.to_string()}, {self.coverage:.1%} imaged, from {len(self.item_ids)}"
            f" NAIP item(s) acquired {', '.join(self.dates)}; read {format_bytes(self.bytes_read)}"
            " of COG tiles"
        )


def scene_grid(
    lat: float | None = None,
    lon: float | None = None,
    size: int | None = None,
    bbox: Sequence[float] | None = None,
) -> Grid:
    """The output grid of a scene given by centre and size, or by a box.

    Args:
        lat: latitude of the centre in degrees.
        lon: longitude of the centre in degrees.
        size: width and height in pixels (0.6 m each).
        bbox: ``(minlon, minlat, maxlon, maxlat)`` in degrees, instead of the centre.

    Returns:
        The grid.

    Raises:
        TGDCError: if neither or both ways are given, a value is missing or out of range,
            or the area is outside NAIP coverage.
    """
    point = (lat, lon, size)
    if bbox is not None:
        if any(value is not None for value in point):
            raise TGDCError("give either bbox or lat/lon/size, not both")
        return grid_for_bbox(bbox)
    if lat is None or lon is None or size is None:
        raise TGDCError("give lat, lon and size (pixels), or bbox")
    return grid_around(lon, lat, size)


def download_scene(
    output: str | os.PathLike[str],
    *,
    lat: float | None = None,
    lon: float | None = None,
    size: int | None = None,
    bbox: Sequence[float] | None = None,
    year: int | None = None,
    catalog: NaipCatalog | None = None,
    resampling: Resampling = Resampling.nearest,
    overwrite: bool = False,
    progress: bool | None = None,
) -> SceneResult:
    """Download NAIP around a point or over a box as one 4-band Cloud-Optimised GeoTIFF.

    The scene is a grid in the local NAD83 UTM zone at 0.6 m (see
    :mod:`~torchgeo_datacenters.stac.grid`), mosaicked from every NAIP item that
    intersects it, newest acquisition on top, with ``nodata=0`` where no item covers.
    Everything that can be checked offline (the area, the year, the output path) is
    checked before the first request.

    Args:
        output: the GeoTIFF to write.
        lat: latitude of the centre in degrees.
        lon: longitude of the centre in degrees.
        size: width and height in pixels (0.6 m each; 2560 px = 1536 m).
        bbox: ``(minlon, minlat, maxlon, maxlat)`` in degrees, instead of the centre.
        year: only imagery acquired in this year (``None``: the newest of any year).
        catalog: the STAC collection to search, with its network settings (default:
            NAIP on Microsoft Planetary Computer).
        resampling: how to resample sources that are off the 0.6 m lattice.
        overwrite: replace an existing *output*.
        progress: show a progress bar (``None``: only on a terminal).

    Returns:
        What was written.

    Raises:
        TGDCError: for an invalid area or year, an existing *output*, an unreachable or
            failing STAC API or image server, no imagery for the year, or no imagery
            covering any pixel of the scene. No file is left behind.
    """
    grid = scene_grid(lat, lon, size, bbox)
    output = check_output_path(output, overwrite=overwrite)
    # Before any request: the mosaic at most, 4 uint8 bands per pixel, uncompressed.
    check_free_space({output: grid.width * grid.height * 4})
    catalog = catalog or NaipCatalog()
    items = catalog.search(grid.footprint(), year)
    when = f"in {year}" if year is not None else "in any year"
    if not items:
        raise TGDCError(
            f"no NAIP imagery {when} at {_where(lat, lon, bbox)} in collection"
            f" {catalog.collection!r} of {catalog.url}; try another --year or omit it"
        )
    mosaic = mosaic_items(
        items,
        grid,
        catalog.asset_href,
        network=catalog.network,
        resampling=resampling,
        progress=progress,
        description=output.name,
    )
    if not mosaic.items:
        raise TGDCError(
            f"{len(items)} NAIP item(s) {when} touch {_where(lat, lon, bbox)} but none has"
            " imagery inside the scene; try another --year or a larger area"
        )
    return SceneResult.from_mosaic(write_mosaic(mosaic, output, overwrite=overwrite), mosaic)


def _where(lat: float | None, lon: float | None, bbox: Sequence[float] | None) -> str:
    return f"bbox {tuple(bbox)}" if bbox is not None else f"lat {lat}, lon {lon}"
