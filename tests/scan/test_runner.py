import json
from collections import Counter
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import torch
from geopandas.testing import assert_geodataframe_equal
from support.inference import GSD, ORIGIN, UTM, bright_roofs

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.detections import merge_detections
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference import Predictor, load_checkpoint
from torchgeo_datacenters.options import PredictorOptions
from torchgeo_datacenters.scan import SceneRecord, scan, scenes_in_directory
from torchgeo_datacenters.scan.manifest import MANIFEST_FILE, SCENES_DIR
from torchgeo_datacenters.scan.runner import scan_settings

#: The corner the four test scenes share (256 px of 0.6 m from the origin), in UTM.
CORNER = shapely.Point(ORIGIN[0] + 256 * GSD, ORIGIN[1] - 256 * GSD)


class Interrupted(Exception):
    """Stands for a crash of the machine running the scan."""


def manifest_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST_FILE).read_text().splitlines()]


def test_building_across_the_shared_corner_is_one_polygon(full_scan: Any, scan_data: Any) -> None:
    detections = gpd.read_parquet(full_scan.out / "detections.parquet")
    at_corner = detections[detections.to_crs(UTM).distance(CORNER) < 1e-3]
    assert len(at_corner) == 1
    corner = at_corner.iloc[0]
    assert corner.geometry.geom_type == "Polygon"
    assert corner.area_m2 == pytest.approx(scan_data.corner_m2, rel=0.02)
    # The roof spans mosaic rows 230-330 and columns 180-310: its centre, in UTM.
    centre = gpd.GeoSeries([shapely.Point(corner.centroid_lon, corner.centroid_lat)], crs=4326)
    centre = centre.to_crs(UTM).iloc[0]
    assert (centre.x - ORIGIN[0], ORIGIN[1] - centre.y) == pytest.approx((245 * GSD, 280 * GSD))
    # Besides it, only the roof inside the top-left scene: the 144 m² roof is too small.
    assert sorted(detections["area_m2"]) == pytest.approx(
        sorted([scan_data.corner_m2, scan_data.inside_m2])
    )
    assert detections["id"].tolist() == [1, 2]
    geojson = json.loads((full_scan.out / "detections.geojson").read_text())
    assert [f["properties"]["id"] for f in geojson["features"]] == [1, 2]
    assert len((full_scan.out / "detections.csv").read_text().splitlines()) == 3


def test_an_unreadable_scene_is_recorded_at_once_and_the_scan_goes_on(full_scan: Any) -> None:
    assert full_scan.status == 1
    lines = manifest_lines(full_scan.out)
    assert Counter(line["status"] for line in lines) == {"done": 4, "failed": 1}
    [failed] = [line for line in lines if line["status"] == "failed"]
    assert failed["scene"] == "broken.tif"
    assert failed["attempts"] == 1  # not retried (--retries 1): it would fail again
    assert "broken.tif" in failed["error"] and "not a readable raster" in failed["error"]
    # The merged outputs lack that scene, and say so.
    assert (full_scan.out / "PARTIAL").read_text().splitlines() == ["broken.tif"]
    done = [line for line in lines if line["status"] == "done"]
    assert all((full_scan.out / line["file"]).is_file() for line in done)
    assert sum(line["detections"] for line in done) == 5  # 4 corner pieces and 1 inside roof
    assert sum(line["scanned_km2"] for line in done) == pytest.approx(4 * (256 * GSD) ** 2 / 1e6)


def test_interrupted_scan_resumes_without_redoing_finished_scenes(
    full_scan: Any, scan_data: Any, ray_cluster: None, tmp_path: Path
) -> None:
    scenes = scenes_in_directory(scan_data.scenes_dir)
    out = tmp_path / "scan"
    options = {"checkpoint": scan_data.checkpoint, "output_dir": out, "workers": 1}
    options |= {"retries": 1, "progress": False}
    first: list[SceneRecord] = []

    def crash_after_two(record: SceneRecord) -> None:
        first.append(record)
        if sum(record.status == "done" for record in first) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        scan(scenes, on_scene=crash_after_two, **options)
    done = {record.scene for record in first if record.status == "done"}
    assert len(done) == 2
    assert not (out / "detections.geojson").exists()
    stamps = {path: path.stat().st_mtime_ns for path in (out / SCENES_DIR).iterdir()}
    assert len(stamps) == 2

    second: list[SceneRecord] = []
    result = scan(scenes, on_scene=second.append, **options)
    assert {record.scene for record in second} == {scene.id for scene in scenes} - done
    assert (result.skipped, result.scanned) == (2, 2)
    assert [record.scene for record in result.failed] == ["broken.tif"]
    assert {path: path.stat().st_mtime_ns for path in stamps} == stamps
    finished = Counter(line["scene"] for line in manifest_lines(out) if line["status"] == "done")
    assert len(finished) == 4 and set(finished.values()) == {1}
    for name in ("detections.geojson", "detections.csv"):
        assert (out / name).read_bytes() == (full_scan.out / name).read_bytes()
    assert_geodataframe_equal(
        gpd.read_parquet(out / "detections.parquet"),
        gpd.read_parquet(full_scan.out / "detections.parquet"),
    )


