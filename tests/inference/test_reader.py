from pathlib import Path

import numpy as np
import pytest
import torch
from rasterio.transform import from_origin
from support.inference import BRIGHT, DARK, GSD, MEAN, ORIGIN, STD, write_scene

from torchgeo_datacenters.inference.reader import TileReader
from torchgeo_datacenters.inference.scene import open_scene
from torchgeo_datacenters.inference.tiling import tile_offsets


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


def test_nodata_pixels_are_invalid(tmp_path: Path) -> None:
    path = write_scene(
        tmp_path / "s.tif", 40, 40, nodata=0, nodata_region=(slice(0, 10), slice(None))
    )
    scene = open_scene(path, 4)
    valid = TileReader(scene, [(0, 0)], 40, [MEAN] * 4, [STD] * 4)[[0]]["valid"][0]
    assert not valid[:10].any() and valid[10:].all()


@pytest.mark.parametrize("nodata", [None, 0])
def test_tiles_not_needed_are_not_read_where_valid_pixels_need_no_values(
    tmp_path: Path, nodata: float | None
) -> None:
    # Two files side by side with a gap of 30 columns between them: the scene's footprint
    # leaves the gap out. Without a nodata value, valid pixels need no pixel values.
    left = write_scene(tmp_path / "a.tif", 150, 80, nodata=nodata)
    right_origin = from_origin(ORIGIN[0] + 110 * GSD, ORIGIN[1], GSD, GSD)
    right = write_scene(tmp_path / "b.tif", 150, 80, transform=right_origin, nodata=nodata)
    scene = open_scene([left, right], 4)
    assert scene.grid.width == 190 and scene.footprint is not None
    assert scene.validity_needs_pixels == (nodata is not None)
    offsets = tile_offsets(scene, 64, 16)
    needed = np.zeros(len(offsets), bool)
    needed[0] = True
    rows_read: list[int] = []
    read = scene.read

    def counted(row_off: int, col_off: int, size: tuple[int, int]) -> np.ndarray:
        rows_read.append(row_off)
        return read(row_off, col_off, size)

    scene.read = counted  # type: ignore[method-assign]
    every = list(range(len(offsets)))
    batch = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4, needed=needed)[every]
    rows = sorted({row for row, _ in offsets})
    # Only the row holding the needed tile is read, unless validity needs the pixels.
    assert sorted(set(rows_read)) == (rows if nodata is not None else [offsets[0][0]])
    full = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4)[every]
    np.testing.assert_array_equal(batch["valid"], full["valid"])
    gap = [i for i, (_, col) in enumerate(offsets) if col <= 80 and col + 64 >= 110]
    assert gap and all(not full["valid"][i][:, 80 - offsets[i][1]].any() for i in gap)
    torch.testing.assert_close(batch["image"][0], full["image"][0], rtol=0, atol=0)
