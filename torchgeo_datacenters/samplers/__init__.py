"""Samplers for pre-chipped data (torchgeo's patch samplers cover everything else)."""

from .chips import ChipSampler

__all__ = ["ChipSampler"]
