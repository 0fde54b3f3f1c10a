import csv
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import CRS
from support.inference import UTM, utm_transform

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.export import (
    Outputs,
    mask_writer,
    probability_writer,
    write_vectors,
)
from torchgeo_datacenters.inference.tiles import SceneGrid
from torchgeo_datacenters.inference.vectorize import order_detections
from torchgeo_datacenters.outputs.styles import MASK_COLOURS

GRID = SceneGrid(crs=CRS(UTM), transform=utm_transform(), width=70, height=50)


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
    write_vectors(detections(), {"geojson": path})
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
    write_vectors(detections(), {"csv": path})
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["id", "centroid_lon", "centroid_lat", "area_m2", "score", "source"],
        ["1", "-80.9995123", "39.7505000", "7654.32", "0.9123", "a.tif"],
        ["2", "-80.9950617", "39.7490500", "123.46", "0.5500", "b.tif"],
    ]


def test_gpkg_and_parquet_round_trip(tmp_path: Path) -> None:
    table = detections()
    write_vectors(table, {"gpkg": tmp_path / "d.gpkg", "parquet": tmp_path / "d.parquet"})
    gpkg = gpd.read_file(tmp_path / "d.gpkg", layer="detections")
    for read in (gpkg, gpd.read_parquet(tmp_path / "d.parquet")):
        assert read.crs == "EPSG:4326"
        assert read["id"].tolist() == [1, 2]
        assert read.geom_equals(table.geometry).all()


def test_outputs_are_renamed_into_place_only_on_success(tmp_path: Path) -> None:
    outputs = Outputs(geojson=tmp_path / "d.geojson", mask=tmp_path / "m.tif")
    with pytest.raises(RuntimeError), outputs.staged() as staged:
        for path in staged.values():
            path.write_text("partial")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with outputs.staged() as staged:
        assert set(staged) == {"geojson", "mask"}
        for path in staged.values():
            path.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.geojson", "m.tif"]
    with pytest.raises(TGDCError, match="already exists"):
        outputs.check()
    outputs.check(overwrite=True)
    with pytest.raises(TGDCError, match="share one path"):
        Outputs(geojson=tmp_path / "x", csv=tmp_path / "x").check()
    with pytest.raises(TGDCError, match="does not exist"):
        Outputs(csv=tmp_path / "missing" / "d.csv").check()


def test_rasters_are_cogs_on_the_scene_grid(tmp_path: Path) -> None:
    probabilities = np.random.default_rng(0).random((50, 70), dtype=np.float32)
    probabilities[:, :5] = np.nan
    with (
        mask_writer(tmp_path / "m.tif", GRID) as mask,
        probability_writer(tmp_path / "p.tif", GRID) as prob,
    ):
        for row in (0, 17, 34):
            band = probabilities[row : row + 17]
            mask.write(row, (band > 0.5).astype(np.uint8))
            prob.write(row, band)
    for name, dtype in (("m.tif", "uint8"), ("p.tif", "float32")):
        with rasterio.open(tmp_path / name) as src:
            assert src.crs == UTM and src.transform == GRID.transform
            assert src.shape == (50, 70) and src.dtypes == (dtype,)
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    with rasterio.open(tmp_path / "p.tif") as src:
        np.testing.assert_array_equal(src.read(1), probabilities)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tif", "p.tif"]


def test_cogs_have_overviews_and_the_mask_a_colour_table(tmp_path: Path) -> None:
    # Larger than one 512 px COG tile: GDAL builds overviews down to one tile.
    grid = SceneGrid(crs=CRS(UTM), transform=utm_transform(), width=1100, height=600)
    mask = np.zeros((600, 1100), np.uint8)
    mask[100:300, 200:700] = 1
    with (
        mask_writer(tmp_path / "m.tif", grid) as m,
        probability_writer(tmp_path / "p.tif", grid) as p,
    ):
        m.write(0, mask)
        p.write(0, mask.astype(np.float32))
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.overviews(1) == [2, 4]
        assert src.colorinterp[0] == rasterio.enums.ColorInterp.palette
        colours = src.colormap(1)
        assert {value: colours[value] for value in MASK_COLOURS} == MASK_COLOURS
        # Nearest-neighbour overviews keep the mask's values.
        assert set(np.unique(src.read(1, out_shape=(150, 275)))) == {0, 1}
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.overviews(1) == [2, 4]
        half = src.read(1, out_shape=(300, 550))
        assert half[100, 200] == 1.0 and half[0, 0] == 0.0


def test_a_failed_raster_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), mask_writer(tmp_path / "m.tif", GRID) as mask:
        mask.write(0, np.zeros((10, 70), np.uint8))
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
