"""Data-center label polygons as a TorchGeo vector dataset.

The seed project's label file mixes data centers with hard negatives (warehouses,
retail, other) in one layer with fields ``class``, ``label`` (boolean: is a data
center) and ``name``. :class:`DataCenterLabels` reads such a file in any OGR format
and CRS, validates it once, and rasterises masks from an in-memory copy (torchgeo's
:class:`~torchgeo.datasets.VectorDataset` re-reads the file for every sample).
"""

import json
import os
import shlex
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import rasterio.transform
import shapely
import torch
from affine import Affine
from pyproj import CRS
from torchgeo.datasets import VectorDataset
from torchgeo.datasets.utils import GeoSlice, Sample

from ..errors import TGDCError
from ..naip import DATACENTER_CLASS, GSD, HARD_NEGATIVE_CLASSES, OTHER_CLASS
from ..vectors import (
    POLYGONAL,
    VectorSource,
    as_bool,
    feature_names,
    read_vector_file,
    vector_source,
)

#: Classes of the seed label file that are data centers.
POSITIVE_CLASSES = (DATACENTER_CLASS,)

#: Classes of the seed label file that are hard negatives.
NEGATIVE_CLASSES = HARD_NEGATIVE_CLASSES


#: Field in which label files made from review verdicts (``tgdc labels merge``, see
#: :mod:`torchgeo_datacenters.detections.verdicts`) name the run each verdict judged.
REVIEW_RUN_FIELD = "run"


