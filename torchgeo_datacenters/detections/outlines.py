"""The outline written for each detection: traced, regularised, and campuses split into halls.

The vectoriser traces the detection mask pixel by pixel: walls are staircases, corners
rounded, and a rectangle of a roof has hundreds of vertices. :func:`finish_outlines` turns
those traced outlines (in a metric CRS, metres) into the outlines that are written, by
:class:`OutlineRules`:

* **Regularised** (``regularize``): walls are snapped to the building's main directions
  (its main wall direction and the right angle to it) by `buildingregulariser
  <https://github.com/DPIRD-DMA/Building-Regulariser>`_, an open alternative to ArcGIS'
  *Regularize Building Footprint*. It was chosen because it is made for exactly this
  (polygons traced from segmentation masks, holes kept), works on shapely/GeoPandas
  geometries in any metric CRS, depends only on GeoPandas and NumPy (both here
  already), is MIT-licensed, typed, tested in CI and released often (0.2.5, 2026; also on
  conda-forge). ``geoai``'s ``regularize`` pulls in a deep-learning stack and ``samgeo`` a
  segmentation model; shapely's ``oriented_envelope`` only gives rectangles.
  The library snaps every wall to its directions, so a wing at another angle would
  become a staircase: an outline whose straightened walls (Douglas-Peucker at
  :attr:`OutlineRules.tolerance`) run more than :data:`OBLIQUE_DEGREES` off those
  directions over :data:`OBLIQUE_SHARE` of its length keeps its angles instead and is
  written straightened. Guard rails: a result that is invalid, empty, or changes the area
  by more than :attr:`OutlineRules.max_area_change` falls back to the traced outline.
* **Split into halls** (``split_width``, metres): a campus whose halls the mask joins
  through strips narrower than the width (a corridor, a shadow) is cut there. The outline
  is opened (eroded by half the width, then dilated back, mitred so corners stay square);
  where that leaves two or more parts, every part is a hall, and the rest of the outline
  (the joints) goes to the nearest hall (the halls grow into it by a quarter of the width
  at a time), so the halls tile the traced outline. The halls of one outline share a
  site number.

Every detection then says which outline it has (:data:`OUTLINE_KINDS`): ``traced``,
``regularized`` or ``straightened``.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .metric import check_non_negative

#: Kinds of outline in the ``outline`` column: the traced pixels, regularised by
#: buildingregulariser, or straightened only (walls off the main directions).
OUTLINE_KINDS = ("traced", "regularized", "straightened")

#: The tolerance of regularising, in pixels of the traced mask: the model's masks wobble
#: by a few pixels along walls (measured on the held-out look-alike scenes, see
#: benchmarks/README.md: 2 pixels kept a median of 30 vertices, 6 pixels 12).
TOLERANCE_PIXELS = 6

#: A traced corner between two straight runs of at least this many pixels is a corner of
#: the building, not a step of a slanted wall: smoothing keeps it.
STRAIGHT_RUN = 3

#: Largest share by which regularising may change an outline's area before the traced
#: outline is kept instead.
MAX_AREA_CHANGE = 0.1

#: Walls further than this from every direction the library snaps to (multiples of 90
#: degrees from the main direction) are oblique, in degrees.
OBLIQUE_DEGREES = 10.0

#: Share of an outline's straightened length on oblique walls from which it keeps its
#: angles (written straightened) instead of being snapped.
OBLIQUE_SHARE = 0.1

#: Shortest oblique wall, in tolerances (straightened traces of noisy masks leave short
#: slanted pieces that are no walls).
OBLIQUE_WALL = 5


@dataclass(frozen=True)
class OutlineRules:
    """How traced outlines become the outlines written.

    Attributes:
        regularize: whether to regularise outlines (see the module's help).
        split_width: split outlines where joints are narrower than this, in metres (0:
            never).
        tolerance: distance in metres within which walls are straightened and parallel
            walls joined (:data:`TOLERANCE_PIXELS` pixels: 3.6 m for NAIP's 0.6 m).
        max_area_change: largest share of the area a regularised outline may add or lose.
    """

    regularize: bool = False
    split_width: float = 0.0
    tolerance: float = 3.6
    max_area_change: float = MAX_AREA_CHANGE

    def __post_init__(self) -> None:
        """Check the distances.

        Raises:
            TGDCError: if a distance or share is negative.
        """
        check_non_negative(
            split_width=self.split_width,
            tolerance=self.tolerance,
            max_area_change=self.max_area_change,
        )

    @property
    def active(self) -> bool:
        """Whether any rule changes the traced outlines."""
        return self.regularize or self.split_width > 0


@dataclass(frozen=True)
class FinishedOutlines:
    """The outlines written for some traced outlines.

    Attributes:
        geometries: the written (Multi)Polygons, in the traced outlines' CRS, halls of one
            outline next to each other.
        site: for each, the index of the traced outline it comes from.
        kind: for each, one of :data:`OUTLINE_KINDS`.
    """

    geometries: np.ndarray
    site: np.ndarray
    kind: np.ndarray


def finish_outlines(outlines: np.ndarray, rules: OutlineRules) -> FinishedOutlines:
    """Split and regularise traced outlines into the outlines written.

    Args:
        outlines: traced (Multi)Polygons in a metric CRS (metres).
        rules: what to do.

    Returns:
        The outlines written: one per hall (one per outline unless split), in order.
    """
    halls: list[BaseGeometry] = []
    site: list[int] = []
    for number, outline in enumerate(outlines):
        parts = split_halls(outline, rules.split_width) if rules.split_width > 0 else [outline]
        halls += parts
        site += [number] * len(parts)
    geometries = np.array(halls, dtype=object)
    kind = np.full(len(halls), "traced", dtype=object)
    if rules.regularize and len(halls):
        geometries, kind = regularize_outlines(geometries, rules)
    return FinishedOutlines(geometries, np.array(site, dtype=np.intp), kind)


def split_halls(outline: BaseGeometry, width: float) -> list[BaseGeometry]:
    """Cut an outline where it narrows below a width, into halls that tile it.

    Args:
        outline: a (Multi)Polygon in metres.
        width: joints narrower than this, in metres, are cut.

    Returns:
        The halls: the outline itself when opening leaves fewer than two parts.
    """
    eroded = shapely.buffer(outline, -width / 2, join_style="mitre")
    core = shapely.intersection(shapely.buffer(eroded, width / 2), outline)
    # Parts smaller than a square of the width are knobs of one hall, not halls.
    parts = [
        part
        for part in shapely.get_parts(core)
        if part.geom_type == "Polygon" and part.area >= width**2
    ]
    if len(parts) < 2:
        return [outline]
    # The joints go to the nearest hall: every hall grows by one step at a time into
    # what is left (the first hall wins a tie, an error of at most one step).
    step = width / 4
    rest = shapely.difference(outline, shapely.union_all(parts))
    grown = list(parts)
    reach = 0.0
    size = float(np.hypot(*np.ptp(shapely.get_coordinates(outline), axis=0)))
    while shapely.area(rest) > 0 and reach <= size:
        reach += step
        for number, part in enumerate(parts):
            taken = shapely.intersection(rest, shapely.buffer(part, reach, join_style="mitre"))
            grown[number] = shapely.union(grown[number], taken)
            rest = shapely.difference(rest, taken)
    # Growing leaves a vertex at every step along the walls: drop the collinear ones.
    return [_polygonal(shapely.simplify(shapely.make_valid(hall), 0)) for hall in grown]


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The polygons of a geometry (lines and points left by overlay dropped).

    Args:
        geometry: any geometry.

    Returns:
        A Polygon or MultiPolygon (empty if it has no area).
    """
    polygons = [part for part in shapely.get_parts(geometry) if part.geom_type == "Polygon"]
    if len(polygons) == 1:
        return polygons[0]
    return shapely.multipolygons(polygons)


def regularize_outlines(outlines: np.ndarray, rules: OutlineRules) -> tuple[np.ndarray, np.ndarray]:
    """Regularise outlines with buildingregulariser, within the guard rails.

    Args:
        outlines: traced (Multi)Polygons in metres.
        rules: the tolerance and largest area change.

    Returns:
        The outlines written and, for each, its kind (:data:`OUTLINE_KINDS`).
    """
    import geopandas as gpd
    from buildingregulariser import regularize_geodataframe

    parts = shapely.get_parts(outlines, return_index=True)
    smooth = np.array([smooth_staircase(part, rules.tolerance / 2) for part in parts[0]])
    table = gpd.GeoDataFrame({"part": np.arange(len(smooth))}, geometry=smooth)
    with warnings.catch_warnings():
        # The library warns where it keeps a polygon as it was; the guard rails below
        # judge every result anyway.
        warnings.simplefilter("ignore")
        result = regularize_geodataframe(
            table,
            parallel_threshold=rules.tolerance,
            simplify_tolerance=rules.tolerance / 2,
            # The library's 45-degree snapping cuts the corners of traced staircases; with
            # its diagonal zone shrunk to nothing it snaps to right angles only (its path
            # without diagonals leaves extra vertices), and oblique walls are kept below.
            allow_45_degree=True,
            diagonal_threshold_reduction=22.5,
            allow_circles=False,
            num_cores=1,
            include_metadata=True,
        )
    snapped = np.empty(len(parts[0]), dtype=object)
    snapped[:] = None
    direction = np.zeros(len(parts[0]))
    for part, rows in result.groupby("part"):
        snapped[part] = _polygonal(shapely.union_all(rows.geometry.to_numpy()))
        direction[part] = float(rows["main_direction"].iloc[0])
    straight = shapely.simplify(smooth, rules.tolerance, preserve_topology=True)
    oblique = np.array(
        [
            oblique_share(line, angle, OBLIQUE_WALL * rules.tolerance) > OBLIQUE_SHARE
            for line, angle in zip(straight, direction, strict=True)
        ]
    )
    # A part the library dropped or would turn into a staircase keeps its own walls.
    missing = np.array([geometry is None for geometry in snapped])
    snapped[missing | oblique] = straight[missing | oblique]
    written = np.empty(len(outlines), dtype=object)
    kind = np.empty(len(outlines), dtype=object)
    for number, outline in enumerate(outlines):
        mine = parts[1] == number
        candidate = _polygonal(shapely.union_all(snapped[mine]))
        change = abs(candidate.area - outline.area) / outline.area if outline.area else 1.0
        if candidate.is_empty or not candidate.is_valid or change > rules.max_area_change:
            written[number], kind[number] = outline, "traced"
        else:
            # A detection of several parts is named after its largest.
            largest = np.argmax(shapely.area(parts[0][mine]))
            written[number] = candidate
            kind[number] = "straightened" if oblique[mine][largest] else "regularized"
    return written, kind


def smooth_staircase(polygon: shapely.Polygon, pixel: float) -> shapely.Polygon:
    """Move a traced outline from its pixel staircase onto the walls it steps along.

    A slanted wall traced from pixels zigzags about the true wall; simplifying keeps the
    outer corners of the steps, a bias of up to half a pixel that the snapped walls would
    inherit. Every ring is cut into pieces of one pixel and each point replaced by the
    mean of itself and its two neighbours, except the corners between two walls of
    :data:`STRAIGHT_RUN` pixels or more (a building's corner, not a step), which stay.

    Args:
        polygon: a Polygon traced from pixels, in metres.
        pixel: the pixel size, in metres.

    Returns:
        The smoothed Polygon.
    """

    def smooth(ring: shapely.LinearRing) -> np.ndarray:
        corners = shapely.get_coordinates(ring)[:-1]
        sides = np.hypot(*(np.roll(corners, -1, axis=0) - corners).T)
        kept = corners[
            (sides >= STRAIGHT_RUN * pixel) & (np.roll(sides, 1) >= STRAIGHT_RUN * pixel)
        ]
        coords = shapely.get_coordinates(shapely.segmentize(ring, pixel))[:-1]
        mean = (np.roll(coords, 1, axis=0) + coords + np.roll(coords, -1, axis=0)) / 3
        stay = (coords[:, None, :] == kept[None, :, :]).all(axis=2).any(axis=1)
        mean[stay] = coords[stay]
        return np.vstack([mean, mean[:1]])

    return shapely.Polygon(smooth(polygon.exterior), [smooth(hole) for hole in polygon.interiors])


def oblique_share(polygon: BaseGeometry, main_direction: float, shortest: float) -> float:
    """Share of a polygon's boundary on walls off the directions snapped to.

    Args:
        polygon: a Polygon in metres (its walls straightened).
        main_direction: the main wall direction, in degrees.
        shortest: walls shorter than this, in metres, are noise of the trace, not walls.

    Returns:
        The length on walls at least *shortest* long and more than
        :data:`OBLIQUE_DEGREES` from every multiple of 90 degrees from *main_direction*,
        over the whole boundary's length (0 to 1).
    """
    lengths, angles = wall_directions(polygon)
    if lengths.sum() == 0:
        return 0.0
    off = (angles - main_direction) % 90
    oblique = (np.minimum(off, 90 - off) > OBLIQUE_DEGREES) & (lengths >= shortest)
    return float(lengths[oblique].sum() / lengths.sum())


def wall_directions(polygon: BaseGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Length and direction of every wall (boundary segment) of a (Multi)Polygon.

    Args:
        polygon: a (Multi)Polygon in metres.

    Returns:
        The walls' lengths in metres and directions in degrees from the x axis, from 0
        (inclusive) to 180.
    """
    lengths, angles = [], []
    for ring in shapely.get_rings(shapely.get_parts(polygon)):
        coords = shapely.get_coordinates(ring)
        step = np.diff(coords, axis=0)
        lengths.append(np.hypot(step[:, 0], step[:, 1]))
        angles.append(np.degrees(np.arctan2(step[:, 1], step[:, 0])) % 180)
    if not lengths:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(lengths), np.concatenate(angles)
