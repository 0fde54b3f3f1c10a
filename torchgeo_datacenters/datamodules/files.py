"""The datamodule's checks of its imagery files: data type and pixel size."""

import warnings
from collections.abc import Sequence

import rasterio

from ..errors import TGDCError


def check_imagery_files(files: Sequence[str], dtype: str, gsd: float) -> None:
    """Refuse imagery of another data type; warn where its pixel size is not *gsd*.

    Args:
        files: the imagery files.
        dtype: the NumPy data type every file must have.
        gsd: the pixel size patches are sampled at, in metres.

    Raises:
        TGDCError: if a file's data type is not *dtype*.
    """
    for file in files:
        with rasterio.open(file) as src:
            if src.dtypes[0] != dtype:
                raise TGDCError(
                    f"{file}: imagery is {src.dtypes[0]} but dtype is {dtype}; set the"
                    f" datamodule's dtype to {src.dtypes[0]} (and value_range to the"
                    " values it uses)"
                )
            check_pixel_size(file, src, gsd)


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
            stacklevel=4,
        )
