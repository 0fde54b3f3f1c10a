"""Measuring in metres: the CRS in which areas and distances are taken, and their checks.

Detections are stored in lon/lat, where lengths are not metres. Every area (m²) and every
distance (metres) is measured in a metric CRS instead: the scene's own CRS when it is a UTM
zone or true to scale in metres, otherwise (geographic, feet, Web Mercator, Albers...) the
UTM zone estimated from the bounds at hand.

Single geometries and arrays of them are reprojected by :func:`reproject`, as
GeoPandas' ``to_crs`` does, without loading pandas: a run measures its scene before its
first tile.
"""

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import CRS, Proj, Transformer
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from ..errors import TGDCError

if TYPE_CHECKING:
    import geopandas as gpd

#: Largest departure from 1 of a projection's scale factors for its metres to be taken as
#: ground metres (a UTM zone reaches 1.001 at its edges; Web Mercator 1.29 at 39° N).
TRUE_SCALE_TOLERANCE = 0.0015


def metric_crs(crs: CRS, bounds: tuple[float, float, float, float]) -> CRS:
    """Choose the CRS in which areas and distances are measured.

    Args:
        crs: CRS of the scene.
        bounds: (left, bottom, right, top) of the scene in *crs*.

    Returns:
        *crs* itself if it is a UTM zone, or projected in metres and true to scale over
        the scene (scale factors within :data:`TRUE_SCALE_TOLERANCE` of 1 in both
        directions), else the UTM zone of the scene (geographic, foot-based or
        distorting CRSs such as Web Mercator).
    """
    crs = CRS.from_user_input(crs)
    if crs.utm_zone is not None:
        return crs
    if crs.is_projected and all(axis.unit_name in ("metre", "meter") for axis in crs.axis_info):
        corners = shapely.get_coordinates(reproject(shapely.box(*bounds), crs, "EPSG:4326"))
        factors = Proj(crs).get_factors(corners[:, 0], corners[:, 1])
        scales = np.concatenate([factors.meridional_scale, factors.parallel_scale])
        if np.all(np.abs(scales - 1) <= TRUE_SCALE_TOLERANCE):
            return crs
    return utm_crs(crs, bounds)


@functools.lru_cache
def transformer(crs: CRS, to: CRS) -> Transformer:
    """The (cached) transformer from *crs* to *to*, in (x, y) = (east, north) order."""
    return Transformer.from_crs(crs, to, always_xy=True)


def reproject(geometries: Any, crs: Any, to: Any) -> Any:
    """Reproject geometries, as :meth:`geopandas.GeoSeries.to_crs` does (same coordinates).

    Args:
        geometries: a shapely geometry or an array of them, in *crs*.
        crs: their CRS (anything :meth:`pyproj.crs.CRS.from_user_input` takes).
        to: the CRS to draw them in.

    Returns:
        The geometry or array of geometries in *to*.
    """
    crs, to = CRS.from_user_input(crs), CRS.from_user_input(to)
    if crs.is_exact_same(to):
        return geometries
    return _projection(transformer(crs, to))(geometries)


