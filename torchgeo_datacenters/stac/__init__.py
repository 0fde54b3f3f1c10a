"""NAIP from a STAC API: search, windowed COG reads, mosaics, scenes and training chips.

The imagery stage's downloader. :func:`download_scene` writes one scene around a point
or over a box; :func:`download_site_chips` writes chips around labelled sites and
resumes an interrupted run. Both search a :class:`NaipCatalog` (Microsoft Planetary
Computer by default) with pystac-client and read only the needed windows of the
Cloud-Optimised GeoTIFFs through GDAL, retrying as :class:`NetworkSettings` says.
Downloads are 4-band (R, G, B, NIR) uint8 COGs in the local UTM zone at 0.6 m, with
``nodata=0`` where no imagery covers.
"""

from .chips import (
    ChipPlan,
    SiteChipsResult,
    chip_is_complete,
    download_site_chips,
    plan_site_chips,
    read_sites,
)
from .grid import (
    NAIP_COVERAGE,
    NAIP_RESOLUTION,
    check_bbox,
    check_lonlat,
    grid_around,
    grid_for_bbox,
    utm_crs,
)
from .mosaic import NODATA, Mosaic, mosaic_items, write_mosaic
from .network import NetworkSettings
from .scene import SceneResult, download_scene, scene_grid
from .search import DEFAULT_STAC_URL, IMAGE_ASSET, NAIP_COLLECTION, NaipCatalog

__all__ = [
    "DEFAULT_STAC_URL",
    "IMAGE_ASSET",
    "NAIP_COLLECTION",
    "NAIP_COVERAGE",
    "NAIP_RESOLUTION",
    "NODATA",
    "ChipPlan",
    "Mosaic",
    "NaipCatalog",
    "NetworkSettings",
    "SceneResult",
    "SiteChipsResult",
    "check_bbox",
    "check_lonlat",
    "chip_is_complete",
    "download_scene",
    "download_site_chips",
    "grid_around",
    "grid_for_bbox",
    "mosaic_items",
    "plan_site_chips",
    "read_sites",
    "scene_grid",
    "utm_crs",
    "write_mosaic",
]
