"""The scenes of a scan: GeoTIFFs in a local directory, or NAIP items of a STAC API.

A scene is what one worker predicts at a time. :func:`scenes_in_directory` takes every
GeoTIFF under a directory (ids: paths relative to it); :func:`stac_scenes` searches a
:class:`~torchgeo_datacenters.stac.NaipCatalog` over a region and makes one scene per NAIP
item (ids: item ids), keeping only the newest imagery where items of several years cover
the same ground (see :func:`newest_items`). Scenes are small picklable descriptions; a
worker calls :meth:`LocalScene.fetch` or :meth:`StacScene.fetch` to get a local file, which
for a STAC item means downloading its Cloud-Optimised GeoTIFF (URL signed for Azure blob
storage where needed, just before the download) into a directory of the worker's (see
:mod:`.fetch`).
"""

import datetime as dt
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pystac
import requests
import shapely
from requests.adapters import HTTPAdapter
from shapely.geometry.base import BaseGeometry

from ..errors import TGDCError
from ..outputs.provenance import Provenance, item_provenance, raster_provenance
from ..outputs.space import check_free_space
from ..stac import NaipCatalog, NetworkSettings
from ..stac.grid import check_bbox
from ..stac.search import acquired, display_url
from ..utils import atomic_output
from ..vectors import polygonal_part, read_vector_file

#: An older item is skipped when newer items already cover this share of its footprint.
COVERED_SHARE = 0.95

#: Bytes read per chunk when downloading an image.
CHUNK_BYTES = 1 << 20

#: What a refusal for the temporary download directory tells the user to do.
TMPDIR_ADVICE = (
    "free some space there, or set TMPDIR to a directory with space (on every node of a"
    " Ray cluster)"
)


@dataclass(frozen=True)
class LocalScene:
    """A GeoTIFF on a file system the workers can read.

    Attributes:
        id: the scene's id: its path relative to the scanned directory.
        path: the file.
    """

    id: str
    path: Path

    #: Whether each attempt gets a new copy of the file: no, the user's file is read, so
    #: an attempt that finds it unreadable is not tried again.
    copied = False

    def fetch(self, directory: Path) -> Path:
        """Give the file to predict on (nothing is copied).

        Args:
            directory: unused: a local scene is read where it is.

        Returns:
            The GeoTIFF.

        Raises:
            TGDCError: if the file is gone (or is not on this worker's file system).
        """
        if not self.path.is_file():
            raise TGDCError(
                f"{self.path}: scene file does not exist here; on a Ray cluster, --scenes-dir"
                " must be on a file system every node mounts at the same path"
            )
        return self.path

    def acquired(self) -> dt.date | None:
        """The acquisition date of the scene: None, read from the file by the predictor.

        Returns:
            None.
        """
        return None

    def provenance(self) -> Provenance:
        """The imagery behind the scene.

        Returns:
            The file's provenance (from its tags or NAIP file name).
        """
        return raster_provenance(self.path)


