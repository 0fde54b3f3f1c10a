import itertools
import warnings
from pathlib import Path

import numpy as np
import pytest
from support.data import shared_data
from support.inference import MEAN, STD, write_scene

from torchgeo_datacenters.datasets import NAIPChips
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.reader import TileReader
from torchgeo_datacenters.inference.scene import open_scene
from torchgeo_datacenters.inference.tiling import scene_tiling, tile_offsets


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
