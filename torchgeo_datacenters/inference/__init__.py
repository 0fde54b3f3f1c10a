"""Large-scene prediction: tile, predict, stitch, vectorise and export detections."""

from .export import Outputs, RasterWriter, write_csv, write_geojson, write_vectors
from .model import ProbabilityModel, load_checkpoint
from .predictor import (
    DEFAULT_MERGE_DISTANCE,
    DEFAULT_MIN_AREA,
    Detections,
    Predictor,
    RunStats,
    resolve_device,
)
from .stitch import Stitcher, blend_window
from .tiles import Scene, SceneGrid, TileReader, group_rasters, open_scene, tile_offsets
from .vectorize import MASK_NODATA, Vectorizer, metric_crs, order_detections, threshold_band

__all__ = [
    "DEFAULT_MERGE_DISTANCE",
    "DEFAULT_MIN_AREA",
    "MASK_NODATA",
    "Detections",
    "Outputs",
    "Predictor",
    "ProbabilityModel",
    "RasterWriter",
    "RunStats",
    "Scene",
    "SceneGrid",
    "Stitcher",
    "TileReader",
    "Vectorizer",
    "blend_window",
    "group_rasters",
    "load_checkpoint",
    "metric_crs",
    "open_scene",
    "order_detections",
    "resolve_device",
    "threshold_band",
    "tile_offsets",
    "write_csv",
    "write_geojson",
    "write_vectors",
]
