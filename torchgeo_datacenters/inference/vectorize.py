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


def pixel_size_m(transform: Affine, crs: CRS, metric: CRS, shape: tuple[int, int]) -> float:
    """Smallest side of a pixel in metres, anywhere in a scene.

    Args:
        transform: the scene's affine transform.
        crs: the scene's CRS.
        metric: CRS in metres (see :func:`metric_crs`).
        shape: (height, width) of the scene, in pixels.

    Returns:
        The smallest pixel side measured at the scene's top, middle and bottom rows.
    """
    height, width = shape
    pixels = [
        shapely.box(width // 2, row, width // 2 + 1, row + 1)
        for row in (0, height // 2, height - 1)
    ]
    sides = gpd.GeoSeries(pixel_to_crs(np.array(pixels), transform), crs=crs).to_crs(metric)
    bounds = sides.bounds
    return float(min((bounds.maxx - bounds.minx).min(), (bounds.maxy - bounds.miny).min()))


class Vectorizer:
    """Trace polygons band by band and close them into measured detections as they finish.

    A group of pieces (pieces that touch, or lie within the merge distance of each other)
    is closed as soon as the bands still to come lie farther from all of its pieces than
    the merge distance: it is then merged, measured, dropped if too small and kept only as
    a detection row. Only pieces near the last band stay open, so memory grows with the
    number of detections kept, not with the scene's height.
    """

    def __init__(
        self,
        transform: Affine,
        crs: CRS,
        shape: tuple[int, int],
        *,
        merge_distance: float = 0.0,
        min_area: float = 0.0,
        simplify: float = 0.0,
    ) -> None:
        """Initialize a new Vectorizer.

        Args:
            transform: the scene's affine transform (pixel to CRS).
            crs: the scene's CRS.
            shape: (height, width) of the scene, in pixels.
            merge_distance: pieces closer than this, in metres, form one detection.
            min_area: detections smaller than this, in m², are dropped.
            simplify: tolerance in metres for simplifying outlines (0: keep every vertex).

        Raises:
            TGDCError: if a distance or area is negative.
        """
        check_non_negative(merge_distance=merge_distance, min_area=min_area, simplify=simplify)
        self.transform = transform
        self.crs = CRS.from_user_input(crs)
        left, top = transform @ (0, 0)
        right, bottom = transform @ (shape[1], shape[0])
        self.metric = metric_crs(self.crs, (left, bottom, right, top))
        self.merge_distance = merge_distance
        self.min_area = min_area
        self.simplify = simplify
        #: Rows beyond a piece within which a later piece may still join its group.
        self.reach = merge_distance / pixel_size_m(transform, self.crs, self.metric, shape)
        self._pieces: list[shapely.Geometry] = []
        self._stats: list[tuple[float, int, float]] = []
        self._closed: list[gpd.GeoDataFrame] = []

    @property
    def open_pieces(self) -> int:
        """Number of pieces traced but not yet closed into detections."""
        return len(self._pieces)

    def add(self, row_off: int, mask: np.ndarray, probabilities: np.ndarray) -> None:
        """Trace the data-center pixels of one band of rows and close finished groups.

        Bands must come top to bottom.

        Args:
            row_off: scene row of the band's first row.
            mask: (rows, width) uint8 mask from :func:`threshold_band`.
            probabilities: (rows, width) probabilities of the same band.
        """
        labels, count = ndimage.label(mask == 1)
        if count:
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
                shell, *holes = (shapely.linearrings(ring) for ring in geometry["coordinates"])
                self._pieces.append(shapely.polygons(shell, holes or None))
                self._stats.append((float(sums[label]), int(counts[label]), float(maxima[label])))
        self._close(row_off + mask.shape[0])

    def finish(self) -> gpd.GeoDataFrame:
        """Close every group left and return all detections.

        Returns:
            The detections in EPSG:4326, ordered by :func:`order_detections`, with an
            empty ``source``.
        """
        self._close(None)
        if not self._closed:
            return empty_detections()
        return order_detections(pd.concat(self._closed, ignore_index=True))

    def _close(self, frontier: int | None) -> None:
        """Measure the groups that no band from *frontier* on can join.

        Args:
            frontier: first row of the bands still to come (None: the scene is done).
        """
        if not self._pieces:
            return
        pixel = np.array(self._pieces, dtype=object)
        group = self._groups(pixel)
        bottoms = shapely.bounds(pixel)[:, 3]
        if frontier is None:
            done = np.ones(group.max() + 1, bool)
        else:
            lowest = pd.Series(bottoms).groupby(group).max().to_numpy()
            done = frontier - lowest > self.reach
        closing = done[group]
        if closing.any():
            stats = np.array(self._stats)[closing]
            _, group_closing = np.unique(group[closing], return_inverse=True)
            self._closed.append(self._measure(pixel[closing], group_closing, stats))
        self._pieces = list(pixel[~closing])
        self._stats = [stat for stat, keep in zip(self._stats, ~closing, strict=True) if keep]

    def _measure(self, pixel: np.ndarray, group: np.ndarray, stats: np.ndarray) -> gpd.GeoDataFrame:
        """Merge groups of pieces into detections and measure them.

        Areas and centroids are those of the traced pixels, measured in the metric CRS,
        before any simplification.

        Args:
            pixel: the pieces, in pixel coordinates.
            group: the group number (0..n-1) of every piece.
            stats: (sum, count, maximum) of the probabilities of every piece.

        Returns:
            The detections of at least the minimum area, unordered, in EPSG:4326.
        """
        order = np.argsort(group, kind="stable")
        members = np.split(pixel[order], np.flatnonzero(np.diff(group[order])) + 1)
        # A union keeps collinear vertices where pieces were cut between bands: drop them.
        merged = np.array(
            [
                parts[0] if len(parts) == 1 else shapely.simplify(shapely.union_all(parts), 0.0)
                for parts in members
            ]
        )
        outlines = gpd.GeoSeries(pixel_to_crs(merged, self.transform), crs=self.crs)
        outlines = outlines.to_crs(self.metric)
        areas = outlines.area.to_numpy()
        keep = areas >= self.min_area
        outlines = outlines[keep]
        centroids = outlines.centroid.to_crs("EPSG:4326")
        if self.simplify > 0:
            outlines = outlines.simplify(self.simplify, preserve_topology=True)
        sums, counts, maxima = stats.T
        scores = np.bincount(group, weights=sums) / np.bincount(group, weights=counts)
        peaks = pd.Series(maxima).groupby(group).max().to_numpy()
        return gpd.GeoDataFrame(
            {
                "id": 0,
                "area_m2": areas[keep],
                "centroid_lon": centroids.x.to_numpy(),
                "centroid_lat": centroids.y.to_numpy(),
                "score": scores[keep],
                "max_score": peaks[keep],
                "source": "",
            },
            geometry=outlines.to_crs("EPSG:4326").to_numpy(),
            crs="EPSG:4326",
        )

    def _groups(self, pixel: np.ndarray) -> np.ndarray:
        """Number the groups of pieces that become one detection each.

        Args:
            pixel: the pieces, in pixel coordinates.

        Returns:
            The group number (0..groups-1) of every piece.
        """
        pairs = [shapely.STRtree(pixel).query(pixel, predicate="intersects")]
        if self.merge_distance > 0:
            world = gpd.GeoSeries(pixel_to_crs(pixel, self.transform), crs=self.crs)
            world = world.to_crs(self.metric).to_numpy()
            tree = shapely.STRtree(world)
            pairs.append(tree.query(world, predicate="dwithin", distance=self.merge_distance))
        left, right = np.concatenate(pairs, axis=1)
        graph = sparse.coo_matrix((np.ones(left.size), (left, right)), shape=(len(pixel),) * 2)
        return connected_components(graph, directed=False)[1]
