"""Metrics of the segmentation task: pixel scores of the data-center class, and hard negatives."""

from collections.abc import Sequence
from typing import Any

from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryF1Score,
    BinaryJaccardIndex,
    BinaryPrecision,
    BinaryRecall,
)

from ..models.datacenter import BINARY_CLASS_NAMES
from .object_metrics import HardNegativeFDR


def pixel_metrics(threshold: float, ignore_index: int | None) -> MetricCollection:
    """Pixel Dice, IoU, precision and recall of the data-center class.

    Args:
        threshold: data-center probability at or above which a pixel is predicted one.
        ignore_index: target value left out of the scores (None: none).

    Returns:
        The metrics, keyed ``dice``, ``iou``, ``precision`` and ``recall``; they take
        probabilities (B, H, W) and 0/1 targets (B, H, W).
    """
    kwargs: dict[str, Any] = {"threshold": threshold, "ignore_index": ignore_index}
    return MetricCollection(
        {
            "dice": BinaryF1Score(**kwargs),
            "iou": BinaryJaccardIndex(**kwargs),
            "precision": BinaryPrecision(**kwargs),
            "recall": BinaryRecall(**kwargs),
        }
    )


def hard_negative_metrics(
    class_names: Sequence[str] | None, threshold: float, stages: Sequence[str] = ("val", "test")
) -> nn.ModuleDict:
    """The hard-negative false-detection rates of every stage, for a multiclass task.

    Hard negatives are in the target of the multiclass task only (a binary mask holds 0
    where they stand), so a binary task gets none.

    Args:
        class_names: the task's class names, index order (None: binary).
        threshold: data-center probability at or above which a pixel is predicted one.
        stages: the stages that log the rates.

    Returns:
        A :class:`~.object_metrics.HardNegativeFDR` per stage, or an empty dict where
        the classes hold no hard negative.
    """
    names = list(class_names or BINARY_CLASS_NAMES)
    negatives = [name for name in names if name not in BINARY_CLASS_NAMES]
    return nn.ModuleDict(
        {stage: HardNegativeFDR(names, negatives, threshold) for stage in stages if negatives}
    )