def test_more_gpus_than_the_cluster_has_are_refused(
    scan_data: Any, ray_cluster: None, tmp_path: Path
) -> None:
    scenes = scenes_in_directory(scan_data.scenes_dir, "naip_r0c0_*.tif")
    with pytest.raises(TGDCError, match="--gpus-per-worker 1: the Ray cluster has 0 GPU"):
        scan(scenes, scan_data.checkpoint, tmp_path / "out", gpus_per_worker=1, progress=False)


def test_scan_options_are_checked_before_any_work(scan_data: Any, tmp_path: Path) -> None:
    scenes = scenes_in_directory(scan_data.scenes_dir)
    checkpoint = scan_data.checkpoint
    with pytest.raises(TGDCError, match="retries"):
        scan(scenes, checkpoint, tmp_path / "out", retries=-1)
    with pytest.raises(TGDCError, match="occur more than once"):
        scan(scenes + scenes[:1], checkpoint, tmp_path / "out")
    with pytest.raises(TGDCError, match="device are set by the scan for each worker"):
        scan(scenes, checkpoint, tmp_path / "out", options=PredictorOptions(device="cpu"))
    assert not (tmp_path / "out").exists()


def weightless_checkpoint(checkpoint: Path, path: Path, threshold: float) -> Path:
    """*checkpoint*'s contract, with *threshold*, over weights of no network."""
    saved = torch.load(checkpoint, weights_only=True)
    saved["hyper_parameters"]["threshold"] = threshold
    saved["state_dict"] = {"model.head.weight": torch.zeros(1)}
    torch.save(saved, path)
    return path


def test_a_scan_reads_the_threshold_from_the_contract_without_building_the_model(
    scan_data: Any, tmp_path: Path
) -> None:
    checkpoint = weightless_checkpoint(scan_data.checkpoint, tmp_path / "w.ckpt", 0.42)
    with pytest.raises(TGDCError, match=r"weights .* are not those of the DataCenterSegmentation"):
        load_checkpoint(checkpoint)
    options, settings = scan_settings(checkpoint, PredictorOptions(overlap=16, min_area=0))
    assert options == PredictorOptions(overlap=16, min_area=0, threshold=0.42)
    assert (settings["threshold"], settings["overlap"], settings["min_area"]) == (0.42, 16, 0.0)
    assert settings["screen"] == "off" and settings["precision"] in ("fp32", "bf16")
    assert "batch_size" not in settings and "device" not in settings
    given, _ = scan_settings(checkpoint, PredictorOptions(threshold=0.7))
    assert given.threshold == 0.7
    # An option the scan sets for its workers is refused before anything is written.
    scenes = scenes_in_directory(scan_data.scenes_dir)
    with pytest.raises(TGDCError, match="num_workers are set by the scan for each worker"):
        scan(scenes, checkpoint, tmp_path / "out", options=PredictorOptions(num_workers=2))
    assert not (tmp_path / "out").exists()


def test_a_scan_refuses_bad_options_in_one_line_before_the_model(
    scan_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    checkpoint = weightless_checkpoint(scan_data.checkpoint, tmp_path / "w.ckpt", 0.42)
    out = tmp_path / "out"
    args = ["scan", "--checkpoint", str(checkpoint), "--scenes-dir", str(scan_data.scenes_dir)]
    args += ["--output-dir", str(out), "--tile-size", "64", "--overlap", "64"]
    assert main(args) == 2
    assert capsys.readouterr().err.splitlines() == [
        "tgdc scan: error: --overlap 64 must be a whole number from 0 to 63, below the tile size"
    ]
    assert not out.exists()


def test_scene_by_scene_merge_equals_predicting_the_mosaic(scan_data: Any) -> None:
    paths = scan_data.grid
    predictor = Predictor(bright_roofs(), device="cpu", progress=False, num_workers=0, min_area=0)
    pieces = pd.concat([predictor.predict(path).gdf for path in paths], ignore_index=True)
    assert len(pieces) == 6  # the corner roof in four pieces, the inside and the small roof
    merged = merge_detections(pieces, distance=10, min_area=1000)
    mosaic = Predictor(
        bright_roofs(), device="cpu", progress=False, num_workers=0, min_area=1000
    ).predict_batch(paths)
    assert len(merged) == len(mosaic) == 2
    expected = sorted([scan_data.corner_m2, scan_data.inside_m2])
    assert sorted(merged["area_m2"]) == pytest.approx(expected, rel=1e-6)
    for column in ("area_m2", "centroid_lon", "centroid_lat", "score", "max_score"):
        assert merged[column].to_numpy() == pytest.approx(mosaic.gdf[column].to_numpy(), rel=1e-6)
    difference = merged.to_crs(UTM).symmetric_difference(mosaic.gdf.to_crs(UTM), align=False)
    assert (difference.area < 1e-3).all()
