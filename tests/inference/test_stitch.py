import numpy as np
import pytest
import torch
from support.inference import RandomConvNet

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.stitch import Stitcher, blend_window, ramp


class Collect:
    """A band sink that keeps every band it is given."""

    def __init__(self) -> None:
        self.bands: list[tuple[int, np.ndarray]] = []

    def __call__(self, row_off: int, band: np.ndarray) -> None:
        self.bands.append((row_off, band.copy()))

    def scene(self) -> np.ndarray:
        return np.concatenate([band for _, band in self.bands])


def grid(size: int, tile: int, stride: int) -> list[int]:
    """Offsets of tiles along one axis, the last one flush with the border."""
    offsets = list(range(0, max(size - tile, 0) + 1, stride))
    if offsets[-1] + tile < size:
        offsets.append(size - tile)
    return offsets


def stitch(
    probabilities: np.ndarray, tile: int, overlap: int, valid: np.ndarray | None = None
) -> tuple[np.ndarray, Collect]:
    """Cut a probability image into tiles and stitch them back."""
    height, width = probabilities.shape
    valid = np.ones_like(probabilities, bool) if valid is None else valid
    sink = Collect()
    stitcher = Stitcher(height, width, tile, overlap, sink)
    for row in grid(height, tile, tile - overlap):
        for col in grid(width, tile, tile - overlap):
            window = np.s_[row : row + tile, col : col + tile]
            stitcher.add(probabilities[window], valid[window], row, col)
    stitcher.finish()
    return sink.scene(), sink


@pytest.mark.parametrize("overlap", [1, 8, 32, 33])
def test_ramps_of_neighbours_sum_to_one(overlap: int) -> None:
    distance = np.arange(overlap) + 0.5
    total = ramp(distance, overlap) + ramp(overlap - distance, overlap)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_ramp_is_zero_in_the_outer_quarter_of_the_overlap() -> None:
    weights = ramp(np.arange(40) + 0.5, 32)
    assert np.all(weights[:8] == 0)
    assert np.all(weights[8:24] > 0)
    assert np.all(np.diff(weights[8:24]) > 0)
    assert np.all(weights[24:] == 1)


def test_window_tapers_only_inner_edges() -> None:
    window = blend_window(64, 48, 16, (True, False, False, True))
    assert window.shape == (64, 48)
    assert np.all(window[:4] == 0)
    assert np.all(window[-1, :36] == 1)
    assert np.all(window[-1, 36:] < 1)
    assert np.all(window[20:, 0] == 1)
    assert np.all(window[:, -4:] == 0)
    assert np.all(blend_window(64, 48, 16, (False,) * 4) == 1)
    assert not window.flags.writeable


def test_constant_probabilities_stitch_without_seams() -> None:
    probabilities = np.full((150, 230), 0.3, np.float32)
    stitched, _ = stitch(probabilities, tile=64, overlap=16)
    np.testing.assert_allclose(stitched, 0.3, atol=1e-6)


def test_stitching_equals_one_pass_over_the_scene() -> None:
    # A fully convolutional net reaching 4 px sees the same context in every tile at
    # least overlap / 4 = 4 px from a tile edge, and the same zero padding at the border.
    net = RandomConvNet(radius=4)
    image = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 4, 133, 201)))
    with torch.inference_mode():
        whole = net(image.float())[0].numpy()
        sink = Collect()
        stitcher = Stitcher(133, 201, 48, 16, sink)
        for row in grid(133, 48, 32):
            for col in grid(201, 48, 32):
                tile = image[..., row : row + 48, col : col + 48].float()
                stitcher.add(net(tile)[0].numpy(), np.ones((48, 48), bool), row, col)
        stitcher.finish()
    np.testing.assert_allclose(sink.scene(), whole, atol=1e-5, rtol=0)


def test_bands_are_emitted_in_order_once_and_at_most_a_tile_high() -> None:
    probabilities = np.random.default_rng(1).random((300, 90), dtype=np.float32)
    stitched, sink = stitch(probabilities, tile=40, overlap=8)
    rows = [row for row, _ in sink.bands]
    heights = [band.shape[0] for _, band in sink.bands]
    assert rows == list(np.cumsum([0, *heights[:-1]]))
    assert sum(heights) == 300
    assert max(heights) <= 40
    assert all(band.shape[1] == 90 for _, band in sink.bands)
    np.testing.assert_allclose(stitched, probabilities, atol=1e-6)


def test_invalid_pixels_and_rows_without_tiles_are_nan() -> None:
    sink = Collect()
    stitcher = Stitcher(200, 50, 32, 8, sink)
    valid = np.ones((32, 32), bool)
    valid[:, :5] = False
    stitcher.add(np.full((32, 32), 0.7, np.float32), valid, 0, 0)
    stitcher.add(np.full((32, 32), 0.2, np.float32), np.ones((32, 32), bool), 150, 18)
    stitcher.finish()
    scene = sink.scene()
    assert scene.shape == (200, 50)
    assert np.all(np.isnan(scene[:, :5][:32]))
    # The tile's inner edges (bottom, right) have a zero margin of 8 // 4 = 2 px.
    np.testing.assert_allclose(scene[:30, 5:30], 0.7, atol=1e-6)
    assert np.all(np.isnan(scene[30:32])) and np.all(np.isnan(scene[:32, 30:]))
    assert np.all(np.isnan(scene[32:150]))
    # Its right edge is on the border: no margin there.
    np.testing.assert_allclose(scene[152:180, 20:], 0.2, atol=1e-6)
    assert np.all(np.isnan(scene[150:182, :20]))
    assert np.all(np.isnan(scene[182:]))


def test_a_tile_the_model_did_not_run_on_is_zero_and_fades_no_predicted_pixel() -> None:
    sink = Collect()
    # Two tiles of 32 px side by side, overlapping by 8 px (columns 24-31).
    stitcher = Stitcher(32, 56, 32, 8, sink)
    stitcher.add(np.full((32, 32), 0.8, np.float32), np.ones((32, 32), bool), 0, 0)
    valid = np.ones((32, 32), bool)
    valid[:, -4:] = False
    stitcher.add(None, valid, 0, 24)
    stitcher.finish()
    scene = sink.scene()
    # The predicted tile's right edge has a zero margin of 8 // 4 = 2 px (columns 30-31);
    # up to it the predicted tile alone decides, however its ramp weights the pixels.
    np.testing.assert_allclose(scene[:, :30], 0.8, atol=1e-6)
    np.testing.assert_array_equal(scene[:, 30:52], 0.0)
    assert np.all(np.isnan(scene[:, 52:]))


def test_tiles_must_come_in_row_order() -> None:
    stitcher = Stitcher(100, 100, 32, 8, Collect())
    tile = np.zeros((32, 32), np.float32)
    valid = np.ones((32, 32), bool)
    stitcher.add(tile, valid, 50, 0)
    with pytest.raises(ValueError, match="row order"):
        stitcher.add(tile, valid, 10, 0)
    with pytest.raises(ValueError, match="not"):
        stitcher.add(tile[:10], valid[:10], 50, 0)


def test_bad_sizes() -> None:
    with pytest.raises(TGDCError, match="positive"):
        Stitcher(0, 10, 32, 8, Collect())
    with pytest.raises(TGDCError, match="negative"):
        Stitcher(10, 10, 32, -1, Collect())
