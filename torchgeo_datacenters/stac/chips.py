"""Download training chips around labelled sites, resuming where an earlier run stopped.

Every site (a data-center footprint or a hard negative: any geometry, usually a polygon)
gets ``per_site`` square chips in its local UTM zone at 0.6 m: the first centred on the
site, the next ones shifted a quarter chip out in each of eight directions (then half a
chip, and so on), so that a footprint appears at different places in its chips. Chips
are named ``site_{fid}_{k}.tif`` from the site's ``fid`` (or its row number where the
file has none), so a rerun finds the chips it already wrote: a chip whose file exists
with the expected size, CRS and transform and whose every pixel can be read is skipped
without any request; a chip file that cannot be read (cut short by a crash or a full
disk) is downloaded again.
"""

import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import transform_geom
from tqdm import tqdm

from ..errors import TGDCError
from ..grid import Grid
from ..naip import DTYPE
from ..vectors import read_vector_file
from .grid import NAIP_RESOLUTION, centred_grid, check_lonlat, utm_crs
from .mosaic import BANDS, format_bytes, mosaic_items, write_mosaic
from .search import NaipCatalog


@dataclass(frozen=True)
class ChipPlan:
    """One chip to download.

    Attributes:
        site: the site's id (its ``fid``).
        index: the chip's number within the site, from 0.
        path: the chip's file.
        grid: the chip's grid.
    """

    site: str
    index: int
    path: Path
    grid: Grid


@dataclass
class SiteChipsResult:
    """What :func:`download_site_chips` did.

    Attributes:
        written: chips downloaded by this run.
        skipped: chips already complete from an earlier run.
        without_imagery: chips not written because no NAIP item covers any of their
            pixels (for the year asked).
        item_ids: ids of the STAC items that supplied pixels.
        dates: their acquisition dates.
        bytes_read: compressed bytes of COG tiles read (see
            :func:`~torchgeo_datacenters.stac.mosaic.tile_bytes`).
    """

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    without_imagery: list[Path] = field(default_factory=list)
    item_ids: set[str] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)
    bytes_read: int = 0

    def summary(self) -> str:
        """One line for the user.

        Returns:
            The summary.
        """
        names = ", ".join(path.name for path in self.without_imagery[:5])
        if len(self.without_imagery) > 5:
            names += ", ..."
        missing = f" ({names})" if names else ""
        return (
            f"wrote {len(self.written)} chip(s), skipped {len(self.skipped)} already complete,"
            f" {len(self.without_imagery)} without imagery{missing};"
            f" {len(self.item_ids)} NAIP item(s) acquired {', '.join(sorted(self.dates)) or '-'};"
            f" read {format_bytes(self.bytes_read)} of COG tiles"
        )


def chip_offsets(count: int, chip_size: int) -> list[tuple[int, int]]:
    """Offsets of a site's chips from its centre, in pixels east and north.

    Args:
        count: number of chips.
        chip_size: chip width and height in pixels.

    Returns:
        ``(0, 0)`` first, then rings of eight offsets a quarter chip apart.
    """
    offsets = [(0, 0)]
    for k in range(1, count):
        ring, direction = divmod(k - 1, 8)
        radius = (ring + 1) * chip_size / 4
        angle = direction * math.pi / 4
        offsets.append((round(radius * math.cos(angle)), round(radius * math.sin(angle))))
    return offsets


def chip_name(site: str, index: int) -> str:
    """The file name of a site's chip.

    Args:
        site: the site's id.
        index: the chip's number within the site.

    Returns:
        ``site_{id}_{index}.tif`` with characters other than letters, digits, ``.``,
        ``_`` and ``-`` in the id replaced by ``-``.
    """
    return f"site_{re.sub(r'[^A-Za-z0-9._-]+', '-', site)}_{index}.tif"


def _site_ids(sites: gpd.GeoDataFrame, id_field: str) -> list[str]:
    ids = (sites[id_field] if id_field in sites else sites.index.to_series()).astype(str).tolist()
    names = [chip_name(site, 0) for site in ids]
    if len(set(names)) != len(names):
        duplicates = sorted(
            {site for site, name in zip(ids, names, strict=True) if names.count(name) > 1}
        )
        raise TGDCError(
            f"{id_field}: site ids {duplicates[:5]} repeat; chip names come from {id_field!r},"
            " so give every site a unique one"
        )
    return ids


