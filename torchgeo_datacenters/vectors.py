"""The one reader of vector files: every polygon or point file a user gives goes through it.

Labels (``tgdc chips``, training's ``label_path``, ``val_area``, ``test_area``), sites
(``tgdc download --sites``), areas of interest (``tgdc scan --aoi``), detection vintages
(``tgdc change``), detections, inventories and footprints (``tgdc compare``) are all read by
:func:`read_vector_file`, so every command accepts and refuses the same files the same way:

* **Formats**: any vector format GDAL reads (GeoJSON, GeoPackage, Shapefile, FileGDB
  directories through GDAL's OpenFileGDB driver, KML, ...) and GeoParquet.
* **Layers**: ``FILE:LAYER`` names one layer of a file with several (a GeoPackage, a
  FileGDB). A file with several layers and none named is refused in one line listing them:
  reading the first one alone would drop the others without a word. Tables without
  geometry (the ``layer_styles`` table QGIS and ``tgdc`` write into a GeoPackage) are not
  counted as layers.
* **Invalid geometries** (self-intersecting or badly nested rings, overlapping parts of a
  multipolygon, as OpenStreetMap extracts and hand digitising produce): repaired with
  :func:`shapely.make_valid` by structure (``method="structure"``), keeping the polygonal parts of
  a polygon (a bow-tie becomes its two triangles; overlapping parts become their union,
  not a hole where they overlap; a ring collapsed to a line becomes empty), and counted
  in one warning per file.
* **Geometry collections** (a KML ``MultiGeometry``: Google Earth's placemark of an
  outline and a pin): read as their polygons where they hold any, else as their points,
  and counted in one warning per file, so every command sees polygons or points.
* **CRS**: a file without one is refused, with the ``ogr2ogr`` line that assigns one.

The reader imports neither torch nor torchgeo, so the commands that only read vectors
start fast.
"""

import os
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from .errors import TGDCError, describe_error

#: Geometry types whose repair keeps only polygonal parts.
POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class VectorSource:
    """A vector file and, for a file of several layers, the layer to read.

    Attributes:
        path: the file (a FileGDB is a directory).
        layer: the layer's name (None: the file's only layer).
    """

    path: Path
    layer: str | None = None

    def __str__(self) -> str:
        """The source as a user writes it: ``FILE`` or ``FILE:LAYER``."""
        return f"{self.path}:{self.layer}" if self.layer is not None else str(self.path)


def vector_source(text: str | os.PathLike[str] | VectorSource) -> VectorSource:
    """Parse ``FILE`` or ``FILE:LAYER`` as given on a command line or in a config.

    A path that exists is a file even when its name holds a colon; otherwise the layer is
    the text after the last colon whose text before it exists, so a layer's name may hold
    colons too (``osm:landuse``, as ``ogr2ogr`` names layers from OpenStreetMap tags).

    Args:
        text: the file, optionally followed by ``:`` and a layer name.

    Returns:
        The source.
    """
    if isinstance(text, VectorSource):
        return text
    path = Path(text)
    if path.exists():
        return VectorSource(path)
    head = os.fspath(text)
    while ":" in head:
        head, _, _ = head.rpartition(":")
        layer = os.fspath(text)[len(head) + 1 :]
        if head and layer and Path(head).exists():
            return VectorSource(Path(head), layer)
    return VectorSource(path)


def vector_layers(path: str | os.PathLike[str]) -> list[str]:
    """The layers of a vector file that hold geometries.

    Args:
        path: the file.

    Returns:
        Their names, in the file's order (GeoParquet: none).

    Raises:
        TGDCError: if the file cannot be opened as a vector file (a raster file is named
            so).
    """
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return []
    try:
        layers = pyogrio.list_layers(path)
    except Exception as error:
        if _is_raster(path):
            raise TGDCError(
                f"{path}: holds raster data only (e.g. GeoPackage tiles), no vector layer;"
                " give the vector file of the polygons or points"
            ) from error
        if path.is_dir():
            raise TGDCError(
                f"{path}: is a directory GDAL does not read as vector data (a shapefile"
                " folder or a .gdb); give a vector file in it"
            ) from error
        raise TGDCError(f"{path}: not a readable vector file ({_gdal_reason(error)})") from error
    return [str(name) for name, kind in layers if kind is not None]


def _is_raster(path: Path) -> bool:
    """Whether GDAL opens a file that is no vector file as a raster."""
    import rasterio

    try:
        with rasterio.open(path):
            return True
    except rasterio.errors.RasterioIOError:
        return False


