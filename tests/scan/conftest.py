"""Fixtures of the scan tests: a checkpoint that finds bright roofs, 2x2 scenes, one Ray.

The scenes are the predictor tests' dark ground with bright roofs (:mod:`support.inference`),
laid out 2 x 2 on one pixel lattice so that they touch. One roof straddles the corner the
four scenes share, cut into pieces of 505 to 2025 m² (each below the default 2,500 m²
minimum area, so only merging keeps them); one lies inside the top-left scene; one small
roof lies inside the bottom-right scene and is too small to keep.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from rasterio.transform import from_origin
from support.inference import BRIGHT, DARK, GSD, MEAN, ORIGIN, STD, save_checkpoint, write_scene

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.scan.cluster import import_ray, ray_session

#: Side of every test scene, in pixels.
SIDE = 256

#: Roofs as (row, col, height, width) in pixels of the 2 x 2 mosaic.
CORNER_ROOF = (230, 180, 100, 130)
INSIDE_ROOF = (40, 40, 80, 100)
SMALL_ROOF = (400, 400, 20, 20)

#: Logit gain of the bright-roof checkpoint.
GAIN = 10.0


def bright_roof_checkpoint(path: Path) -> Path:
    """A real UNet4 checkpoint whose weights are set by hand to find bright roofs exactly.

    Starting from :func:`support.inference.save_checkpoint`, every convolution is zeroed
    but one channel that carries the band mean of each pixel (centre taps only, so the
    receptive field is one pixel) through the finest encoder level, the skip connection
    and the finest decoder level to the head, which thresholds it half-way between the
    normalised ground and roof values. BatchNorm keeps its initial identity statistics.
    """
    save_checkpoint(path)
    checkpoint = torch.load(path, weights_only=True)
    state = checkpoint["state_dict"]
    for name, value in state.items():
        if name.endswith(".weight") and value.ndim == 4:
            value.zero_()
    bands = state["model.encoder.0.0.weight"].shape[1]
    width = state["model.encoder.0.0.weight"].shape[0]
    state["model.encoder.0.0.weight"][0, :, 1, 1] = 1.0 / bands
    state["model.encoder.0.3.weight"][0, 0, 1, 1] = 1.0
    # The finest decoder level sees [upsampled coarser features, skip]: take skip channel 0.
    state["model.decoder.2.block.0.weight"][0, width, 1, 1] = 1.0
    state["model.decoder.2.block.3.weight"][0, 0, 1, 1] = 1.0
    bright, dark = (BRIGHT - MEAN) / STD, max((DARK - MEAN) / STD, 0.0)
    state["model.head.weight"][0, 0, 0, 0] = GAIN
    state["model.head.bias"][0] = -GAIN * (bright + dark) / 2
    torch.save(checkpoint, path)
    return path


def pieces(row: int, col: int) -> list[tuple[int, int, int, int]]:
    """The mosaic's roofs that reach into the scene at grid cell (row, col), in its pixels."""
    inside = []
    for top, left, height, width in (CORNER_ROOF, INSIDE_ROOF, SMALL_ROOF):
        top, left = top - row * SIDE, left - col * SIDE
        if top < SIDE and left < SIDE and top + height > 0 and left + width > 0:
            inside.append((top, left, height, width))
    return inside


def scene_transform(row: int, col: int):
    """The transform of the scene at grid cell (row, col) of the mosaic."""
    x, y = ORIGIN
    return from_origin(x + col * SIDE * GSD, y - row * SIDE * GSD, GSD, GSD)


def write_grid(directory: Path, date: str = "20220701") -> list[Path]:
    """Write the four scenes of the 2 x 2 mosaic, named ``naip_r{row}c{col}_{date}.tif``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for row in range(2):
        for col in range(2):
            path = directory / f"naip_r{row}c{col}_{date}.tif"
            transform = scene_transform(row, col)
            paths.append(write_scene(path, SIDE, SIDE, pieces(row, col), transform=transform))
    return paths


@dataclass(frozen=True)
class ScanData:
    """The files the scan tests share."""

    #: The bright-roof checkpoint.
    checkpoint: Path
    #: The four scenes and one broken GeoTIFF (a failing scene).
    scenes_dir: Path
    #: The four scenes plus an older (2018) item under the top-left one, for a STAC server.
    stac_dir: Path
    #: The four scenes of the mosaic in scenes_dir, top-left first.
    grid: list[Path]
    #: Areas of the corner roof and of the roof inside the top-left scene, in m².
    corner_m2: float = CORNER_ROOF[2] * CORNER_ROOF[3] * GSD**2
    inside_m2: float = INSIDE_ROOF[2] * INSIDE_ROOF[3] * GSD**2


@pytest.fixture(scope="package")
def scan_data(tmp_path_factory: pytest.TempPathFactory) -> ScanData:
    root = tmp_path_factory.mktemp("scan_data")
    checkpoint = bright_roof_checkpoint(root / "roofs.ckpt")
    scenes_dir, stac_dir = root / "scenes", root / "stac"
    grid = write_grid(scenes_dir)
    (scenes_dir / "broken.tif").write_bytes(b"not a GeoTIFF")
    write_grid(stac_dir)
    # Older imagery under the top-left scene, with a roof the newer imagery lacks.
    write_scene(
        stac_dir / "naip_r0c0_20180610.tif",
        SIDE,
        SIDE,
        [(125, 125, 90, 90)],
        transform=scene_transform(0, 0),
    )
    return ScanData(checkpoint, scenes_dir, stac_dir, grid)


@pytest.fixture(scope="package")
def ray_cluster() -> Iterator[None]:
    """One local Ray with 2 CPUs for every scan test (Ray starts slowly).

    Every scan starts its own actors, and each imports torch and torchgeo: the tests use
    one worker except for the uninterrupted scan, which uses two.
    """
    pytest.importorskip("ray", reason="Ray is an optional extra: uv sync --extra scale")
    ray = import_ray(local=True)
    with ray_session(ray, None, 2):
        yield


@dataclass(frozen=True)
class FullScan:
    """An uninterrupted ``tgdc scan --scenes-dir`` of :func:`scan_data` with 2 workers."""

    #: Its output directory.
    out: Path
    #: The exit status of ``tgdc scan``.
    status: int


@pytest.fixture(scope="package")
def full_scan(
    scan_data: ScanData, ray_cluster: None, tmp_path_factory: pytest.TempPathFactory
) -> FullScan:
    out = tmp_path_factory.mktemp("full_scan") / "scan"
    status = main(
        [
            "scan",
            "--checkpoint",
            str(scan_data.checkpoint),
            "--scenes-dir",
            str(scan_data.scenes_dir),
            "--output-dir",
            str(out),
            "--workers",
            "2",
            "--retries",
            "1",
        ]
    )
    return FullScan(out, status)
