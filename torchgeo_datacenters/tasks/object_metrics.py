"""Object-level scores: predicted objects matched one-to-one to true objects by IoU.

People count data-center buildings, not pixels. A predicted object (a connected
component of the predicted mask, or a polygon) is a true positive when it is matched
to a true object with intersection over union of at least ``iou_threshold``; matching
is greedy, highest IoU first, and each object is matched at most once. Unmatched
predictions are false positives, unmatched true objects false negatives. So a true
object split into two predictions gives at most one match (and one false positive),
and two true objects merged into one prediction give at most one match (and one
false negative).

Candidate pairs are found without a dense objects x objects matrix: overlapping
pixels are paired by their component labels (masks), or polygons by an STRtree
(polygons), so the cost grows with the number of overlaps.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
import torch
from numpy.typing import ArrayLike
from scipy import ndimage
from shapely.geometry.base import BaseGeometry
from torch import Tensor
from torchmetrics import Metric

from ..errors import TGDCError


@dataclass(frozen=True)
class ObjectScores:
    """Counts of matched, false and missed objects, and the scores they give.

    Precision, recall and F1 are 0 when their denominator is 0 (torchmetrics'
    ``zero_division=0`` convention).

    Attributes:
        tp: predicted objects matched to a true object.
        fp: predicted objects left unmatched (false alarms).
        fn: true objects left unmatched (misses).
    """

    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """Share of predicted objects that match a true object."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """Share of true objects matched by a prediction."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp else 0.0


def _check_iou_threshold(iou_threshold: float) -> None:
    """Reject thresholds outside (0, 1]."""
    if not 0 < iou_threshold <= 1:
        raise TGDCError(f"iou_threshold ({iou_threshold}) must be in (0, 1]")


def _check_pixel_rule(
    metric: str, threshold: float, iou_threshold: float, connectivity: int
) -> None:
    """Reject a pixel metric's thresholds outside their ranges and connectivities not 4 or 8."""
    _check_iou_threshold(iou_threshold)
    if not 0 < threshold < 1 or connectivity not in (4, 8):
        raise TGDCError(
            f"{metric}: threshold ({threshold}) must be in (0, 1) and connectivity"
            f" ({connectivity}) 4 or 8"
        )


