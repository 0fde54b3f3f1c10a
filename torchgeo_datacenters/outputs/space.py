"""Free space for a run's outputs, checked before prediction starts.

A full disk found when a run writes its files costs the whole run; found before, it costs
a second. :func:`output_sizes` estimates, from the scene's grid alone, the bytes every
requested output takes at most; :func:`check_free_space` adds them up per file system
and refuses the run in one line where they do not fit:

* a raster output (mask, probabilities): its temporary tiled GeoTIFF, the grid's pixels at
  the format's pixel type, uncompressed;
* a vector output: at most one detection per :data:`DETECTION_AREA_M2` of the scene's
  ground, each the bytes a detection takes in that format
  (:attr:`~.formats.VectorFormat.detection_bytes`, measured by
  ``tests/outputs/test_space.py`` with the format's own writer).
"""

import math
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TGDCError
from .formats import FORMATS, RasterFormat, VectorFormat

if TYPE_CHECKING:
    from ..grid import Grid

#: Ground per detection in the estimate of vector outputs, m²: the smallest data-center
#: footprint of the seed project's labels, about 2,800 m² (``../shared/data`` README), so
#: a scene cannot hold more detections than its area over this.
DETECTION_AREA_M2 = 2_800.0


def most_detections(grid: "Grid") -> int:
    """The most detections a scene can hold: its ground area over :data:`DETECTION_AREA_M2`.

    Args:
        grid: the scene's grid.

    Returns:
        The count, at least 1.
    """
    from ..detections.metric import metric_crs

    area = grid.footprint(metric_crs(grid.crs, grid.bounds)).area
    return max(1, math.ceil(area / DETECTION_AREA_M2))


def output_sizes(paths: Mapping[str, Path], grids: list["Grid"]) -> dict[Path, int]:
    """The most bytes each requested output of a run takes.

    Args:
        paths: output kind to final path.
        grids: the grids of the scenes the run predicts (rasters are written for one).

    Returns:
        Bytes by path.
    """
    import numpy as np

    sizes = {}
    for kind, path in paths.items():
        output = FORMATS[kind]
        if isinstance(output, RasterFormat):
            sizes[path] = max(g.width * g.height for g in grids) * np.dtype(output.dtype).itemsize
        elif isinstance(output, VectorFormat):
            detections = sum(most_detections(g) for g in grids)
            sizes[path] = output.file_bytes + output.detection_bytes * detections
    return sizes


def check_free_space(sizes: Mapping[Path, int]) -> None:
    """Refuse a run whose outputs do not fit on their file systems.

    Args:
        sizes: bytes each output takes at most, by path (see :func:`output_sizes`).

    Raises:
        TGDCError: naming the first output on a file system whose free space is below what
            its outputs there need together.
    """
    by_device: dict[int, list[Path]] = {}
    for path in sizes:
        by_device.setdefault(os.stat(path.parent).st_dev, []).append(path)
    for paths in by_device.values():
        needed = sum(sizes[path] for path in paths)
        free = shutil.disk_usage(paths[0].parent).free
        if free < needed:
            names = ", ".join(str(path) for path in paths)
            raise TGDCError(
                f"{paths[0]}: cannot be written: no space left on device (the outputs {names}"
                f" need up to {needed / 2**20:.1f} MiB, {free / 2**20:.1f} MiB are free);"
                " free some space or choose another directory"
            )
