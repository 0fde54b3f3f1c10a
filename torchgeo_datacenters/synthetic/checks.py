"""Checks of the arguments of the SYNTHETIC generator; each failure is a :class:`TGDCError`."""

import math
from collections.abc import Sequence

import numpy as np
import shapely
from rasterio.crs import CRS
from rasterio.errors import CRSError
from shapely.geometry.base import BaseGeometry

from ..errors import TGDCError

MIN_SIZE = 64
"""Smallest scene side, in pixels."""

MAX_SIZE = 8192
"""Largest scene side, in pixels (a scene is drawn in memory, about 20 bytes per pixel)."""


def check_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """Validate a scene size and return it as (height, width)."""
    if isinstance(size, int | np.integer):
        pair: tuple = (size, size)
    else:
        try:
            pair = tuple(size)
        except TypeError:
            pair = ()
    if len(pair) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in pair
    ):
        raise TGDCError(f"size: {size!r} is not a number of pixels or (height, width) pair")
    if not all(MIN_SIZE <= v <= MAX_SIZE for v in pair):
        raise TGDCError(
            f"size: {size!r} pixels is out of range; give {MIN_SIZE} to {MAX_SIZE} pixels a side"
        )
    return int(pair[0]), int(pair[1])


def check_seed(seed: int) -> int:
    """Validate a random seed."""
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise TGDCError(f"seed: {seed!r} is not a whole number >= 0; give e.g. --seed 0")
    return int(seed)


def check_crs(crs: str) -> CRS:
    """Parse a CRS and check that it is projected in metres."""
    try:
        parsed = CRS.from_user_input(crs)
    except CRSError as error:
        raise TGDCError(f"crs: {crs!r} is not a CRS ({error}); give e.g. EPSG:32617") from error
    if not parsed.is_projected or parsed.linear_units not in ("metre", "meter"):
        raise TGDCError(
            f"crs: {crs!r} is not a projected CRS in metres; give a UTM zone such as EPSG:32617"
        )
    return parsed


def check_count(name: str, value: int | None) -> None:
    """Check an optional object count."""
    if value is not None and (
        not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0
    ):
        raise TGDCError(f"{name}: {value!r} is not a whole number >= 0 (or None for the default)")


def check_number(name: str, value: float) -> float:
    """Check that a number is finite."""
    try:
        number = float(value)
    except (TypeError, ValueError) as error:
        raise TGDCError(f"{name}: {value!r} is not a number") from error
    if not math.isfinite(number):
        raise TGDCError(f"{name}: {value!r} is not a finite number")
    return number


def check_datacenters(
    datacenters: Sequence[shapely.Polygon], bounds: shapely.Polygon, crs: str
) -> list[BaseGeometry]:
    """Check explicit data-center footprints against the scene bounds."""
    polygons: list[BaseGeometry] = list(datacenters)
    for i, polygon in enumerate(polygons):
        if (
            not isinstance(polygon, shapely.Polygon | shapely.MultiPolygon)
            or polygon.is_empty
            or not polygon.is_valid
        ):
            raise TGDCError(
                f"datacenters[{i}]: {polygon!r} is not a valid, non-empty shapely Polygon;"
                " give roof footprints in scene CRS coordinates"
            )
        if not polygon.intersection(bounds).area > 0:
            raise TGDCError(
                f"datacenters[{i}]: footprint with bounds {polygon.bounds} misses the scene"
                f" {bounds.bounds}; give coordinates in the scene CRS ({crs})"
            )
    return polygons


def check_grid(crs: str, gsd: float) -> tuple[CRS, float]:
    """Check a scene's CRS and pixel size.

    Args:
        crs: projected CRS in metres (a UTM zone, as NAIP).
        gsd: pixel size in metres.

    Returns:
        The parsed CRS and the pixel size as a float.

    Raises:
        TGDCError: if the CRS is not a projected one in metres, or the pixel size is not
            0.05 to 100 metres.
    """
    parsed = check_crs(crs)
    gsd = check_number("gsd", gsd)
    if not 0.05 <= gsd <= 100.0:
        raise TGDCError(f"gsd: {gsd} m is out of range; give a pixel size of 0.05 to 100 metres")
    return parsed, gsd
