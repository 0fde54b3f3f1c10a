"""Tests of :mod:`torchgeo_datacenters.imagery` not covered through the datasets."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

# Reads one window, then leaves the file in a context variable, as Lightning's argument
# parser (jsonargparse) leaves a training run's datamodule: Python frees it only after
# the modules are gone.
HELD_TO_THE_END = """
import contextvars
import sys

from rasterio.windows import Window

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
