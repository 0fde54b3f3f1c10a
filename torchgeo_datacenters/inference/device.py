"""The device a model runs on."""

import torch

from ..errors import TGDCError

#: Devices where models and tiles use the channels-last memory format (UNet4 on 2 CPU
#: cores: 1.25x the throughput of the default format).
CHANNELS_LAST_DEVICES = ("cuda", "cpu")


def resolve_device(device: str | torch.device) -> torch.device:
    """Pick the device to run on.

    Args:
        device: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda``, ``cuda:N`` or
            ``mps``.

    Returns:
        The device.

    Raises:
        TGDCError: if the device is unknown or not available here.
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise TGDCError(f"device: unknown device {device!r}; use auto, cpu, cuda or mps") from error
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not available.get(resolved.type, False):
        raise TGDCError(f"device: {device!r} is not available on this machine; use auto or cpu")
    return resolved
