"""Merge the detections of many scenes into one table: one polygon per data center.

A data center cut by a scene boundary is found as one piece in each scene it lies in, and a
data center inside the overlap of two scenes is found twice. :func:`merge_detections` joins
every set of detections that touch, overlap or lie within a merge distance of each other
(the predictor's own rule inside a scene, now applied across scenes) into one detection:
the union of their polygons, with its area and centroid measured again in a metric CRS, the
area-weighted mean of their scores as the score and the largest ``max_score``.

Detections are stored in EPSG:4326, where distances are not metres. Joining is done in two
steps: candidates are found in degrees with a tolerance that is never smaller than the
merge distance, then each cluster of candidates is projected to its own UTM zone (see
:func:`.metric.metric_crs`) and joined by exact distances in metres. Detections with no
neighbour are passed through unchanged.

:func:`prune_small` lets each scene drop its small detections early: those that cannot grow
by merging because they lie farther than the merge distance from the scene's edge.
"""

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from .grouping import connected_groups
from .metric import check_non_negative, metric_crs, projections
from .outlines import OutlineRules, finish_outlines
from .schema import (
    DETECTION_CRS,
    OPTIONAL_COLUMNS,
    OUTLINE,
    SITE_ID,
    check_detections,
    order_detections,
)

#: Fewest metres in a degree of latitude or of longitude at the equator (WGS 84). At latitude
#: φ a degree of either spans at least this times cos(φ) metres.
METRES_PER_DEGREE = 110_574.0

#: Largest latitude, in degrees, used to bound degree tolerances (avoids dividing by zero).
MAX_LATITUDE = 89.0


def _near_pairs(geometries: np.ndarray, distance: float) -> np.ndarray:
    """Pairs of geometries that intersect or lie within a distance of each other.

    Args:
        geometries: shapely geometries.
        distance: the distance, in the geometries' units (0: intersect only).

    Returns:
        (2, n) indices of the pairs, each pair in both orders and every geometry with itself.
    """
    tree = shapely.STRtree(geometries)
    if distance > 0:
        return tree.query(geometries, predicate="dwithin", distance=distance)
    return tree.query(geometries, predicate="intersects")


def degree_tolerance(distance: float, bounds: tuple[float, float, float, float]) -> float:
    """A distance in degrees that is at least *distance* metres anywhere within some bounds.

    Args:
        distance: the distance, in metres.
        bounds: (west, south, east, north), in degrees.

    Returns:
        The tolerance, in degrees.
    """
    latitude = min(max(abs(bounds[1]), abs(bounds[3])), MAX_LATITUDE)
    return distance / (METRES_PER_DEGREE * math.cos(math.radians(latitude)))


def _merged_rows(
    columns: dict[str, np.ndarray], geographic: CRS, metric: CRS, rules: OutlineRules, site: int
) -> list[dict]:
    """The detections made of several: union, outlines, areas, centroids, scores, source.

    Args:
        columns: the columns of the detections to merge (geometries in EPSG:4326), in a
            fixed order.
        geographic: EPSG:4326.
        metric: CRS in metres in which to measure the union.
        rules: how the union's outline is written (:mod:`.outlines`); inactive rules
            write the union itself.
        site: site number of the merged detections (with active rules).

    Returns:
        The merged detections' columns (``id`` is set later by ordering): one
        detection, or one per hall where the rules split the union.
    """
    forward, back = projections(geographic, metric)
    pieces = columns["geometry"]
    union = shapely.union_all(pieces)
    measured = np.array([forward(union)])
    extra: dict[str, np.ndarray] = {}
    if rules.active:
        finished = finish_outlines(np.array([shapely.union_all(forward(pieces))]), rules)
        measured = np.asarray(finished.geometries)
        extra = {OUTLINE: finished.kind, SITE_ID: np.full(len(measured), site)}
    centroids = back(shapely.centroid(measured))
    geometries = back(measured) if rules.active else [union]
    areas = columns["area_m2"]
    largest = int(np.argmax(areas))
    return [
        {
            "id": 0,
            "area_m2": float(area),
            "centroid_lon": centroid.x,
            "centroid_lat": centroid.y,
            "score": float(
                np.average(columns["score"], weights=areas if areas.sum() > 0 else None)
            ),
            "max_score": float(np.nanmax(columns["max_score"])),
            "source": columns["source"][largest],
            **{
                column: columns[column][largest] for column in OPTIONAL_COLUMNS if column in columns
            },
            **{column: values[hall] for column, values in extra.items()},
            "geometry": geometry,
        }
        for hall, (area, centroid, geometry) in enumerate(
            zip(shapely.area(measured), centroids, geometries, strict=True)
        )
    ]


