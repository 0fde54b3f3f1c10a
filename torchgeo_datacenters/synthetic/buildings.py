"""The labelled building classes of the SYNTHETIC scenes, one :class:`BuildingSpec` each.

A spec says how large a class's roofs are (log-normal areas with the medians and spreads
of the seed label file, whose quartiles give ``sigma = ln(q3 / q1) / 1.349``), how often it
occurs among hard negatives, how tall it is (for its shadow), the colours of its roof, what
it has around it (:mod:`.parts`) and what it has on its roof. :data:`BUILDINGS` lists the
specs by class name; adding a class means adding a spec there.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import NamedTuple

import numpy as np

from ..naip import DATACENTER_CLASS, OTHER_CLASS, RETAIL_CLASS, WAREHOUSE_CLASS
from .canvas import Box, Canvas
from .palette import FAN, HVAC, SKYLIGHT, UNIT
from .parts import Part


class RoofSizes(NamedTuple):
    """The roof sizes of a building class, measured on the seed label file.

    Attributes:
        median_area: median roof area in m².
        sigma: log-normal spread of the roof area.
        area_range: smallest and largest roof area in m².
        aspect_range: smallest and largest ratio of the roof's long side to its short side.
        max_side: largest roof side as a fraction of the scene's shorter side.
    """

    median_area: float
    sigma: float
    area_range: tuple[float, float]
    aspect_range: tuple[float, float]
    max_side: float


@dataclass(frozen=True)
class BuildingSpec:
    """How one class of labelled building is sized, laid out and painted.

    Attributes:
        name: the class name, as in the seed label file's ``class`` field.
        sizes: the sizes of its roofs.
        height: building height in metres (sets the length of its shadow).
        roof_colours: roof colours (R, G, B, NIR), shape (k, 4); one is drawn per roof.
        layout: ``layout(scene, roof)`` lays out the site around a roof box and returns
            the extra roof boxes (wings) and the parts around it, in scene pixels.
        paint_rooftop: ``paint_rooftop(scene, box, mask)`` paints the details on a roof:
            *box* is the pixel box of the roof's interior, *mask* the boolean interior
            pixels within it.
        label: whether the class is a data center (the ``label`` field).
        share: share among the hard negatives of a scene (0 for data centers).
    """

    name: str
    sizes: RoofSizes
    height: float
    roof_colours: np.ndarray
    layout: Callable[[Canvas, Box], tuple[list[Box], list[Part]]]
    paint_rooftop: Callable[[Canvas, Box, np.ndarray], None]
    label: bool = False
    share: float = 0.0


def along(box: Box, pair: tuple[int, int]) -> tuple[int, int]:
    """Return a (rows, cols) *pair* given for a wide box, turned to suit *box*'s long side."""
    return pair if box[3] - box[1] >= box[2] - box[0] else (pair[1], pair[0])


# What lies around each class of building (laid out with the roof at pixel (0, 0)).


