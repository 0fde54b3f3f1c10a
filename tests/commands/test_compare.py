"""Tests of ``tgdc compare`` on the real label files (skipped where they are absent)."""

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
import shapely.geometry
from support.browser import CHROMIUM, open_in_chromium, report_data
from support.data import shared_data

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.commands.compare import OUTPUT_FILES
from torchgeo_datacenters.detections.compare import STATUSES


@pytest.fixture
def seed_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The seed's 79 data centers as detections, the Northern Virginia cluster's bounding
    box as the area scanned (the footprint.geojson a scan writes beside them), and IM3."""
    seed = gpd.read_file(shared_data("labels", "seed_datacenters.geojson"))
    detections = tmp_path / "detections.geojson"
    seed[seed["label"]].to_file(detections)
    footprint = tmp_path / "footprint.geojson"
    area = gpd.GeoSeries.from_xy([-77.75, -77.3], [38.75, 39.15], crs=4326).total_bounds
    gpd.GeoDataFrame(geometry=gpd.GeoSeries.from_wkt([_box(area)]), crs=4326).to_file(footprint)
    return detections, footprint, shared_data("labels", "im3_datacenter_footprints.geojson")


def _box(bounds) -> str:
    west, south, east, north = bounds
    return f"POLYGON(({west} {south},{east} {south},{east} {north},{west} {north},{west} {south}))"


def compare(detections: Path, inventory: Path, out: Path) -> int:
    """Run ``tgdc compare`` on detections and an inventory, without --footprint."""
    return main(
        [
            "compare",
            "--detections",
            str(detections),
            "--inventory",
            str(inventory),
            "--output-dir",
            str(out),
        ]
    )


def test_compare_over_the_scan_footprint(
    seed_files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    detections, _, im3 = seed_files
    out = tmp_path / "out"
    # The footprint.geojson beside the detections is the area scanned.
    assert compare(detections, im3, out) == 0
    stdout = capsys.readouterr().out
    scores = pd.read_csv(out / OUTPUT_FILES["scores"])
    (row,) = scores.to_dict("records")
    assert stdout.startswith("inventory ") and "im3_datacenter_footprints" in stdout
    assert (out / OUTPUT_FILES["summary"]).read_text().strip() in stdout
    matched = gpd.read_file(out / OUTPUT_FILES["matched"])
    candidates = gpd.read_file(out / OUTPUT_FILES["candidates"])
    missed = gpd.read_file(out / OUTPUT_FILES["missed"])
    for kind in ("matched", "candidates", "missed"):
        # The layer QGIS shows is named after the file, not the staged one.
        assert json.loads((out / OUTPUT_FILES[kind]).read_text())["name"] == kind
    assert row["detections"] == len(matched) + len(candidates)
    assert row["sites"] - row["matched_sites"] == len(missed)
    # Measured: 34 of the seed's data centers lie in the box, 30 of them on an IM3 site;
    # IM3 has 252 sites there, 35 of them under a seed data center.
    assert (row["detections"], row["matched_detections"]) == (34, 30)
    assert (row["sites"], row["matched_sites"]) == (252, 35)


def test_compare_without_a_footprint_says_what_to_give(
    seed_files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    detections, footprint, im3 = seed_files
    footprint.unlink()
    out = tmp_path / "out"
    assert compare(detections, im3, out) == 2
    error = capsys.readouterr().err
    assert "no footprint.geojson beside it; give --footprint, the area scanned" in error
    assert not out.exists()


UTM = "EPSG:32618"
X, Y = 300000.0, 4300000.0


def _utm_file(path: Path, geometries: list, **columns) -> Path:
    """Geometries in metres from (X, Y) in UTM zone 18N, written in EPSG:4326."""
    moved = [shapely.affinity.translate(g, X, Y) for g in geometries]
    gdf = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(moved, crs=UTM).to_crs(4326))
    gdf.to_file(path)
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_compare_report_colours_sites_by_status_in_chromium(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # Detection 1 lies on the inventory's polygon, detection 2 on no site; the point site
    # lies 500 m from both.
    detections = _utm_file(
        tmp_path / "detections.geojson",
        [shapely.box(0, 0, 100, 100), shapely.box(300, 0, 400, 100)],
        id=[1, 2],
        score=[0.9, 0.8],
        area_m2=[10000.0, 10000.0],
    )
    inventory = _utm_file(
        tmp_path / "inventory.geojson",
        [shapely.box(20, 20, 80, 80), shapely.Point(0, 600)],
        name=["Known", "Missed"],
    )
    footprint = _utm_file(tmp_path / "area.geojson", [shapely.box(-100, -100, 500, 700)])
    out, report = tmp_path / "out", tmp_path / "compare.html"
    args = ["compare", "--detections", str(detections), "--inventory", str(inventory)]
    args += ["--footprint", str(footprint), "--output-dir", str(out)]
    assert main([*args, "--output-report", str(report)]) == 0
    assert f"report: {report}" in capsys.readouterr().out
    data = report_data(report)
    rows = [f["properties"] for f in data["detections"]["features"]]
    assert [(row["status"], row["score"]) for row in rows] == [
        ("matched", 0.9),
        ("candidate", 0.8),
        ("missed", None),
    ]
    assert list(data["statusColours"]) == list(STATUSES)
    # The missed point site is drawn as a disc of the matching distance (50 m).
    disc = gpd.GeoSeries([shapely.geometry.shape(data["detections"]["features"][2]["geometry"])])
    assert disc.set_crs(4326).to_crs(UTM).area.item() == pytest.approx(np.pi * 50**2, rel=0.01)
    record = open_in_chromium(report).record
    assert record["errors"] == [] and record["rows"] == 3 and record["resources"] == []
    assert record["before"] != record["after"]
    # An existing report stops the run before anything is written.
    assert main([*args, "--output-report", str(report)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tgdc compare: error: ") and len(error.splitlines()) == 1
