"""The checkpoint contract: what training records about a model and every reader reads back.

Training (:class:`~torchgeo_datacenters.tasks.DataCenterSegmentation`) writes these facts
as hyperparameters of the same name into its checkpoint; the predictor's loader
(:func:`~torchgeo_datacenters.inference.model.load_checkpoint`) and the ONNX export
(:mod:`~torchgeo_datacenters.inference.onnx`, as file metadata) read them back through
:meth:`ModelContract.from_hparams`, which fills in what older checkpoints lack: raw NAIP
imagery (:mod:`torchgeo_datacenters.naip`'s data type, value range and pixel size).
Torch-free, so that light tools can read a contract.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import TGDCError
from .naip import DTYPE, GSD, VALUE_RANGE

#: Hyperparameters a checkpoint must carry (not None) to be one of ours.
REQUIRED_HPARAMS = ("in_channels", "mean", "std", "threshold")

#: Training imagery assumed for checkpoints that do not record theirs (raw NAIP): data
#: type, [min, max] raw values and ground sample distance in metres.
DEFAULT_DTYPE = DTYPE
DEFAULT_VALUE_RANGE = (float(VALUE_RANGE[0]), float(VALUE_RANGE[1]))
DEFAULT_GSD = GSD


def check_threshold(threshold: float, name: str = "threshold") -> float:
    """Check a probability threshold: the one rule for training and prediction.

    Args:
        threshold: the threshold, a probability strictly between 0 and 1 (0 would flag
            every pixel, 1 none a sigmoid can reach).
        name: what to call it in the error.

    Returns:
        The threshold as a float.

    Raises:
        TGDCError: if it is not a number in (0, 1).
    """
    if not isinstance(threshold, int | float) or not 0.0 < threshold < 1.0:
        raise TGDCError(
            f"{name}: threshold {threshold!r} must be a probability strictly between 0 and 1"
        )
    return float(threshold)


def class_name_list(names: Sequence[str] | Mapping[str, str] | None) -> tuple[str, ...]:
    """Class names in channel order, from a list or from a mapping of index to name.

    Exported ONNX files store them as a mapping (``{"0": "background", ...}``), the form
    the Deepness QGIS plugin reads; checkpoints as a list.

    Args:
        names: the names (None: not recorded).

    Returns:
        The names, in the order of their indices.
    """
    if isinstance(names, Mapping):
        return tuple(names[key] for key in sorted(names, key=int))
    return tuple(names or ())


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """The imagery a model is trained on and takes: one description, from data to checkpoint.

    The datamodule describes its imagery with one
    (:attr:`~torchgeo_datacenters.datamodules.DataCenterDataModule.data_spec`), the task
    records it as hyperparameters of the same names (:meth:`as_hparams`), and every
    reader of the checkpoint reads it back (:meth:`from_hparams`).
    """

    #: Band names, in order (empty if not recorded).
    bands: tuple[str, ...] = ()
    #: Data type of the raw imagery (NumPy name).
    dtype: str = DEFAULT_DTYPE
    #: [min, max] raw pixel values of the imagery.
    value_range: tuple[float, float] = DEFAULT_VALUE_RANGE
    #: Ground sample distance (pixel size) of the imagery, in metres.
    gsd: float = DEFAULT_GSD
    #: Per-band mean of raw pixel values (model input = (raw - mean) / std).
    mean: tuple[float, ...]
    #: Per-band standard deviation of raw pixel values.
    std: tuple[float, ...]
    #: Side of the training patches, in pixels (None if not recorded).
    patch_size: int | None = None

    def as_hparams(self) -> dict[str, Any]:
        """The spec as checkpoint hyperparameters: plain lists and numbers, by field name.

        Returns:
            ``bands``, ``dtype``, ``value_range``, ``gsd``, ``mean``, ``std`` and
            ``patch_size``, as :meth:`from_hparams` reads them back.
        """
        return {
            "bands": list(self.bands),
            "dtype": self.dtype,
            "value_range": list(self.value_range),
            "gsd": self.gsd,
            "mean": list(self.mean),
            "std": list(self.std),
            "patch_size": self.patch_size,
        }

    @classmethod
    def spec_fields(cls, hparams: Mapping[str, Any]) -> dict[str, Any]:
        """The spec's fields from hyperparameters, filling in what older checkpoints lack.

        Args:
            hparams: checkpoint hyperparameters or exported metadata; missing or None
                entries take the defaults (raw NAIP imagery for ``dtype``,
                ``value_range`` and ``gsd``).

        Returns:
            The keyword arguments of the spec's fields.

        Raises:
            KeyError: if ``mean`` or ``std`` is missing.
        """
        low, high = hparams.get("value_range") or DEFAULT_VALUE_RANGE
        patch_size = hparams.get("patch_size")
        return {
            "bands": tuple(str(band) for band in hparams.get("bands") or ()),
            "dtype": str(hparams.get("dtype") or DEFAULT_DTYPE),
            "value_range": (float(low), float(high)),
            "gsd": float(hparams.get("gsd") or DEFAULT_GSD),
            "mean": tuple(float(m) for m in hparams["mean"]),
            "std": tuple(float(s) for s in hparams["std"]),
            "patch_size": None if patch_size is None else int(patch_size),
        }

    @classmethod
    def from_hparams(cls, hparams: Mapping[str, Any]) -> "DataSpec":
        """Read the spec from checkpoint hyperparameters (see :meth:`spec_fields`).

        Args:
            hparams: the hyperparameters.

        Returns:
            The spec.

        Raises:
            KeyError: if ``mean`` or ``std`` is missing.
        """
        return cls(**cls.spec_fields(hparams))


@dataclass(frozen=True, kw_only=True)
class ModelContract(DataSpec):
    """What a trained model takes (its :class:`DataSpec`) and how its output is read."""

    #: Default probability at or above which a pixel is a data center.
    threshold: float
    #: Class names, in the order of the model's output channels (empty if not recorded).
    class_names: tuple[str, ...] = ()

    @classmethod
    def from_hparams(cls, hparams: Mapping[str, Any]) -> "ModelContract":
        """Read the contract from checkpoint hyperparameters or exported metadata.

        Args:
            hparams: the hyperparameters; missing or None entries take the defaults
                (raw NAIP imagery for ``dtype``, ``value_range`` and ``gsd``).

        Returns:
            The contract.

        Raises:
            KeyError: if ``mean``, ``std`` or ``threshold`` is missing (callers check
                :data:`REQUIRED_HPARAMS` first, to name the file).
            TGDCError: if the threshold is not in (0, 1).
        """
        return cls(
            **cls.spec_fields(hparams),
            threshold=check_threshold(hparams["threshold"]),
            class_names=class_name_list(hparams.get("class_names")),
        )

    @property
    def data(self) -> DataSpec:
        """The imagery the model takes."""
        return DataSpec(**{key: getattr(self, key) for key in DATA_SPEC_KEYS})


#: The data spec's hyperparameters: band names, data type, value range, pixel size (m),
#: normalisation (raw units) and training patch size (pixels).
DATA_SPEC_KEYS = tuple(field.name for field in fields(DataSpec))

#: The contract's hyperparameters: the data spec's, the default threshold and the class
#: names.
CONTRACT_KEYS = tuple(field.name for field in fields(ModelContract))


@dataclass(frozen=True)
class CheckpointFacts:
    """What a checkpoint file records, read without building its model.

    Read by :func:`~torchgeo_datacenters.inference.model.read_checkpoint_facts`; the STAC
    writer (:mod:`torchgeo_datacenters.outputs.stac`) and ``tgdc describe`` take it.

    Attributes:
        path: the ``.ckpt`` file.
        hparams: its hyperparameters (every key of :data:`REQUIRED_HPARAMS` present).
        parameters: number of model parameters (batch-norm statistics not counted).
    """

    path: Path
    hparams: Mapping[str, Any]
    parameters: int

    @property
    def contract(self) -> ModelContract:
        """The checkpoint's contract: its data spec, threshold and class names.

        Raises:
            TGDCError: if the recorded threshold is not in (0, 1).
        """
        return ModelContract.from_hparams(self.hparams)