def datacenter_parts(scene: Canvas, roof: Box) -> list[Part]:
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
    parts.append(Part("generators", (top, start, top + depth, start + length)))
    side = min(px(np.clip(0.35 * h * scene.gsd, 20.0, 60.0)), max(4, round(0.6 * h)))
    gap = min(px(rng.uniform(8.0, 20.0)), max(2, h // 8))
    row = r0 + int(rng.integers(0, max(1, h - side + 1)))
    left = c1 + gap if rng.random() < 0.5 else c0 - gap - side
    parts.append(Part("substation", (row, left, row + side, left + side)))
    if rng.random() < 0.5:
        lot_depth = min(px(rng.uniform(12.0, 20.0)), max(3, h // 3))
        lot_length = round(w * rng.uniform(0.2, 0.4))
        top = r1 + gap if above else r0 - gap - lot_depth
        parts.append(Part("parking", (top, c0, top + lot_depth, c0 + lot_length)))
    return parts


def warehouse_parts(scene: Canvas, roof: Box) -> tuple[list[Box], list[Part]]:
    """Lay out truck aprons on one or two long sides and maybe a car park at one end."""
    rng, px = scene.rng, scene.px
    h, w = roof[2], roof[3]
    parts = []
    depth = min(px(rng.uniform(35.0, 55.0)), round(0.9 * w), max(4, round(1.2 * h)))
    docks = [rng.random() < 0.5]
    if rng.random() < 0.35:
        docks.append(not docks[0])
    for above in docks:
        top = -depth if above else h
        parts.append(Part("trucks", (top, 0, top + depth, w)))
    if rng.random() < 0.5:
        lot = min(px(rng.uniform(15.0, 25.0)), max(3, w // 4))
        gap = min(px(5.0), max(1, lot // 4))
        parts.append(Part("parking", (0, w + gap, h, w + gap + lot)))
    return [], parts


def retail_parts(scene: Canvas, roof: Box) -> tuple[list[Box], list[Part]]:
    """Lay out a car park full of cars in front of a store, wider than the store."""
    rng, px = scene.rng, scene.px
    h, w = roof[2], roof[3]
    depth = max(min(px(20.0), h), round(h * rng.uniform(0.8, 2.0)))
    length = round(w * rng.uniform(1.0, 1.5))
    left = (w - length) // 2
    top = -depth if rng.random() < 0.5 else h
    return [], [Part("parking", (top, left, top + depth, left + length))]


def other_parts(scene: Canvas, roof: Box) -> tuple[list[Box], list[Part]]:
    """Lay out an optional wing (an L-shaped office or school) and maybe a side car park."""
    rng, px = scene.rng, scene.px
    h, w = roof[2], roof[3]
    wings, parts = [], []
    if rng.random() < 0.6:
        wing_w = round(w * rng.uniform(0.3, 0.5))
        wing_h = round(h * rng.uniform(0.4, 0.8))
        left = 0 if rng.random() < 0.5 else w - wing_w
        top = -wing_h if rng.random() < 0.5 else h
        wings.append((top, left, top + wing_h, left + wing_w))
    if rng.random() < 0.6:
        lot = min(px(rng.uniform(15.0, 30.0)), max(3, w // 3))
        gap = min(px(6.0), max(1, lot // 4))
        parts.append(Part("parking", (0, w + gap, h, w + gap + lot)))
    return wings, parts


# What lies on the roofs.


def paint_cooling_units(scene: Canvas, box: Box, mask: np.ndarray) -> None:
    """Paint regular rows of rooftop cooling units, each with two dark fans."""
    px = scene.px
    unit, fan = (px(2.4), px(4.8)), px(1.2)
    pitch, size = along(box, (px(4.2), px(6.0))), along(box, unit)
    occupied = scene.grid(box, pitch=pitch, size=size, colours=UNIT, fill=0.96, mask=mask)
    if occupied is not None:
        row = (unit[0] - fan) // 2
        for col in (unit[1] // 4 - fan // 2, (3 * unit[1]) // 4 - fan // 2):
            corner = along(box, (row, col))
            scene.grid(
                box,
                pitch=pitch,
                size=size,
                part=(*corner, corner[0] + fan, corner[1] + fan),
                colours=FAN,
                occupied=occupied,
                mask=mask,
            )


# Warehouses: light roofs with loading-dock doors along one or two sides and trailer lots.


def paint_ribs_and_skylights(scene: Canvas, box: Box, mask: np.ndarray) -> None:
    """Paint faint roof ribs across the long side and, on half the roofs, skylights."""
    rng, px = scene.rng, scene.px
    scene.grid(
        box, pitch=along(box, (1, px(rng.uniform(5.0, 8.0)))), size=(1, 1), shade=0.94, mask=mask
    )
    if rng.random() < 0.5:
        scene.grid(
            box,
            pitch=along(box, (px(12.0), px(18.0))),
            size=along(box, (2, 3)),
            colours=SKYLIGHT,
            mask=mask,
        )


def paint_cold_storage_roof(scene: Canvas, box: Box, mask: np.ndarray) -> None:
    """Paint a warehouse roof with rows of refrigeration condensers over one end of it.

    The condensers of a cold store are drawn as a data center's cooling units are, over 30
    to 60% of the roof's long side at one end; the rest of the roof has ribs and skylights.
    """
    rng = scene.rng
    paint_ribs_and_skylights(scene, box, mask)
    r0, c0, r1, c1 = box
    wide = c1 - c0 >= r1 - r0
    length = round((c1 - c0 if wide else r1 - r0) * rng.uniform(0.3, 0.6))
    first = rng.random() < 0.5
    if wide:
        cols = (c0, c0 + length) if first else (c1 - length, c1)
        part, inside = (r0, cols[0], r1, cols[1]), mask[:, cols[0] - c0 : cols[1] - c0]
    else:
        rows = (r0, r0 + length) if first else (r1 - length, r1)
        part, inside = (rows[0], c0, rows[1], c1), mask[rows[0] - r0 : rows[1] - r0]
    paint_cooling_units(scene, part, inside)


# Retail and other buildings: smaller roofs with scattered HVAC units.


def paint_hvac(scene: Canvas, box: Box, mask: np.ndarray, *, fill: float) -> None:
    """Paint HVAC units scattered over a roof, a share *fill* of the places taken."""
    px = scene.px
    scene.grid(
        box,
        pitch=(px(9.0), px(11.0)),
        size=(px(2.4), px(3.0)),
        colours=HVAC,
        fill=fill,
        mask=mask,
    )


DATACENTER = BuildingSpec(
    name=DATACENTER_CLASS,
    sizes=RoofSizes(18_800.0, 0.75, (2_800.0, 125_000.0), (1.0, 2.2), max_side=0.4),
    height=15.0,
    roof_colours=np.array([[226, 227, 229, 198], [210, 212, 214, 182], [232, 232, 230, 204]]),
    layout=lambda scene, roof: ([], datacenter_parts(scene, roof)),
    paint_rooftop=paint_cooling_units,
    label=True,
)

WAREHOUSE = BuildingSpec(
    name=WAREHOUSE_CLASS,
    sizes=RoofSizes(36_000.0, 0.95, (5_000.0, 82_000.0), (1.6, 3.5), max_side=0.35),
    height=11.0,
    roof_colours=np.array([[224, 225, 226, 196], [208, 210, 212, 180], [206, 196, 176, 166]]),
    layout=warehouse_parts,
    paint_rooftop=paint_ribs_and_skylights,
    share=0.37,
)

RETAIL = BuildingSpec(
    name=RETAIL_CLASS,
    sizes=RoofSizes(4_500.0, 1.2, (900.0, 44_000.0), (1.0, 2.5), max_side=0.2),
    height=7.0,
    roof_colours=np.array([[222, 222, 222, 192], [200, 186, 160, 158], [166, 166, 170, 134]]),
    layout=retail_parts,
    paint_rooftop=partial(paint_hvac, fill=0.18),
    share=0.33,
)

OTHER = BuildingSpec(
    name=OTHER_CLASS,
    sizes=RoofSizes(4_800.0, 0.97, (1_800.0, 45_000.0), (1.0, 2.2), max_side=0.2),
    height=9.0,
    roof_colours=np.array([[150, 136, 116, 120], [128, 128, 132, 104], [96, 96, 100, 78]]),
    layout=other_parts,
    paint_rooftop=partial(paint_hvac, fill=0.12),
    share=0.30,
)

BUILDINGS = {spec.name: spec for spec in (DATACENTER, WAREHOUSE, RETAIL, OTHER)}
"""Every building class, data centers first, by class name."""

LOOKALIKE_BUILDINGS = {
    **BUILDINGS,
    WAREHOUSE_CLASS: replace(
        WAREHOUSE,
        sizes=DATACENTER.sizes,
        roof_colours=DATACENTER.roof_colours,
    ),
}
""":data:`BUILDINGS` with warehouses as large and bright as data centers.

Their roofs take the data centers' sizes (areas, shapes) and roof colours, so only what is
on and around a roof (ribs, skylights, dock doors and trailers against rows of cooling
units, generators and a substation) tells the two apart: the hard case of the task.
"""

COLD_STORAGE_BUILDINGS = {
    **LOOKALIKE_BUILDINGS,
    WAREHOUSE_CLASS: replace(
        LOOKALIKE_BUILDINGS[WAREHOUSE_CLASS], paint_rooftop=paint_cold_storage_roof
    ),
}
""":data:`LOOKALIKE_BUILDINGS` with warehouses that are cold stores.

Refrigerated warehouses carry rows of rooftop condensers much like a data center's cooling
units (:func:`paint_cold_storage_roof`), so only the rest of the roof and what lies around
it (dock doors and trailers against generators and a substation) tell them apart. A model
shown data centers alone takes them for data centers: the look-alike a reviewer's
verdicts must teach.
"""


def roof_size(
    rng: np.random.Generator,
    kind: str,
    gsd: float,
    side: int,
    shrink: float = 1.0,
    buildings: Mapping[str, BuildingSpec] = BUILDINGS,
) -> tuple[int, int]:
    """Draw a roof size for a *kind* of building.

    Args:
        rng: random generator.
        kind: the class of the building (a key of :data:`BUILDINGS`).
        gsd: pixel size in metres.
        side: the shorter side of the scene in pixels (roofs are capped to a share of it).
        shrink: factor applied after the cap, to make room.
        buildings: the building specs by class (:data:`BUILDINGS` or
            :data:`LOOKALIKE_BUILDINGS`).

    Returns:
        The roof size (rows, cols) in pixels, long side horizontal.
    """
    sizes = buildings[kind].sizes
    lo, hi = sizes.area_range
    area = float(np.clip(sizes.median_area * math.exp(sizes.sigma * rng.standard_normal()), lo, hi))
    aspect = rng.uniform(*sizes.aspect_range)
    long_side = math.sqrt(area * aspect) / gsd
    short_side = math.sqrt(area / aspect) / gsd
    scale = min(1.0, sizes.max_side * side / long_side) * shrink
    return max(6, round(short_side * scale)), max(8, round(long_side * scale))
