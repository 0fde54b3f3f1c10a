"""NAIP imagery as a TorchGeo raster dataset that accepts any 4-band GeoTIFF."""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import rasterio
import torch
from pyproj import CRS
from rasterio.transform import from_origin
from rasterio.windows import Window
from torch import Tensor
from torchgeo.datasets import NAIP
from torchgeo.datasets.utils import GeoSlice, Path, Sample

from ..errors import TGDCError
from ..imagery import ImageryFile, check_georeferenced
from ..naip import BANDS, GSD

#: Band order of NAIP imagery: red, green, blue, near infrared (NIR last).
NAIP_BANDS = BANDS

#: Ground sample distance of current NAIP imagery, in metres.
NAIP_GSD = GSD

#: A look at every imagery file while it is open for its check: called with the file's
#: path, the open file, and every file of the dataset (sorted), so that a caller's own
#: checks and reads need not open the files again.
FileInspector = Callable[[str, rasterio.io.DatasetReader, Sequence[str]], None]


class NAIPChips(NAIP):
    """NAIP imagery stored as arbitrarily named 4-band (R, G, B, NIR) GeoTIFFs.

    :class:`torchgeo.datasets.NAIP` only finds files named like USGS quarter quads
    (``m_4208701_ne_16_060_20200902.tif``). The seed project's training chips, the
    synthetic scenes and downloads from ``tgdc download`` have other names, so this
    subclass matches files by a configurable glob instead and checks that every file
    has exactly the four NAIP bands, failing early with the offending file named.

    Every file is read with its own validity (nodata, NaN, mask band) by
    :class:`~torchgeo_datacenters.imagery.ImageryFile`, so a 4th band that GDAL takes for
    alpha is read as the NIR data it is; where no file holds a valid pixel, every band
    is the dataset's nodata value (0 by default).
    """

    filename_regex = r".*"
    all_bands = NAIP_BANDS
    rgb_bands = ("R", "G", "B")

    def __init__(
        self,
        paths: Path | Iterable[Path] = "data",
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
        bands: Sequence[str] | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        cache: bool = True,
        filename_glob: str = "*.tif",
        all_bands: Sequence[str] = NAIP_BANDS,
        inspect: FileInspector | None = None,
    ) -> None:
        """Initialize a new NAIPChips dataset.

        Args:
            paths: one or more directories to search or GeoTIFF files to load.
            crs: coordinate reference system to warp to (defaults to the CRS of the
                first file found).
            res: resolution in units of the CRS (defaults to that of the first file).
            bands: bands to return, a subset of *all_bands* (defaults to all).
            transforms: a function that takes a sample and returns a transformed one.
            cache: if True, cache file handles to speed up repeated sampling.
            filename_glob: glob that selects the imagery files inside directories.
            all_bands: names of the bands every file holds, in order (default NAIP's
                R, G, B, NIR; e.g. ``['PAN']`` or ``['R', 'G', 'B']`` for other imagery).
            inspect: called with every file, open, after its check (see
                :data:`FileInspector`).

        Raises:
            TGDCError: if no file matches, a file is not a readable raster, has no CRS,
                or does not have exactly ``len(all_bands)`` bands, or *bands* names an
                unknown band.
        """
        self.filename_glob = filename_glob
        # torchgeo's NAIP types all_bands as its own four names; this reads any bands.
        self.all_bands = tuple(all_bands)  # type: ignore[assignment]
        unknown = sorted(set(bands or ()) - set(self.all_bands))
        if unknown:
            raise TGDCError(f"bands: unknown band(s) {unknown}; choose from {list(self.all_bands)}")
        self.paths = paths
        files = self.files
        if not files:
            raise TGDCError(
                f"{paths}: no imagery matching {filename_glob!r}; check the path or set"
                " filename_glob"
            )
        for file in files:
            check_naip_file(file, self.all_bands, _with_files(inspect, files))
        self._imagery: dict[str, ImageryFile] = {}
        super().__init__(paths, crs=crs, res=res, bands=bands, transforms=transforms, cache=cache)

    def _merge_or_stack(
        self,
        filepaths: Sequence[str],
        index: GeoSlice,
        band_indexes: Sequence[int] | None = None,
        out_crs: Any = None,
    ) -> Tensor:
        """Read files onto the grid of an index, the first valid pixel of each winning.

        Args:
            filepaths: the files under the index.
            index: [xmin:xmax:xres, ymin:ymax:yres, ...] slice to read.
            band_indexes: 1-based bands to return (default: all).
            out_crs: CRS of the index (default: the dataset's).

        Returns:
            A (bands, height, width) float32 tensor.
        """
        x, y, _ = self._disambiguate_slice(index)
        transform = from_origin(x.start, y.stop, x.step, y.step)
        window = Window(
            0, 0, round((x.stop - x.start) / x.step), round((y.stop - y.start) / y.step)
        )
        crs = CRS.from_user_input(out_crs or self.crs)
        image = None
        for path in filepaths:
            if path not in self._imagery:
                self._imagery[path] = ImageryFile(path, len(self.all_bands))
            part = self._imagery[path].read(transform, crs, window, resampling=self.resampling)
            if image is None:
                image = part
            else:
                hole = np.isnan(image).any(axis=2)
                image[hole] = part[hole]
            if not np.isnan(image).any():
                break
        # TorchGeo calls this only for an index that holds files.
        assert image is not None
        image = np.nan_to_num(image, nan=self.nodata or 0).transpose(2, 0, 1)
        if band_indexes:
            image = image[[band - 1 for band in band_indexes]]
        return torch.from_numpy(np.ascontiguousarray(image))


def _with_files(
    inspect: FileInspector | None, files: Sequence[str]
) -> Callable[[str, rasterio.io.DatasetReader], None] | None:
    """*inspect* with the dataset's files bound (None stays None)."""
    if inspect is None:
        return None
    return lambda path, src: inspect(path, src, files)


def check_naip_file(
    path: Path,
    bands: Sequence[str] = NAIP_BANDS,
    inspect: Callable[[str, rasterio.io.DatasetReader], None] | None = None,
) -> None:
    """Check that a file is a georeferenced raster with the given bands (NAIP's by default).

    Args:
        path: the raster file.
        bands: names of the bands it must hold.
        inspect: called with the path and the open file once it passed the checks.

    Raises:
        TGDCError: if the file is missing, not a raster, has no CRS (or only ground
            control points: see :func:`~torchgeo_datacenters.imagery.check_georeferenced`)
            or does not have exactly ``len(bands)`` bands.
    """
    try:
        with rasterio.open(path) as src:
            check_georeferenced(src, path)
            if src.count != len(bands):
                expected = "NAIP imagery needs" if tuple(bands) == NAIP_BANDS else "bands names"
                raise TGDCError(
                    f"{path}: has {src.count} band(s) but {expected} {len(bands)}"
                    f" ({', '.join(bands)}); for other imagery name its bands with the"
                    " datamodule's bands option"
                )
            if inspect is not None:
                inspect(str(path), src)
    except rasterio.errors.RasterioIOError as error:
        raise TGDCError(f"{path}: not a readable raster ({error})") from error
