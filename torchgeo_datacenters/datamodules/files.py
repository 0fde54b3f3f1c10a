"""The datamodule's pass over its imagery files: data type, pixel size, statistics' samples."""

import warnings
from collections.abc import Sequence

import numpy as np
import rasterio

from ..errors import TGDCError
from .normalization import BandStatistics, read_sample, statistics_files, statistics_of


class ImageryPass:
    """One look at every imagery file at setup, while the dataset checks its bands.

    An :data:`~..datasets.naip.FileInspector` of
    :class:`~..datasets.NAIPChips`: it refuses files of another data type, warns where
    the pixel size is not the one patches are sampled at, and reads the samples of the
    normalisation's statistics (:mod:`.normalization`) from the files they take, so that
    each imagery file is opened once.
    """

    def __init__(self, dtype: str, gsd: float, *, sample: bool) -> None:
        """Initialize a new ImageryPass.

        Args:
            dtype: the NumPy data type every file must have.
            gsd: the pixel size patches are sampled at, in metres.
            sample: whether to read the statistics' samples.
        """
        self.dtype = dtype
        self.gsd = gsd
        self.sample = sample
        #: The statistics' samples read so far, by file.
        self.samples: dict[str, np.ma.MaskedArray] = {}
        self._chosen: set[str] | None = None

    def __call__(self, file: str, src: rasterio.io.DatasetReader, files: Sequence[str]) -> None:
        """Check one open file, and read its sample where the statistics take it.

        Args:
            file: the file's path.
            src: the open file.
            files: every imagery file of the dataset.

        Raises:
            TGDCError: if the file's data type is not the datamodule's.
        """
        if src.dtypes[0] != self.dtype:
            raise TGDCError(
                f"{file}: imagery is {src.dtypes[0]} but dtype is {self.dtype}; set the"
                f" datamodule's dtype to {src.dtypes[0]} (and value_range to the"
                " values it uses)"
            )
        check_pixel_size(file, src, self.gsd)
        if self._chosen is None:
            self._chosen = set(statistics_files(files)) if self.sample else set()
        if file in self._chosen:
            self.samples[file] = read_sample(src)

    def statistics(self, bands: Sequence[str]) -> BandStatistics:
        """The statistics of the samples read, as :func:`~.normalization.band_statistics`.

        Args:
            bands: band names, for messages.

        Returns:
            The statistics.

        Raises:
            TGDCError: see :func:`~.normalization.statistics_of`.
        """
        files = sorted(self.samples)
        return statistics_of([self.samples[file] for file in files], bands, files[0])


def check_pixel_size(file: str, src: rasterio.io.DatasetReader, gsd: float) -> None:
    """Warn in one line where a file's pixels differ from *gsd* by more than 10%.

    Patches are sampled at *gsd* whatever the files' pixel size, so such a file is
    resampled on read (as :mod:`~..inference` resamples scenes for a checkpoint);
    this says so rather than doing it silently. Files in a CRS without metric units
    (degrees) are not compared.

    Args:
        file: the file's path, for the message.
        src: the open file.
        gsd: the pixel size patches are sampled at, in metres.
    """
    if src.crs is None or not src.crs.is_projected:
        return
    size = float(src.res[0]) * float(src.crs.linear_units_factor[1])
    if abs(size - gsd) > 0.1 * gsd:
        warnings.warn(
            f"{file}: pixel size {size:g} m differs from gsd {gsd:g} m by more than"
            f" 10%; resampled to {gsd:g} m on read (set data.init_args.gsd to"
            f" {size:g} to train at the imagery's own)",
            UserWarning,
            stacklevel=2,
        )
