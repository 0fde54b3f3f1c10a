"""Lightning tasks: data-center segmentation and its object-level metrics."""

from ..errors import install_excepthook
from .object_metrics import (
    HardNegativeFDR,
    ObjectF1,
    ObjectScores,
    greedy_match,
    hard_negative_fdr_from_polygons,
    object_scores_from_masks,
    object_scores_from_polygons,
)
from .segmentation import DataCenterSegmentation

# `torchgeo fit` with a configuration this package refuses: one line, no traceback.
install_excepthook()

__all__ = [
    "DataCenterSegmentation",
    "HardNegativeFDR",
    "ObjectF1",
    "ObjectScores",
    "greedy_match",
    "hard_negative_fdr_from_polygons",
    "object_scores_from_masks",
    "object_scores_from_polygons",
]
