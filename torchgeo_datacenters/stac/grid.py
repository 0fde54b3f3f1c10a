"""Output grids of a download: a north-up window of the local UTM zone at NAIP's 0.6 m.

Every download is written on a :class:`~torchgeo_datacenters.grid.Grid` in the NAD83 UTM
zone of its centre (the CRS NAIP itself is published in), at 0.6 m, with pixel edges on
whole multiples of the resolution (like ``gdalwarp -tap``): two downloads of neighbouring
areas share one pixel lattice, and a source already on that lattice is copied without
resampling.
"""

import math
from collections.abc import Sequence

import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform, transform_bounds
from shapely.geometry.base import BaseGeometry

from ..errors import TGDCError
from ..grid import Grid
from ..naip import GSD

#: Ground sample distance of current NAIP imagery and of every download, in metres.
NAIP_RESOLUTION = GSD

#: Where NAIP has imagery: one ``(west, south, east, north)`` box in degrees per part
#: (the contiguous states, Hawaii, Puerto Rico, the US Virgin Islands), each drawn around
#: the territory's land (not copied from the Planetary Computer collection, which was not
#: reachable when they were written). Sites and areas
#: are checked against it before any network call; a live catalogue's own extent is
#: checked again before its search (:meth:`NaipCatalog.check_covered
#: <torchgeo_datacenters.stac.search.NaipCatalog.check_covered>`).
NAIP_COVERAGE: dict[str, tuple[float, float, float, float]] = {
    "contiguous states": (-125.0, 24.0, -66.5, 49.5),
    "Hawaii": (-160.3, 18.9, -154.8, 22.3),
    "Puerto Rico": (-68.0, 17.8, -65.2, 18.6),
    "US Virgin Islands": (-65.1, 17.6, -64.5, 18.5),
}

#: Largest width or height of a download, in pixels (10,000 px = 6 km at 0.6 m, 400 MB
#: in memory while mosaicking).
MAX_SIZE = 10_000


