import json
import sys
from pathlib import Path
from typing import Any

import pytest
from support.data import bbox_of
from support.stac_server import StacServer

from torchgeo_datacenters.cli import main

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


def test_a_finished_scan_refuses_other_settings_and_existing_outputs(
    full_scan: Any, scan_data: Any, capsys: pytest.CaptureFixture
) -> None:
    args = ["--checkpoint", str(scan_data.checkpoint), "--scenes-dir", str(scan_data.scenes_dir)]
    args += ["--output-dir", str(full_scan.out)]
    assert main(["scan", *args, "--threshold", "0.7"]) == 2
    assert "threshold=0.5, not 0.7" in capsys.readouterr().err
    assert main(["scan", *args]) == 2
    assert "detections.geojson: already exists; pass --overwrite" in capsys.readouterr().err


def test_stac_route_scans_the_newest_items_over_a_bbox(
    full_scan: Any, scan_data: Any, ray_cluster: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "scan"
    with StacServer.from_directory(scan_data.stac_dir) as server:
        args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--bbox"]
        args += [str(value) for value in bbox_of(scan_data.grid)]
        args += ["--stac-url", server.url, "--output-dir", str(out), "--workers", "1"]
        assert main(args) == 0
        lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
        # One scene per 2022 item; the 2018 item under the top-left one is not scanned.
        assert sorted(line["scene"] for line in lines) == GRID_IDS
        assert {line["status"] for line in lines} == {"done"}
        # The same detections as the local scenes: the items are the same files.
        for name in ("detections.geojson", "detections.csv"):
            assert (out / name).read_bytes() == (full_scan.out / name).read_bytes()
        # A rerun downloads nothing: every scene is finished.
        server.clear_log()
        capsys.readouterr()
        assert main([*args, "--overwrite"]) == 0
        assert not server.requests_to("/assets/")
        summary = capsys.readouterr().out
        assert "0 scanned now" in summary and "4 done before" in summary
