import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity
import shapely.geometry
from affine import Affine
from pyproj import CRS
from rasterio.features import shapes
from scipy import ndimage
from support.inference import GSD, UTM, utm_transform

from torchgeo_datacenters.detections import vectorize as vectorize_module
from torchgeo_datacenters.detections.grouping import pairs_within
from torchgeo_datacenters.detections.metric import metric_crs
from torchgeo_datacenters.detections.patches import pack_patches, patch_boxes
from torchgeo_datacenters.detections.vectorize import (
    MASK_NODATA,
    Vectorizer,
    pixel_size_m,
    pixel_to_crs,
    threshold_band,
)
from torchgeo_datacenters.errors import TGDCError

TRANSFORM = utm_transform()
PIXEL_M2 = GSD * GSD


def vectorize(
    probabilities: np.ndarray, bands: list[int], threshold: float = 0.5, **options: float
) -> gpd.GeoDataFrame:
    """Vectorise a probability image cut into bands starting at the given rows."""
    vectorizer = Vectorizer(TRANSFORM, CRS(UTM), probabilities.shape, **options)
    for start, stop in itertools.pairwise([*bands, probabilities.shape[0]]):
        band = probabilities[start:stop]
        vectorizer.add(start, threshold_band(band, threshold), band)
    return vectorizer.finish()


def test_threshold_band() -> None:
    probabilities = np.array([[0.2, 0.5, np.nan, 0.9]], np.float32)
    np.testing.assert_array_equal(threshold_band(probabilities, 0.5), [[0, 1, MASK_NODATA, 1]])


