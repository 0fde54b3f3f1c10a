"""The detection table: one row per data center, its columns, their types and its CRS.

Every stage that makes or reads detections (the vectoriser, the merge across scenes, the
scan manifest, the writers) shares this schema: a GeoDataFrame in :data:`DETECTION_CRS`
with the columns of :data:`DETECTION_DTYPES`, in that order, then ``geometry``
((Multi)Polygons in lon/lat). Areas are in m² measured in a metric CRS, centroids in
degrees, scores are probabilities in [0, 1].
"""

from typing import TYPE_CHECKING

import numpy as np

from ..errors import TGDCError
from .dates import ACQUIRED

#: Column naming the kind of outline written (see :data:`.outlines.OUTLINE_KINDS`).
OUTLINE = "outline"

#: Column grouping the halls of one site: the ``id`` of its first hall.
SITE_ID = "site_id"

if TYPE_CHECKING:
    import geopandas as gpd

#: CRS of every detection table: WGS 84 longitude, latitude (degrees).
DETECTION_CRS = "EPSG:4326"

#: Columns of a detection table, in order, with their pandas dtypes (plus ``geometry``):
#: number from 1 in :func:`order_detections` order, area in m², centroid in degrees, mean
#: and largest probability inside, and the name of the raster file holding the centroid.
DETECTION_DTYPES = {
    "id": "int64",
    "area_m2": "float64",
    "centroid_lon": "float64",
    "centroid_lat": "float64",
    "score": "float64",
    "max_score": "float64",
    "source": "object",
}

#: Columns of a detection table, in order (plus ``geometry``).
DETECTION_COLUMNS = tuple(DETECTION_DTYPES)

#: Columns a detection table may carry after :data:`DETECTION_COLUMNS`, kept in this order
#: when present: the STAC item id(s) of the imagery a detection was found in, its
#: acquisition date(s) (ISO 8601 ``YYYY-MM-DD``, see :mod:`.dates`; several comma-separated
#: for a mosaic of items; tables of older runs lack it), the
#: detection's class name (STAC label assets), and, where outlines are regularised or
#: split (:mod:`.outlines`), the kind of outline written and the site (the ``id`` of the
#: first hall of the campus the detection is part of).
OPTIONAL_COLUMNS = ("source_item", ACQUIRED, "class_name", OUTLINE, SITE_ID)

#: Decimals kept for longitudes and latitudes (about 1 cm).
LONLAT_DECIMALS = 7


def empty_detections() -> "gpd.GeoDataFrame":
    """Return a detection table with no rows.

    Returns:
        An empty GeoDataFrame with the detection columns and dtypes, in
        :data:`DETECTION_CRS`.
    """
    import geopandas as gpd
    import pandas as pd

    columns = {name: pd.Series(dtype=dtype) for name, dtype in DETECTION_DTYPES.items()}
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=DETECTION_CRS))


def order_detections(detections: "gpd.GeoDataFrame") -> "gpd.GeoDataFrame":
    """Sort detections north to south, then west to east, and number them from 1.

    Args:
        detections: detections with centroid and area columns.

    Returns:
        A new table in a fixed order with ``id`` 1..n and the columns in order.
    """
    import pandas as pd

    if detections.empty:
        return empty_detections()
    keys = pd.DataFrame(
        {
            "lat": -detections["centroid_lat"].round(LONLAT_DECIMALS),
            "lon": detections["centroid_lon"].round(LONLAT_DECIMALS),
            "area": -detections["area_m2"],
            "source": detections["source"],
        }
    )
    order = keys.sort_values(["lat", "lon", "area", "source"], kind="stable").index
    result = detections.loc[order].reset_index(drop=True)
    result["id"] = np.arange(1, len(result) + 1, dtype=np.int64)
    if SITE_ID in result:
        result[SITE_ID] = result.groupby(SITE_ID)["id"].transform("min").astype(np.int64)
    optional = [column for column in OPTIONAL_COLUMNS if column in result]
    return result[[*DETECTION_COLUMNS, *optional, "geometry"]]


def concat_detections(tables: "list[gpd.GeoDataFrame]") -> "gpd.GeoDataFrame":
    """Join detection tables one after the other, keeping their sites apart.

    Args:
        tables: detection tables in :data:`DETECTION_CRS`.

    Returns:
        Their rows in order (not renumbered), with the site numbers of each table
        shifted past those of the tables before it.
    """
    import geopandas as gpd
    import pandas as pd

    tables = [table for table in tables if not table.empty]
    if not tables:
        return empty_detections()
    offset = 0
    shifted = []
    for table in tables:
        if SITE_ID in table:
            table = table.assign(**{SITE_ID: table[SITE_ID] + offset})
            offset = int(table[SITE_ID].max()) + 1
        shifted.append(table)
    return gpd.GeoDataFrame(pd.concat(shifted, ignore_index=True), crs=DETECTION_CRS)


def check_detections(detections: "gpd.GeoDataFrame") -> None:
    """Check that a table has the detection columns and CRS.

    Args:
        detections: the table.

    Raises:
        TGDCError: if a column is missing or the CRS is not :data:`DETECTION_CRS`.
    """
    missing = [column for column in (*DETECTION_COLUMNS, "geometry") if column not in detections]
    if missing:
        raise TGDCError(
            f"detections: columns {', '.join(missing)} are missing; give a detections file"
            " written by tgdc detect, batch-detect or scan"
        )
    if not detections.empty and (
        detections.crs is None or not detections.crs.equals(DETECTION_CRS)
    ):
        raise TGDCError(
            f"detections: CRS is {detections.crs}, not {DETECTION_CRS}; reproject them first"
        )
