"""Tests of ``tgdc compare`` on the real label files (skipped where they are absent)."""

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from support.data import shared_data

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.commands.compare import OUTPUT_FILES


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


def test_compare_over_the_scan_footprint(
    seed_files: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    detections, _, im3 = seed_files
    out = tmp_path / "out"
    # The footprint.geojson beside the detections is the area scanned.
    assert (
        main(
            [
                "compare",
                "--detections",
                str(detections),
                "--inventory",
                str(im3),
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    stdout = capsys.readouterr().out
    scores = pd.read_csv(out / OUTPUT_FILES["scores"])
    (row,) = scores.to_dict("records")
    assert stdout.startswith("inventory ") and "im3_datacenter_footprints" in stdout
    assert (out / OUTPUT_FILES["summary"]).read_text().strip() in stdout
    matched = gpd.read_file(out / OUTPUT_FILES["matched"])
    candidates = gpd.read_file(out / OUTPUT_FILES["candidates"])
    missed = gpd.read_file(out / OUTPUT_FILES["missed"])
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
    assert (
        main(
            [
                "compare",
                "--detections",
                str(detections),
                "--inventory",
                str(im3),
                "--output-dir",
                str(out),
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "no footprint.geojson beside it; give --footprint, the area scanned" in error
    assert not out.exists()
