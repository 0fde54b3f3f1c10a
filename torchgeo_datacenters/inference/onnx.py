"""Models as ONNX files: export a checkpoint, predict through ONNX Runtime, quantise to int8.

:func:`export_onnx` writes a model's probability function (normalised images
``(B, C, H, W)`` to probabilities ``(B, 1, H, W)``) as an ONNX graph with a dynamic batch,
height and width, and stores what the predictor needs beside the weights in the file's
``metadata_props`` (:data:`METADATA_KEYS`, values as JSON), with the keys the Deepness
QGIS plugin reads (:func:`deepness_metadata`). :func:`load_onnx` reads such a
file back as a :class:`~.model.ProbabilityModel` running on ONNX Runtime's CPU provider,
so ``Predictor("model.onnx")`` tiles, stitches and writes exactly as with a checkpoint.
:func:`quantize_int8` turns one into an int8 model by ONNX Runtime's static post-training
quantisation, calibrated on tiles of the user's imagery.

The graph is traced by PyTorch's TorchScript-based exporter (``dynamo=False``): it keeps
height and width dynamic for fully convolutional models without needing ``onnxscript``,
and exports in seconds where the ``torch.export`` exporter took minutes on 2 cores. The
trace fixes shape-dependent branches, so the exported graph takes tiles whose sides are a
multiple of :data:`PAD_MULTIPLE_KEY` pixels; :class:`OnnxProbability` pads other tiles by
edge replication (as UNet4 does itself) and crops the probabilities back.
"""

import dataclasses
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import CONTRACT_KEYS, ModelContract
from ..errors import TGDCError
from ..models.datacenter import BINARY_CLASS_NAMES
from ..options import AUTO_TILE_SIZES, PredictorOptions
from ..outputs.space import check_free_space
from ..utils import atomic_output, check_output_path
from .model import ProbabilityModel

#: Metadata keys of an exported file: the checkpoint contract's hyperparameters.
METADATA_KEYS = CONTRACT_KEYS

#: Metadata key of the multiple of pixels the graph's height and width must be.
PAD_MULTIPLE_KEY = "pad_multiple"

#: Tiles are padded to a multiple of this many pixels for models that do not say
#: (``multiple`` attribute, as UNet4's 8): TorchGeo's U-Nets downsample 5 times.
DEFAULT_PAD_MULTIPLE = 32

#: Deepness divides pixel values by this before standardising them.
DEEPNESS_SCALE = 255.0

#: Names of the graph's input and output.
INPUT_NAME, OUTPUT_NAME = "images", "probabilities"

#: ONNX operator set of exported graphs.
OPSET = 17

#: Bytes of an ONNX file beyond its weights at most (graph and metadata), checked free with
#: the weights before an export; measured by ``tests/inference/test_onnx.py``.
ONNX_GRAPH_BYTES = 65_536

#: Side, in pixels, of the example tiles the graph is traced with.
EXAMPLE_SIZE = 64

#: Whether int8 weights keep 7 bits of their 8. x86 CPUs without VNNI multiply unsigned
#: activations by signed weights with VPMADDUBSW, which adds pairs of products into
#: saturating 16-bit sums: with full-range weights the sums overflow and the demo model's
#: int8 mask kept a 0.958 IoU with fp32's; with 7-bit weights 0.997, as fast.
INT8_REDUCE_RANGE = True


#: Overlap of neighbouring tiles the Deepness metadata suggest, in pixels: the
#: predictor's default (:class:`~torchgeo_datacenters.options.PredictorOptions`).
DEEPNESS_OVERLAP = PredictorOptions.overlap


