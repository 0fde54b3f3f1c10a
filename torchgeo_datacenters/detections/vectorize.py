"""Turn stitched probabilities into data-center polygons with areas, centroids and scores.

The predictor hands over the scene one band of rows at a time. :class:`Vectorizer`
labels the connected patches of pixels at or above the threshold; a patch that reaches
the band's last row is held back until it ends (up to :data:`MAX_HELD_ROWS` rows), so
nearly every patch is traced whole. A patch that fills its bounding box is that box; the
others are packed side by side into a small raster (tracing costs time for every pixel,
empty or not) and traced with :func:`rasterio.features.shapes` (holes kept) in pixel
coordinates; each piece keeps the sum, count and maximum of its probabilities.

Pieces that touch (at a corner, or along a row where a taller patch was cut) or lie within
the merge distance form one detection, closed as soon as no later row can reach it:
gathered into a (Multi)Polygon in exact integer pixel coordinates (cut pieces unioned) and
measured in a metric CRS: the scene's own CRS when it is projected in metres, otherwise the
UTM zone estimated from the scene (geographic or foot-based input). There the outlines
written are made (:mod:`.outlines`: regularised, split into halls) when asked, and areas
and centroids are those of the outlines written. In the scene's own CRS
a detection's area is its pixel count times a pixel's area, so groups too small to keep
are dropped before their outlines are built.

A run builds its :class:`Vectorizer` before its first tile; SciPy, pandas and GeoPandas
are imported only once bands are traced and detections tabled.
"""

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS

from .grouping import connected_groups, pairs_within
from .metric import check_non_negative, metric_crs, reproject
from .outlines import TOLERANCE_PIXELS, OutlineRules, finish_outlines
from .patches import merge_groups, patch_boxes, trace_patches
from .schema import DETECTION_CRS, OUTLINE, SITE_ID, empty_detections, order_detections

if TYPE_CHECKING:
    import geopandas as gpd

#: Value of nodata pixels in the uint8 detection mask (1 = data center, 0 = background).
MASK_NODATA = 255

#: Most rows a patch of detection pixels may span while held back to be traced whole; a
#: taller patch is traced in pieces (this bounds the rows held: 256 rows of a 16,384 px
#: wide scene take 21 MB).
MAX_HELD_ROWS = 256


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


def pixel_to_crs(geometries: Any, transform: Affine) -> Any:
    """Move geometries from pixel (column, row) coordinates into the scene's CRS.

    Args:
        geometries: a shapely geometry or array of them, in pixel coordinates.
        transform: the scene's affine transform.

    Returns:
        The geometries in the scene's CRS.
    """

    def apply(coords: np.ndarray) -> np.ndarray:
        # affine's types allow float pairs only; it maps arrays element-wise too.
        xs, ys = transform @ (coords[:, 0], coords[:, 1])  # type: ignore[operator]
        return np.column_stack([xs, ys])

    return shapely.transform(geometries, apply)


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
    sides = reproject(pixel_to_crs(np.array(pixels), transform), crs, metric)
    left, bottom, right, top = shapely.bounds(sides).T
    return float(min((right - left).min(), (top - bottom).min()))


