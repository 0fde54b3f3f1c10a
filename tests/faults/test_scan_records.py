"""What a scan records for a scene that fails, without starting Ray."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import RasterioIOError

from torchgeo_datacenters.scan.runner import describe_error


def test_a_scene_truncated_after_its_header_records_gdals_message(tmp_path: Path) -> None:
    scene = tmp_path / "scene.tif"
    profile = {"driver": "GTiff", "width": 256, "height": 256, "count": 4, "dtype": "uint8"}
    with rasterio.open(scene, "w", **profile) as dst:
        dst.write(np.random.default_rng(0).integers(0, 255, (4, 256, 256), dtype=np.uint8))
    scene.write_bytes(scene.read_bytes()[: scene.stat().st_size // 2])
    with pytest.raises(RasterioIOError) as caught, rasterio.open(scene) as src:
        src.read()
    assert "See previous exception" in str(caught.value)
    recorded = describe_error(caught.value)
    assert recorded.startswith("RasterioIOError: ")
    assert "Read error" in recorded and "See previous exception" not in recorded