def utm_crs(lon: float, lat: float) -> CRS:
    """The NAD83 UTM zone of a point, the CRS NAIP is published in.

    Args:
        lon: longitude in degrees (west of Greenwich is negative).
        lat: latitude in degrees.

    Returns:
        ``EPSG:269NN`` for zone NN (NAD83 defines zones 1 to 23, which span North America;
        the contiguous United States lies in zones 10 to 19).
    """
    zone = int((lon + 180) // 6) + 1
    return CRS.from_epsg(26900 + zone)


#: The boxes of :data:`NAIP_COVERAGE`.
_BOXES = list(NAIP_COVERAGE.values())


def _covered(lon: float, lat: float) -> bool:
    """Whether a point lies in a part of :data:`NAIP_COVERAGE`."""
    return any(w <= lon <= e and s <= lat <= n for w, s, e, n in _BOXES)


def swapped_advice(region: BaseGeometry, boxes: Sequence[tuple[float, float, float, float]]) -> str:
    """Advice for a region that meets none of *boxes* but would with its axes swapped.

    Coordinates given latitude first (as a map app copies them) put a US site in
    Antarctica or the Indian Ocean; read the other way round they land where the user meant.

    Args:
        region: the region, in longitude/latitude (EPSG:4326), outside every box.
        boxes: ``(west, south, east, north)`` boxes in degrees.

    Returns:
        ``"; longitude comes first: ..."`` naming the swapped extent where the swapped
        region meets a box, else ``""``.
    """
    flipped = shapely.transform(region, lambda coordinates: coordinates[:, ::-1])
    if not any(flipped.intersects(shapely.box(*box)) for box in boxes):
        return ""
    west, south, east, north = flipped.bounds
    where = (
        f"lon {west:g}, lat {south:g}"
        if flipped.geom_type == "Point"
        else f"lon {west:g} to {east:g}, lat {south:g} to {north:g}"
    )
    return f"; longitude comes first: read the other way round, it is {where}, which NAIP covers"


def check_lonlat(lon: float, lat: float) -> None:
    """Check that a point is a longitude/latitude inside a part of :data:`NAIP_COVERAGE`.

    Args:
        lon: longitude in degrees.
        lat: latitude in degrees.

    Raises:
        TGDCError: if *lat* or *lon* is not a coordinate, or the point lies outside every
            part of :data:`NAIP_COVERAGE` (saying so where *lon* and *lat* are swapped).
    """
    if not -90 <= lat <= 90:
        raise TGDCError(
            f"lat: {lat} is not a latitude; give decimal degrees from -90 to 90"
            + (swapped_advice(shapely.Point(lon, lat), _BOXES) if -90 <= lon <= 90 else "")
        )
    if not -180 <= lon <= 180:
        raise TGDCError(f"lon: {lon} is not a longitude; give decimal degrees from -180 to 180")
    if not _covered(lon, lat):
        raise TGDCError(
            f"lat {lat}, lon {lon} is outside NAIP coverage: NAIP images "
            + "; ".join(
                f"{name} (lon {w:g} to {e:g}, lat {s:g} to {n:g})"
                for name, (w, s, e, n) in NAIP_COVERAGE.items()
            )
            + swapped_advice(shapely.Point(lon, lat), _BOXES)
        )


def _check_size(width: int, height: int, what: str) -> None:
    if width < 1 or height < 1:
        raise TGDCError(f"{what}: must be at least 1 pixel, got {width} x {height}")
    if max(width, height) > MAX_SIZE:
        raise TGDCError(
            f"{what}: {width} x {height} pixels is more than {MAX_SIZE} pixels"
            f" ({MAX_SIZE * NAIP_RESOLUTION / 1000:g} km) across; split the area into smaller"
            " downloads"
        )


def centred_grid(crs: CRS, x: float, y: float, size: int, res: float = NAIP_RESOLUTION) -> Grid:
    """A square grid of *size* pixels whose centre pixel holds ``(x, y)``.

    Pixel edges fall on whole multiples of *res*; the point lies within half a pixel of
    the grid's centre.

    Args:
        crs: a projected CRS in metres.
        x: easting of the centre.
        y: northing of the centre.
        size: width and height in pixels.
        res: pixel size in metres.

    Returns:
        The grid.

    Raises:
        TGDCError: if *size* is below 1 or above :data:`MAX_SIZE`.
    """
    _check_size(size, size, "size")
    col0 = math.floor(x / res - size / 2 + 0.5)
    row0 = math.floor(y / res + size / 2 + 0.5)
    return Grid(crs, Affine(res, 0, col0 * res, 0, -res, row0 * res), size, size)


def grid_around(lon: float, lat: float, size: int, res: float = NAIP_RESOLUTION) -> Grid:
    """A square grid centred on a point, in the point's UTM zone.

    Args:
        lon: longitude of the centre in degrees.
        lat: latitude of the centre in degrees.
        size: width and height in pixels.
        res: pixel size in metres.

    Returns:
        The grid.

    Raises:
        TGDCError: see :func:`check_lonlat` and :func:`centred_grid`.
    """
    check_lonlat(lon, lat)
    crs = utm_crs(lon, lat)
    xs, ys = transform("EPSG:4326", crs, [lon], [lat])
    return centred_grid(crs, xs[0], ys[0], size, res)


def check_bbox(bbox: Sequence[float]) -> tuple[float, float, float, float]:
    """Check a longitude/latitude box inside NAIP coverage.

    Args:
        bbox: ``(minlon, minlat, maxlon, maxlat)`` in degrees.

    Returns:
        The box as four floats.

    Raises:
        TGDCError: if the box is not 4 numbers, is empty or inverted, or a corner is not
            a coordinate or lies outside NAIP coverage.
    """
    if len(bbox) != 4:
        raise TGDCError(f"bbox: expected minlon minlat maxlon maxlat, got {list(bbox)}")
    west, south, east, north = (float(value) for value in bbox)
    if not (west < east and south < north):
        raise TGDCError(
            f"bbox: ({west}, {south}, {east}, {north}) is empty or inverted; give minlon"
            " minlat maxlon maxlat"
        )
    corners = ((west, south), (east, north))
    outside = not all(_covered(*corner) for corner in corners)
    if outside and swapped_advice(shapely.box(west, south, east, north), _BOXES):
        raise TGDCError(
            f"bbox: ({west:g}, {south:g}, {east:g}, {north:g}) is outside NAIP coverage with"
            f" its latitude and longitude swapped: give minlon minlat maxlon maxlat, here"
            f" {south:g} {west:g} {north:g} {east:g}"
        )
    for corner in corners:
        check_lonlat(*corner)
    return west, south, east, north


def grid_for_bbox(bbox: Sequence[float], res: float = NAIP_RESOLUTION) -> Grid:
    """The smallest grid in the local UTM zone that covers a longitude/latitude box.

    Args:
        bbox: ``(minlon, minlat, maxlon, maxlat)`` in degrees.
        res: pixel size in metres.

    Returns:
        The grid.

    Raises:
        TGDCError: see :func:`check_bbox`, or if the grid is larger than :data:`MAX_SIZE`.
    """
    west, south, east, north = check_bbox(bbox)
    crs = utm_crs((west + east) / 2, (south + north) / 2)
    left, bottom, right, top = transform_bounds("EPSG:4326", crs, west, south, east, north)
    col0, col1 = math.floor(left / res), math.ceil(right / res)
    row0, row1 = math.ceil(top / res), math.floor(bottom / res)
    _check_size(col1 - col0, row0 - row1, "bbox")
    return Grid(crs, Affine(res, 0, col0 * res, 0, -res, row0 * res), col1 - col0, row0 - row1)
