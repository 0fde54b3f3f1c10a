import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from torchgeo_datacenters.outputs import write_vectors
from torchgeo_datacenters.outputs.styles import SCORE_CLASSES, qgis_style


def write_gpkg(path: Path) -> Path:
    table = gpd.GeoDataFrame(
        {
            "id": [1, 2],
            "area_m2": [1200.0, 3400.0],
            "centroid_lon": [-80.0, -80.1],
            "centroid_lat": [39.0, 39.1],
            "score": [0.65, 0.95],
            "max_score": [0.9, 0.99],
            "source": ["a.tif", "a.tif"],
        },
        geometry=[shapely.box(-80.01, 39, -80, 39.01), shapely.box(-80.11, 39.1, -80.1, 39.11)],
        crs=4326,
    )
    write_vectors(table, {"gpkg": path})
    return path


def test_qml_colours_outlines_by_score_and_labels_areas() -> None:
    root = ET.fromstring(qgis_style().split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer.get("type") == "graduatedSymbol" and renderer.get("attr") == "score"
    ranges = renderer.findall("ranges/range")
    assert [(float(r.get("lower")), float(r.get("upper"))) for r in ranges] == [
        (lower, upper) for lower, upper, _ in SCORE_CLASSES
    ]
    # Every symbol is an outline only (no fill), in its class's colour.
    for symbol, (_, _, colour) in zip(
        renderer.findall("symbols/symbol"), SCORE_CLASSES, strict=True
    ):
        options = {o.get("name"): o.get("value") for o in symbol.iter("Option") if o.get("name")}
        assert options["style"] == "no"
        rgb = tuple(int(v) for v in options["outline_color"].split(",")[:3])
        assert rgb == tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    text = root.find("labeling/settings/text-style")
    assert text.get("isExpression") == "1" and '"area_m2"' in text.get("fieldName")


def test_gpkg_carries_the_default_style_qgis_reads(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "d.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert layers == {"detections": "Polygon", "layer_styles": None}
    with sqlite3.connect(path) as db:
        kinds = dict(db.execute("SELECT table_name, data_type FROM gpkg_contents"))
        (row,) = db.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
        )
        geometry_column = db.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = 'detections'"
        ).fetchone()[0]
    assert kinds == {"detections": "features", "layer_styles": "attributes"}
    assert row[:3] == ("detections", geometry_column, 1)
    assert row[3] == qgis_style()
    read = gpd.read_file(path, layer="detections")
    assert read["score"].tolist() == [0.65, 0.95]


@pytest.mark.skipif(shutil.which("ogrinfo") is None, reason="ogrinfo (gdal-bin) not installed")
def test_ogrinfo_opens_the_styled_gpkg(tmp_path: Path) -> None:
    path = write_gpkg(tmp_path / "d.gpkg")
    info = subprocess.run(
        ["ogrinfo", "-so", str(path), "detections"], capture_output=True, text=True, check=True
    )
    assert "Feature Count: 2" in info.stdout
    styles = subprocess.run(
        ["ogrinfo", "-ro", "-q", str(path), "layer_styles"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "graduatedSymbol" in styles.stdout
