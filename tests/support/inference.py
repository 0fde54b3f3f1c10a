"""Scenes, models and checkpoints for the predictor's tests.

Scenes are dark ground (raw 30 in every band) with bright rectangular roofs (raw 220).
:class:`BrightRoofs` is a one-layer detector of them whose receptive field reaches one
pixel: with the statistics of :func:`bright_roofs` its probability is at or above 0.5
exactly on the roof pixels, so detections can be checked to the pixel.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch
from affine import Affine
from rasterio.transform import from_origin
from torch import Tensor, nn
from torchgeo.datasets import RasterDataset

from support.data import write_raster
from torchgeo_datacenters.inference import Predictor, ProbabilityModel

DARK, BRIGHT = 30, 220
MEAN, STD = 125.0, 50.0
UTM = "EPSG:32617"
GSD = 0.6
ORIGIN = (500000.0, 4400000.0)


class SceneDataset(RasterDataset):
    """Georeferenced rasters of any band count, read with all their bands."""

    filename_glob = "*"


#: (row, col, height, width) of a roof, in pixels.
Roof = tuple[int, int, int, int]


def utm_transform(gsd: float = GSD) -> Affine:
    """The transform of test scenes: 0.6 m pixels from ORIGIN."""
    return from_origin(*ORIGIN, gsd, gsd)


def scene_array(
    height: int, width: int, roofs: Sequence[Roof], bands: int = 4, dtype: str = "uint8"
) -> np.ndarray:
    """A (bands, height, width) array of dark ground with bright roofs."""
    array = np.full((bands, height, width), DARK, dtype=dtype)
    for row, col, h, w in roofs:
        array[:, max(row, 0) : row + h, max(col, 0) : col + w] = BRIGHT
    return array


def write_scene(
    path: Path,
    height: int,
    width: int,
    roofs: Sequence[Roof] = (),
    *,
    bands: int = 4,
    crs: str | None = UTM,
    transform: Affine | None = None,
    nodata: float | None = None,
    nodata_region: tuple[slice, slice] | None = None,
) -> Path:
    """Write a scene GeoTIFF; *nodata_region* pixels get the *nodata* value."""
    array = scene_array(height, width, roofs, bands)
    if nodata_region is not None:
        array[:, nodata_region[0], nodata_region[1]] = nodata
    return write_raster(path, array, crs, transform or utm_transform(), nodata=nodata)


class BrightRoofs(nn.Module):
    """Probability of a roof: a centre-heavy 3x3 average of the bands, sharpened."""

    def __init__(self, bands: int = 4, gain: float = 8.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(bands, 1, 3, padding=1, bias=False)
        kernel = torch.full((3, 3), 0.05)
        kernel[1, 1] = 0.6
        with torch.no_grad():
            self.conv.weight.copy_(kernel.expand(1, bands, 3, 3) / bands)
        self.gain = gain

    def forward(self, images: Tensor) -> Tensor:
        return torch.sigmoid(self.gain * self.conv(images))[:, 0]


def bright_roofs(bands: int = 4, threshold: float = 0.5) -> ProbabilityModel:
    """BrightRoofs as a probability model with the test scenes' statistics."""
    module = BrightRoofs(bands)
    return ProbabilityModel(
        probability_fn=module,
        mean=[MEAN] * bands,
        std=[STD] * bands,
        threshold=threshold,
        module=module,
        name="bright-roofs",
    )


def predictor(model: ProbabilityModel | None = None, **options: Any) -> Predictor:
    """A CPU predictor without progress bars that keeps every detection as traced.

    No minimum area, no merging, no reading workers and fp32 (``auto`` runs bf16 on CPUs
    that have it), so detections can be checked to the pixel on any CPU; *options* replace
    these and the other defaults; *model* defaults to :func:`bright_roofs`.
    """
    defaults = {
        "min_area": 0.0,
        "merge_distance": 0.0,
        "num_workers": 0,
        "precision": "fp32",
        "progress": False,
    }
    return Predictor(model or bright_roofs(), device="cpu", **{**defaults, **options})


class RandomConvNet(nn.Module):
    """A random fully convolutional net whose receptive field reaches *radius* pixels."""

    def __init__(self, radius: int, bands: int = 4, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        channels = bands
        while radius > 0:
            dilation = min(radius, 2)
            layers += [nn.Conv2d(channels, 6, 3, padding=dilation, dilation=dilation), nn.ReLU()]
            channels, radius = 6, radius - dilation
        layers.append(nn.Conv2d(channels, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return torch.sigmoid(self.net(images))[:, 0]


def save_checkpoint(
    path: Path,
    *,
    logit: float | None = 5.0,
    bands: int = 4,
    task: str = "binary",
    gsd: float = GSD,
) -> Path:
    """Save a real DataCenterSegmentation checkpoint (UNet4) through a Lightning Trainer.

    The U-Net's head is set to a constant *logit*, so the model predicts the probability
    sigmoid(logit) on every pixel: a data center covering every valid pixel when positive.
    With *logit* None the weights stay random. A ``'multiclass'`` *task* has the
    hard-negative classes and the cross-entropy loss; *gsd* is the pixel size, in metres,
    recorded as the training imagery's (4 x 0.6 m for a screen).
    """
    from torchgeo_datacenters.tasks import DataCenterSegmentation
    from torchgeo_datacenters.tasks.losses import LOSSES

    model = DataCenterSegmentation(
        model="unet4",
        task=task,
        loss=LOSSES[task][0],
        in_channels=bands,
        bands=["R", "G", "B", "NIR"][:bands],
        mean=[MEAN] * bands,
        std=[STD] * bands,
        gsd=gsd,
        patch_size=256,
    )
    if logit is not None:
        with torch.no_grad():
            model.model.head.weight.zero_()
            model.model.head.bias.fill_(logit)
    trainer = lightning.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
    )
    trainer.strategy.connect(model)
    trainer.save_checkpoint(path)
    return path


def save_random_checkpoint(path: Path, seed: int = 0, logit: float = 5.0) -> Path:
    """Save a real UNet4 checkpoint with random weights and a sharp head.

    Every weight is drawn from *seed*; the head's at twice the unit scale, so that few pixels lie
    near any one probability: a model whose detections can be compared between two ways
    of running it. Its bias is *logit*: with 0, probabilities spread around 0.55 and a
    threshold of 0.6 finds blobs of tens to thousands of m² in a SYNTHETIC scene.
    """
    torch.manual_seed(seed)
    save_checkpoint(path, logit=logit)
    saved = torch.load(path, weights_only=True)
    head = saved["state_dict"]["model.head.weight"]
    saved["state_dict"]["model.head.weight"] = torch.randn_like(head) * 2
    torch.save(saved, path)
    return path
