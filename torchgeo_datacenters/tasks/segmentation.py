"""DataCenterSegmentation: TorchGeo semantic segmentation of data centers in NAIP."""

import pickle
from typing import Any, Literal

import torch
from lightning.pytorch import Callback
from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import Tensor, nn
from torchgeo.datasets.utils import Sample
from torchgeo.tasks import SemanticSegmentation

from .. import __version__
from ..checkpoint import DataSpec
from ..errors import TGDCError
from ..loggers import follow_root_dir
from ..models import datacenter
from ..models.datacenter import (
    DEFAULT_MODEL,
    DEFAULT_TASK,
    ModelName,
    TaskName,
    class_defaults,
    derived_hparams,
    input_channels,
)
from ..models.unet4 import BASE_CHANNELS
from .arguments import check_arguments
from .data_description import DescribedDataModule, describe_data
from .losses import BINARY_CROSS_ENTROPY, LossName, binary_cross_entropy
from .metrics import hard_negative_metrics, pixel_metrics
from .object_metrics import HardNegativeFDR, ObjectF1
from .schedules import ScheduleName, adamw_schedule


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
        base_channels: int = BASE_CHANNELS,
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
                (see :func:`.schedules.warmup_cosine`), so the final weights are the settled ones;
                ``'plateau'``: *lr* until validation IoU stops rising (*patience*).
            warmup: share of the training steps spent warming up (``'cosine'``), in
                [0, 1).
            num_filters: filters of TorchGeo's ``'fcn'`` model.
            freeze_backbone: freeze the encoder of TorchGeo's models.
            freeze_decoder: freeze the decoder of TorchGeo's models.
            base_channels: channels of ``'unet4'``'s finest level, each coarser level
                doubling them: its width. A network of half the width takes about a
                quarter of the compute, e.g. 16 for a screen (README, "Screening pass").
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
        check_arguments(
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
            base_channels=base_channels,
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
                f"weights: {path}: its network takes {theirs['in_channels']} band(s),"
                f" classes {theirs['class_names']} and base_channels"
                f" {theirs['base_channels']}, this task {self.hparams['in_channels']},"
                f" {self.hparams['class_names']} and {self.hparams['base_channels']}; start"
                " from a checkpoint of the same bands, classes and width"
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
        if hparams.get("mean") is None or hparams.get("std") is None:
            return
        spec = DataSpec.from_hparams(hparams)
        self.hparams["mean"], self.hparams["std"] = list(spec.mean), list(spec.std)
        datamodule = getattr(self._trainer, "datamodule", None)
        if isinstance(datamodule, DescribedDataModule):
            datamodule.normalize_as(spec)

    def configure_losses(self) -> None:
        """Build the loss; ``'bce'`` and ``'bce+dice'`` here, the others by TorchGeo."""
        loss = self.hparams["loss"]
        if loss not in BINARY_CROSS_ENTROPY:
            super().configure_losses()
            return
        self.criterion: nn.Module = binary_cross_entropy(loss, self.hparams["pos_weight"])

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
        threshold = self.hparams["threshold"]
        pixels = pixel_metrics(threshold, self.hparams["ignore_index"])
        self.train_metrics = pixels.clone(prefix="train_")
        self.val_metrics = pixels.clone(prefix="val_")
        self.test_metrics = pixels.clone(prefix="test_")
        self.test_metrics.add_metrics({"object": ObjectF1(threshold=threshold)})
        self.hn_metrics = hard_negative_metrics(self.hparams.get("class_names"), threshold)

    def configure_optimizers(self) -> OptimizerLRScheduler:
        """AdamW with the ``lr_schedule``: warm-up and cosine decay per step, or plateau.

        Returns:
            Optimizer and learning-rate scheduler (see :func:`.schedules.adamw_schedule`).

        Raises:
            TGDCError: if the schedule is ``'cosine'`` and training has no end.
        """
        return adamw_schedule(
            self.parameters(),
            lr=self.hparams["lr"],
            lr_schedule=self.hparams["lr_schedule"],
            warmup=self.hparams["warmup"],
            patience=self.hparams["patience"],
            steps=self.trainer.estimated_stepping_batches,
            monitor=self.monitor,
            mode=self.mode,
        )

    def setup(self, stage: str) -> None:
        """Describe the data in the hyperparameters from the trainer's datamodule.

        The data spec's hyperparameters (``bands``, ``dtype``, ``value_range``, ``gsd``,
        ``mean``, ``std``, ``patch_size``) and ``class_names`` left None are taken from a
        :class:`~.data_description.DescribedDataModule`; values already set must agree
        with them (see :func:`~.data_description.describe_data`). Fitting also records
        the package version and the label files, and resets the metrics.

        Args:
            stage: 'fit', 'validate', 'test' or 'predict'.

        Raises:
            TGDCError: if the datamodule's data contradict the hyperparameters.
        """
        datamodule = getattr(self.trainer, "datamodule", None)
        if not isinstance(datamodule, DescribedDataModule):
            datamodule = None
        elif describe_data(self.hparams, datamodule, stage, fixed_channels=self._fixed_channels):
            self.configure_models()
        if stage == "fit":
            self.hparams["package_version"] = __version__
            if datamodule is not None:
                self.hparams["label_files"] = [str(v) for v in datamodule.label_files]
                self.hparams["review_runs"] = [str(v) for v in datamodule.review_runs]
            # trainer.validate() and .test() run in inference mode and leave inference
            # tensors in the metric states, which fit (no-grad) cannot update in place.
            for metrics in (self.train_metrics, self.val_metrics, self.test_metrics):
                metrics.reset()

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
