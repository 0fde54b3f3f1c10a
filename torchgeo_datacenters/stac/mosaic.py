"""Mosaic NAIP items onto one grid, reading only the needed window of each COG.

:func:`mosaic_items` takes items newest first and, for each, opens its Cloud-Optimised
GeoTIFF over HTTP (GDAL ``/vsicurl/`` range requests), reads it onto the output
:class:`~torchgeo_datacenters.grid.Grid` with its own validity through
:class:`~torchgeo_datacenters.imagery.ImageryFile` (warped where it is off the grid's
lattice; a NIR band tagged alpha is data) and reads only the window of the grid that
the item's footprint covers, so GDAL fetches only the tiles of the COG under that window.
Pixels are filled where nothing newer has covered them yet (newest acquisition on top);
an item whose window is already covered is not read at all.

:func:`write_mosaic` writes the result as a 4-band uint8 Cloud-Optimised GeoTIFF with
``nodata=0``: 0 means *no imagery here*. Imaged pixels that are 0 in a band are raised
to 1 so that they are never mistaken for nodata.
"""

import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import product
from pathlib import Path

import numpy as np
import pystac
import rasterio
import shapely
from pyproj import CRS
from rasterio.enums import Interleaving, Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_bounds
from rasterio.windows import Window
from tqdm import tqdm

from ..detections.dates import acquisition_text, item_dates
from ..errors import TGDCError
from ..grid import Grid, pixel_window
from ..imagery import ImageryFile
from ..naip import BANDS, DTYPE
from ..utils import atomic_output
from .network import NetworkSettings
from .search import display_url

#: Value written where no item covers a pixel.
NODATA = 0

#: Tile size of the written COGs, in pixels.
COG_BLOCKSIZE = 256


@dataclass
class Mosaic:
    """Items warped onto one grid.

    Attributes:
        grid: the grid.
        data: ``(4, height, width)`` uint8 pixels, :data:`NODATA` where nothing covers.
        covered: ``(height, width)`` booleans, true where an item covered the pixel.
        items: the items that supplied at least one pixel, newest first.
        bytes_read: compressed bytes of the COG tiles under the windows read, summed from
            the TIFF tile byte counts (see :func:`tile_bytes`).
    """

    grid: Grid
    data: np.ndarray
    covered: np.ndarray
    items: list[pystac.Item]
    bytes_read: int

    @property
    def coverage(self) -> float:
        """Fraction of the grid's pixels that hold imagery."""
        return float(self.covered.mean())

    @property
    def dates(self) -> list[dt.date]:
        """Acquisition dates of the items used, oldest first, without repeats."""
        return sorted({date for item in self.items for date in item_dates(item.properties)})


