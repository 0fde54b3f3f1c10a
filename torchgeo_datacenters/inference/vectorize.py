"""Turn stitched probabilities into data-center polygons with areas, centroids and scores.

The predictor hands over the scene one band of rows at a time. :class:`Vectorizer`
labels the connected pixels at or above the threshold in each band, traces them with
:func:`rasterio.features.shapes` (holes kept) in pixel coordinates and keeps each piece's
sum, count and maximum of probabilities. :meth:`Vectorizer.finish` then joins pieces that
touch (a building split between bands, or pixels that meet at a corner) and pieces closer
than the merge distance into one detection, in exact integer pixel coordinates, and
measures every detection in a metric CRS: the scene's own CRS when it is projected in
metres, otherwise the UTM zone estimated from the scene (geographic or foot-based input).
"""

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from affine import Affine
from pyproj import CRS
from rasterio.features import shapes
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components

from ..errors import TGDCError

#: Value of nodata pixels in the uint8 detection mask (1 = data center, 0 = background).
MASK_NODATA = 255

#: Columns of a detection table, in order (plus ``geometry``, EPSG:4326 lon/lat).
DETECTION_COLUMNS = (
    "id",
    "area_m2",
    "centroid_lon",
    "centroid_lat",
    "score",
    "max_score",
    "source",
)

#: Decimals kept for longitudes and latitudes (about 1 cm).
LONLAT_DECIMALS = 7


