"""Normalisation and augmentation fitted to the training imagery.

The model sees ``(pixel - mean) / std`` per band, in raw pixel units. Unless a user gives
them, ``mean`` and ``std`` are those of the training imagery itself (:func:`band_statistics`),
so the normalised input has unit spread whatever the data type (uint8 NAIP, 12-bit imagery
in uint16, float reflectance), and the brightness jitter of training is a share of that
spread (:data:`BRIGHTNESS_SHIFT`), never an absolute amount that swamps low-contrast
imagery.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import kornia.augmentation as K
import numpy as np
import rasterio
import torch

from ..errors import TGDCError

#: Largest brightness shift of training augmentation, in standard deviations of the
#: imagery (a band's spread): the 0.15 of a 0-255 normalisation on NAIP-like imagery
#: (spread 0.13-0.19 in those units, ``tgdc demo``'s scenes), kept relative to the data.
BRIGHTNESS_SHIFT = 1.0

#: Contrast jitter of training augmentation: the normalised image is multiplied by a
#: factor in ``1 -/+ CONTRAST`` (around the band means, which normalisation puts at 0).
CONTRAST = 0.15

#: Smallest spread (standard deviation) of a band of normalised training imagery that is
#: not warned about: below it the brightness jitter of a given ``mean``/``std`` swamps the
#: data (1/20 of the spread :func:`band_statistics` gives).
MIN_NORMALISED_SPREAD = 0.05

#: Most imagery files read for the statistics (evenly spaced over the sorted files).
MAX_FILES = 64

#: Reading step: the statistics are of every DECIMATION-th pixel in each direction.
DECIMATION = 8


@dataclass(frozen=True)
class BandStatistics:
    """Per-band statistics of imagery, in raw pixel units.

    Attributes:
        mean: mean of the valid pixels, one per band.
        std: standard deviation of the valid pixels, one per band.
        low: smallest valid value, one per band.
        high: largest valid value, one per band.
    """

    mean: list[float]
    std: list[float]
    low: list[float]
    high: list[float]


def band_statistics(files: Sequence[str], bands: Sequence[str]) -> BandStatistics:
    """Per-band statistics of the valid pixels of imagery files.

    Up to :data:`MAX_FILES` files, evenly spaced over the sorted list
    (:func:`statistics_files`), are read at 1/:data:`DECIMATION` resolution
    (:func:`read_sample`). The datamodule takes the same samples in the pass that checks
    its files (:class:`~.files.ImageryPass`), so that each file is opened once.

    Args:
        files: imagery files of *bands* bands each.
        bands: band names, for messages.

    Returns:
        The statistics.

    Raises:
        TGDCError: see :func:`statistics_of`.
    """
    samples = []
    for file in statistics_files(files):
        with rasterio.open(file) as src:
            samples.append(read_sample(src))
    return statistics_of(samples, bands, min(files))


def statistics_files(files: Sequence[str]) -> list[str]:
    """The files the statistics read: up to :data:`MAX_FILES`, evenly spaced over the sorted list.

    Args:
        files: the imagery files.

    Returns:
        The chosen files, sorted.
    """
    chosen = sorted(files)
    if len(chosen) > MAX_FILES:
        chosen = [chosen[round(i)] for i in np.linspace(0, len(chosen) - 1, MAX_FILES)]
    return chosen


def read_sample(src: rasterio.io.DatasetReader) -> np.ma.MaskedArray:
    """Every :data:`DECIMATION`-th pixel of an open file, each direction, nodata masked.

    GDAL decimates by nearest neighbour, or reads the file's overviews.

    Args:
        src: the open imagery file.

    Returns:
        The valid pixels, (bands, pixels) float64, masked where nodata or masked.
    """
    shape = (src.count, max(1, src.height // DECIMATION), max(1, src.width // DECIMATION))
    data = src.read(out_shape=shape, masked=True).astype(np.float64)
    return data.reshape(src.count, -1)


def statistics_of(
    samples: Sequence[np.ma.MaskedArray], bands: Sequence[str], first: str
) -> BandStatistics:
    """Per-band statistics of the valid pixels of file samples (:func:`read_sample`).

    Args:
        samples: the samples, (bands, pixels) each.
        bands: band names, for messages.
        first: the first imagery file, named in messages.

    Returns:
        The statistics.

    Raises:
        TGDCError: if no sample has a valid pixel, or a band is constant (nothing to learn
            from it, and a standard deviation of 0 cannot normalise it).
    """
    values = np.ma.concatenate(samples, axis=1)
    if values.count() == 0:
        raise TGDCError(
            f"{first}: no valid pixel in the training imagery (all nodata or masked);"
            " check the files' nodata value and mask band"
        )
    std = values.std(axis=1).filled(0.0)
    if not np.all(std > 0):
        band = int(np.argmin(std))
        raise TGDCError(
            f"{first}: band {bands[band]} of the training imagery is constant"
            f" ({float(values[band].min()):g}): nothing to learn from it; check the"
            " files, or give data.init_args.bands the bands that vary"
        )
    return BandStatistics(
        mean=[float(v) for v in values.mean(axis=1).filled(np.nan)],
        std=[float(v) for v in std],
        low=[float(v) for v in values.min(axis=1).filled(np.nan)],
        high=[float(v) for v in values.max(axis=1).filled(np.nan)],
    )


def default_value_range(dtype: str, statistics: BandStatistics | None) -> list[float]:
    """``[min, max]`` raw values of the training imagery where none is given.

    8-bit imagery (NAIP) uses its type's whole range; wider integer types rarely do (12-bit
    data in uint16) and floats have no natural range, so theirs is the imagery's own.

    Args:
        dtype: NumPy data type name of the imagery.
        statistics: the imagery's statistics (None: the type's range where it has one).

    Returns:
        The range as two floats (``--input-scale auto`` maps other types onto it).
    """
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.integer) and (kind.itemsize == 1 or statistics is None):
        info = np.iinfo(kind)
        return [float(info.min), float(info.max)]
    if statistics is None:
        return [0.0, 1.0]
    low, high = min(statistics.low), max(statistics.high)
    return [low, high] if low < high else [low, low + 1.0]


def check_value_range(value_range: Sequence[float]) -> list[float]:
    """A given ``value_range`` as two increasing floats.

    Raises:
        TGDCError: if the range is not two increasing numbers.
    """
    values = [float(v) for v in value_range]
    if len(values) != 2 or not values[0] < values[1]:
        raise TGDCError(f"value_range: {value_range} is not [min, max] with min < max")
    return values


def normalised_spread(statistics: BandStatistics, std: Sequence[float]) -> np.ndarray:
    """The imagery's spread after normalisation by *std*, one per band."""
    return np.asarray(statistics.std) / np.asarray(std, dtype=np.float64)


