import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.windows import Window

from torchgeo_datacenters.grid import Grid, pixel_window

#: 0.6 m pixels, top-left corner at (500000, 4000000) in UTM zone 17.
TRANSFORM = Affine(0.6, 0.0, 500000.0, 0.0, -0.6, 4000000.0)


def box(col0: float, row0: float, col1: float, row1: float) -> tuple[float, ...]:
    """(left, bottom, right, top) of a box given in pixel coordinates of TRANSFORM."""
    left, top = TRANSFORM @ (col0, row0)
    right, bottom = TRANSFORM @ (col1, row1)
    return left, bottom, right, top


def test_bounds_are_the_outer_pixel_edges() -> None:
    grid = Grid(CRS.from_epsg(26917), TRANSFORM, width=70, height=50)
    assert grid.bounds == pytest.approx((500000.0, 4000000.0 - 30.0, 500000.0 + 42.0, 4000000.0))
    assert grid.res == 0.6


def test_pixel_window_holds_whole_pixels_clipped_to_the_raster() -> None:
    # Edges a hair off pixel edges (float round-off) stay on them.
    assert pixel_window(box(10 - 1e-9, 5 + 1e-9, 20 + 1e-9, 8), TRANSFORM, 70, 50) == Window(
        10, 5, 10, 3
    )
    # Edges inside pixels take the whole pixel.
    assert pixel_window(box(10.5, 5.2, 19.1, 7.9), TRANSFORM, 70, 50) == Window(10, 5, 10, 3)
    # A box reaching past the raster keeps its part inside.
    assert pixel_window(box(-5, -5, 3, 60), TRANSFORM, 70, 50) == Window(0, 0, 3, 50)
    # Outside, or touching the border from outside: no pixel.
    assert pixel_window(box(80, 0, 90, 10), TRANSFORM, 70, 50) is None
    assert pixel_window(box(70, 0, 90, 10), TRANSFORM, 70, 50) is None
