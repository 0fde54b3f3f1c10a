import itertools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from support.data import shared_data
from support.inference import MEAN, STD, UTM, predictor, write_scene

from torchgeo_datacenters.datasets import NAIPChips
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.grid import Grid
from torchgeo_datacenters.inference.reader import TileReader
from torchgeo_datacenters.inference.scene import open_scene
from torchgeo_datacenters.inference.tiling import scene_tiling, tile_offsets, tiled_pixels
from torchgeo_datacenters.options import AUTO_TILE_SIZES, AUTO_TILE_SLACK


def coverage(offsets: list[tuple[int, int]], shape: tuple[int, int], tile: int) -> np.ndarray:
    """How many tiles cover every scene pixel."""
    count = np.zeros(shape, int)
    for row, col in offsets:
        count[max(row, 0) : row + tile, max(col, 0) : col + tile] += 1
    return count


@pytest.mark.parametrize(("height", "width"), [(300, 500), (256, 256), (1000, 257)])
def test_tiles_cover_the_scene_from_inside(tmp_path: Path, height: int, width: int) -> None:
    scene = open_scene(write_scene(tmp_path / "s.tif", height, width), 4)
    offsets = tile_offsets(scene, 128, 32)
    assert offsets == sorted(offsets)
    assert coverage(offsets, (height, width), 128).min() >= 1
    rows = sorted({row for row, _ in offsets})
    assert rows[0] == 0 and rows[-1] == height - 128
    assert all(0 <= col <= width - 128 for _, col in offsets)
    # Neighbours overlap by at least the overlap, by less than a tile.
    assert all(32 <= a + 128 - b < 128 for a, b in itertools.pairwise(rows))


def test_scene_smaller_than_a_tile_gets_one_centred_tile(tmp_path: Path) -> None:
    scene = open_scene(write_scene(tmp_path / "s.tif", 60, 100), 4)
    assert tile_offsets(scene, 128, 32) == [(-34, -14)]
    # The automatic tile too is clamped to the scene, rounded up to 32 px.
    assert scene_tiling(scene.grid, None, 32) == (128, 32)


def test_bad_tiling(tmp_path: Path) -> None:
    scene = open_scene(write_scene(tmp_path / "s.tif", 60, 100), 4)
    with pytest.raises(TGDCError, match="overlap"):
        tile_offsets(scene, 64, 64)
    with pytest.raises(TGDCError, match="tile_size"):
        tile_offsets(scene, 0, 0)


def test_real_naip_through_naipchips() -> None:
    path = shared_data("naip", "m_4208701_ne_16_060_20200902.tif")
    dataset = NAIPChips(str(path), filename_glob=path.name)
    scene = open_scene(dataset, 4)
    assert (scene.grid.height, scene.grid.width) == (143, 175)
    offsets = tile_offsets(scene, 64, 16)
    assert coverage(offsets, (143, 175), 64).min() >= 1
    batch = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4)[range(len(offsets))]
    assert batch["valid"].all() and batch["image"].shape == (len(offsets), 4, 64, 64)
    with pytest.raises(TGDCError, match="expects 3"):
        open_scene(dataset, 3)


def test_an_overlap_beyond_half_the_tile_warns_with_the_tile_counts(tmp_path: Path) -> None:
    scene = open_scene(write_scene(tmp_path / "s.tif", 300, 400), 4)
    message = r"--overlap 63 px .* 64 px tile: it would take 79,869 tiles; 32 px overlap is used"
    with pytest.warns(UserWarning, match=message + r" \(108 tiles\)"):
        assert scene_tiling(scene.grid, 64, 63) == (64, 32)
    # Half the tile or less is used as asked, without a word.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scene_tiling(scene.grid, 64, 32) == (64, 32)


@pytest.mark.parametrize(
    ("side", "tile", "pixels"),
    [
        # (scene side, tile chosen, tile pixels per scene pixel): 256 px tiles would hold
        # 2.91x, 2.25x, 1.56x and 1.41x the pixels of these scenes.
        (300, 320, 1.14),
        (512, 288, 1.27),
        (1024, 288, 1.27),
        (4096, 288, 1.27),
        # Larger tiles would save less than a tenth (320 px: 1.20x, 1.25x, 1.24x): 256 px.
        (2048, 256, 1.27),
        (10000, 256, 1.33),
        (16384, 256, 1.30),
        # One tile of 256 px covers a 256² scene.
        (256, 256, 1.0),
    ],
)
def test_automatic_tiles_hold_few_pixels_in_little_memory(
    side: int, tile: int, pixels: float
) -> None:
    grid = Grid(crs=UTM, transform=Affine(0.6, 0, 0, 0, -0.6, 0), width=side, height=side)
    assert scene_tiling(grid, None, 32) == (tile, 32)
    held = {size: tiled_pixels(grid, size, 32) for size in AUTO_TILE_SIZES}
    assert held[tile] / side**2 == pytest.approx(pixels, abs=0.005)
    # The smallest tile within the slack of the fewest pixels.
    fewest = min(held.values())
    assert held[tile] <= fewest * (1 + AUTO_TILE_SLACK)
    assert all(held[size] > fewest * (1 + AUTO_TILE_SLACK) for size in held if size < tile)


def test_automatic_tiles_find_what_256_px_tiles_find(tmp_path: Path) -> None:
    # A 512² scene: 2 x 2 tiles of 288 px instead of 3 x 3 of 256 px, the same roofs.
    roofs = [(20, 30, 60, 90), (250, 240, 40, 40), (400, 10, 100, 300)]
    path = write_scene(tmp_path / "chip.tif", 512, 512, roofs)
    runs = {size: predictor(tile_size=size).predict(path) for size in (None, 256)}
    assert (runs[None].stats.tiles, runs[256].stats.tiles) == (4, 9)
    assert len(runs[None]) == len(roofs)
    # The same outlines and areas; scores blended from other tiles agree to float32's precision.
    assert runs[None].gdf.geom_equals(runs[256].gdf).all()
    pd.testing.assert_frame_equal(
        runs[None].gdf.drop(columns="geometry"), runs[256].gdf.drop(columns="geometry"), rtol=1e-6
    )