@dataclass(frozen=True)
class StacScene:
    """A NAIP item of a STAC API, downloaded when a worker opens it.

    Attributes:
        id: the item's id.
        item: the item as a STAC dictionary.
        catalog_url: root URL of the STAC API.
        collection: the item's collection.
        asset_key: key of its 4-band image asset.
        network: timeouts and retries of the download.
    """

    id: str
    item: dict[str, Any]
    catalog_url: str
    collection: str
    asset_key: str
    network: NetworkSettings

    #: Whether each attempt gets a new copy of the file: yes, downloaded again, so an
    #: attempt that finds its copy unreadable (truncated on the way) is tried again.
    copied = True

    @classmethod
    def from_item(cls, item: pystac.Item, catalog: NaipCatalog) -> "StacScene":
        """Describe an item found in a catalog.

        Args:
            item: the item.
            catalog: the catalog it was found in.

        Returns:
            The scene.
        """
        return cls(
            id=item.id,
            item=item.to_dict(transform_hrefs=False),
            catalog_url=catalog.url,
            collection=catalog.collection,
            asset_key=catalog.asset_key,
            network=catalog.network,
        )

    def acquired(self) -> dt.date:
        """The acquisition date of the scene: the item's ``datetime`` (or start date).

        Returns:
            The date.
        """
        return acquired(pystac.Item.from_dict(self.item)).date()

    @property
    def href(self) -> str:
        """The item's URL: its ``self`` link, else its address in the STAC API."""
        for link in self.item.get("links", []):
            if link.get("rel") == "self" and link.get("href", "").startswith("http"):
                return link["href"]
        return f"{self.catalog_url.rstrip('/')}/collections/{self.collection}/items/{self.id}"

    def provenance(self) -> Provenance:
        """The imagery behind the scene.

        Returns:
            The item's provenance; its detections' source is ``<id>.tif``.
        """
        return item_provenance(self.item, f"{self.id}.tif", self.href)

    def fetch(self, directory: Path) -> Path:
        """Download the item's image into a directory.

        Args:
            directory: where the file goes (it must exist).

        Returns:
            The GeoTIFF, named after the item (``<id>.tif``).

        Raises:
            TGDCError: if *directory* has not the space the image takes, the item has no
                image asset, signing fails, or the download fails after the retries.
        """
        catalog = NaipCatalog(self.catalog_url, self.collection, self.asset_key, self.network)
        url = catalog.asset_href(pystac.Item.from_dict(self.item))
        path = directory / f"{self.id}.tif"
        download(url, path, self.network, advice=TMPDIR_ADVICE)
        return path


#: A scene of either kind.
ScanScene = LocalScene | StacScene


def check_temporary_directory(directory: Path | None = None) -> Path:
    """Check that the directory STAC scenes are downloaded into can be written.

    Args:
        directory: the directory (default: :func:`tempfile.gettempdir`: ``TMPDIR``, else
            ``/tmp``).

    Returns:
        The directory.

    Raises:
        TGDCError: if it is missing or not writable, saying to set ``TMPDIR``.
    """
    directory = Path(directory or tempfile.gettempdir())
    if not directory.is_dir() or not os.access(directory, os.W_OK | os.X_OK):
        raise TGDCError(
            f"{directory}: the temporary directory of the scan's downloads is not writable;"
            " set TMPDIR to a writable directory (on every node of a Ray cluster)"
        )
    return directory


def download(
    url: str,
    path: Path,
    network: NetworkSettings,
    *,
    advice: str = "free some space or choose another directory",
) -> None:
    """Download a file over HTTP(S), atomically, retrying as *network* says.

    The length the server announces is checked free beside *path* before the body is read.

    Args:
        url: the (signed) URL.
        path: where to write the file.
        network: timeouts and retries.
        advice: what a refusal for want of space tells the user to do.

    Raises:
        TGDCError: if the server cannot be reached or answers with an error after the
            retries, the connection drops, or the file does not fit beside *path*.
    """
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=network.retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    try:
        with (
            session.get(url, stream=True, timeout=network.timeout) as response,
            atomic_output(path) as tmp,
        ):
            response.raise_for_status()
            length = response.headers.get("Content-Length", "")
            if length.isdigit():
                check_free_space({path: int(length)}, advice=advice)
            with open(tmp, "wb") as file:
                for chunk in response.iter_content(CHUNK_BYTES):
                    file.write(chunk)
    except requests.RequestException as error:
        # Messages may quote the URL: keep its signature (the query string) out of them.
        query = urlsplit(url).query
        message = str(error).replace(query, "...") if query else str(error)
        raise TGDCError(
            f"could not download {display_url(url)} after {network.retries} retries: {message}"
        ) from error
    finally:
        session.close()