@pytest.mark.parametrize("held", [vectorize_module.MAX_HELD_ROWS, 3, 0])
def test_pieces_split_between_bands_become_one_detection(
    held: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Patches taller than the rows that may be held are traced in pieces and unioned.
    monkeypatch.setattr(vectorize_module, "MAX_HELD_ROWS", held)
    probabilities = np.zeros((60, 50), np.float32)
    probabilities[10:45, 5:20] = 0.8  # 35 x 15 px
    probabilities[20:30, 10:15] = 0.0  # a hole of 10 x 5 px
    probabilities[30:40, 30:45] = 0.6  # 10 x 15 px, away from the first
    whole = vectorize(probabilities, [0])
    split = vectorize(probabilities, [0, 7, 22, 23, 31, 44])
    assert len(whole) == len(split) == 2
    for a, b in zip(whole.geometry, split.geometry, strict=True):
        assert b.is_valid
        assert a.normalize().equals_exact(b.normalize(), 1e-9)
    big = split.iloc[np.argmax(split["area_m2"])]
    assert big["area_m2"] == pytest.approx((35 * 15 - 10 * 5) * PIXEL_M2)
    assert len(big.geometry.interiors) == 1
    assert big["score"] == pytest.approx(0.8)
    np.testing.assert_allclose(split["area_m2"], whole["area_m2"])
    np.testing.assert_allclose(split["score"], whole["score"])


def test_score_is_mean_and_max_inside() -> None:
    probabilities = np.zeros((10, 10), np.float32)
    probabilities[2:4, 2:4] = [[0.6, 0.7], [0.8, 0.9]]
    (detection,) = vectorize(probabilities, [0, 3]).itertuples()
    assert detection.score == pytest.approx(0.75)
    assert detection.max_score == pytest.approx(0.9)
    assert detection.area_m2 == pytest.approx(4 * PIXEL_M2)


def test_corner_touching_pieces_merge_even_without_merge_distance() -> None:
    probabilities = np.zeros((10, 10), np.float32)
    probabilities[2:5, 2:5] = 1
    probabilities[5:8, 5:8] = 1
    for bands in ([0], [0, 5]):
        (detection,) = vectorize(probabilities, bands).itertuples()
        assert detection.geometry.geom_type == "MultiPolygon"
        assert detection.geometry.is_valid
        assert detection.area_m2 == pytest.approx(18 * PIXEL_M2)


def test_merge_distance_in_metres() -> None:
    probabilities = np.zeros((20, 40), np.float32)
    probabilities[5:15, 5:15] = 1
    probabilities[5:15, 18:28] = 1  # 3 px = 1.8 m apart
    assert len(vectorize(probabilities, [0], merge_distance=1.7)) == 2
    (merged,) = vectorize(probabilities, [0], merge_distance=1.9).itertuples()
    assert merged.geometry.geom_type == "MultiPolygon"
    assert merged.area_m2 == pytest.approx(200 * PIXEL_M2)


def test_min_area_and_simplify() -> None:
    probabilities = np.zeros((60, 60), np.float32)
    probabilities[2:5, 2:5] = 1  # 9 px = 3.24 m²
    rr, cc = np.mgrid[:60, :60]
    probabilities[(rr - 35) ** 2 + (cc - 35) ** 2 < 20**2] = 1  # a staircase disc
    kept = vectorize(probabilities, [0], min_area=4.0)
    assert len(kept) == 1
    simple = vectorize(probabilities, [0], min_area=4.0, simplify=1.0)
    exact = shapely.get_num_coordinates(kept.geometry.iloc[0])
    assert shapely.get_num_coordinates(simple.geometry.iloc[0]) < exact / 2
    assert simple["area_m2"].iloc[0] == kept["area_m2"].iloc[0]
    with pytest.raises(TGDCError, match="min_area"):
        vectorize(probabilities, [0], min_area=-1)


@pytest.mark.parametrize("crs", [UTM, "EPSG:4326"])
def test_min_area_is_inclusive_in_any_crs(crs: str) -> None:
    # In a metric CRS groups below the minimum area are dropped from their pixel count
    # before they are measured; elsewhere from their measured outline. The same rule.
    probabilities = np.zeros((30, 60), np.float32)
    probabilities[2:12, 2:12] = 1  # 100 px
    probabilities[2:11, 30:40] = 1  # 90 px
    probabilities[20:22, 2:4] = 1  # 4 px, and 1 px from the next: one 8 px group
    probabilities[20:22, 5:7] = 1
    transform = TRANSFORM if crs == UTM else Affine(1e-5, 0, -81.0, 0, -1e-5, 40.0)
    metric = metric_crs(CRS(crs), (-81.0, 39.9, -80.9, 40.0))
    side = pixel_size_m(transform, CRS(crs), metric, probabilities.shape)
    pixel = shapely.box(0, 0, 1, 1)
    world = gpd.GeoSeries([pixel_to_crs(pixel, transform)], crs=crs).to_crs(metric)
    pixel_m2 = float(world.area.iloc[0])
    for min_pixels in (8, 90, 100):
        vectorizer = Vectorizer(
            transform,
            CRS(crs),
            probabilities.shape,
            merge_distance=1.5 * side,
            min_area=min_pixels * pixel_m2 * (1 - 1e-3),
        )
        vectorizer.add(0, threshold_band(probabilities, 0.5), probabilities)
        areas = sorted(vectorizer.finish()["area_m2"] / pixel_m2)
        expected = [size for size in (8, 90, 100) if size >= min_pixels]
        np.testing.assert_allclose(areas, expected, rtol=1e-4)
        # The pieces of the groups dropped: (min column, min row, max column, max row).
        pieces = {8: [(2, 20, 4, 22), (5, 20, 7, 22)], 90: [(30, 2, 40, 11)], 100: []}
        dropped = [box for size, boxes in pieces.items() if size < min_pixels for box in boxes]
        assert sorted(map(tuple, vectorizer.dropped.tolist())) == sorted(dropped)


def test_speckle_traces_like_the_whole_mask() -> None:
    # Patches that fill their bounding box are taken as that box, the others traced:
    # every detection must equal the union of the patches rasterio traces over the
    # whole mask, grouped by corner contact.
    rng = np.random.default_rng(3)
    probabilities = (rng.random((90, 120)) > 0.9).astype(np.float32)
    probabilities[30:50, 40:70] = 1  # a large patch, with a ragged edge from the speckle
    probabilities[35:40, 45:50] = 0  # and a hole
    hits = probabilities >= 0.5
    detections = vectorize(probabilities, [0, 17, 40, 41, 77])
    groups, count = ndimage.label(hits, structure=np.ones((3, 3)))
    traced = [
        (shapely.geometry.shape(geometry), groups[hits & (patches == value)][0])
        for patches in [ndimage.label(hits)[0]]
        for geometry, value in shapes(patches.astype(np.int32), mask=hits)
    ]
    expected = [
        pixel_to_crs(shapely.union_all([p for p, g in traced if g == number]), TRANSFORM)
        for number in range(1, count + 1)
    ]
    assert len(detections) == count
    found = detections.to_crs(UTM).geometry.to_numpy()
    nearest = shapely.STRtree(found).nearest(shapely.centroid(expected))
    assert sorted(nearest) == list(range(count))
    for a, b in zip(found[nearest], expected, strict=True):
        assert a.symmetric_difference(b).area < 1e-6 * PIXEL_M2
    assert detections["area_m2"].sum() == pytest.approx(hits.sum() * PIXEL_M2)


def test_no_detections() -> None:
    detections = vectorize(np.zeros((5, 5), np.float32), [0])
    assert detections.empty
    assert detections.crs == "EPSG:4326"
    assert list(detections.columns[:-1]) == [
        "id",
        "area_m2",
        "centroid_lon",
        "centroid_lat",
        "score",
        "max_score",
        "source",
    ]


def test_centroid_in_lon_lat() -> None:
    probabilities = np.zeros((50, 50), np.float32)
    probabilities[10:20, 30:44] = 1
    (detection,) = vectorize(probabilities, [0]).itertuples()
    x, y = TRANSFORM @ (37, 15)
    lon, lat = gpd.GeoSeries([shapely.Point(x, y)], crs=UTM).to_crs(4326).iloc[0].coords[0]
    assert detection.centroid_lon == pytest.approx(lon, abs=1e-9)
    assert detection.centroid_lat == pytest.approx(lat, abs=1e-9)


def test_pixel_to_crs() -> None:
    square = pixel_to_crs(shapely.box(0, 0, 10, 10), TRANSFORM)
    assert square.bounds == pytest.approx((500000, 4400000 - 6, 500006, 4400000))


def test_finished_groups_are_closed_band_by_band() -> None:
    probabilities = np.zeros((100, 40), np.float32)
    probabilities[2:6, 2:6] = 1
    probabilities[30:40, 10:20] = 1  # continues into the next band
    probabilities[43:50, 10:20] = 1  # 3 px = 1.8 m below it: merged at 2 m
    vectorizer = Vectorizer(TRANSFORM, CRS(UTM), probabilities.shape, merge_distance=2.0)
    assert vectorizer.reach == pytest.approx(2.0 / GSD)
    for start, stop in [(0, 20), (20, 38), (38, 60), (60, 100)]:
        band = probabilities[start:stop]
        vectorizer.add(start, threshold_band(band, 0.5), band)
        if start == 0:
            assert vectorizer.open_pieces == 0  # the small square is done and measured
        if start == 20:
            # The patch reaches the band's end: its rows are held until it ends.
            assert vectorizer.held_rows == 8
            assert vectorizer.open_pieces == 0
        if start == 38:
            assert vectorizer.held_rows == 0
            assert vectorizer.open_pieces == 0  # traced whole, merged and measured
    assert vectorizer.open_pieces == 0
    detections = vectorizer.finish()
    assert sorted(detections["area_m2"]) == pytest.approx([16 * PIXEL_M2, 170 * PIXEL_M2])


def test_rows_held_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectorize_module, "MAX_HELD_ROWS", 10)
    probabilities = np.zeros((100, 30), np.float32)
    probabilities[5:95, 10:20] = 0.9  # a patch 90 rows tall
    probabilities[12:14, 2:4] = 0.7  # a small one beside it
    vectorizer = Vectorizer(TRANSFORM, CRS(UTM), probabilities.shape)
    for start in range(0, 100, 8):
        band = probabilities[start : start + 8]
        vectorizer.add(start, threshold_band(band, 0.5), band)
        assert vectorizer.held_rows <= 10
    detections = vectorizer.finish()
    assert sorted(detections["area_m2"]) == pytest.approx([4 * PIXEL_M2, 900 * PIXEL_M2])
    tall = detections.geometry.iloc[np.argmax(detections["area_m2"])]
    assert tall.geom_type == "Polygon"
    assert shapely.get_num_coordinates(tall) == 5  # no vertices left at the cuts


