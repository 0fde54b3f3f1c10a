"""The ground that belongs to a SYNTHETIC building: car parks, truck aprons, yards.

A :class:`Site` is a labelled building (its roof boxes) with the :class:`Part` boxes around
it; :data:`PART_KINDS` says how each kind of part is painted, so a building class
(:mod:`.buildings`) only lays its parts out.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .canvas import Box, Canvas
from .palette import (
    ASPHALT,
    CARS,
    CONCRETE,
    DARK,
    FAN,
    GENERATOR,
    GRAVEL,
    MARKING,
    TRAILERS,
    TRANSFORMER,
)


@dataclass
class Part:
    """One drawn piece of a site: a roof, lot, yard or substation, in scene pixels."""

    kind: str
    box: Box


@dataclass
class Site:
    """A labelled building with the ground around it that belongs to it."""

    kind: str
    roofs: list[Box]
    parts: list[Part]

    def bounds(self) -> Box:
        """Return the pixel box around every roof and part."""
        boxes = self.roofs + [part.box for part in self.parts]
        return (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )

    def moved(self, dr: int, dc: int, transpose: bool = False) -> "Site":
        """Return the site shifted by *dr*, *dc* pixels, optionally transposed first."""

        def move(box: Box) -> Box:
            if transpose:
                box = (box[1], box[0], box[3], box[2])
            return (box[0] + dr, box[1] + dc, box[2] + dr, box[3] + dc)

        return Site(
            self.kind,
            [move(b) for b in self.roofs],
            [Part(p.kind, move(p.box)) for p in self.parts],
        )


def paint_parking(scene: Canvas, box: Box) -> None:
    """Paint an asphalt car park with stall lines and cars, rows along its long side."""
    px = scene.px
    scene.fill(box, ASPHALT)
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
            colours=MARKING,
            jitter=0.02,
        )
        scene.grid(
            box,
            pitch=oriented((module, stall)),
            size=oriented(car),
            shift=oriented((row - depth // 2 - aisle // 2, stall // 2)),
            colours=CARS,
            fill=fill,
        )


def paint_trucks(scene: Canvas, box: Box, roof: Box) -> None:
    """Paint a truck apron with trailers backed onto the dock wall and parked across the lot."""
    px, rng = scene.px, scene.rng
    scene.fill(box, CONCRETE if rng.random() < 0.4 else ASPHALT)
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
            colours=TRAILERS,
            fill=fill,
        )


def paint_substation(scene: Canvas, box: Box) -> None:
    """Paint a fenced gravel yard with rows of transformers and bus lines."""
    px = scene.px
    scene.fill(box, GRAVEL)
    r0, c0, r1, c1 = box
    view = scene.canvas[:, r0:r1, c0:c1]
    view += scene.rng.normal(0.0, 12.0, (1, r1 - r0, c1 - c0)).astype(np.float32)
    view[:, [0, -1], :] = DARK[0][:, None, None]
    view[:, :, [0, -1]] = DARK[0][:, None, None]
    inner = (r0 + 2, c0 + 2, r1 - 2, c1 - 2)
    scene.grid(
        inner, pitch=(px(9.0), px(7.0)), size=(px(1.0), px(7.0)), colours=MARKING[:, :] * 0.85
    )
    scene.grid(inner, pitch=(px(9.0), px(7.0)), size=(px(3.6), px(3.6)), colours=TRANSFORMER)


def paint_generators(scene: Canvas, box: Box) -> None:
    """Paint a concrete pad with a row of generator enclosures across it."""
    px = scene.px
    scene.fill(box, CONCRETE)
    horizontal = box[3] - box[1] >= box[2] - box[0]
    across = (box[2] - box[0]) if horizontal else (box[3] - box[1])
    length = max(1, min(px(12.0), across - 2))
    size, pitch, top = (length, px(3.0)), (length, px(5.5)), (0, 0, max(1, length // 6), px(3.0))
    if not horizontal:
        size, pitch, top = size[::-1], pitch[::-1], (0, 0, top[3], top[2])
    occupied = scene.grid(box, pitch=pitch, size=size, colours=GENERATOR, fill=0.95)
    if occupied is not None:
        scene.grid(box, pitch=pitch, size=size, part=top, colours=FAN, occupied=occupied)


def paint_docks(scene: Canvas, roof: Box, apron: Box) -> None:
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
    scene.grid(strip, pitch=pitch, size=size, colours=DARK, fill=0.9)


@dataclass(frozen=True)
class PartKind:
    """How one kind of :class:`Part` is painted.

    Attributes:
        paint: paints the part, before the roof: ``paint(scene, part_box, roof_box)``.
        paint_roof_edge: paints details on the roof edge that faces the part, after the
            roof (e.g. loading-dock doors), with the same arguments; None for none.
    """

    paint: Callable[[Canvas, Box, Box], None]
    paint_roof_edge: Callable[[Canvas, Box, Box], None] | None = None


PART_KINDS = {
    "parking": PartKind(lambda scene, box, _roof: paint_parking(scene, box)),
    "trucks": PartKind(paint_trucks, lambda scene, box, roof: paint_docks(scene, roof, box)),
    "substation": PartKind(lambda scene, box, _roof: paint_substation(scene, box)),
    "generators": PartKind(lambda scene, box, _roof: paint_generators(scene, box)),
}
"""The kinds of parts a building class may lay out, by :attr:`Part.kind`."""
