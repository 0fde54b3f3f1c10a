"""A trained model as the predictor sees it: a probability function and its input statistics.

The predictor only needs a function from normalised image batches ``(B, C, H, W)`` to
data-center probabilities ``(B, H, W)``, the per-band mean and standard deviation (in raw
pixel units) that normalise its input, a default threshold, and the data type, value
range and ground sample distance of the imagery it was trained on (checkpoints that do
not record them are taken as raw NAIP: uint8, 0 to 255, 0.6 m). :class:`ProbabilityModel`
holds these; :func:`load_checkpoint` builds one from a checkpoint written by training
(:class:`~torchgeo_datacenters.tasks.DataCenterSegmentation`), and anything else (a plain
``torch.nn.Module``, a test function) can be wrapped directly.

A checkpoint of the project's UNet4 loads as a
:class:`~torchgeo_datacenters.models.DataCenterNetwork`, without importing Lightning, the
task, segmentation-models-pytorch or torchmetrics (seconds of start-up); TorchGeo's models
load through the task.
"""

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import (
    DEFAULT_DTYPE,
    DEFAULT_GSD,
    DEFAULT_VALUE_RANGE,
    REQUIRED_HPARAMS,
    CheckpointFacts,
    ModelContract,
    check_threshold,
)
from ..errors import TGDCError, describe_error
from ..models.datacenter import DEFAULT_MODEL, DataCenterNetwork

__all__ = [
    "DEFAULT_DTYPE",
    "DEFAULT_GSD",
    "DEFAULT_VALUE_RANGE",
    "REQUIRED_HPARAMS",
    "ProbabilityModel",
    "check_threshold",
    "load_checkpoint",
]


@dataclass(frozen=True)
class ProbabilityModel:
    """A function from normalised image batches to data-center probabilities."""

    #: Maps (B, C, H, W) normalised images to (B, H, W) probabilities in [0, 1].
    probability_fn: Callable[[Tensor], Tensor]
    #: Per-band mean of raw pixel values (input = (raw - mean) / std).
    mean: Sequence[float]
    #: Per-band standard deviation of raw pixel values.
    std: Sequence[float]
    #: Default probability at or above which a pixel is a data center.
    threshold: float = 0.5
    #: Band names, in order (informative).
    bands: Sequence[str] = ()
    #: Module behind *probability_fn*, moved to the device and set to eval mode.
    module: nn.Module | None = None
    #: Name shown in messages (the checkpoint file, by default).
    name: str = "model"
    #: Data type of the training imagery (NumPy name).
    dtype: str = DEFAULT_DTYPE
    #: [min, max] raw values of the training imagery.
    value_range: Sequence[float] = DEFAULT_VALUE_RANGE
    #: Ground sample distance of the training imagery, in metres.
    gsd: float = DEFAULT_GSD
    #: Hyperparameters of the checkpoint, with the values the task derives from them
    #: (empty for other models).
    hparams: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        """Check the statistics and threshold.

        Raises:
            TGDCError: if mean and std differ in length or are empty, a std is not
                positive, bands do not match them, the threshold is not in (0, 1), the
                value range is not [min, max], the gsd not positive or the dtype unknown.
        """
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))
        object.__setattr__(self, "bands", tuple(self.bands))
        object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))
        low, high = (*self.value_range, math.nan, math.nan)[:2]
        if len(self.value_range) != 2 or not low < high:
            raise TGDCError(
                f"{self.name}: value_range {self.value_range} must be [min, max] with min < max"
            )
        if not (math.isfinite(self.gsd) and self.gsd > 0):
            raise TGDCError(f"{self.name}: gsd {self.gsd} must be a positive number of metres")
        try:
            np.dtype(self.dtype)
        except TypeError as error:
            raise TGDCError(f"{self.name}: dtype {self.dtype!r} is not a data type") from error
        if not self.mean or len(self.mean) != len(self.std):
            raise TGDCError(
                f"{self.name}: mean ({len(self.mean)} values) and std ({len(self.std)} values)"
                " must give one value per band"
            )
        if not all(s > 0 and math.isfinite(s) for s in self.std):
            raise TGDCError(f"{self.name}: std {self.std} must be positive for every band")
        if self.bands and len(self.bands) != len(self.mean):
            raise TGDCError(
                f"{self.name}: {len(self.bands)} band names {self.bands} but"
                f" {len(self.mean)} mean/std values"
            )
        check_threshold(self.threshold, self.name)

    @property
    def band_count(self) -> int:
        """Number of input bands."""
        return len(self.mean)