def read_vector_file(
    source: str | os.PathLike[str] | VectorSource, what: str, *, polygons: bool = False
) -> gpd.GeoDataFrame:
    """Read one layer of a vector file, its invalid geometries repaired.

    Args:
        source: ``FILE`` or ``FILE:LAYER`` (see :func:`vector_source`).
        what: what the file holds, for messages (e.g. ``label``, ``inventory``).
        polygons: whether the file must hold polygons (footprints): a table without
            geometry is then told to give polygons, not to make its coordinates points.

    Returns:
        The features in the file's CRS, in its order; missing geometries stay missing.

    Raises:
        TGDCError: if the file is missing or unreadable, has several layers and none is
            named, has no layer of the name given, has no geometry (a CSV of lon/lat
            columns: with the ``ogr2ogr`` line that makes them points), or has no CRS.
    """
    source = vector_source(source)
    path = source.path
    if not path.exists():
        raise TGDCError(f"{path}: {what} file does not exist; check the path")
    layer = _layer(source)
    try:
        if path.suffix.lower() == ".parquet":
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, layer=layer)
    except Exception as error:
        raise TGDCError(
            f"{source}: not a readable vector file of {what} ({_gdal_reason(error)}); give a"
            " GeoJSON, GeoPackage, Shapefile or GeoParquet file"
        ) from error
    if not isinstance(frame, gpd.GeoDataFrame):
        raise TGDCError(f"{source}: {_no_geometry(path, list(frame.columns), polygons)}")
    _check_crs(frame, source)
    return split_collections(repair_geometries(frame, str(source)), str(source))


def _check_crs(frame: gpd.GeoDataFrame, source: VectorSource) -> None:
    """Refuse a file with no CRS, or coordinates beyond longitude and latitude as degrees.

    A GeoJSON file is EPSG:4326 unless it says otherwise (RFC 7946), so one written in
    metres (Web Mercator, UTM) without its ``crs`` member is read as degrees far out of
    range; a file with no CRS may hold either.

    Raises:
        TGDCError: with the ``ogr2ogr`` line that assigns a CRS: EPSG:4326, or, naming the
            coordinates' range, EPSG:3857 where they cannot be degrees.
    """
    if frame.crs is not None and not frame.crs.is_geographic:
        return
    beyond = _beyond_lonlat(frame)
    if beyond is not None:
        said = (
            f"has no CRS, and its coordinates {beyond} are not longitude and latitude"
            if frame.crs is None
            else f"coordinates {beyond} lie beyond longitude and latitude, though its CRS is"
            f" {frame.crs.to_string()}"
        )
        raise TGDCError(
            f"{source}: {said}; assign the CRS they are in (EPSG:3857 for Web Mercator"
            f" metres), e.g. {_assign_crs(source, 'EPSG:3857')}"
        )
    if frame.crs is None:
        raise TGDCError(
            f"{source}: has no CRS; assign one, e.g. {_assign_crs(source, 'EPSG:4326')}"
        )


def _beyond_lonlat(frame: gpd.GeoDataFrame) -> str | None:
    """The range of a table's coordinates where it lies beyond longitude and latitude.

    Args:
        frame: any table of geometries.

    Returns:
        ``from (x, y) to (x, y)``, or None where every coordinate could be degrees (or
        there is no geometry).
    """
    present = frame.geometry[~frame.geometry.isna() & ~frame.geometry.is_empty]
    if present.empty:
        return None
    west, south, east, north = present.total_bounds
    if max(abs(west), abs(east)) <= 180 + 1e-6 and max(abs(south), abs(north)) <= 90 + 1e-6:
        return None
    return f"from ({west:.6g}, {south:.6g}) to ({east:.6g}, {north:.6g})"


def _fixed_copy(path: Path, crs: str) -> Path:
    """Where the advice writes a copy of *path* with *crs*: never the file itself.

    In the current folder (the file's own may be read-only), named after the file with
    the CRS added, so never the file's name.

    Args:
        path: the file.
        crs: an authority code such as ``EPSG:4326``.

    Returns:
        ``<stem>-<crs>.gpkg``, relative, e.g. ``sites-epsg4326.gpkg``.
    """
    return Path(f"{path.stem}-{crs.replace(':', '').lower()}.gpkg")