def merge_detections(
    detections: gpd.GeoDataFrame,
    *,
    distance: float = 0.0,
    min_area: float = 0.0,
    outlines: OutlineRules | None = None,
) -> gpd.GeoDataFrame:
    """Join the detections of neighbouring scenes into one detection per data center.

    Detections that touch, overlap or lie within *distance* metres of each other (directly
    or through others) become one: the union of their polygons (a MultiPolygon when they do
    not touch), its area in m² and centroid measured in the UTM zone of the group, the
    area-weighted mean of their scores, the largest ``max_score`` and the ``source`` of the
    largest piece. Duplicates found in overlapping scenes collapse into one this way.
    Detections with no neighbour keep their values. The result is the same for the same
    rows in the same order.

    Args:
        detections: detections of one or more scenes in EPSG:4326, with the columns of the
            predictor's tables, in a fixed order (e.g. scene by scene).
        distance: detections closer than this, in metres, are joined (0: only those that
            touch or overlap).
        min_area: merged detections smaller than this, in m², are dropped.
        outlines: how the outlines are written: with active rules (:mod:`.outlines`),
            the union of the pieces of every detection (give traced pieces: regularised
            pieces of one building need not touch) is regularised and split into halls
            by them, measured on the outlines written, and each detection's halls form
            a site; None: the union of the pieces as they are.

    Returns:
        The merged detections, ordered and numbered by
        :func:`.schema.order_detections`.

    Raises:
        TGDCError: if a column is missing, the CRS is not EPSG:4326, or *distance* or
            *min_area* is negative.
    """
    check_detections(detections)
    check_non_negative(distance=distance, min_area=min_area)
    detections = detections.reset_index(drop=True)
    if detections.empty:
        return order_detections(detections)
    geometries = detections.geometry.to_numpy()
    tolerance = degree_tolerance(distance, tuple(detections.total_bounds))
    clusters = connected_groups(_near_pairs(geometries, tolerance), len(detections))
    sizes = np.bincount(clusters)
    rules = outlines or OutlineRules()
    # With outline rules every detection is written by them, alone or not.
    alone = sizes[clusters] == 1 if not rules.active else np.zeros(len(detections), bool)
    # Clusters are handled as arrays: a national scan has thousands, and a table taken
    # per cluster costs more than its geometry.
    names = ["geometry", "area_m2", "score", "max_score", "source"]
    names += [column for column in OPTIONAL_COLUMNS if column in detections]
    values = {name: detections[name].to_numpy() for name in names}
    kept = [np.flatnonzero(alone)]
    unions: list[dict] = []
    site = 0
    geographic = CRS.from_user_input(DETECTION_CRS)
    joined = np.flatnonzero(~alone)
    joined = joined[np.argsort(clusters[joined], kind="stable")]
    for members in np.split(joined, np.flatnonzero(np.diff(clusters[joined])) + 1):
        if not len(members):
            continue
        bounds = tuple(shapely.total_bounds(values["geometry"][members]))
        metric = metric_crs(geographic, bounds)
        projected = projections(geographic, metric)[0](values["geometry"][members])
        groups = connected_groups(_near_pairs(projected, distance), len(members))
        for group in np.unique(groups):
            rows = members[groups == group]
            if len(rows) == 1 and not rules.active:
                kept.append(rows)
            else:
                parts = {name: column[rows] for name, column in values.items()}
                unions += _merged_rows(parts, geographic, metric, rules, site)
                site += 1
    tables = [detections.iloc[np.concatenate(kept)]]
    if unions:
        tables.append(gpd.GeoDataFrame(unions, geometry="geometry", crs=DETECTION_CRS))
    result = pd.concat([table for table in tables if not table.empty], ignore_index=True)
    return order_detections(result[result["area_m2"] >= min_area])


def prune_small(
    detections: gpd.GeoDataFrame,
    bounds: tuple[float, float, float, float],
    crs: CRS,
    *,
    min_area: float,
    distance: float,
) -> gpd.GeoDataFrame:
    """Drop the small detections of one scene that no merge can make larger.

    A detection smaller than *min_area* is kept only when it lies within *distance* metres
    of the edge of the scene's raster, where it may be part of a data center that continues
    in a neighbouring scene.

    Args:
        detections: detections of the scene, in EPSG:4326.
        bounds: (left, bottom, right, top) of the scene's raster, in *crs*.
        crs: the scene's CRS.
        min_area: smallest area kept away from the edge, in m².
        distance: distance from the edge, in metres, within which everything is kept.

    Returns:
        The detections kept, in their order.

    Raises:
        TGDCError: if a column is missing, the CRS is not EPSG:4326, or *min_area* or
            *distance* is negative.
    """
    check_detections(detections)
    check_non_negative(min_area=min_area, distance=distance)
    if detections.empty:
        return detections
    metric = metric_crs(crs, bounds)
    edge = gpd.GeoSeries([shapely.box(*bounds).boundary], crs=crs).to_crs(metric).iloc[0]
    gaps = detections.geometry.to_crs(metric).distance(edge)
    return detections[(detections["area_m2"] >= min_area) | (gaps <= distance)]
