"""Fixtures shared by the whole suite."""

from pathlib import Path

import pytest

from torchgeo_datacenters.cli import set_runtime_environment
from torchgeo_datacenters.utils.bytecode import compile_environment_once

# The environment tgdc runs torch in (idle OpenMP threads sleep rather than spin), set
# before torch loads: in-process training tests otherwise spin for the cores that their
# own subprocesses and servers need.
set_runtime_environment()
# The first session in a fresh environment compiles it in the background, as tgdc does.
compile_environment_once()

import torch  # noqa: E402

from torchgeo_datacenters.synthetic import SyntheticDataset, generate_scenes  # noqa: E402

# Two cores: keep torch from oversubscribing them in every test process.
torch.set_num_threads(2)


@pytest.fixture(scope="session")
def synthetic_scenes(tmp_path_factory: pytest.TempPathFactory) -> SyntheticDataset:
    """Six small SYNTHETIC NAIP-like scenes with labels, generated once per session."""
    out: Path = tmp_path_factory.mktemp("synthetic")
    return generate_scenes(out, size=512, count=6, seed=1, progress=False)


@pytest.fixture(scope="session")
def low_contrast_uint16(
    synthetic_scenes: SyntheticDataset, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The SYNTHETIC scenes as low-contrast 12-bit uint16 (value x 4 + 1000), as a directory."""
    import rasterio

    root = tmp_path_factory.mktemp("uint16")
    for scene in synthetic_scenes.scene_paths:
        with rasterio.open(scene) as src:
            profile, pixels = src.profile, src.read().astype("uint16") * 4 + 1000
        profile.update(dtype="uint16")
        with rasterio.open(root / scene.name, "w", **profile) as dst:
            dst.write(pixels)
    return root
