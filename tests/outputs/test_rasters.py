from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import CRS
from support.inference import UTM, utm_transform

from torchgeo_datacenters.inference.tiles import SceneGrid
from torchgeo_datacenters.outputs import FORMATS

GRID = SceneGrid(crs=CRS(UTM), transform=utm_transform(), width=70, height=50)


def test_rasters_are_cogs_on_the_scene_grid(tmp_path: Path) -> None:
    probabilities = np.random.default_rng(0).random((50, 70), dtype=np.float32)
    probabilities[:, :5] = np.nan
    with (
        FORMATS["mask"].open(tmp_path / "m.tif", GRID) as mask,
        FORMATS["probabilities"].open(tmp_path / "p.tif", GRID) as prob,
    ):
        for row in (0, 17, 34):
            band = probabilities[row : row + 17]
            mask.write(row, (band > 0.5).astype(np.uint8))
            prob.write(row, band)
    for name, dtype in (("m.tif", "uint8"), ("p.tif", "float32")):
        with rasterio.open(tmp_path / name) as src:
            assert src.crs == UTM and src.transform == GRID.transform
            assert src.shape == (50, 70) and src.dtypes == (dtype,)
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    with rasterio.open(tmp_path / "p.tif") as src:
        np.testing.assert_array_equal(src.read(1), probabilities)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tif", "p.tif"]


def test_a_failed_raster_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), FORMATS["mask"].open(tmp_path / "m.tif", GRID) as mask:
        mask.write(0, np.zeros((10, 70), np.uint8))
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
