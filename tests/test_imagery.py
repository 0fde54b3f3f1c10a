"""Tests of :mod:`torchgeo_datacenters.imagery` not covered through the datasets."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.windows import Window

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.imagery import ImageryFile

# Reads one window, then leaves the file in a context variable, as Lightning's argument
# parser (jsonargparse) leaves a training run's datamodule: Python frees it only after
# the modules are gone.
HELD_TO_THE_END = """
import contextvars
import sys

from rasterio.windows import Window

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.imagery import ImageryFile

imagery = ImageryFile(sys.argv[1], 4)
pixels = imagery.read(imagery.transform, imagery.crs, Window(0, 0, 8, 8))
print(float(pixels.sum()))
contextvars.ContextVar("held").set(imagery)
"""


def test_a_file_held_until_python_exits_closes_without_an_excepthook_error(
    tmp_path: Path,
) -> None:
    """Closed at exit, not after the modules: no empty ``Error in sys.excepthook`` block."""
    path = tmp_path / "scene.tif"
    profile = {"driver": "GTiff", "width": 16, "height": 16, "count": 4, "dtype": "uint8"}
    profile |= {"crs": "EPSG:26916", "transform": from_origin(500000, 4000000, 0.6, 0.6)}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.ones((4, 16, 16), np.uint8))
    done = subprocess.run(
        [sys.executable, "-c", HELD_TO_THE_END, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "256.0\n"  # 8 x 8 pixels x 4 bands of 1: the file was open
    assert "Error in sys.excepthook" not in done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("res", "grid_res", "shift_m"),
    [(0.6, 2.4, 0.0), (0.6, 2.4, 1.3), (0.6, 1.7, -3.1), (1.0, 0.6, 0.25)],
)
def test_another_pixel_size_is_read_on_the_grids_pixels(
    tmp_path: Path, res: float, grid_res: float, shift_m: float
) -> None:
    """A file at another pixel size lands where a warp puts it, edge pixels included.

    The file holds a ramp (band 1 rises with easting, band 2 with northing), which
    bilinear resampling reproduces exactly wherever a pixel lies: every grid pixel must
    read the ramp's value at its own centre, and pixels whose centres lie beyond the file
    must be NaN, in windows inside the file and across each of its edges. GDAL's decimated
    read places pixels within 1/20 of a file pixel (3 cm at 0.6 m) at a scale that is not
    a whole number.
    """
    size = 101
    rows, cols = np.mgrid[0:size, 0:size]
    ramp = np.stack([cols + 0.5, rows + 0.5, np.full_like(cols, 5), np.full_like(cols, 6)])
    path = tmp_path / "ramp.tif"
    profile = {"driver": "GTiff", "count": 4, "dtype": "uint16", "crs": "EPSG:32617"}
    left, top = 500_000.0, 4_400_000.0
    with rasterio.open(
        path, "w", width=size, height=size, transform=from_origin(left, top, res, res), **profile
    ) as dst:
        dst.write((ramp * 100).astype("uint16"))
    imagery = ImageryFile(path, 4)
    assert imagery.scales_onto(from_origin(left, top, grid_res, grid_res), imagery.crs)
    grid = from_origin(
        left + shift_m - 10 * grid_res, top - shift_m + 10 * grid_res, grid_res, grid_res
    )
    inside = int(size * res / grid_res)
    for window in (
        Window(12, 12, 8, 8),
        Window(0, 0, 30, 30),
        Window(5, 5, inside + 20, inside + 20),
    ):
        pixels = imagery.read(grid, imagery.crs, window, resampling=Resampling.bilinear) / 100
        centres = (np.arange(window.width) + window.col_off + 0.5) * grid_res
        x = (centres + shift_m - 10 * grid_res) / res  # in file pixels, from its left edge
        y = (np.arange(window.height) + window.row_off + 0.5) * grid_res
        y = (y + shift_m - 10 * grid_res) / res
        beyond = (x[None, :] < 0) | (x[None, :] > size) | (y[:, None] < 0) | (y[:, None] > size)
        assert (np.isnan(pixels[..., 0]) == beyond).all()
        # Bilinear resampling reproduces the ramp where its kernel (one pixel, stretched
        # to the grid's pixel when that is larger) lies inside the file.
        reach = max(1.0, grid_res / res)
        exact = (np.minimum(x, size - x)[None, :] > reach) & (
            np.minimum(y, size - y)[:, None] > reach
        )
        np.testing.assert_allclose(
            pixels[..., 0][exact], np.broadcast_to(x, exact.shape)[exact], atol=0.05
        )
        np.testing.assert_allclose(
            pixels[..., 1][exact], np.broadcast_to(y[:, None], exact.shape)[exact], atol=0.05
        )
        assert exact.any()


def test_a_directory_given_as_an_image_is_named_as_one(tmp_path: Path) -> None:
    with pytest.raises(
        TGDCError, match=r"is a directory; give a GeoTIFF in it, or .* batch-detect"
    ):
        ImageryFile(tmp_path, 4)
    with pytest.raises(TGDCError, match=r"missing\.tif: image file does not exist"):
        ImageryFile(tmp_path / "missing.tif", 4)
