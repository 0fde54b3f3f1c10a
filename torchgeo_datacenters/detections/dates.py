"""When imagery was acquired: the one place that ranks the sources of a date.

A detection table records, per detection, the acquisition date of the imagery it was found
in (column ``acquired``, an ISO 8601 date ``YYYY-MM-DD``, or the interval
``YYYY-MM-DD/YYYY-MM-DD`` for a detection on pixels flown on several days, as across the
quarter quads of a download), so that detections of several NAIP vintages can be compared
(:mod:`.change`). The date of a raster comes from the first
of these sources that has one, most authoritative first:

0. the user: ``tgdc detect --date YYYY-MM-DD`` (and ``FILE@YYYY-MM-DD`` in ``tgdc change``);
1. the STAC item's ``datetime``, or, where it is null, the first and last day of its
   ``start_datetime``/``end_datetime`` interval (a mosaic flown over several days), so
   that its detections carry the range ``FIRST/LAST`` (:func:`item_dates`; ``tgdc scan``
   over a catalogue; ``tgdc download`` writes the items' dates into its files as the
   ``NAIP_DATES`` and ``NAIP_SOURCES`` tags,
   :func:`~torchgeo_datacenters.outputs.provenance.raster_provenance`);
2. a NAIP file name, ``m_DDDDDDD_qq_zz_res_YYYYMMDD`` in any case and with any extension
   (also inside a STAC item id such as ``wi_m_4208701_ne_16_060_20200902``): NAIP names
   carry the date the quarter quad was flown;
3. the metadata beside the file (``NAME.xml``, ``NAME.txt`` or ``NAME.tif.xml``): its time
   period of content, the date the ground was imaged (a range's beginning), in the FGDC
   metadata NAIP ships (``timeperd``: ``caldate``, or ``begdate`` of a range; XML with or
   without a namespace, or plain text), the ISO 19139 metadata of other catalogues
   (``EX_TemporalExtent``), or the metadata ArcGIS writes (``TempExtent``); dates as
   ``YYYYMMDD`` or ``YYYY-MM-DD`` (:func:`fgdc_date`);
4. the GeoTIFF's ``TIFFTAG_DATETIME`` tag (``YYYY:MM:DD HH:MM:SS``), with a warning: NAIP
   producers set it to the time the file was processed, not flown;
5. any other 8-digit ``YYYYMMDD`` date in the file name.

:func:`file_date` reads sources 2 to 5 of a file. :func:`acquisition_text` writes the
dates of a detection as it records them, :func:`acquisition_dates` reads them back.
"""

import datetime as dt
import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import TGDCError

#: A NAIP quarter-quad name: ``m_``, cell, quadrant, UTM zone, resolution, flight date; in
#: any case (USGS EarthExplorer's downloads are ``M_4208701_NE_16_060_20200902``). The
#: resolution field is any run of letters or digits (``1``, ``060``, ``030``, ``h``).
NAIP_NAME = re.compile(r"m_\d{7}_[a-z]{2}_\d{1,2}_[a-z0-9]+_(\d{8})(?!\d)", re.IGNORECASE)

#: Any 8-digit run, read as ``YYYYMMDD`` when it is a valid date.
DIGITS8 = re.compile(r"(?<!\d)(\d{8})(?!\d)")

#: Format of ``TIFFTAG_DATETIME`` (TIFF 6.0: ``YYYY:MM:DD HH:MM:SS``).
TIFF_DATETIME = "%Y:%m:%d %H:%M:%S"

#: Column of a detection table holding the acquisition date.
ACQUIRED = "acquired"


def item_dates(properties: Mapping[str, Any]) -> tuple[dt.date, ...]:
    """The acquisition dates of a STAC item (source 1 of the module's ranking).

    Args:
        properties: the item's properties.

    Returns:
        The day of its ``datetime``; where that is null, the first and last day of its
        ``start_datetime``/``end_datetime`` interval (one day where they fall on the same
        day or the end is missing); nothing where the item has no date.
    """
    when = properties.get("datetime")
    texts = [when] if when else [properties.get("start_datetime"), properties.get("end_datetime")]
    days = [dt.datetime.fromisoformat(text).date() for text in texts if text]
    return tuple(sorted(set(days)))


def acquisition_text(dates: Sequence[dt.date]) -> str | None:
    """Dates as a detection records them: one ISO date, or a range ``FIRST/LAST``.

    Args:
        dates: the dates (any order, repeats allowed).

    Returns:
        ``YYYY-MM-DD``, ``YYYY-MM-DD/YYYY-MM-DD`` (ISO 8601 interval) for several, or None.
    """
    if not dates:
        return None
    first, last = min(dates), max(dates)
    return first.isoformat() if first == last else f"{first.isoformat()}/{last.isoformat()}"


