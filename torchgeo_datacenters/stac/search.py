"""Find NAIP items in a STAC API with pystac-client, and sign their asset URLs.

:class:`NaipCatalog` opens the API lazily (a rerun whose outputs all exist makes no
request at all), searches one collection by footprint and year, and hands out asset URLs
signed for Azure blob storage by :mod:`planetary_computer` where the URL needs it
(:func:`planetary_computer.sign_url` leaves other URLs, such as a local server's, as
they are).
"""

import datetime as dt
import json
from urllib.parse import urlsplit

import planetary_computer
import pystac
import pystac_client
import requests
import shapely
from pystac_client.errors import ClientTypeError
from pystac_client.exceptions import APIError
from shapely.geometry.base import BaseGeometry

from ..errors import TGDCError
from .grid import swapped_advice
from .network import NetworkSettings, describe_request_error

#: The STAC API searched by default: Microsoft Planetary Computer.
DEFAULT_STAC_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"

#: Collection holding NAIP in the default API.
NAIP_COLLECTION = "naip"

#: Key of the 4-band image asset of a NAIP item.
IMAGE_ASSET = "image"

#: The first year NAIP flew.
FIRST_NAIP_YEAR = 2003

#: Items asked for per page of search results.
PAGE_SIZE = 100


def check_year(year: int | None) -> None:
    """Check that a NAIP year is plausible.

    Args:
        year: the year, or ``None`` for all years.

    Raises:
        TGDCError: if the year is before NAIP began or in the future.
    """
    this_year = dt.date.today().year
    if year is not None and not FIRST_NAIP_YEAR <= year <= this_year:
        raise TGDCError(
            f"year: {year} has no NAIP imagery; NAIP flew from {FIRST_NAIP_YEAR} to"
            f" {this_year} (omit --year to take the newest)"
        )


def acquired(item: pystac.Item) -> dt.datetime:
    """When an item was acquired: its ``datetime``, else the start of its interval.

    Args:
        item: the item.

    Returns:
        The acquisition time.
    """
    return (
        item.datetime
        or item.common_metadata.start_datetime
        or dt.datetime.min.replace(tzinfo=dt.UTC)
    )


