"""Placing and painting the labelled buildings of a SYNTHETIC scene, whatever their class.

What differs between classes lives in their :class:`~.buildings.BuildingSpec`; this module
sizes a site, finds free room for it, and paints its parts, its shadow, its roof (by
rasterizing the very roof polygon that becomes its label, pixel-centre rule) and its
rooftop details.
"""

import numpy as np
import shapely
from scipy.ndimage import minimum_filter
from shapely.geometry.base import BaseGeometry

from .buildings import roof_size
from .canvas import Box, Canvas, box_polygon, roof_mask
from .palette import SHADOW
from .parts import PART_KINDS, Site


def layout_site(scene: Canvas, kind: str, shrink: float) -> Site:
    """Lay out a site of *kind* with its roof at pixel (0, 0), long side horizontal."""
    side = min(scene.height, scene.width)
    h, w = roof_size(scene.rng, kind, scene.gsd, side, shrink, scene.buildings)
    roof = (0, 0, h, w)
    wings, parts = scene.buildings[kind].layout(scene, roof)
    return Site(kind, [roof, *wings], parts)


def place(scene: Canvas, kind: str, required: bool) -> Site | None:
    """Find room for a new site of *kind*, shrinking it when *required* and it does not fit."""
    rounds = 12 if required else 2
    for attempt in range(rounds):
        site = layout_site(scene, kind, shrink=0.8**attempt)
        transpose = bool(scene.rng.random() < 0.5)
        site = site.moved(0, 0, transpose)
        r0, c0, r1, c1 = site.bounds()
        spot = scene.find_spot(r1 - r0, c1 - c0, scene.margin)
        if spot is not None:
            site = site.moved(spot[0] - r0, spot[1] - c0)
            scene.occupy(site.bounds(), scene.margin)
            return site
    return None


def paint_roof(scene: Canvas, kind: str, polygon: BaseGeometry, bounds: Box) -> None:
    """Paint a roof with its shadow and the rooftop details of its class.

    Args:
        scene: the scene.
        kind: the class of the building.
        polygon: the roof footprint in CRS coordinates.
        bounds: pixel box around the roof (may extend beyond the scene).
    """
    rng, px = scene.rng, scene.px
    spec = scene.buildings[kind]
    shadow = max(1, min(px(0.7 * spec.height * rng.uniform(0.8, 1.2)), scene.margin - 1))
    window = (
        max(0, bounds[0] - shadow),
        max(0, bounds[1] - shadow),
        min(scene.height, bounds[2]),
        min(scene.width, bounds[3]),
    )
    if window[2] <= window[0] or window[3] <= window[1]:
        return
    roof = roof_mask(scene, polygon, window)
    shade = np.zeros_like(roof)
    for step in range(1, shadow + 1, max(1, shadow // 4)):
        dr, dc = step, step // 2
        shade[:-dr, : roof.shape[1] - dc] |= roof[dr:, dc:]
    shade &= ~roof
    view = scene.canvas[:, window[0] : window[2], window[1] : window[3]]
    view[:, shade] *= SHADOW
    colours = spec.roof_colours
    view[:, roof] = (colours[rng.integers(len(colours))] * (1 + rng.uniform(-0.03, 0.03)))[:, None]

    inset = min(px(3.0), max(1, min(roof.shape) // 12))
    inner = minimum_filter(roof, size=2 * inset + 1, mode="constant", cval=False)
    if not inner.any():
        return
    rows, cols = np.nonzero(inner)
    sub = (int(rows.min()), int(cols.min()), int(rows.max()) + 1, int(cols.max()) + 1)
    box = (window[0] + sub[0], window[1] + sub[1], window[0] + sub[2], window[1] + sub[3])
    spec.paint_rooftop(scene, box, inner[sub[0] : sub[2], sub[1] : sub[3]])


def paint_site(scene: Canvas, site: Site, polygon: BaseGeometry | None = None) -> BaseGeometry:
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
        PART_KINDS[part.kind].paint(scene, part.box, roof)
    if polygon is None:
        polygon = shapely.union_all([box_polygon(scene.transform, box) for box in site.roofs])
    paint_roof(scene, site.kind, polygon, Site(site.kind, site.roofs, []).bounds())
    for part in site.parts:
        edge = PART_KINDS[part.kind].paint_roof_edge
        if edge is not None:
            edge(scene, part.box, roof)
    return polygon