def review_runs(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The review runs whose verdicts a label file holds.

    Args:
        path: a label file.

    Returns:
        The distinct values of its :data:`REVIEW_RUN_FIELD`, sorted; none where it has no
        such field (a label file drawn by hand).

    Raises:
        TGDCError: if the file cannot be read.
    """
    import pyogrio

    try:
        fields = pyogrio.read_info(path)["fields"]
        if REVIEW_RUN_FIELD not in fields:
            return ()
        table = pyogrio.read_dataframe(path, columns=[REVIEW_RUN_FIELD], read_geometry=False)
    except Exception as error:
        raise TGDCError(f"{path}: not a readable vector file ({error})") from error
    return tuple(sorted(str(run) for run in table[REVIEW_RUN_FIELD].dropna().unique()))


@dataclass(frozen=True)
class LabelFixes:
    """How a user changes each label setting where they gave it, for the fix an error names.

    The defaults speak of the keyword arguments of :class:`DataCenterLabels` (the
    ``data.init_args`` keys of a training config); ``tgdc chips`` passes its own
    naming its flags, and training (:data:`~torchgeo_datacenters.datamodules.TRAINING_FIXES`)
    the ``torchgeo fit`` flags, so that no error of a command names a Python parameter.

    Attributes:
        name_classes: how to name the field of classes.
        every_polygon: how to take every polygon as a data center.
        no_label_field: how to choose data centers by class instead of the label field.
        class_map: how to rename a class, with ``{old}`` (the class), ``{pair}`` (the
            shell word ``OLD=datacenter``) and ``{mapping}`` (the shell word of the JSON
            object ``{"OLD": "datacenter"}``) to fill in.
        no_multiclass: how to turn multiclass masks off.
        positives: how to say which features are data centers.
    """

    name_classes: str = "set class_field to the field naming classes"
    every_polygon: str = "set class_field=None to take every polygon as a data center"
    no_label_field: str = "set use_label_field=False to choose data centers by class"
    class_map: str = "map them with class_map, e.g. class_map={{{old!r}: 'datacenter'}}"
    no_multiclass: str = "set multiclass=False"
    positives: str = "check positive_classes, class_map or use_label_field"


def read_label_file(path: str | os.PathLike[str] | VectorSource) -> gpd.GeoDataFrame:
    """Read a label file and check that it holds usable polygons.

    Args:
        path: ``FILE`` or ``FILE:LAYER`` of any vector file
            :func:`~torchgeo_datacenters.vectors.read_vector_file` reads (GeoJSON,
            GeoPackage, Shapefile, FileGDB, GeoParquet, ...).

    Returns:
        The polygonal features, invalid geometries repaired (see
        :func:`~torchgeo_datacenters.vectors.repair_geometries`). Points and lines (the
        IM3 atlas mixes Points with its footprints) are dropped with one warning that
        counts them.

    Raises:
        TGDCError: if the file is missing or unreadable, has several layers and none is
            named, has no features, no CRS, a feature with a missing or empty geometry
            (after repair), or no polygons at all.
    """
    source = vector_source(path)
    frame = read_vector_file(source, "label", polygons=True)
    if frame.empty:
        raise TGDCError(f"{source}: has no features; draw or download label polygons first")
    names = feature_names(frame)
    missing = frame.geometry.isna() | frame.geometry.is_empty
    if missing.any():
        bad = ", ".join(names[missing.to_numpy()][:5])
        raise TGDCError(
            f"{source}: feature(s) {bad} have a missing or empty geometry; fix or delete them"
        )
    polygonal = frame.geometry.geom_type.isin(POLYGONAL)
    if not polygonal.any():
        kinds = ", ".join(sorted(set(frame.geometry.geom_type)))
        raise TGDCError(
            f"{source}: holds no Polygon or MultiPolygon footprints (only {kinds}); training"
            f" masks need footprints. For chips around these sites use"
            f" `tgdc download --sites {source}`"
        )
    if not polygonal.all():
        counts = frame.geometry[~polygonal].geom_type.value_counts()
        skipped = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        warnings.warn(
            f"{source}: skipped {skipped} feature(s) without a footprint; training uses its"
            f" {int(polygonal.sum())} polygons",
            stacklevel=2,
        )
        frame = frame[polygonal.to_numpy()]
    return frame


class DataCenterLabels(VectorDataset):
    """Data-center footprints (and optionally hard negatives) rasterised as masks.

    In binary mode (the default) data centers are 1 and everything else, hard
    negatives included, is 0. With ``multiclass=True`` each hard-negative class gets
    its own index: see :attr:`class_names`.

    Positives are chosen by class (``positive_classes``) or, with
    ``use_label_field=True``, by the boolean ``label`` field of the seed schema.
    Every class in the file must be a known positive or negative class: a misspelled
    class (the seed file has ``datacemter``) is an error unless mapped with
    ``class_map={'datacemter': 'datacenter'}``.

    Masks are 1 exactly on pixels whose centres fall inside the (buffered) polygons,
    like :func:`rasterio.features.rasterize`. Data centers are drawn last, so they
    win where a footprint overlaps a hard negative.
    """

    def __init__(
        self,
        paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = "labels.geojson",
        crs: CRS | None = None,
        res: float | tuple[float, float] = GSD,
        transforms: Callable[[Sample], Sample] | None = None,
        *,
        positive_classes: Sequence[str] = POSITIVE_CLASSES,
        negative_classes: Sequence[str] = NEGATIVE_CLASSES,
        use_label_field: bool = False,
        multiclass: bool = False,
        class_map: Mapping[str, str] | None = None,
        class_field: str | None = "class",
        label_field: str = "label",
        buffer_m: float = 0.0,
        fixes: LabelFixes = LabelFixes(),
    ) -> None:
        """Initialize a new DataCenterLabels dataset.

        Args:
            paths: one or more label files, ``FILE`` or ``FILE:LAYER`` (see
                :func:`read_label_file`).
            crs: CRS to warp to (defaults to the first file's CRS).
            res: resolution of the masks in units of *crs*.
            transforms: a function that takes a sample and returns a transformed one.
            positive_classes: values of *class_field* that are data centers.
            negative_classes: values of *class_field* that are hard negatives.
            use_label_field: choose positives by the boolean *label_field* instead of
                by class (classes are then only read in multiclass mode).
            multiclass: give each negative class its own mask index.
            class_map: renames of class values applied before validation, such as
                ``{'datacemter': 'datacenter'}``.
            class_field: name of the class field; None takes every polygon as a data
                center (a plain footprint file, such as the IM3 atlas).
            label_field: name of the boolean data-center field.
            buffer_m: grow (or, if negative, shrink) every polygon by this many metres,
                in a local UTM CRS whatever the file's CRS (the seed project used 7.5).
            fixes: how errors tell the user to change these settings (default: by these
                keyword arguments; a command passes its flags).

        Raises:
            TGDCError: if a file is unreadable or invalid (see :func:`read_label_file`),
                a required field is missing, a class is unknown, or there are no
                data centers.
        """
        files = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        if not files:
            raise TGDCError("paths: no label files given")
        self.paths = files
        self.transforms = transforms
        self.task = "semantic_segmentation"
        self.label_name = None
        self.multiclass = multiclass
        self.positive_classes = tuple(positive_classes)
        self.negative_classes = tuple(negative_classes)
        self.fixes = fixes
        self.class_names = ["background", DATACENTER_CLASS]
        if multiclass:
            self.class_names += list(self.negative_classes)

        frames = []
        for file in files:
            frame = read_label_file(file)
            frame = frame.assign(
                value=self._values(
                    frame, Path(file), use_label_field, class_map or {}, class_field, label_field
                )
            )
            frame = frame.assign(site_class=_site_classes(frame, class_field, class_map or {}))
            if buffer_m:
                utm = frame.estimate_utm_crs()
                frame = frame.set_geometry(
                    frame.geometry.to_crs(utm).buffer(buffer_m).to_crs(frame.crs)
                )
            frames.append(frame[["value", "site_class", "geometry"]])
        target = crs or frames[0].crs
        features = pd.concat([f.to_crs(target) for f in frames], ignore_index=True)
        if not (features["value"] == 1).any():
            raise TGDCError(
                f"{', '.join(map(str, files))}: no data-center polygons (positives) found;"
                f" {fixes.positives}"
            )
        self._features = gpd.GeoDataFrame(features, crs=target).sort_values(
            "value", key=lambda v: v == 1, kind="stable"
        )
        if isinstance(res, int | float):
            res = (float(res), float(res))
        self._res = res
        minx, miny, maxx, maxy = self._features.total_bounds
        interval = pd.Interval(pd.Timestamp.min, pd.Timestamp.max, closed="both")
        self.index = gpd.GeoDataFrame(
            {"filepath": [str(files[0])]},
            index=pd.IntervalIndex([interval], name="datetime"),
            geometry=[shapely.box(minx, miny, maxx, maxy)],
            crs=target,
        )
        self._cache_shapes()

    def _values(
        self,
        frame: gpd.GeoDataFrame,
        path: Path,
        use_label_field: bool,
        class_map: Mapping[str, str],
        class_field: str | None,
        label_field: str,
    ) -> np.ndarray:
        """Compute the mask value of every feature (0 means not drawn)."""
        values = np.zeros(len(frame), dtype=np.int64)
        if class_field is None and not use_label_field:
            if self.multiclass:
                raise TGDCError(
                    f"{path}: multiclass needs classes; {self.fixes.name_classes}, or"
                    f" {self.fixes.no_multiclass}"
                )
            return values + 1
        if use_label_field:
            if label_field not in frame:
                raise TGDCError(
                    f"{path}: has no {label_field!r} field; add it or {self.fixes.no_label_field}"
                )
            positive = as_bool(frame[label_field], path, label_field)
            values[positive] = 1
            if not self.multiclass:
                return values
        if class_field is None or class_field not in frame:
            fields = [str(name) for name in frame.columns if name != frame.geometry.name]
            raise TGDCError(
                f"{path}: has no {class_field!r} field (its fields: {', '.join(fields) or 'none'});"
                f" {self.fixes.name_classes}, or {self.fixes.every_polygon}"
            )
        classes = frame[class_field].astype("string").str.strip().replace(dict(class_map))
        known = set(self.positive_classes) | set(self.negative_classes)
        unknown = sorted(set(classes.dropna()) - known)
        if classes.isna().any():
            unknown.insert(0, "<missing>")
        if unknown:
            raise TGDCError(
                f"{path}: unknown value(s) {unknown} in field {class_field!r}; known classes are"
                f" {sorted(known)}; "
                + self.fixes.class_map.format(
                    old=unknown[-1],
                    pair=shlex.quote(f"{unknown[-1]}={DATACENTER_CLASS}"),
                    mapping=shlex.quote(json.dumps({unknown[-1]: DATACENTER_CLASS})),
                )
            )
        if not use_label_field:
            values[classes.isin(self.positive_classes).to_numpy()] = 1
        if self.multiclass:
            for index, name in enumerate(self.negative_classes, start=2):
                values[(classes == name).to_numpy() & (values != 1)] = index
        return values

    @property
    def crs(self) -> CRS:
        """Coordinate reference system of the dataset.

        Returns:
            The CRS.
        """
        return self.index.crs

    @crs.setter
    def crs(self, new_crs: CRS) -> None:
        """Reproject the dataset (index and cached polygons) to another CRS.

        Args:
            new_crs: the new CRS.
        """
        if new_crs == self.crs:
            return
        self.index = self.index.to_crs(new_crs)
        self._features = self._features.to_crs(new_crs)
        self._cache_shapes()

    def _cache_shapes(self) -> None:
        """Keep the drawn polygons as plain arrays with a search tree for sampling."""
        drawn = self._features[self._features["value"] > 0]
        self._shapes = drawn.geometry.to_numpy()
        self._shape_values = drawn["value"].to_numpy(dtype=int)
        self._tree = shapely.STRtree(self._shapes)
        self._total_bounds = self.index.total_bounds

    @property
    def bounds(self) -> tuple[slice, slice, slice]:
        """Bounds of the labels, computed once per CRS.

        Returns:
            Bounding x, y and t slices.
        """
        xmin, ymin, xmax, ymax = self._total_bounds
        xres, yres = self.res
        return (
            slice(xmin, xmax, xres),
            slice(ymin, ymax, yres),
            slice(pd.Timestamp.min, pd.Timestamp.max, 1),
        )

    @property
    def features(self) -> gpd.GeoDataFrame:
        """The label polygons in the dataset CRS with their mask ``value`` and ``site_class``.

        Returns:
            A copy of the cached features.
        """
        return self._features.copy()

    def lies_on(self, transform: Affine, shape: tuple[int, int]) -> bool:
        """Whether a label polygon (a data center or a hard negative) meets a grid.

        Args:
            transform: affine transform of the grid (in :attr:`crs`).
            shape: (height, width) of the grid in pixels.

        Returns:
            True where one meets the grid's bounds.
        """
        window = shapely.box(*rasterio.transform.array_bounds(*shape, transform))
        return bool(len(self._features.sindex.query(window, predicate="intersects")))

    def rasterize(self, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
        """Rasterise the labels onto a grid in the dataset CRS.

        Args:
            transform: affine transform of the grid (in :attr:`crs`).
            shape: (height, width) of the grid in pixels.

        Returns:
            A uint8 array of mask values: 1 for data centers, 0 for background and,
            in multiclass mode, the index of each hard-negative class.
        """
        window = shapely.box(*rasterio.transform.array_bounds(*shape, transform))
        hits = np.sort(self._tree.query(window))
        if not len(hits):
            return np.zeros(shape, dtype=np.uint8)
        return rasterio.features.rasterize(
            zip(self._shapes[hits], self._shape_values[hits], strict=True),
            out_shape=shape,
            transform=transform,
            dtype=np.uint8,
        )

    def __getitem__(self, index: GeoSlice) -> Sample:
        """Rasterise the mask of a spatial slice.

        Args:
            index: ``[xmin:xmax:xres, ymin:ymax:yres, tmin:tmax:tres]`` coordinates.

        Returns:
            A sample with ``mask`` (H, W) long, ``bounds`` and ``transform``.
        """
        x, y, _ = self._disambiguate_slice(index)
        width = round((x.stop - x.start) / x.step)
        height = round((y.stop - y.start) / y.step)
        transform = rasterio.transform.from_origin(x.start, y.stop, x.step, y.step)
        mask = self.rasterize(transform, (height, width))
        sample: dict[str, Any] = {
            "mask": torch.from_numpy(mask.astype(np.int64)),
            "bounds": self._slice_to_tensor(index),
            "transform": torch.tensor(transform),
        }
        if self.transforms is not None:
            sample = self.transforms(sample)
        return sample


def _site_classes(
    frame: gpd.GeoDataFrame, class_field: str | None, class_map: Mapping[str, str]
) -> np.ndarray:
    """Name the class of every feature (after :meth:`DataCenterLabels._values`).

    Args:
        frame: the features with their mask ``value`` (1 for data centers).
        class_field: name of the class field, or None.
        class_map: renames of class values.

    Returns:
        The class of every feature: ``datacenter`` for positives, else the (renamed)
        value of *class_field*, else ``other``.
    """
    names = np.full(len(frame), OTHER_CLASS, dtype=object)
    if class_field is not None and class_field in frame:
        classes = frame[class_field].astype("string").str.strip().replace(dict(class_map))
        names = np.where(classes.isna(), names, classes.astype(object))
    names[(frame["value"] == 1).to_numpy()] = DATACENTER_CLASS
    return names
