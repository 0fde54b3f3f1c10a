"""LightningDataModule joining NAIP imagery with data-center labels."""

import copy
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lightning.pytorch.utilities import rank_zero_info
from shapely.geometry.base import BaseGeometry
from torchgeo.datamodules import GeoDataModule
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import GriddedPatchSampler

from ..checkpoint import DataSpec
from ..datasets import (
    NAIP_BANDS,
    NAIP_GSD,
    ChipMasks,
    DataCenterLabels,
    LabelFixes,
    NAIPChips,
)
from ..datasets.chips import check_chip_pairs
from ..datasets.labels import review_runs
from ..errors import TGDCError
from ..naip import DATACENTER_CLASS, DTYPE, HARD_NEGATIVE_CLASSES
from ..samplers import ChipSampler, SiteSampler
from .files import ImageryPass
from .normalization import (
    MIN_NORMALISED_SPREAD,
    BandStatistics,
    augmentations,
    band_statistics,
    check_value_range,
    default_value_range,
    normalised_spread,
)
from .splits import SPLITS, GeoSplit, ValidationSplit, check_region, grid_split, split_regions

PathLike = str | os.PathLike[str]

#: How errors about the labels of a training run tell the user to fix them: by the flags of
#: ``torchgeo fit`` (the same keys under ``data.init_args`` in the config).
TRAINING_FIXES = LabelFixes(
    name_classes="give the field naming classes as --data.init_args.class_field FIELD",
    every_polygon="give --data.init_args.class_field null to take every polygon as a data center",
    no_label_field="give --data.init_args.use_label_field false to choose data centers by class",
    class_map="map them with --data.init_args.class_map {mapping}",
    no_multiclass="give --data.init_args.multiclass false",
    positives="check --data.init_args.positive_classes, --data.init_args.class_map or"
    " --data.init_args.use_label_field",
)


