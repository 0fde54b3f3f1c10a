"""Scan whole regions: many scenes on Ray, merged across scene boundaries, resumable.

:func:`scan` runs the predictor over every scene of a region (GeoTIFFs in a directory, or
the NAIP items a STAC search finds) on a pool of Ray actors, records every finished scene
under the output directory so that a rerun resumes, and merges the detections of
neighbouring scenes into one polygon per data center.
"""

from .cluster import RAY_HINT, import_ray
from .manifest import Manifest, SceneRecord
from .runner import ScanResult, scan
from .scenes import (
    LocalScene,
    ScanScene,
    StacScene,
    bbox_region,
    newest_items,
    read_aoi,
    scenes_in_directory,
    stac_scenes,
)
from .worker import SceneWorker

__all__ = [
    "RAY_HINT",
    "LocalScene",
    "Manifest",
    "ScanResult",
    "ScanScene",
    "SceneRecord",
    "SceneWorker",
    "StacScene",
    "bbox_region",
    "import_ray",
    "newest_items",
    "read_aoi",
    "scan",
    "scenes_in_directory",
    "stac_scenes",
]
