"""The ground of a SYNTHETIC scene: vegetation, roads, ponds, houses and the sensor.

Drawn around the labelled buildings: grass, dry grass, bare soil and trees (high NIR),
straight roads, ponds (very low NIR), blocks of houses on free ground and, last, gentle
illumination changes and per-pixel sensor noise. The :data:`LANDSCAPES` set what covers
the ground: ``mixed`` (grass, soil and trees, with blocks of houses: suburbs), ``farmland``
(rectangular fields of crops and bare soil in rows, hedges of trees) or ``forest``
(closed canopy with clearings); only ``mixed`` fills free ground with houses.
"""

import math

import numpy as np

from ..naip import DTYPE, VALUE_RANGE
from .canvas import Box, Canvas, smooth_field
from .palette import (
    ASPHALT,
    DRY_GRASS,
    GRASS,
    HOUSES,
    MARKING,
    NOISE_SIGMA,
    SHADOW,
    SOIL,
    TREES,
    WATER,
)

#: What covers the ground of a scene (see the module's help).
LANDSCAPES = ("mixed", "farmland", "forest")


def paint_background(scene: Canvas, landscape: str = "mixed") -> None:
    """Paint the ground of a landscape: grass, dry grass, bare soil, crops and trees.

    Args:
        scene: the scene.
        landscape: one of :data:`LANDSCAPES`.
    """
    if landscape == "farmland":
        paint_fields(scene)
        return
    rng, h, w, canvas = scene.rng, scene.height, scene.width, scene.canvas
    moisture = smooth_field(rng, h, w, scene.px(180.0))
    soil = smooth_field(rng, h, w, scene.px(120.0)) > 1.3
    trees = smooth_field(rng, h, w, scene.px(10.0)) + 0.6 * moisture
    # Forest: canopy wherever the tree field is above its lowest fifth (clearings).
    canopy = np.flatnonzero(trees > (1.2 if landscape == "mixed" else -0.85))
    crowns = 1.1 - 0.35 * np.minimum(trees.ravel()[canopy] - 1.2, 1.0)
    crowns *= rng.uniform(0.85, 1.15, crowns.size).astype(np.float32)
    green = moisture
    green *= 0.4
    green += 0.5
    np.clip(green, 0.0, 1.0, out=green)
    for b in range(4):
        band = canvas[b]
        np.multiply(green, GRASS[b] - DRY_GRASS[b], out=band)
        band += DRY_GRASS[b]
        np.copyto(band, SOIL[b], where=soil)
        band.ravel()[canopy] = crowns * TREES[b]


def paint_fields(scene: Canvas) -> None:
    """Paint farmland: fields of 150 to 450 m, each of one crop or bare soil, in rows.

    Crops are grass and dry-grass mixtures of one shade per field (high NIR), with rows
    every 1.5 to 3 m along one axis; bare fields are soil. Fields are parted by hedges of
    trees 3 to 6 m wide.
    """
    rng, h, w, canvas, px = scene.rng, scene.height, scene.width, scene.canvas, scene.px
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :]
    top = 0
    while top < h:
        bottom = min(h, top + px(rng.uniform(150.0, 450.0)))
        left = 0
        while left < w:
            right = min(w, left + px(rng.uniform(150.0, 450.0)))
            field = canvas[:, top:bottom, left:right]
            if rng.random() < 0.3:
                colour = SOIL * rng.uniform(0.85, 1.15)
            else:
                green = rng.uniform(0.3, 1.0)
                colour = green * GRASS + (1 - green) * DRY_GRASS
            pitch = max(2, px(rng.uniform(1.5, 3.0)))
            across = rows[top:bottom] if rng.random() < 0.5 else cols[:, left:right]
            furrows = np.where(across % pitch == 0, 0.85, 1.0).astype(np.float32)
            field[:] = colour[:, None, None] * furrows
            hedge = px(rng.uniform(3.0, 6.0))
            field[:, :hedge] = TREES[:, None, None]
            field[:, :, :hedge] = TREES[:, None, None]
            left = right
        top = bottom


def paint_roads(scene: Canvas) -> None:
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
            scene.fill(box, ASPHALT)
            scene.grid(line_box, pitch=pitch, size=size, colours=MARKING)
            scene.occupy(box)


def paint_ponds(scene: Canvas) -> None:
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
        view[:, inside] = (WATER * (1 + rng.uniform(-0.1, 0.1)))[:, None]
        scene.occupy(box)


def paint_houses(scene: Canvas) -> None:
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
                shade=SHADOW,
                fill=0.85,
                shift=pair((-shadow, -shadow // 2)),
            )
            if occupied is not None:
                scene.grid(strip, pitch=pitch, size=size, colours=HOUSES, occupied=occupied)
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
                scene.fill(flip((top, local[1], top + street, local[3])), ASPHALT)
                top += street


def finish(scene: Canvas) -> np.ndarray:
    """Apply illumination changes and sensor noise and convert to ``uint8``."""
    rng, canvas = scene.rng, scene.canvas
    h, w = scene.height, scene.width
    rows = smooth_field(rng, h, 1, scene.px(700.0))
    cols = smooth_field(rng, 1, w, scene.px(700.0))
    cast = 1.0 + rng.uniform(-0.04, 0.04, 4).astype(np.float32)
    gain = 1.0 + 0.03 * (rows + cols)
    # Noise is the sum of two uniform random bytes (triangular, close to Gaussian, much
    # faster to draw), scaled to NOISE_SIGMA; 0.5 is added so that the cast rounds.
    scale = NOISE_SIGMA / math.sqrt(2 * (256**2 - 1) / 12)
    image = np.empty(canvas.shape, DTYPE)
    for b in range(4):
        band = canvas[b]
        band *= gain
        band *= cast[b] / scale
        for _ in range(2):
            band += np.frombuffer(rng.bytes(h * w), np.uint8).reshape(h, w)
        band -= 255.0
        band *= scale
        band += 0.5
        np.clip(band, *VALUE_RANGE, out=band)
        image[b] = band
    return image
