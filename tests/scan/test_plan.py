import json
from pathlib import Path
from typing import Any

import pytest
from support.data import bbox_of
from support.stac_server import StacServer

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.scan import plan as scan_plan
from torchgeo_datacenters.scan.plan import NAIP_BANDS, SceneSize, item_size

#: A NAIP item's footprint: 0.01° x 0.01° at 39° N.
SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[-77.0, 39.0], [-76.99, 39.0], [-76.99, 39.01], [-77.0, 39.01], [-77.0, 39.0]]
    ],
}


def test_item_size_from_the_catalogue_or_the_grid() -> None:
    given = {
        "properties": {"proj:shape": [1000, 800]},
        "assets": {"image": {"file:size": 123456}},
    }
    assert item_size(given, "image") == SceneSize(800_000, 123456, False)
    # No size: pixels x bands, one byte each (uncompressed: an upper bound).
    shaped = {"properties": {"proj:shape": [1000, 800]}, "assets": {"image": {}}}
    assert item_size(shaped, "image") == SceneSize(800_000, 800_000 * NAIP_BANDS, True)
    # No shape: the footprint's area (865 m x 1111 m at 39° N) over 0.6 m pixels.
    footprint = {"geometry": SQUARE, "properties": {"gsd": 0.6}, "assets": {}}
    size = item_size(footprint, "image")
    pixels = size.pixels
    assert size.estimated and abs(pixels * 0.36 - 865.1 * 1110.9) / (865.1 * 1110.9) < 0.01
    with pytest.raises(TGDCError, match="neither proj:shape nor a footprint"):
        item_size({"id": "x", "properties": {}, "assets": {}}, "image")


def test_plan_prints_the_cost_and_writes_only_its_json(
    scan_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "plan.json"
    with StacServer.from_directory(scan_data.stac_dir) as server:
        args = ["scan", "--checkpoint", str(scan_data.checkpoint), "--bbox"]
        args += [str(value) for value in bbox_of(scan_data.grid)]
        args += ["--stac-url", server.url, "--plan", "--workers", "4"]
        assert main([*args, "--rate", "2.5", "--output-plan", str(plan)]) == 0
        assert not server.requests_to("/assets/")  # nothing downloaded
        printed = capsys.readouterr().out
        # The newest items: the four 2022 scenes of 256 x 256 pixels.
        pixels = 4 * 256 * 256
        figures = json.loads(plan.read_text())
        assert figures["items"] == 4 and figures["estimated_items"] == 4
        assert figures["gigapixels"] == pytest.approx(pixels / 1e9)
        assert figures["gigabytes"] == pytest.approx(pixels * NAIP_BANDS / 1e9)
        assert figures["worker_hours"] == pytest.approx(pixels / 2.5e6 / 3600)
        assert figures["wall_hours"] == pytest.approx(figures["worker_hours"] / 4)
        assert "items: 4" in printed and "wall time with 4 worker(s): 0 s" in printed
        assert sorted(path.name for path in tmp_path.iterdir()) == ["plan.json"]
        # Measured: the checkpoint on a SYNTHETIC tile (one run after the warm-up here).
        monkeypatch.setattr(scan_plan, "CALIBRATION_SECONDS", 0.0)
        assert main([*args, "--years", "2018", "2022"]) == 0
        printed = capsys.readouterr().out
        assert "items: 5" in printed and "measured on a SYNTHETIC tile with roofs.ckpt" in printed
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plan.json"]


def test_plan_options_need_plan(
    scan_data: Any, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    args = [
        "scan",
        "--checkpoint",
        str(scan_data.checkpoint),
        "--scenes-dir",
        str(scan_data.scenes_dir),
    ]
    assert main([*args, "--output-dir", str(tmp_path / "out"), "--rate", "3"]) == 2
    assert "go with --plan" in capsys.readouterr().err
    assert main(args) == 2
    assert "--output-dir: required" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
