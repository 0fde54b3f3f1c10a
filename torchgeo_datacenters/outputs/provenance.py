"""Where detections come from: the imagery each was found in, with its acquisition date.

A :class:`Provenance` names the imagery behind one raster a run read: its STAC item id(s)
and acquisition date(s), and a link to it (the item's URL, or the file). It is read from a
STAC item (a scan of NAIP items), from the ``NAIP_ITEMS`` and ``NAIP_DATES`` tags
``tgdc download`` writes into its mosaics, or, for any other GeoTIFF, from its NAIP file
name or tags (:func:`~torchgeo_datacenters.detections.dates.file_date`).
:func:`attach_provenance` records it on every detection (``source_item``, ``acquired``);
:mod:`.stac` links the STAC items it writes to it.
"""

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rasterio
import shapely
from rasterio.warp import transform_geom
from shapely.geometry.base import BaseGeometry

from ..detections.dates import acquisition_dates, acquisition_text, file_date, item_dates

if TYPE_CHECKING:
    import geopandas as gpd


#: Tag of a ``tgdc download`` file listing its items, newest first (the order in which
#: they supplied pixels), each with its acquisition date and footprint: a JSON list of
#: ``{"id": ..., "date": "YYYY-MM-DD", "geometry": GeoJSON in EPSG:4326}`` (the date
#: ``FIRST/LAST`` for an item dated by an interval).
SOURCES_TAG = "NAIP_SOURCES"


@dataclass(frozen=True)
class SourcePart:
    """One item of a mosaic: the pixels it supplied and when they were flown.

    Attributes:
        item: its STAC item id.
        dates: its acquisition date, or the first and last day of its interval
            (:func:`~torchgeo_datacenters.detections.dates.item_dates`).
        footprint: its footprint, in EPSG:4326.
    """

    item: str
    dates: tuple[dt.date, ...]
    footprint: BaseGeometry


@dataclass(frozen=True)
class Provenance:
    """The imagery behind one raster a run read.

    Attributes:
        name: the raster's file name (the ``source`` of its detections).
        href: a link to the imagery: its STAC item's URL, or the file's absolute path.
        footprint: the raster's footprint, in EPSG:4326.
        items: STAC item ids of the imagery (empty where unknown).
        dates: acquisition dates: one per item (two, the first and last day, for an item
            dated by an interval), or one read from the file name.
        is_item: whether *href* is a STAC item.
        parts: the items of a mosaic of several, in the order they supplied pixels
            (newest first), so that each detection gets the date of its own pixels.
    """

    name: str
    href: str
    footprint: BaseGeometry
    items: tuple[str, ...] = ()
    dates: tuple[dt.date, ...] = ()
    is_item: bool = False
    parts: tuple[SourcePart, ...] = ()

    def lying_under(self, geometry: BaseGeometry) -> tuple[list[str], list[dt.date]]:
        """The items and dates of the pixels under a detection.

        Args:
            geometry: the detection, in EPSG:4326.

        Returns:
            The items whose pixels it covers and their dates (a pixel covered by several
            items came from the first, newest one); the whole raster's where it has no
            parts or no part meets the detection.
        """
        items: list[str] = []
        dates: list[dt.date] = []
        rest = geometry
        for part in self.parts:
            if rest.is_empty:
                break
            if rest.intersection(part.footprint).area > 0:
                items.append(part.item)
                dates.extend(part.dates)
                rest = rest.difference(part.footprint)
        if not items:
            return list(self.items), list(self.dates)
        return items, dates

    @property
    def source_item(self) -> str | None:
        """The item id(s), comma-separated, or None where unknown."""
        return ",".join(self.items) or None

    @property
    def acquired(self) -> str | None:
        """The acquisition date(s) in ISO 8601, comma-separated, or None where unknown."""
        return ",".join(date.isoformat() for date in self.dates) or None


def raster_provenance(path: str | os.PathLike[str]) -> Provenance:
    """The provenance of a GeoTIFF, from its tags or its NAIP file name.

    Args:
        path: the raster (georeferenced).

    Returns:
        Its provenance, linking to the file.
    """
    path = Path(path).resolve()
    with rasterio.open(path) as src:
        tags = src.tags()
        footprint = shapely.geometry.shape(
            transform_geom(src.crs, "EPSG:4326", shapely.geometry.mapping(shapely.box(*src.bounds)))
        )
    items = tuple(filter(None, tags.get("NAIP_ITEMS", "").split(",")))
    dates = tuple(
        dt.datetime.fromisoformat(text).date()
        for text in filter(None, tags.get("NAIP_DATES", "").split(","))
    )
    if not dates:
        dates = tuple(filter(None, [file_date(path)]))
    parts = tuple(
        SourcePart(
            str(source["id"]),
            acquisition_dates(source.get("date")),
            shapely.geometry.shape(source["geometry"]),
        )
        for source in json.loads(tags.get(SOURCES_TAG, "[]"))
    )
    return Provenance(path.name, str(path), footprint, items, dates, parts=parts)


def item_provenance(item: Mapping[str, Any], name: str, href: str) -> Provenance:
    """The provenance of a raster downloaded from a STAC item.

    Args:
        item: the item, as a STAC dictionary.
        name: the file name its detections carry as ``source``.
        href: the item's URL.

    Returns:
        Its provenance, linking to the item.
    """
    properties = item.get("properties", {})
    dates = item_dates(properties)
    footprint = shapely.geometry.shape(item["geometry"])
    return Provenance(name, href, footprint, (str(item["id"]),), dates, is_item=True)


def attach_provenance(
    detections: "gpd.GeoDataFrame", provenances: Mapping[str, Provenance]
) -> "gpd.GeoDataFrame":
    """Record on every detection the item(s) and date(s) of the imagery it was found in.

    Args:
        detections: detections with a ``source`` column (file names).
        provenances: provenance of each source, by file name.

    Returns:
        A copy with ``source_item`` and ``acquired`` filled (None where unknown): the
        item(s) and date of the pixels each detection lies on; a detection on pixels of
        several dates (across the quarter quads of a mosaic) gets the range
        ``FIRST/LAST`` (:func:`acquisition_text`), which ``tgdc change`` reads.
    """
    import pandas as pd

    detections = detections.copy()
    items, dates = [], []
    for name, geometry in zip(detections["source"], detections.geometry, strict=True):
        found = provenances.get(name)
        under = found.lying_under(geometry) if found else ([], [])
        items.append(",".join(under[0]) or None)
        dates.append(acquisition_text(under[1]))
    detections["source_item"] = pd.Series(items, index=detections.index, dtype="object")
    detections["acquired"] = pd.Series(dates, index=detections.index, dtype="object")
    return detections
