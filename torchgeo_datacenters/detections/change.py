"""Change between NAIP vintages: which data centers are new, growing, shrinking or gone.

NAIP flies every state every 2 to 3 years. Given the detections of several vintages of the
same area (files of ``tgdc detect`` or ``tgdc scan``, in any order), :func:`track_changes`
follows every site through them:

* **Vintages.** Every detection carries the acquisition date of its imagery (column
  ``acquired``, see :mod:`.dates`; a file's date can also be given, ``FILE@YYYY-MM-DD``).
  A detection on pixels flown on several days (a download across quarter quads) carries
  the range ``FIRST/LAST`` and counts as seen on its first day.
  Detections are grouped into vintages by year: two files of one year form one vintage.
* **Sites.** Detections of any vintages whose polygons overlap (share a positive area) are
  one site: the connected components of the overlap graph, so a building that is split in
  one vintage and joined in another, or two buildings joined by a new hall, stay one site.
* **Areas.** A site's area in a vintage is the sum of its detections' ``area_m2`` there
  (measured in metres by the predictor); perimeters are measured in the UTM zone of each
  polygon (:mod:`.metric`).
* **Status**, over the years ``Y1 < ... < Yn`` given:

  - ``uncertain``: seen in one vintage only, with a score below ``min_score``;
  - ``gone``: not seen in ``Yn``;
  - ``new``: not seen in ``Y1``;
  - otherwise ``expanded``, ``shrunk`` or ``unchanged``, by the change of area from
    ``Y1`` to ``Yn``: a change counts only beyond a tolerance, the larger of a band one
    pixel wide along the outline (``pixel_size`` x the longer perimeter: the boundary
    pixels that a 1 m and a 0.6 m raster of the same roof split differently) and
    ``min_growth`` x the area in ``Y1`` (the model's own variation between flights).

The result has one row per site: ``site`` (1..n, north to south), ``status``,
``first_seen`` and ``last_seen`` (acquisition dates, ``YYYY-MM-DD``), ``years_seen``,
``area_m2`` (in the last vintage seen), ``area_m2_<year>`` for every vintage (0 where not
seen), ``growth_m2`` (area in ``Yn`` minus area in ``Y1``), ``growth`` (that change as a
fraction of the area in ``Y1``; empty where the site was not seen in ``Y1``), ``score``
(the highest score of its detections), centroid and the polygon of its last vintage seen.
"""

import datetime as dt
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import TGDCError
from .dates import ACQUIRED, parse_date
from .files import read_vector
from .grouping import connected_groups
from .metric import centroids, measure

#: Statuses of a site, in the order summaries list them.
STATUSES = ("new", "expanded", "unchanged", "shrunk", "gone", "uncertain")

#: Default pixel size behind the tolerance, in metres: the coarsest NAIP ground sample
#: distance (1 m until about 2016; 0.6 m since).
DEFAULT_PIXEL_SIZE = 1.0

#: Default smallest change of area, as a fraction of the first vintage's, that counts.
DEFAULT_MIN_GROWTH = 0.1

#: Default score below which a site seen in one vintage only is ``uncertain``.
DEFAULT_MIN_SCORE = 0.7

#: A date given after a file name: ``FILE@YYYY-MM-DD``.
_DATED_FILE = re.compile(r"^(?P<path>.+)@(?P<date>\d{4}-\d{1,2}-\d{1,2})$")


@dataclass(frozen=True)
class Vintage:
    """Detections of one acquisition (or several of one year).

    Attributes:
        detections: detections in EPSG:4326 with ``area_m2`` (else measured here),
            ``score`` (optional) and ``acquired`` (optional when *date* is given).
        date: acquisition date of every detection, over their ``acquired`` (and the
            vintage's date when it has no detection).
        name: where the detections come from, for messages.
    """

    detections: gpd.GeoDataFrame
    date: dt.date | None = None
    name: str = "detections"


def read_vintage(spec: str | os.PathLike[str]) -> Vintage:
    """Read a detection file, optionally with its date: ``FILE`` or ``FILE@YYYY-MM-DD``.

    Args:
        spec: the file (GeoJSON, GeoPackage, GeoParquet, ... of ``tgdc detect`` or
            ``tgdc scan``), with ``@`` and a date to set the acquisition date of all its
            detections.

    Returns:
        The vintage.

    Raises:
        TGDCError: if the file is missing or unreadable, or the date is not a date.
    """
    text = os.fspath(spec)
    dated = _DATED_FILE.match(text)
    date = None
    if dated and not Path(text).exists():
        text, date = dated["path"], parse_date(dated["date"], text)
    return Vintage(read_vector(text, "detections"), date, text)