def _assign_crs(source: VectorSource, crs: str) -> str:
    """The ``ogr2ogr`` line that copies a vector file with a CRS assigned, and what to give.

    Args:
        source: the file (and layer).
        crs: the CRS to assign, e.g. ``EPSG:4326``.

    Returns:
        ``ogr2ogr -a_srs CRS COPY FILE [LAYER], and give COPY``.
    """
    copy = shlex.quote(str(_fixed_copy(source.path, crs)))
    layer = "" if source.layer is None else " " + shlex.quote(source.layer)
    return f"ogr2ogr -a_srs {crs} {copy} {shlex.quote(str(source.path))}{layer}, and give {copy}"


#: Column names of longitudes and latitudes in a table of points (any case).
LON_NAMES = ("lon", "longitude", "long", "lng", "x", "centroid_lon")
LAT_NAMES = ("lat", "latitude", "y", "centroid_lat")


def _no_geometry(path: Path, fields: list[str], polygons: bool = False) -> str:
    """What is wrong with a table without geometry, and the ``ogr2ogr`` line that fixes it.

    A CSV with longitude and latitude columns (a spreadsheet of sites) is made a point
    file by GDAL's CSV open options, where points will do.

    Args:
        path: the file.
        fields: its columns.
        polygons: whether only polygons will do (a label file's footprints).

    Returns:
        The message, without the file's name.
    """
    by_name = {field.lower(): field for field in fields}
    lon = next((by_name[name] for name in LON_NAMES if name in by_name), None)
    lat = next((by_name[name] for name in LAT_NAMES if name in by_name), None)
    listed = ", ".join(fields) if fields else "none"
    if polygons:
        return (
            f"has no geometry, only fields ({listed}); give a file of polygons (footprints:"
            " GeoJSON, GeoPackage, Shapefile, GeoParquet, or a CSV with a WKT column of"
            " polygons)"
        )
    if path.suffix.lower() == ".csv" and lon is not None and lat is not None:
        copy = shlex.quote(str(_fixed_copy(path, "EPSG:4326")))
        return (
            f"has no geometry, only fields ({listed}); make its {lon}/{lat} columns points in"
            " the CRS of the coordinates, e.g. ogr2ogr -a_srs EPSG:4326"
            f" -oo X_POSSIBLE_NAMES={shlex.quote(lon)} -oo Y_POSSIBLE_NAMES={shlex.quote(lat)}"
            f" {copy} {shlex.quote(str(path))}, and give {copy}"
        )
    return (
        f"has no geometry, only fields ({listed}); give a file of polygons or points (a CSV"
        " with a WKT column, or lon and lat columns)"
    )


def _layer(source: VectorSource) -> str | None:
    """The layer to read: the one named, else the file's only one; checked against the file."""
    layers = vector_layers(source.path)
    if source.layer is not None:
        if source.layer not in layers:
            listed = ", ".join(layers) if layers else "none"
            raise TGDCError(f"{source.path}: has no layer {source.layer!r}; its layers: {listed}")
        return source.layer
    if len(layers) > 1:
        raise TGDCError(
            f"{source.path}: has {len(layers)} layers ({', '.join(layers)}); name the one to"
            f" read as FILE:LAYER, e.g. {shlex.quote(f'{source.path}:{layers[0]}')}"
        )
    return layers[0] if layers else None


