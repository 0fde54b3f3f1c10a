"""When imagery was acquired: from NAIP file names, GeoTIFF tags or the user.

A detection table records, per detection, the acquisition date of the imagery it was found
in (column ``acquired``, an ISO 8601 date ``YYYY-MM-DD``), so that detections of several
NAIP vintages can be compared (:mod:`.change`). :func:`file_date` finds the date of a
GeoTIFF in this order:

1. a NAIP file name, ``m_DDDDDDD_qq_zz_res_YYYYMMDD`` (also inside a STAC item id such as
   ``wi_m_4208701_ne_16_060_20200902``): NAIP names carry the date the quarter quad was
   flown;
2. the GeoTIFF's ``TIFFTAG_DATETIME`` tag (``YYYY:MM:DD HH:MM:SS``), which some producers
   set to the acquisition time (others to the processing time, hence second);
3. any other 8-digit ``YYYYMMDD`` date in the file name.
"""

import datetime as dt
import os
import re
from pathlib import Path

from ..errors import TGDCError

#: A NAIP quarter-quad name: ``m_``, cell, quadrant, UTM zone, resolution, flight date.
NAIP_NAME = re.compile(r"m_\d{7}_[a-z]{2}_\d{1,2}_\d+_(\d{8})(?!\d)")

#: Any 8-digit run, read as ``YYYYMMDD`` when it is a valid date.
DIGITS8 = re.compile(r"(?<!\d)(\d{8})(?!\d)")

#: Format of ``TIFFTAG_DATETIME`` (TIFF 6.0: ``YYYY:MM:DD HH:MM:SS``).
TIFF_DATETIME = "%Y:%m:%d %H:%M:%S"

#: Column of a detection table holding the acquisition date.
ACQUIRED = "acquired"


def _yyyymmdd(text: str) -> dt.date | None:
    """Read ``YYYYMMDD``, or None when it is not a calendar date."""
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def name_date(name: str, *, naip_only: bool = False) -> dt.date | None:
    """The acquisition date in a file name or STAC item id.

    Args:
        name: e.g. ``m_4208701_ne_16_060_20200902.tif``.
        naip_only: only read a NAIP quarter-quad name (see :data:`NAIP_NAME`).

    Returns:
        The date, or None when the name holds none.
    """
    stem = Path(name).name
    found = NAIP_NAME.search(stem)
    if found:
        return _yyyymmdd(found.group(1))
    if naip_only:
        return None
    dates = [date for text in DIGITS8.findall(stem) if (date := _yyyymmdd(text))]
    return dates[-1] if dates else None


def file_date(path: str | os.PathLike[str]) -> dt.date | None:
    """The acquisition date of a GeoTIFF (see the module's order).

    Args:
        path: the GeoTIFF.

    Returns:
        The date, or None when neither the name nor the tags hold one.
    """
    date = name_date(str(path), naip_only=True)
    if date is not None:
        return date
    import rasterio

    with rasterio.open(path) as src:
        tag = src.tags().get("TIFFTAG_DATETIME", "")
    try:
        return dt.datetime.strptime(tag.strip(), TIFF_DATETIME).date()
    except ValueError:
        return name_date(str(path))


def parse_date(text: str, what: str) -> dt.date:
    """Read a date the user gave.

    Args:
        text: ``YYYY-MM-DD``.
        what: what the date belongs to, for the message (e.g. the file or option).

    Returns:
        The date.

    Raises:
        TGDCError: if *text* is not a ``YYYY-MM-DD`` date.
    """
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise TGDCError(
            f"{what}: {text!r} is not a date; give it as YYYY-MM-DD, e.g. 2020-08-31"
        ) from None