def acquisition_dates(text: str | None) -> tuple[dt.date, ...]:
    """Read dates as :func:`acquisition_text` writes them.

    Args:
        text: ``YYYY-MM-DD`` or ``YYYY-MM-DD/YYYY-MM-DD`` (empty or None: no date).

    Returns:
        The day, or the first and last day of the range.

    Raises:
        ValueError: if a part is not an ISO date.
    """
    return tuple(dt.date.fromisoformat(part) for part in (text or "").split("/") if part)


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
    """The acquisition date of a GeoTIFF, from sources 2 to 5 of the module's ranking.

    Args:
        path: the GeoTIFF.

    Returns:
        The date, or None when neither the name, the metadata beside it nor its tags hold
        one.

    Warns:
        UserWarning: when the date comes from the TIFF DateTime tag.
    """
    date = name_date(str(path), naip_only=True) or fgdc_date(path)
    if date is not None:
        return date
    import rasterio

    with rasterio.open(path) as src:
        tag = src.tags().get("TIFFTAG_DATETIME", "")
    try:
        date = dt.datetime.strptime(tag.strip(), TIFF_DATETIME).date()
    except ValueError:
        return name_date(str(path))
    beside = [candidate.name for candidate in metadata_files(path) if candidate.is_file()]
    fix = (
        f"the metadata beside it ({beside[0]}) gives no time period of content; give the date"
        if beside
        else f"put the file's FGDC metadata ({Path(path).with_suffix('.xml').name}) beside it,"
        " or give the date"
    )
    warnings.warn(
        f"{path}: acquisition date {date} read from the TIFF DateTime tag, which NAIP"
        f" producers set to the processing time; {fix} with tgdc detect --date YYYY-MM-DD",
        stacklevel=2,
    )
    return date


#: The time period of content in FGDC's plain-text form: its first calendar or beginning
#: date (``Calendar_Date: 20200902``, ``Beginning_Date: 2020-09-02``).
FGDC_TEXT_DATE = re.compile(
    r"Time_Period_of_Content:.*?(?:Calendar_Date|Beginning_Date):\s*(\d{4}-?\d{2}-?\d{2})",
    re.DOTALL,
)

#: Elements holding the time period of content, by local name (any namespace): FGDC's
#: short and long names, ISO 19139's temporal extent, ArcGIS metadata's.
PERIOD_ELEMENTS = frozenset(
    {"timeperd", "Time_Period_of_Content", "EX_TemporalExtent", "TempExtent"}
)

#: Elements of a time period holding its date or its beginning, by local name: FGDC's
#: short and long names, GML's (ISO 19139), ArcGIS metadata's.
DATE_ELEMENTS = frozenset(
    {
        *("caldate", "begdate", "Calendar_Date", "Beginning_Date"),
        *("timePosition", "beginPosition", "tmPosition", "tmBegin"),
    }
)

#: A calendar date as metadata writes it, ``YYYYMMDD`` or ``YYYY-MM-DD`` (a time may follow).
CALENDAR_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})(?![\d])")


def _calendar_date(text: str) -> dt.date | None:
    """Read ``YYYYMMDD`` or ``YYYY-MM-DD[Thh:mm:ss]``, or None when it is not a date."""
    found = CALENDAR_DATE.match(text.strip())
    if found is None:
        return None
    try:
        return dt.date(*map(int, found.groups()))
    except ValueError:
        return None


def _local(tag: object) -> str:
    """An XML element's name without its namespace."""
    return str(tag).rsplit("}", 1)[-1]


def metadata_files(path: str | os.PathLike[str]) -> list[Path]:
    """The metadata files that may lie beside a raster ``NAME.tif``, in the order read.

    Args:
        path: the raster.

    Returns:
        NAIP's ``NAME.xml`` and ``NAME.txt``, and the ``NAME.tif.xml`` ArcGIS writes.
    """
    path = Path(path)
    return [path.with_suffix(".xml"), path.with_suffix(".txt"), path.with_name(path.name + ".xml")]


def fgdc_date(path: str | os.PathLike[str]) -> dt.date | None:
    """The date of the ground in the metadata beside a raster (source 3 of the ranking).

    Args:
        path: the raster.

    Returns:
        The time period of content's date (a range's beginning), or None where no
        metadata file is beside it or it holds no date.
    """
    for candidate in metadata_files(path):
        if not candidate.is_file():
            continue
        text = candidate.read_text(encoding="utf-8", errors="replace")
        if candidate.suffix.lower() == ".xml":
            try:
                root = ET.fromstring(text.lstrip("\ufeff"))
            except ET.ParseError:
                continue
            periods = (e for e in root.iter() if _local(e.tag) in PERIOD_ELEMENTS)
            texts = (
                (element.text or "")
                for period in periods
                for element in period.iter()
                if _local(element.tag) in DATE_ELEMENTS
            )
            date = next(filter(None, map(_calendar_date, texts)), None)
        else:
            match = FGDC_TEXT_DATE.search(text)
            date = _calendar_date(match.group(1)) if match else None
        if date is not None:
            return date
    return None


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
