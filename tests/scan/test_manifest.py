import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.scan import Manifest
from torchgeo_datacenters.scan.manifest import MANIFEST_FILE, scene_file_name

SETTINGS = {"checkpoint_sha256": "abc", "threshold": 0.5, "min_area": 1000.0}


def table(lon: float, source: str) -> gpd.GeoDataFrame:
    square = shapely.box(lon, 39.0, lon + 0.001, 39.001)
    return gpd.GeoDataFrame(
        {
            "id": [1],
            "area_m2": [8000.0],
            "centroid_lon": [square.centroid.x],
            "centroid_lat": [square.centroid.y],
            "score": [0.8],
            "max_score": [0.95],
            "source": [source],
        },
        geometry=[square],
        crs="EPSG:4326",
    )


def test_finished_scenes_are_those_with_detections_on_disk(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "out", SETTINGS)
    done = manifest.record_done(
        "a/scene 1.tif", table(-80.0, "scene 1.tif"), scanned_km2=2.5, seconds=1.0, attempts=1
    )
    manifest.record_failed("b.tif", "b.tif: not a readable raster", seconds=0.1, attempts=3)
    assert (tmp_path / "out" / done.file).is_file()
    assert set(manifest.records()) == {"a/scene 1.tif", "b.tif"}
    assert manifest.records()["b.tif"].error == "b.tif: not a readable raster"
    assert manifest.records()["b.tif"].attempts == 3
    assert set(manifest.finished()) == {"a/scene 1.tif"}
    # A rerun opening the same directory sees the same; a lost GeoParquet is not finished.
    again = Manifest(tmp_path / "out", SETTINGS)
    assert set(again.finished()) == {"a/scene 1.tif"}
    (tmp_path / "out" / done.file).unlink()
    assert again.finished() == {}


def test_the_last_record_of_a_scene_counts(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path, SETTINGS)
    manifest.record_failed("a.tif", "HTTP 503", seconds=0.1, attempts=3)
    manifest.record_done("a.tif", table(-80.0, "a.tif"), scanned_km2=1.0, seconds=1.0, attempts=1)
    assert manifest.records()["a.tif"].status == "done"
    assert len((tmp_path / MANIFEST_FILE).read_text().splitlines()) == 2


def test_a_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path, SETTINGS)
    manifest.record_done("a.tif", table(-80.0, "a.tif"), scanned_km2=1.0, seconds=1.0, attempts=1)
    with open(tmp_path / MANIFEST_FILE, "a") as file:
        file.write('{"scene": "b.tif", "status": "do')
    assert set(manifest.records()) == {"a.tif"}
    manifest.record_done("c.tif", table(-79.0, "c.tif"), scanned_km2=1.0, seconds=1.0, attempts=1)
    lines = (tmp_path / MANIFEST_FILE).read_text().splitlines()
    assert json.loads(lines[-1])["scene"] == "c.tif"
    assert set(manifest.finished()) == {"a.tif", "c.tif"}


def test_read_concatenates_finished_scenes_in_the_order_asked(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path, SETTINGS)
    manifest.record_done("a.tif", table(-80.0, "a.tif"), scanned_km2=1.0, seconds=1.0, attempts=1)
    empty = table(-79.0, "b.tif").iloc[:0]
    manifest.record_done("b.tif", empty, scanned_km2=1.0, seconds=1.0, attempts=1)
    manifest.record_done("c.tif", table(-78.0, "c.tif"), scanned_km2=1.0, seconds=1.0, attempts=1)
    read = manifest.read(["c.tif", "missing.tif", "b.tif", "a.tif"])
    assert read["source"].tolist() == ["c.tif", "a.tif"]
    assert read.crs == "EPSG:4326"
    assert read.geometry.iloc[1].equals(table(-80.0, "a.tif").geometry.iloc[0])
    assert manifest.read(["b.tif"]).empty
    # The same table, dtypes included, as reading each GeoParquet with geopandas.
    files = [manifest.records()[scene].file for scene in ("c.tif", "a.tif")]
    each = [gpd.read_parquet(tmp_path / str(file)) for file in files]
    expected = gpd.GeoDataFrame(pd.concat(each, ignore_index=True), crs="EPSG:4326")
    pd.testing.assert_frame_equal(read, expected)


def test_other_settings_are_refused(tmp_path: Path) -> None:
    Manifest(tmp_path, SETTINGS)
    with pytest.raises(TGDCError, match=r"threshold=0\.5, not 0\.7.*another --output-dir"):
        Manifest(tmp_path, {**SETTINGS, "threshold": 0.7})
    Manifest(tmp_path, dict(reversed(SETTINGS.items())))


def test_output_directory_must_be_creatable(tmp_path: Path) -> None:
    with pytest.raises(TGDCError, match="does not exist"):
        Manifest(tmp_path / "missing" / "out", SETTINGS)
    (tmp_path / "file").write_text("x")
    with pytest.raises(TGDCError, match="is a file"):
        Manifest(tmp_path / "file", SETTINGS)


def test_scene_file_names_are_safe_and_unique() -> None:
    names = {scene_file_name(scene) for scene in ["a/b.tif", "a_b.tif", "a b.tif", "../x"]}
    assert len(names) == 4
    assert all("/" not in name and " " not in name for name in names)
    assert scene_file_name("a/b.tif") == scene_file_name("a/b.tif")


def test_a_truncated_scene_file_is_reported_and_scanned_again(tmp_path: Path) -> None:
    manifest = Manifest(tmp_path / "out", SETTINGS)
    done = manifest.record_done(
        "a.tif", table(-80.0, "a.tif"), scanned_km2=2.5, seconds=1.0, attempts=1
    )
    manifest.record_done("b.tif", table(-79.0, "b.tif"), scanned_km2=2.5, seconds=1.0, attempts=1)
    path = tmp_path / "out" / done.file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(UserWarning, match=r"a\.tif.* cannot be read .* scanned again"):
        assert set(manifest.finished()) == {"b.tif"}
    with pytest.warns(UserWarning):
        assert list(manifest.read(["a.tif", "b.tif"])["source"]) == ["b.tif"]