def display_url(url: str) -> str:
    """A URL without its query string, which may hold a signature, for messages.

    Args:
        url: the URL.

    Returns:
        ``scheme://host/path``.
    """
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class NaipCatalog:
    """The NAIP collection of a STAC API.

    Args:
        url: root URL of the STAC API.
        collection: id of the NAIP collection.
        asset_key: key of the 4-band image asset in each item.
        network: timeouts and retries.
    """

    def __init__(
        self,
        url: str = DEFAULT_STAC_URL,
        collection: str = NAIP_COLLECTION,
        asset_key: str = IMAGE_ASSET,
        network: NetworkSettings | None = None,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise TGDCError(f"stac_url: {url!r} is not an http(s) URL of a STAC API")
        self.url = url
        self.collection = collection
        self.asset_key = asset_key
        self.network = network or NetworkSettings()
        self._client: pystac_client.Client | None = None
        self._coverage: list[tuple[float, float, float, float]] | None = None

    @property
    def client(self) -> pystac_client.Client:
        """The pystac-client client, opened on first use.

        Raises:
            TGDCError: if the API cannot be reached or does not answer with a STAC catalog.
        """
        if self._client is None:
            try:
                self._client = pystac_client.Client.open(
                    self.url, stac_io=self.network.stac_io(), timeout=self.network.timeout
                )
            except APIError as error:
                raise TGDCError(
                    f"STAC API {self.url} {describe_request_error(error)}; check --stac-url and"
                    " the network connection, then rerun"
                ) from error
            except (json.JSONDecodeError, pystac.STACError, ClientTypeError) as error:
                raise TGDCError(
                    f"STAC API {self.url} did not answer with a STAC catalog ({error}); check"
                    " --stac-url"
                ) from error
        return self._client

    @property
    def coverage(self) -> list[tuple[float, float, float, float]]:
        """Where the collection has imagery: the boxes of its STAC spatial extent.

        Each box is ``(west, south, east, north)`` in degrees. A STAC extent whose list
        holds several boxes gives the overall box first, then the boxes of its parts (for
        NAIP: the contiguous states, Hawaii, Puerto Rico and the US Virgin Islands); the
        parts are returned then, since the overall box spans open ocean.

        Raises:
            TGDCError: if the API cannot be reached or has no such collection.
        """
        if self._coverage is None:
            try:
                collection = self.client.get_collection(self.collection)
            except (APIError, pystac.STACError, KeyError, ValueError) as error:
                raise TGDCError(
                    f"STAC API {self.url}: collection {self.collection!r} could not be read"
                    f" ({error}); check --stac-url and the collection id"
                ) from error
            if collection is None:
                raise TGDCError(
                    f"STAC API {self.url} has no collection {self.collection!r}; check"
                    " --stac-url and the collection id"
                )
            boxes = [
                (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
                for b in collection.extent.spatial.bboxes
            ]
            self._coverage = boxes[1:] if len(boxes) > 1 else boxes
        return self._coverage

    def check_covered(self, region: BaseGeometry) -> None:
        """Refuse a region outside every box of :attr:`coverage`, before any search.

        Args:
            region: the region, in longitude/latitude (EPSG:4326).

        Raises:
            TGDCError: if *region* meets none of the collection's boxes.
        """
        boxes = self.coverage
        if not any(region.intersects(shapely.box(*box)) for box in boxes):
            listed = "; ".join(f"lon {w:g} to {e:g}, lat {s:g} to {n:g}" for w, s, e, n in boxes)
            west, south, east, north = region.bounds
            raise TGDCError(
                f"lon {west:g} to {east:g}, lat {south:g} to {north:g} is outside NAIP"
                f" coverage: collection {self.collection!r} of {self.url} covers {listed}"
                f"{swapped_advice(region, boxes)}; give a place inside one of them"
            )

    def search(self, region: BaseGeometry, year: int | None = None) -> list[pystac.Item]:
        """Find the items whose footprint intersects a region.

        Args:
            region: the region, in longitude/latitude (EPSG:4326).
            year: only items acquired in this year (``None``: every year).

        Returns:
            The items, newest acquisition first.

        Raises:
            TGDCError: if *year* is implausible, the region is outside the collection's
                :attr:`coverage`, or the search fails.
        """
        check_year(year)
        self.check_covered(region)
        search = self.client.search(
            collections=[self.collection],
            intersects=shapely.geometry.mapping(region),
            datetime=str(year) if year is not None else None,
            limit=PAGE_SIZE,
        )
        try:
            items = list(search.items())
        except APIError as error:
            raise TGDCError(
                f"STAC API {self.url}: search of collection {self.collection!r}"
                f" {describe_request_error(error)}; rerun to resume"
            ) from error
        return sorted(items, key=lambda item: (acquired(item), item.id), reverse=True)

    def asset_href(self, item: pystac.Item) -> str:
        """The URL of an item's image, signed if it is on Azure blob storage.

        Args:
            item: the item.

        Returns:
            The URL.

        Raises:
            TGDCError: if the item has no such asset, or signing fails.
        """
        asset = item.assets.get(self.asset_key)
        if asset is None:
            raise TGDCError(
                f"STAC item {item.id} has no {self.asset_key!r} asset (it has"
                f" {sorted(item.assets)}); pass the image asset's key as asset_key"
            )
        href = asset.get_absolute_href() or asset.href
        try:
            return planetary_computer.sign_url(href)
        except (requests.RequestException, ValueError) as error:
            raise TGDCError(
                f"could not sign {display_url(href)} for Azure blob storage ({error}); check"
                " the network connection, then rerun"
            ) from error
