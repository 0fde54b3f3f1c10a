"""Losses of the segmentation task: the names it accepts per task, and the binary ones it builds.

TorchGeo's :class:`~torchgeo.tasks.SemanticSegmentation` builds ``'ce'``, ``'dice'``,
``'focal'`` and ``'jaccard'``; the binary cross-entropy losses, with a weight on the
data-center pixels, are built here.
"""

from typing import Literal

import segmentation_models_pytorch as smp
import torch
from torch import Tensor, nn

#: Losses that ``loss`` accepts.
LossName = Literal["bce", "dice", "bce+dice", "focal", "ce", "jaccard"]

#: Losses that ``loss`` accepts, by task.
LOSSES = {
    "binary": ("bce", "dice", "bce+dice", "focal", "jaccard"),
    "multiclass": ("ce", "dice", "focal", "jaccard"),
}

#: Losses built here rather than by TorchGeo.
BINARY_CROSS_ENTROPY = ("bce", "bce+dice")


class LossSum(nn.Module):
    """Sum of several losses of the same (logits, target)."""

    def __init__(self, *losses: nn.Module) -> None:
        """Initialize a new LossSum.

        Args:
            losses: the losses to add up.
        """
        super().__init__()
        self.losses = nn.ModuleList(losses)

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """The sum of the losses.

        Args:
            logits: the network's output.
            target: the target every loss takes.

        Returns:
            The summed loss (a scalar).
        """
        return torch.stack([loss(logits, target) for loss in self.losses]).sum()


def binary_cross_entropy(loss: str, pos_weight: float | None) -> nn.Module:
    """The loss ``'bce'`` or ``'bce+dice'`` of a binary task.

    Args:
        loss: ``'bce'``, or ``'bce+dice'`` for the sum of it and smp's binary Dice loss.
        pos_weight: weight of data-center pixels (None: 1).

    Returns:
        The loss of (logits (B, H, W), float target (B, H, W)).
    """
    criterion: nn.Module = nn.BCEWithLogitsLoss(
        pos_weight=None if pos_weight is None else torch.tensor(float(pos_weight))
    )
    if loss == "bce+dice":
        criterion = LossSum(criterion, smp.losses.DiceLoss(mode="binary"))
    return criterion
