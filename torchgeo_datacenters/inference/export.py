"""Write detections and stitched rasters: GeoJSON, CSV, GeoPackage, GeoParquet and COGs.

All outputs of one run form a set (:class:`Outputs`): every path is checked before any
work starts, everything is written to temporary files beside the final ones, and the
files are renamed into place only when the whole run succeeds, so a failure leaves no
partial output behind.

* GeoJSON follows RFC 7946: a FeatureCollection in EPSG:4326 (lon, lat), exterior rings
  counter-clockwise, no ``crs`` member; coordinates and properties are rounded to fixed
  decimals, so the same detections always give byte-identical files.
* CSV has one row per detection: ``id, centroid_lon, centroid_lat, area_m2, score,
  source``, then ``source_item, acquired`` (and ``class_name``) where the table has them.
* Rasters are Cloud-Optimised GeoTIFFs on the scene's grid and CRS, written band by band
  as prediction proceeds (to a temporary uncompressed tiled GeoTIFF, then copied to COG
  with overviews): the mask is uint8 (1 data center, 0 background, 255 nodata), the
  probabilities float32 in [0, 1] with NaN as nodata.
"""

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import TracebackType
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import rasterio.shutil
import shapely
from rasterio.windows import Window

from ..errors import TGDCError
from ..outputs.styles import MASK_COLOURS, write_qgis_style
from ..utils import atomic_output, check_output_path
from .tiles import SceneGrid
from .vectorize import LONLAT_DECIMALS, MASK_NODATA, OPTIONAL_COLUMNS

#: Decimals kept for areas (m²) and for probabilities.
AREA_DECIMALS = 2
SCORE_DECIMALS = 4

#: Columns of the CSV output, in order.
CSV_COLUMNS = ("id", "centroid_lon", "centroid_lat", "area_m2", "score", "source")

#: GDAL block cache while writing rasters, in MB (keeps memory bounded on big scenes).
GDAL_CACHE_MB = 64

#: Tile side of the COGs written, in pixels (GDAL's default for COGs).
COG_BLOCK = 512


@dataclass(frozen=True)
class Outputs:
    """The files one prediction run writes (None: not written)."""

    geojson: Path | None = None
    csv: Path | None = None
    gpkg: Path | None = None
    parquet: Path | None = None
    mask: Path | None = None
    probabilities: Path | None = None

    def __post_init__(self) -> None:
        """Turn the paths into :class:`~pathlib.Path` objects."""
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                object.__setattr__(self, field.name, Path(value))

    def requested(self) -> dict[str, Path]:
        """Return the outputs to write.

        Returns:
            Output kind (``geojson``, ``csv``, ...) to path, for the given paths only.
        """
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def check(self, *, overwrite: bool = False) -> None:
        """Check, before any work, that every output can be written.

        Args:
            overwrite: whether existing files may be replaced.

        Raises:
            TGDCError: if two outputs share a path, a directory is missing, or a file
                exists and *overwrite* is false.
        """
        paths = self.requested()
        resolved = [path.resolve() for path in paths.values()]
        if len(set(resolved)) != len(resolved):
            raise TGDCError(f"outputs {sorted(map(str, paths.values()))}: two share one path")
        for path in paths.values():
            check_output_path(path, overwrite=overwrite)

    @contextlib.contextmanager
    def staged(self, *, overwrite: bool = False) -> Iterator[dict[str, Path]]:
        """Stage every output in a temporary file, renamed into place on success.

        Args:
            overwrite: whether existing files may be replaced.

        Yields:
            Output kind to temporary path.

        Raises:
            TGDCError: see :meth:`check`.
        """
        self.check(overwrite=overwrite)
        with contextlib.ExitStack() as stack:
            yield {
                kind: stack.enter_context(atomic_output(path, overwrite=overwrite))
                for kind, path in self.requested().items()
            }


def _rounded(geometry: shapely.Geometry) -> str:
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


def _optional(value: Any) -> str | None:
    """An optional text column's value, None where it is missing.

    Args:
        value: the table's value (None or NaN where missing).

    Returns:
        The text, or None.
    """
    return None if value is None or value != value else str(value)


