"""Outline quality of matched data centers: how well each outline draws its building.

Object scores say whether a data center was found; these say how well its outline draws
it, as the best public building maps report it (Microsoft's US building footprints give
the IoU of matched buildings and the error of their rotation). For every detection
matched one-to-one to a true footprint (e.g. at IoU >= 0.5 by
:func:`torchgeo_datacenters.tasks.object_metrics.match_polygons`):

* **outline IoU** with the true footprint;
* **direction error**: the angle, in degrees (0 to 45), between the main wall directions
  of the outline and of the footprint (:func:`main_direction`);
* **vertices**: the number of vertices of every ring, the closing point not counted;
* **right angles**: the share of corners (vertices where the outline turns by more than
  :data:`STRAIGHT_DEGREES`) within :data:`RIGHT_ANGLE_DEGREES` of 90 degrees. A pixel
  staircase has only right angles, so read it with the vertex count.

All outlines are measured in metres (give them in a metric CRS).
"""

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .outlines import wall_directions

#: A corner within this many degrees of 90 is a right angle.
RIGHT_ANGLE_DEGREES = 5.0

#: A vertex where an outline turns by less than this, in degrees, is no corner.
STRAIGHT_DEGREES = 1.0


@dataclass(frozen=True)
class OutlineQuality:
    """Outline quality of the matched data centers, pooled.

    Attributes:
        matched: number of detections matched to a true footprint.
        iou: mean outline IoU of the matched detections with their footprints.
        direction_error: median error of the main wall direction, in degrees.
        vertices: median vertex count.
        right_angles: share of all their corners within :data:`RIGHT_ANGLE_DEGREES` of
            90 degrees.
    """

    matched: int
    iou: float
    direction_error: float
    vertices: float
    right_angles: float


def main_direction(polygon: BaseGeometry) -> float:
    """Main wall direction of a polygon: the mean of its walls' directions modulo 90.

    Walls are weighted by length, and directions averaged on the circle of period 90
    degrees (walls at right angles count as one direction).

    Args:
        polygon: a (Multi)Polygon, in metres.

    Returns:
        The direction in degrees from the x axis, from 0 (inclusive) to 90.
    """
    lengths, degrees = wall_directions(polygon)
    mean = np.angle(np.sum(lengths * np.exp(4j * np.radians(degrees)))) / 4
    # A tiny negative angle wraps to 90 - 1e-15, which rounds to 90: wrap twice.
    return float(np.degrees(mean) % 90 % 90)


def direction_error(a: BaseGeometry, b: BaseGeometry) -> float:
    """Angle between the main wall directions of two polygons.

    Args:
        a: a (Multi)Polygon, in metres.
        b: another, in the same CRS.

    Returns:
        The angle in degrees, from 0 to 45.
    """
    difference = (main_direction(a) - main_direction(b)) % 90
    return float(min(difference, 90 - difference))


def corner_angles(polygon: BaseGeometry) -> np.ndarray:
    """The angle at every corner of a polygon's rings.

    Args:
        polygon: a (Multi)Polygon, in metres.

    Returns:
        The angles between the walls meeting at each corner, in degrees (0 to 180;
        vertices where the outline turns by less than :data:`STRAIGHT_DEGREES` are left
        out).
    """
    angles = []
    for ring in shapely.get_rings(shapely.get_parts(polygon)):
        coords = shapely.get_coordinates(ring)[:-1]
        before = coords - np.roll(coords, 1, axis=0)
        after = np.roll(coords, -1, axis=0) - coords
        cos = np.sum(before * after, axis=1) / (
            np.hypot(before[:, 0], before[:, 1]) * np.hypot(after[:, 0], after[:, 1])
        )
        turn = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        angles.append(180 - turn[turn >= STRAIGHT_DEGREES])
    return np.concatenate(angles) if angles else np.zeros(0)


def vertex_count(polygon: BaseGeometry) -> int:
    """Vertices of every ring of a (Multi)Polygon, the closing points not counted."""
    rings = shapely.get_rings(shapely.get_parts(polygon))
    return int(sum(len(shapely.get_coordinates(ring)) - 1 for ring in rings))


def outline_quality(found: np.ndarray, truth: np.ndarray) -> OutlineQuality:
    """Outline quality of detections matched to true footprints.

    Args:
        found: the matched detections' outlines, in a metric CRS.
        truth: the true footprint of each, in the same CRS and order.

    Returns:
        The pooled outline quality (NaN where nothing matched).
    """
    if not len(found):
        return OutlineQuality(0, float("nan"), float("nan"), float("nan"), float("nan"))
    iou = shapely.area(shapely.intersection(found, truth)) / shapely.area(
        shapely.union(found, truth)
    )
    corners = np.concatenate([corner_angles(outline) for outline in found])
    errors = [direction_error(a, b) for a, b in zip(found, truth, strict=True)]
    return OutlineQuality(
        matched=len(found),
        iou=float(iou.mean()),
        direction_error=float(np.median(errors)),
        vertices=float(np.median([vertex_count(outline) for outline in found])),
        right_angles=float(np.mean(np.abs(corners - 90) <= RIGHT_ANGLE_DEGREES))
        if corners.size
        else float("nan"),
    )