class Vectorizer:
    """Trace polygons band by band and close them into measured detections as they finish.

    A connected patch of detection pixels that reaches the bottom of a band is held back
    (its rows are kept) until it ends, and then traced whole, so most detections need no
    union of pieces. A patch taller than :data:`MAX_HELD_ROWS` is traced in pieces at the
    band's end instead; such pieces are unioned when their detection closes.

    A group of pieces (pieces that touch, or lie within the merge distance of each other)
    is closed as soon as the rows still to trace lie farther from all of its pieces than
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
        outlines: OutlineRules | None = None,
    ) -> None:
        """Initialize a new Vectorizer.

        Args:
            transform: the scene's affine transform (pixel to CRS).
            crs: the scene's CRS.
            shape: (height, width) of the scene, in pixels.
            merge_distance: pieces closer than this, in metres, form one detection.
            min_area: detections smaller than this, in m², are dropped.
            simplify: tolerance in metres for simplifying outlines (0: keep every vertex).
            outlines: how traced outlines become the outlines written (regularised,
                split into halls; see :mod:`.outlines`); its tolerance is set to
                :data:`.outlines.TOLERANCE_PIXELS` of the scene's pixels. None: traced
                outlines, as they are.

        Raises:
            TGDCError: if a distance or area is negative.
        """
        check_non_negative(merge_distance=merge_distance, min_area=min_area, simplify=simplify)
        self.transform = transform
        self.crs = CRS.from_user_input(crs)
        self.height, width = shape
        left, top = transform @ (0, 0)
        right, bottom = transform @ (width, self.height)
        self.metric = metric_crs(self.crs, (left, bottom, right, top))
        self.merge_distance = merge_distance
        self.min_area = min_area
        self.simplify = simplify
        pixel = pixel_size_m(transform, self.crs, self.metric, shape)
        #: Rows beyond a piece within which a later piece may still join its group.
        self.reach = merge_distance / pixel
        rules = outlines or OutlineRules()
        self.outlines = dataclasses.replace(rules, tolerance=TOLERANCE_PIXELS * pixel)
        #: Sites measured so far (numbers the sites of the halls split apart).
        self._sites = 0
        #: First scene row not traced yet; the held rows start there.
        self._held_top = 0
        self._held_hits = np.zeros((0, width), bool)
        #: Probabilities of the held pixels in :attr:`_held_hits`, in row-major order.
        self._held_weights = np.zeros(0, np.float32)
        #: Rows where tall patches were cut into pieces, which may still be open.
        self._cuts: list[int] = []
        #: Open pieces: pixel outlines, metric outlines (with a merge distance), the
        #: (sum, count, maximum) of their probabilities, and whether a cut crosses them;
        #: pairs of open pieces that touch or lie within the merge distance.
        self._pixel = np.empty(0, object)
        self._world = np.empty(0, object)
        self._stats = np.empty((0, 3))
        self._cut = np.empty(0, bool)
        self._rectangle = np.empty(0, bool)
        self._pairs = np.empty((2, 0), np.intp)
        #: Whether pixel rectangles stay axis-aligned rectangles in the metric CRS.
        self._aligned = self.metric == self.crs and transform.b == transform.d == 0
        self._closed: list[gpd.GeoDataFrame] = []
        self._dropped: list[np.ndarray] = []

    @property
    def open_pieces(self) -> int:
        """Number of pieces traced but not yet closed into detections."""
        return len(self._pixel)

    @property
    def dropped(self) -> np.ndarray:
        """Pixel bounds of the pieces of groups dropped as smaller than the minimum area.

        Returns:
            (pieces, 4) float64 (min column, min row, max column, max row) on the scene's
            pixel grid: where a patch was found but made no detection.
        """
        return np.concatenate([np.empty((0, 4)), *self._dropped])

    @property
    def held_rows(self) -> int:
        """Number of rows received but held back, not traced yet."""
        return self._held_hits.shape[0]

    def add(self, row_off: int, mask: np.ndarray, probabilities: np.ndarray) -> None:
        """Trace the data-center pixels of one band of rows and close finished groups.

        Args:
            row_off: scene row of the band's first row.
            mask: (rows, width) uint8 mask from :func:`threshold_band`.
            probabilities: (rows, width) probabilities of the same band.

        Raises:
            ValueError: if the band does not start right below the previous one (bands
                must come top to bottom, each row once).
        """
        expected = self._held_top + self.held_rows
        if row_off != expected:
            raise ValueError(f"band at row {row_off}: expected the band starting at row {expected}")
        band = mask == 1
        hits = np.concatenate([self._held_hits, band])
        weights = np.concatenate([self._held_weights, probabilities[band]])
        self._trace(hits, weights, final=self._held_top + hits.shape[0] >= self.height)
        self._close(self._held_top)

    def finish(self) -> "gpd.GeoDataFrame":
        """Trace the rows held back, close every group left and return all detections.

        Returns:
            The detections in EPSG:4326, ordered by :func:`order_detections`, with an
            empty ``source``.
        """
        if self.held_rows:
            self._trace(self._held_hits, self._held_weights, final=True)
        self._close(None)
        if not self._closed:
            return empty_detections()
        import pandas as pd

        return order_detections(pd.concat(self._closed, ignore_index=True))

    def _trace(self, hits: np.ndarray, weights: np.ndarray, final: bool) -> None:
        """Trace the patches of a strip of rows, holding back those that may continue.

        Args:
            hits: (rows, width) booleans, true on data-center pixels not traced yet; the
                strip starts at :attr:`_held_top`.
            weights: probabilities of the pixels in *hits*, in row-major order.
            final: whether the strip ends the scene (nothing is held back then).
        """
        from scipy import ndimage

        top, rows = self._held_top, hits.shape[0]
        labels, count = ndimage.label(hits)
        boxes = patch_boxes(labels, count)
        traced = np.ones(count + 1, bool)
        traced[0] = False
        held_from, cut = rows, False
        reaching = np.unique(labels[-1]) if count and not final else np.empty(0, int)
        reaching = reaching[reaching > 0]
        if reaching.size:
            starts = boxes[reaching, 0]
            short = rows - starts <= MAX_HELD_ROWS
            traced[reaching[short]] = False
            if short.any():
                held_from = int(starts[short].min())
            cut = not short.all()
        numbers = labels[hits]
        keep = traced[numbers]
        if keep.any():
            self._add_pieces(
                labels, numbers[keep], weights[keep], boxes, top, top + rows if cut else None
            )
        if cut:
            self._cuts.append(top + rows)
        held = hits[held_from:]
        self._held_hits = held & ~traced[labels[held_from:]]
        first_held = weights.size - int(np.count_nonzero(held))
        self._held_weights = weights[first_held:][~keep[first_held:]]
        self._held_top = top + held_from
        self._cuts = [row for row in self._cuts if row >= self._held_top]

    def _add_pieces(
        self,
        labels: np.ndarray,
        flat: np.ndarray,
        weights: np.ndarray,
        boxes: np.ndarray,
        top: int,
        cut_at: int | None,
    ) -> None:
        """Trace labelled patches and open them as pieces.

        Args:
            labels: (rows, width) patch numbers of a strip starting at scene row *top*.
            flat: the patch number of every pixel to trace.
            weights: the probability of every pixel to trace.
            boxes: bounding box of every patch, from :func:`patch_boxes`.
            top: scene row of the strip's first row.
            cut_at: scene row where the strip cuts tall patches, or None.
        """
        counts = np.bincount(flat)
        sums = np.bincount(flat, weights=weights)
        maxima = np.zeros(counts.size, weights.dtype)
        np.maximum.at(maxima, flat, weights)
        present = np.flatnonzero(counts)
        first_row, end_row, first_col, end_col = boxes[present].T
        # A patch that fills its bounding box is that box: only the others are traced.
        filled = counts[present] == (end_row - first_row) * (end_col - first_col)
        numbers, pieces = trace_patches(labels, present[~filled], boxes, top)
        numbers = np.concatenate([present[filled], numbers])
        first_row, end_row = first_row[filled] + top, end_row[filled] + top
        boxes_filled = shapely.box(
            first_col[filled], first_row, end_col[filled], end_row, ccw=False
        )
        pieces = np.concatenate([boxes_filled, pieces])
        bounds = shapely.bounds(pieces)
        first, end = bounds[:, 1], bounds[:, 3]
        # A piece is cut if a cut row runs through it or along its top, or it ends at
        # this strip's cut: such pieces may share an edge with another piece.
        cut = np.zeros(len(pieces), bool)
        for row in self._cuts:
            cut |= (first <= row) & (row < end)
        if cut_at is not None:
            cut |= end == cut_at
        stats = np.column_stack([sums[numbers], counts[numbers], maxima[numbers]])
        first_new = self.open_pieces
        world = self._to_metric(pieces)
        # Traced patches do not fill their boxes, so only the boxes are rectangles.
        rectangle = (np.arange(len(pieces)) < len(boxes_filled)) & self._aligned
        self._pixel = np.concatenate([self._pixel, pieces])
        self._world = np.concatenate([self._world, world])
        self._stats = np.concatenate([self._stats, stats])
        self._cut = np.concatenate([self._cut, cut])
        self._rectangle = np.concatenate([self._rectangle, rectangle])
        # Only the new pieces are looked up: pairs of older pieces are known already.
        pairs = [shapely.STRtree(self._pixel).query(pieces, predicate="intersects")]
        if self.merge_distance > 0:
            pairs.append(
                pairs_within(self._world, world, self.merge_distance, self._rectangle, rectangle)
            )
        found = np.concatenate(pairs, axis=1)
        found[0] += first_new
        self._pairs = np.concatenate([self._pairs, found], axis=1)

    def _to_metric(self, pixel: np.ndarray) -> np.ndarray:
        """Outlines in the metric CRS, for the merge distance.

        Args:
            pixel: outlines in pixel coordinates.

        Returns:
            The outlines in :attr:`metric` (empty when there is no merge distance).
        """
        if self.merge_distance == 0:
            return np.empty(0, object)
        return reproject(pixel_to_crs(pixel, self.transform), self.crs, self.metric)

    def _close(self, frontier: int | None) -> None:
        """Measure the groups that no rows from *frontier* on can join.

        Args:
            frontier: first scene row not traced yet (None: the scene is done).
        """
        import pandas as pd

        if not self.open_pieces:
            return
        group = self._groups()
        if frontier is None:
            done = np.ones(group.max() + 1, bool)
        else:
            bottoms = shapely.bounds(self._pixel)[:, 3]
            lowest = pd.Series(bottoms).groupby(group).max().to_numpy()
            done = frontier - lowest > self.reach
        closing = done[group]
        if closing.any():
            measured = closing & self._may_be_large(group)
            self._dropped.append(shapely.bounds(self._pixel[closing & ~measured]))
            if measured.any():
                _, group_measured = np.unique(group[measured], return_inverse=True)
                self._closed.append(
                    self._measure(
                        self._pixel[measured],
                        group_measured,
                        self._stats[measured],
                        self._cut[measured],
                    )
                )
            keep = ~closing
            self._pixel, self._stats, self._cut, self._rectangle = (
                self._pixel[keep],
                self._stats[keep],
                self._cut[keep],
                self._rectangle[keep],
            )
            if self.merge_distance > 0:
                self._world = self._world[keep]
            # Both pieces of a pair are in one group: they close together.
            renumber = np.cumsum(keep) - 1
            self._pairs = renumber[self._pairs[:, keep[self._pairs[0]]]]

    def _may_be_large(self, group: np.ndarray) -> np.ndarray:
        """Find the open pieces whose group may reach the minimum area.

        Where pixels stay axis-aligned rectangles in the metric CRS, a group's area is its
        pixel count times the pixel's area, known without building its outline: groups
        below the minimum area are dropped before they are merged and measured (most
        of a speckled mask).

        Args:
            group: the group number (0..groups-1) of every open piece.

        Returns:
            Whether each open piece is in a group that may reach the minimum area.
        """
        if not self._aligned or self.min_area == 0:
            return np.ones(self.open_pieces, bool)
        pixel_area = abs(self.transform.a * self.transform.e)
        area = np.bincount(group, weights=self._stats[:, 1]) * pixel_area
        # The margin keeps groups that rounding, or regularising, could put on either side.
        grow = 1 + self.outlines.max_area_change if self.outlines.regularize else 1
        return (area * grow >= self.min_area * (1 - 1e-9))[group]

    def _measure(
        self, pixel: np.ndarray, group: np.ndarray, stats: np.ndarray, cut: np.ndarray
    ) -> "gpd.GeoDataFrame":
        """Merge groups of pieces into detections and measure them.

        Areas and centroids are those of the outlines written (the traced pixels, or
        their regularised outlines and halls by :attr:`outlines`), measured in the
        metric CRS, before any simplification. Halls split from one group share its
        score.

        Args:
            pixel: the pieces, in pixel coordinates.
            group: the group number (0..n-1) of every piece.
            stats: (sum, count, maximum) of the probabilities of every piece.
            cut: whether a cut crosses each piece.

        Returns:
            The detections of at least the minimum area, unordered, in EPSG:4326.
        """
        import geopandas as gpd
        import pandas as pd

        merged = merge_groups(pixel, group, cut)
        outlines = gpd.GeoSeries(pixel_to_crs(merged, self.transform), crs=self.crs)
        outlines = outlines.to_crs(self.metric)
        sums, counts, maxima = stats.T
        scores = np.bincount(group, weights=sums) / np.bincount(group, weights=counts)
        peaks = pd.Series(maxima).groupby(group).max().to_numpy()
        site = np.arange(len(outlines))
        extra = {}
        if self.outlines.active:
            finished = finish_outlines(outlines.to_numpy(), self.outlines)
            outlines = gpd.GeoSeries(finished.geometries, crs=self.metric)
            site = finished.site
            extra = {OUTLINE: finished.kind, SITE_ID: site + self._sites}
            self._sites += len(merged)
        areas = outlines.area.to_numpy()
        keep = areas >= self.min_area
        self._dropped.append(shapely.bounds(pixel[~np.isin(group, site[keep])]))
        outlines = outlines[keep]
        centroids = outlines.centroid.to_crs(DETECTION_CRS)
        if self.simplify > 0:
            outlines = outlines.simplify(self.simplify, preserve_topology=True)
        return gpd.GeoDataFrame(
            {
                "id": 0,
                "area_m2": areas[keep],
                "centroid_lon": centroids.x.to_numpy(),
                "centroid_lat": centroids.y.to_numpy(),
                "score": scores[site][keep],
                "max_score": peaks[site][keep],
                "source": "",
                **{name: np.asarray(values)[keep] for name, values in extra.items()},
            },
            geometry=outlines.to_crs(DETECTION_CRS).to_numpy(),
            crs=DETECTION_CRS,
        )

    def _groups(self) -> np.ndarray:
        """Number the groups of open pieces that become one detection each.

        Returns:
            The group number (0..groups-1) of every open piece.
        """
        return connected_groups(self._pairs, self.open_pieces)
