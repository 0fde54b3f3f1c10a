"""Samplers: whole pre-cut chips, and patches around labelled sites."""

from .chips import ChipSampler
from .sites import SiteSampler

__all__ = ["ChipSampler", "SiteSampler"]
