import csv
import json
from pathlib import Path

import geopandas as gpd
import shapely

from torchgeo_datacenters.detections.schema import order_detections
from torchgeo_datacenters.detections.writers import (
    write_csv,
    write_geojson,
    write_gpkg,
    write_parquet,
)


def detections() -> gpd.GeoDataFrame:
    # A clockwise exterior with a counter-clockwise hole: the opposite of RFC 7946.
    courtyard = shapely.Polygon(
        [(-81.0, 39.75), (-81.0, 39.751), (-80.999, 39.751), (-80.999, 39.75)],
        [[(-80.9998, 39.7502), (-80.9992, 39.7502), (-80.9992, 39.7508), (-80.9998, 39.7508)]],
    )
    square = shapely.box(-80.99512345678, 39.749, -80.995, 39.7491)
    table = gpd.GeoDataFrame(
        {
            "id": 0,
            "area_m2": [7654.321, 123.456789],
            "centroid_lon": [-80.99951234567, -80.995061728],
            "centroid_lat": [39.7505, 39.74905],
            "score": [0.912345, 0.55],
            "max_score": [0.99999, 0.6],
            "source": ["a.tif", "b.tif"],
        },
        geometry=[courtyard, square],
        crs=4326,
    )
    return order_detections(table)


def test_geojson_follows_rfc_7946(tmp_path: Path) -> None:
    path = tmp_path / "d.geojson"
    write_geojson(detections(), path)
    collection = json.loads(path.read_text())
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    first, second = collection["features"]
    assert first["id"] == 1 and first["properties"] == {
        "id": 1,
        "area_m2": 7654.32,
        "centroid_lon": -80.9995123,
        "centroid_lat": 39.7505,
        "score": 0.9123,
        "max_score": 1.0,
        "source": "a.tif",
    }
    exterior, hole = (shapely.LinearRing(ring) for ring in first["geometry"]["coordinates"])
    assert exterior.is_ccw and not hole.is_ccw
    lon, lat = second["geometry"]["coordinates"][0][0]
    assert -180 <= lon <= -80 and 39 < lat < 40
    assert all(
        round(value, 7) == value
        for ring in second["geometry"]["coordinates"]
        for point in ring
        for value in point
    )


def test_csv_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    write_csv(detections(), path)
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["id", "centroid_lon", "centroid_lat", "area_m2", "score", "source"],
        ["1", "-80.9995123", "39.7505000", "7654.32", "0.9123", "a.tif"],
        ["2", "-80.9950617", "39.7490500", "123.46", "0.5500", "b.tif"],
    ]


def test_gpkg_and_parquet_round_trip(tmp_path: Path) -> None:
    table = detections()
    write_gpkg(table, tmp_path / "d.gpkg")
    write_parquet(table, tmp_path / "d.parquet")
    for read in (gpd.read_file(tmp_path / "d.gpkg"), gpd.read_parquet(tmp_path / "d.parquet")):
        assert read.crs == "EPSG:4326"
        assert read["id"].tolist() == [1, 2]
        assert read.geom_equals(table.geometry).all()
