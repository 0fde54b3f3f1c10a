"""LightningDataModule joining NAIP imagery with data-center labels."""

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

import kornia.augmentation as K
import torch
from shapely.geometry.base import BaseGeometry
from torchgeo.datamodules import GeoDataModule
from torchgeo.datasets import GeoDataset
from torchgeo.samplers import GriddedPatchSampler, RandomPatchSampler

from ..datasets import NAIP_BANDS, NAIP_GSD, ChipMasks, DataCenterLabels, NAIPChips
from ..datasets.chips import check_chip_pairs
from ..errors import TGDCError
from ..naip import DATACENTER_CLASS, HARD_NEGATIVE_CLASSES, VALUE_RANGE
from ..samplers import ChipSampler
from .splits import SPLITS, GeoSplit, grid_split

PathLike = str | os.PathLike[str]


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

    Normalisation: the model sees ``(pixel - mean) / std`` per band, in raw uint8
    units; :attr:`mean`, :attr:`std`, :attr:`bands`, :attr:`gsd` and
    :attr:`patch_size` are copied into the task's checkpoint so inference repeats
    them. Training batches are augmented on the device with kornia: flips and
    90-degree rotations of image and mask together, brightness and contrast jitter of
    the image only.
    """

    def __init__(
        self,
        paths: PathLike | Sequence[PathLike] = "data",
        label_path: PathLike | None = None,
        masks_dir: PathLike | None = None,
        batch_size: int = 16,
        patch_size: int = 256,
        length: int | None = None,
        num_workers: int = 0,
        *,
        filename_glob: str = "*.tif",
        positive_classes: Sequence[str] = (DATACENTER_CLASS,),
        use_label_field: bool = False,
        multiclass: bool = False,
        class_map: Mapping[str, str] | None = None,
        buffer_m: float = 0.0,
        split_cell_size: float = 1536.0,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        seed: int = 0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        augment: bool = True,
    ) -> None:
        """Initialize a new DataCenterDataModule.

        Args:
            paths: imagery directories or GeoTIFF files (4-band RGBN).
            label_path: label polygon file (GeoJSON, GeoPackage, any OGR vector).
            masks_dir: directory of mask chips named like the image chips (instead of
                *label_path*).
            batch_size: samples per mini-batch.
            patch_size: side of the training patches, in pixels.
            length: random patches per training epoch (defaults to torchgeo's
                estimate of non-overlapping patches).
            num_workers: data-loading worker processes.
            filename_glob: glob selecting imagery (and mask) files in directories.
            positive_classes: classes that are data centers.
            use_label_field: choose positives by the boolean ``label`` field.
            multiclass: give each hard-negative class its own index.
            class_map: renames of class values, e.g. ``{'datacemter': 'datacenter'}``.
            buffer_m: grow label polygons by this many metres.
            split_cell_size: side of the split grid cells, in metres (CRS units).
            val_fraction: share of cells for validation.
            test_fraction: share of cells for testing.
            seed: seed of the split and of the random patches.
            mean: per-band mean in raw pixel units (default 0: pixels / 255).
            std: per-band standard deviation in raw pixel units (default 255).
            augment: apply training augmentation.

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
        bands = len(NAIP_BANDS)
        # TorchGeo types mean/std as tensors; the task and checkpoint take lists of floats.
        self.mean = [float(m) for m in (mean if mean is not None else [0.0] * bands)]  # type: ignore[assignment]
        full_scale = float(VALUE_RANGE[1])
        self.std = [float(s) for s in (std if std is not None else [full_scale] * bands)]  # type: ignore[assignment]
        if len(self.mean) != bands or len(self.std) != bands or min(self.std) <= 0:
            raise TGDCError(f"mean/std: need {bands} values each, std > 0")
        super().__init__(NAIPChips, batch_size, patch_size, length, num_workers)
        self.paths = paths
        self.label_path = label_path
        self.masks_dir = masks_dir
        self.filename_glob = filename_glob
        self.label_kwargs: dict[str, Any] = {
            "positive_classes": tuple(positive_classes),
            "use_label_field": use_label_field,
            "multiclass": multiclass,
            "class_map": dict(class_map or {}),
            "buffer_m": buffer_m,
        }
        self.split_cell_size = split_cell_size
        self.fractions = (1 - val_fraction - test_fraction, val_fraction, test_fraction)
        self.seed = seed
        self.bands = list(NAIP_BANDS)
        self.gsd = NAIP_GSD
        self.class_names = ["background", DATACENTER_CLASS]
        if multiclass:
            self.class_names += HARD_NEGATIVE_CLASSES
        self.split: GeoSplit | None = None

        mean_t, std_t = torch.tensor(self.mean), torch.tensor(self.std)
        self.aug = K.AugmentationSequential(
            K.Normalize(mean=mean_t, std=std_t), data_keys=None, keepdim=True
        )
        if augment:
            self.train_aug = K.AugmentationSequential(
                K.Normalize(mean=torch.zeros(bands), std=torch.full((bands,), full_scale)),
                K.RandomBrightness(brightness=(0.85, 1.15), p=0.5),
                K.RandomContrast(contrast=(0.85, 1.15), p=0.5),
                K.RandomHorizontalFlip(),
                K.RandomVerticalFlip(),
                K.RandomRotation90(times=(0, 3), p=0.5),
                K.Normalize(mean=mean_t / full_scale, std=std_t / full_scale),
                data_keys=None,
                keepdim=True,
            )

    def _datasets(self) -> tuple[NAIPChips, GeoDataset]:
        """Open the imagery and the labels (polygons or mask chips)."""
        images = NAIPChips(self.paths, filename_glob=self.filename_glob)
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
            seed=self.seed,
            crs=dataset.crs,
        )
        if self.masks_dir is not None:
            self._setup_chips(images, labels)
            return
        self.train_dataset = self.val_dataset = self.test_dataset = dataset
        regions = self.split.regions
        if stage == "fit":
            self.train_sampler = RandomPatchSampler(
                dataset,
                size=self.patch_size,
                length=self.length,
                # torchgeo types roi as a Polygon; it clips its index with any geometry.
                roi=regions["train"],  # type: ignore[arg-type]
                generator=self.seed,
            )
        for name in {"fit": ["val"], "validate": ["val"], "test": ["test"]}.get(stage, []):
            if regions[name].is_empty:
                raise TGDCError(
                    f"{self.paths}: the {name} split is empty; raise {name}_fraction or lower"
                    " split_cell_size"
                )
            sampler = GriddedPatchSampler(
                dataset,
                size=self.patch_size,
                stride=self.patch_size,
                roi=regions[name],  # type: ignore[arg-type]  # any geometry, as above
            )
            setattr(self, f"{name}_sampler", sampler)