def _first_line(error: BaseException, width: int = 120) -> str:
    """The first line of an error's message, cut to *width* characters (no key dumps)."""
    line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


#: Folders above a missing checkpoint searched for the checkpoints training wrote
#: (``ROOT/csv/version_N/checkpoints/*.ckpt``: four), and as deep below.
CHECKPOINT_SEARCH_DEPTH = 4

#: Most folders searched for them.
CHECKPOINT_SEARCH_FOLDERS = 2000


def _missing_checkpoint(path: Path) -> TGDCError:
    """The error for a checkpoint path that is no file, naming the newest checkpoint near it.

    A training run started again in the same ``default_root_dir`` writes into the next
    ``version_N`` folder, so a path copied from the first run names none.

    Args:
        path: the path given (missing, or a directory).

    Returns:
        The error.
    """
    # The folder given, else the highest folder up to four levels above the path (the file
    # system's root and "." excepted).
    above = [path] if path.is_dir() else path.parents[:CHECKPOINT_SEARCH_DEPTH]
    folders = [f for f in above if f.is_dir() and f != f.parent]
    newest = _newest_checkpoint(folders[-1]) if folders else None
    what = "is a directory" if path.is_dir() else "checkpoint file does not exist"
    if newest is None:
        return TGDCError(f"{path}: {what}; give the .ckpt file training wrote")
    return TGDCError(f"{path}: {what}; the newest checkpoint near it is {newest}")


