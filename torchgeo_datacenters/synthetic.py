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
that fit. Output is a pure function of the arguments: the same seed gives byte-identical
files.
"""

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.errors import CRSError
from rasterio.features import rasterize
from rasterio.transform import Affine, from_origin
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from scipy.ndimage import minimum_filter
from tqdm import tqdm

from .errors import TGDCError
from .utils import atomic_output, check_output_path

__all__ = [
    "MAX_SIZE",
    "MIN_COMPLETE_SIZE",
    "MIN_SIZE",
    "SyntheticDataset",
    "generate_scene",
    "generate_scenes",
    "scene_origin",
]

MIN_SIZE = 64
"""Smallest scene side, in pixels."""

MIN_COMPLETE_SIZE = 256
"""Smallest scene side, in pixels, that is sure to hold every kind of labelled object."""

MAX_SIZE = 8192
"""Largest scene side, in pixels (a scene is drawn in memory, about 20 bytes per pixel)."""

SCENE_GAP = 5000.0
"""Gap between neighbouring scenes written by :func:`generate_scenes`, in metres."""

DEFAULT_ORIGIN = (500000.0, 4400000.0)
"""Upper-left corner of the first scene, in CRS units (UTM easting and northing, metres)."""

_SCENES_PER_ROW = 8

BANDS = ("R", "G", "B", "NIR")
"""Band order of the scenes, as in NAIP."""

CLASSES = ("datacenter", "warehouse", "retail", "other")
"""Label classes, as in the seed label file; only ``datacenter`` has ``label`` true."""

DESCRIPTION = (
    "SYNTHETIC NAIP-like scene (R, G, B, NIR) drawn by torchgeo_datacenters.synthetic;"
    " not real imagery"
)

# Roof sizes per class: median area (m²), log-normal sigma, clip range (m²), aspect range and
# the largest roof side as a fraction of the scene side. Medians and spreads are measured on
# the seed label file (quartiles give sigma = ln(q3 / q1) / 1.349).
_SIZES = {
    "datacenter": (18_800.0, 0.75, 2_800.0, 125_000.0, (1.0, 2.2), 0.4),
    "warehouse": (36_000.0, 0.95, 5_000.0, 82_000.0, (1.6, 3.5), 0.35),
    "retail": (4_500.0, 1.2, 900.0, 44_000.0, (1.0, 2.5), 0.2),
    "other": (4_800.0, 0.97, 1_800.0, 45_000.0, (1.0, 2.2), 0.2),
}
_NEGATIVE_SHARES = (0.37, 0.33, 0.30)  # warehouse, retail, other, as in the seed labels
_DATACENTERS_PER_MPX = 0.75  # default counts per 1024 x 1024 pixels
_NEGATIVES_PER_MPX = 2.5

# Colours (R, G, B, NIR) in digital numbers, calibrated on real NAIP (concrete ~205/140).
_GRASS = np.array([88, 112, 72, 190], np.float32)
_DRY_GRASS = np.array([158, 148, 116, 160], np.float32)
_SOIL = np.array([166, 142, 116, 148], np.float32)
_TREES = np.array([48, 70, 50, 168], np.float32)
_WATER = np.array([38, 58, 66, 12], np.float32)
_ASPHALT = np.array([96, 97, 99, 82], np.float32)
_CONCRETE = np.array([184, 182, 176, 140], np.float32)
_GRAVEL = np.array([160, 154, 142, 136], np.float32)
_MARKING = np.array([[225, 222, 200, 180]], np.float32)
_DARK = np.array([[58, 60, 64, 48]], np.float32)
_UNIT = np.array([[112, 115, 119, 96], [98, 101, 106, 84]], np.float32)
_FAN = np.array([[44, 47, 51, 36]], np.float32)
_TRANSFORMER = np.array([[72, 74, 78, 60], [86, 88, 90, 70]], np.float32)
_GENERATOR = np.array([[216, 213, 202, 178], [200, 200, 196, 165]], np.float32)
_HVAC = np.array([[150, 151, 155, 124], [128, 130, 134, 106], [176, 176, 178, 146]], np.float32)
_SKYLIGHT = np.array([[236, 240, 242, 212]], np.float32)
_TRAILERS = np.array(
    [[228, 228, 225, 192], [214, 214, 212, 180], [168, 168, 170, 138], [150, 60, 50, 95]],
    np.float32,
)
_CARS = np.array(
    [
        [232, 232, 232, 196],
        [36, 36, 40, 30],
        [172, 174, 178, 142],
        [112, 114, 118, 92],
        [168, 42, 40, 108],
        [42, 62, 128, 70],
        [196, 186, 160, 150],
    ],
    np.float32,
)
_HOUSES = np.array(
    [
        [112, 86, 72, 82],
        [82, 82, 88, 70],
        [142, 72, 58, 86],
        [172, 152, 126, 132],
        [150, 150, 152, 120],
    ],
    np.float32,
)
_ROOFS = {  # per class: colours a roof is drawn from
    "datacenter": np.array([[226, 227, 229, 198], [210, 212, 214, 182], [232, 232, 230, 204]]),
    "warehouse": np.array([[224, 225, 226, 196], [208, 210, 212, 180], [206, 196, 176, 166]]),
    "retail": np.array([[222, 222, 222, 192], [200, 186, 160, 158], [166, 166, 170, 134]]),
    "other": np.array([[150, 136, 116, 120], [128, 128, 132, 104], [96, 96, 100, 78]]),
}
_SHADOW = 0.45
_NOISE_SIGMA = 3.0

Box = tuple[int, int, int, int]
"""A pixel rectangle ``(row_start, col_start, row_stop, col_stop)``, stops exclusive."""


@dataclass(frozen=True)
class SyntheticDataset:
    """The files written by :func:`generate_scenes` (SYNTHETIC imagery).

    Attributes:
        scene_paths: the scene GeoTIFFs, in order.
        labels_path: the ``labels.geojson`` file with the labels of every scene.
        labels: those labels in CRS84 (columns fid, class, name, label, scene, geometry).
    """

    scene_paths: list[Path]
    labels_path: Path
    labels: gpd.GeoDataFrame


@dataclass
class _Part:
    """One drawn piece of a site: a roof, lot, yard or substation, in scene pixels."""

    kind: str
    box: Box


@dataclass
class _Site:
    """A labelled building with the ground around it that belongs to it."""

    kind: str
    roofs: list[Box]
    parts: list[_Part]

    def bounds(self) -> Box:
        """Return the pixel box around every roof and part."""
        boxes = self.roofs + [part.box for part in self.parts]
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def moved(self, dr: int, dc: int, transpose: bool = False) -> "_Site":
        """Return the site shifted by *dr*, *dc* pixels, optionally transposed first."""

        def move(box: Box) -> Box:
            if transpose:
                box = (box[1], box[0], box[3], box[2])
            return (box[0] + dr, box[1] + dc, box[2] + dr, box[3] + dc)

        return _Site(
            self.kind,
            [move(b) for b in self.roofs],
            [_Part(p.kind, move(p.box)) for p in self.parts],
        )


class _Scene:
    """The canvas of one scene being drawn, with the occupancy used to place objects."""

    def __init__(
        self, rng: np.random.Generator, height: int, width: int, gsd: float, transform: Affine
    ) -> None:
        self.rng = rng
        self.height = height
        self.width = width
        self.gsd = gsd
        self.transform = transform
        self.canvas = np.empty((4, height, width), np.float32)
        self.cell = max(1, min(height, width) // 256)
        self.occupied = np.zeros((height // self.cell, width // self.cell), bool)
        self._table: np.ndarray | None = None
        self.margin = max(2, min(self.px(20.0), min(height, width) // 40))

    def px(self, metres: float) -> int:
        """Convert a length in metres to a whole number of pixels (at least 1)."""
        return max(1, round(metres / self.gsd))

    def _cells(self, box: Box, margin: int = 0) -> tuple[slice, slice]:
        k = self.cell
        return (
            slice(max(0, (box[0] - margin) // k), max(0, -(-(box[2] + margin) // k))),
            slice(max(0, (box[1] - margin) // k), max(0, -(-(box[3] + margin) // k))),
        )

    def occupy(self, box: Box, margin: int = 0) -> None:
        """Mark *box*, grown by *margin* pixels, as taken."""
        self.occupied[self._cells(box, margin)] = True
        self._table = None

    def is_free(self, box: Box) -> bool:
        """Whether *box* lies inside the scene and on no taken cell."""
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= self.height and box[3] <= self.width
        return inside and not self.occupied[self._cells(box)].any()

    def find_spot(self, height: int, width: int, margin: int) -> tuple[int, int] | None:
        """Pick a random free place for a *height* x *width* box kept *margin* from others.

        Returns:
            The top-left pixel of the box, or None where no place is free.
        """
        k = self.cell
        nh, nw = -(-(height + 2 * margin) // k), -(-(width + 2 * margin) // k)
        rows, cols = self.occupied.shape
        if nh > rows or nw > cols:
            return None
        if self._table is None:
            self._table = np.zeros((rows + 1, cols + 1), np.int32)
            self._table[1:, 1:] = self.occupied.cumsum(0, dtype=np.int32).cumsum(1)
        table = self._table
        taken = table[nh:, nw:] - table[:-nh, nw:] - table[nh:, :-nw] + table[:-nh, :-nw]
        free = np.flatnonzero(taken == 0)
        if free.size == 0:
            return None
        i, j = divmod(int(free[self.rng.integers(free.size)]), taken.shape[1])
        return i * k + margin, j * k + margin

    def clip(self, box: Box) -> Box:
        """Return the part of *box* inside the scene."""
        return (max(box[0], 0), max(box[1], 0), min(box[2], self.height), min(box[3], self.width))

    def fill(self, box: Box, colour: np.ndarray, jitter: float = 0.04) -> None:
        """Paint *box* in one colour, varied in brightness by up to *jitter*."""
        r0, c0, r1, c1 = self.clip(box)
        gain = 1.0 + self.rng.uniform(-jitter, jitter)
        self.canvas[:, r0:r1, c0:c1] = (colour * gain)[:, None, None]

    def grid(
        self,
        box: Box,
        *,
        pitch: tuple[int, int],
        size: tuple[int, int],
        colours: np.ndarray | None = None,
        shade: float | None = None,
        fill: float = 1.0,
        shift: tuple[int, int] = (0, 0),
        occupied: np.ndarray | None = None,
        part: Box | None = None,
        mask: np.ndarray | None = None,
        jitter: float = 0.06,
    ) -> np.ndarray | None:
        """Paint a regular grid of rectangles (units, cars, trailers, houses) in *box*.

        The grid holds as many whole items as fit, centred in *box*, then moved by *shift*.
        Each item is drawn with probability *fill* in a colour picked from *colours*, or,
        when *shade* is given, darkens what is there by that factor.

        Args:
            box: the pixel box to fill.
            pitch: item spacing (rows, cols) in pixels.
            size: item size (rows, cols) in pixels.
            colours: array of candidate colours, shape (k, 4).
            shade: brightness factor applied instead of colours.
            fill: probability that an item is drawn.
            shift: offset (rows, cols) of the grid, in pixels.
            occupied: which items are drawn, as returned by an earlier call with the same
                box, pitch and size (to draw details on the same items).
            part: the rectangle of each item to paint, in pixels from the item's corner
                (default: the whole item), to draw details such as fans on units.
            mask: boolean array of the shape of *box*; items are only drawn inside it.
            jitter: relative brightness variation between items.

        Returns:
            The (rows, cols) boolean array of drawn items, or None if none fits.
        """
        box = self.clip(box)
        h, w = box[2] - box[0], box[3] - box[1]
        counts = [
            (n - s) // p + 1 if n >= s else 0 for n, s, p in zip((h, w), size, pitch, strict=True)
        ]
        if min(counts) <= 0:
            return None
        if part is None:
            part = (0, 0, *size)
        axes = []
        for axis in (0, 1):
            n, s, p, count = (h, w)[axis], size[axis], pitch[axis], counts[axis]
            offset = np.arange(n) - (n - ((count - 1) * p + s)) // 2 - shift[axis]
            index, within = np.divmod(offset, p)
            valid = (offset >= 0) & (index < count) & (within >= part[axis])
            valid &= within < min(s, part[axis + 2])
            axes.append((np.clip(index, 0, count - 1), valid))
        (ri, rv), (ci, cv) = axes
        if occupied is None:
            occupied = self.rng.random(counts) < fill
        selected = rv[:, None] & cv[None, :] & occupied[ri[:, None], ci[None, :]]
        if mask is not None:
            selected &= mask
        rr, cc = np.nonzero(selected)
        view = self.canvas[:, box[0] : box[2], box[1] : box[3]]
        if shade is not None:
            view[:, rr, cc] *= shade
        else:
            assert colours is not None
            pick = self.rng.integers(len(colours), size=counts)
            gain = 1.0 + self.rng.uniform(-jitter, jitter, counts)
            values = colours[pick] * gain[..., None]
            view[:, rr, cc] = values[ri[rr], ci[cc]].T
        return occupied


def _smooth_field(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Return smooth random noise (zero mean, unit spread) with features about *cell* px wide.

    A coarse Gaussian grid is interpolated with Gaussian weights, as two matrix products.
    """

    def weights(n: int) -> np.ndarray:
        coarse = int(n / cell) + 3
        centres = (np.arange(n, dtype=np.float32) + 0.5) / cell + 1.0
        distance = centres[:, None] - np.arange(coarse, dtype=np.float32)[None, :]
        kernel = np.exp(-0.5 * (distance / 0.6) ** 2)
        return kernel / kernel.sum(1, keepdims=True)

    wr, wc = weights(height), weights(width)
    coarse = rng.standard_normal((wr.shape[1], wc.shape[1]), dtype=np.float32)
    field = wr @ coarse @ wc.T
    sample = field[:: max(1, height // 256), :: max(1, width // 256)]
    field -= sample.mean()
    field /= max(float(sample.std()), 1e-6)
    return field


def _paint_background(scene: _Scene) -> None:
    """Paint grass, dry grass, bare soil and trees."""
    rng, h, w, canvas = scene.rng, scene.height, scene.width, scene.canvas
    moisture = _smooth_field(rng, h, w, scene.px(180.0))
    soil = _smooth_field(rng, h, w, scene.px(120.0)) > 1.3
    trees = _smooth_field(rng, h, w, scene.px(10.0)) + 0.6 * moisture
    canopy = np.flatnonzero(trees > 1.2)
    crowns = 1.1 - 0.35 * np.minimum(trees.ravel()[canopy] - 1.2, 1.0)
    crowns *= rng.uniform(0.85, 1.15, crowns.size).astype(np.float32)
    green = moisture
    green *= 0.4
    green += 0.5
    np.clip(green, 0.0, 1.0, out=green)
    for b in range(4):
        band = canvas[b]
        np.multiply(green, _GRASS[b] - _DRY_GRASS[b], out=band)
        band += _DRY_GRASS[b]
        np.copyto(band, _SOIL[b], where=soil)
        band.ravel()[canopy] = crowns * _TREES[b]


def _paint_roads(scene: _Scene) -> None:
    """Paint straight asphalt roads across the scene, with dashed centre lines."""
    rng = scene.rng
    for axis, length in ((0, scene.height), (1, scene.width)):
        count = (
            int(rng.integers(1, 2 + length // 1500)) if length >= 512 else int(rng.random() < 0.5)
        )
        for _ in range(count):
            road_w = min(scene.px(rng.uniform(9.0, 16.0)), length // 12)
            if road_w < 3:
                continue
            start = int(rng.integers(0, length - road_w))
            if axis == 0:
                box, line = (start, 0, start + road_w, scene.width), (start + road_w // 2, 0)
                line_box = (line[0], 0, line[0] + 1, scene.width)
                pitch, size = (1, scene.px(12.0)), (1, scene.px(3.0))
            else:
                box = (0, start, scene.height, start + road_w)
                line_box = (0, start + road_w // 2, scene.height, start + road_w // 2 + 1)
                pitch, size = (scene.px(12.0), 1), (scene.px(3.0), 1)
            scene.fill(box, _ASPHALT)
            scene.grid(line_box, pitch=pitch, size=size, colours=_MARKING)
            scene.occupy(box)


def _roof_size(
    rng: np.random.Generator, kind: str, gsd: float, side: int, shrink: float = 1.0
) -> tuple[int, int]:
    """Draw a roof size for a *kind* of building.

    Args:
        rng: random generator.
        kind: the class of the building.
        gsd: pixel size in metres.
        side: the shorter side of the scene in pixels (roofs are capped to a share of it).
        shrink: factor applied after the cap, to make room.

    Returns:
        The roof size (rows, cols) in pixels, long side horizontal.
    """
    median, sigma, lo, hi, (aspect_lo, aspect_hi), cap = _SIZES[kind]
    area = float(np.clip(median * math.exp(sigma * rng.standard_normal()), lo, hi))
    aspect = rng.uniform(aspect_lo, aspect_hi)
    long_side = math.sqrt(area * aspect) / gsd
    short_side = math.sqrt(area / aspect) / gsd
    scale = min(1.0, cap * side / long_side) * shrink
    return max(6, round(short_side * scale)), max(8, round(long_side * scale))


def _datacenter_parts(scene: _Scene, roof: Box) -> list[_Part]:
    """Lay out a substation, generator yard and small car park around a data-center roof."""
    rng, px = scene.rng, scene.px
    r0, c0, r1, c1 = roof
    h, w = r1 - r0, c1 - c0
    parts = []
    depth = min(px(16.0), max(3, round(0.35 * h)))
    gap = min(px(4.0), max(1, h // 20))
    length = round(w * rng.uniform(0.4, 0.9))
    start = c0 + int(rng.integers(0, w - length + 1))
    above = bool(rng.random() < 0.5)
    top = r0 - gap - depth if above else r1 + gap
    parts.append(_Part("generators", (top, start, top + depth, start + length)))
    side = min(px(np.clip(0.35 * h * scene.gsd, 20.0, 60.0)), max(4, round(0.6 * h)))
    gap = min(px(rng.uniform(8.0, 20.0)), max(2, h // 8))
    row = r0 + int(rng.integers(0, max(1, h - side + 1)))
    left = c1 + gap if rng.random() < 0.5 else c0 - gap - side
    parts.append(_Part("substation", (row, left, row + side, left + side)))
    if rng.random() < 0.5:
        lot_depth = min(px(rng.uniform(12.0, 20.0)), max(3, h // 3))
        lot_length = round(w * rng.uniform(0.2, 0.4))
        top = r1 + gap if above else r0 - gap - lot_depth
        parts.append(_Part("parking", (top, c0, top + lot_depth, c0 + lot_length)))
    return parts


def _layout(scene: _Scene, kind: str, shrink: float) -> _Site:
    """Lay out a site of *kind* with its roof at pixel (0, 0), long side horizontal."""
    rng, px = scene.rng, scene.px
    h, w = _roof_size(rng, kind, scene.gsd, min(scene.height, scene.width), shrink)
    roof = (0, 0, h, w)
    roofs = [roof]
    parts: list[_Part] = []
    if kind == "datacenter":
        parts = _datacenter_parts(scene, roof)
    elif kind == "warehouse":
        depth = min(px(rng.uniform(35.0, 55.0)), round(0.9 * w), max(4, round(1.2 * h)))
        docks = [rng.random() < 0.5]
        if rng.random() < 0.35:
            docks.append(not docks[0])
        for above in docks:
            top = -depth if above else h
            parts.append(_Part("trucks", (top, 0, top + depth, w)))
        if rng.random() < 0.5:
            lot = min(px(rng.uniform(15.0, 25.0)), max(3, w // 4))
            gap = min(px(5.0), max(1, lot // 4))
            parts.append(_Part("parking", (0, w + gap, h, w + gap + lot)))
    elif kind == "retail":
        depth = max(min(px(20.0), h), round(h * rng.uniform(0.8, 2.0)))
        length = round(w * rng.uniform(1.0, 1.5))
        left = (w - length) // 2
        top = -depth if rng.random() < 0.5 else h
        parts.append(_Part("parking", (top, left, top + depth, left + length)))
    else:
        if rng.random() < 0.6:
            wing_w = round(w * rng.uniform(0.3, 0.5))
            wing_h = round(h * rng.uniform(0.4, 0.8))
            left = 0 if rng.random() < 0.5 else w - wing_w
            top = -wing_h if rng.random() < 0.5 else h
            roofs.append((top, left, top + wing_h, left + wing_w))
        if rng.random() < 0.6:
            lot = min(px(rng.uniform(15.0, 30.0)), max(3, w // 3))
            gap = min(px(6.0), max(1, lot // 4))
            parts.append(_Part("parking", (0, w + gap, h, w + gap + lot)))
    return _Site(kind, roofs, parts)


def _place(scene: _Scene, kind: str, required: bool) -> _Site | None:
    """Find room for a new site of *kind*, shrinking it when *required* and it does not fit."""
    rounds = 12 if required else 2
    for attempt in range(rounds):
        site = _layout(scene, kind, shrink=0.8**attempt)
        transpose = bool(scene.rng.random() < 0.5)
        site = site.moved(0, 0, transpose)
        r0, c0, r1, c1 = site.bounds()
        spot = scene.find_spot(r1 - r0, c1 - c0, scene.margin)
        if spot is not None:
            site = site.moved(spot[0] - r0, spot[1] - c0)
            scene.occupy(site.bounds(), scene.margin)
            return site
    return None


def _paint_parking(scene: _Scene, box: Box) -> None:
    """Paint an asphalt car park with stall lines and cars, rows along its long side."""
    px = scene.px
    scene.fill(box, _ASPHALT)
    stall, depth, aisle = px(2.7), px(5.5), px(7.0)
    car = (max(1, depth - 2), max(1, stall - 2))
    module = 2 * depth + aisle
    fill = scene.rng.uniform(0.3, 0.9)
    horizontal = box[3] - box[1] >= box[2] - box[0]

    def oriented(pair: tuple[int, int]) -> tuple[int, int]:
        return pair if horizontal else (pair[1], pair[0])

    for row in (0, depth):
        shift = oriented((row - depth // 2 - aisle // 2, 0))
        scene.grid(
            box,
            pitch=oriented((module, stall)),
            size=oriented((depth, 1)),
            shift=shift,
            colours=_MARKING,
            jitter=0.02,
        )
        scene.grid(
            box,
            pitch=oriented((module, stall)),
            size=oriented(car),
            shift=oriented((row - depth // 2 - aisle // 2, stall // 2)),
            colours=_CARS,
            fill=fill,
        )


def _paint_trucks(scene: _Scene, box: Box, roof: Box) -> None:
    """Paint a truck apron with trailers backed onto the dock wall and parked across the lot."""
    px, rng = scene.px, scene.rng
    scene.fill(box, _CONCRETE if rng.random() < 0.4 else _ASPHALT)
    vertical = box[3] <= roof[1] or box[1] >= roof[3]

    def flip(b: Box) -> Box:
        return (b[1], b[0], b[3], b[2]) if vertical else b

    apron, wall = flip(box), flip(roof)
    trailer = min(px(16.0), apron[2] - apron[0])
    pitch, size = (trailer, px(4.0)), (trailer, px(2.6))
    near, far = (apron[2] - trailer, apron[2]), (apron[0], apron[0] + trailer)
    if apron[0] >= wall[2]:
        near, far = far, near
    rows = [(near, rng.uniform(0.3, 0.8))]
    if apron[2] - apron[0] >= 2 * trailer + px(15.0):
        rows.append((far, rng.uniform(0.4, 0.9)))
    for (top, bottom), fill in rows:
        strip = flip((top, apron[1], bottom, apron[3]))
        scene.grid(
            strip,
            pitch=pitch[::-1] if vertical else pitch,
            size=size[::-1] if vertical else size,
            colours=_TRAILERS,
            fill=fill,
        )


def _paint_substation(scene: _Scene, box: Box) -> None:
    """Paint a fenced gravel yard with rows of transformers and bus lines."""
    px = scene.px
    scene.fill(box, _GRAVEL)
    r0, c0, r1, c1 = box
    view = scene.canvas[:, r0:r1, c0:c1]
    view += scene.rng.normal(0.0, 12.0, (1, r1 - r0, c1 - c0)).astype(np.float32)
    view[:, [0, -1], :] = _DARK[0][:, None, None]
    view[:, :, [0, -1]] = _DARK[0][:, None, None]
    inner = (r0 + 2, c0 + 2, r1 - 2, c1 - 2)
    scene.grid(
        inner, pitch=(px(9.0), px(7.0)), size=(px(1.0), px(7.0)), colours=_MARKING[:, :] * 0.85
    )
    scene.grid(inner, pitch=(px(9.0), px(7.0)), size=(px(3.6), px(3.6)), colours=_TRANSFORMER)


def _paint_generators(scene: _Scene, box: Box) -> None:
    """Paint a concrete pad with a row of generator enclosures across it."""
    px = scene.px
    scene.fill(box, _CONCRETE)
    horizontal = box[3] - box[1] >= box[2] - box[0]
    across = (box[2] - box[0]) if horizontal else (box[3] - box[1])
    length = max(1, min(px(12.0), across - 2))
    size, pitch, top = (length, px(3.0)), (length, px(5.5)), (0, 0, max(1, length // 6), px(3.0))
    if not horizontal:
        size, pitch, top = size[::-1], pitch[::-1], (0, 0, top[3], top[2])
    occupied = scene.grid(box, pitch=pitch, size=size, colours=_GENERATOR, fill=0.95)
    if occupied is not None:
        scene.grid(box, pitch=pitch, size=size, part=top, colours=_FAN, occupied=occupied)


def _roof_mask(scene: _Scene, polygon: shapely.Geometry, window: Box) -> np.ndarray:
    """Rasterize a roof polygon (CRS coordinates) over a pixel window (pixel-centre rule)."""
    r0, c0, r1, c1 = window
    win = Window(c0, r0, c1 - c0, r1 - r0)
    return rasterize(
        [(polygon, 1)],
        out_shape=(r1 - r0, c1 - c0),
        transform=window_transform(win, scene.transform),
        dtype="uint8",
    ).astype(bool)


def _paint_roof(scene: _Scene, kind: str, polygon: shapely.Geometry, bounds: Box) -> None:
    """Paint a roof with its shadow and the rooftop details of its class.

    Args:
        scene: the scene.
        kind: the class of the building.
        polygon: the roof footprint in CRS coordinates.
        bounds: pixel box around the roof (may extend beyond the scene).
    """
    rng, px = scene.rng, scene.px
    height_m = {"datacenter": 15.0, "warehouse": 11.0, "retail": 7.0, "other": 9.0}[kind]
    shadow = max(1, min(px(0.7 * height_m * rng.uniform(0.8, 1.2)), scene.margin - 1))
    window = (
        max(0, bounds[0] - shadow),
        max(0, bounds[1] - shadow),
        min(scene.height, bounds[2]),
        min(scene.width, bounds[3]),
    )
    if window[2] <= window[0] or window[3] <= window[1]:
        return
    roof = _roof_mask(scene, polygon, window)
    shade = np.zeros_like(roof)
    for step in range(1, shadow + 1, max(1, shadow // 4)):
        dr, dc = step, step // 2
        shade[:-dr, : roof.shape[1] - dc] |= roof[dr:, dc:]
    shade &= ~roof
    view = scene.canvas[:, window[0] : window[2], window[1] : window[3]]
    view[:, shade] *= _SHADOW
    colours = _ROOFS[kind]
    view[:, roof] = (colours[rng.integers(len(colours))] * (1 + rng.uniform(-0.03, 0.03)))[:, None]

    inset = min(px(3.0), max(1, min(roof.shape) // 12))
    inner = minimum_filter(roof, size=2 * inset + 1, mode="constant", cval=False)
    if not inner.any():
        return
    rows, cols = np.nonzero(inner)
    sub = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    box = (window[0] + sub[0], window[1] + sub[1], window[0] + sub[2], window[1] + sub[3])
    mask = inner[sub[0] : sub[2], sub[1] : sub[3]]
    horizontal = box[3] - box[1] >= box[2] - box[0]

    def oriented(pair: tuple[int, int]) -> tuple[int, int]:
        return pair if horizontal else (pair[1], pair[0])

    if kind == "datacenter":
        unit, fan = (px(2.4), px(4.8)), px(1.2)
        pitch, size = oriented((px(4.2), px(6.0))), oriented(unit)
        occupied = scene.grid(box, pitch=pitch, size=size, colours=_UNIT, fill=0.96, mask=mask)
        if occupied is not None:
            row = (unit[0] - fan) // 2
            for col in (unit[1] // 4 - fan // 2, (3 * unit[1]) // 4 - fan // 2):
                corner = oriented((row, col))
                scene.grid(
                    box,
                    pitch=pitch,
                    size=size,
                    part=(*corner, corner[0] + fan, corner[1] + fan),
                    colours=_FAN,
                    occupied=occupied,
                    mask=mask,
                )
    elif kind == "warehouse":
        scene.grid(
            box, pitch=oriented((1, px(rng.uniform(5.0, 8.0)))), size=(1, 1), shade=0.94, mask=mask
        )
        if rng.random() < 0.5:
            scene.grid(
                box,
                pitch=oriented((px(12.0), px(18.0))),
                size=oriented((2, 3)),
                colours=_SKYLIGHT,
                mask=mask,
            )
    else:
        scene.grid(
            box,
            pitch=(px(9.0), px(11.0)),
            size=(px(2.4), px(3.0)),
            colours=_HVAC,
            fill=0.18 if kind == "retail" else 0.12,
            mask=mask,
        )


def _paint_docks(scene: _Scene, roof: Box, apron: Box) -> None:
    """Paint loading-dock doors along the roof edge that faces the truck apron."""
    px = scene.px
    depth = px(1.5)
    if apron[2] <= roof[0]:
        strip = (roof[0], roof[1], roof[0] + depth, roof[3])
    elif apron[0] >= roof[2]:
        strip = (roof[2] - depth, roof[1], roof[2], roof[3])
    elif apron[3] <= roof[1]:
        strip = (roof[0], roof[1], roof[2], roof[1] + depth)
    else:
        strip = (roof[0], roof[3] - depth, roof[2], roof[3])
    horizontal = strip[3] - strip[1] >= strip[2] - strip[0]
    pitch, size = (depth, px(4.0)), (depth, px(3.0))
    if not horizontal:
        pitch, size = pitch[::-1], size[::-1]
    scene.grid(strip, pitch=pitch, size=size, colours=_DARK, fill=0.9)


def _paint_site(
    scene: _Scene, site: _Site, polygon: shapely.Geometry | None = None
) -> shapely.Geometry:
    """Paint a placed site and return its roof footprint in CRS coordinates.

    Args:
        scene: the scene.
        site: the site, in scene pixels.
        polygon: the roof footprint (default: the union of the site's roof boxes).

    Returns:
        The roof footprint.
    """
    roof = site.roofs[0]
    for part in site.parts:
        if part.kind == "parking":
            _paint_parking(scene, part.box)
        elif part.kind == "trucks":
            _paint_trucks(scene, part.box, roof)
        elif part.kind == "substation":
            _paint_substation(scene, part.box)
        else:
            _paint_generators(scene, part.box)
    if polygon is None:
        polygon = shapely.union_all([_box_polygon(scene.transform, box) for box in site.roofs])
    _paint_roof(scene, site.kind, polygon, _Site(site.kind, site.roofs, []).bounds())
    for part in site.parts:
        if part.kind == "trucks":
            _paint_docks(scene, roof, part.box)
    return polygon


def _box_polygon(transform: Affine, box: Box) -> shapely.Polygon:
    """Return the CRS polygon covering a pixel box."""
    x0, y0 = transform @ (box[1], box[0])
    x1, y1 = transform @ (box[3], box[2])
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _pixel_bounds(transform: Affine, polygon: shapely.Geometry) -> Box:
    """Return the pixel box that holds every pixel centre inside *polygon*."""
    xmin, ymin, xmax, ymax = polygon.bounds
    corners = [~transform @ (x, y) for x in (xmin, xmax) for y in (ymin, ymax)]
    cols = [c for c, _ in corners]
    rows = [r for _, r in corners]
    return (
        math.floor(min(rows)),
        math.floor(min(cols)),
        math.ceil(max(rows)),
        math.ceil(max(cols)),
    )


def _paint_ponds(scene: _Scene) -> None:
    """Paint a few ponds (very low NIR) in free ground."""
    rng, px = scene.rng, scene.px
    area_km2 = scene.height * scene.width * scene.gsd**2 / 1e6
    cap = max(4, min(scene.height, scene.width) // 8)
    for _ in range(1 + int(rng.poisson(area_km2))):
        rh = min(px(rng.uniform(12.0, 50.0)), cap)
        rw = min(px(rng.uniform(12.0, 50.0)), cap)
        spot = scene.find_spot(2 * rh, 2 * rw, max(1, scene.margin // 3))
        if spot is None:
            continue
        box = (spot[0], spot[1], spot[0] + 2 * rh, spot[1] + 2 * rw)
        yy = (np.arange(2 * rh) + 0.5 - rh)[:, None] / rh
        xx = (np.arange(2 * rw) + 0.5 - rw)[None, :] / rw
        inside = yy**2 + xx**2 <= 1.0
        view = scene.canvas[:, box[0] : box[2], box[1] : box[3]]
        view[:, inside] = (_WATER * (1 + rng.uniform(-0.1, 0.1)))[:, None]
        scene.occupy(box)


def _paint_houses(scene: _Scene) -> None:
    """Fill free ground with blocks of houses along residential streets."""
    rng, px = scene.rng, scene.px
    cap = max(8, round(0.4 * min(scene.height, scene.width)))
    tries = 1 + round(scene.height * scene.width / px(150.0) ** 2)
    for _ in range(tries):
        bh, bw = (min(px(rng.uniform(80.0, 220.0)), cap) for _ in range(2))
        spot = scene.find_spot(bh, bw, px(6.0))
        if spot is None:
            continue
        block = (spot[0], spot[1], spot[0] + bh, spot[1] + bw)
        scene.occupy(block)
        vertical = bool(rng.random() < 0.5)

        def flip(b: Box, vertical: bool = vertical) -> Box:
            return (b[1], b[0], b[3], b[2]) if vertical else b

        def pair(p: tuple[int, int], vertical: bool = vertical) -> tuple[int, int]:
            return p[::-1] if vertical else p

        local = flip(block)
        lot_w, lot_d, street = px(rng.uniform(18.0, 26.0)), px(rng.uniform(25.0, 35.0)), px(10.0)
        house = (px(rng.uniform(9.0, 14.0)), round(lot_w * rng.uniform(0.5, 0.7)))
        shadow = px(2.5)
        top, row = local[0], 0
        while top + lot_d <= local[2]:
            strip = flip((top, local[1], top + lot_d, local[3]))
            pitch, size = pair((lot_d, lot_w)), pair(house)
            occupied = scene.grid(
                strip,
                pitch=pitch,
                size=size,
                shade=_SHADOW,
                fill=0.85,
                shift=pair((-shadow, -shadow // 2)),
            )
            if occupied is not None:
                scene.grid(strip, pitch=pitch, size=size, colours=_HOUSES, occupied=occupied)
                scene.grid(
                    strip,
                    pitch=pitch,
                    size=size,
                    part=(0, 0, *pair((house[0] // 2, house[1]))),
                    shade=0.82,
                    occupied=occupied,
                )
            top += lot_d
            row += 1
            if row % 2 == 0 and top + street <= local[2]:
                scene.fill(flip((top, local[1], top + street, local[3])), _ASPHALT)
                top += street


def _finish(scene: _Scene) -> np.ndarray:
    """Apply illumination changes and sensor noise and convert to ``uint8``."""
    rng, canvas = scene.rng, scene.canvas
    h, w = scene.height, scene.width
    rows = _smooth_field(rng, h, 1, scene.px(700.0))
    cols = _smooth_field(rng, 1, w, scene.px(700.0))
    cast = 1.0 + rng.uniform(-0.04, 0.04, 4).astype(np.float32)
    gain = 1.0 + 0.03 * (rows + cols)
    # Noise is the sum of two uniform random bytes (triangular, close to Gaussian, much
    # faster to draw), scaled to _NOISE_SIGMA; 0.5 is added so that the cast rounds.
    scale = _NOISE_SIGMA / math.sqrt(2 * (256**2 - 1) / 12)
    image = np.empty(canvas.shape, np.uint8)
    for b in range(4):
        band = canvas[b]
        band *= gain
        band *= cast[b] / scale
        for _ in range(2):
            band += np.frombuffer(rng.bytes(h * w), np.uint8).reshape(h, w)
        band -= 255.0
        band *= scale
        band += 0.5
        np.clip(band, 0.0, 255.0, out=band)
        image[b] = band
    return image


def _check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """Validate a scene size and return it as (height, width)."""
    if isinstance(size, int | np.integer):
        pair: tuple = (size, size)
    else:
        try:
            pair = tuple(size)
        except TypeError:
            pair = ()
    if len(pair) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in pair
    ):
        raise TGDCError(f"size: {size!r} is not a number of pixels or (height, width) pair")
    if not all(MIN_SIZE <= v <= MAX_SIZE for v in pair):
        raise TGDCError(
            f"size: {size!r} pixels is out of range; give {MIN_SIZE} to {MAX_SIZE} pixels a side"
        )
    return int(pair[0]), int(pair[1])


def _check_seed(seed: int) -> int:
    """Validate a random seed."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise TGDCError(f"seed: {seed!r} is not a whole number >= 0; give e.g. --seed 0")
    return int(seed)


def _check_crs(crs: str) -> CRS:
    """Parse a CRS and check that it is projected in metres."""
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as error:
        raise TGDCError(f"crs: {crs!r} is not a CRS ({error}); give e.g. EPSG:32617") from error
    if not parsed.is_projected or parsed.linear_units not in ("metre", "meter"):
        raise TGDCError(
            f"crs: {crs!r} is not a projected CRS in metres; give a UTM zone such as EPSG:32617"
        )
    return parsed


def _check_count(name: str, value: int | None) -> None:
    """Check an optional object count."""
    if value is not None and (
        not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0
    ):
        raise TGDCError(f"{name}: {value!r} is not a whole number >= 0 (or None for the default)")


def _check_number(name: str, value: float) -> float:
    """Check that a number is finite."""
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise TGDCError(f"{name}: {value!r} is not a number") from error
    if not math.isfinite(number):
        raise TGDCError(f"{name}: {value!r} is not a finite number")
    return number


def _check_datacenters(
    datacenters: Sequence[shapely.Polygon], bounds: shapely.Polygon, crs: str
) -> list[shapely.Geometry]:
    """Check explicit data-center footprints against the scene bounds."""
    polygons = list(datacenters)
    for i, polygon in enumerate(polygons):
        if (
            not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon)
            or polygon.is_empty
            or not polygon.is_valid
        ):
            raise TGDCError(
                f"datacenters[{i}]: {polygon!r} is not a valid, non-empty shapely Polygon;"
                " give roof footprints in scene CRS coordinates"
            )
        if not polygon.intersection(bounds).area > 0:
            raise TGDCError(
                f"datacenters[{i}]: footprint with bounds {polygon.bounds} misses the scene"
                f" {bounds.bounds}; give coordinates in the scene CRS ({crs})"
            )
    return polygons


def _negative_kinds(rng: np.random.Generator, count: int) -> list[str]:
    """Return the classes of *count* hard negatives: one of each first, then by seed shares."""
    kinds = list(CLASSES[1:])[:count]
    extra = rng.choice(CLASSES[1:], size=max(0, count - len(kinds)), p=_NEGATIVE_SHARES)
    return kinds + [str(k) for k in extra]


def _labels(
    objects: list[tuple[str, shapely.Geometry]], bounds: shapely.Polygon, crs: CRS, scene: str
) -> gpd.GeoDataFrame:
    """Build the label table of one scene in CRS84."""
    stem = Path(scene).stem
    numbers = dict.fromkeys(CLASSES, 0)
    rows = []
    for kind, polygon in objects:
        numbers[kind] += 1
        clipped = shapely.union_all(
            [p for p in shapely.get_parts(polygon.intersection(bounds)) if p.area > 0]
        )
        rows.append((kind, f"{stem}_{kind}_{numbers[kind]}", clipped))
    frame = gpd.GeoDataFrame(
        {
            "fid": pd.Series(np.arange(1, len(rows) + 1), dtype="int64"),
            "class": pd.Series([r[0] for r in rows], dtype=object),
            "name": pd.Series([r[1] for r in rows], dtype=object),
            "label": pd.Series([r[0] == "datacenter" for r in rows], dtype=bool),
            "scene": pd.Series([scene] * len(rows), dtype=object),
        },
        geometry=gpd.GeoSeries([r[2] for r in rows], crs=crs.to_wkt()),
    )
    return frame.to_crs("OGC:CRS84")


def generate_scene(
    path: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] = 2048,
    seed: int = 0,
    crs: str = "EPSG:32617",
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    gsd: float = 0.6,
    n_datacenters: int | None = None,
    n_negatives: int | None = None,
    datacenters: Sequence[shapely.Polygon] | None = None,
    scene_name: str | None = None,
    overwrite: bool = False,
) -> gpd.GeoDataFrame:
    """Draw one SYNTHETIC NAIP-like scene and write it as a GeoTIFF.

    The GeoTIFF has 4 ``uint8`` bands (R, G, B, NIR, no nodata value), 256 x 256 tiles and
    deflate compression, and is written atomically. The same arguments always give a
    byte-identical file.

    Args:
        path: the GeoTIFF to write.
        size: scene side in pixels, or (height, width), from :data:`MIN_SIZE` to
            :data:`MAX_SIZE`.
        seed: random seed (whole number >= 0).
        crs: projected CRS in metres of the scene (a UTM zone, as NAIP).
        origin: upper-left corner (x, y) of the scene in *crs* units.
        gsd: pixel size in metres.
        n_datacenters: number of random data centers (default: about 0.75 per 1024 x 1024
            pixels, at least 1). Must be None or ``len(datacenters)`` when *datacenters* is
            given.
        n_negatives: number of warehouses, retail and other buildings (default: about 2.5
            per 1024 x 1024 pixels, at least 3; one of each kind first). Objects that do not
            fit are left out.
        datacenters: explicit data-center roof footprints in *crs* coordinates, drawn
            instead of random ones; they may extend beyond the scene.
        scene_name: value of the ``scene`` label column (default: the file name).
        overwrite: whether an existing *path* may be replaced.

    Returns:
        The labels of the scene in CRS84: one row per labelled building with columns
        ``fid``, ``class`` (datacenter, warehouse, retail or other), ``name``, ``label``
        (true for data centers), ``scene`` and ``geometry`` (roof footprint clipped to the
        scene; the roof pixels are those whose centres it holds).

    Raises:
        TGDCError: if an argument is invalid or *path* exists and *overwrite* is false.
    """
    height, width = _check_size(size)
    seed = _check_seed(seed)
    parsed_crs = _check_crs(crs)
    gsd = _check_number("gsd", gsd)
    if not 0.05 <= gsd <= 100.0:
        raise TGDCError(f"gsd: {gsd} m is out of range; give a pixel size of 0.05 to 100 metres")
    if len(origin) != 2:
        raise TGDCError(f"origin: {origin!r} is not an (x, y) pair in CRS units")
    x0, y0 = (_check_number("origin", v) for v in origin)
    _check_count("n_datacenters", n_datacenters)
    _check_count("n_negatives", n_negatives)
    path = check_output_path(path, overwrite=overwrite)
    transform = from_origin(x0, y0, gsd, gsd)
    bounds = _box_polygon(transform, (0, 0, height, width))
    explicit = [] if datacenters is None else _check_datacenters(datacenters, bounds, crs)
    if datacenters is not None and n_datacenters not in (None, len(explicit)):
        raise TGDCError(
            f"n_datacenters: {n_datacenters} disagrees with the {len(explicit)} footprints in"
            " datacenters; leave n_datacenters unset"
        )

    rng = np.random.default_rng(seed)
    scene = _Scene(rng, height, width, gsd, transform)
    megapixels = height * width / 2**20
    if n_datacenters is None:
        n_datacenters = max(1, round(_DATACENTERS_PER_MPX * megapixels))
    if n_negatives is None:
        n_negatives = max(3, round(_NEGATIVES_PER_MPX * megapixels))

    _paint_background(scene)
    _paint_roads(scene)
    roofs = [_pixel_bounds(transform, polygon) for polygon in explicit]
    for roof in roofs:
        scene.occupy(roof)
    sites = []
    for roof in roofs:
        parts = [part for part in _datacenter_parts(scene, roof) if scene.is_free(part.box)]
        for part in parts:
            scene.occupy(part.box)
        sites.append(_Site("datacenter", [roof], parts))
    for site in sites:
        scene.occupy(site.bounds(), scene.margin)
    random_dcs = 0 if explicit else n_datacenters
    negatives = _negative_kinds(rng, n_negatives)
    queue = [(kind, i == 0) for i, kind in enumerate(["datacenter"] * random_dcs)]
    queue += [(kind, i < len(CLASSES) - 1) for i, kind in enumerate(negatives)]
    queue.sort(key=lambda item: not item[1])
    placed = [site for kind, required in queue if (site := _place(scene, kind, required))]
    _paint_ponds(scene)
    _paint_houses(scene)

    objects = [
        ("datacenter", _paint_site(scene, s, p)) for s, p in zip(sites, explicit, strict=True)
    ]
    objects += [(site.kind, _paint_site(scene, site)) for site in placed]
    image = _finish(scene)

    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 4,
        "dtype": "uint8",
        "crs": parsed_crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 2,
        "interleave": "pixel",
        "zlevel": 1,
        "photometric": "RGB",
        "num_threads": "ALL_CPUS",
    }
    with atomic_output(path, overwrite=overwrite) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(image)
        dst.descriptions = BANDS
        dst.colorinterp = [
            ColorInterp.red,
            ColorInterp.green,
            ColorInterp.blue,
            ColorInterp.undefined,
        ]
        dst.update_tags(
            TIFFTAG_IMAGEDESCRIPTION=DESCRIPTION,
            SYNTHETIC="yes",
            GENERATOR="torchgeo_datacenters.synthetic",
            SEED=str(seed),
        )
    return _labels(objects, bounds, parsed_crs, scene_name if scene_name is not None else path.name)


def scene_origin(index: int, size: int | tuple[int, int], gsd: float = 0.6) -> tuple[float, float]:
    """Return the upper-left corner of scene *index* of a set written by :func:`generate_scenes`.

    Scenes lie on a grid, eastward then southward from :data:`DEFAULT_ORIGIN`, eight to a
    row, with :data:`SCENE_GAP` metres between neighbours, so that no two scenes overlap and
    whole scenes can be split by geography.

    Args:
        index: position of the scene in the set (0, 1, ...).
        size: scene side in pixels, or (height, width).
        gsd: pixel size in metres.

    Returns:
        The corner (x, y) in CRS units.

    Raises:
        TGDCError: if *index* is negative or *size* invalid.
    """
    height, width = _check_size(size)
    if index < 0:
        raise TGDCError(f"index: {index} is negative; scenes are numbered from 0")
    row, col = divmod(index, _SCENES_PER_ROW)
    return (
        DEFAULT_ORIGIN[0] + col * (width * gsd + SCENE_GAP),
        DEFAULT_ORIGIN[1] - row * (height * gsd + SCENE_GAP),
    )


def generate_scenes(
    output_dir: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] = 2048,
    count: int = 4,
    seed: int = 0,
    crs: str = "EPSG:32617",
    gsd: float = 0.6,
    overwrite: bool = False,
    progress: bool = True,
) -> SyntheticDataset:
    """Write a set of SYNTHETIC NAIP-like scenes and their ``labels.geojson``.

    Writes ``scene_000.tif``, ``scene_001.tif``, ... (see :func:`generate_scene`) at the
    places given by :func:`scene_origin`, and ``labels.geojson``: the labels of every scene
    in CRS84 with the columns of the seed label file (``fid``, unique in the file,
    ``class``, ``name``, ``label``) plus ``scene``, the scene's file name. Each scene gets its
    own seed derived from *seed* and its index.

    Args:
        output_dir: directory for the files (created if missing).
        size: scene side in pixels, or (height, width).
        count: number of scenes (1 to 1000).
        seed: random seed (whole number >= 0).
        crs: projected CRS in metres (a UTM zone).
        gsd: pixel size in metres.
        overwrite: whether existing scene and label files may be replaced.
        progress: whether to show a progress bar over scenes.

    Returns:
        The paths written and the labels.

    Raises:
        TGDCError: if an argument is invalid, *output_dir* is a file, or an output exists
            and *overwrite* is false.
    """
    height, width = _check_size(size)
    seed = _check_seed(seed)
    if not isinstance(count, int | np.integer) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise TGDCError(f"count: {count!r} is out of range; give 1 to 1000 scenes")
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise TGDCError(f"{output_dir}: is a file; give a directory for the scenes")
    output_dir.mkdir(parents=True, exist_ok=True)
    scene_paths = [output_dir / f"scene_{i:03d}.tif" for i in range(count)]
    labels_path = output_dir / "labels.geojson"
    for path in [*scene_paths, labels_path]:
        check_output_path(path, overwrite=overwrite)

    frames = []
    for i, path in enumerate(tqdm(scene_paths, desc="synth", unit="scene", disable=not progress)):
        frames.append(
            generate_scene(
                path,
                size=(height, width),
                seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
                crs=crs,
                origin=scene_origin(i, (height, width), gsd),
                gsd=gsd,
                overwrite=overwrite,
            )
        )
    labels = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    labels["fid"] = np.arange(1, len(labels) + 1, dtype="int64")
    with atomic_output(labels_path, overwrite=overwrite) as tmp:
        labels.to_file(tmp, driver="GeoJSON", layer="labels")
    return SyntheticDataset(scene_paths=scene_paths, labels_path=labels_path, labels=labels)
