"""What the task records of its data: the datamodule's data spec, checked against the task's."""

import math
from collections.abc import MutableMapping
from typing import Any, Protocol, runtime_checkable

from ..checkpoint import DataSpec
from ..errors import TGDCError
from ..models.datacenter import check_lengths


@runtime_checkable
class DescribedDataModule(Protocol):
    """A datamodule that describes its data to the task (``DataCenterDataModule``).

    The task copies :attr:`data_spec` and :attr:`class_names` into its hyperparameters
    (so into the checkpoint), and the label files training reads; a checkpoint read back
    sets the datamodule's normalisation (:meth:`normalize_as`).
    """

    #: Class names, index order.
    class_names: list[str]

    @property
    def data_spec(self) -> DataSpec:
        """The imagery the datamodule gives the model."""

    @property
    def label_files(self) -> list[str]:
        """The label files training reads."""

    @property
    def review_runs(self) -> list[str]:
        """The review runs whose verdicts the label files hold."""

    def normalize_as(self, spec: DataSpec) -> None:
        """Normalise with a checkpoint's per-band mean and std (raw pixel units)."""


def describe_data(
    hparams: MutableMapping[str, Any],
    datamodule: DescribedDataModule,
    stage: str,
    *,
    fixed_channels: bool,
) -> bool:
    """Fill or check the task's data hyperparameters from *datamodule*'s data spec.

    Hyperparameters left None take the spec's values; values already set must agree
    with them, but for ``patch_size``, which is the datamodule's when fitting.

    Args:
        hparams: the task's hyperparameters, filled in place.
        datamodule: the trainer's datamodule, set up.
        stage: 'fit', 'validate', 'test' or 'predict'.
        fixed_channels: whether the configuration fixed ``in_channels``.

    Returns:
        Whether ``in_channels`` changed to follow the datamodule's bands (the model must
        be built again).

    Raises:
        TGDCError: if the datamodule's data contradict the hyperparameters.
    """
    name = type(datamodule).__name__
    spec = datamodule.data_spec
    rebuild = False
    if hparams.get("bands") is None:
        # in_channels follows the datamodule's bands unless the config fixed them.
        hparams["bands"] = list(spec.bands)
        if len(spec.bands) != hparams["in_channels"] and not fixed_channels:
            hparams["in_channels"] = len(spec.bands)
            rebuild = True
    given = spec.as_hparams() | {"class_names": list(datamodule.class_names)}
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
    check_lengths(hparams["in_channels"], hparams["bands"], hparams["mean"], hparams["std"])
    return rebuild


def _same(a: Any, b: Any) -> bool:
    """Equal, with floats compared to a relative tolerance of 1e-6."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, int | float) and math.isclose(a, b, rel_tol=1e-6)
    return a == b
