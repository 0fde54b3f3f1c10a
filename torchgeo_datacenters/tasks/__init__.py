"""Lightning tasks: data-center segmentation and its object-level metrics."""

from .object_metrics import (
    ObjectF1,
    ObjectScores,
    greedy_match,
    object_scores_from_masks,
    object_scores_from_polygons,
)
from .segmentation import DataCenterSegmentation

__all__ = [
    "DataCenterSegmentation",
    "ObjectF1",
    "ObjectScores",
    "greedy_match",
    "object_scores_from_masks",
    "object_scores_from_polygons",
]