def greedy_match(
    pred_index: ArrayLike, true_index: ArrayLike, iou: ArrayLike, iou_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Match candidate (prediction, truth) pairs one-to-one, highest IoU first.

    Pairs below *iou_threshold* are dropped; the rest are taken in order of decreasing
    IoU (ties by prediction then truth index) whenever neither side is matched yet.

    Args:
        pred_index: prediction index of each candidate pair (1-D integers).
        true_index: truth index of each candidate pair (1-D integers).
        iou: intersection over union of each candidate pair (1-D floats).
        iou_threshold: lowest IoU of a match, in (0, 1].

    Returns:
        The prediction and truth indices of the matched pairs.

    Raises:
        TGDCError: if the three arrays are not 1-D of one length, or the threshold is
            outside (0, 1].
    """
    _check_iou_threshold(iou_threshold)
    pred_index, true_index = np.asarray(pred_index), np.asarray(true_index)
    iou = np.asarray(iou, dtype=float)
    if not pred_index.ndim == true_index.ndim == iou.ndim == 1 or not (
        len(pred_index) == len(true_index) == len(iou)
    ):
        raise TGDCError(
            f"greedy_match: pred_index {pred_index.shape}, true_index {true_index.shape} and"
            f" iou {iou.shape} must be 1-D arrays of one length (one entry per candidate pair)"
        )
    keep = iou >= iou_threshold
    pred_index, true_index, iou = pred_index[keep], true_index[keep], iou[keep]
    order = np.lexsort((true_index, pred_index, -iou))
    matched_pred: set[int] = set()
    matched_true: set[int] = set()
    pairs = []
    for pred, true in zip(pred_index[order].tolist(), true_index[order].tolist(), strict=True):
        if pred not in matched_pred and true not in matched_true:
            matched_pred.add(pred)
            matched_true.add(true)
            pairs.append((pred, true))
    matches = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return matches[:, 0], matches[:, 1]


def _scores(
    n_pred: int,
    n_true: int,
    pred_index: np.ndarray,
    true_index: np.ndarray,
    iou: np.ndarray,
    iou_threshold: float,
) -> ObjectScores:
    """Match the candidate pairs and count matches, false alarms and misses."""
    matched, _ = greedy_match(pred_index, true_index, iou, iou_threshold)
    return ObjectScores(tp=len(matched), fp=n_pred - len(matched), fn=n_true - len(matched))


def object_scores_from_masks(
    pred_mask: ArrayLike, true_mask: ArrayLike, iou_threshold: float = 0.5, connectivity: int = 4
) -> ObjectScores:
    """Score predicted connected components against true ones.

    Leading dimensions are independent images (a batch): components never join across
    them, and the counts of all images are summed.

    Args:
        pred_mask: predicted data-center pixels (..., H, W), nonzero = data center.
        true_mask: true data-center pixels, same shape.
        iou_threshold: lowest IoU of a match, in (0, 1].
        connectivity: 4 (edge neighbours, as ``rasterio.features.shapes``) or 8 (edge
            and corner neighbours) pixel connectivity of a component.

    Returns:
        The object counts and scores.

    Raises:
        TGDCError: if the masks differ in shape or have fewer than 2 dimensions, the
            connectivity is not 4 or 8, or the threshold is outside (0, 1].
    """
    _check_iou_threshold(iou_threshold)
    pred, true = np.asarray(pred_mask) != 0, np.asarray(true_mask) != 0
    if pred.shape != true.shape or pred.ndim < 2:
        raise TGDCError(
            f"object_scores_from_masks: pred_mask {pred.shape} and true_mask {true.shape} must"
            " share one shape (..., H, W)"
        )
    if connectivity not in (4, 8):
        raise TGDCError(f"object_scores_from_masks: connectivity ({connectivity}) must be 4 or 8")
    pred, true = pred.reshape(-1, *pred.shape[-2:]), true.reshape(-1, *true.shape[-2:])
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = ndimage.generate_binary_structure(2, 1 if connectivity == 4 else 2)
    pred_labels, n_pred = ndimage.label(pred, structure)
    true_labels, n_true = ndimage.label(true, structure)
    pred_area = np.bincount(pred_labels.ravel(), minlength=n_pred + 1)
    true_area = np.bincount(true_labels.ravel(), minlength=n_true + 1)
    both = pred & true
    pair_codes = pred_labels[both].astype(np.int64) * (n_true + 1) + true_labels[both]
    codes, intersection = np.unique(pair_codes, return_counts=True)
    pred_index, true_index = np.divmod(codes, n_true + 1)
    union = pred_area[pred_index] + true_area[true_index] - intersection
    return _scores(n_pred, n_true, pred_index, true_index, intersection / union, iou_threshold)


def _polygons(geometries: Sequence[BaseGeometry] | ArrayLike, name: str) -> np.ndarray:
    """Check that every geometry is a valid, non-empty (multi)polygon."""
    array = np.asarray(geometries, dtype=object).ravel()
    type_ids = shapely.get_type_id(array)
    polygonal = np.isin(type_ids, (3, 6))  # Polygon, MultiPolygon
    if not polygonal.all():
        first = int(np.flatnonzero(~polygonal)[0])
        raise TGDCError(
            f"{name}[{first}] is {array[first]!r}, not a polygon; give only Polygon or"
            " MultiPolygon geometries"
        )
    bad = shapely.is_empty(array) | ~shapely.is_valid(array)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise TGDCError(
            f"{name}[{first}] is empty or invalid ({shapely.is_valid_reason(array[first])});"
            " drop it or repair it with shapely.make_valid"
        )
    return array


def object_scores_from_polygons(
    pred_polys: Sequence[BaseGeometry] | ArrayLike,
    true_polys: Sequence[BaseGeometry] | ArrayLike,
    iou_threshold: float = 0.5,
) -> ObjectScores:
    """Score predicted polygons against true polygons (same CRS).

    Args:
        pred_polys: predicted data-center footprints (shapely polygons or a GeoSeries).
        true_polys: true footprints, in the same coordinates.
        iou_threshold: lowest IoU of a match, in (0, 1].

    Returns:
        The object counts and scores.

    Raises:
        TGDCError: if a geometry is not a valid, non-empty (multi)polygon, or the
            threshold is outside (0, 1].
    """
    matched, _ = match_polygons(pred_polys, true_polys, iou_threshold)
    n_pred, n_true = len(np.asarray(pred_polys)), len(np.asarray(true_polys))
    return ObjectScores(tp=len(matched), fp=n_pred - len(matched), fn=n_true - len(matched))


def match_polygons(
    pred_polys: Sequence[BaseGeometry] | ArrayLike,
    true_polys: Sequence[BaseGeometry] | ArrayLike,
    iou_threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Match predicted polygons to true polygons one-to-one (same CRS).

    Args:
        pred_polys: predicted data-center footprints (shapely polygons or a GeoSeries).
        true_polys: true footprints, in the same coordinates.
        iou_threshold: lowest IoU of a match, in (0, 1].

    Returns:
        The prediction and truth indices of the matched pairs (see :func:`greedy_match`).

    Raises:
        TGDCError: if a geometry is not a valid, non-empty (multi)polygon, or the
            threshold is outside (0, 1].
    """
    _check_iou_threshold(iou_threshold)
    pred = _polygons(pred_polys, "pred_polys")
    true = _polygons(true_polys, "true_polys")
    pred_index, true_index = shapely.STRtree(true).query(pred, predicate="intersects")
    intersection = shapely.area(shapely.intersection(pred[pred_index], true[true_index]))
    union = shapely.area(pred)[pred_index] + shapely.area(true)[true_index] - intersection
    return greedy_match(pred_index, true_index, intersection / union, iou_threshold)


class ObjectF1(Metric):
    """Object precision, recall and F1 accumulated over batches of masks.

    ``update`` takes data-center probabilities (or a boolean mask) and the target
    (1 = data center, anything else is not an object); objects are connected
    components of each image, scored by :func:`object_scores_from_masks`. ``compute``
    returns ``object_precision``, ``object_recall`` and ``object_f1``.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    tp: Tensor
    fp: Tensor
    fn: Tensor

    def __init__(
        self,
        threshold: float = 0.5,
        iou_threshold: float = 0.5,
        connectivity: int = 4,
        **kwargs: object,
    ) -> None:
        """Initialize a new ObjectF1.

        Args:
            threshold: probability at or above which a pixel is a data center.
            iou_threshold: lowest IoU of a match, in (0, 1].
            connectivity: 4 or 8 pixel connectivity of a component.
            **kwargs: passed to :class:`torchmetrics.Metric`.

        Raises:
            TGDCError: if a threshold is outside its range or connectivity is not 4 or 8.
        """
        _check_pixel_rule("ObjectF1", threshold, iou_threshold, connectivity)
        super().__init__(**kwargs)
        self.threshold = threshold
        self.iou_threshold = iou_threshold
        self.connectivity = connectivity
        for name in ("tp", "fp", "fn"):
            self.add_state(name, default=torch.tensor(0), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the objects of a batch.

        Args:
            preds: probabilities (float) or a mask (bool/int), shape (..., H, W).
            target: target classes, 1 for data center, same shape.
        """
        pred_mask = preds >= self.threshold if preds.is_floating_point() else preds != 0
        scores = object_scores_from_masks(
            pred_mask.cpu().numpy(),
            (target == 1).cpu().numpy(),
            self.iou_threshold,
            self.connectivity,
        )
        self.tp += scores.tp
        self.fp += scores.fp
        self.fn += scores.fn

    def compute(self) -> dict[str, Tensor]:
        """Object precision, recall and F1 over all batches so far.

        Returns:
            ``object_precision``, ``object_recall`` and ``object_f1`` as scalar tensors.
        """
        scores = ObjectScores(int(self.tp), int(self.fp), int(self.fn))
        return {
            f"object_{name}": torch.tensor(getattr(scores, name), dtype=torch.float32)
            for name in ("precision", "recall", "f1")
        }


class HardNegativeFDR(Metric):
    """Hard-negative false-detection rate: the share of look-alikes detected as data centers.

    For every hard-negative class (a warehouse, a retail roof, ...) its objects are the
    connected components of that class in the target; one is *detected* when a
    predicted data-center component matches it as :class:`ObjectF1` would match a data
    center (one-to-one, IoU >= ``iou_threshold``), so every detected hard negative is a
    false positive that object precision pays for. ``update`` takes data-center
    probabilities (or a mask) and the class-index target; ``compute`` returns
    ``hn_fdr_<class>`` for every class with at least one object so far.
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    detected: Tensor
    total: Tensor

    def __init__(
        self,
        class_names: Sequence[str],
        negative_classes: Sequence[str],
        threshold: float = 0.5,
        iou_threshold: float = 0.5,
        connectivity: int = 4,
        **kwargs: object,
    ) -> None:
        """Initialize a new HardNegativeFDR.

        Args:
            class_names: names of the target's class indices, in index order.
            negative_classes: the hard-negative classes to score (those of
                *class_names* only).
            threshold: probability at or above which a pixel is a data center.
            iou_threshold: lowest IoU of a match, in (0, 1].
            connectivity: 4 or 8 pixel connectivity of a component.
            **kwargs: passed to :class:`torchmetrics.Metric`.

        Raises:
            TGDCError: if a threshold is outside its range or connectivity is not 4 or 8.
        """
        _check_pixel_rule("HardNegativeFDR", threshold, iou_threshold, connectivity)
        super().__init__(**kwargs)
        self.classes = {
            index: name for index, name in enumerate(class_names) if name in negative_classes
        }
        self.threshold = threshold
        self.iou_threshold = iou_threshold
        self.connectivity = connectivity
        for name in ("detected", "total"):
            self.add_state(name, default=torch.zeros(len(self.classes)), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add the hard-negative objects of a batch.

        Args:
            preds: data-center probabilities (float) or a mask (bool/int), (..., H, W).
            target: class indices of *class_names*, same shape.
        """
        pred_mask = (preds >= self.threshold if preds.is_floating_point() else preds != 0).cpu()
        target = target.cpu()
        for i, index in enumerate(self.classes):
            scores = object_scores_from_masks(
                pred_mask.numpy(),
                (target == index).numpy(),
                self.iou_threshold,
                self.connectivity,
            )
            self.detected[i] += scores.tp
            self.total[i] += scores.tp + scores.fn

    def compute(self) -> dict[str, Tensor]:
        """False-detection rate of every hard-negative class seen so far.

        Returns:
            ``hn_fdr_<class>``: detected / total objects of that class, as scalar tensors.
        """
        return {
            f"hn_fdr_{name}": self.detected[i] / self.total[i]
            for i, name in enumerate(self.classes.values())
            if self.total[i] > 0
        }


def hard_negative_fdr_from_polygons(
    pred_polys: Sequence[BaseGeometry] | ArrayLike,
    true_polys: Sequence[BaseGeometry] | ArrayLike,
    classes: Sequence[str] | ArrayLike,
    negative_classes: Sequence[str],
    iou_threshold: float = 0.5,
) -> dict[str, float]:
    """Share of each hard-negative class's polygons detected as data centers.

    The polygon counterpart of :class:`HardNegativeFDR`: a polygon is detected when a
    predicted polygon matches it one-to-one at IoU >= *iou_threshold*.

    Args:
        pred_polys: predicted data-center footprints.
        true_polys: labelled polygons, same coordinates (a metric CRS for true IoU).
        classes: class name of every labelled polygon.
        negative_classes: the hard-negative classes to score.
        iou_threshold: lowest IoU of a match, in (0, 1].

    Returns:
        ``hn_fdr_<class>`` for every hard-negative class with at least one polygon.

    Raises:
        TGDCError: if a geometry is not a valid, non-empty (multi)polygon, or the
            threshold is outside (0, 1].
    """
    true = np.asarray(true_polys, dtype=object).ravel()
    names = np.asarray(classes, dtype=object).ravel()
    rates = {}
    for name in negative_classes:
        members = true[names == name]
        if len(members):
            scores = object_scores_from_polygons(pred_polys, members, iou_threshold)
            rates[f"hn_fdr_{name}"] = scores.tp / len(members)
    return rates
