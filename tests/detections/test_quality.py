"""Tests of the outline quality measures on exact geometries."""

import math

import numpy as np
import pytest
import shapely
from shapely import affinity

from torchgeo_datacenters.detections.quality import (
    corner_angles,
    direction_error,
    main_direction,
    outline_quality,
    vertex_count,
)

RECTANGLE = shapely.box(0, 0, 120, 60)
COURTYARD = shapely.box(0, 0, 100, 80).difference(shapely.box(30, 25, 70, 55))
#: A parallelogram: two corners of 60 degrees and two of 120.
RHOMBOID = shapely.Polygon([(0, 0), (100, 0), (130, 30 * math.sqrt(3)), (30, 30 * math.sqrt(3))])


@pytest.mark.parametrize("degrees", [0.0, 23.0, 67.0, 89.5])
def test_main_direction_is_the_rotation_modulo_90(degrees: float) -> None:
    rotated = affinity.rotate(RECTANGLE, degrees, origin=(0, 0))
    assert main_direction(rotated) == pytest.approx(degrees % 90, abs=1e-9)


def test_direction_error_wraps_at_right_angles() -> None:
    a = affinity.rotate(RECTANGLE, 2, origin=(0, 0))
    b = affinity.rotate(RECTANGLE, 88, origin=(0, 0))
    assert direction_error(a, b) == pytest.approx(4.0)
    assert direction_error(a, RECTANGLE) == pytest.approx(2.0)


def test_vertices_and_corners_of_exact_shapes() -> None:
    assert vertex_count(RECTANGLE) == 4
    assert vertex_count(COURTYARD) == 8
    assert np.allclose(corner_angles(COURTYARD), 90)
    assert sorted(np.round(corner_angles(RHOMBOID), 6)) == [60, 60, 120, 120]
    # A vertex in the middle of a wall is no corner.
    assert len(corner_angles(shapely.Polygon([(0, 0), (50, 0), (100, 0), (100, 40), (0, 40)]))) == 4


def test_outline_quality_pools_the_matched_pairs() -> None:
    shifted = affinity.translate(RECTANGLE, 12, 0)  # IoU 108 / 132
    found = np.array([shifted, RHOMBOID])
    truth = np.array([RECTANGLE, RHOMBOID])
    quality = outline_quality(found, truth)
    assert quality.matched == 2
    assert quality.iou == pytest.approx((108 / 132 + 1) / 2)
    assert quality.direction_error == pytest.approx(0.0, abs=1e-9)
    assert quality.vertices == 4
    assert quality.right_angles == pytest.approx(0.5)
    assert outline_quality(np.array([]), np.array([])).matched == 0
