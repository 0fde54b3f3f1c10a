"""Numeric precision of the model: fp32, bf16 or fp16 autocast, or int8 quantisation.

``auto`` picks the fastest precision measured to find what fp32 finds
(:func:`auto_precision`): bf16 autocast on CPUs with native bfloat16 instructions
(AVX512-BF16 or AMX) and on GPUs that support it, fp16 autocast (AMP) on other GPUs, fp32
elsewhere (``benchmarks/predict.py`` measures its speed and its agreement with fp32).
``bf16`` runs the model under bfloat16 autocast, on CUDA where the GPU supports it and on
CPUs with native bfloat16 instructions; without them oneDNN emulates bfloat16 more slowly
than fp32, so it is refused.
``int8`` quantises the model with ONNX Runtime (:func:`.onnx.quantize_int8`), calibrated
on tiles of the first scene predicted, and runs on the CPU.
"""

import contextlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np
import torch

from ..errors import TGDCError
from ..options import PRECISIONS
from .reader import TileReader
from .scene import Scene

#: Autocast data type of each reduced floating-point precision.
AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}

#: CPU flags (Linux ``/proc/cpuinfo``) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")

#: Tiles of the first scene that int8 quantisation is calibrated on, spread over it.
CALIBRATION_TILES = 8


def cpu_flags() -> set[str]:
    """The CPU's feature flags, as Linux lists them (empty elsewhere).

    Returns:
        The flags of the first processor in ``/proc/cpuinfo``.
    """
    cpuinfo = Path("/proc/cpuinfo")
    if not sys.platform.startswith("linux") or not cpuinfo.is_file():
        return set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def auto_precision(device_type: str, flags: set[str], cuda_bf16: bool) -> str:
    """The precision ``auto`` runs at on a device.

    bfloat16 keeps fp32's exponent range, so a trained model's probabilities move by
    rounding only: on the demo model and scenes bf16 autocast found the same data centers
    as fp32 with outlines within IoU 0.99 (``benchmarks/predict.py``, figures in
    ``benchmarks/README.md``), at a fraction of fp32's time where the CPU multiplies
    bfloat16 natively.

    Args:
        device_type: ``cpu``, ``cuda`` or ``mps``.
        flags: the CPU's feature flags (:func:`cpu_flags`).
        cuda_bf16: whether the GPU supports bfloat16 (for ``cuda`` only).

    Returns:
        ``bf16`` on a CPU with any of :data:`BF16_CPU_FLAGS` and on a GPU with bfloat16,
        ``fp16`` on other GPUs, ``fp32`` otherwise.
    """
    if device_type == "cuda":
        return "bf16" if cuda_bf16 else "fp16"
    if device_type == "cpu" and set(BF16_CPU_FLAGS) & flags:
        return "bf16"
    return "fp32"


def resolve_precision(precision: str, device: torch.device, onnx: bool = False) -> str:
    """Check that a precision can run on a device.

    Args:
        precision: one of :data:`PRECISIONS`.
        device: where the model runs.
        onnx: whether the model is an ONNX file, which ONNX Runtime runs in fp32 (or
            quantised to int8): autocast has no hold on it.

    Returns:
        The precision, ``auto`` resolved by :func:`auto_precision` (``fp32`` for ONNX).

    Raises:
        TGDCError: if the precision is unknown, this device cannot run it, or it is
            bf16/fp16 for an ONNX model.
    """
    if precision not in PRECISIONS:
        raise TGDCError(f"precision: {precision!r} is not one of {', '.join(PRECISIONS)}")
    if onnx and precision in ("bf16", "fp16"):
        raise TGDCError(
            f"precision: {precision} runs a .ckpt in PyTorch; ONNX Runtime runs an ONNX model"
            " in fp32, or int8: use fp32 or int8, or give the training checkpoint"
        )
    if onnx and precision == "auto":
        return "fp32"
    if precision == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        flags = cpu_flags() if device.type == "cpu" else set()
        return auto_precision(device.type, flags, cuda_bf16)
    if precision == "fp16" and device.type != "cuda":
        raise TGDCError(f"precision: fp16 runs on CUDA only, not {device.type}; use bf16 or int8")
    if precision == "int8" and device.type != "cpu":
        raise TGDCError("precision: int8 runs on the CPU only; use --device cpu or bf16/fp16")
    if precision == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise TGDCError("precision: this GPU has no bfloat16 support; use fp16")
        if device.type == "cpu" and not set(BF16_CPU_FLAGS) & cpu_flags():
            raise TGDCError(
                "precision: this CPU has no native bfloat16 instructions (AVX512-BF16 or"
                " AMX), where bf16 would be slower than fp32; use int8 or fp32"
            )
        if device.type == "mps":
            raise TGDCError("precision: bf16 is not supported on MPS; use fp32")
    return precision


def autocast(precision: str, device: torch.device) -> AbstractContextManager[object]:
    """The context a model runs in at a resolved precision.

    Args:
        precision: a precision from :func:`resolve_precision`.
        device: where the model runs.

    Returns:
        Autocast to the precision's data type for ``bf16`` and ``fp16``; otherwise a
        context that changes nothing.
    """
    if precision in AUTOCAST_DTYPES:
        return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])
    return contextlib.nullcontext()


def calibration_tiles(
    scene: Scene,
    offsets: Sequence[tuple[int, int]],
    tile_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    count: int = CALIBRATION_TILES,
) -> Iterator[torch.Tensor]:
    """Normalised tiles spread evenly over a scene, holding valid pixels.

    Args:
        scene: the scene.
        offsets: (row, column) of every tile of the scene.
        tile_size: tile side, in pixels.
        mean: per-band mean of raw pixel values.
        std: per-band standard deviation of raw pixel values.
        count: number of tiles read (those without a valid pixel are left out).

    Yields:
        (1, bands, tile_size, tile_size) float32 tiles, as the predictor feeds them.
    """
    chosen = np.unique(np.linspace(0, len(offsets) - 1, min(count, len(offsets))).astype(int))
    reader = TileReader(scene, [offsets[i] for i in chosen], tile_size, mean, std)
    for index in range(len(chosen)):
        batch = reader[[index]]
        if batch["valid"].any():
            yield reader.images(batch)
