"""Write a detection table to a file: GeoJSON, CSV, GeoPackage or GeoParquet.

Every writer takes a detection table (see :mod:`.schema`) and a path, and writes the file
directly (not atomically: stage it with :class:`~torchgeo_datacenters.outputs.Outputs`).
The same detections always give byte-identical GeoJSON and CSV files.

* GeoJSON follows RFC 7946: a FeatureCollection in EPSG:4326 (lon, lat), exterior rings
  counter-clockwise, no ``crs`` member; coordinates and properties are rounded to fixed
  decimals.
* CSV has one row per detection: ``id, centroid_lon, centroid_lat, area_m2, score,
  source``.
* GeoPackage (layer ``detections``) and GeoParquet hold the table as it is.
"""

import csv
import json
import os
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .schema import LONLAT_DECIMALS, OPTIONAL_COLUMNS

#: Decimals kept for areas (m²) and for probabilities.
AREA_DECIMALS = 2
SCORE_DECIMALS = 4

#: Columns of the CSV output, in order.
CSV_COLUMNS = ("id", "centroid_lon", "centroid_lat", "area_m2", "score", "source")

#: Layer of the GeoPackage output.
GPKG_LAYER = "detections"


def _rounded(geometry: BaseGeometry) -> str:
    """GeoJSON geometry with RFC 7946 ring orientation and rounded coordinates.

    Args:
        geometry: a (Multi)Polygon in EPSG:4326.

    Returns:
        The GeoJSON geometry object, encoded (by GEOS, in C).
    """
    geometry = shapely.transform(geometry, lambda c: np.round(c, LONLAT_DECIMALS))
    return shapely.to_geojson(shapely.orient_polygons(geometry))


def _properties(row: Any) -> dict[str, Any]:
    """The rounded properties of one detection.

    Args:
        row: a row of a detection table.

    Returns:
        Property name to value.
    """
    return {
        "id": int(row.id),
        "area_m2": round(float(row.area_m2), AREA_DECIMALS),
        "centroid_lon": round(float(row.centroid_lon), LONLAT_DECIMALS),
        "centroid_lat": round(float(row.centroid_lat), LONLAT_DECIMALS),
        "score": round(float(row.score), SCORE_DECIMALS),
        "max_score": round(float(row.max_score), SCORE_DECIMALS),
        "source": str(row.source),
        **{name: _optional(getattr(row, name)) for name in OPTIONAL_COLUMNS if hasattr(row, name)},
    }


def _optional(value: Any) -> str | int | None:
    """An optional column's value: text or a whole number, None where it is missing.

    Args:
        value: the table's value (None, NaN or empty where missing).

    Returns:
        The text, or None.
    """
    if isinstance(value, int | np.integer):
        return int(value)
    return None if value is None or value != value or value == "" else str(value)


def write_geojson(detections: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> None:
    """Write detections as an RFC 7946 GeoJSON FeatureCollection.

    Args:
        detections: detections in EPSG:4326 (see :func:`.schema.order_detections`).
        path: the file to write.
    """
    with open(path, "w", encoding="utf-8") as file:
        file.write('{"type":"FeatureCollection","features":[')
        # One feature at a time, so memory stays flat; geometries are encoded by GEOS
        # (10x faster than json.dumps of shapely's mapping on a 1.6 MB collection).
        for number, row in enumerate(detections.itertuples()):
            properties = json.dumps(_properties(row), separators=(",", ":"))
            file.write(
                f'{"," if number else ""}{{"type":"Feature","id":{int(row.id)},'
                f'"geometry":{_rounded(row.geometry)},"properties":{properties}}}'
            )
        file.write("]}\n")


def write_csv(detections: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> None:
    """Write one CSV row per detection.

    Args:
        detections: detections (see :func:`.schema.order_detections`).
        path: the file to write.
    """
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        optional = [name for name in OPTIONAL_COLUMNS if name in detections]
        writer.writerow([*CSV_COLUMNS, *optional])
        for row in detections.itertuples():
            properties = _properties(row)
            writer.writerow(
                [
                    properties["id"],
                    f"{properties['centroid_lon']:.{LONLAT_DECIMALS}f}",
                    f"{properties['centroid_lat']:.{LONLAT_DECIMALS}f}",
                    f"{properties['area_m2']:.{AREA_DECIMALS}f}",
                    f"{properties['score']:.{SCORE_DECIMALS}f}",
                    properties["source"],
                    *(properties[name] or "" for name in optional),
                ]
            )


def write_gpkg(detections: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> None:
    """Write detections as a GeoPackage layer :data:`GPKG_LAYER`, unstyled.

    The ``gpkg`` output of the commands adds its QGIS style
    (:func:`torchgeo_datacenters.outputs.styles.write_styled_gpkg`).

    Args:
        detections: detections in EPSG:4326.
        path: the file to write.
    """
    detections.to_file(path, driver="GPKG", layer=GPKG_LAYER)


def write_parquet(detections: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> None:
    """Write detections as GeoParquet.

    Args:
        detections: detections in EPSG:4326.
        path: the file to write.
    """
    detections.to_parquet(path)
