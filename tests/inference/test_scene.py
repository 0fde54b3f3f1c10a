from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from support.inference import SceneDataset, utm_transform, write_scene

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.scene import group_rasters, open_scene


def test_dataset_reads_like_the_file(tmp_path: Path) -> None:
    path = write_scene(tmp_path / "s.tif", 90, 130, [(10, 20, 30, 40)])
    from_file = open_scene(path, 4)
    from_dataset = open_scene(SceneDataset(str(path)), 4)
    assert from_dataset.grid == from_file.grid
    for row, col in [(0, 0), (26, 66), (-5, 100)]:
        np.testing.assert_array_equal(
            from_dataset.read(row, col, (64, 64)), from_file.read(row, col, (64, 64))
        )


def test_mosaic_footprint_marks_gaps_invalid(tmp_path: Path) -> None:
    # Two chips side by side and one below the left one: the lower right is a gap.
    transform = utm_transform()
    paths = []
    for name, (row, col) in {"a": (0, 0), "b": (0, 50), "c": (40, 0)}.items():
        paths.append(
            write_scene(
                tmp_path / f"{name}.tif", 40, 50, transform=transform @ Affine.translation(col, row)
            )
        )
    scene = open_scene(paths, 4)
    assert (scene.grid.height, scene.grid.width) == (80, 100)
    valid = scene.valid(scene.read(0, 0, (80, 100)), 0, 0)
    assert valid[:40].all() and valid[40:, :50].all() and not valid[40:, 50:].any()


def test_open_scene_errors(tmp_path: Path) -> None:
    with pytest.raises(TGDCError, match="does not exist"):
        open_scene(tmp_path / "missing.tif", 4)
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(TGDCError, match="not a readable raster"):
        open_scene(text, 4)
    three = write_scene(tmp_path / "rgb.tif", 20, 20, bands=3)
    with pytest.raises(TGDCError, match=r"rgb\.tif: has 3 band\(s\) but the checkpoint expects 4"):
        open_scene(three, 4)
    no_crs = write_scene(tmp_path / "nocrs.tif", 20, 20, crs=None)
    with pytest.raises(TGDCError, match="no CRS"):
        open_scene(no_crs, 4)
    with pytest.raises(TGDCError, match="no raster"):
        open_scene([], 4)


def test_group_rasters(tmp_path: Path) -> None:
    transform = utm_transform()
    far = transform @ Affine.translation(10000, 0)
    paths = {
        "a": write_scene(tmp_path / "a.tif", 20, 20),
        "b": write_scene(
            tmp_path / "b.tif", 20, 20, transform=transform @ Affine.translation(20, 0)
        ),
        "c": write_scene(tmp_path / "c.tif", 20, 20, transform=far),
        "d": write_scene(tmp_path / "d.tif", 20, 20, crs="EPSG:32618"),
    }
    groups = group_rasters(paths.values())
    assert groups == [[paths["a"], paths["b"]], [paths["c"]], [paths["d"]]]
