"""The data-center network as a checkpoint describes it, and its logits as probabilities.

What training (:class:`~torchgeo_datacenters.tasks.DataCenterSegmentation`) and the
predictor's loader (:func:`~torchgeo_datacenters.inference.model.load_checkpoint`) share:
the class names, the hyperparameters that describe the network (and the values derived
from them when not given), their checks, building :class:`~.unet4.UNet4` from them, and
reading its logits as the data-center probability: the sigmoid of the one logit of a
binary task, the softmax share of the data-center class of a multiclass one.

Free of Lightning, TorchGeo's tasks, segmentation-models-pytorch and torchmetrics, so a
``.ckpt`` of UNet4 loads for prediction (:class:`DataCenterNetwork`) without importing
them.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Literal, get_args

from torch import Tensor, nn

from ..checkpoint import check_threshold
from ..errors import TGDCError
from ..naip import BANDS, DATACENTER_CLASS, HARD_NEGATIVE_CLASSES
from .unet4 import BASE_CHANNELS, UNet4

#: Name of the data-center class in ``class_names``.
DATACENTER = DATACENTER_CLASS

#: Classes of the binary task.
BINARY_CLASS_NAMES = ("background", DATACENTER)

#: Classes of the multiclass (hard-negative) task.
HARD_NEGATIVE_CLASS_NAMES = ("background", DATACENTER, *HARD_NEGATIVE_CLASSES)

#: Models that ``model`` accepts: ours, then TorchGeo's.
ModelName = Literal["unet4", "unet", "deeplabv3+", "fcn", "upernet", "segformer", "dpt"]
MODELS: tuple[str, ...] = get_args(ModelName)

#: Tasks that ``task`` accepts.
TaskName = Literal["binary", "multiclass"]
TASKS: tuple[str, ...] = get_args(TaskName)

#: ``model`` and ``task`` when not given.
DEFAULT_MODEL: Final = "unet4"
DEFAULT_TASK: Final = "binary"

#: Prefix of the network's weights in the task's ``state_dict`` (the task holds the
#: network as its ``model``).
STATE_DICT_PREFIX = "model."


def class_defaults(
    task: str, class_names: Sequence[str] | None, num_classes: int | None
) -> tuple[list[str], int | None]:
    """The class names and class count a task uses when they are not given.

    Args:
        task: ``'binary'`` or ``'multiclass'``.
        class_names: the given class names, or None for the task's default.
        num_classes: the given class count, or None (multiclass: one per class name).

    Returns:
        The class names and the class count.
    """
    if class_names is None:
        class_names = BINARY_CLASS_NAMES if task == "binary" else HARD_NEGATIVE_CLASS_NAMES
    if task == "multiclass" and num_classes is None:
        num_classes = len(class_names)
    return list(class_names), num_classes


def input_channels(in_channels: int | None, bands: Sequence[str] | None) -> int:
    """Input channels: as given, else one per band name, else NAIP's four bands."""
    if in_channels is not None:
        return in_channels
    return len(bands) if bands else len(BANDS)