def test_bands_must_come_in_order() -> None:
    vectorizer = Vectorizer(TRANSFORM, CRS(UTM), (20, 10))
    band = np.zeros((5, 10), np.float32)
    vectorizer.add(0, threshold_band(band, 0.5), band)
    with pytest.raises(ValueError, match="expected the band starting at row 5"):
        vectorizer.add(10, threshold_band(band, 0.5), band)


def test_pixel_size_in_metres() -> None:
    assert pixel_size_m(TRANSFORM, CRS(UTM), CRS(UTM), (100, 100)) == pytest.approx(GSD)
    geographic = Affine(1e-5, 0, -81.0, 0, -1e-5, 39.75)
    size = pixel_size_m(geographic, CRS(4326), CRS(32617), (100, 100))
    # 1e-5 degrees of longitude at 39.75 N is about 0.855 m, of latitude 1.11 m.
    assert size == pytest.approx(0.855, rel=0.01)


def traced(raster: np.ndarray, shift: np.ndarray | None = None) -> dict[int, shapely.Geometry]:
    """Trace a raster of patch numbers, moving each patch by its shift."""
    pieces = {}
    for geometry, value in shapes(raster, mask=raster > 0):
        polygon = shapely.geometry.shape(geometry)
        if shift is not None:
            polygon = shapely.affinity.translate(polygon, *shift[int(value)])
        pieces[int(value)] = polygon
    return pieces