def _newest_checkpoint(folder: Path) -> Path | None:
    """The most recently written ``.ckpt`` under *folder*, hidden folders skipped.

    Args:
        folder: where to look, at most :data:`CHECKPOINT_SEARCH_DEPTH` levels down and
            :data:`CHECKPOINT_SEARCH_FOLDERS` folders.

    Returns:
        The file, or None where there is none.
    """
    found: list[Path] = []
    top = len(folder.parts)
    for visited, (root, dirs, files) in enumerate(os.walk(folder)):
        if visited == CHECKPOINT_SEARCH_FOLDERS:  # a large tree: stop, with what was found
            break
        depth = len(Path(root).parts) - top
        dirs[:] = (
            [] if depth >= CHECKPOINT_SEARCH_DEPTH else [d for d in dirs if not d.startswith(".")]
        )
        found += [Path(root) / name for name in files if name.endswith(".ckpt")]
    return max(found, key=lambda f: f.stat().st_mtime, default=None)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by training, checking that it is one of ours.

    Args:
        path: the ``.ckpt`` file.

    Returns:
        The checkpoint's contents: ``state_dict`` and ``hyper_parameters`` among them.

    Raises:
        TGDCError: if the file is missing, not a PyTorch checkpoint (or truncated), not a
            Lightning checkpoint, or lacks the hyperparameters of a torchgeo-datacenters
            model.
    """
    path = Path(path)
    if not path.is_file():
        raise _missing_checkpoint(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        # torch's first sentence names the fault; the rest of its message is advice on
        # weights_only that does not apply to a file that is no checkpoint.
        reason = describe_error(error).split(". ")[0]
        raise TGDCError(
            f"{path}: not a readable PyTorch checkpoint (truncated or another format:"
            f" {reason}); give a .ckpt written by training"
        ) from error
    if not isinstance(checkpoint, dict) or not {"state_dict", "hyper_parameters"} <= set(
        checkpoint
    ):
        raise TGDCError(
            f"{path}: not a Lightning checkpoint (no state_dict and hyper_parameters);"
            " give a .ckpt written by `torchgeo fit --config configs/datacenters.yaml`"
        )
    hparams = checkpoint["hyper_parameters"]
    missing = [key for key in REQUIRED_HPARAMS if hparams.get(key) is None]
    if missing:
        raise TGDCError(
            f"{path}: not a torchgeo-datacenters checkpoint (hyper_parameters lack"
            f" {', '.join(missing)}); give a .ckpt written by"
            " `torchgeo fit --config configs/datacenters.yaml`"
        )
    return checkpoint


def read_checkpoint_facts(path: str | os.PathLike[str]) -> CheckpointFacts:
    """Read what a checkpoint records, without building its model.

    Args:
        path: the ``.ckpt`` file.

    Returns:
        Its hyperparameters and number of parameters.

    Raises:
        TGDCError: see :func:`read_checkpoint`.
    """
    checkpoint = read_checkpoint(path)
    parameters = sum(
        int(tensor.numel())
        for name, tensor in checkpoint["state_dict"].items()
        if not name.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    return CheckpointFacts(Path(path), dict(checkpoint["hyper_parameters"]), parameters)


def load_checkpoint(
    path: str | os.PathLike[str], *, device: torch.device | str = "cpu"
) -> ProbabilityModel:
    """Load a checkpoint written by training as a probability model.

    Args:
        path: the ``.ckpt`` file.
        device: where to put the model.

    Returns:
        The model, in eval mode on *device*.

    Raises:
        TGDCError: if the file is missing, not a PyTorch checkpoint (or truncated), not a
            Lightning checkpoint, or lacks the hyperparameters of a torchgeo-datacenters
            model (see :func:`read_checkpoint`).
    """
    path = Path(path)
    checkpoint = read_checkpoint(path)
    hparams = checkpoint["hyper_parameters"]
    model = hparams.get("model", DEFAULT_MODEL)
    try:
        module, probability_fn, resolved = _network(path, checkpoint, device)
    except (RuntimeError, KeyError, TypeError, ValueError) as error:
        raise TGDCError(
            f"{path}: a Lightning checkpoint whose weights ({len(checkpoint['state_dict'])}"
            f" tensors) are not those of the DataCenterSegmentation {model!r} its"
            f" hyperparameters name ({type(error).__name__}: {_first_line(error)});"
            " give the .ckpt its training wrote"
        ) from error
    contract = ModelContract.from_hparams(hparams)
    return ProbabilityModel(
        probability_fn=probability_fn,
        mean=contract.mean,
        std=contract.std,
        threshold=contract.threshold,
        bands=contract.bands,
        module=module.eval(),
        name=path.name,
        dtype=contract.dtype,
        value_range=contract.value_range,
        gsd=contract.gsd,
        hparams=resolved,
    )


def _network(
    path: Path, checkpoint: Mapping[str, Any], device: torch.device | str
) -> tuple[nn.Module, Callable[[Tensor], Tensor], dict[str, Any]]:
    """Build the network of a checkpoint on *device*.

    UNet4 is built by :class:`~torchgeo_datacenters.models.DataCenterNetwork`, without
    the training task; TorchGeo's models by the task (importing Lightning, TorchGeo's
    tasks and their models).

    Args:
        path: the ``.ckpt`` file.
        checkpoint: its content, read with ``weights_only=True``.
        device: where to put the network.

    Returns:
        The module, its probability function ((B, C, H, W) normalised images to
        (B, H, W) probabilities) and its hyperparameters with the derived ones.

    Raises:
        TGDCError: if the hyperparameters describe no network of ours.
        RuntimeError, KeyError, TypeError, ValueError: if the weights or hyperparameters
            are not those of the network.
    """
    if checkpoint["hyper_parameters"].get("model", DEFAULT_MODEL) == "unet4":
        network = DataCenterNetwork.from_checkpoint(checkpoint).to(device)
        return network, network, network.hparams
    from ..tasks import DataCenterSegmentation

    task = DataCenterSegmentation.load_from_checkpoint(path, map_location=device, weights_only=True)
    return task, task.predict_probabilities, dict(task.hparams)
