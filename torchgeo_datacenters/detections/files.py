"""Read and write the vector files of change and inventory analyses (GeoJSON, GPKG, Parquet).

:func:`read_vector` reads any vector file into EPSG:4326 through the project's one vector
reader (:mod:`torchgeo_datacenters.vectors`: ``FILE:LAYER``, repaired geometries);
:func:`write_vector` writes a table atomically in the format its extension names.

:func:`write_vector` writes tables of any columns (change sites, a scan's footprint); the
detection table itself goes through the output-format registry
(:data:`~torchgeo_datacenters.outputs.FORMATS`), whose writers (:mod:`.writers`) round and
order its fixed columns and are staged with the run's other files.
"""

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import TGDCError
from ..utils import atomic_output, check_output_path
from ..vectors import VectorSource, read_vector_file

#: Vector formats written, by file extension (None: GeoParquet, written by geopandas).
WRITE_DRIVERS: dict[str, str | None] = {
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GPKG",
    ".parquet": None,
}


def read_vector(
    path: str | os.PathLike[str] | VectorSource, what: str, *, polygons: bool = False
) -> gpd.GeoDataFrame:
    """Read a vector file into EPSG:4326.

    Args:
        path: ``FILE`` or ``FILE:LAYER``: GeoJSON, GeoPackage, Shapefile, FileGDB,
            GeoParquet, ... (see :func:`~torchgeo_datacenters.vectors.read_vector_file`).
        what: what the file holds, for messages (e.g. ``detections``).
        polygons: whether the file must hold polygons (footprints): a table without
            geometry is then not told to make its coordinates points, and a feature
            without a geometry is refused, not dropped.

    Returns:
        Its features in EPSG:4326, invalid geometries repaired, rows without a geometry
        (or whose repair left none) dropped.

    Raises:
        TGDCError: if the file is missing, unreadable, has several layers and none is
            named, or has no CRS; with *polygons*, if a feature has no geometry.
    """
    frame = read_vector_file(path, what, polygons=polygons)
    present = (~frame.geometry.isna() & ~frame.geometry.is_empty).to_numpy()
    if polygons and not present.all():
        raise refuse_features(
            path,
            pd.Index(np.flatnonzero(~present)),
            "have a missing or empty geometry",
            "draw their outlines or delete them",
        )
    return frame[present].to_crs("EPSG:4326").reset_index(drop=True)


def refuse_features(path: object, rows: pd.Index, what: str, fix: str) -> TGDCError:
    """The error for features of a file that break a rule.

    Args:
        path: the file (or ``FILE:LAYER``).
        rows: the offending features' row numbers, from 0.
        what: what is wrong with them.
        fix: how to fix it.

    Returns:
        The error, naming up to five features by number (from 1).
    """
    shown = ", ".join(str(int(row) + 1) for row in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return TGDCError(f"{path}: feature(s) {shown}{more} {what}; {fix}")


def read_detections(path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """Read a file of detections (``tgdc detect``, ``batch-detect`` or ``scan``).

    Args:
        path: the file (GeoJSON, GeoPackage, GeoParquet, ...).

    Returns:
        The detection table in EPSG:4326 (see :mod:`.schema`); a file of no features (a
        run that found nothing: GeoJSON keeps no columns then) is an empty table.

    Raises:
        TGDCError: if the file is missing, unreadable, or lacks a detection column,
            naming the file.
    """
    from .schema import check_detections, empty_detections

    detections = read_vector(path, "detections")
    if detections.empty:
        return empty_detections()
    try:
        check_detections(detections)
    except TGDCError as error:
        raise TGDCError(f"{path}: {error}") from None
    return detections


def check_vector_output(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check, before any work, that a vector output can be written.

    Args:
        path: the file, its extension one of :data:`WRITE_DRIVERS`.
        overwrite: whether an existing file may be replaced.

    Returns:
        The path.

    Raises:
        TGDCError: if the extension is not a known format, the directory is missing, or the
            file exists and *overwrite* is false.
    """
    return check_output_path(
        path,
        overwrite=overwrite,
        suffixes=WRITE_DRIVERS,
        wrong_suffix="unknown vector format; end the name with one of"
        f" {', '.join(sorted(WRITE_DRIVERS))}",
    )


def write_vector(
    table: gpd.GeoDataFrame, path: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write a table atomically, in the format its extension names.

    GeoJSON is written as RFC 7946 (EPSG:4326, counter-clockwise exteriors).

    Args:
        table: the table, in EPSG:4326.
        path: the file (see :data:`WRITE_DRIVERS`).
        overwrite: whether an existing file may be replaced.

    Returns:
        The path written.

    Raises:
        TGDCError: see :func:`check_vector_output`.
    """
    path = check_vector_output(path, overwrite=overwrite)
    with atomic_output(path, overwrite=overwrite) as tmp:
        save_vector(table, tmp, path)
    return path


def save_vector(table: gpd.GeoDataFrame, staged: Path, path: Path) -> None:
    """Write a table to a staged file in the format of its final path.

    The layer (a GeoPackage's table, a GeoJSON's ``name``) is named after the final file,
    not the staged one.

    Args:
        table: the table, in EPSG:4326.
        staged: where to write it now (a temporary file beside *path*).
        path: the file it becomes, its extension one of :data:`WRITE_DRIVERS`.
    """
    driver = WRITE_DRIVERS[path.suffix.lower()]
    if driver is None:
        table.to_parquet(staged)
    elif driver == "GeoJSON":
        table.to_file(staged, driver=driver, layer=path.stem, RFC7946="YES", WRITE_BBOX="NO")
    else:
        table.to_file(staged, driver=driver, layer=path.stem)