def test_packed_patches_trace_like_the_strip() -> None:
    rng = np.random.default_rng(0)
    hits = rng.random((60, 300)) > 0.93  # speckle
    hits[10:50, 100:140] = True
    hits[20:30, 110:120] = False  # a hole, with a patch inside it
    hits[24:26, 114:116] = True
    labels, count = ndimage.label(hits)
    boxes = patch_boxes(labels, count)
    numbers = np.arange(1, count + 1)[::2]  # every other patch
    canvas, shift = pack_patches(labels, numbers, boxes)
    assert canvas.size < labels.size / 3
    packed = traced(canvas, shift)
    whole = traced(np.where(np.isin(labels, numbers), labels, 0))
    assert packed.keys() == whole.keys() == set(numbers.tolist())
    for number, polygon in whole.items():
        assert packed[number].equals_exact(polygon, 0)
    # A patch whose box fills the strip is traced from the strip itself.
    frame = np.ones((20, 30), bool)
    frame[1:-1, 1:-1] = False
    labels, count = ndimage.label(frame)
    canvas, shift = pack_patches(labels, np.array([1]), patch_boxes(labels, count))
    assert canvas.shape == labels.shape and not shift.any()


def test_pairs_within_match_geos() -> None:
    rng = np.random.default_rng(1)
    corners = rng.uniform(0, 100, (300, 2))
    sizes = rng.uniform(0.5, 4, (300, 2))
    rectangles = shapely.box(*corners.T, *(corners + sizes).T)
    right = corners + sizes * [1, 0]
    triangles = shapely.polygons(np.stack([corners, right, corners + sizes, corners], axis=1))
    geometries = np.where(np.arange(300) % 3 == 0, triangles, rectangles)
    is_rectangle = np.arange(300) % 3 != 0
    queries, query_rectangles = geometries[:50], is_rectangle[:50]
    found = pairs_within(geometries, queries, 2.5, is_rectangle, query_rectangles)
    expected = shapely.STRtree(geometries).query(queries, predicate="dwithin", distance=2.5)
    assert sorted(map(tuple, found.T)) == sorted(map(tuple, expected.T))
