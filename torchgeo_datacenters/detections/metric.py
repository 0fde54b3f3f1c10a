"""Measure lon/lat geometries in metres: each one in the UTM zone of its centroid.

Detection tables are stored in EPSG:4326. A table may span several UTM zones (a state, the
country), where one projection would stretch distances far from its central meridian, so
every geometry is projected to the zone of its own centroid (WGS 84 / UTM, EPSG:326zz north
of the equator, 327zz south). Within a zone the scale error is below 0.1%.
"""

import geopandas as gpd
import numpy as np
import shapely


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


def zones(geometries: gpd.GeoSeries) -> np.ndarray:
    """The UTM zone (EPSG code) of each geometry's centroid.

    Args:
        geometries: geometries in EPSG:4326.

    Returns:
        One EPSG code per geometry.
    """
    points = shapely.centroid(geometries.to_numpy())
    return utm_epsg(shapely.get_x(points), shapely.get_y(points))


def project_by_zone(geometries: gpd.GeoSeries, epsg: np.ndarray) -> np.ndarray:
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


def measure(geometries: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Area and perimeter of each geometry, in its centroid's UTM zone.

    Args:
        geometries: (Multi)Polygons in EPSG:4326.

    Returns:
        Areas in m² and perimeters (every ring, holes included) in m.
    """
    projected = project_by_zone(geometries, zones(geometries))
    return shapely.area(projected), shapely.length(projected)


def centroids(geometries: gpd.GeoSeries) -> np.ndarray:
    """Longitude and latitude of each geometry's centroid, found in its UTM zone.

    Args:
        geometries: geometries in EPSG:4326.

    Returns:
        (n, 2) longitudes and latitudes, in degrees.
    """
    epsg = zones(geometries)
    points = shapely.centroid(project_by_zone(geometries, epsg))
    lonlat = np.empty((len(geometries), 2))
    for code in np.unique(epsg):
        rows = np.flatnonzero(epsg == code)
        back = gpd.GeoSeries(points[rows], crs=int(code)).to_crs(4326)
        lonlat[rows] = np.column_stack([back.x, back.y])
    return lonlat
