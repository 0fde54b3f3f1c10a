"""Detections of data centers as a table: schema, tracing, merging and vector files.

Everything here works on numpy arrays and GeoDataFrames and never imports torch or
torchgeo, so tools that only read, merge, compare or write detections load fast and run
where no model can.

* :mod:`.schema`: the detection table: :data:`DETECTION_COLUMNS` with their dtypes, in
  :data:`DETECTION_CRS`; :func:`empty_detections`, :func:`order_detections` (the one
  order and numbering of every output) and :func:`check_detections`.
* :mod:`.metric`: :func:`metric_crs`, the CRS in which areas (m²) and distances (metres)
  are measured.
* :mod:`.vectorize`: :func:`threshold_band` and :class:`Vectorizer`, which trace
  stitched probabilities band by band into measured polygons.
* :mod:`.merge`: :func:`merge_detections` joins the detections of neighbouring scenes;
  :func:`prune_small` drops those of one scene that no merge can grow.
* :mod:`.writers`: one function per vector file type, ``write_<type>(detections,
  path)``; the output-format registry (:mod:`torchgeo_datacenters.outputs`) names them.
* :mod:`.dates`: the acquisition date of imagery (column ``acquired``).
* :mod:`.change`: :func:`~.change.track_changes`, sites followed through NAIP vintages
  (``tgdc change``).
* :mod:`.compare`: :func:`~.compare.compare_inventories`, detections against public
  inventories over the scanned area (:mod:`.footprint`) (``tgdc compare``).
* :mod:`.files`: reading and writing the vector files of those analyses.

Names are exported lazily (:mod:`torchgeo_datacenters.utils.lazy`): importing one module
of this package costs only what that module imports, so a prediction run loads pandas and
GeoPandas only when its first detections are tabled, not before its first tile.
"""

from typing import TYPE_CHECKING

from ..utils.lazy import lazy_exports

if TYPE_CHECKING:
    from .merge import merge_detections, prune_small
    from .metric import check_non_negative, metric_crs
    from .schema import (
        DETECTION_COLUMNS,
        DETECTION_CRS,
        DETECTION_DTYPES,
        LONLAT_DECIMALS,
        check_detections,
        empty_detections,
        order_detections,
    )
    from .vectorize import MASK_NODATA, Vectorizer, threshold_band
    from .writers import CSV_COLUMNS, write_csv, write_geojson, write_gpkg, write_parquet

__all__ = [
    "CSV_COLUMNS",
    "DETECTION_COLUMNS",
    "DETECTION_CRS",
    "DETECTION_DTYPES",
    "LONLAT_DECIMALS",
    "MASK_NODATA",
    "Vectorizer",
    "check_detections",
    "check_non_negative",
    "empty_detections",
    "merge_detections",
    "metric_crs",
    "order_detections",
    "prune_small",
    "threshold_band",
    "write_csv",
    "write_geojson",
    "write_gpkg",
    "write_parquet",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "merge": ["merge_detections", "prune_small"],
        "metric": ["check_non_negative", "metric_crs"],
        "schema": [
            "DETECTION_COLUMNS",
            "DETECTION_CRS",
            "DETECTION_DTYPES",
            "LONLAT_DECIMALS",
            "check_detections",
            "empty_detections",
            "order_detections",
        ],
        "vectorize": ["MASK_NODATA", "Vectorizer", "threshold_band"],
        "writers": ["CSV_COLUMNS", "write_csv", "write_geojson", "write_gpkg", "write_parquet"],
    },
)
