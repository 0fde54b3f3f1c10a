"""Tests of test-time augmentation over the 8 symmetries of the square."""

from pathlib import Path

import numpy as np
import pytest
import torch
from support.inference import RandomConvNet, bright_roofs, write_scene

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.inference.tta import TTA_MODES, d4_average, with_tta


def manual_d4(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """The mean of the model over the 8 symmetries, each turned back, in NumPy."""
    array = images.numpy()
    total = np.zeros((array.shape[0], *array.shape[2:]))
    for turns in range(4):
        for flip in (False, True):
            view = np.rot90(array, turns, axes=(2, 3))
            view = view[..., ::-1] if flip else view
            with torch.inference_mode():
                out = model(torch.from_numpy(view.copy())).numpy()
            out = out[..., ::-1] if flip else out
            total += np.rot90(out, -turns, axes=(1, 2))
    return total / 8


@pytest.mark.parametrize("shape", [(2, 4, 24, 24), (1, 4, 20, 36)])
def test_d4_is_the_mean_over_flips_and_rotations(shape: tuple[int, ...]) -> None:
    model = RandomConvNet(radius=3).eval()
    images = torch.randn(*shape)
    with torch.inference_mode():
        averaged = d4_average(model)(images).numpy()
        plain = model(images).numpy()
    assert averaged.shape == plain.shape
    assert np.allclose(averaged, manual_d4(model, images), atol=1e-6)
    # The model is not symmetric, so the augmentation changes its output.
    assert np.abs(averaged - plain).max() > 1e-3


def test_a_symmetric_model_is_unchanged(tmp_path: Path) -> None:
    # BrightRoofs' 3x3 kernel is symmetric under every rotation and flip.
    scene = write_scene(tmp_path / "scene.tif", 100, 140, [(10, 20, 30, 50), (60, 90, 30, 40)])
    model = bright_roofs()
    images = torch.randn(3, 4, 32, 32)
    with torch.inference_mode():
        assert torch.allclose(
            with_tta(model, "d4").probability_fn(images), model.module(images), atol=1e-6
        )
    results = [
        Predictor(
            model,
            device="cpu",
            tile_size=48,
            overlap=16,
            min_area=0.0,
            num_workers=0,
            progress=False,
            tta=tta,
        ).predict(scene)
        for tta in TTA_MODES
    ]
    assert len(results[0]) == len(results[1]) == 2
    assert results[0].gdf.geometry.geom_equals(results[1].gdf.geometry).all()


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(TGDCError, match="tta: 'd8' is not one of none, d4"):
        Predictor(bright_roofs(), device="cpu", tta="d8")
