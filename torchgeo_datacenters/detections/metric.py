"""Measuring in metres: the CRS in which areas and distances are taken, and their checks.

Detections are stored in lon/lat, where lengths are not metres. Every area (m²) and every
distance (metres) is measured in a metric CRS instead: the scene's own CRS when it is
projected in metres, otherwise the UTM zone estimated from the bounds at hand.
"""

import geopandas as gpd
import shapely
from pyproj import CRS

from ..errors import TGDCError


def metric_crs(crs: CRS, bounds: tuple[float, float, float, float]) -> CRS:
    """Choose the CRS in which areas and distances are measured.

    Args:
        crs: CRS of the scene.
        bounds: (left, bottom, right, top) of the scene in *crs*.

    Returns:
        *crs* itself if it is projected in metres, else the UTM zone of the scene.
    """
    crs = CRS.from_user_input(crs)
    if crs.is_projected and all(axis.unit_name in ("metre", "meter") for axis in crs.axis_info):
        return crs
    return gpd.GeoSeries([shapely.box(*bounds)], crs=crs).estimate_utm_crs()


def check_non_negative(**values: float) -> None:
    """Check that distances and areas are not negative.

    Args:
        values: option name to value (metres or m²).

    Raises:
        TGDCError: if a value is negative or not a number.
    """
    for name, value in values.items():
        if not value >= 0:
            raise TGDCError(f"{name}: {value} is negative; give 0 or more")
