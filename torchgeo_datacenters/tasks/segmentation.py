"""DataCenterSegmentation: TorchGeo semantic segmentation of data centers in NAIP."""

import math
import pickle
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal, Protocol, runtime_checkable

import segmentation_models_pytorch as smp
import torch
from lightning.pytorch import Callback, LightningDataModule
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau
from torchgeo.datasets.utils import Sample
from torchgeo.tasks import SemanticSegmentation
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
)

from .. import __version__
from ..errors import TGDCError
from ..loggers import follow_root_dir
from ..models import datacenter
from ..models.datacenter import (
    BINARY_CLASS_NAMES,
    DATACENTER,
    DEFAULT_MODEL,
    DEFAULT_TASK,
    ModelName,
    TaskName,
    check_lengths,
    check_network,
    class_defaults,
    derived_hparams,
    input_channels,
)
from .object_metrics import HardNegativeFDR, ObjectF1

#: Losses that ``loss`` accepts.
LossName = Literal["bce", "dice", "bce+dice", "focal", "ce", "jaccard"]

#: Losses that ``loss`` accepts, by task.
LOSSES = {
    "binary": ("bce", "dice", "bce+dice", "focal", "jaccard"),
    "multiclass": ("ce", "dice", "focal", "jaccard"),
}


@runtime_checkable
class NormalizedDataModule(Protocol):
    """A datamodule whose normalisation a checkpoint can set (``DataCenterDataModule``)."""

    def normalize_as(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Normalise with a checkpoint's per-band mean and std (raw pixel units)."""


#: Learning-rate schedules that ``lr_schedule`` accepts.
ScheduleName = Literal["cosine", "plateau"]


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Factor on the learning rate at optimizer step *step*: linear warm-up, cosine decay.

    The factor rises linearly over the first *warmup* steps to 1, then falls along half a
    cosine to 0 at step *total* (Loshchilov & Hutter, "SGDR", ICLR 2017; warm-up as in
    Goyal et al., "Accurate, Large Minibatch SGD", 2017), so the last updates are small
    and the final weights settle instead of stopping wherever a large step left them.

    Args:
        step: the optimizer step, from 0.
        total: the number of optimizer steps of the whole training.
        warmup: steps of linear warm-up (0 for none), fewer than *total*.

    Returns:
        The factor, in [0, 1].
    """
    if step < warmup:
        return (step + 1) / (warmup + 1)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


class _LossSum(nn.Module):
    """Sum of several losses of the same (logits, target)."""

    def __init__(self, *losses: nn.Module) -> None:
        super().__init__()
        self.losses = nn.ModuleList(losses)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return torch.stack([loss(logits, target) for loss in self.losses]).sum()


class DataCenterSegmentation(SemanticSegmentation):
    """Segment data centers, binary or against hard-negative classes.

    TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation` with:

    * ``model='unet4'``: :class:`~torchgeo_datacenters.models.UNet4`, the seed
      project's small U-Net trained from scratch; TorchGeo's models (``'unet'`` with a
      ``backbone`` such as ``'resnet18'``, ``'deeplabv3+'``, ...) work unchanged, so
      they can be compared on the same data.
    * Losses. Binary: ``'bce'`` (with ``pos_weight``), ``'dice'``, ``'bce+dice'``
      (their sum), ``'focal'``, ``'jaccard'``. Multiclass: ``'ce'`` (with
      ``class_weights``), ``'dice'``, ``'focal'``, ``'jaccard'``. What the seed project
      found on 757 NAIP chips: class-balanced weighting worked best (``pos_weight``
      near the ratio of background to data-center pixels for ``'bce'``, or
      ``class_weights`` inversely proportional to class frequency for ``'ce'``),
      reaching Dice 76.3% and IoU 61.7%; focal loss collapsed to 0.5% recall, the model
      predicting background almost everywhere.
    * Metrics of the data-center class, logged per stage: ``{stage}_dice``,
      ``{stage}_iou``, ``{stage}_precision``, ``{stage}_recall`` (pixels, at
      ``threshold``) and ``{stage}_loss``; ``train_loss`` is logged per step and per
      epoch. On test also ``test_object_precision``, ``test_object_recall`` and
      ``test_object_f1``: connected components matched one-to-one to the true ones at
      IoU >= 0.5 (see :mod:`.object_metrics`). Multiclass tasks also log, on validation
      and test, ``{stage}_hn_fdr_<class>`` for every hard-negative class: the share of
      its objects detected as data centers (:class:`.HardNegativeFDR`). Validation IoU
      is monitored (``mode`` max) for the learning-rate schedule and suits early
      stopping.
    * A self-describing checkpoint: ``bands``, ``gsd``, ``dtype``, ``value_range``,
      ``mean``, ``std``, ``patch_size``, ``threshold``, ``class_names`` and
      ``package_version`` are hyperparameters; the first seven are filled from the
      trainer's datamodule when not given, and ``in_channels`` follows ``bands``
      unless given. The model input is ``(raw_pixel - mean) / std`` per band, with
      ``mean`` and ``std`` in raw (uint8) pixel units.

    Batches hold ``image`` (B, C, H, W) float, already normalised, and ``mask``
    (B, H, W) or (B, 1, H, W) integer classes (0/1 for binary).
    """

    monitor = "val_iou"
    mode: Literal["min", "max"] = "max"

    def __init__(
        self,
        model: ModelName = DEFAULT_MODEL,
        backbone: str = "resnet18",
        weights: str | bool | None = None,
        in_channels: int | None = None,
        task: TaskName = DEFAULT_TASK,
        num_classes: int | None = None,
        loss: LossName = "bce",
        pos_weight: float | None = None,
        class_weights: list[float] | None = None,
        ignore_index: int | None = None,
        lr: float = 1e-3,
        patience: int = 10,
        lr_schedule: ScheduleName = "cosine",
        warmup: float = 0.05,
        num_filters: int = 3,
        freeze_backbone: bool = False,
        freeze_decoder: bool = False,
        *,
        bands: list[str] | None = None,
        gsd: float | None = None,
        dtype: str | None = None,
        value_range: list[float] | None = None,
        mean: list[float] | None = None,
        std: list[float] | None = None,
        patch_size: int | None = None,
        threshold: float = 0.5,
        class_names: list[str] | None = None,
        package_version: str | None = None,
        trained_from: str | None = None,
        label_files: list[str] | None = None,
        review_runs: list[str] | None = None,
    ) -> None:
        """Initialize a new DataCenterSegmentation.

        Args:
            model: ``'unet4'`` or the name of a TorchGeo segmentation model.
            backbone: encoder of TorchGeo's models (ignored by ``'unet4'``).
            weights: initial weights. For ``'unet4'``: None or False (from scratch), or
                the path of a checkpoint of this task (``.ckpt``) whose network training
                starts from, e.g. to fine-tune on labels from review verdicts; it must have
                the same bands and classes. For TorchGeo's models see
                :class:`~torchgeo.tasks.SemanticSegmentation` (nothing can be downloaded
                offline, so use None or a local state-dict path).
            in_channels: number of input bands (default: one per name in *bands*, taken
                from the datamodule when training; 4, NAIP's, when neither is known).
            task: ``'binary'`` (data center or not) or ``'multiclass'`` (hard negatives).
            num_classes: number of classes for ``'multiclass'`` (default: the number of
                ``class_names``).
            loss: loss function (see the class description).
            pos_weight: weight of data-center pixels in ``'bce'`` and ``'bce+dice'``,
                e.g. background pixels / data-center pixels for balance.
            class_weights: per-class weights of ``'ce'``, one per class.
            ignore_index: target value ignored by the loss and the pixel metrics (not
                with ``'bce'`` or ``'bce+dice'``).
            lr: peak learning rate of AdamW.
            patience: with ``lr_schedule='plateau'``, epochs without validation IoU
                improvement before the learning rate drops tenfold.
            lr_schedule: ``'cosine'``: *lr* reached after a linear warm-up, then
                decayed along half a cosine to 0 at the last step of ``max_epochs``
                (see :func:`warmup_cosine`), so the final weights are the settled ones;
                ``'plateau'``: *lr* until validation IoU stops rising (*patience*).
            warmup: share of the training steps spent warming up (``'cosine'``), in
                [0, 1).
            num_filters: filters of TorchGeo's ``'fcn'`` model.
            freeze_backbone: freeze the encoder of TorchGeo's models.
            freeze_decoder: freeze the decoder of TorchGeo's models.
            bands: band names of the input, in order (default: the datamodule's).
            gsd: ground sample distance of the input in metres (default: the
                datamodule's).
            dtype: NumPy data type name of the raw imagery, e.g. ``'uint8'`` (default:
                the datamodule's).
            value_range: ``[min, max]`` raw pixel values of the imagery (default: the
                datamodule's).
            mean: per-band mean subtracted from raw pixels (default: the datamodule's).
            std: per-band divisor of raw pixels (default: the datamodule's).
            patch_size: training patch side in pixels (default: the datamodule's).
            threshold: data-center probability at or above which a pixel is predicted
                a data center.
            class_names: class names, index order; must include ``'datacenter'``
                (default: :data:`~torchgeo_datacenters.models.datacenter.BINARY_CLASS_NAMES`
                or :data:`~torchgeo_datacenters.models.datacenter.HARD_NEGATIVE_CLASS_NAMES`).
            package_version: torchgeo-datacenters version that trained the weights (set
                when training starts).
            trained_from: the checkpoint whose weights training started from (recorded
                from a ``'unet4'`` *weights* path when the checkpoint is saved).
            label_files: the label files of the datamodule (recorded when training
                starts).
            review_runs: the review runs (see
                :func:`~torchgeo_datacenters.datasets.labels.review_runs`) whose verdicts
                are in *label_files* (recorded when training starts).

        Raises:
            TGDCError: if an argument is out of range or arguments contradict each other.
        """
        class_names, num_classes = class_defaults(task, class_names, num_classes)
        _check_arguments(
            model=model,
            weights=weights,
            in_channels=input_channels(in_channels, bands),
            task=task,
            num_classes=num_classes,
            loss=loss,
            pos_weight=pos_weight,
            class_weights=class_weights,
            ignore_index=ignore_index,
            lr_schedule=lr_schedule,
            warmup=warmup,
            frozen=freeze_backbone or freeze_decoder,
            bands=bands,
            mean=mean,
            std=std,
            threshold=threshold,
            class_names=class_names,
        )
        if package_version is None:
            package_version = __version__
        super().__init__(
            model=model,  # type: ignore[arg-type]
            backbone=backbone,
            weights=weights,
            in_channels=input_channels(in_channels, bands),
            task=task,
            num_classes=num_classes,
            labels=class_names,
            num_filters=num_filters,
            loss=loss,  # type: ignore[arg-type]
            class_weights=class_weights,
            ignore_index=ignore_index,
            lr=lr,
            patience=patience,
            freeze_backbone=freeze_backbone,
            freeze_decoder=freeze_decoder,
        )
        self._fixed_channels = in_channels is not None

    @property
    def datacenter_index(self) -> int:
        """Index of the data-center class in ``class_names``."""
        return datacenter.datacenter_index(self.hparams)

    def configure_models(self) -> None:
        """Build UNet4 for ``model='unet4'``, otherwise TorchGeo's model."""
        # Derived values are needed by TorchGeo's code too (see derived_hparams).
        derived = derived_hparams(self.hparams)
        self.hparams.update(derived, labels=derived["class_names"], num_labels=None)
        if self.hparams["model"] != "unet4":
            super().configure_models()
            return
        self.model = datacenter.build_unet4(self.hparams)
        # TorchGeo keeps weights out of the hyperparameters, as self.weights.
        if isinstance(self.weights, str):
            self._load_initial_weights(self.weights)

    def _load_initial_weights(self, path: str) -> None:
        """Start UNet4 from the network of an earlier checkpoint of this task.

        Args:
            path: the ``.ckpt``.

        Raises:
            TGDCError: if it is no readable checkpoint of this task, or its network has
                other bands or classes.
        """
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            network = datacenter.DataCenterNetwork.from_checkpoint(checkpoint)
        except (OSError, KeyError, TypeError, RuntimeError, pickle.UnpicklingError) as error:
            raise TGDCError(
                f"weights: {path}: not a readable checkpoint of this task ({error}); give the"
                " .ckpt training wrote, or leave weights None to train from scratch"
            ) from None
        try:
            self.model.load_state_dict(network.model.state_dict())
        except RuntimeError:
            theirs = network.hparams
            raise TGDCError(
                f"weights: {path}: its network takes {theirs['in_channels']} band(s) and"
                f" classes {theirs['class_names']}, this task {self.hparams['in_channels']}"
                f" and {self.hparams['class_names']}; start from a checkpoint of the same"
                " bands and classes"
            ) from None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Leave derived and spent hyperparameters out of the checkpoint.

        :meth:`configure_models` derives ``labels`` and ``num_labels`` from
        ``class_names``; saved, they would be passed back to ``__init__`` (which does not
        take them) by ``torchgeo test --ckpt_path`` and by :meth:`load_from_checkpoint`.
        A UNet4 ``weights`` path (which TorchGeo keeps out of the hyperparameters, so that
        reading the checkpoint back never needs that file) is recorded as ``trained_from``.

        Args:
            checkpoint: the checkpoint being written.
        """
        hparams = checkpoint["hyper_parameters"]
        for key in ("labels", "num_labels"):
            hparams.pop(key, None)
        if hparams.get("model", DEFAULT_MODEL) == "unet4" and isinstance(self.weights, str):
            hparams["trained_from"] = self.weights

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Normalise the trainer's data as the checkpoint's training did.

        ``torchgeo test --ckpt_path`` and a resumed fit build the task and datamodule from
        the config, whose ``mean`` and ``std`` default to the imagery's own statistics;
        the weights were trained with the checkpoint's, which therefore win, in the task's
        hyperparameters and in the datamodule's normalisation.

        Args:
            checkpoint: the checkpoint being read.
        """
        hparams = checkpoint.get("hyper_parameters", {})
        mean, std = hparams.get("mean"), hparams.get("std")
        if mean is None or std is None:
            return
        self.hparams["mean"], self.hparams["std"] = list(mean), list(std)
        datamodule = getattr(self._trainer, "datamodule", None)
        if isinstance(datamodule, NormalizedDataModule):
            datamodule.normalize_as(mean, std)

    def configure_losses(self) -> None:
        """Build the loss; ``'bce'`` and ``'bce+dice'`` here, the others by TorchGeo."""
        loss = self.hparams["loss"]
        if loss not in ("bce", "bce+dice"):
            super().configure_losses()
            return
        pos_weight = self.hparams["pos_weight"]
        self.criterion: nn.Module = nn.BCEWithLogitsLoss(
            pos_weight=None if pos_weight is None else torch.tensor(float(pos_weight))
        )
        if loss == "bce+dice":
            self.criterion = _LossSum(self.criterion, smp.losses.DiceLoss(mode="binary"))

    def configure_callbacks(self) -> list[Callback]:
        """Point root-following loggers at the trainer's ``default_root_dir``.

        Lightning asks for the model's callbacks before it sets up loggers, so this is
        where :class:`~torchgeo_datacenters.loggers.RootCSVLogger` and
        :class:`~torchgeo_datacenters.loggers.RootTensorBoardLogger` learn their folder.

        Returns:
            No extra callbacks.
        """
        follow_root_dir(self.trainer)
        return []

    def configure_metrics(self) -> None:
        """Pixel Dice, IoU, precision and recall of the data-center class; object scores."""
        kwargs = {
            "threshold": self.hparams["threshold"],
            "ignore_index": self.hparams["ignore_index"],
        }
        pixels = MetricCollection(
            {
                "dice": BinaryF1Score(**kwargs),
                "iou": BinaryJaccardIndex(**kwargs),
                "precision": BinaryPrecision(**kwargs),
                "recall": BinaryRecall(**kwargs),
            }
        )
        self.train_metrics = pixels.clone(prefix="train_")
        self.val_metrics = pixels.clone(prefix="val_")
        self.test_metrics = pixels.clone(prefix="test_")
        self.test_metrics.add_metrics({"object": ObjectF1(threshold=self.hparams["threshold"])})
        # Hard negatives are in the target of the multiclass task only (a binary mask
        # holds 0 where they stand).
        class_names = list(self.hparams.get("class_names") or BINARY_CLASS_NAMES)
        negatives = [name for name in class_names if name not in BINARY_CLASS_NAMES]
        self.hn_metrics = nn.ModuleDict(
            {
                stage: HardNegativeFDR(class_names, negatives, self.hparams["threshold"])
                for stage in ("val", "test")
                if negatives
            }
        )

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """AdamW with the ``lr_schedule``: warm-up and cosine decay per step, or plateau.

        Returns:
            Optimizer and learning-rate scheduler.

        Raises:
            TGDCError: if the schedule is ``'cosine'`` and training has no end.
        """
        optimizer = AdamW(self.parameters(), lr=self.hparams["lr"])
        if self.hparams["lr_schedule"] == "plateau":
            scheduler = ReduceLROnPlateau(
                optimizer, mode=self.mode, patience=self.hparams["patience"]
            )
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": self.monitor},
            }
        steps = self.trainer.estimated_stepping_batches
        if not math.isfinite(steps):
            raise TGDCError(
                "lr_schedule 'cosine' decays over the whole training: set trainer max_epochs"
                " or max_steps, or use lr_schedule 'plateau'"
            )
        total = max(1, int(steps))
        warmup = min(total - 1, round(self.hparams["warmup"] * total))
        factor = partial(warmup_cosine, total=total, warmup=warmup)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": LambdaLR(optimizer, factor), "interval": "step"},
        }

    def setup(self, stage: str) -> None:
        """Describe the data in the hyperparameters from the trainer's datamodule.

        ``bands``, ``gsd``, ``mean`` and ``std`` left None are taken from the
        datamodule's attributes of the same names; values already set must agree with
        them. ``patch_size`` is the datamodule's when fitting (and when unset).
        Fitting also records the package version and resets the metrics.

        Args:
            stage: 'fit', 'validate', 'test' or 'predict'.

        Raises:
            TGDCError: if the datamodule's data contradict the hyperparameters.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        if datamodule is not None:
            self._describe_data(datamodule, stage)
        if stage == "fit":
            self.hparams["package_version"] = __version__
            for field in ("label_files", "review_runs"):
                value = getattr(datamodule, field, None)
                if value is not None:
                    self.hparams[field] = [str(v) for v in value]
            # trainer.validate() and .test() run in inference mode and leave inference
            # tensors in the metric states, which fit (no-grad) cannot update in place.
            for metrics in (self.train_metrics, self.val_metrics, self.test_metrics):
                metrics.reset()

    def _describe_data(self, datamodule: LightningDataModule, stage: str) -> None:
        """Fill or check the data hyperparameters from *datamodule*."""
        name = type(datamodule).__name__
        bands = _optional(getattr(datamodule, "bands", None), lambda v: [str(b) for b in v])
        if bands is not None and self.hparams.get("bands") is None:
            # in_channels follows the datamodule's bands unless the config fixed them.
            self.hparams["bands"] = bands
            if len(bands) != self.hparams["in_channels"] and not self._fixed_channels:
                self.hparams["in_channels"] = len(bands)
                self.configure_models()
        n = self.hparams["in_channels"]
        given: dict[str, Any] = {
            "bands": bands,
            "gsd": _optional(getattr(datamodule, "gsd", None), float),
            "dtype": _optional(getattr(datamodule, "dtype", None), str),
            "value_range": _optional(
                getattr(datamodule, "value_range", None), lambda v: [float(x) for x in v]
            ),
            "mean": _optional(getattr(datamodule, "mean", None), lambda v: _per_band(v, n)),
            "std": _optional(getattr(datamodule, "std", None), lambda v: _per_band(v, n)),
            "patch_size": _optional(getattr(datamodule, "patch_size", None), _side),
            "class_names": _optional(
                getattr(datamodule, "class_names", None), lambda v: [str(c) for c in v]
            ),
        }
        for field, value in given.items():
            current = self.hparams.get(field)
            if value is None or _same(current, value):
                continue
            if current is None or (field == "patch_size" and stage == "fit"):
                self.hparams[field] = value
            elif field == "class_names":
                raise TGDCError(
                    f"class_names: the task has {current} but datamodule {name} gives {value};"
                    " give the task the datamodule's class_names (and task='multiclass' for"
                    " hard negatives)"
                )
            elif field != "patch_size":
                raise TGDCError(
                    f"{field}: the task has {current} but datamodule {name} gives {value};"
                    f" make them agree, or leave the task's {field} unset to take the"
                    " datamodule's"
                )
        check_lengths(n, self.hparams["bands"], self.hparams["mean"], self.hparams["std"])

    def check_band_count(self, count: int, source: str = "input") -> None:
        """Fail clearly when imagery has a band count the model cannot take.

        Args:
            count: number of bands of the imagery.
            source: what the imagery is (a file name), for the message.

        Raises:
            TGDCError: if *count* differs from ``in_channels``.
        """
        datacenter.check_band_count(count, self.hparams, source)

    def predict_probabilities(self, image: Tensor) -> Tensor:
        """Data-center probability of every pixel.

        The caller puts the task in eval mode and disables gradients.

        Args:
            image: normalised images (B, in_channels, H, W).

        Returns:
            Probabilities (B, H, W): the sigmoid of the logit (binary) or the softmax
            share of the data-center class (multiclass).

        Raises:
            TGDCError: if *image* is not 4-D with ``in_channels`` bands.
        """
        return datacenter.predict_probabilities(self, image, self.hparams)

    def _step(self, batch: Sample, stage: Literal["train", "val", "test"]) -> Tensor:
        """Loss and metric update shared by the three stages."""
        image, mask = batch["image"], batch["mask"]
        if mask.ndim == 4:
            mask = mask.squeeze(1)
        mask = mask.long()
        logits = self(image)
        if self.hparams["task"] == "binary":
            loss = self.criterion(logits[:, 0], mask.float())
        else:
            loss = self.criterion(logits, mask)
        target = (mask == self.datacenter_index).long()
        ignore_index = self.hparams["ignore_index"]
        if ignore_index is not None:
            target = torch.where(mask == ignore_index, ignore_index, target)
        probabilities = datacenter.datacenter_probabilities(logits.detach(), self.hparams)
        getattr(self, f"{stage}_metrics").update(probabilities, target)
        if stage in self.hn_metrics:
            self._hard_negatives(stage).update(probabilities, mask)
        self.log(
            f"{stage}_loss",
            loss,
            batch_size=image.shape[0],
            on_step=stage == "train",
            on_epoch=True,
        )
        return loss

    def training_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Compute the training loss and update the training metrics.

        Args:
            batch: the output of the DataLoader.
            batch_idx: index of this batch.
            dataloader_idx: index of the current dataloader.

        Returns:
            The loss.
        """
        return self._step(batch, "train")

    def validation_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Compute the validation loss and update the validation metrics.

        Args:
            batch: the output of the DataLoader.
            batch_idx: index of this batch.
            dataloader_idx: index of the current dataloader.
        """
        self._step(batch, "val")

    def _hard_negatives(self, stage: str) -> HardNegativeFDR:
        """The hard-negative false-detection rates of *stage* (``val`` or ``test``)."""
        metric = self.hn_metrics[stage]
        assert isinstance(metric, HardNegativeFDR)
        return metric

    def _log_hard_negatives(self, stage: str) -> None:
        """Log ``<stage>_hn_fdr_<class>`` of the epoch (multiclass) and reset them."""
        if stage in self.hn_metrics:
            rates = self._hard_negatives(stage).compute()
            self.log_dict({f"{stage}_{name}": rate for name, rate in rates.items()})
            self._hard_negatives(stage).reset()

    def on_validation_epoch_end(self) -> None:
        """Log the validation metrics, and the hard-negative false-detection rates."""
        super().on_validation_epoch_end()
        self._log_hard_negatives("val")

    def on_test_epoch_end(self) -> None:
        """Log the test metrics, and the hard-negative false-detection rates."""
        super().on_test_epoch_end()
        self._log_hard_negatives("test")

    def test_step(self, batch: Sample, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Compute the test loss and update the pixel and object metrics.

        Args:
            batch: the output of the DataLoader.
            batch_idx: index of this batch.
            dataloader_idx: index of the current dataloader.
        """
        self._step(batch, "test")


def _optional(value: Any, convert: Any) -> Any:
    """``convert(value)``, or None when *value* is None."""
    return None if value is None else convert(value)


def _per_band(value: Any, bands: int) -> list[float]:
    """Per-band floats from a list, a tensor, or one number for every band."""
    values = value.tolist() if isinstance(value, Tensor) else value
    if isinstance(values, int | float):
        return [float(values)] * bands
    return [float(v) for v in values]


def _side(value: Any) -> int | list[int]:
    """A patch side in pixels from an int or an (height, width) pair."""
    if isinstance(value, int):
        return value
    sides = [int(v) for v in value]
    return sides[0] if len(set(sides)) == 1 else sides


def _same(a: Any, b: Any) -> bool:
    """Equal, with floats compared to a relative tolerance of 1e-6."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and math.isclose(a, b, rel_tol=1e-6)
    return a == b


def _check_arguments(
    *,
    model: str,
    weights: object,
    in_channels: int,
    task: str,
    num_classes: int | None,
    loss: str,
    pos_weight: float | None,
    class_weights: Sequence[float] | None,
    ignore_index: int | None,
    lr_schedule: str,
    warmup: float,
    frozen: bool,
    bands: Sequence[str] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    threshold: float,
    class_names: Sequence[str],
) -> None:
    """Reject out-of-range or contradictory task arguments with a TGDCError.

    The network's arguments are checked as the predictor's loader checks a checkpoint's
    (:func:`~torchgeo_datacenters.models.datacenter.check_network`), then training's.
    """
    check_network(
        model=model,
        task=task,
        in_channels=in_channels,
        num_classes=num_classes,
        class_names=class_names,
        threshold=threshold,
        bands=bands,
        mean=mean,
        std=std,
    )
    if model == "unet4" and (not (weights in (None, False) or isinstance(weights, str)) or frozen):
        raise TGDCError(
            "weights / freeze_backbone / freeze_decoder: UNet4 trains from scratch or from an"
            " earlier checkpoint of this task; give weights None or the .ckpt's path, and"
            " freeze nothing"
        )
    if loss not in LOSSES[task]:
        raise TGDCError(f"loss: {loss!r} does not fit task={task!r}; use one of {LOSSES[task]}")
    if pos_weight is not None and pos_weight <= 0:
        raise TGDCError(f"pos_weight ({pos_weight}) must be positive")
    if lr_schedule not in ("cosine", "plateau"):
        raise TGDCError(f"lr_schedule: {lr_schedule!r} is not 'cosine' or 'plateau'")
    if not 0 <= warmup < 1:
        raise TGDCError(f"warmup ({warmup}): give the share of steps to warm up, in [0, 1)")
    if class_weights is not None and len(class_weights) != len(class_names):
        raise TGDCError(
            f"class_weights: {len(class_weights)} weights for {len(class_names)} classes;"
            " give one per class"
        )
    if ignore_index is not None and loss in ("bce", "bce+dice"):
        raise TGDCError(
            f"ignore_index ({ignore_index}): not supported with loss={loss!r}; use loss='dice'"
            " or 'focal', or drop ignore_index"
        )
    if ignore_index is not None and ignore_index == list(class_names).index(DATACENTER):
        raise TGDCError(f"ignore_index ({ignore_index}) must not be the data-center class")