def deepness_metadata(contract: ModelContract) -> dict[str, Any]:
    """The metadata the Deepness QGIS plugin reads from a segmentation model.

    Deepness (PUTvision/qgis-plugin-deepness, ``processing/models/model_base.py`` and
    the "Adding metadata to ONNX model" page of its documentation) reads JSON values of
    these keys: ``model_type``; ``class_names`` (class index to name, as the
    checkpoint's list; the graph's one output channel is Deepness's class 1, the data
    center, over background 0, as in our class lists); ``resolution`` in cm per pixel;
    ``tile_size`` in pixels (the training patch size, else the predictor's smallest
    automatic tile); ``tiles_overlap`` in percent of the tile;
    ``standardization_mean`` and ``standardization_std`` per band, applied after it
    divides pixel values by 255 (so ours, in raw units, are divided by 255 too); and
    ``seg_thresh``, the probability threshold.

    Args:
        contract: the model's contract (its checkpoint's hyperparameters).

    Returns:
        Key to value (JSON-serialisable).
    """
    tile_size = contract.patch_size or AUTO_TILE_SIZES[0]
    return {
        "model_type": "Segmentor",
        "class_names": {
            str(i): name for i, name in enumerate(contract.class_names or BINARY_CLASS_NAMES)
        },
        "resolution": round(contract.gsd * 100, 6),
        "tile_size": tile_size,
        "tiles_overlap": round(100 * DEEPNESS_OVERLAP / tile_size),
        "standardization_mean": [mean / DEEPNESS_SCALE for mean in contract.mean],
        "standardization_std": [std / DEEPNESS_SCALE for std in contract.std],
        "seg_thresh": contract.threshold,
    }


class _ProbabilityModule(nn.Module):
    """A probability model's function as a module the exporter can trace."""

    def __init__(self, model: ProbabilityModel) -> None:
        super().__init__()
        self.inner = model.module
        self.probability_fn = model.probability_fn

    def forward(self, images: Tensor) -> Tensor:
        # One output channel, (B, 1, H, W): the layout segmentation tools such as
        # Deepness take (a channel per class; a single one is a binary mask).
        return self.probability_fn(images).unsqueeze(1)


def pad_multiple(module: nn.Module) -> int:
    """The multiple of pixels a module's input height and width must be.

    Args:
        module: the model, or a task holding it as ``model``.

    Returns:
        Its ``multiple`` attribute (or its ``model``'s), else :data:`DEFAULT_PAD_MULTIPLE`.
    """
    inner = getattr(module, "model", module)
    return int(getattr(inner, "multiple", getattr(module, "multiple", DEFAULT_PAD_MULTIPLE)))


