"""Geographic train/val/test splits without leakage between neighbouring patches.

Labels cluster in metro areas, so a random split by patch puts overlapping or
adjacent patches of the same buildings into both training and test. Instead the map
is cut into square grid cells (aligned to multiples of the cell size in the CRS),
whole cells are assigned to splits by a seeded shuffle, and every split's region keeps a
margin (a patch width) from the cells of the other splits, so that patches drawn in
different splits never share a pixel. Cells holding data centers and cells without are shuffled
separately, so that validation and test both get data centers whenever there are
at least three such cells.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import TGDCError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class GeoSplit:
    """Regions of a geographic split.

    Attributes:
        cell_size: side of the square grid cells, in CRS units.
        cells: the grid cells with a ``split`` column.
        regions: the region of each split (cells shrunk by the margin and clipped to
            the data), keyed by ``train``, ``val`` and ``test``.
    """

    cell_size: float
    cells: gpd.GeoDataFrame
    regions: dict[str, BaseGeometry]

    def assign(self, points: gpd.GeoSeries) -> np.ndarray:
        """Name the split of the cell that holds each point.

        Cells are half-open (a point on a cell edge belongs to the cell to its
        upper right), so every point gets exactly one split.

        Args:
            points: points in the CRS of the split.

        Returns:
            The split name of every point (``None`` outside all cells).
        """
        keys = zip(
            np.floor(points.x / self.cell_size).astype(int),
            np.floor(points.y / self.cell_size).astype(int),
            strict=True,
        )
        bounds = self.cells.geometry.bounds
        lookup = dict(
            zip(
                zip(
                    np.round(bounds["minx"] / self.cell_size).astype(int),
                    np.round(bounds["miny"] / self.cell_size).astype(int),
                    strict=True,
                ),
                self.cells["split"],
                strict=True,
            )
        )
        return np.array([lookup.get(key) for key in keys], dtype=object)


def _counts(total: int, fractions: Sequence[float]) -> list[int]:
    """Split *total* items by *fractions* with the largest-remainder method."""
    raw = [total * f for f in fractions]
    counts = [math.floor(r) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    if total >= len(fractions):
        for i in range(1, len(fractions)):
            if fractions[i] > 0 and counts[i] == 0:
                donor = max(range(len(counts)), key=lambda k: counts[k])
                counts[donor] -= 1
                counts[i] += 1
    return counts


def grid_split(
    extent: BaseGeometry,
    *,
    cell_size: float,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    positives: BaseGeometry | None = None,
    margin: float = 0.0,
    seed: int = 0,
    crs: object | None = None,
) -> GeoSplit:
    """Assign grid cells over *extent* to train, val and test.

    Args:
        extent: where there is data (in a projected CRS).
        cell_size: side of the square cells, in CRS units.
        fractions: shares of cells for train, val and test.
        positives: data-center footprints, to spread them over the splits.
        margin: distance kept between a split's region and the other splits' cells, in CRS
            units.
        seed: seed of the shuffle.
        crs: CRS recorded on the returned cells.

    Returns:
        The split.

    Raises:
        TGDCError: if *cell_size* is not positive or *fractions* are invalid.
    """
    if cell_size <= 0:
        raise TGDCError(f"split_cell_size: must be positive, got {cell_size}")
    if len(fractions) != len(SPLITS) or min(fractions) < 0 or not math.isclose(sum(fractions), 1):
        raise TGDCError(f"fractions: need 3 non-negative shares summing to 1, got {fractions}")
    minx, miny, maxx, maxy = extent.bounds
    xs = np.arange(math.floor(minx / cell_size), math.ceil(maxx / cell_size)) * cell_size
    ys = np.arange(math.floor(miny / cell_size), math.ceil(maxy / cell_size)) * cell_size
    grid = shapely.box(xs[None, :], ys[:, None], xs[None, :] + cell_size, ys[:, None] + cell_size)
    cells = gpd.GeoDataFrame(geometry=grid.ravel(), crs=crs)
    cells = cells[cells.intersection(extent).area > 0].reset_index(drop=True)
    has_positive = (
        cells.intersects(positives).to_numpy()
        if positives is not None
        else np.zeros(len(cells), bool)
    )
    rng = np.random.default_rng(seed)
    split = np.empty(len(cells), dtype=object)
    for group in (np.flatnonzero(has_positive), np.flatnonzero(~has_positive)):
        shuffled = rng.permutation(group)
        start = 0
        for name, count in zip(SPLITS, _counts(len(group), fractions), strict=True):
            split[shuffled[start : start + count]] = name
            start += count
    cells["split"] = split
    cells["has_datacenter"] = has_positive
    regions = {}
    for name in SPLITS:
        own = cells.geometry[cells["split"] == name].union_all()
        others = cells.geometry[cells["split"] != name].union_all()
        regions[name] = shapely.intersection(own, extent).difference(others.buffer(margin))
    return GeoSplit(cell_size=cell_size, cells=cells, regions=regions)
