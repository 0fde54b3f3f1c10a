"""Large-scene prediction: tile, predict, stitch, then vectorise and write detections."""

from .model import ProbabilityModel, load_checkpoint
from .predictor import Detections, Predictor, RunStats, resolve_device
from .stitch import Stitcher, blend_window
from .tiles import Scene, SceneGrid, TileReader, group_rasters, open_scene, tile_offsets

__all__ = [
    "Detections",
    "Predictor",
    "ProbabilityModel",
    "RunStats",
    "Scene",
    "SceneGrid",
    "Stitcher",
    "TileReader",
    "blend_window",
    "group_rasters",
    "load_checkpoint",
    "open_scene",
    "resolve_device",
    "tile_offsets",
]