def read_sites(path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """Read site geometries from any vector file (see :mod:`torchgeo_datacenters.vectors`).

    This reads the file as it is: :func:`plan_site_chips` checks what a download needs
    (geometries, unique ids). It imports no deep-learning stack, so that
    ``tgdc download`` starts fast.

    Args:
        path: ``FILE`` or ``FILE:LAYER``: GeoJSON, GeoPackage, Shapefile, FileGDB, ...

    Returns:
        The sites, invalid geometries repaired.

    Raises:
        TGDCError: if the file is missing or not a readable vector file, has several
            layers and none is named, or has no CRS.
    """
    return read_vector_file(path, "sites")


def plan_site_chips(
    sites: gpd.GeoDataFrame,
    output_dir: str | os.PathLike[str],
    chip_size: int = 256,
    per_site: int = 1,
    id_field: str = "fid",
    skip_outside: bool = False,
) -> list[list[ChipPlan]]:
    """Lay out the chips of every site, without any network access.

    Args:
        sites: site geometries (any CRS) with an *id_field* column (else row numbers
            are the ids).
        output_dir: directory of the chips.
        chip_size: chip width and height in pixels (0.6 m each).
        per_site: chips per site.
        id_field: column holding each site's unique id.
        skip_outside: skip sites outside NAIP coverage (with one warning counting
            them) instead of failing.

    Returns:
        The chips, grouped by site.

    Raises:
        TGDCError: if *chip_size* or *per_site* is below 1, *sites* is empty, has no CRS
            or a missing geometry, ids repeat, or a site lies outside NAIP coverage.
    """
    if chip_size < 1:
        raise TGDCError(f"chip_size: must be at least 1 pixel, got {chip_size}")
    if per_site < 1:
        raise TGDCError(f"per_site: must be at least 1 chip, got {per_site}")
    if sites.empty:
        raise TGDCError("sites: no features; give a label file with site polygons")
    if sites.crs is None:
        raise TGDCError("sites: the label file has no CRS; assign one (e.g. EPSG:4326)")
    ids = _site_ids(sites, id_field)
    output_dir = Path(output_dir)
    plans = []
    outside = []
    for site, geometry in zip(ids, sites.to_crs("EPSG:4326").geometry, strict=True):
        if geometry is None or geometry.is_empty:
            raise TGDCError(f"sites: site {id_field}={site} has no geometry; fix or delete it")
        rough = geometry.centroid
        try:
            check_lonlat(rough.x, rough.y)
        except TGDCError as error:
            if skip_outside:
                outside.append(site)
                continue
            raise TGDCError(
                f"sites: site {id_field}={site}: {error}; drop it, or skip such sites with"
                " --skip-outside"
            ) from error
        crs = utm_crs(rough.x, rough.y)
        centre = shapely.geometry.shape(
            transform_geom("EPSG:4326", crs, shapely.geometry.mapping(geometry))
        ).centroid
        plans.append(
            [
                ChipPlan(
                    site,
                    index,
                    output_dir / chip_name(site, index),
                    centred_grid(
                        crs,
                        centre.x + east * NAIP_RESOLUTION,
                        centre.y + north * NAIP_RESOLUTION,
                        chip_size,
                    ),
                )
                for index, (east, north) in enumerate(chip_offsets(per_site, chip_size))
            ]
        )
    if outside:
        warnings.warn(
            f"sites: skipped {len(outside)} site(s) outside NAIP coverage"
            f" ({id_field}={', '.join(outside[:5])})",
            stacklevel=2,
        )
    return plans


def chip_is_complete(path: str | os.PathLike[str], grid: Grid) -> bool:
    """Whether a file is a finished chip on a grid: 4 uint8 bands, same size, CRS, transform.

    Args:
        path: the file.
        grid: the chip's grid.

    Returns:
        True if the file matches.
    """
    try:
        with rasterio.open(path) as src:
            return (
                src.count == len(BANDS)
                and set(src.dtypes) == {DTYPE}
                and (src.width, src.height) == (grid.width, grid.height)
                and src.crs == grid.crs
                and src.transform.almost_equals(grid.transform, precision=1e-3)
            )
    except RasterioIOError:
        return False


def chip_is_readable(path: str | os.PathLike[str]) -> bool:
    """Whether every pixel of a chip file can be read.

    A file cut short after its header (a killed run, a full disk) opens and has the
    right metadata, but its last tiles are missing: only reading them tells.

    Args:
        path: the file.

    Returns:
        True if the file opens and all its bands read without error.
    """
    try:
        with rasterio.open(path) as src:
            src.read()
    except RasterioIOError:
        return False
    return True


def download_site_chips(
    sites: gpd.GeoDataFrame,
    output_dir: str | os.PathLike[str],
    *,
    chip_size: int = 256,
    per_site: int = 1,
    skip_outside: bool = False,
    year: int | None = None,
    catalog: NaipCatalog | None = None,
    resampling: Resampling = Resampling.nearest,
    overwrite: bool = False,
    progress: bool | None = None,
    id_field: str = "fid",
) -> SiteChipsResult:
    """Download NAIP chips around every site, skipping chips already complete.

    Each chip is a 4-band uint8 Cloud-Optimised GeoTIFF with ``nodata=0`` where no item
    covers, mosaicked like :func:`~torchgeo_datacenters.stac.scene.download_scene`. Sites
    are searched one at a time, only where a chip is missing; existing files are checked
    before the first request.

    Args:
        sites: site geometries, e.g. from :func:`read_sites`.
        output_dir: directory of the chips (created).
        chip_size: chip width and height in pixels (0.6 m each).
        per_site: chips per site (see :func:`chip_offsets`).
        skip_outside: skip sites outside NAIP coverage with a warning.
        year: only imagery acquired in this year (``None``: the newest of any year).
        catalog: the STAC collection to search, with its network settings (default:
            NAIP on Microsoft Planetary Computer).
        resampling: how to resample sources that are off the 0.6 m lattice.
        overwrite: download every chip again, replacing existing files.
        progress: show a progress bar over sites (``None``: only on a terminal).
        id_field: column holding each site's unique id.

    Returns:
        What was written and skipped.

    Raises:
        TGDCError: for invalid sites or sizes (see :func:`plan_site_chips`), a file with
            a chip's name that is readable but not that chip (unless *overwrite*; an
            unreadable one is downloaded again), or a failing STAC
            API or image server (chips written so far stay; rerun to resume).
    """
    plans = plan_site_chips(sites, output_dir, chip_size, per_site, id_field, skip_outside)
    catalog = catalog or NaipCatalog()
    result = SiteChipsResult()
    pending_by_site = []
    unreadable = set()
    for site_chips in plans:
        pending = []
        for chip in site_chips:
            if overwrite or not chip.path.exists():
                pending.append(chip)
            elif not chip_is_readable(chip.path):
                unreadable.add(chip.path)
                pending.append(chip)
            elif chip_is_complete(chip.path, chip.grid):
                result.skipped.append(chip.path)
            else:
                raise TGDCError(
                    f"{chip.path}: exists but is not a {chip_size}-pixel 4-band chip of site"
                    f" {chip.site} in {chip.grid.crs}; delete it or pass --overwrite"
                )
        if pending:
            pending_by_site.append(pending)
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    disable = None if progress is None else not progress
    for pending in tqdm(pending_by_site, desc="sites", unit="site", disable=disable):
        region = shapely.union_all([chip.grid.footprint() for chip in pending])
        items = catalog.search(region, year)
        for chip in pending:
            mosaic = mosaic_items(
                items,
                chip.grid,
                catalog.asset_href,
                network=catalog.network,
                resampling=resampling,
                progress=False,
            )
            result.bytes_read += mosaic.bytes_read
            if not mosaic.items:
                result.without_imagery.append(chip.path)
                continue
            replace = overwrite or chip.path in unreadable
            result.written.append(write_mosaic(mosaic, chip.path, overwrite=replace))
            result.item_ids.update(item.id for item in mosaic.items)
            result.dates.update(date.isoformat() for date in mosaic.dates)
    return result
