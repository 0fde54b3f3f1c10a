import geopandas as gpd
import pytest
import shapely
from pyproj import CRS
from support.inference import UTM

from torchgeo_datacenters.detections.metric import metric_crs, reproject, utm_crs


def test_metric_crs() -> None:
    utm = CRS(UTM)
    assert metric_crs(utm, (500000, 4400000, 501000, 4401000)) == utm
    assert metric_crs(CRS(4326), (-81.1, 39.7, -81.0, 39.8)).to_epsg() == 32617
    # New York State Plane in US feet: measured in UTM 18N instead.
    ny = metric_crs(CRS(2263), (980000, 190000, 990000, 200000))
    assert ny.to_epsg() == 32618


@pytest.mark.parametrize(
    ("crs", "bounds", "zone"),
    [
        ("EPSG:4326", (-81.1, 39.7, -81.0, 39.8), 32617),
        ("EPSG:3857", (-8600000, 4700000, -8590000, 4710000), 32618),
        # Across the antimeridian in Web Mercator (west of 180° E, east of 180° W): 60N.
        ("EPSG:3857", (20030000, 100, 20045000, 200), 32660),
        ("EPSG:5070", (1500000, 1900000, 1510000, 1910000), 32617),
    ],
)
def test_reproject_and_utm_crs_as_geopandas(
    crs: str, bounds: tuple[float, float, float, float], zone: int
) -> None:
    # Measured without GeoPandas (a run measures its scene before its first tile), with
    # the same coordinates and zone as GeoPandas.
    box = gpd.GeoSeries([shapely.box(*bounds).segmentize(1000)], crs=crs)
    assert utm_crs(CRS(crs), bounds) == box.estimate_utm_crs() == CRS(zone)
    ours = reproject(box.to_numpy(), crs, zone)
    assert shapely.equals_exact(ours, box.to_crs(zone).to_numpy(), tolerance=0).all()
    assert reproject(box.iloc[0], crs, crs) is box.iloc[0]


def test_utm_zone_is_the_database_zone_inside_zones_and_on_their_edges() -> None:
    # Points across the lower 48, on zone edges (126° W, 120° W) and on the equator, where
    # the zone is looked up rather than computed.
    points = [(-125.0 + 5.9 * k, 25.0 + 2.3 * k) for k in range(10)]
    points += [(-126.0, 40.0), (-120.0, 40.0), (-120.0 + 1e-9, 40.0), (3.0, 0.0), (179.9, -45.0)]
    for lon, lat in points:
        bounds = (lon, lat, lon, lat)
        expected = gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).estimate_utm_crs()
        assert utm_crs(CRS(4326), bounds) == expected, (lon, lat)