def _dated_rows(vintage: Vintage) -> gpd.GeoDataFrame:
    """The detections of a vintage with their date, area and score.

    Args:
        vintage: the vintage.

    Returns:
        Columns ``date`` (datetime.date), ``area_m2``, ``score`` (NaN where unknown) and
        ``geometry`` (EPSG:4326).

    Raises:
        TGDCError: if a detection has no date, or the table is not in EPSG:4326.
    """
    table = vintage.detections
    if table.crs is None or not table.crs.equals("EPSG:4326"):
        raise TGDCError(f"{vintage.name}: CRS is {table.crs}, not EPSG:4326; reproject first")
    if vintage.date is not None:
        dates = pd.Series([vintage.date] * len(table), index=table.index, dtype=object)
    elif ACQUIRED in table:
        # A range FIRST/LAST (a detection across quarter quads flown on several days) or a
        # list (older runs) is dated by its first day.
        first = table[ACQUIRED].astype("string").str.split(r"[/,]", regex=True).str[0]
        dates = pd.to_datetime(first, errors="coerce").dt.date
    else:
        dates = pd.Series([None] * len(table), index=table.index, dtype=object)
    undated = int(dates.isna().sum())
    if undated:
        raise TGDCError(
            f"{vintage.name}: {undated} detection(s) have no acquisition date (property"
            f" {ACQUIRED!r}); give the file's date as {vintage.name}@YYYY-MM-DD"
        )
    if "area_m2" in table:
        areas = pd.to_numeric(table["area_m2"], errors="coerce").to_numpy(float)
    else:
        areas = np.full(len(table), np.nan)
    missing = np.isnan(areas)
    if missing.any():
        areas[missing] = measure(table.geometry[missing])[0]
    scores = (
        pd.to_numeric(table["score"], errors="coerce").to_numpy(float)
        if "score" in table
        else np.full(len(table), np.nan)
    )
    return gpd.GeoDataFrame(
        {"date": dates.to_numpy(), "area_m2": areas, "score": scores},
        geometry=table.geometry.to_numpy(),
        crs="EPSG:4326",
    )


def _sites(geometries: gpd.GeoSeries) -> np.ndarray:
    """Number the sites: connected components of polygons that share a positive area.

    Args:
        geometries: the polygons of every vintage, EPSG:4326.

    Returns:
        The component of every polygon.
    """
    values = geometries.to_numpy()
    left, right = shapely.STRtree(values).query(values, predicate="intersects")
    # Touching along an edge is not overlap: keep pairs that share area (the test is
    # done on the polygons themselves, which no projection changes).
    overlap = (left == right) | (
        shapely.area(shapely.intersection(values[left], values[right])) > 0
    )
    return connected_groups((left[overlap], right[overlap]), len(values))


def _status(
    seen: np.ndarray,
    areas: np.ndarray,
    perimeters: np.ndarray,
    score: float,
    *,
    pixel_size: float,
    min_growth: float,
    min_score: float,
) -> str:
    """The status of one site.

    Args:
        seen: whether the site was seen in each vintage, oldest first.
        areas: its area in each vintage, in m².
        perimeters: its perimeter in each vintage, in m.
        score: its highest score (NaN: unknown, never uncertain).
        pixel_size: see :func:`track_changes`.
        min_growth: see :func:`track_changes`.
        min_score: see :func:`track_changes`.

    Returns:
        One of :data:`STATUSES`.
    """
    if seen.sum() == 1 and score < min_score:
        return "uncertain"
    if not seen[-1]:
        return "gone"
    if not seen[0]:
        return "new"
    change = areas[-1] - areas[0]
    tolerance = max(pixel_size * max(perimeters[0], perimeters[-1]), min_growth * areas[0])
    if change > tolerance:
        return "expanded"
    if change < -tolerance:
        return "shrunk"
    return "unchanged"


def _check_settings(pixel_size: float, min_growth: float, min_score: float) -> None:
    """Check the settings of :func:`track_changes`.

    Raises:
        TGDCError: if a setting is out of range.
    """
    if not pixel_size >= 0:
        raise TGDCError(f"pixel_size: {pixel_size} must be 0 or more metres")
    if not min_growth >= 0:
        raise TGDCError(f"min_growth: {min_growth} must be a fraction of 0 or more")
    if not 0 <= min_score <= 1:
        raise TGDCError(f"min_score: {min_score} must be a score from 0 to 1")


