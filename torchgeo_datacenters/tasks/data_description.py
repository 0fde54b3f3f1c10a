"""What the task records of its data: the datamodule's description, checked against the task's."""

import math
from collections.abc import MutableMapping, Sequence
from typing import Any, Protocol, runtime_checkable

from lightning.pytorch import LightningDataModule
from torch import Tensor

from ..errors import TGDCError
from ..models.datacenter import check_lengths


@runtime_checkable
class NormalizedDataModule(Protocol):
    """A datamodule whose normalisation a checkpoint can set (``DataCenterDataModule``)."""

    def normalize_as(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Normalise with a checkpoint's per-band mean and std (raw pixel units)."""


def describe_data(
    hparams: MutableMapping[str, Any],
    datamodule: LightningDataModule,
    stage: str,
    *,
    fixed_channels: bool,
) -> bool:
    """Fill or check the task's data hyperparameters from *datamodule*.

    Args:
        hparams: the task's hyperparameters, filled in place.
        datamodule: the trainer's datamodule.
        stage: 'fit', 'validate', 'test' or 'predict'.
        fixed_channels: whether the configuration fixed ``in_channels``.

    Returns:
        Whether ``in_channels`` changed to follow the datamodule's bands (the model must
        be built again).

    Raises:
        TGDCError: if the datamodule's data contradict the hyperparameters.
    """
    name = type(datamodule).__name__
    rebuild = False
    bands = _optional(getattr(datamodule, "bands", None), lambda v: [str(b) for b in v])
    if bands is not None and hparams.get("bands") is None:
        # in_channels follows the datamodule's bands unless the config fixed them.
        hparams["bands"] = bands
        if len(bands) != hparams["in_channels"] and not fixed_channels:
            hparams["in_channels"] = len(bands)
            rebuild = True
    n = hparams["in_channels"]
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
        current = hparams.get(field)
        if value is None or _same(current, value):
            continue
        if current is None or (field == "patch_size" and stage == "fit"):
            hparams[field] = value
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
    check_lengths(n, hparams["bands"], hparams["mean"], hparams["std"])
    return rebuild


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
