import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod
from support.inference import ORIGIN, UTM

from torchgeo_datacenters.detections import merge_detections, prune_small
from torchgeo_datacenters.detections.merge import degree_tolerance
from torchgeo_datacenters.errors import TGDCError

X, Y = ORIGIN


def detections(
    boxes: list[tuple[float, float, float, float]],
    scores: list[float] | None = None,
    sources: list[str] | None = None,
) -> gpd.GeoDataFrame:
    """Detections of UTM boxes (left, bottom, right, top in metres from ORIGIN), as the
    predictor writes them: EPSG:4326 polygons with areas and centroids measured in UTM."""
    polygons = gpd.GeoSeries(
        [shapely.box(X + x0, Y + y0, X + x1, Y + y1) for x0, y0, x1, y1 in boxes], crs=UTM
    )
    centroids = polygons.centroid.to_crs("EPSG:4326")
    scores = scores or [0.9] * len(boxes)
    return gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(boxes) + 1),
            "area_m2": polygons.area.to_numpy(),
            "centroid_lon": centroids.x.to_numpy(),
            "centroid_lat": centroids.y.to_numpy(),
            "score": scores,
            "max_score": [s + 0.05 for s in scores],
            "source": sources or [f"scene{i}.tif" for i in range(len(boxes))],
        },
        geometry=polygons.to_crs("EPSG:4326").to_numpy(),
        crs="EPSG:4326",
    )


def utm_centroid(row: pd.Series) -> tuple[float, float]:
    point = gpd.GeoSeries([shapely.Point(row.centroid_lon, row.centroid_lat)], crs="EPSG:4326")
    point = point.to_crs(UTM).iloc[0]
    return point.x - X, point.y - Y


def test_pieces_cut_by_a_scene_corner_become_one_detection() -> None:
    # A 100 x 60 m building cut by the corner (0, 0) that four scenes share.
    pieces = [(-40, 0, 0, 20), (0, 0, 60, 20), (-40, -40, 0, 0), (0, -40, 60, 0)]
    table = detections(pieces, scores=[0.6, 0.7, 0.8, 0.9])
    merged = merge_detections(table)
    assert len(merged) == 1
    row = merged.iloc[0]
    assert row.area_m2 == pytest.approx(100 * 60, rel=1e-6)
    assert utm_centroid(row) == pytest.approx((10, -10), abs=1e-3)
    areas = table["area_m2"].to_numpy()
    assert row.score == pytest.approx(np.average([0.6, 0.7, 0.8, 0.9], weights=areas))
    assert row.max_score == pytest.approx(0.95)
    assert row.source == "scene3.tif"  # the largest piece (60 x 40 m)
    assert row.id == 1
    outline = gpd.GeoSeries([row.geometry], crs="EPSG:4326").to_crs(UTM).iloc[0]
    assert outline.geom_type == "Polygon"
    assert outline.symmetric_difference(shapely.box(X - 40, Y - 40, X + 60, Y + 20)).area < 1e-3


def test_duplicates_from_overlapping_scenes_collapse_into_one() -> None:
    # Seen whole by two overlapping scenes, and partly by a third.
    table = detections([(0, 0, 50, 30), (0, 0, 50, 30), (20, 0, 50, 30)])
    merged = merge_detections(table)
    assert len(merged) == 1
    assert merged.iloc[0].area_m2 == pytest.approx(50 * 30, rel=1e-6)


def test_merge_distance_joins_near_detections_across_scenes() -> None:
    table = detections([(0, 0, 40, 40), (45, 0, 85, 40), (105, 0, 145, 40)])
    assert len(merge_detections(table)) == 3
    near = merge_detections(table, distance=10)
    assert len(near) == 2
    joined = near.loc[near["area_m2"].idxmax()]
    assert joined.geometry.geom_type == "MultiPolygon"
    assert joined.area_m2 == pytest.approx(2 * 40 * 40, rel=1e-6)
    assert len(merge_detections(table, distance=25)) == 1


def test_min_area_applies_to_merged_detections() -> None:
    # Two touching 600 m² pieces make one 1200 m² data center; a lone 600 m² piece is dropped.
    table = detections([(0, 0, 30, 20), (30, 0, 60, 20), (200, 0, 230, 20)])
    merged = merge_detections(table, min_area=1000)
    assert len(merged) == 1
    assert merged.iloc[0].area_m2 == pytest.approx(1200, rel=1e-6)


def test_merge_is_deterministic_and_ordered_north_to_south() -> None:
    table = detections([(0, -500, 40, -460), (0, 0, 40, 40), (40, 0, 80, 40), (300, 0, 340, 40)])
    first, second = merge_detections(table), merge_detections(table.copy())
    pd.testing.assert_frame_equal(first, second)
    assert first["id"].tolist() == [1, 2, 3]
    assert first["centroid_lat"].is_monotonic_decreasing
    assert merge_detections(table.iloc[:0]).empty


def test_merge_rejects_bad_input() -> None:
    table = detections([(0, 0, 40, 40)])
    with pytest.raises(TGDCError, match="EPSG:4326"):
        merge_detections(table.to_crs(UTM))
    with pytest.raises(TGDCError, match="score"):
        merge_detections(table.drop(columns="score"))
    with pytest.raises(TGDCError, match="distance"):
        merge_detections(table, distance=-1)


@pytest.mark.parametrize("latitude", [0.0, 30.0, 49.0, 70.0])
def test_degree_tolerance_spans_at_least_the_distance(latitude: float) -> None:
    tolerance = degree_tolerance(10.0, (-100, latitude - 0.01, -99.9, latitude))
    geod = Geod(ellps="WGS84")
    along_lon = geod.inv(-100, latitude, -100 + tolerance, latitude)[2]
    along_lat = geod.inv(-100, latitude - tolerance, -100, latitude)[2]
    assert min(along_lon, along_lat) >= 10.0


def test_prune_small_keeps_small_pieces_only_near_the_scene_edge() -> None:
    bounds = (X, Y - 150, X + 150, Y)  # a 150 m scene
    table = detections(
        [
            (0, -20, 20, 0),  # 400 m² at the top-left corner: may continue next door
            (60, -80, 80, -60),  # 400 m² in the middle: can never reach 1000 m²
            (30, -140, 120, -30),  # large, in the middle
            (125, -90, 145, -70),  # 400 m² 5 m from the right edge
        ]
    )
    kept = prune_small(table, bounds, UTM, min_area=1000, distance=10)
    assert kept["source"].tolist() == ["scene0.tif", "scene2.tif", "scene3.tif"]
    assert len(prune_small(table, bounds, UTM, min_area=1000, distance=0)) == 2


def test_merged_pieces_keep_the_acquisition_date_of_the_largest() -> None:
    # Neighbouring scenes of one year may have been flown on different days.
    pieces = [(-40, 0, 0, 20), (0, 0, 60, 20), (200, 0, 240, 40)]
    table = detections(pieces).assign(acquired=["2022-07-01", "2022-08-15", "2022-07-01"])
    merged = merge_detections(table)
    assert merged["acquired"].tolist() == ["2022-07-01", "2022-08-15"]
    assert "acquired" not in merge_detections(detections(pieces))