class DataCenterDataModule(GeoDataModule):
    """NAIP imagery ``&`` data-center labels, split by geography.

    Two ways to give labels:

    * ``label_path``: a polygon file (see :class:`~..datasets.DataCenterLabels`);
      random patches are drawn from the imagery where it meets the labels' extent.
    * ``masks_dir``: the seed project's pre-chipped layout, a mask GeoTIFF of the
      same name for every chip in ``paths`` (see ``tgdc chips``); each chip is one
      sample.

    Splits: the map is cut into square cells of ``split_cell_size`` metres, whole
    cells go to train, val or test by a seeded shuffle, and regions keep a patch
    width from other splits' cells (see :mod:`.splits`), so neighbouring chips never
    land in two splits.

    Normalisation: every stage (train, val, test, predict) gives the model
    ``(pixel - mean) / std`` per band, in raw pixel units, by default the imagery's own
    statistics (computed once, at :meth:`setup`, see :mod:`.normalization`); :attr:`mean`,
    :attr:`std`, :attr:`value_range`, :attr:`bands`, :attr:`gsd` and :attr:`patch_size`
    are copied into the task's checkpoint so inference repeats them. Training batches are
    then augmented on the device with kornia: flips and 90-degree rotations of image and
    mask together, and brightness (a shift of up to one standard deviation of the imagery)
    and contrast (a factor of 0.85 to 1.15) jitter of the normalised image only, never
    clipped.
    """

    def __init__(
        self,
        # The sequence first: jsonargparse tries the types of a union in order, and as a
        # PathLike it would take a config's list of folders as the string of the list.
        paths: Sequence[PathLike] | PathLike = "data",
        label_path: PathLike | None = None,
        masks_dir: PathLike | None = None,
        batch_size: int = 16,
        patch_size: int = 256,
        length: int | None = None,
        num_workers: int = 0,
        *,
        filename_glob: str = "*.tif",
        class_field: str | None = "class",
        positive_classes: Sequence[str] = (DATACENTER_CLASS,),
        use_label_field: bool = False,
        label_field: str = "label",
        multiclass: bool = False,
        class_map: Mapping[str, str] | None = None,
        buffer_m: float = 0.0,
        split_cell_size: float = 1536.0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
        split_seed: int | None = None,
        val_area: PathLike | None = None,
        test_area: PathLike | None = None,
        bands: Sequence[str] = NAIP_BANDS,
        dtype: str = DTYPE,
        value_range: Sequence[float] | None = None,
        gsd: float = NAIP_GSD,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        augment: bool = True,
        site_share: float = 0.5,
        class_weights: Mapping[str, float] | None = None,
    ) -> None:
        """Initialize a new DataCenterDataModule.

        Args:
            paths: imagery directories or GeoTIFF files, each holding *bands*.
            label_path: label polygon file (GeoJSON, GeoPackage, any OGR vector).
            masks_dir: directory of mask chips named like the image chips (instead of
                *label_path*).
            batch_size: samples per mini-batch.
            patch_size: side of the training patches, in pixels.
            length: random patches per training epoch (defaults to torchgeo's
                estimate of non-overlapping patches).
            num_workers: data-loading worker processes.
            filename_glob: glob selecting imagery (and mask) files in directories.
            class_field: field of *label_path* naming each polygon's class; None takes
                every polygon as a data center (a plain footprint file such as the IM3
                atlas; its Points are skipped with a warning).
            positive_classes: values of *class_field* that are data centers.
            use_label_field: choose positives by the boolean *label_field*.
            label_field: boolean field that is true for data centers.
            multiclass: give each hard-negative class its own index.
            class_map: renames of class values, e.g. ``{'datacemter': 'datacenter'}``.
            buffer_m: grow label polygons by this many metres.
            split_cell_size: side of the split grid cells, in metres (CRS units).
            val_fraction: share of cells for validation.
            test_fraction: share of cells for testing.
            seed: seed of the random patches (and of the split unless *split_seed*).
            split_seed: seed of the split's cell shuffle (default *seed*), so patches
                can be redrawn on the same split.
            val_area: polygon file (any OGR vector, any CRS) of the validation area,
                instead of split cells; the rest of the imagery trains, a patch width
                away from it (with *label_path* only).
            test_area: polygon file of the test area, like *val_area*. Once either
                area is given, a split without one is empty.
            bands: names of the imagery's bands, in file order (default NAIP's R, G, B,
                NIR; e.g. ``[PAN]`` or ``[R, G, B]``); the task takes one input channel
                per band.
            dtype: NumPy data type of the imagery (``uint8``, ``uint16``, ``float32``,
                ...); files of another type are refused.
            value_range: ``[min, max]`` of the raw pixel values, which
                ``--input-scale auto`` maps other data types onto (default: 0-255 for
                8-bit imagery, else the training imagery's smallest and largest values;
                e.g. ``[0, 4095]`` for 12-bit imagery stored as uint16).
            gsd: pixel size the patches are sampled at, in metres (imagery in a metric
                CRS is resampled to it; 0.6 is NAIP's).
            mean: per-band mean in raw pixel units (default: the training imagery's,
                computed at :meth:`setup`).
            std: per-band standard deviation in raw pixel units (default: the training
                imagery's, so the model sees values of unit spread).
            augment: apply training augmentation.
            site_share: share of the training patches centred on labelled sites (the
                rest are random), with *label_path*; see
                :class:`~..samplers.SiteSampler`.
            class_weights: relative weight of each class (``datacenter``, ``warehouse``,
                ...) among the site patches; default equal weights for every labelled
                class.

        Raises:
            TGDCError: if neither or both of *label_path* and *masks_dir* are given,
                or a size, fraction or normalisation value is invalid.
        """
        if (label_path is None) == (masks_dir is None):
            raise TGDCError("label_path / masks_dir: give exactly one of the two")
        if patch_size <= 0 or batch_size <= 0:
            raise TGDCError(
                f"patch_size ({patch_size}) and batch_size ({batch_size}) must be positive"
            )
        if not 0 <= val_fraction + test_fraction < 1 or min(val_fraction, test_fraction) < 0:
            raise TGDCError(
                f"val_fraction ({val_fraction}) + test_fraction ({test_fraction}) must be in [0, 1)"
            )
        self.bands = [str(b) for b in bands]
        try:
            self.dtype = str(np.dtype(dtype))
        except TypeError as error:
            raise TGDCError(f"dtype: {dtype!r} is not a NumPy data type, e.g. uint8") from error
        self.value_range = None if value_range is None else check_value_range(value_range)
        if gsd <= 0:
            raise TGDCError(f"gsd ({gsd}): must be a positive pixel size in metres")
        self.gsd = float(gsd)
        n = len(self.bands)
        # TorchGeo types mean/std as tensors; the task and checkpoint take lists of floats.
        self.mean = None if mean is None else [float(m) for m in mean]  # type: ignore[assignment]
        self.std = None if std is None else [float(s) for s in std]  # type: ignore[assignment]
        given = [v for v in (self.mean, self.std) if v is not None]
        if not n or any(len(v) != n for v in given) or min(self.std or [1.0]) <= 0:
            raise TGDCError(f"mean/std: need {n} values each (one per band), std > 0")
        super().__init__(NAIPChips, batch_size, patch_size, length, num_workers)
        self.paths = paths
        self.label_path = label_path
        self.masks_dir = masks_dir
        self.filename_glob = filename_glob
        self.label_kwargs: dict[str, Any] = {
            "class_field": class_field,
            "positive_classes": tuple(positive_classes),
            "use_label_field": use_label_field,
            "label_field": label_field,
            "multiclass": multiclass,
            "class_map": dict(class_map or {}),
            "buffer_m": buffer_m,
            "fixes": TRAINING_FIXES,
        }
        self.split_cell_size = split_cell_size
        self.fractions = (1 - val_fraction - test_fraction, val_fraction, test_fraction)
        self.seed = seed
        self.split_seed = seed if split_seed is None else split_seed
        self.areas = {"val": val_area, "test": test_area}
        if masks_dir is not None and (val_area or test_area):
            raise TGDCError(
                "val_area / test_area: go with label_path; with masks_dir put the chips of"
                " each split in their own directory, or use split_cell_size"
            )
        self.class_names = ["background", DATACENTER_CLASS]
        if multiclass:
            self.class_names += HARD_NEGATIVE_CLASSES
        self.site_share = site_share
        self.class_weights = dict(class_weights) if class_weights else None
        self.split: GeoSplit | None = None
        self.regions: dict[str, BaseGeometry] = {}
        #: What the validation split holds (set when fitting with *label_path*).
        self.validation_split: ValidationSplit | None = None

        self.augment = augment
        #: The training imagery's statistics (set at :meth:`setup`).
        self.statistics: BandStatistics | None = None

    @property
    def label_files(self) -> list[str]:
        """The label file training reads (none with ``masks_dir``), for the checkpoint."""
        return [] if self.label_path is None else [str(self.label_path)]

    @property
    def review_runs(self) -> list[str]:
        """The review runs whose verdicts the label file holds, for the checkpoint."""
        return [] if self.label_path is None else list(review_runs(self.label_path))

    def _datasets(self) -> tuple[NAIPChips, GeoDataset]:
        """Open the imagery and the labels (polygons or mask chips).

        The imagery's statistics are read in the same pass, unless known already.
        """
        # One pass: each file is opened once, to check its bands, data type and pixel
        # size and to read the statistics' sample.
        imagery = ImageryPass(self.dtype, self.gsd, sample=self.statistics is None)
        images = NAIPChips(
            self.paths,
            res=self.gsd,
            filename_glob=self.filename_glob,
            all_bands=self.bands,
            inspect=imagery,
        )
        if self.statistics is None:
            self.statistics = imagery.statistics(self.bands)
        if self.masks_dir is not None:
            for directory in [self.paths] if isinstance(self.paths, str | os.PathLike) else []:
                if os.path.isdir(directory):
                    check_chip_pairs(directory, self.masks_dir, self.filename_glob)
            labels: GeoDataset = ChipMasks(self.masks_dir, filename_glob=self.filename_glob)
        else:
            # __init__ made sure one of label_path and masks_dir is given.
            assert self.label_path is not None
            labels = DataCenterLabels(self.label_path, res=images.res, **self.label_kwargs)
        return images, labels

    def fit_normalization(self, files: Sequence[str], stage: str = "fit") -> None:
        """Fill ``mean``, ``std`` and ``value_range`` left unset from the imagery.

        The statistics are computed once (:func:`~.normalization.band_statistics`), then
        the normalisation and training's augmentation are built from them. When fitting,
        a band whose normalised values spread less than
        :data:`~.normalization.MIN_NORMALISED_SPREAD` (a given ``mean``/``std`` that does
        not fit the data: uint16 imagery divided by the type's full range, say) is warned
        about in one line: the model can learn little from it.

        Args:
            files: the imagery files.
            stage: 'fit', 'validate', 'test' or 'predict'.

        Raises:
            TGDCError: if the imagery has no valid pixel or a constant band.
        """
        if self.statistics is None:
            self.statistics = band_statistics(files, self.bands)
        statistics = self.statistics
        given = self.mean is not None and self.std is not None
        self.mean = self.mean or statistics.mean  # type: ignore[assignment]
        self.std = self.std or statistics.std  # type: ignore[assignment]
        if self.value_range is None:
            self.value_range = default_value_range(self.dtype, statistics)
        self._build_augmentations()
        spread = normalised_spread(statistics, self.std)  # type: ignore[arg-type]
        if stage == "fit" and given and not np.all(spread >= MIN_NORMALISED_SPREAD):
            band = self.bands[int(np.argmin(spread))]
            warnings.warn(
                f"{self.paths}: the normalised imagery is nearly constant (band {band} spreads"
                f" {spread.min():.3g} with mean {self.mean} and std {self.std}, below"
                f" {MIN_NORMALISED_SPREAD}): the model can learn little; leave"
                " data.init_args.mean and std unset to take the imagery's own (mean"
                f" {[round(m, 1) for m in statistics.mean]}, std"
                f" {[round(v, 1) for v in statistics.std]})",
                UserWarning,
                stacklevel=3,
            )

    def normalize_as(self, spec: DataSpec) -> None:
        """Normalise as a checkpoint's training did (a test or resumed run of it).

        Args:
            spec: the checkpoint's data spec; its per-band mean and std (raw pixel
                units) are taken.
        """
        self.mean = list(spec.mean)  # type: ignore[assignment]
        self.std = list(spec.std)  # type: ignore[assignment]
        self._build_augmentations()

    @property
    def data_spec(self) -> DataSpec:
        """The imagery this datamodule gives the model, for the task's checkpoint.

        Raises:
            TGDCError: before :meth:`setup` (or :meth:`fit_normalization`) has taken the
                normalisation from the imagery.
        """
        if self.mean is None or self.std is None or self.value_range is None:
            raise TGDCError(
                "data_spec: the normalisation is not known before setup; call setup(stage)"
                " first (the trainer does)"
            )
        assert isinstance(self.patch_size, int)
        return DataSpec(
            bands=tuple(self.bands),
            dtype=self.dtype,
            value_range=(self.value_range[0], self.value_range[1]),
            gsd=self.gsd,
            mean=tuple(self.mean),
            std=tuple(self.std),
            patch_size=self.patch_size,
        )

    def _build_augmentations(self) -> None:
        """The normalisation of every stage and training's augmentation, from mean/std."""
        spread = 1.0
        if self.statistics is not None:
            spread = float(normalised_spread(self.statistics, self.std).mean())  # type: ignore[arg-type]
        self.aug, train_aug = augmentations(
            self.mean,  # type: ignore[arg-type]
            self.std,  # type: ignore[arg-type]
            spread,
            self.augment,
        )
        if train_aug is not None:
            self.train_aug = train_aug

    def _positives(self, labels: GeoDataset) -> BaseGeometry | None:
        """Data-center footprints (polygon labels) to spread over the splits."""
        if isinstance(labels, DataCenterLabels):
            features = labels.features
            return features.geometry[features["value"] == 1].union_all()
        return None

    def _setup_chips(self, images: NAIPChips, masks: GeoDataset) -> None:
        """Give every split the whole chips whose centre lies in its cells."""
        assert self.split is not None
        names = self.split.assign(images.index.geometry.centroid)
        for name in SPLITS:
            subset = copy.copy(images)
            subset.index = images.index[names == name]
            if subset.index.empty:
                raise TGDCError(
                    f"{self.paths}: no chips fall in the {name} split; add chips, lower"
                    " split_cell_size or change val_fraction/test_fraction"
                )
            setattr(self, f"{name}_dataset", subset & masks)
            sampler = ChipSampler(subset, shuffle=name == "train", generator=self.seed)
            setattr(self, f"{name}_sampler", sampler)

    def setup(self, stage: str) -> None:
        """Build the joined dataset, the geographic split and the samplers.

        Args:
            stage: 'fit', 'validate', 'test' or 'predict'.

        Raises:
            TGDCError: if the imagery and labels do not overlap.
        """
        images, labels = self._datasets()
        self.fit_normalization(images.files, stage)
        if stage == "predict":
            self.predict_dataset = images
            self.predict_sampler = GriddedPatchSampler(
                images, size=self.patch_size, stride=self.patch_size
            )
            return
        try:
            dataset = images & labels
        except RuntimeError as error:
            raise TGDCError(
                f"{self.paths} and {self.label_path or self.masks_dir}: imagery and labels do not"
                f" overlap ({error}); check that they cover the same place"
            ) from error
        extent = dataset.index.geometry.union_all()
        if self.masks_dir is not None:
            # Chips are assigned by their centre: split over the centres alone.
            extent = images.index.geometry.centroid.buffer(0.01, cap_style="square").union_all()
        # This datamodule takes square patches: patch_size is an int.
        assert isinstance(self.patch_size, int)
        self.split = grid_split(
            extent,
            cell_size=self.split_cell_size,
            fractions=self.fractions,
            positives=self._positives(labels),
            margin=0.0 if self.masks_dir is not None else self.patch_size * images.res[0],
            seed=self.split_seed,
            crs=dataset.crs,
        )
        if self.masks_dir is not None:
            self._setup_chips(images, labels)
            return
        self.train_dataset = self.val_dataset = self.test_dataset = dataset
        margin = self.patch_size * images.res[0]
        regions = split_regions(self.split, self.areas, extent, dataset.crs, margin)
        self.regions = regions
        assert isinstance(labels, DataCenterLabels)
        features = labels.features
        needed = {"fit": ["train", "val"], "validate": ["val"], "test": ["test"]}.get(stage, [])
        for name in needed:
            check_region(
                name,
                regions[name],
                self.patch_size * images.res[0],
                patch_size=self.patch_size,
                areas_given=any(self.areas.values()),
                split_cell_size=self.split_cell_size,
                source=self.paths,
            )
        if stage == "fit":
            self.train_sampler = SiteSampler(
                dataset,
                sites=features.geometry,
                classes=features["site_class"].to_numpy(),
                size=self.patch_size,
                length=self.length,
                roi=regions["train"],
                site_share=self.site_share,
                class_weights=self.class_weights,
                generator=self.seed,
            )
        for name in needed[-1:]:
            sampler = GriddedPatchSampler(
                dataset,
                size=self.patch_size,
                stride=self.patch_size,
                roi=regions[name],  # type: ignore[arg-type]  # any geometry, as above
            )
            setattr(self, f"{name}_sampler", sampler)
        if stage == "fit":
            self.validation_split = ValidationSplit.count(len(sampler), features, regions["val"])
            rank_zero_info(f"tgdc: {self.validation_split.describe()}")
            if not self.validation_split.can_rank:
                enlarge = (
                    "give a larger data.init_args.val_area"
                    if self.areas["val"]
                    else "raise data.init_args.val_fraction (or give a val_area)"
                )
                warnings.warn(self.validation_split.too_few(enlarge), UserWarning, stacklevel=2)
