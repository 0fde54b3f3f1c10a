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
* a run output (the report and review pages, the STAC collection), written from the
  detections once prediction is over: the size its format declares
  (:attr:`~.formats.RunFormat.size`) for that many detections and the run's rasters, so
  that a full disk costs a second there too (:func:`report_bytes`, :func:`review_bytes`,
  :func:`stac_bytes`).

Commands whose outputs come from other inputs estimate them the same way before their
work: :func:`table_bytes` for a vector table of given geometries (change sites, compared
inventories), :func:`page_bytes` for an HTML page (report, review), and a scan adds up its
scenes (``tgdc scan``). Every estimate goes through :func:`check_free_space`, the one
refusal: ``FILE: cannot be written: no space left on device (...); free some space or
choose another directory``.
"""

import math
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TGDCError
from .formats import FORMATS, RasterFormat, RunFormat, VectorFormat, vector_formats

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from ..grid import Grid

#: Ground per detection in the estimate of vector outputs, m²: the smallest data-center
#: footprint of the seed project's labels, about 2,800 m² (``../shared/data`` README), so
#: a scene cannot hold more detections than its area over this.
DETECTION_AREA_M2 = 2_800.0


#: Vertices of the outline the bytes of a detection are measured with
#: (:attr:`~.formats.VectorFormat.detection_bytes`): a feature with more counts as several.
OUTLINE_VERTICES = 65

#: Bytes of an HTML page (report or review) with no site and no image: the vendored
#: Leaflet, the page's script and style; measured by ``tests/outputs/test_space.py``.
PAGE_BYTES = 250_000

#: Bytes each site adds to a page: its outline and properties in the page's data and its
#: table row; measured by ``tests/outputs/test_space.py``.
PAGE_SITE_BYTES = 2_500

#: Bytes a pixel of a page's image layers takes at most: RGBA PNG (4 bytes, filtered rows
#: stored whole where they do not compress), as base64 (4/3); measured on noise.
IMAGE_PIXEL_BYTES = 5.4

#: Bytes of the JSON files of a run's STAC collection (collection, model item, detections
#: item) for a run of one raster; measured by ``tests/outputs/test_space.py``.
STAC_JSON_BYTES = 8_000

#: Bytes each further raster read adds to the detections item (its link and footprint);
#: measured by ``tests/outputs/test_space.py``.
STAC_IMAGE_BYTES = 500

#: Bytes of one review chip at most (a JPEG data URI of
#: :data:`~.review.CHIP_PIXELS`² pixels); measured on noise by ``tests/outputs/test_space.py``.
CHIP_BYTES = 70_000


def detections_in(area_m2: float) -> int:
    """The most detections ground of this area can hold: it over :data:`DETECTION_AREA_M2`.

    Args:
        area_m2: the ground's area, m².

    Returns:
        The count, at least 1.
    """
    return max(1, math.ceil(area_m2 / DETECTION_AREA_M2))


def most_detections(grid: "Grid") -> int:
    """The most detections a scene can hold: its ground area over :data:`DETECTION_AREA_M2`.

    Args:
        grid: the scene's grid.

    Returns:
        The count, at least 1.
    """
    from ..detections.metric import metric_crs

    return detections_in(grid.footprint(metric_crs(grid.crs, grid.bounds)).area)


def vector_format(path: Path) -> VectorFormat:
    """The vector format a file's extension names (``.json`` is GeoJSON).

    Args:
        path: the file.

    Returns:
        The format; GeoJSON, the largest per detection, for an extension of none.
    """
    suffix = ".geojson" if path.suffix.lower() == ".json" else path.suffix.lower()
    formats = {output.extension: output for output in vector_formats()}
    return formats.get(suffix, formats[".geojson"])


def table_bytes(output: VectorFormat, geometries: "Iterable[BaseGeometry | None] | int") -> int:
    """The most bytes a vector table of these geometries takes in a format.

    Each row takes the bytes of a detection of the format, once per
    :data:`OUTLINE_VERTICES` vertices of its geometry.

    Args:
        output: the format (of a file: see :func:`vector_format`).
        geometries: the rows' geometries, or their number (detection outlines).

    Returns:
        Bytes.
    """
    import shapely

    if isinstance(geometries, int):
        units = geometries
    else:
        units = sum(
            max(1, math.ceil(shapely.get_num_coordinates(g) / OUTLINE_VERTICES)) for g in geometries
        )
    return output.file_bytes + output.detection_bytes * units


def image_pixels(images: int) -> int:
    """The most pixels of a page's image layers (see :func:`.report.image_layers`).

    Args:
        images: the rasters shown.

    Returns:
        Pixels, all layers together.
    """
    from .report import IMAGE_PIXELS, MIN_IMAGE_PIXELS

    if not images:
        return 0
    side = max(MIN_IMAGE_PIXELS, IMAGE_PIXELS // max(1, math.isqrt(images)))
    return images * side**2


def page_bytes(sites: int, images: int, *, chips: int = 0) -> int:
    """The most bytes an HTML page (report or review) takes.

    Args:
        sites: the sites (detections) on it.
        images: the rasters shown under them.
        chips: the image chips it holds (a review page: one per detection, the first
            :data:`~.review.FIRST_CHIPS` twice).

    Returns:
        Bytes.
    """
    from .review import FIRST_CHIPS

    return (
        PAGE_BYTES
        + PAGE_SITE_BYTES * sites
        + math.ceil(IMAGE_PIXEL_BYTES * image_pixels(images))
        + CHIP_BYTES * (chips + min(chips, FIRST_CHIPS))
    )


def report_bytes(detections: int, images: int) -> int:
    """The most bytes of a run's HTML report (the ``report`` output).

    Args:
        detections: the most detections of the run.
        images: the rasters shown under them.

    Returns:
        Bytes (see :func:`page_bytes`).
    """
    return page_bytes(detections, images)


def review_bytes(detections: int, images: int) -> int:
    """The most bytes of a run's review page (the ``review`` output): a chip per detection.

    Args:
        detections: the most detections of the run.
        images: the rasters shown under them and cut into chips.

    Returns:
        Bytes (see :func:`page_bytes`).
    """
    return page_bytes(detections, images, chips=detections)


def stac_bytes(detections: int, images: int) -> int:
    """The most bytes of a run's STAC collection (the ``stac`` output).

    The detections item holds the detections as GeoParquet and GeoJSON, and links every
    raster read.

    Args:
        detections: the most detections of the run.
        images: the rasters the run reads.

    Returns:
        Bytes.
    """
    tables = sum(
        table_bytes(output, detections)
        for output in vector_formats()
        if output.name in ("geojson", "parquet")
    )
    return tables + STAC_JSON_BYTES + STAC_IMAGE_BYTES * max(0, images - 1)


def output_sizes(
    paths: Mapping[str, Path | None], grids: list["Grid"], *, images: int = 1
) -> dict[Path, int]:
    """The most bytes each requested output of a run takes.

    Args:
        paths: output kind to final path (None: not written).
        grids: the grids of the scenes the run predicts (rasters are written for one).
        images: the raster files the run reads (the run outputs show or link them).

    Returns:
        Bytes by path.
    """
    import numpy as np

    detections = sum(most_detections(g) for g in grids)
    sizes = {}
    for kind, path in paths.items():
        output = FORMATS[kind]
        if path is None:
            continue
        if isinstance(output, RasterFormat):
            sizes[path] = max(g.width * g.height for g in grids) * np.dtype(output.dtype).itemsize
        elif isinstance(output, VectorFormat):
            sizes[path] = table_bytes(output, detections)
        elif isinstance(output, RunFormat):
            sizes[path] = output.most_bytes(detections, images)
    return sizes


def _existing(path: Path) -> Path:
    """The nearest existing directory above *path* (where a missing directory would be made)."""
    directory = path.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    return directory


def check_free_space(
    sizes: Mapping[Path, int],
    *,
    advice: str = "free some space or choose another directory",
) -> None:
    """Refuse a run whose outputs do not fit on their file systems.

    Outputs in directories not made yet count on the file system of the nearest existing
    directory above them.

    Args:
        sizes: bytes each output takes at most, by path (see :func:`output_sizes`).
        advice: what the refusal tells the user to do.

    Raises:
        TGDCError: naming the first output on a file system whose free space is below what
            its outputs there need together.
    """
    by_device: dict[int, list[Path]] = {}
    for path in sizes:
        by_device.setdefault(os.stat(_existing(path)).st_dev, []).append(path)
    for paths in by_device.values():
        needed = sum(sizes[path] for path in paths)
        free = shutil.disk_usage(_existing(paths[0])).free
        if free < needed:
            names = ", ".join(str(path) for path in paths)
            raise TGDCError(
                f"{paths[0]}: cannot be written: no space left on device (the outputs {names}"
                f" need up to {needed / 2**20:.1f} MiB, {free / 2**20:.1f} MiB are free);"
                f" {advice}"
            )
