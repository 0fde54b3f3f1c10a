"""Datasets: NAIP imagery, data-center label polygons and pre-cut mask chips."""

from .chips import ChipMasks, ChipPair, check_chip_pairs, write_chip_masks
from .labels import (
    NEGATIVE_CLASSES,
    POSITIVE_CLASSES,
    DataCenterLabels,
    LabelFixes,
    read_label_file,
)
from .naip import NAIP_BANDS, NAIP_GSD, NAIPChips, check_naip_file

__all__ = [
    "NAIP_BANDS",
    "NAIP_GSD",
    "NEGATIVE_CLASSES",
    "POSITIVE_CLASSES",
    "ChipMasks",
    "ChipPair",
    "DataCenterLabels",
    "LabelFixes",
    "NAIPChips",
    "check_chip_pairs",
    "check_naip_file",
    "read_label_file",
    "write_chip_masks",
]
