"""What a scan records for a scene that fails, without starting Ray."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.errors import RasterioIOError

from torchgeo_datacenters.errors import describe_error
from torchgeo_datacenters.scan.runner import PARTIAL_NOTE, mark_partial


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


def test_merged_outputs_are_marked_partial_until_every_scene_is_done(tmp_path: Path) -> None:
    note = mark_partial(tmp_path, ["m_1_20200101", "m_2_20200101"])
    assert note == tmp_path / PARTIAL_NOTE
    assert note.read_text().splitlines() == ["m_1_20200101", "m_2_20200101"]
    assert mark_partial(tmp_path, ["m_2_20200101"]) == note
    assert note.read_text().splitlines() == ["m_2_20200101"]
    # The rerun that finishes the last scene removes the note, and leaves nothing behind.
    assert mark_partial(tmp_path, []) is None
    assert list(tmp_path.iterdir()) == []
