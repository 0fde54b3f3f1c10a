"""Arguments of the segmentation task: the ranges and combinations it refuses."""

from collections.abc import Sequence

from ..errors import TGDCError
from ..models.datacenter import DATACENTER, check_network
from .losses import BINARY_CROSS_ENTROPY, LOSSES


def check_arguments(
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
    base_channels: int,
) -> None:
    """Reject out-of-range or contradictory task arguments with a TGDCError.

    The network's arguments are checked as the predictor's loader checks a checkpoint's
    (:func:`~torchgeo_datacenters.models.datacenter.check_network`), then training's; see
    :class:`~.segmentation.DataCenterSegmentation` for each argument.

    Raises:
        TGDCError: if an argument is out of range or arguments contradict each other.
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
        base_channels=base_channels,
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
    if ignore_index is not None and loss in BINARY_CROSS_ENTROPY:
        raise TGDCError(
            f"ignore_index ({ignore_index}): not supported with loss={loss!r}; use loss='dice'"
            " or 'focal', or drop ignore_index"
        )
    if ignore_index is not None and ignore_index == list(class_names).index(DATACENTER):
        raise TGDCError(f"ignore_index ({ignore_index}) must not be the data-center class")