def augmentations(
    mean: Sequence[float], std: Sequence[float], spread: float, augment: bool
) -> tuple[K.AugmentationSequential, K.AugmentationSequential | None]:
    """The normalisation of every stage, and training's augmentation after it.

    Args:
        mean: per-band mean, raw pixel units.
        std: per-band standard deviation, raw pixel units.
        spread: the imagery's mean spread after normalisation (1 with its own statistics);
            the brightness shift is :data:`BRIGHTNESS_SHIFT` times it.
        augment: whether to build training's augmentation.

    Returns:
        (normalisation, training augmentation or None). Training jitters brightness and
        contrast of the normalised image without clipping (no raw value range saturates),
        and flips and rotates image and mask together.
    """
    normalize = K.Normalize(mean=torch.tensor(mean), std=torch.tensor(std))
    plain = K.AugmentationSequential(normalize, data_keys=None, keepdim=True)
    if not augment:
        return plain, None
    shift = min(1.0, BRIGHTNESS_SHIFT * spread)
    train = K.AugmentationSequential(
        normalize,
        K.RandomBrightness(brightness=(1 - shift, 1 + shift), clip_output=False, p=0.5),
        K.RandomContrast(contrast=(1 - CONTRAST, 1 + CONTRAST), clip_output=False, p=0.5),
        K.RandomHorizontalFlip(),
        K.RandomVerticalFlip(),
        K.RandomRotation90(times=(0, 3), p=0.5),
        data_keys=None,
        keepdim=True,
    )
    return plain, train
