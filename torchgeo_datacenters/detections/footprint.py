"""The area a scan covered: the valid pixels of its scenes, or polygons that describe it.

Comparisons with inventories (:mod:`.compare`) count only what lies in the area scanned.
:func:`raster_footprint` traces a raster's valid pixels (its nodata/alpha mask, read at a
coarse resolution); :func:`read_footprint` joins those of GeoTIFFs with the polygons of
vector files, such as the ``footprint.geojson`` that ``tgdc scan`` writes.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import TGDCError
from .files import read_vector

#: Raster extensions read as scanned imagery by :func:`read_footprint`.
RASTER_SUFFIXES = (".tif", ".tiff", ".vrt")

#: Longest side, in pixels, of the validity mask read from a raster footprint.
FOOTPRINT_PIXELS = 1024


def raster_footprint(path: Path) -> BaseGeometry:
    """The valid-data footprint of a raster, from its mask read at a coarse resolution.

    Args:
        path: the raster.

    Returns:
        The area of valid pixels, in EPSG:4326.
    """
    import rasterio
    from rasterio.features import shapes

    with rasterio.open(path) as src:
        scale = max(1.0, max(src.width, src.height) / FOOTPRINT_PIXELS)
        shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
        mask = src.dataset_mask(out_shape=shape)
        transform = src.transform @ src.transform.scale(src.width / shape[1], src.height / shape[0])
        polygons = [shapely.geometry.shape(g) for g, v in shapes(mask, transform=transform) if v]
        return gpd.GeoSeries(polygons, crs=src.crs).to_crs("EPSG:4326").union_all()


def read_footprint(paths: Sequence[str | os.PathLike[str]]) -> BaseGeometry:
    """The area scanned: polygons of vector files and valid pixels of rasters, joined.

    Args:
        paths: vector files of the scanned area (e.g. a scan's ``footprint.geojson`` or
            its ``--aoi``) and/or the scanned GeoTIFFs (their valid pixels, read from the
            nodata mask at up to :data:`FOOTPRINT_PIXELS` pixels a side).

    Returns:
        The area, in EPSG:4326.

    Raises:
        TGDCError: if a file is missing or unreadable, or the area is empty.
    """
    parts = []
    for path in map(Path, paths):
        if path.suffix.lower() in RASTER_SUFFIXES:
            if not path.is_file():
                raise TGDCError(f"{path}: footprint raster does not exist")
            try:
                parts.append(raster_footprint(path))
            except Exception as error:
                raise TGDCError(f"{path}: not a readable raster ({error})") from error
        else:
            frame = read_vector(path, "footprint")
            parts.append(frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])].union_all())
    area = shapely.union_all(parts)
    if area.is_empty or area.area == 0:
        raise TGDCError(f"{', '.join(map(str, paths))}: no polygon or valid pixel; no area")
    return area