def write_geojson(detections: gpd.GeoDataFrame, path: str | os.PathLike[str]) -> None:
    """Write detections as an RFC 7946 GeoJSON FeatureCollection.

    Args:
        detections: detections in EPSG:4326 (see :func:`.vectorize.order_detections`).
        path: the file to write (not atomically: stage it with :class:`Outputs`).
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
        detections: detections (see :func:`.vectorize.order_detections`).
        path: the file to write (not atomically: stage it with :class:`Outputs`).
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


def write_vectors(detections: gpd.GeoDataFrame, paths: Mapping[str, Path]) -> None:
    """Write detections to every vector output requested.

    Args:
        detections: detections in EPSG:4326.
        paths: output kind (``geojson``, ``csv``, ``gpkg``, ``parquet``) to (staged)
            path; other kinds are ignored.
    """
    if "geojson" in paths:
        write_geojson(detections, paths["geojson"])
    if "csv" in paths:
        write_csv(detections, paths["csv"])
    if "gpkg" in paths:
        detections.to_file(paths["gpkg"], driver="GPKG", layer="detections")
        write_qgis_style(paths["gpkg"], layer="detections")
    if "parquet" in paths:
        detections.to_parquet(paths["parquet"])


class RasterWriter:
    """Write a single-band raster on a scene's grid band by band, ending as a COG."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        grid: SceneGrid,
        *,
        dtype: str,
        nodata: float,
        resampling: str,
        colormap: Mapping[int, tuple[int, int, int, int]] | None = None,
    ) -> None:
        """Initialize a new RasterWriter (use it as a context manager).

        Args:
            path: the COG to write (not atomically: stage it with :class:`Outputs`).
            grid: the scene's grid: size, transform and CRS of the output.
            dtype: pixel type, e.g. ``uint8``.
            nodata: nodata value.
            resampling: resampling of the overviews, e.g. ``nearest``.
            colormap: colour table (value: RGBA) of a uint8 raster, or None.
        """
        self.path = Path(path)
        self.grid = grid
        self.dtype = dtype
        self.nodata = nodata
        self.resampling = resampling
        self.colormap = colormap
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._dst: Any = None
        self._env = rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)

    def __enter__(self) -> "RasterWriter":
        """Open the temporary tiled GeoTIFF."""
        self._env.__enter__()
        self._tmp = tempfile.TemporaryDirectory(prefix=".tgdc-", dir=self.path.parent)
        # Uncompressed 512 px tiles, as the COG's: bands are written in place, and the
        # copy to COG reads whole tiles (a 16,384² mask: 2.7 s in all, against 4.8 s
        # through zstd-compressed 16-row stripes).
        self._dst = rasterio.open(
            Path(self._tmp.name) / "tiles.tif",
            "w",
            driver="GTiff",
            width=self.grid.width,
            height=self.grid.height,
            count=1,
            dtype=self.dtype,
            crs=self.grid.crs.to_wkt(),
            transform=self.grid.transform,
            nodata=self.nodata,
            tiled=True,
            blockxsize=COG_BLOCK,
            blockysize=COG_BLOCK,
            BIGTIFF="IF_SAFER",
        )
        if self.colormap is not None:
            self._dst.write_colormap(1, self.colormap)
        return self

    def write(self, row_off: int, band: np.ndarray) -> None:
        """Write a band of rows.

        Args:
            row_off: scene row of the band's first row.
            band: (rows, scene width) values.
        """
        window = Window(0, row_off, self.grid.width, band.shape[0])
        self._dst.write(band.astype(self.dtype, copy=False), 1, window=window)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close, and on success copy the temporary GeoTIFF to the COG."""
        assert self._tmp is not None
        try:
            tiles = self._dst.name
            self._dst.close()
            if exc_type is None:
                rasterio.shutil.copy(
                    tiles,
                    self.path,
                    driver="COG",
                    # Level 1 writes the mask COG 1.7x as fast as the default level 6,
                    # for 1.6x the size (a 67-megapixel mask: 0.85 s, 694 kB); blocks are
                    # compressed on every core (a 16,384² mask: 1.9 s, 2.4 s on one).
                    compress="deflate",
                    level=1,
                    num_threads="ALL_CPUS",
                    predictor="yes",
                    overview_resampling=self.resampling,
                    blocksize=COG_BLOCK,
                    BIGTIFF="IF_SAFER",
                )
        finally:
            self._tmp.cleanup()
            self._env.__exit__(exc_type, exc, traceback)


def mask_writer(path: str | os.PathLike[str], grid: SceneGrid) -> RasterWriter:
    """Writer of the uint8 detection mask (1 data center, 0 background, 255 nodata).

    The mask carries a colour table (:data:`~torchgeo_datacenters.outputs.styles.MASK_COLOURS`)
    and overviews, so viewers draw it as it is.

    Args:
        path: the COG to write.
        grid: the scene's grid.

    Returns:
        The writer.
    """
    return RasterWriter(
        path,
        grid,
        dtype="uint8",
        nodata=MASK_NODATA,
        resampling="nearest",
        colormap=MASK_COLOURS,
    )


def probability_writer(path: str | os.PathLike[str], grid: SceneGrid) -> RasterWriter:
    """Writer of the float32 probabilities (NaN nodata).

    Args:
        path: the COG to write.
        grid: the scene's grid.

    Returns:
        The writer.
    """
    return RasterWriter(path, grid, dtype="float32", nodata=float("nan"), resampling="average")
