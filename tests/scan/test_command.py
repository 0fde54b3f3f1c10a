import json
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from support.browser import report_data
from support.data import bbox_of
from support.stac_server import StacServer

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.detections.files import read_vector
from torchgeo_datacenters.detections.verdicts import run_id
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.outputs import (
    FORMATS,
    OutputFormat,
    RunFormat,
    RunRecord,
    VectorFormat,
    register,
)
from torchgeo_datacenters.outputs.review import detection_chips, review_order
from torchgeo_datacenters.utils import check_output_path

GRID_IDS = [f"naip_r{row}c{col}_20220701" for row in range(2) for col in range(2)]


def test_missing_ray_says_how_to_install_it(
    scan_data: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    args = ["--checkpoint", str(scan_data.checkpoint), "--scenes-dir", str(scan_data.scenes_dir)]
    assert main(["scan", *args, "--output-dir", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "uv sync --extra scale" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_search_options_do_not_go_with_a_scenes_directory(
    scan_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["--checkpoint", str(scan_data.checkpoint), "--scenes-dir", str(scan_data.scenes_dir)]
    assert main(["scan", *args, "--output-dir", str(tmp_path), "--year", "2022"]) == 2
    assert "--year go with --aoi or --bbox" in capsys.readouterr().err


def test_a_finished_scan_refuses_other_settings_and_a_rerun_rewrites_the_same_outputs(
    full_scan: Any, scan_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "scan"
    shutil.copytree(full_scan.out, out)
    args = ["--checkpoint", str(scan_data.checkpoint), "--scenes-dir", str(scan_data.scenes_dir)]
    args += ["--output-dir", str(out)]
    assert main(["scan", *args, "--threshold", "0.7"]) == 2
    assert "threshold=0.5, not 0.7" in capsys.readouterr().err
    # The merged outputs are the scan's own: a rerun tries the failed scene again (the
    # fixture's broken file fails again: exit 1, partial), skips the finished ones and
    # rewrites them.
    before = (out / "detections.geojson").read_bytes()
    assert main(["scan", *args]) == 1
    assert "partial: 1 scene file(s) cannot be scanned" in capsys.readouterr().out
    assert (out / "detections.geojson").read_bytes() == before
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    tried = Counter((line["scene"], line["status"]) for line in lines)
    finished = {(scene.name, "done"): 1 for scene in scan_data.grid}
    assert tried == {("broken.tif", "failed"): 2} | finished


def test_an_unreadable_scene_file_is_named_and_removing_it_as_advised_completes_the_scan(
    full_scan: Any, scan_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # A file rasterio cannot open fails the same way however often it is read: the summary
    # names it with its error and asks for what works, not for a rerun alone.
    out, scenes = tmp_path / "scan", tmp_path / "scenes"
    shutil.copytree(full_scan.out, out)
    shutil.copytree(scan_data.scenes_dir, scenes)
    args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--scenes-dir", str(scenes)]
    args += ["--output-dir", str(out)]
    assert main(args) == 1
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.endswith(
        f"partial: 1 scene file(s) cannot be scanned ({scenes / 'broken.tif'}: not a readable"
        f" raster ('{scenes / 'broken.tif'}' not recognized as being in a supported file"
        " format.)): fix or remove them, then rerun"
    )
    assert "rerun to retry" not in summary
    assert (out / "PARTIAL").read_text() == "broken.tif\n"
    (scenes / "broken.tif").unlink()
    assert main(args) == 0
    assert "0 failed" in capsys.readouterr().out
    assert not (out / "PARTIAL").exists()
    assert len(gpd.read_file(out / "detections.geojson")) == 2


def test_stac_route_scans_the_newest_items_over_a_bbox(
    full_scan: Any, scan_data: Any, ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "scan"
    with StacServer.from_directory(scan_data.stac_dir) as server:
        args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--bbox"]
        args += [str(value) for value in bbox_of(scan_data.grid)]
        args += ["--stac-url", server.url, "--output-dir", str(out), "--workers", "1"]
        # A download that fails is tried again by the scan (a 404 is not by the download).
        server.fail(1, 404, path_prefix=f"/assets/{GRID_IDS[1]}.tif")
        assert main(args) == 0
        lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
        # One scene per 2022 item; the 2018 item under the top-left one is not scanned.
        assert sorted(line["scene"] for line in lines) == GRID_IDS
        assert {line["status"] for line in lines} == {"done"}
        assert {line["scene"]: line["attempts"] for line in lines} == {
            scene: 2 if scene == GRID_IDS[1] else 1 for scene in GRID_IDS
        }
        # The same detections as the local scenes (the items are the same files), each
        # naming the STAC item it came from.
        local = gpd.read_file(full_scan.out / "detections.geojson")
        found = gpd.read_file(out / "detections.geojson")
        assert found["source_item"].tolist() == found["source"].str.removesuffix(".tif").tolist()
        assert local["source_item"].isna().all()
        columns = [column for column in local.columns if column != "source_item"]
        assert found[columns].to_wkt().equals(local[columns].to_wkt())
        # A rerun downloads nothing: every scene is finished.
        server.clear_log()
        capsys.readouterr()
        assert main([*args, "--overwrite"]) == 0
        assert not server.requests_to("/assets/")
        summary = capsys.readouterr().out
        assert "0 scanned now" in summary and "4 done before" in summary


def test_stac_scan_writes_a_review_page_of_the_detections_it_wrote(
    scan_data: Any, ray_cluster: None, tmp_path: Path
) -> None:
    out, page = tmp_path / "scan", tmp_path / "review.html"
    with StacServer.from_directory(scan_data.stac_dir) as server:
        args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--bbox"]
        args += [str(value) for value in bbox_of(scan_data.grid)]
        args += ["--stac-url", server.url, "--output-dir", str(out), "--workers", "1"]
        assert main([*args, "--threshold", "0.6", "--output-review", str(page)]) == 0
    detections = read_vector(out / "detections.geojson", "detections")
    data = report_data(page, "review-data")
    # The page is of the scan's run: verdicts exported from it merge against its file.
    assert data["run"] == run_id(detections) and data["threshold"] == 0.6
    assert len(detections) >= 2
    # Every detection the scan wrote, and only those, with the same outline and facts,
    # in the page's order (by score and area alone: a STAC scan keeps no imagery to cut
    # chips from).
    by_id = {f["properties"]["id"]: f for f in data["detections"]["features"]}
    assert sorted(by_id) == sorted(detections["id"].tolist())
    for row in detections.itertuples():
        properties = by_id[row.id]["properties"]
        assert properties["score"] == pytest.approx(row.score)
        assert properties["source_item"] == row.source_item
        shown = shapely.geometry.shape(by_id[row.id]["geometry"])
        assert shown.symmetric_difference(row.geometry).area < 1e-6 * row.geometry.area
    traits = detection_chips(detections, []).traits(detections)
    order = review_order(detections["score"].to_numpy(), None, traits)
    assert data["order"] == detections["id"].to_numpy()[order].tolist()


def registered[Format: OutputFormat](output: Format) -> Iterator[Format]:
    """Register *output* for one test, then take it out of the registry."""
    register(output)
    yield output
    del FORMATS[output.name]


@pytest.fixture
def ids_format() -> Iterator[VectorFormat]:
    """A format registered once: a text file with each detection's id and area."""

    def write_ids(detections: gpd.GeoDataFrame, path: Path) -> None:
        rows = detections[["id", "area_m2"]].itertuples(index=False)
        path.write_text("".join(f"{number} {area:.0f}\n" for number, area in rows))

    yield from registered(
        VectorFormat(
            name="ids", help="ids and areas", writer=write_ids, extension=".ids", scan=True
        )
    )


def test_a_format_registered_once_reaches_predict_detect_batch_detect_and_scan(
    ids_format: VectorFormat,
    full_scan: Any,
    scan_data: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    def expected(vectors: Path) -> str:
        table = gpd.read_file(vectors)
        return "".join(f"{row.id} {row.area_m2:.0f}\n" for row in table.itertuples())

    checkpoint, scene = str(scan_data.checkpoint), scan_data.grid[0]
    options = ["--device", "cpu", "--num-workers", "0"]
    # Predictor.predict
    predictor = Predictor(scan_data.checkpoint, device="cpu", progress=False, num_workers=0)
    result = predictor.predict(scene, output_ids=tmp_path / "p.ids")
    assert result.outputs == {"ids": tmp_path / "p.ids"}
    # The roof inside the scene; the corner roof's piece is below the minimum area.
    assert (tmp_path / "p.ids").read_text() == f"1 {scan_data.inside_m2:.0f}\n"
    # tgdc detect: its flag, the file, the list printed and the overwrite check
    detect = ["detect", "--checkpoint", checkpoint, "--image", str(scene), *options]
    detect += ["--output-geojson", str(tmp_path / "d.geojson"), "--output-ids"]
    assert main([*detect, str(tmp_path / "d.ids")]) == 0
    assert f"ids: {tmp_path / 'd.ids'}" in capsys.readouterr().out
    assert (tmp_path / "d.ids").read_text() == expected(tmp_path / "d.geojson")
    assert main([*detect, str(tmp_path / "other.ids")]) == 2
    assert "d.geojson: already exists" in capsys.readouterr().err
    # tgdc batch-detect
    batch = ["batch-detect", "--checkpoint", checkpoint, "--chips-dir", str(scan_data.scenes_dir)]
    batch += ["--glob", "naip_*.tif", *options, "--output-geojson", str(tmp_path / "b.geojson")]
    assert main([*batch, "--output-ids", str(tmp_path / "b.ids")]) == 0
    assert (tmp_path / "b.ids").read_text() == expected(tmp_path / "b.geojson")
    assert len((tmp_path / "b.ids").read_text().splitlines()) == 2
    # tgdc scan: a rerun over finished scenes merges and writes every scan file again
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    assert "detections.ids under --output-dir" in " ".join(capsys.readouterr().out.split())
    out = tmp_path / "scan"
    shutil.copytree(full_scan.out, out)
    scan = ["scan", "--checkpoint", checkpoint, "--scenes-dir", str(scan_data.scenes_dir)]
    assert main([*scan, "--glob", "naip_*.tif", "--output-dir", str(out), "--overwrite"]) == 0
    assert f"ids: {out / 'detections.ids'}" in capsys.readouterr().out
    assert (out / "detections.ids").read_text() == expected(out / "detections.geojson")


@pytest.fixture
def summary_format() -> Iterator[RunFormat]:
    """A run format registered once: a line of the run's item id, threshold and count."""

    def write_summary(path: Path, detections: gpd.GeoDataFrame, run: RunRecord) -> Path:
        path.write_text(f"{run.item_id} {run.threshold:g} {len(detections)}\n")
        return path

    yield from registered(
        RunFormat(name="summary", help="one line", writer=write_summary, checker=check_output_path)
    )


def test_a_run_format_registered_once_reaches_detect_batch_detect_and_scan(
    summary_format: RunFormat,
    full_scan: Any,
    scan_data: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    checkpoint, scene = str(scan_data.checkpoint), scan_data.grid[0]
    options = ["--device", "cpu", "--num-workers", "0", "--threshold", "0.6"]
    detect = ["detect", "--checkpoint", checkpoint, "--image", str(scene), *options]
    detect += ["--output-geojson", str(tmp_path / "d.geojson"), "--output-summary"]
    assert main([*detect, str(tmp_path / "d.txt")]) == 0
    assert f"summary: {tmp_path / 'd.txt'}" in capsys.readouterr().out
    assert (tmp_path / "d.txt").read_text() == f"{scene.stem} 0.6 1\n"
    # Checked before any work, as the other outputs: nothing is written.
    assert main([*detect, str(tmp_path / "d.txt")]) == 2
    assert "d.txt: already exists" in capsys.readouterr().err
    batch = ["batch-detect", "--checkpoint", checkpoint, "--chips-dir", str(scan_data.scenes_dir)]
    batch += ["--glob", "naip_*.tif", "--output-geojson", str(tmp_path / "b.geojson")]
    assert main([*batch, "--output-summary", str(tmp_path / "b.txt")]) == 0
    assert (tmp_path / "b.txt").read_text() == "scenes 0.5 2\n"
    out = tmp_path / "scan"
    shutil.copytree(full_scan.out, out)
    scan = ["scan", "--checkpoint", checkpoint, "--scenes-dir", str(scan_data.scenes_dir)]
    scan += ["--glob", "naip_*.tif", "--output-dir", str(out), "--overwrite"]
    assert main([*scan, "--output-summary", str(tmp_path / "s.txt")]) == 0
    assert (tmp_path / "s.txt").read_text() == "scan 0.5 2\n"


def test_a_rerun_writes_the_merged_outlines_regularised_without_scanning_again(
    full_scan: Any, scan_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "scan"
    shutil.copytree(full_scan.out, out)
    records = (out / "manifest.jsonl").read_text()
    args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--scenes-dir"]
    args += [str(scan_data.scenes_dir), "--glob", "naip_*.tif", "--output-dir", str(out)]
    assert main([*args, "--regularize", "--split-width", "8", "--overwrite"]) == 0
    assert (out / "manifest.jsonl").read_text() == records  # no scene scanned again
    capsys.readouterr()
    found = gpd.read_file(out / "detections.geojson")
    assert list(found["outline"]) == ["regularized"] * 2
    assert list(found["site_id"]) == list(found["id"])
    utm = found.to_crs("EPSG:32617")
    # The corner roof, cut into four scenes, is one rectangle again: four corners.
    for outline, area in zip(utm.geometry, (scan_data.inside_m2, scan_data.corner_m2), strict=True):
        assert len(outline.exterior.coords) == 5
        assert outline.area == pytest.approx(area, rel=0.01)
    assert list(found["area_m2"]) == pytest.approx(list(utm.area), rel=1e-3)