def tile_bytes(src: rasterio.DatasetReader, grid: Grid, window: Window) -> int:
    """Compressed bytes of the source tiles under a window of the output grid.

    This is what a warp of *window* needs GDAL to fetch from the file: the byte counts of
    the full-resolution TIFF tiles (or strips) that intersect the window's footprint in
    the source, from the file's tile index. The HTTP traffic is this plus the file's
    header and tile index, and any neighbouring bytes GDAL merges into the same range
    request.

    Args:
        src: the open source COG.
        grid: the output grid.
        window: the window of *grid* that was read.

    Returns:
        The byte count.
    """
    left, bottom, right, top = rasterio.windows.bounds(window, grid.transform)
    source_bounds = transform_bounds(grid.crs, src.crs, left, bottom, right, top)
    source_window = pixel_window(source_bounds, src.transform, src.width, src.height)
    if source_window is None:
        return 0
    (row0, row1), (col0, col1) = source_window.toranges()
    block_height, block_width = src.block_shapes[0]
    rows = range(row0 // block_height, (row1 - 1) // block_height + 1)
    cols = range(col0 // block_width, (col1 - 1) // block_width + 1)
    bands = src.indexes if src.interleaving == Interleaving.band else (1,)
    return sum(src.block_size(band, row, col) for band, row, col in product(bands, rows, cols))


def _check_source(src: rasterio.DatasetReader, item: pystac.Item, url: str) -> None:
    if src.driver != "GTiff":
        raise TGDCError(
            f"{display_url(url)} (item {item.id}) is a {src.driver} file; NAIP assets must be"
            " (Cloud-Optimised) GeoTIFFs"
        )
    if src.count != len(BANDS) or set(src.dtypes) != {DTYPE}:
        raise TGDCError(
            f"{display_url(url)} (item {item.id}) has {src.count} bands of {set(src.dtypes)};"
            " NAIP images have 4 uint8 bands (R, G, B, NIR): check the asset key"
        )


def _item_window(item: pystac.Item, grid: Grid) -> Window | None:
    """The window of the grid under an item's footprint (all of it if it has none)."""
    if item.geometry is None:
        return Window(0, 0, grid.width, grid.height)
    return grid.window_of(shapely.geometry.shape(item.geometry))


def _read_item(
    url: str, item: pystac.Item, grid: Grid, window: Window, resampling: Resampling
) -> tuple[np.ndarray, int]:
    """Warp a window of the grid from one COG: 4 bands plus a validity band.

    The COG is read with its own validity by
    :class:`~torchgeo_datacenters.imagery.ImageryFile`: a NIR band that GDAL takes for
    alpha is data, not a mask.
    """
    with rasterio.open(url) as src:
        _check_source(src, item, url)
        nbytes = tile_bytes(src, grid, window)
    pixels = ImageryFile(url, len(BANDS)).read(
        grid.transform, CRS.from_user_input(grid.crs), window, resampling=resampling
    )
    valid = ~np.isnan(pixels).any(axis=2)
    bands = np.nan_to_num(pixels, nan=NODATA).transpose(2, 0, 1)
    return np.concatenate([bands, valid[None] * 255]).astype(np.uint8), nbytes


def mosaic_items(
    items: Sequence[pystac.Item],
    grid: Grid,
    href: Callable[[pystac.Item], str],
    *,
    network: NetworkSettings | None = None,
    resampling: Resampling = Resampling.nearest,
    progress: bool | None = None,
    description: str = "items",
) -> Mosaic:
    """Warp items onto a grid, newest on top, reading only the windows needed.

    Args:
        items: the items, newest first (as :meth:`NaipCatalog.search` returns them).
        grid: the output grid.
        href: gives the (signed) URL of an item's image.
        network: timeouts and retries for GDAL's HTTP reads.
        resampling: how to resample sources that are not on the grid's pixel lattice.
        progress: show a progress bar (``None``: only on a terminal).
        description: label of the progress bar.

    Returns:
        The mosaic.

    Raises:
        TGDCError: if an image cannot be read after the retries, or is not a 4-band
            uint8 GeoTIFF.
    """
    network = network or NetworkSettings()
    data = np.full((len(BANDS), grid.height, grid.width), NODATA, dtype=DTYPE)
    covered = np.zeros((grid.height, grid.width), dtype=bool)
    used: list[pystac.Item] = []
    bytes_read = 0
    disable = None if progress is None else not progress
    with (
        rasterio.Env(**network.gdal_options()),
        tqdm(items, desc=description, unit="item", disable=disable) as bar,
    ):
        for item in bar:
            window = _item_window(item, grid)
            if window is None:
                continue
            rows, cols = window.toslices()
            if covered[rows, cols].all():
                continue
            url = href(item)
            try:
                block, nbytes = network.read_with_retries(
                    url, partial(_read_item, url, item, grid, window, resampling)
                )
            except RasterioIOError as error:
                raise TGDCError(
                    f"could not read {display_url(url)} (item {item.id}), with up to"
                    f" {network.retries} retries: {error}; rerun to resume"
                ) from error
            bytes_read += nbytes
            fresh = (block[-1] > 0) & ~covered[rows, cols]
            if not fresh.any():
                continue
            target = data[:, rows, cols]
            target[:, fresh] = np.maximum(block[: len(BANDS), fresh], NODATA + 1)
            covered[rows, cols] |= fresh
            used.append(item)
            bar.set_postfix_str(f"{covered.mean():.0%} covered")
    return Mosaic(grid, data, covered, used, bytes_read)


def write_mosaic(mosaic: Mosaic, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Write a mosaic as a 4-band uint8 Cloud-Optimised GeoTIFF, atomically.

    The file has ``nodata=0``, DEFLATE compression with horizontal differencing,
    256-pixel tiles, overviews where it is larger than a tile, band descriptions
    ``R, G, B, NIR`` and tags ``NAIP_ITEMS`` and ``NAIP_DATES`` naming its sources, and
    ``NAIP_SOURCES``: each item, newest first, with its date and footprint, so that a
    detection gets the date of the pixels it lies on
    (:data:`~torchgeo_datacenters.outputs.provenance.SOURCES_TAG`).

    Args:
        mosaic: the mosaic.
        path: the output file.
        overwrite: replace an existing file.

    Returns:
        The path written.

    Raises:
        TGDCError: if the file exists and *overwrite* is false, or its directory is
            missing.
    """
    grid = mosaic.grid
    profile = {
        "driver": "COG",
        "width": grid.width,
        "height": grid.height,
        "count": len(BANDS),
        "dtype": DTYPE,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": NODATA,
        "compress": "DEFLATE",
        "predictor": "YES",
        "blocksize": COG_BLOCKSIZE,
        "overview_resampling": "AVERAGE",
        "bigtiff": "IF_SAFER",
    }
    with atomic_output(path, overwrite=overwrite) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(mosaic.data)
        dst.descriptions = BANDS
        sources = [
            {
                "id": item.id,
                "date": acquisition_text(item_dates(item.properties)),
                "geometry": item.geometry,
            }
            for item in mosaic.items
        ]
        dst.update_tags(
            NAIP_ITEMS=",".join(item.id for item in mosaic.items),
            NAIP_DATES=",".join(date.isoformat() for date in mosaic.dates),
            NAIP_SOURCES=json.dumps(sources, separators=(",", ":")),
        )
    return Path(path)


def format_bytes(count: int) -> str:
    """Format a byte count for a summary line.

    Args:
        count: bytes.

    Returns:
        E.g. ``"12.3 MiB"``.
    """
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.2f} GiB"
