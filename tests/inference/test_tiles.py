import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from affine import Affine
from support.data import shared_data
from support.inference import BRIGHT, DARK, MEAN, STD, utm_transform, write_scene
from torch.utils.data import BatchSampler, DataLoader

from torchgeo_datacenters.datasets import NAIPChips
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.predictor import as_read
from torchgeo_datacenters.inference.tiles import (
    SceneDataset,
    SharedBatches,
    TileReader,
    group_rasters,
    open_scene,
    tile_offsets,
)


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


def test_reader_normalises_and_pads(tmp_path: Path) -> None:
    path = write_scene(tmp_path / "s.tif", 60, 100, [(10, 20, 5, 5)])
    scene = open_scene(path, 4)
    reader = TileReader(scene, [(0, 0), (-4, -8)], 64, [MEAN] * 4, [STD] * 4)
    batch = reader[[1]]
    assert batch["index"].tolist() == [1]
    image, valid = batch["image"][0], batch["valid"][0]
    assert image.shape == (4, 64, 64) and image.dtype == torch.float32
    assert valid.shape == (64, 64) and valid[4:, 8:].all() and not valid[:4].any()
    assert not valid[:, :8].any()
    assert image[:, 14, 28] == pytest.approx((BRIGHT - MEAN) / STD)
    assert image[:, 4, 8] == pytest.approx((DARK - MEAN) / STD)
    assert (image[:, ~valid] == 0).all()


def test_a_batch_reads_like_its_tiles_one_by_one(tmp_path: Path) -> None:
    """Tiles of one row are read together; the batch must equal tile-by-tile reads."""
    path = write_scene(
        tmp_path / "s.tif",
        150,
        170,
        [(10, 20, 30, 40), (100, 120, 20, 30)],
        nodata=0,
        nodata_region=(slice(0, 12), slice(0, 50)),
    )
    scene = open_scene(path, 4)
    offsets = tile_offsets(scene, 64, 16)
    assert len({row for row, _ in offsets}) > 1
    reader = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4)
    order = [4, 0, 1, len(offsets) - 1, 2]  # rows mixed and out of order
    batch = reader[order]
    for i, index in enumerate(order):
        alone = reader[[index]]
        torch.testing.assert_close(batch["image"][i], alone["image"][0], rtol=0, atol=0)
        np.testing.assert_array_equal(batch["valid"][i], alone["valid"][0])
        row, col = offsets[index]
        raw = scene.read(row, col, (64, 64))
        # Invalid pixels are NaN as read and 0 once normalised.
        expected = np.where(scene.valid(raw, row, col)[..., None], (raw - MEAN) / STD, 0)
        expected = expected.transpose(2, 0, 1)
        np.testing.assert_allclose(batch["image"][i].numpy(), expected, rtol=1e-6)
    # Channels-last batches hold the same values, laid out for the model.
    last = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4, channels_last=True)[order]
    assert last["image"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(last["image"], batch["image"])


@pytest.mark.parametrize("per_worker", [4, 1])
def test_workers_read_batches_into_shared_buffers(tmp_path: Path, per_worker: int) -> None:
    corner = (slice(0, 30), slice(0, 60))
    roofs = [(10, 20, 30, 40)]
    path = write_scene(tmp_path / "s.tif", 150, 170, roofs, nodata=0, nodata_region=corner)
    scene = open_scene(path, 4)
    offsets = tile_offsets(scene, 64, 16)
    batches = list(BatchSampler(range(len(offsets)), 3, drop_last=False))
    plain = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4, channels_last=True)
    shared = SharedBatches(1, per_worker, (3, 64, 64 * 4))
    reader = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4, shared=shared)
    assert shared.acquire() is None  # the main process reads into batches of its own
    with pytest.raises(ValueError, match="per_worker=0"):
        SharedBatches(1, 0, (3, 64, 64 * 4))
    loader = DataLoader(reader, sampler=batches, batch_size=None, collate_fn=as_read, num_workers=1)
    slots = []
    for indices, batch in zip(batches, loader, strict=True):
        expected = plain[indices]
        images = reader.images(batch)
        torch.testing.assert_close(images, expected["image"], rtol=0, atol=0)
        np.testing.assert_array_equal(batch["valid"], expected["valid"])
        assert ("image" in batch) == (batch["slot"] is None)
        slots.append(batch["slot"])
        if per_worker > 1:
            reader.release(batch)
    if per_worker > 1:
        # Buffers handed back are filled again: no batch needed a fresh tensor.
        assert None not in slots and set(slots) <= set(range(per_worker))
        assert not shared.busy.any()
    else:
        # The one buffer was never handed back: later batches came in tensors of their own.
        assert slots == [0] + [None] * (len(batches) - 1)


def test_nodata_pixels_are_invalid(tmp_path: Path) -> None:
    path = write_scene(
        tmp_path / "s.tif", 40, 40, nodata=0, nodata_region=(slice(0, 10), slice(None))
    )
    scene = open_scene(path, 4)
    valid = TileReader(scene, [(0, 0)], 40, [MEAN] * 4, [STD] * 4)[[0]]["valid"][0]
    assert not valid[:10].any() and valid[10:].all()


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