def repair_geometries(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Repair invalid geometries with make_valid, keeping the polygonal parts of polygons.

    Args:
        frame: the features.
        name: the file, for the warning.

    Returns:
        The features, every geometry valid (a polygon whose repair has no area is empty);
        one warning counts and names those repaired.
    """
    geometry = frame.geometry
    invalid = (~geometry.isna() & ~geometry.is_valid).to_numpy()
    if not invalid.any():
        return frame
    frame = frame.copy()
    polygonal = geometry.geom_type.isin(POLYGONAL).to_numpy()
    repaired = gpd.GeoSeries(
        # By structure: overlapping parts of a multipolygon are unioned (GEOS's default
        # "linework" method keeps an area covered twice as a hole), and rings collapsed to
        # lines are dropped.
        shapely.make_valid(geometry[invalid].to_numpy(), method="structure", keep_collapsed=False),
        index=geometry[invalid].index,
        crs=geometry.crs,
    )
    kept = [
        polygonal_part(shape) if was_polygonal else shape
        for shape, was_polygonal in zip(repaired, polygonal[invalid], strict=True)
    ]
    frame.loc[invalid, frame.geometry.name] = gpd.GeoSeries(kept, index=repaired.index)
    named = feature_names(frame)[invalid]
    listed = ", ".join(named[:5]) + (", ..." if len(named) > 5 else "")
    warnings.warn(
        f"{name}: repaired {len(named)} invalid geometr{'y' if len(named) == 1 else 'ies'}"
        f" ({listed}) with make_valid, keeping polygonal parts",
        stacklevel=3,
    )
    return frame


def split_collections(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    """Read each geometry collection as its polygons, else its points.

    Args:
        frame: the features.
        name: the file, for the warning.

    Returns:
        The features, no GeometryCollection left but one of neither polygons nor points;
        one warning counts and names those read so.
    """
    collections = (frame.geometry.geom_type == "GeometryCollection").to_numpy()
    if not collections.any():
        return frame
    frame = frame.copy()
    column = frame.geometry.name
    for index in np.flatnonzero(collections):
        parts = shapely.get_parts(frame.geometry.iloc[index])
        polygons = [
            part for part in parts if isinstance(part, shapely.Polygon | shapely.MultiPolygon)
        ]
        points = [part for part in parts if isinstance(part, shapely.Point | shapely.MultiPoint)]
        if polygons:
            frame.iloc[index, frame.columns.get_loc(column)] = polygonal_part(
                shapely.GeometryCollection(polygons)
            )
        elif points:
            frame.iloc[index, frame.columns.get_loc(column)] = shapely.MultiPoint(
                [point for part in points for point in shapely.get_parts(part)]
            )
    named = feature_names(frame)[collections]
    listed = ", ".join(named[:5]) + (", ..." if len(named) > 5 else "")
    warnings.warn(
        f"{name}: read {len(named)} geometry collection(s) ({listed}) as their polygons"
        " (their points where they hold none)",
        stacklevel=3,
    )
    return frame


def polygonal_part(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of a geometry (a make_valid result may add lines and points).

    Args:
        geometry: any geometry.

    Returns:
        It, if polygonal; else a MultiPolygon of its polygons (empty if it has none).
    """
    if isinstance(geometry, shapely.Polygon | shapely.MultiPolygon):
        return geometry
    parts = [
        part
        for member in shapely.get_parts(geometry)
        for part in shapely.get_parts(member)
        if isinstance(part, shapely.Polygon)
    ]
    return shapely.MultiPolygon(parts)


def feature_names(frame: gpd.GeoDataFrame) -> np.ndarray:
    """Describe each feature for messages: its fid and name where present.

    Args:
        frame: the features.

    Returns:
        ``fid=ID`` or ``fid=ID (NAME)`` per feature (the row number where the fid is missing
        or blank; the name from a ``name`` field of any case: KML's ``Name``, a Shapefile's
        ``NAME``).
    """
    fids = pd.Series(frame.index.astype(str), index=frame.index, dtype=object)
    if "fid" in frame:
        given = frame["fid"].astype(object)
        blank = given.isna() | (given.astype(str).str.strip() == "")
        fids = given.astype(str).where(~blank, fids)
    field = next((str(c) for c in frame.columns if str(c).lower() == "name"), None)
    names = frame[field].fillna("").astype(str) if field is not None else ""
    described = "fid=" + fids.to_numpy().astype(object)
    if isinstance(names, pd.Series):
        described = np.where(names != "", described + " (" + names.to_numpy() + ")", described)
    return np.asarray(described, dtype=object)


def _gdal_reason(error: BaseException) -> str:
    """GDAL's reason a file cannot be read, without its hint to prefix a driver name.

    GDAL adds "It might help to specify the correct driver explicitly by prefixing the file
    path with '<DRIVER>:'", which the command line does not take (a colon names a layer).
    """
    return describe_error(error).split("; It might help", 1)[0]


def as_bool(values: pd.Series, path: Path, field: str) -> np.ndarray:
    """Parse a boolean field stored as bool, 0/1 (integer or real), 'true'/'false' or 'yes'/'no'.

    Args:
        values: (n,) the field.
        path: the file, for the message.
        field: the field's name, for the message.

    Returns:
        (n,) bool.

    Raises:
        TGDCError: if a value is none of those (a missing one included).
    """
    if values.dtype == bool:
        return values.to_numpy()
    if pd.api.types.is_numeric_dtype(values):  # 0/1 as integers or reals (1.0)
        parsed = values.map({0: False, 1: True})
    else:
        text = values.astype("string").str.strip().str.lower()
        mapping = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
        parsed = text.map(mapping)
    if parsed.isna().any():
        bad = sorted(set(values[parsed.isna()].astype(str)))
        raise TGDCError(f"{path}: field {field!r} has non-boolean value(s) {bad}; use true/false")
    return parsed.to_numpy(dtype=bool)