def _projection(project: Transformer) -> Callable[[Any], Any]:
    """A function drawing geometries (one, or an array) with a transformer."""

    def apply(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(project.transform(coords[:, 0], coords[:, 1]))

    return functools.partial(shapely.transform, transformation=apply)


def projections(crs: CRS, metric: CRS) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """Functions drawing geometries from *crs* in *metric* and back, as :func:`reproject`.

    Cached by the CRSs' definitions (a CRS's own hash writes its WKT, which costs more
    than projecting a detection): a national scan's merge projects thousands of groups.

    Args:
        crs: the CRS of the geometries.
        metric: a projected CRS.

    Returns:
        To *metric*, and back to *crs*; each takes a shapely geometry or an array.
    """
    return _projections(crs.srs, metric.srs)


@functools.lru_cache
def _projections(crs: str, metric: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """:func:`projections`, by the definitions of the CRSs."""
    source, target = CRS.from_user_input(crs), CRS.from_user_input(metric)
    return _projection(transformer(source, target)), _projection(transformer(target, source))


def utm_crs(crs: CRS, bounds: tuple[float, float, float, float]) -> CRS:
    """The WGS 84 UTM zone of the centre of some bounds, as GeoPandas estimates it.

    Args:
        crs: CRS of the bounds.
        bounds: (left, bottom, right, top) in *crs*.

    Returns:
        The UTM zone of the centre of *bounds* (taken in lon/lat, across the antimeridian
        where the bounds cross it).
    """
    west, south, east, north = bounds
    if not crs.is_geographic:
        west, south, east, north = transformer(crs, CRS("EPSG:4326")).transform_bounds(*bounds)
    lon = (west + east) / 2
    if west > east:  # across the antimeridian
        lon = ((west + east + 360) / 2 + 180) % 360 - 180
    return _utm_zone(lon, (south + north) / 2)


#: Degrees from a zone's edge or the equator within which the zone is looked up in PROJ's
#: database rather than computed (where two zones' areas of use meet).
ZONE_EDGE = 1e-6


def _utm_zone(lon: float, lat: float) -> CRS:
    """The WGS 84 UTM zone of a point, as PROJ's database gives it.

    Inside a zone it is computed (:func:`utm_epsg`), which gives what the database gives
    in a thousandth of the time (a national scan measures tens of thousands of merged
    detections); on a zone's edge, where the database decides, it is looked up.

    Args:
        lon: longitude, in degrees.
        lat: latitude, in degrees.

    Returns:
        The zone's CRS.
    """
    if abs(lat) > ZONE_EDGE and min((lon + 180) % 6, 6 - (lon + 180) % 6) > ZONE_EDGE:
        return _epsg_crs(int(utm_epsg(np.array([lon]), np.array([lat]))[0]))
    centre = AreaOfInterest(lon, lat, lon, lat)
    (zone, *_) = query_utm_crs_info(datum_name="WGS 84", area_of_interest=centre)
    return _epsg_crs(int(zone.code))


@functools.lru_cache
def _epsg_crs(code: int) -> CRS:
    """The (cached) CRS of an EPSG code."""
    return CRS.from_epsg(code)


def check_non_negative(**values: float) -> None:
    """Check that distances and areas are not negative.

    Args:
        values: option name to value (metres or m²).

    Raises:
        TGDCError: if a value is negative or not a number.
    """
    for name, value in values.items():
        if not value >= 0:
            raise TGDCError(f"{name}: {value} is negative; give 0 or more")


# Measuring tables that span UTM zones: each geometry in the zone of its centroid (a
# single projection would stretch distances far from its central meridian).


def utm_epsg(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The EPSG code of the WGS 84 / UTM zone of each point.

    Args:
        lon: longitudes, in degrees.
        lat: latitudes, in degrees.

    Returns:
        EPSG codes (32601..32660 north, 32701..32760 south), one per point.
    """
    zone = np.clip(np.floor((np.asarray(lon) + 180.0) / 6.0).astype(int) + 1, 1, 60)
    return np.where(np.asarray(lat) >= 0, 32600, 32700) + zone


def zones(geometries: "gpd.GeoSeries") -> np.ndarray:
    """The UTM zone (EPSG code) of each geometry's centroid.

    Args:
        geometries: geometries in EPSG:4326.

    Returns:
        One EPSG code per geometry.
    """
    points = shapely.centroid(geometries.to_numpy())
    return utm_epsg(shapely.get_x(points), shapely.get_y(points))


def project_by_zone(geometries: "gpd.GeoSeries", epsg: np.ndarray) -> np.ndarray:
    """Project each geometry to its own UTM zone.

    Args:
        geometries: geometries in EPSG:4326.
        epsg: the EPSG code for each (see :func:`zones`).

    Returns:
        The projected shapely geometries, in the order given, each in metres of its zone.
    """
    projected = np.empty(len(geometries), dtype=object)
    values = geometries.reset_index(drop=True)
    for code in np.unique(epsg):
        rows = np.flatnonzero(epsg == code)
        projected[rows] = values.iloc[rows].to_crs(int(code)).to_numpy()
    return projected


def measure(geometries: "gpd.GeoSeries") -> tuple[np.ndarray, np.ndarray]:
    """Area and perimeter of each geometry, in its centroid's UTM zone.

    Args:
        geometries: (Multi)Polygons in EPSG:4326.

    Returns:
        Areas in m² and perimeters (every ring, holes included) in m.
    """
    projected = project_by_zone(geometries, zones(geometries))
    return shapely.area(projected), shapely.length(projected)


def centroids(geometries: "gpd.GeoSeries") -> np.ndarray:
    """Longitude and latitude of each geometry's centroid, found in its UTM zone.

    Args:
        geometries: geometries in EPSG:4326.

    Returns:
        (n, 2) longitudes and latitudes, in degrees.
    """
    import geopandas as gpd

    epsg = zones(geometries)
    points = shapely.centroid(project_by_zone(geometries, epsg))
    lonlat = np.empty((len(geometries), 2))
    for code in np.unique(epsg):
        rows = np.flatnonzero(epsg == code)
        back = gpd.GeoSeries(points[rows], crs=int(code)).to_crs(4326)
        lonlat[rows] = np.column_stack([back.x, back.y])
    return lonlat
