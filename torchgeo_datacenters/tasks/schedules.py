"""Learning-rate schedules of the segmentation task: warm-up and cosine decay, or plateau."""

import math
from collections.abc import Iterable
from functools import partial
from typing import Literal

from lightning.pytorch.utilities.types import OptimizerLRScheduler
from torch import nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau

from ..errors import TGDCError

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


def adamw_schedule(
    parameters: Iterable[nn.Parameter],
    *,
    lr: float,
    lr_schedule: str,
    warmup: float,
    patience: int,
    steps: float,
    monitor: str,
    mode: Literal["min", "max"],
) -> OptimizerLRScheduler:
    """AdamW with the ``lr_schedule``: warm-up and cosine decay per step, or plateau.

    Args:
        parameters: the parameters to train.
        lr: peak learning rate.
        lr_schedule: ``'cosine'`` (see :func:`warmup_cosine`) or ``'plateau'``.
        warmup: share of the steps spent warming up (``'cosine'``), in [0, 1).
        patience: epochs without improvement of *monitor* before the learning rate
            drops tenfold (``'plateau'``).
        steps: optimizer steps of the whole training (Lightning's estimate; infinite
            where training has no end).
        monitor: the logged metric ``'plateau'`` follows.
        mode: whether *monitor* improves as it falls (``'min'``) or rises (``'max'``).

    Returns:
        Optimizer and learning-rate scheduler, as Lightning takes them.

    Raises:
        TGDCError: if the schedule is ``'cosine'`` and *steps* is not finite.
    """
    optimizer = AdamW(parameters, lr=lr)
    if lr_schedule == "plateau":
        scheduler = ReduceLROnPlateau(optimizer, mode=mode, patience=patience)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": monitor},
        }
    if not math.isfinite(steps):
        raise TGDCError(
            "lr_schedule 'cosine' decays over the whole training: set trainer max_epochs"
            " or max_steps, or use lr_schedule 'plateau'"
        )
    total = max(1, int(steps))
    factor = partial(warmup_cosine, total=total, warmup=min(total - 1, round(warmup * total)))
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": LambdaLR(optimizer, factor), "interval": "step"},
    }
