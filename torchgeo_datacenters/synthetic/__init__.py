"""SYNTHETIC NAIP-like scenes with data centers and look-alike buildings.

Real NAIP imagery over data centers cannot be downloaded where this project is built and
tested, so this module draws **synthetic** scenes instead. They are made for tests, the demo
and benchmarks, never for judging a model on the real world. Every GeoTIFF written here is
tagged ``SYNTHETIC=yes`` and says so in its TIFF image description.

A scene is a 4-band (R, G, B, NIR) ``uint8`` GeoTIFF at 0.6 m per pixel in a UTM CRS, like
NAIP. It holds:

* **data centers** (label ``True``): large flat light roofs covered with regular rows of dark
  rooftop cooling units, beside a fenced gravel substation with transformers and a yard of
  generator enclosures;
* **hard negatives** (label ``False``) that look alike at a glance: warehouses (similar light
  roofs with loading-dock doors along one side and trailer lots), retail (smaller roofs with
  scattered units and parking lots full of cars) and other buildings (L-shaped offices and
  schools with darker roofs);
* background: houses, roads, trees and grass (high NIR), ponds (very low NIR), bare soil,
  building shadows, gentle illumination changes and per-pixel sensor noise.

Roof sizes follow the seed label file: log-normal areas with the medians and spreads of its
classes (data centers: median about 18,800 m², 2,800 to 125,000 m²), shrunk where needed so
that every object fits in the scene. Label polygons are the roof footprints, and roofs are
drawn by rasterizing the very same polygons (pixel-centre rule), so labels and pixels agree.

Scenes of at least :data:`MIN_COMPLETE_SIZE` pixels a side drawn with the default object
counts hold at least one data center and at least one warehouse, one retail and one other
building. Smaller scenes (down to :data:`MIN_SIZE`) hold one data center and the negatives
that fit. Output is a pure function of the arguments: the same seed gives the same pixels and
labels, bit for bit, on any CPU (any x86-64 SIMD level and BLAS kernel; arm64 is not tested),
because the pixel path uses only elementwise arithmetic that IEEE 754 rounds exactly (see
:func:`.canvas.smooth_field`), and byte-identical files under the same GDAL version.

The generator is split by concept: :mod:`.scenes` writes scenes and labels,
:mod:`.buildings` holds one :class:`~.buildings.BuildingSpec` per labelled class,
:mod:`.parts` the ground around buildings, :mod:`.sites` places and paints buildings of any
class, :mod:`.ground` the background, :mod:`.canvas` the drawing surface, :mod:`.palette` the
colours and :mod:`.checks` the argument checks.
"""

from .buildings import BUILDINGS, BuildingSpec
from .checks import MAX_SIZE, MIN_SIZE
from .scenes import (
    BANDS,
    CLASSES,
    DEFAULT_ORIGIN,
    DESCRIPTION,
    MIN_COMPLETE_SIZE,
    SCENE_GAP,
    SyntheticDataset,
    generate_scene,
    generate_scenes,
    scene_origin,
)

__all__ = [
    "BANDS",
    "BUILDINGS",
    "CLASSES",
    "DEFAULT_ORIGIN",
    "DESCRIPTION",
    "MAX_SIZE",
    "MIN_COMPLETE_SIZE",
    "MIN_SIZE",
    "SCENE_GAP",
    "BuildingSpec",
    "SyntheticDataset",
    "generate_scene",
    "generate_scenes",
    "scene_origin",
]
