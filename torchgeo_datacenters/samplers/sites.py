"""A patch sampler that draws patches around labelled sites of every class."""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
from shapely.geometry.base import BaseGeometry
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import RandomPatchSampler

from ..errors import TGDCError


class SiteSampler(RandomPatchSampler):
    """Draw patches around labelled sites of every class, and at random.

    Random patches over a large scene rarely land on a hard negative (a warehouse,
    retail roof), so the model seldom learns to tell data centers from them. Of every
    epoch's patches, a share *site_share* is centred within a quarter patch of a
    labelled polygon, the class of which is drawn by *class_weights* (then the polygon
    uniformly among that class's); the rest are drawn at random like torchgeo's
    :class:`~torchgeo.samplers.RandomPatchSampler`. Every patch lies inside the region of
    interest (the split's allowed area) and on the pixel grid; the patches of each epoch
    follow from the seed.
    """

    def __init__(
        self,
        dataset: GeoDataset,
        *,
        sites: gpd.GeoSeries,
        classes: Sequence[str],
        size: float,
        length: int | None = None,
        roi: BaseGeometry | None = None,
        site_share: float = 0.5,
        class_weights: Mapping[str, float] | None = None,
        generator: int | None = None,
    ) -> None:
        """Initialize a new SiteSampler.

        Args:
            dataset: the dataset to sample from.
            sites: labelled polygons, in the dataset CRS.
            classes: class name of every site (e.g. ``datacenter``, ``warehouse``).
            size: side of the patches, in pixels.
            length: patches per epoch (default: torchgeo's estimate of non-overlapping
                patches).
            roi: region the patches must lie in (default the dataset's extent).
            site_share: share of the patches drawn around sites, in [0, 1].
            class_weights: relative weight of each class among the site patches (default
                equal weights for every class with a site inside *roi*; classes left out
                get none).
            generator: seed of the draws.

        Raises:
            TGDCError: if *site_share* is outside [0, 1], a weight is negative, or no
                weighted class has a site in *roi*.
        """
        # torchgeo types roi as a Polygon but takes any geometry (a split's region may be
        # a MultiPolygon).
        roi_any: Any = roi
        super().__init__(dataset, size=size, length=length, roi=roi_any, generator=generator)
        if not 0 <= site_share <= 1:
            raise TGDCError(f"site_share ({site_share}): must be in [0, 1]")
        if class_weights and min(class_weights.values()) < 0:
            raise TGDCError(f"class_weights ({dict(class_weights)}): weights must be >= 0")
        self.site_share = float(site_share)
        # Centres within a quarter patch of a site keep it well inside the patch; the
        # eroded region keeps the whole patch inside the region of interest.
        allowed = self.series.iloc[0]
        jitter = min(self.size) / 4
        regions = gpd.GeoSeries(list(sites), crs=sites.crs).buffer(jitter).intersection(allowed)
        usable = ~regions.is_empty.to_numpy()
        self.site_regions = regions[usable].reset_index(drop=True)
        self.site_classes = np.asarray(classes, dtype=object)[usable]
        present = sorted(set(self.site_classes))
        weights = class_weights if class_weights else dict.fromkeys(present, 1.0)
        self.classes = [name for name in present if weights.get(name, 0) > 0]
        total = sum(weights[name] for name in self.classes)
        if self.site_share > 0 and not total:
            raise TGDCError(
                f"class_weights ({dict(weights)}): no weighted class has a labelled site inside"
                f" the sampling area (classes there: {present}); set site_share to 0 or weight"
                " one of them"
            )
        self.class_shares = (
            np.array([weights[name] / total for name in self.classes]) if total else np.array([])
        )

    def __iter__(self) -> Iterator[tuple[slice, slice]]:
        """Iterate over the patches of this epoch.

        Yields:
            ``[xmin:xmax, ymin:ymax]`` of one patch, in the dataset CRS.
        """
        rng = self.generator
        n = len(self)
        n_sites = round(n * self.site_share) if self.classes else 0
        centres = [self.series.sample_points(size=n - n_sites, rng=rng).explode()]
        per_class: Sequence[int] = (
            rng.multinomial(n_sites, self.class_shares).tolist() if n_sites else []
        )
        for name, count in zip(self.classes, per_class, strict=False):
            members = np.flatnonzero(self.site_classes == name)
            picks = np.bincount(rng.integers(len(members), size=count), minlength=len(members))
            for member, k in zip(members, picks, strict=True):
                if k:
                    points = self.site_regions.iloc[[member]].sample_points(size=k, rng=rng)
                    centres.append(points.explode())
        points = [p for series in centres for p in series if not p.is_empty]
        order = rng.permutation(len(points))
        x = np.array([points[i].x for i in order])
        y = np.array([points[i].y for i in order])
        # Snap the lower-left corners to the pixel grid, as RandomPatchSampler does.
        xmin, ymin = self.bounds[0], self.bounds[1]
        height, width = self.size
        x0 = xmin + np.round((x - xmin - width / 2) / self.res[0]) * self.res[0]
        y0 = ymin + np.round((y - ymin - height / 2) / self.res[1]) * self.res[1]
        for left, bottom in zip(x0, y0, strict=True):
            yield (
                slice(float(left), float(left) + width),
                slice(float(bottom), float(bottom) + height),
            )
