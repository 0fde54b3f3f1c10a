import pytest
import shapely
from rasterio.warp import transform, transform_bounds, transform_geom

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.stac.grid import (
    MAX_SIZE,
    NAIP_COVERAGE,
    centred_grid,
    grid_around,
    grid_for_bbox,
    utm_crs,
)

# The seed project's download_naip.py example: New Albany, Ohio (UTM zone 17).
LAT, LON = 40.06513, -82.74859


def to_utm(crs, lon: float, lat: float) -> tuple[float, float]:
    xs, ys = transform("EPSG:4326", crs, [lon], [lat])
    return xs[0], ys[0]


def test_utm_zone_is_the_local_nad83_zone() -> None:
    assert utm_crs(LON, LAT).to_epsg() == 26917
    assert utm_crs(-87.9, 42.95).to_epsg() == 26916
    assert utm_crs(-122.4, 37.8).to_epsg() == 26910
    assert utm_crs(-70.0, 44.0).to_epsg() == 26919


def test_grid_around_a_point() -> None:
    grid = grid_around(LON, LAT, 2560)
    assert grid.crs.to_epsg() == 26917
    assert (grid.width, grid.height, grid.res) == (2560, 2560, 0.6)
    left, bottom, right, top = grid.bounds
    assert right - left == pytest.approx(1536) and top - bottom == pytest.approx(1536)
    x, y = to_utm(grid.crs, LON, LAT)
    # The point is within half a pixel of the centre.
    assert abs((left + right) / 2 - x) <= 0.3 + 1e-9
    assert abs((bottom + top) / 2 - y) <= 0.3 + 1e-9
    # Pixel edges lie on the 0.6 m lattice.
    for edge in (left, top):
        assert edge / 0.6 == pytest.approx(round(edge / 0.6), abs=1e-6)


@pytest.mark.parametrize("size", [1, 2, 3])
def test_tiny_grids_still_hold_the_point(size: int) -> None:
    crs = utm_crs(LON, LAT)
    for x, y in [(330000.29, 4436000.31), (330000.31, 4436000.29), (330000.0, 4436000.0)]:
        left, bottom, right, top = centred_grid(crs, x, y, size).bounds
        assert left <= x <= right and bottom <= y <= top


def test_grid_for_bbox_covers_the_box() -> None:
    box = (-82.76, 40.06, -82.74, 40.07)
    grid = grid_for_bbox(box)
    assert grid.crs.to_epsg() == 26917
    assert grid.footprint().covers(shapely.box(*box))
    # ... and is less than a pixel larger than the box (in UTM) on any side.
    box_left, box_bottom, box_right, box_top = transform_bounds("EPSG:4326", grid.crs, *box)
    left, bottom, right, top = grid.bounds
    assert 0 <= box_left - left < 0.6 and 0 <= right - box_right < 0.6
    assert 0 <= box_bottom - bottom < 0.6 and 0 <= top - box_top < 0.6
    assert (right - left, top - bottom) == pytest.approx((grid.width * 0.6, grid.height * 0.6))


def test_window_of_a_footprint() -> None:
    grid = centred_grid(utm_crs(LON, LAT), 330000.0, 4436000.0, 100)
    left, bottom, right, top = grid.bounds
    # A square covering the grid's upper-left quarter, given in lon/lat.
    quarter = shapely.box(left - 10, (bottom + top) / 2, (left + right) / 2, top + 10)
    lonlat = shapely.geometry.shape(
        transform_geom(grid.crs, "EPSG:4326", shapely.geometry.mapping(quarter))
    )
    window = grid.window_of(lonlat)
    assert (window.col_off, window.row_off) == (0, 0)
    assert 49 <= window.width <= 51 and 49 <= window.height <= 51
    assert grid.window_of(shapely.box(-80.0, 35.0, -79.9, 35.1)) is None


@pytest.mark.parametrize(
    ("lon", "lat", "message"),
    [
        (-0.1276, 51.5072, "outside NAIP coverage"),  # London
        (-149.9, 61.2, "outside NAIP coverage"),  # Anchorage: NAIP has no Alaska
        (-140.0, 30.0, "outside NAIP coverage"),  # open Pacific
        (-82.7, 95.0, "is not a latitude"),
        (-190.0, 40.0, "is not a longitude"),
    ],
)
def test_points_outside_naip_are_refused(lon: float, lat: float, message: str) -> None:
    with pytest.raises(TGDCError, match=message):
        grid_around(lon, lat, 256)


def test_a_point_given_latitude_first_is_named_as_such() -> None:
    # Richmond, Virginia, as a map app copies it: latitude first.
    with pytest.raises(TGDCError, match="outside NAIP coverage") as refused:
        grid_around(37.54, -77.44, 64)
    assert "longitude comes first" in str(refused.value)
    assert str(refused.value).endswith("it is lon -77.44, lat 37.54, which NAIP covers")
    assert grid_around(-77.44, 37.54, 64).crs.to_epsg() == 26918  # the advice works
    # West of -90, the longitude given as a latitude is none.
    with pytest.raises(TGDCError, match="is not a latitude") as refused:
        grid_around(37.77, -122.42, 64)
    assert str(refused.value).endswith("it is lon -122.42, lat 37.77, which NAIP covers")
    # A point outside NAIP either way gets no such advice.
    with pytest.raises(TGDCError, match="outside NAIP coverage") as refused:
        grid_around(-0.1276, 51.5072, 64)
    assert "longitude comes first" not in str(refused.value)


def test_a_box_given_latitude_first_is_refused_with_the_box_to_give() -> None:
    with pytest.raises(TGDCError) as refused:
        grid_for_bbox((37.54, -77.44, 37.55, -77.43))
    message = str(refused.value)
    assert "latitude and longitude swapped" in message
    advised = [float(value) for value in message.rsplit("here ", 1)[1].split()]
    assert advised == [-77.44, 37.54, -77.43, 37.55]
    assert grid_for_bbox(advised).width > 0  # the advice works


@pytest.mark.parametrize("size", [0, -5, MAX_SIZE + 1])
def test_sizes_out_of_range_are_refused(size: int) -> None:
    with pytest.raises(TGDCError, match="size"):
        grid_around(LON, LAT, size)


def test_bad_boxes_are_refused() -> None:
    with pytest.raises(TGDCError, match="empty or inverted"):
        grid_for_bbox((-82.74, 40.06, -82.76, 40.07))
    with pytest.raises(TGDCError, match="outside NAIP coverage"):
        grid_for_bbox((2.0, 48.0, 2.1, 48.1))
    with pytest.raises(TGDCError, match="more than"):
        grid_for_bbox((-100.0, 35.0, -99.0, 36.0))
    west, south, east, north = NAIP_COVERAGE["contiguous states"]
    assert west < LON < east and south < LAT < north


@pytest.mark.parametrize(("lon", "lat"), [(-157.86, 21.31), (-66.11, 18.47), (-64.93, 18.34)])
def test_hawaii_puerto_rico_and_virgin_islands_are_covered(lon: float, lat: float) -> None:
    assert grid_around(lon, lat, 64).width == 64