def onnx_bytes(module: nn.Module) -> int:
    """The most bytes the ONNX file of a module takes: its weights and the graph.

    Args:
        module: the torch module.

    Returns:
        Bytes: every tensor of its state at its size, plus :data:`ONNX_GRAPH_BYTES`.
    """
    tensors = module.state_dict().values()
    return ONNX_GRAPH_BYTES + sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def export_onnx(
    model: ProbabilityModel,
    path: str | os.PathLike[str],
    metadata: Mapping[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a model's probability function as an ONNX file with its metadata.

    Args:
        model: the model; its ``module`` is traced on the CPU.
        path: the ``.onnx`` file to write (atomically).
        metadata: hyperparameters of the checkpoint; those of :data:`METADATA_KEYS`
            present and not None are stored, with the model's mean, std, threshold and
            bands where the mapping lacks them.
        overwrite: whether an existing file may be replaced.

    Returns:
        The path written.

    Raises:
        TGDCError: if the model has no module, or the file cannot be written (its file
            system's free space is checked before the export).
    """
    import onnx

    if model.module is None:
        raise TGDCError(f"{model.name}: has no torch module to export; give a checkpoint")
    path = check_output_path(path, overwrite=overwrite)
    module = model.module.to("cpu").eval()
    check_free_space({path: onnx_bytes(module)})
    multiple = pad_multiple(module)
    example = torch.zeros(2, model.band_count, EXAMPLE_SIZE, EXAMPLE_SIZE)
    props = {
        "mean": list(model.mean),
        "std": list(model.std),
        "threshold": model.threshold,
        "bands": list(model.bands),
    }
    props.update({key: value for key, value in (metadata or {}).items() if value is not None})
    props = {key: props[key] for key in METADATA_KEYS if key in props}
    props[PAD_MULTIPLE_KEY] = multiple
    props.update(deepness_metadata(ModelContract.from_hparams(props)))
    with atomic_output(path, overwrite=overwrite) as staged, warnings.catch_warnings():
        # The TorchScript exporter's deprecation notice and tracer warnings.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _ProbabilityModule(model).eval(),
            (example,),
            str(staged),
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={
                INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
                OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"},
            },
        )
        graph = onnx.load(str(staged))
        onnx.helper.set_model_props(graph, {key: json.dumps(v) for key, v in props.items()})
        onnx.save(graph, str(staged))
    return path


def is_onnx(path: str | os.PathLike[str]) -> bool:
    """Whether a model file is an ONNX file (by its ``.onnx`` extension).

    Args:
        path: the model file.

    Returns:
        True for ``.onnx`` files; checkpoints are anything else.
    """
    return Path(path).suffix.lower() == ".onnx"


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the metadata an ONNX file was exported with.

    Args:
        path: the ``.onnx`` file.

    Returns:
        The stored values by key (:data:`METADATA_KEYS`, :data:`PAD_MULTIPLE_KEY` and
        those of :func:`deepness_metadata`).

    Raises:
        TGDCError: if the file is missing, not an ONNX model, or lacks the metadata of
            :func:`export_onnx`.
    """
    return _open(path)[1]


def _open(path: str | os.PathLike[str]) -> tuple["OnnxProbability", dict[str, Any]]:
    """Open an exported ONNX file in ONNX Runtime (which reads its metadata too).

    Args:
        path: the ``.onnx`` file.

    Returns:
        Its probability function and its metadata.

    Raises:
        TGDCError: see :func:`read_metadata`.
    """
    path = Path(path)
    if not path.is_file():
        raise TGDCError(f"{path}: ONNX file does not exist")
    try:
        runner = OnnxProbability(path.read_bytes(), 1)
    except Exception as error:
        raise TGDCError(f"{path}: not a readable ONNX model ({error})") from error
    stored = runner.session.get_modelmeta().custom_metadata_map
    try:
        props = {key: json.loads(value) for key, value in stored.items()}
    except json.JSONDecodeError as error:
        raise TGDCError(f"{path}: metadata is not JSON ({error})") from error
    missing = [key for key in ("mean", "std", "threshold", PAD_MULTIPLE_KEY) if key not in props]
    if missing:
        raise TGDCError(
            f"{path}: ONNX metadata lacks {', '.join(missing)}; export it with `tgdc export`"
        )
    runner.multiple = int(props[PAD_MULTIPLE_KEY])
    return runner, props


def padded(images: Tensor, multiple: int) -> np.ndarray:
    """Tiles as the graph takes them: contiguous float32, sides padded to a multiple.

    Args:
        images: (B, C, H, W) normalised tiles, on any device.
        multiple: the multiple of pixels (:data:`PAD_MULTIPLE_KEY`).

    Returns:
        (B, C, H', W') array, H' and W' the next multiples of *multiple*, the new rows
        and columns copies of the last ones.
    """
    array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
    pad_h, pad_w = -array.shape[2] % multiple, -array.shape[3] % multiple
    if pad_h or pad_w:
        array = np.pad(array, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode="edge")
    return array


class OnnxProbability:
    """An ONNX Runtime session as a probability function of torch tensors."""

    def __init__(self, graph: bytes, multiple: int) -> None:
        """Initialize a new OnnxProbability.

        The session uses as many threads as torch and lets idle ones sleep, like the
        OpenMP threads ``tgdc`` runs torch with.

        Args:
            graph: the ONNX model, serialised.
            multiple: tiles are padded to a multiple of this many pixels.
        """
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            graph, options, providers=["CPUExecutionProvider"]
        )
        self.graph = graph
        self.multiple = multiple

    def __call__(self, images: Tensor) -> Tensor:
        """Probabilities of a batch.

        Args:
            images: (B, C, H, W) normalised tiles, on any device.

        Returns:
            (B, H, W) float32 probabilities, on the device of *images*.
        """
        height, width = images.shape[2:]
        feed = {INPUT_NAME: padded(images, self.multiple)}
        (probabilities,) = self.session.run([OUTPUT_NAME], feed)
        if probabilities.ndim == 4:  # (B, 1, H, W); files exported before: (B, H, W)
            probabilities = probabilities[:, 0]
        return torch.from_numpy(probabilities[:, :height, :width]).to(images.device)


def load_onnx(path: str | os.PathLike[str]) -> ProbabilityModel:
    """Load an ONNX file written by :func:`export_onnx` as a probability model.

    Args:
        path: the ``.onnx`` file.

    Returns:
        The model, running on ONNX Runtime's CPU provider (``module`` is None).

    Raises:
        TGDCError: see :func:`read_metadata`.
    """
    path = Path(path)
    runner, props = _open(path)
    contract = ModelContract.from_hparams(props)
    return ProbabilityModel(
        probability_fn=runner,
        mean=contract.mean,
        std=contract.std,
        threshold=contract.threshold,
        bands=contract.bands,
        name=path.name,
        dtype=contract.dtype,
        value_range=contract.value_range,
        gsd=contract.gsd,
    )


def quantize_int8(model: ProbabilityModel, tiles: Iterable[Tensor]) -> ProbabilityModel:
    """Quantise a model to int8 with ONNX Runtime, calibrated on normalised tiles.

    Weights are quantised per output channel (signed, 7 bits: :data:`INT8_REDUCE_RANGE`),
    activations per tensor (unsigned) with ranges from the calibration tiles (QDQ format,
    which ONNX Runtime runs as int8 convolutions).

    Args:
        model: a model with a torch module, or one loaded by :func:`load_onnx`.
        tiles: (B, C, H, W) normalised tiles of the imagery to predict.

    Returns:
        The int8 model, running on ONNX Runtime's CPU provider.

    Raises:
        TGDCError: if the model can be neither exported nor read as ONNX, or no tile is
            given.
    """
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = list(tiles)
    if not batches:
        raise TGDCError(f"{model.name}: no valid tile to calibrate int8 quantisation on")

    with tempfile.TemporaryDirectory(prefix="tgdc-int8-") as tmp:
        source = Path(tmp) / "fp32.onnx"
        if isinstance(model.probability_fn, OnnxProbability):
            source.write_bytes(model.probability_fn.graph)
            multiple = model.probability_fn.multiple
        else:
            export_onnx(model, source)
            # export_onnx refuses a model without a module.
            assert model.module is not None
            multiple = pad_multiple(model.module)

        class Calibration(CalibrationDataReader):
            def __init__(self) -> None:
                self.feeds = iter(batches)

            def get_next(self) -> dict[str, np.ndarray] | None:
                batch = next(self.feeds, None)
                return None if batch is None else {INPUT_NAME: padded(batch, multiple)}

        prepared, target = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        # The quantiser logs advice on the root logger and warns; neither is the user's.
        logging.disable(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # ONNX Runtime's optimiser folds the exporter's Identity and Constant nodes:
                # without it the convolutions' weights are no initializers, stay float and
                # the "int8" model runs no faster than fp32.
                quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
                quantize_static(
                    str(prepared),
                    str(target),
                    Calibration(),
                    quant_format=QuantFormat.QDQ,
                    per_channel=True,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    reduce_range=INT8_REDUCE_RANGE,
                )
        finally:
            logging.disable(logging.NOTSET)
        runner = OnnxProbability(target.read_bytes(), multiple)
    return dataclasses.replace(
        model, probability_fn=runner, module=None, name=f"{model.name} (int8)"
    )