def track_changes(
    vintages: Sequence[Vintage],
    *,
    pixel_size: float = DEFAULT_PIXEL_SIZE,
    min_growth: float = DEFAULT_MIN_GROWTH,
    min_score: float = DEFAULT_MIN_SCORE,
) -> gpd.GeoDataFrame:
    """Follow every data center through several vintages (see the module for the rules).

    Args:
        vintages: detections of two or more NAIP years, in any order.
        pixel_size: the coarsest pixel size of the vintages, in metres: area changes
            within a band this wide along a site's outline are not growth.
        min_growth: smallest change of area counted, as a fraction of the first year's.
        min_score: a site seen in one vintage only, with no score this high, is
            ``uncertain``.

    Returns:
        One row per site, in EPSG:4326 (columns in the module's description), numbered
        north to south.

    Raises:
        TGDCError: if a detection has no date, fewer than two years are given, or a
            setting is out of range.
    """
    _check_settings(pixel_size, min_growth, min_score)
    tables = [_dated_rows(vintage) for vintage in vintages]
    rows = pd.concat(tables, ignore_index=True) if tables else gpd.GeoDataFrame()
    years = sorted(
        {date.year for table in tables for date in table["date"]}
        | {vintage.date.year for vintage in vintages if vintage.date is not None}
    )
    if len(years) < 2:
        raise TGDCError(
            f"detections: {len(vintages)} file(s) of {len(years)} year(s) {years}; give"
            " detections of two or more NAIP years"
        )
    rows = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    columns = [f"area_m2_{year}" for year in years]
    if rows.empty:
        return _empty_sites(columns)
    rows["year"] = [date.year for date in rows["date"]]
    rows["site"] = _sites(rows.geometry)
    rows["perimeter_m"] = measure(rows.geometry)[1]
    per_year = rows.groupby(["site", "year"]).agg(
        area=("area_m2", "sum"), perimeter=("perimeter_m", "sum")
    )
    by_year = per_year["area"].unstack("year").reindex(columns=years)
    seen = by_year.notna().to_numpy()
    areas = by_year.fillna(0.0).to_numpy()
    perimeters = per_year["perimeter"].unstack("year").reindex(columns=years).fillna(0.0)
    sites = rows.groupby("site").agg(
        first=("date", "min"), last=("date", "max"), score=("score", "max")
    )
    # The polygon of each site's last vintage seen.
    last_year = rows.groupby("site")["year"].transform("max")
    latest = rows[rows["year"] == last_year]
    polygons = latest.groupby("site").geometry.agg(lambda g: shapely.union_all(g.to_numpy()))
    geometry = gpd.GeoSeries(polygons.reindex(sites.index).to_numpy(), crs="EPSG:4326")
    statuses = [
        _status(
            seen[i],
            areas[i],
            perimeters.to_numpy()[i],
            sites["score"].iloc[i],
            pixel_size=pixel_size,
            min_growth=min_growth,
            min_score=min_score,
        )
        for i in range(len(sites))
    ]
    last_seen = seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
    growth = areas[:, -1] - areas[:, 0]
    lonlat = centroids(geometry)
    table = pd.DataFrame(
        {
            "status": statuses,
            "first_seen": [date.isoformat() for date in sites["first"]],
            "last_seen": [date.isoformat() for date in sites["last"]],
            "years_seen": seen.sum(axis=1),
            "area_m2": areas[np.arange(len(areas)), last_seen],
            **dict(zip(columns, areas.T, strict=True)),
            "growth_m2": growth,
            "growth": np.divide(
                growth, areas[:, 0], out=np.full(len(growth), np.nan), where=areas[:, 0] > 0
            ),
            "score": sites["score"].to_numpy(),
            "centroid_lon": lonlat[:, 0],
            "centroid_lat": lonlat[:, 1],
        }
    )
    return _ordered(gpd.GeoDataFrame(table, geometry=geometry.to_numpy(), crs="EPSG:4326"))


def _empty_sites(area_columns: Sequence[str]) -> gpd.GeoDataFrame:
    """A table of sites with no row.

    Args:
        area_columns: the ``area_m2_<year>`` columns.

    Returns:
        The empty table, in EPSG:4326.
    """
    columns = ["site", "status", "first_seen", "last_seen", "years_seen", "area_m2"]
    columns += [*area_columns, "growth_m2", "growth", "score", "centroid_lon", "centroid_lat"]
    return gpd.GeoDataFrame(
        {column: [] for column in columns}, geometry=gpd.GeoSeries([], crs="EPSG:4326")
    )


def _ordered(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Sort sites north to south, then west to east, and number them from 1.

    Args:
        sites: the sites.

    Returns:
        The sites with ``site`` 1..n as the first column.
    """
    order = np.lexsort((sites["centroid_lon"].to_numpy(), -sites["centroid_lat"].to_numpy()))
    sites = sites.iloc[order].reset_index(drop=True)
    sites.insert(0, "site", np.arange(1, len(sites) + 1))
    return sites


def summarize(sites: gpd.GeoDataFrame) -> str:
    """One line counting the sites by status.

    Args:
        sites: the result of :func:`track_changes`.

    Returns:
        E.g. ``4 site(s) over 2018, 2020: 1 new, 1 expanded, 1 unchanged, 0 shrunk, ...``.
    """
    years = [column.removeprefix("area_m2_") for column in sites if column.startswith("area_m2_")]
    counts = sites["status"].value_counts()
    statuses = ", ".join(f"{counts.get(status, 0)} {status}" for status in STATUSES)
    return f"{len(sites)} site(s) over {', '.join(years)}: {statuses}"