def derived_hparams(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """The hyperparameters the network derives when they are not given.

    LightningCLI saves the config's arguments as the hyperparameters, not the values the
    task derived from them, so readers derive them again.

    Args:
        hparams: hyperparameters of the task or of its checkpoint.

    Returns:
        ``model``, ``task``, ``class_names``, ``num_classes`` (None for a binary task),
        ``in_channels`` and ``base_channels`` (UNet4's width; absent from checkpoints
        written before it could be chosen), given or derived.
    """
    task = hparams.get("task", DEFAULT_TASK)
    class_names, num_classes = class_defaults(
        task, hparams.get("class_names"), hparams.get("num_classes")
    )
    return {
        "model": hparams.get("model", DEFAULT_MODEL),
        "task": task,
        "class_names": class_names,
        "num_classes": num_classes,
        "in_channels": input_channels(hparams.get("in_channels"), hparams.get("bands")),
        "base_channels": hparams.get("base_channels", BASE_CHANNELS),
    }


def check_lengths(
    in_channels: int,
    bands: Sequence[str] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
) -> None:
    """Per-band hyperparameters must have one value per input channel.

    Raises:
        TGDCError: if *bands*, *mean* or *std* has another length, or a std is <= 0.
    """
    for field, values in (("bands", bands), ("mean", mean), ("std", std)):
        if values is not None and len(values) != in_channels:
            raise TGDCError(
                f"{field}: {len(values)} value(s) for in_channels={in_channels}; give one per band"
            )
    if std is not None and min(std) <= 0:
        raise TGDCError(f"std: {list(std)} has a value <= 0; give positive standard deviations")


def check_network(
    *,
    model: str,
    task: str,
    in_channels: int,
    num_classes: int | None,
    class_names: Sequence[str],
    threshold: float,
    bands: Sequence[str] | None,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    base_channels: int = BASE_CHANNELS,
) -> None:
    """Reject hyperparameters that describe no network of ours, or contradict each other.

    Args:
        model: the model name, one of :data:`MODELS`.
        task: ``'binary'`` or ``'multiclass'``.
        in_channels: number of input bands (derived, see :func:`derived_hparams`).
        num_classes: number of classes of a multiclass task (derived).
        class_names: class names, index order (derived).
        threshold: default data-center probability threshold.
        bands: band names, or None.
        mean: per-band mean of raw pixels, or None.
        std: per-band standard deviation of raw pixels, or None.
        base_channels: channels of UNet4's finest level.

    Raises:
        TGDCError: naming the hyperparameter that is wrong and how to fix it.
    """
    if model not in MODELS:
        raise TGDCError(f"model: {model!r} is not one of {', '.join(MODELS)}")
    if task not in TASKS:
        raise TGDCError(f"task: {task!r} is not 'binary' or 'multiclass'")
    if in_channels <= 0:
        raise TGDCError(f"in_channels ({in_channels}) must be positive")
    if not isinstance(base_channels, int) or base_channels <= 0:
        raise TGDCError(
            f"base_channels ({base_channels!r}) must be a positive whole number, e.g. 32 (the"
            " default) or 16 for a screen"
        )
    if DATACENTER not in class_names:
        raise TGDCError(f"class_names: {list(class_names)} lacks {DATACENTER!r}")
    expected = 2 if task == "binary" else num_classes
    if len(class_names) != expected:
        raise TGDCError(
            f"class_names: {len(class_names)} names for task={task!r} with {expected} classes;"
            " give one name per class"
        )
    check_threshold(threshold)
    check_lengths(in_channels, bands, mean, std)


def build_unet4(hparams: Mapping[str, Any]) -> UNet4:
    """UNet4 as the hyperparameters describe it: one output channel per class, one if binary.

    Args:
        hparams: derived hyperparameters (see :func:`derived_hparams`).

    Returns:
        The network, randomly initialised.
    """
    return UNet4(
        in_channels=hparams["in_channels"],
        num_classes=hparams["num_classes"] or 1,
        base_channels=hparams["base_channels"],
    )


def datacenter_index(hparams: Mapping[str, Any]) -> int:
    """Index of the data-center class in the derived hyperparameters' ``class_names``."""
    return list(hparams["class_names"]).index(DATACENTER)


def check_band_count(count: int, hparams: Mapping[str, Any], source: str = "input") -> None:
    """Fail clearly when imagery has a band count the network cannot take.

    Args:
        count: number of bands of the imagery.
        hparams: derived hyperparameters (``in_channels``, optional ``bands``).
        source: what the imagery is (a file name), for the message.

    Raises:
        TGDCError: if *count* differs from ``in_channels``.
    """
    expected = hparams["in_channels"]
    if count != expected:
        bands = hparams.get("bands")
        described = f" ({', '.join(bands)})" if bands else ""
        raise TGDCError(
            f"{source}: has {count} band(s) but the model takes {expected}{described};"
            " give imagery with those bands in that order"
        )


def datacenter_probabilities(logits: Tensor, hparams: Mapping[str, Any]) -> Tensor:
    """Data-center probability of every pixel from the network's logits.

    Args:
        logits: logits (B, classes, H, W).
        hparams: derived hyperparameters (``task``, ``class_names``).

    Returns:
        Probabilities (B, H, W): the sigmoid of the logit (binary) or the softmax share of
        the data-center class (multiclass).
    """
    if hparams["task"] == "binary":
        return logits[:, 0].sigmoid()
    return logits.softmax(dim=1)[:, datacenter_index(hparams)]


def predict_probabilities(
    network: Callable[[Tensor], Tensor], image: Tensor, hparams: Mapping[str, Any]
) -> Tensor:
    """Data-center probability of every pixel of normalised images.

    The caller puts the network in eval mode and disables gradients.

    Args:
        network: maps images to logits (B, classes, H, W).
        image: normalised images (B, in_channels, H, W).
        hparams: derived hyperparameters of the network.

    Returns:
        Probabilities (B, H, W), see :func:`datacenter_probabilities`.

    Raises:
        TGDCError: if *image* is not 4-D with ``in_channels`` bands.
    """
    if image.ndim != 4:
        raise TGDCError(f"image: shape {tuple(image.shape)} is not (B, C, H, W)")
    check_band_count(image.shape[1], hparams, "image")
    return datacenter_probabilities(network(image), hparams)


class DataCenterNetwork(nn.Module):
    """UNet4 read as data-center probabilities, built from a checkpoint without its task.

    Attributes:
        model: the network, whose weights are the task's ``model.*`` weights.
        hparams: the checkpoint's hyperparameters, with the derived ones filled in.
    """

    def __init__(self, hparams: Mapping[str, Any]) -> None:
        """Initialize a new DataCenterNetwork with random weights.

        Args:
            hparams: hyperparameters of a ``model='unet4'`` task.

        Raises:
            TGDCError: if they describe no network (see :func:`check_network`) or
                another model than UNet4.
        """
        super().__init__()
        self.hparams = {**hparams, **derived_hparams(hparams)}
        check_network(
            model=self.hparams["model"],
            task=self.hparams["task"],
            in_channels=self.hparams["in_channels"],
            num_classes=self.hparams["num_classes"],
            class_names=self.hparams["class_names"],
            threshold=self.hparams["threshold"],
            bands=self.hparams.get("bands"),
            mean=self.hparams.get("mean"),
            std=self.hparams.get("std"),
            base_channels=self.hparams["base_channels"],
        )
        if self.hparams["model"] != "unet4":
            raise TGDCError(
                f"model: {self.hparams['model']!r} is built by the training task, not here;"
                " load it with DataCenterSegmentation.load_from_checkpoint"
            )
        self.model = build_unet4(self.hparams)

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any]) -> "DataCenterNetwork":
        """Build the network of a task's checkpoint and load its weights.

        Args:
            checkpoint: the content of a ``.ckpt`` (``hyper_parameters`` and
                ``state_dict``) of a ``model='unet4'`` task, read with
                ``weights_only=True``.

        Returns:
            The network in eval mode, on the CPU.

        Raises:
            TGDCError: if the hyperparameters describe no UNet4 of ours.
            KeyError: if the checkpoint lacks ``threshold``, ``hyper_parameters`` or
                ``state_dict``.
            RuntimeError: if the weights are not those of the network (missing, extra
                or of another shape).
        """
        network = cls(checkpoint["hyper_parameters"])
        weights = {
            key.removeprefix(STATE_DICT_PREFIX): value
            for key, value in checkpoint["state_dict"].items()
            if key.startswith(STATE_DICT_PREFIX)
        }
        network.model.load_state_dict(weights)
        return network.eval()

    def forward(self, image: Tensor) -> Tensor:
        """Data-center probability of every pixel (see :func:`predict_probabilities`).

        Args:
            image: normalised images (B, in_channels, H, W).

        Returns:
            Probabilities (B, H, W).
        """
        return predict_probabilities(self.model, image, self.hparams)
