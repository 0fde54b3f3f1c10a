"""Large-scene prediction: tile, predict, stitch, then vectorise and write detections."""

from .device import resolve_device
from .model import ProbabilityModel, load_checkpoint
from .predictor import Predictor
from .reader import TileReader
from .results import Detections, RunStats
from .scene import Scene, group_rasters, open_scene
from .stitch import Stitcher, blend_window
from .tiling import tile_offsets

__all__ = [
    "Detections",
    "Predictor",
    "ProbabilityModel",
    "RunStats",
    "Scene",
    "Stitcher",
    "TileReader",
    "blend_window",
    "group_rasters",
    "load_checkpoint",
    "open_scene",
    "resolve_device",
    "tile_offsets",
]
