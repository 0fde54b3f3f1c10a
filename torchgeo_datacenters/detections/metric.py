"""Measuring in metres: the CRS in which areas and distances are taken, and their checks.

Detections are stored in lon/lat, where lengths are not metres. Every area (m²) and every
distance (metres) is measured in a metric CRS instead: the scene's own CRS when it is a UTM
zone or true to scale in metres, otherwise (geographic, feet, Web Mercator, Albers...) the
UTM zone estimated from the bounds at hand.
"""

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Proj

from ..errors import TGDCError

#: Largest departure from 1 of a projection's scale factors for its metres to be taken as
#: ground metres (a UTM zone reaches 1.001 at its edges; Web Mercator 1.29 at 39° N).
TRUE_SCALE_TOLERANCE = 0.0015


def metric_crs(crs: CRS, bounds: tuple[float, float, float, float]) -> CRS:
    """Choose the CRS in which areas and distances are measured.

    Args:
        crs: CRS of the scene.
        bounds: (left, bottom, right, top) of the scene in *crs*.

    Returns:
        *crs* itself if it is a UTM zone, or projected in metres and true to scale over
        the scene (scale factors within :data:`TRUE_SCALE_TOLERANCE` of 1 in both
        directions), else the UTM zone of the scene (geographic, foot-based or
        distorting CRSs such as Web Mercator).
    """
    crs = CRS.from_user_input(crs)
    if crs.utm_zone is not None:
        return crs
    box = gpd.GeoSeries([shapely.box(*bounds)], crs=crs)
    if crs.is_projected and all(axis.unit_name in ("metre", "meter") for axis in crs.axis_info):
        corners = shapely.get_coordinates(box.to_crs("EPSG:4326").iloc[0])
        factors = Proj(crs).get_factors(corners[:, 0], corners[:, 1])
        scales = np.concatenate([factors.meridional_scale, factors.parallel_scale])
        if np.all(np.abs(scales - 1) <= TRUE_SCALE_TOLERANCE):
            return crs
    return box.estimate_utm_crs()


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
