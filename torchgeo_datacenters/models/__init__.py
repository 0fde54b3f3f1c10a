"""Segmentation models trained from scratch on 4-band NAIP."""

from .unet4 import UNet4

__all__ = ["UNet4"]