def threshold_band(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Threshold probabilities into a detection mask.

    Args:
        probabilities: probabilities, NaN where the input is nodata.
        threshold: probability at or above which a pixel is a data center.

    Returns:
        A uint8 array: 1 data center, 0 background, :data:`MASK_NODATA` nodata.
    """
    mask = (probabilities >= threshold).astype(np.uint8)
    mask[np.isnan(probabilities)] = MASK_NODATA
    return mask


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


def pixel_to_crs(geometries: Any, transform: Affine) -> Any:
    """Move geometries from pixel (column, row) coordinates into the scene's CRS.

    Args:
        geometries: a shapely geometry or array of them, in pixel coordinates.
        transform: the scene's affine transform.

    Returns:
        The geometries in the scene's CRS.
    """

    def apply(coords: np.ndarray) -> np.ndarray:
        xs, ys = transform @ (coords[:, 0], coords[:, 1])
        return np.column_stack([xs, ys])

    return shapely.transform(geometries, apply)


def empty_detections() -> gpd.GeoDataFrame:
    """Return a detection table with no rows.

    Returns:
        An empty GeoDataFrame with the detection columns, in EPSG:4326.
    """
    columns = {
        "id": pd.Series(dtype="int64"),
        "area_m2": pd.Series(dtype="float64"),
        "centroid_lon": pd.Series(dtype="float64"),
        "centroid_lat": pd.Series(dtype="float64"),
        "score": pd.Series(dtype="float64"),
        "max_score": pd.Series(dtype="float64"),
        "source": pd.Series(dtype="object"),
    }
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs="EPSG:4326"))


def order_detections(detections: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Sort detections north to south, then west to east, and number them from 1.

    Args:
        detections: detections with centroid and area columns.

    Returns:
        A new table in a fixed order with ``id`` 1..n and the columns in order.
    """
    if detections.empty:
        return empty_detections()
    keys = pd.DataFrame(
        {
            "lat": -detections["centroid_lat"].round(LONLAT_DECIMALS),
            "lon": detections["centroid_lon"].round(LONLAT_DECIMALS),
            "area": -detections["area_m2"],
            "source": detections["source"],
        }
    )
    order = keys.sort_values(["lat", "lon", "area", "source"], kind="stable").index
    result = detections.loc[order].reset_index(drop=True)
    result["id"] = np.arange(1, len(result) + 1, dtype=np.int64)
    return result[[*DETECTION_COLUMNS, "geometry"]]


class Vectorizer:
    """Collect polygons band by band, then merge and measure them as detections."""

    def __init__(self) -> None:
        """Initialize a new Vectorizer with no pieces."""
        self._pieces: list[shapely.Geometry] = []
        self._sums: list[float] = []
        self._counts: list[int] = []
        self._maxima: list[float] = []

    def __len__(self) -> int:
        """Number of pieces collected so far."""
        return len(self._pieces)

    def add(self, row_off: int, mask: np.ndarray, probabilities: np.ndarray) -> None:
        """Trace the data-center pixels of one band of rows.

        Args:
            row_off: scene row of the band's first row.
            mask: (rows, width) uint8 mask from :func:`threshold_band`.
            probabilities: (rows, width) probabilities of the same band.
        """
        labels, count = ndimage.label(mask == 1)
        if count == 0:
            return
        flat = labels.ravel()
        inside = np.flatnonzero(flat)
        labelled, values = flat[inside], probabilities.ravel()[inside]
        counts = np.bincount(labelled, minlength=count + 1)
        sums = np.bincount(labelled, weights=values, minlength=count + 1)
        maxima = np.zeros(count + 1, probabilities.dtype)
        np.maximum.at(maxima, labelled, values)
        origin = Affine.translation(0, row_off)
        for geometry, value in shapes(labels, mask=labels > 0, transform=origin):
            label = int(value)
            self._pieces.append(shapely.geometry.shape(geometry))
            self._sums.append(float(sums[label]))
            self._counts.append(int(counts[label]))
            self._maxima.append(float(maxima[label]))

    def finish(
        self,
        transform: Affine,
        crs: CRS,
        metric: CRS,
        *,
        merge_distance: float = 0.0,
        min_area: float = 0.0,
        simplify: float = 0.0,
        source: str = "",
    ) -> gpd.GeoDataFrame:
        """Merge the pieces into detections and measure them.

        Pieces that touch, or lie within *merge_distance* metres of each other, become one
        detection (a MultiPolygon when they do not touch). Areas and centroids are those
        of the traced pixels, measured in *metric*, before any simplification.

        Args:
            transform: the scene's affine transform (pixel to CRS).
            crs: the scene's CRS.
            metric: CRS in metres in which to measure (see :func:`metric_crs`).
            merge_distance: pieces closer than this, in metres, are merged.
            min_area: detections smaller than this, in m², are dropped.
            simplify: tolerance in metres for simplifying outlines (0: keep every vertex).
            source: value of the ``source`` column.

        Returns:
            The detections in EPSG:4326, ordered by :func:`order_detections`.

        Raises:
            TGDCError: if a distance or area is negative.
        """
        for name, value in (
            ("merge_distance", merge_distance),
            ("min_area", min_area),
            ("simplify", simplify),
        ):
            if not value >= 0:
                raise TGDCError(f"{name}: {value} is negative; give 0 or more")
        if not self._pieces:
            return empty_detections()
        pixel = np.array(self._pieces, dtype=object)
        group = self._groups(pixel, transform, crs, metric, merge_distance)
        order = np.argsort(group, kind="stable")
        members = np.split(pixel[order], np.flatnonzero(np.diff(group[order])) + 1)
        # A union keeps collinear vertices where pieces were cut between bands: drop them.
        merged = np.array(
            [
                parts[0] if len(parts) == 1 else shapely.simplify(shapely.union_all(parts), 0.0)
                for parts in members
            ]
        )
        outlines = gpd.GeoSeries(pixel_to_crs(merged, transform), crs=crs).to_crs(metric)
        counts = np.bincount(group, weights=self._counts)
        maxima = pd.Series(self._maxima).groupby(group).max().to_numpy()
        areas = outlines.area.to_numpy()
        centroids = outlines.centroid.to_crs("EPSG:4326")
        if simplify > 0:
            outlines = outlines.simplify(simplify, preserve_topology=True)
        detections = gpd.GeoDataFrame(
            {
                "id": 0,
                "area_m2": areas,
                "centroid_lon": centroids.x.to_numpy(),
                "centroid_lat": centroids.y.to_numpy(),
                "score": np.bincount(group, weights=self._sums) / counts,
                "max_score": maxima,
                "source": source,
            },
            geometry=outlines.to_crs("EPSG:4326").to_numpy(),
            crs="EPSG:4326",
        )
        return order_detections(detections[detections["area_m2"] >= min_area])

    @staticmethod
    def _groups(
        pixel: np.ndarray, transform: Affine, crs: CRS, metric: CRS, merge_distance: float
    ) -> np.ndarray:
        """Number the groups of pieces that become one detection each.

        Args:
            pixel: the pieces, in pixel coordinates.
            transform: the scene's affine transform.
            crs: the scene's CRS.
            metric: CRS in metres for *merge_distance*.
            merge_distance: pieces closer than this, in metres, join a group.

        Returns:
            The group number (0..groups-1) of every piece.
        """
        pairs = [shapely.STRtree(pixel).query(pixel, predicate="intersects")]
        if merge_distance > 0:
            world = gpd.GeoSeries(pixel_to_crs(pixel, transform), crs=crs).to_crs(metric)
            tree = shapely.STRtree(world.to_numpy())
            pairs.append(tree.query(world.to_numpy(), predicate="dwithin", distance=merge_distance))
        left, right = np.concatenate(pairs, axis=1)
        graph = sparse.coo_matrix((np.ones(left.size), (left, right)), shape=(len(pixel),) * 2)
        return connected_components(graph, directed=False)[1]
