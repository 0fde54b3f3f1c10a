"""Lightning tasks: data-center segmentation and its object-level metrics."""

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
