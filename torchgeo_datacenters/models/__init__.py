"""Segmentation models trained from scratch on 4-band NAIP, and the network of a checkpoint."""

from .datacenter import DataCenterNetwork
from .unet4 import UNet4

__all__ = ["DataCenterNetwork", "UNet4"]
