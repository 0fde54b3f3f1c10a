"""A sampler that returns whole pre-cut chips, one sample per file."""

from collections.abc import Iterator

import numpy as np
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import SpatialSampler


class ChipSampler(SpatialSampler):
    """Yield the full extent of every chip of a dataset, one sample per file.

    torchgeo's :class:`~torchgeo.samplers.RandomPatchSampler` draws patches inside a
    region shrunk by half a patch diagonal, which is empty for chips the size of a
    patch, and its deprecated ``PreChippedGeoSampler`` has no successor in 0.10.
    This sampler fills that gap for the seed project's 256 x 256 chips.
    """

    strategy = "sequential"

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        shuffle: bool = False,
        generator: int | None = None,
    ) -> None:
        """Initialize a new ChipSampler.

        Args:
            dataset: the chips dataset; each row of its index is one chip.
            shuffle: reshuffle the chips every epoch.
            generator: seed of the shuffling.
        """
        super().__init__(dataset)
        self.footprints = [g.bounds for g in dataset.index.geometry]
        self.shuffle = shuffle
        self.generator = np.random.default_rng(generator)

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Iterate over the chips of this epoch.

        Yields:
            ``[xmin:xmax, ymin:ymax]`` of one chip.
        """
        order = np.arange(len(self.footprints))
        if self.shuffle:
            order = self.generator.permutation(order)
        for i in order:
            xmin, ymin, xmax, ymax = self.footprints[i]
            yield slice(xmin, xmax), slice(ymin, ymax)

    def __len__(self) -> int:
        """Return the number of chips per epoch.

        Returns:
            The number of chips.
        """
        return len(self.footprints)
