"""Tests of ``tgdc change`` on detection files as ``tgdc detect`` writes them."""

import json
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
import shapely
from support.browser import CHROMIUM, open_in_chromium, report_data

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.commands.change import CHANGE_ARGUMENTS
from torchgeo_datacenters.detections import change, order_detections, write_geojson

UTM = "EPSG:32617"
X, Y = 500000.0, 4400000.0


def write_vintage(path: Path, boxes: list[tuple[float, ...]], acquired: str | None) -> Path:
    """Detections of UTM boxes (metres from X, Y) written by the predictor's GeoJSON writer."""
    polygons = gpd.GeoSeries(
        [shapely.box(X + a, Y + b, X + c, Y + d) for a, b, c, d in boxes], crs=UTM
    )
    centroids = polygons.centroid.to_crs(4326)
    table = gpd.GeoDataFrame(
        {
            "id": 0,
            "area_m2": polygons.area.to_numpy(),
            "centroid_lon": centroids.x.to_numpy(),
            "centroid_lat": centroids.y.to_numpy(),
            "score": 0.9,
            "max_score": 0.95,
            "source": path.stem + ".tif",
            "acquired": acquired,
        },
        geometry=polygons.to_crs(4326).to_numpy(),
        crs=4326,
    )
    write_geojson(order_detections(table), path)
    return path


@pytest.fixture
def vintages(tmp_path: Path) -> list[Path]:
    # Site 1 doubles, site 2 is demolished, site 3 appears in 2022.
    return [
        write_vintage(
            tmp_path / "2022.geojson", [(0, 0, 200, 100), (0, 400, 150, 500)], "2022-07-01"
        ),
        write_vintage(
            tmp_path / "2018.geojson", [(0, 0, 100, 100), (400, 0, 500, 100)], "2018-07-16"
        ),
    ]


def test_change_writes_sites_that_gdal_reads(
    vintages: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "change.geojson"
    assert main(["change", "--detections", *map(str, vintages), "--output", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "3 site(s) over 2018, 2022: 1 new, 1 expanded, 0 unchanged, 0 shrunk, 1 gone" in stdout
    sites = gpd.read_file(out)
    assert sites.crs == "EPSG:4326"
    assert sorted(sites["status"]) == ["expanded", "gone", "new"]
    assert {"area_m2_2018", "area_m2_2022", "first_seen", "last_seen", "growth"} <= set(sites)
    collection = json.loads(out.read_text())
    assert "crs" not in collection  # RFC 7946
    assert collection["name"] == "change"  # the layer QGIS shows, not the staged file's name
    # In a GeoPackage the layer is named after the file too.
    gpkg = tmp_path / "sites.gpkg"
    assert main(["change", "--detections", *map(str, vintages), "--output", str(gpkg)]) == 0
    assert pyogrio.list_layers(gpkg)[:, 0].tolist() == ["sites"]
    if shutil.which("ogrinfo") is None:
        pytest.skip("ogrinfo (GDAL's command-line tools) is not installed")
    info = subprocess.run(
        ["ogrinfo", "-ro", "-al", "-so", str(out)], capture_output=True, text=True, check=True
    ).stdout
    assert "Feature Count: 3" in info and "status: String" in info


def test_change_errors_are_one_line_and_write_nothing(
    vintages: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "change.geojson"
    undated = write_vintage(tmp_path / "undated.geojson", [(0, 0, 100, 100)], None)
    assert (
        main(["change", "--detections", str(vintages[0]), str(undated), "--output", str(out)]) == 2
    )
    error = capsys.readouterr().err
    assert error.startswith("tgdc change: error: ") and len(error.splitlines()) == 1
    assert f"give the file's date as {undated}@YYYY-MM-DD" in error
    assert not out.exists()
    # The date given after @ dates the whole file.
    args = ["change", "--detections", str(vintages[0]), f"{undated}@2016-06-01"]
    assert main([*args, "--output", str(out), "--min-growth", "0.5"]) == 0
    assert sorted(gpd.read_file(out)["status"]) == ["expanded", "new"]
    assert (
        main(["change", "--detections", str(vintages[0]), "--output", str(tmp_path / "x.shp")]) == 2
    )
    assert "unknown vector format" in capsys.readouterr().err


def test_help_states_the_library_defaults() -> None:
    defaults = {
        "pixel_size": change.DEFAULT_PIXEL_SIZE,
        "min_growth": change.DEFAULT_MIN_GROWTH,
        "min_score": change.DEFAULT_MIN_SCORE,
    }
    for name, value in defaults.items():
        assert f"(default: {value:g}" in CHANGE_ARGUMENTS[name]["help"]


def write_image(path: Path) -> Path:
    """A 3-band UTM GeoTIFF at 1 m under the vintages' boxes."""
    profile = {
        "driver": "GTiff",
        "width": 600,
        "height": 600,
        "count": 3,
        "dtype": "uint8",
        "crs": UTM,
        "transform": rasterio.transform.from_origin(X - 50, Y + 550, 1.0, 1.0),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.random.default_rng(0).integers(0, 255, (3, 600, 600), dtype="uint8"))
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_change_report_colours_sites_by_status_in_chromium(
    vintages: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out, report = tmp_path / "change.geojson", tmp_path / "change.html"
    args = ["change", "--detections", *map(str, vintages), "--output", str(out)]
    assert main([*args, "--output-report", str(report)]) == 0
    assert f"report: {report}" in capsys.readouterr().out
    data = report_data(report)
    statuses = [f["properties"]["status"] for f in data["detections"]["features"]]
    assert sorted(statuses) == sorted(gpd.read_file(out)["status"]) == ["expanded", "gone", "new"]
    assert list(data["statusColours"]) == ["new", "expanded", "gone"]  # the legend, in order
    assert data["colourBy"] == "status" and data["images"] == []
    record = open_in_chromium(report).record
    assert record["errors"] == [] and record["rows"] == 3
    assert record["resources"] == []  # nothing fetched: works offline
    assert record["before"] != record["after"]  # a row click moved the map
    # With imagery: one image layer, and a thumbnail of the site clicked.
    image = write_image(tmp_path / "scene.tif")
    with_image = tmp_path / "with_image.html"
    more = ["--output-report", str(with_image), "--image", str(image), "--overwrite"]
    assert main([*args, *more]) == 0
    assert [layer["name"] for layer in report_data(with_image)["images"]] == ["scene.tif"]
    record = open_in_chromium(with_image).record
    assert record["errors"] == [] and record["rows"] == 3 and record["thumbnail"] is not None


def test_change_report_errors_are_one_line_and_write_nothing(
    vintages: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out, report = tmp_path / "change.geojson", tmp_path / "change.html"
    args = ["change", "--detections", *map(str, vintages), "--output", str(out)]
    not_raster = tmp_path / "notes.tif"
    not_raster.write_text("not a raster")
    assert main([*args, "--output-report", str(report), "--image", str(not_raster)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tgdc change: error: ") and len(error.splitlines()) == 1
    assert f"{not_raster}: not a readable raster" in error
    assert main([*args, "--image", str(write_image(tmp_path / "scene.tif"))]) == 2
    assert "--image is shown only in --output-report" in capsys.readouterr().err
    report.write_text("old")
    assert main([*args, "--output-report", str(report)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert not out.exists() and report.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["2018.geojson", "2022.geojson", "change.html", "notes.tif", "scene.tif"]
    )