def scenes_in_directory(
    directory: str | os.PathLike[str], pattern: str = "*.tif"
) -> list[LocalScene]:
    """Every GeoTIFF under a directory, as scenes.

    Args:
        directory: the directory, searched recursively.
        pattern: glob selecting the files.

    Returns:
        The scenes, sorted by id (the path relative to *directory*).

    Raises:
        TGDCError: if the directory does not exist or holds no matching file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise TGDCError(f"{directory}: scenes directory does not exist")
    paths = sorted(path for path in directory.rglob(pattern) if path.is_file())
    if not paths:
        raise TGDCError(f"{directory}: no files matching {pattern!r}; check --scenes-dir")
    return [LocalScene(path.relative_to(directory).as_posix(), path) for path in paths]


def bbox_region(bbox: Sequence[float]) -> shapely.Polygon:
    """The region of a longitude/latitude box.

    Args:
        bbox: ``(minlon, minlat, maxlon, maxlat)`` in degrees.

    Returns:
        The box as a polygon in EPSG:4326.

    Raises:
        TGDCError: if the box is not 4 numbers, is empty or inverted, or a corner is not a
            coordinate in NAIP coverage.
    """
    return shapely.box(*check_bbox(bbox))


def read_aoi(path: str | os.PathLike[str]) -> BaseGeometry:
    """Read an area of interest: the union of every geometry in a vector file.

    Args:
        path: ``FILE`` or ``FILE:LAYER`` with polygons: GeoJSON, GeoPackage, Shapefile,
            FileGDB, ... (see :func:`~torchgeo_datacenters.vectors.read_vector_file`).

    Returns:
        The area in EPSG:4326: the union of the polygons, in two dimensions (points and
        lines beside them are left out).

    Raises:
        TGDCError: if the file is missing or unreadable, has several layers and none is
            named, has no CRS (other than GeoJSON, which is EPSG:4326), or holds no polygon.
    """
    frame = read_vector_file(path, "area-of-interest")
    geometries = frame.to_crs("EPSG:4326").geometry.dropna().to_numpy()
    # Pins and paths beside the outlines (a KML of both) are no area; heights are dropped.
    area = shapely.force_2d(polygonal_part(shapely.union_all(geometries)))
    if area.is_empty or area.area == 0:
        raise TGDCError(f"{path}: holds no polygon; give the area to scan as polygons")
    return area


def newest_items(items: Sequence[pystac.Item]) -> list[pystac.Item]:
    """Keep, where items of several years cover the same ground, only the newest.

    Items are taken year by year, newest first; an item is skipped when items of newer
    years cover at least :data:`COVERED_SHARE` of its footprint. Items of one year, and
    items without a footprint, are all kept (neighbouring items overlap a little; their
    common detections are merged later).

    Args:
        items: the items.

    Returns:
        The items kept, sorted by id.
    """
    years: dict[int, list[pystac.Item]] = {}
    for item in items:
        years.setdefault(acquired(item).year, []).append(item)
    kept: list[pystac.Item] = []
    footprints: list[BaseGeometry] = []
    for year in sorted(years, reverse=True):
        tree = shapely.STRtree(footprints)
        fresh = []
        for item in years[year]:
            if item.geometry is None:
                kept.append(item)
                continue
            footprint = shapely.geometry.shape(item.geometry)
            covering = [footprints[index] for index in tree.query(footprint, "intersects")]
            covered = shapely.union_all(covering).intersection(footprint).area
            if not covering or covered < COVERED_SHARE * footprint.area:
                fresh.append((item, footprint))
        kept += [item for item, _ in fresh]
        footprints += [footprint for _, footprint in fresh]
    return sorted(kept, key=lambda item: item.id)


def stac_scenes(
    catalog: NaipCatalog, region: BaseGeometry, year: int | None = None
) -> list[StacScene]:
    """One scene per NAIP item that covers a region.

    Args:
        catalog: the STAC collection to search.
        region: the region, in EPSG:4326.
        year: only items acquired in this year (None: the newest imagery of any year, see
            :func:`newest_items`).

    Returns:
        The scenes, sorted by id.

    Raises:
        TGDCError: if the search fails, or finds no item.
    """
    items = catalog.search(region, year)
    if not items:
        when = f"in {year}" if year is not None else "in any year"
        raise TGDCError(
            f"no NAIP imagery {when} over {shapely.bounds(region).round(5).tolist()} in"
            f" collection {catalog.collection!r} of {catalog.url}; try another --year or area"
        )
    return [StacScene.from_item(item, catalog) for item in newest_items(items)]
