"""Tests of the outlines written: regularised, straightened, split into halls."""

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from rasterio.features import rasterize
from shapely import affinity

from torchgeo_datacenters.detections.merge import merge_detections
from torchgeo_datacenters.detections.outlines import (
    OutlineRules,
    finish_outlines,
    split_halls,
    wall_directions,
)
from torchgeo_datacenters.detections.quality import corner_angles, vertex_count
from torchgeo_datacenters.detections.schema import concat_detections
from torchgeo_datacenters.detections.vectorize import Vectorizer
from torchgeo_datacenters.errors import TGDCError

UTM = "EPSG:32617"
GSD = 0.6
#: Scene origin (west, north) in UTM metres: every test shape lies south-east of it.
ORIGIN = (500000.0, 4400000.0)
TRANSFORM = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])
SIZE = 400


def place(shape: shapely.Geometry, x: float = 20, y: float = 20) -> shapely.Geometry:
    """A shape drawn in metres from its own (0, 0), moved into the scene."""
    return affinity.translate(shape, ORIGIN[0] + x, ORIGIN[1] - SIZE * GSD + y)


ROTATED = place(affinity.rotate(shapely.box(0, 0, 120, 60), 23, origin=(0, 0)), x=50)
L_SHAPE = place(shapely.Polygon([(0, 0), (100, 0), (100, 40), (40, 40), (40, 90), (0, 90)]))
COURTYARD = place(shapely.box(0, 0, 100, 80).difference(shapely.box(30, 25, 70, 55)))
#: A hall with a wing at 30 degrees.
WING = place(
    shapely.union_all(
        [
            shapely.box(0, 0, 100, 40),
            affinity.rotate(shapely.box(80, 0, 150, 25), 30, origin=(80, 0)),
        ]
    )
)
#: Three halls joined by 4 m corridors.
HALLS = [shapely.box(0, 0, 60, 40), shapely.box(80, 0, 140, 40), shapely.box(0, 60, 60, 100)]
CAMPUS = place(
    shapely.union_all([*HALLS, shapely.box(58, 18, 82, 22), shapely.box(28, 38, 32, 62)])
)


def detect(shape: shapely.Geometry, rules: OutlineRules | None) -> gpd.GeoDataFrame:
    """Rasterise a shape at 0.6 m and trace it, with the outline rules given."""
    mask = rasterize([shape], out_shape=(SIZE, SIZE), transform=TRANSFORM).astype(np.uint8)
    vectorizer = Vectorizer(TRANSFORM, UTM, (SIZE, SIZE), outlines=rules)
    vectorizer.add(0, mask, mask.astype(np.float32))
    return vectorizer.finish()


def corners(polygon: shapely.Geometry) -> np.ndarray:
    """How far every corner of a polygon is from a right angle, in degrees."""
    return np.abs(corner_angles(polygon) - 90)


def iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return a.intersection(b).area / a.union(b).area


def in_utm(table: gpd.GeoDataFrame) -> np.ndarray:
    return table.geometry.to_crs(UTM).to_numpy()


REGULARIZE = OutlineRules(regularize=True)


@pytest.mark.parametrize(
    ("shape", "count"), [(ROTATED, 4), (L_SHAPE, 6), (COURTYARD, 8)], ids=["rotated", "L", "court"]
)
def test_rectilinear_shapes_get_right_angles_and_their_walls(
    shape: shapely.Geometry, count: int
) -> None:
    traced = detect(shape, None)
    written = detect(shape, REGULARIZE)
    assert list(written["outline"]) == ["regularized"]
    (outline,) = in_utm(written)
    (pixels,) = in_utm(traced)
    assert vertex_count(outline) == count <= vertex_count(pixels)
    assert corners(outline).max() < 0.5
    # The walls run along the true ones: the main direction of the rotated rectangle is
    # 23 degrees (or 113), within the library's one-degree bins.
    _, angles = wall_directions(outline)
    truth = 23.0 if shape is ROTATED else 0.0
    assert np.abs((angles - truth + 45) % 90 - 45).max() < 1.0
    # Within 0.01 of the pixels' IoU with the exact shape (0.99 or more): the tolerance
    # of 6 pixels is sized for the wobbly walls of a model's masks.
    assert iou(outline, shape) > iou(pixels, shape) - 0.01
    assert len(outline.interiors) == len(shape.interiors)
    # Area and centroid are the written outline's, in metres.
    assert written["area_m2"].iloc[0] == pytest.approx(outline.area, rel=1e-9)
    centroid = gpd.GeoSeries([outline.centroid], crs=UTM).to_crs(4326).iloc[0]
    assert written["centroid_lon"].iloc[0] == pytest.approx(centroid.x, abs=1e-9)
    assert written["site_id"].iloc[0] == written["id"].iloc[0] == 1


