"""``tgdc scan --years``: each NAIP year of an area from a loopback STAC API, then the change."""

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from support.data import bbox_of
from support.stac_server import StacServer

from torchgeo_datacenters.cli import main


def test_scan_two_years_and_the_change_between_them(
    scan_data: Any, ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "scan"
    with StacServer.from_directory(scan_data.stac_dir) as server:
        args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--bbox"]
        args += [str(value) for value in bbox_of(scan_data.grid)]
        args += ["--stac-url", server.url, "--output-dir", str(out), "--workers", "1"]
        assert main([*args, "--years", "2022", "2018"]) == 0
    stdout = capsys.readouterr().out
    # 2018 has one item (under the top-left 2022 one) with a roof the 2022 imagery lacks;
    # 2022 has four items with the corner roof and the roof inside the top-left scene.
    assert "tgdc scan 2018: 1 detection(s) in 1/1 scene(s)" in stdout
    assert "tgdc scan 2022: 2 detection(s) in 4/4 scene(s)" in stdout
    assert "3 site(s) over 2018, 2022: 2 new, 0 expanded, 0 unchanged, 0 shrunk, 1 gone" in stdout
    # Every detection is dated by its STAC item's datetime.
    for year, date in (("2018", "2018-06-10"), ("2022", "2022-07-01")):
        features = json.loads((out / year / "detections.geojson").read_text())["features"]
        assert {feature["properties"]["acquired"] for feature in features} == {date}
    # Dates as written (GeoPandas would parse them into timestamps).
    sites = gpd.read_file(out / "change.geojson", datetime_as_string=True)
    gone = sites[sites["status"] == "gone"].iloc[0]
    assert (gone.first_seen, gone.last_seen, gone.area_m2_2022) == ("2018-06-10", "2018-06-10", 0)
    assert gone.area_m2_2018 == pytest.approx(90 * 90 * 0.36, rel=1e-6)
    new = sites[sites["status"] == "new"].sort_values("area_m2_2022")
    expected = sorted([scan_data.inside_m2, scan_data.corner_m2])
    assert new["area_m2_2022"].tolist() == pytest.approx(expected, rel=1e-6)
    assert set(new["first_seen"]) == {"2022-07-01"}
    # Each year's footprint is what its items cover within the box.
    box = shapely.box(*bbox_of(scan_data.grid))
    older = gpd.read_file(out / "2018" / "footprint.geojson").geometry.iloc[0]
    newer = gpd.read_file(out / "2022" / "footprint.geojson").geometry.iloc[0]
    assert newer.symmetric_difference(box).area < 1e-4 * box.area
    assert older.area < 0.5 * newer.area and older.within(box.buffer(1e-9))


def test_scan_of_several_years_refuses_run_outputs(
    scan_data: Any, ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # A report, a review page or a STAC collection is of one run; each year is a run.
    out = tmp_path / "scan"
    args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--bbox"]
    args += [str(value) for value in bbox_of(scan_data.grid)]
    args += ["--output-dir", str(out), "--workers", "1"]
    with StacServer.from_directory(scan_data.stac_dir) as server:
        args += ["--stac-url", server.url]
        for kind in ("report", "review"):
            page = tmp_path / f"{kind}.html"
            assert main([*args, "--years", "2018", "2022", f"--output-{kind}", str(page)]) == 2
            assert capsys.readouterr().err == (
                f"tgdc scan: error: {page}: --output-{kind} is written by a scan of one year,"
                f" and --years scans several; scan each year with --year YEAR to have it, or"
                f" drop --output-{kind}\n"
            )
        # The labels that order a review page, refused as the page is (not told to add
        # --output-review, which --years would refuse next).
        labels = tmp_path / "labels" / "round1.geojson"
        assert main([*args, "--years", "2018", "2022", "--review-labels", str(labels)]) == 2
        assert capsys.readouterr().err == (
            f"tgdc scan: error: {labels}: --review-labels orders the review page of a scan of"
            " one year, and --years scans several; scan each year with --year YEAR and"
            " --output-review FILE to use it, or drop --review-labels\n"
        )
        # Refused before any request or file.
        assert not server.requests_to("/")
        assert sorted(tmp_path.iterdir()) == []
        # Following the advice: a year at a time.
        labels.parent.mkdir()
        gpd.GeoDataFrame(
            {"class": ["warehouse"], "label": [False]},
            geometry=[shapely.box(*bbox_of(scan_data.grid))],
            crs=4326,
        ).to_file(labels)
        review = ["--output-review", str(page), "--review-labels", str(labels)]
        assert main([*args, "--year", "2018", *review]) == 0
    assert page.is_file() and (out / "detections.geojson").is_file()
