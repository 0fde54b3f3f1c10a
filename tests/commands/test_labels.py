"""Tests of ``tgdc labels merge``."""

from pathlib import Path

import geopandas as gpd
import pytest
from support.verdicts import square, three_detections, verdict, write

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.detections.verdicts import run_id
from torchgeo_datacenters.detections.writers import write_geojson


@pytest.fixture
def reviewed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A detections file and two review exports of it that judge detection 1 twice."""
    detections = three_detections()
    write_geojson(detections, tmp_path / "d.geojson")
    run = run_id(detections)
    first = write(
        tmp_path / "first.geojson",
        verdict(square(0), "accepted", "datacenter", 1, "2026-01-01T09:00:00Z", run),
        verdict(square(1), "rejected", "warehouse", 2, "2026-01-01T09:01:00Z", run),
    )
    second = write(
        tmp_path / "second.geojson",
        verdict(square(0), "rejected", "other", 1, "2026-01-02T09:00:00Z", run),
        verdict(square(4), "missed", "datacenter", None, "2026-01-02T09:02:00Z", run),
    )
    return tmp_path / "d.geojson", first, second


def test_merge_writes_the_label_set_and_reports_sites_judged_twice(
    reviewed: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    detections, first, second = reviewed
    output = tmp_path / "labels.gpkg"
    args = ["labels", "merge", str(first), str(second), "--detections", str(detections)]
    assert main([*args, "--output", str(output)]) == 0
    run = run_id(gpd.read_file(detections))
    assert capsys.readouterr().out.splitlines() == [
        f"judged twice: run {run} #1: kept {second}: rejected other"
        f" (2026-01-02T09:00:00.000Z), dropped {first}: accepted datacenter"
        " (2026-01-01T09:00:00.000Z)",
        f"output: {output}",
        "tgdc labels merge: 3 site(s) from 2 file(s): 1 data center(s) (0 accepted, 1 missed),"
        " 2 hard negative(s) (1 warehouse, 0 retail, 1 other); 1 judged twice",
    ]
    labels = gpd.read_file(output)
    assert labels[["class", "label"]].values.tolist() == [
        ["warehouse", False],
        ["other", False],
        ["datacenter", True],
    ]
    # A merged label set merges again (with the next round's verdicts).
    again = tmp_path / "again.geojson"
    assert main(["labels", "merge", str(output), "--output", str(again)]) == 0
    assert len(gpd.read_file(again)) == 3


def test_merge_refuses_verdicts_of_another_run_in_one_line(
    reviewed: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, first, _ = reviewed
    other = three_detections().assign(score=[0.5, 0.6, 0.7])
    write_geojson(other, tmp_path / "other.geojson")
    output = tmp_path / "labels.geojson"
    args = ["labels", "merge", str(first), "--detections", str(tmp_path / "other.geojson")]
    assert main([*args, "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"tgdc labels merge: error: {first}: feature(s) 1, 2 judge detections of run"
        f" {run_id(three_detections())}, not of the detections given (run {run_id(other)});"
        " give with --detections the detections file its review page was built from\n"
    )
    assert not output.exists()
    # The advice works: with the right detections file the merge goes through.
    args[-1] = str(tmp_path / "d.geojson")
    assert main([*args, "--output", str(output)]) == 0
    assert output.exists()


def test_merge_takes_every_detections_file_of_a_repeated_option(
    reviewed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, first, _ = reviewed
    write_geojson(three_detections().assign(score=[0.5, 0.6, 0.7]), tmp_path / "other.geojson")
    output = tmp_path / "labels.geojson"
    detections = [str(tmp_path / "other.geojson"), str(tmp_path / "d.geojson")]
    args = ["labels", "merge", str(first), "--output", str(output)]
    # The run of d.geojson, given by the second --detections, is not forgotten.
    assert main([*args, "--detections", detections[0], "--detections", detections[1]]) == 0
    assert len(gpd.read_file(output)) == 2


def test_verdict_files_may_follow_the_options(
    reviewed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    detections, first, second = reviewed
    base = tmp_path / "seed.geojson"
    seed = gpd.GeoDataFrame({"class": ["retail"], "label": [False]}, geometry=[square(7)])
    seed.set_crs(4326).to_file(base)
    output = tmp_path / "labels.geojson"
    # As a shell glob puts them: the review exports after --base and --detections, each
    # of which takes one file.
    args = ["--base", str(base), "--detections", str(detections), str(first), str(second)]
    assert main(["labels", "merge", *args, "--output", str(output)]) == 0
    labels = gpd.read_file(output)
    assert sorted(labels["class"]) == ["datacenter", "other", "retail", "warehouse"]


def test_verdict_files_may_lie_on_both_sides_of_the_options(
    reviewed: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    detections, first, second = reviewed
    output = tmp_path / "labels.geojson"
    args = [str(first), "--detections", str(detections), str(second), "--output", str(output)]
    assert main(["labels", "merge", *args]) == 0
    # Both files were read, in the order given: the second's newer verdict on #1 is kept.
    labels = gpd.read_file(output)
    assert sorted(labels["class"]) == ["datacenter", "other", "warehouse"]


def test_merge_names_a_directory_given_as_a_verdict_file(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    output = tmp_path / "labels.geojson"
    assert main(["labels", "merge", str(folder), "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        f"tgdc labels merge: error: {folder}: is a directory GDAL does not read as vector data"
        " (a shapefile folder or a .gdb); give a vector file in it\n"
    )
    assert not output.exists()


def test_merge_says_when_the_detections_given_hold_none(
    reviewed: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, first, _ = reviewed
    (tmp_path / "none.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    output = tmp_path / "labels.geojson"
    args = ["labels", "merge", str(first), "--detections", str(tmp_path / "none.geojson")]
    assert main([*args, "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        f"tgdc labels merge: error: {first}: feature(s) 1, 2 judge detections of run"
        f" {run_id(three_detections())}, not of the detections given (they hold no detection);"
        " give with --detections the detections file its review page was built from\n"
    )
    assert not output.exists()


def test_merge_refuses_an_empty_label_set_and_the_advice_works(
    reviewed: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _, first, _ = reviewed
    # A page exported before any verdict.
    empty = write(tmp_path / "review-empty.geojson")
    output = tmp_path / "labels.geojson"
    assert main(["labels", "merge", str(empty), "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        f"tgdc labels merge: error: {empty}: no verdict and no label in the file(s) given, so"
        " the label set would be empty; judge detections on the review page and export them"
        " again (E), or add --base with the labels the model was trained on\n"
    )
    assert not output.exists()
    # Following it: the labels trained on (here the first round's export) as --base.
    args = ["labels", "merge", str(empty), "--base", str(first), "--output", str(output)]
    assert main(args) == 0
    assert len(gpd.read_file(output)) == 2
