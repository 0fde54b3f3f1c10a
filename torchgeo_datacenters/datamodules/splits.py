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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..datasets import read_label_file
from ..errors import TGDCError
from ..naip import DATACENTER_CLASS

SPLITS = ("train", "val", "test")

PathLike = str | os.PathLike[str]


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


#: Fewest data-center sites a validation split needs to rank epochs. Validation IoU pools
#: the data-center pixels of the split, so one site of *n* segmented wrongly moves it by
#: about 1/n; below 10 sites that is more than the 0.1 by which the stability benchmark
#: (``benchmarks/stability.py``) lets validation IoU move between epochs, and one site
#: alone can make the best epoch look like the worst.
MIN_VALIDATION_DATACENTERS = 10


@dataclass(frozen=True)
class ValidationSplit:
    """What a validation split holds: patches and labelled sites by class.

    Attributes:
        patches: validation patches per epoch.
        sites: labelled sites (polygons whose representative point lies in the split's
            region) by class name, e.g. ``{"datacenter": 3, "warehouse": 5}``.
    """

    patches: int
    sites: dict[str, int]

    @classmethod
    def count(
        cls, patches: int, sites: gpd.GeoDataFrame, region: BaseGeometry
    ) -> "ValidationSplit":
        """Count the labelled sites inside the validation region.

        Args:
            patches: validation patches per epoch.
            sites: labelled polygons with a ``site_class`` column, in the region's CRS.
            region: the validation split's region.

        Returns:
            The counts.
        """
        inside = sites[sites.geometry.representative_point().within(region)]
        counts = inside["site_class"].value_counts()
        return cls(patches, {str(name): int(n) for name, n in counts.items()})

    @property
    def datacenters(self) -> int:
        """Data-center sites in the split."""
        return self.sites.get(DATACENTER_CLASS, 0)

    @property
    def can_rank(self) -> bool:
        """Whether the split holds :data:`MIN_VALIDATION_DATACENTERS` data centers."""
        return self.datacenters >= MIN_VALIDATION_DATACENTERS

    def describe(self) -> str:
        """One line: the patches and sites of the split."""
        others = ", ".join(
            f"{n} {name}" for name, n in sorted(self.sites.items()) if name != DATACENTER_CLASS
        )
        return (
            f"validation split: {self.patches} patches, {self.datacenters} labelled data"
            f" center(s)" + (f" and {others}" if others else "")
        )

    def too_few(self, enlarge: str) -> str:
        """One line: why the split cannot rank checkpoints, and the option to enlarge it.

        Args:
            enlarge: what enlarges the split, e.g. ``raise data.init_args.val_fraction``.

        Returns:
            The line.
        """
        return (
            f"the validation split holds {self.datacenters} labelled data center(s), fewer"
            f" than the {MIN_VALIDATION_DATACENTERS} needed to rank epochs (one site moves"
            f" validation IoU by about {1 / max(self.datacenters, 1):.0%}), so best.ckpt is picked"
            f" by chance: detect with last.ckpt, or {enlarge}"
        )


def check_region(
    name: str,
    region: BaseGeometry,
    margin: float,
    *,
    patch_size: int,
    areas_given: bool,
    split_cell_size: float,
    source: object,
) -> None:
    """Refuse a split with no room for its patches, naming what makes it so and the fix.

    Training patches must lie inside the training region (:class:`~..samplers.SiteSampler`), so
    it must hold one whole patch; validation and test patches are laid over their
    region's edge, so those regions need only be non-empty.

    Args:
        name: ``train``, ``val`` or ``test``.
        region: the split's region, in the dataset CRS.
        margin: the side of a patch, which is also the distance kept from the other
            splits' cells, in CRS units.
        patch_size: the side of a patch, in pixels.
        areas_given: whether val_area or test_area is given (else the split is by
            grid cells).
        split_cell_size: the side of the grid cells, in metres.
        source: the imagery, named in the message.

    Raises:
        TGDCError: if *region* has no room for a patch.
    """
    if name == "train":
        room = not region.buffer(-margin / 2, join_style="mitre").is_empty
    else:
        room = not region.is_empty
    if room:
        return
    patch = f"{name} patch ({patch_size} px = {margin:g} m)"
    if areas_given and name != "train":
        cause = f"val_area or test_area is given, and {name}_area is not"
        fix = f"give the {name} area as a polygon file with {name}_area"
    elif areas_given:
        cause = (
            "the imagery outside val_area and test_area, less a margin of one patch, has"
            f" no room for a {patch}"
        )
        fix = "give smaller val_area/test_area polygons"
    else:
        cause = (
            f"cells of split_cell_size {split_cell_size:g} m, less a margin of one"
            f" patch from the other splits' cells, leave no room for a {patch}"
        )
        fix = f"give the {name} area as a polygon file with {name}_area"
        if name == "train":
            fix = "give the validation area as a polygon file with val_area; the rest trains"
    raise TGDCError(f"{source}: the {name} split is empty: {cause}; {fix}")


def split_regions(
    split: GeoSplit,
    areas: Mapping[str, PathLike | None],
    extent: BaseGeometry,
    crs: object,
    margin: float,
) -> dict[str, BaseGeometry]:
    """Split regions: the given val/test areas, else the grid split's cells.

    Args:
        split: the grid split.
        areas: the polygon file of the ``val`` and ``test`` areas (None where not given).
        extent: where imagery meets labels, in the dataset CRS.
        crs: the dataset CRS.
        margin: distance kept between training patches and the given areas, CRS units.

    Returns:
        The region of every split.

    Raises:
        TGDCError: if an area file is unreadable or misses the imagery.
    """
    if not any(areas.values()):
        return split.regions
    regions: dict[str, BaseGeometry] = {name: shapely.Polygon() for name in SPLITS}
    for name, path in areas.items():
        if path is None:
            continue
        area = read_label_file(path).to_crs(crs).union_all()
        regions[name] = area.intersection(extent)
        if regions[name].is_empty:
            raise TGDCError(f"{path}: the {name} area does not meet the imagery and labels")
    keep_out = shapely.union_all([regions["val"], regions["test"]]).buffer(margin)
    regions["train"] = extent.difference(keep_out)
    return regions