def test_a_wing_at_another_angle_keeps_its_angle() -> None:
    written = detect(WING, REGULARIZE)
    assert list(written["outline"]) == ["straightened"]
    (outline,) = in_utm(written)
    lengths, angles = wall_directions(outline)
    # The wing's walls outside the hall (33 m and 46 m) still run at 30 degrees.
    assert lengths[np.abs(angles - 30) < 2].sum() > 75
    assert vertex_count(outline) <= 10
    assert iou(outline, WING) > 0.97


def test_an_area_change_above_the_limit_keeps_the_traced_outline() -> None:
    traced = detect(ROTATED, None)
    strict = detect(ROTATED, OutlineRules(regularize=True, max_area_change=0.0))
    assert list(strict["outline"]) == ["traced"]
    assert in_utm(strict)[0].equals_exact(in_utm(traced)[0], 1e-6)
    assert strict["area_m2"].iloc[0] == pytest.approx(traced["area_m2"].iloc[0])


def test_outlines_are_regularised_in_metres_whatever_the_scene_crs() -> None:
    # The rotated rectangle drawn in a lon/lat scene: one degree of longitude is ~78% of a
    # degree of latitude at 39 degrees north, so right angles are right only in metres.
    lonlat = gpd.GeoSeries([ROTATED], crs=UTM).to_crs(4326)
    west, south, east, north = lonlat.total_bounds
    transform = Affine((east - west) / SIZE, 0, west, 0, -(north - south) / SIZE, north)
    mask = rasterize(lonlat, out_shape=(SIZE, SIZE), transform=transform).astype(np.uint8)
    vectorizer = Vectorizer(transform, "EPSG:4326", (SIZE, SIZE), outlines=REGULARIZE)
    vectorizer.add(0, mask, mask.astype(np.float32))
    (outline,) = in_utm(vectorizer.finish())
    assert vertex_count(outline) == 4
    assert corners(outline).max() < 0.5


def test_a_campus_splits_into_halls_that_share_a_site() -> None:
    whole = detect(CAMPUS, OutlineRules(split_width=3.0))
    assert len(whole) == 1 and list(whole["outline"]) == ["traced"]
    halls = detect(CAMPUS, OutlineRules(regularize=True, split_width=8.0))
    assert len(halls) == 3
    assert set(halls["site_id"]) == {halls["id"].min()}
    truth = [place(hall) for hall in HALLS]
    for outline in in_utm(halls):
        assert max(iou(outline, hall) for hall in truth) > 0.9
    # Unregularised, the halls tile the traced campus.
    traced = in_utm(detect(CAMPUS, None))[0]
    tiles = in_utm(detect(CAMPUS, OutlineRules(split_width=8.0)))
    assert len(tiles) == 3
    assert shapely.union_all(tiles).symmetric_difference(traced).area < 1e-6 * traced.area


def test_default_rules_write_the_traced_outline_without_new_columns() -> None:
    table = detect(L_SHAPE, None)
    assert "outline" not in table and "site_id" not in table
    assert table["area_m2"].iloc[0] == pytest.approx(L_SHAPE.area, rel=0.01)


def test_split_halls_keeps_a_single_building_whole() -> None:
    assert split_halls(L_SHAPE, 8.0) == [L_SHAPE]


def test_negative_widths_are_refused() -> None:
    with pytest.raises(TGDCError, match="split_width: -1"):
        OutlineRules(split_width=-1)


def test_pieces_cut_by_a_scene_border_merge_into_one_regularised_outline() -> None:
    # The rotated rectangle found as two pieces, one per scene, traced.
    border = ROTATED.centroid.x
    left, top, right, bottom = ROTATED.bounds
    halves = [
        ROTATED.intersection(shapely.box(left - 1, top - 1, border, bottom + 1)),
        ROTATED.intersection(shapely.box(border, top - 1, right + 1, bottom + 1)),
    ]
    merged = merge_detections(
        concat_detections([detect(half, None) for half in halves]), outlines=REGULARIZE
    )
    assert len(merged) == 1 and list(merged["outline"]) == ["regularized"]
    (outline,) = in_utm(merged)
    assert vertex_count(outline) == 4
    assert iou(outline, ROTATED) > 0.97
    assert merged["area_m2"].iloc[0] == pytest.approx(outline.area, rel=1e-6)


def test_joined_tables_keep_their_sites_apart() -> None:
    tables = [detect(shape, OutlineRules(split_width=8.0)) for shape in (CAMPUS, L_SHAPE)]
    assert [list(table["site_id"]) for table in tables] == [[1, 1, 1], [1]]
    joined = concat_detections(tables)
    assert joined["site_id"].nunique() == 2


def test_finish_outlines_numbers_halls_by_their_outline() -> None:
    finished = finish_outlines(np.array([CAMPUS, L_SHAPE]), OutlineRules(split_width=8.0))
    assert list(finished.site) == [0, 0, 0, 1]
    assert list(finished.kind) == ["traced"] * 4
