import numpy as np
import pytest
import shapely
import torch

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.tasks import DataCenterSegmentation
from torchgeo_datacenters.tasks.object_metrics import (
    HardNegativeFDR,
    ObjectF1,
    ObjectScores,
    greedy_match,
    hard_negative_fdr_from_polygons,
    object_scores_from_masks,
    object_scores_from_polygons,
)

Box = tuple[int, int, int, int]  # col0, row0, col1, row1 (pixel edges)

# Each scene: predicted boxes, true boxes, expected (tp, fp, fn).
SCENES: dict[str, tuple[list[Box], list[Box], tuple[int, int, int]]] = {
    "exact match": ([(2, 2, 8, 8)], [(2, 2, 8, 8)], (1, 0, 0)),
    # 24/40 = 0.6 matches, 12/40 = 0.3 is a false alarm
    "split, one part matches": ([(0, 0, 6, 4), (7, 0, 10, 4)], [(0, 0, 10, 4)], (1, 1, 0)),
    # two halves of 16/40 = 0.4 each: no match
    "split in halves": ([(0, 0, 4, 4), (6, 0, 10, 4)], [(0, 0, 10, 4)], (0, 2, 1)),
    # 16/36 with each: no match
    "merge of equals": ([(0, 0, 9, 4)], [(0, 0, 4, 4), (5, 0, 9, 4)], (0, 1, 2)),
    # 32/40 = 0.8 with the big one, the small one is missed
    "merge, big one matches": ([(0, 0, 10, 4)], [(0, 0, 8, 4), (9, 0, 10, 4)], (1, 0, 1)),
    "miss": ([], [(3, 3, 9, 7)], (0, 0, 1)),
    "false alarm": ([(3, 3, 9, 7)], [], (0, 1, 0)),
    # IoU of exactly 8/16 = 0.5 is a match
    "IoU at the threshold": ([(0, 0, 4, 2)], [(0, 0, 4, 4)], (1, 0, 0)),
}


def as_mask(boxes: list[Box], shape: tuple[int, int] = (12, 12)) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    for col0, row0, col1, row1 in boxes:
        mask[row0:row1, col0:col1] = 1
    return mask


def as_polygons(boxes: list[Box]) -> list[shapely.Polygon]:
    return [shapely.box(*box) for box in boxes]


@pytest.mark.parametrize("scene", SCENES)
def test_masks_and_polygons_agree(scene: str) -> None:
    pred, true, expected = SCENES[scene]
    from_masks = object_scores_from_masks(as_mask(pred), as_mask(true))
    from_polygons = object_scores_from_polygons(as_polygons(pred), as_polygons(true))
    assert (from_masks.tp, from_masks.fp, from_masks.fn) == expected
    assert from_polygons == from_masks


def test_scores_of_counts() -> None:
    scores = ObjectScores(tp=3, fp=1, fn=2)
    assert scores.precision == pytest.approx(0.75)
    assert scores.recall == pytest.approx(0.6)
    assert scores.f1 == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))
    empty = ObjectScores(tp=0, fp=0, fn=0)
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def test_batch_images_are_independent() -> None:
    # The same object at the bottom of image 0 and the top of image 1 must not join.
    pred = np.zeros((2, 6, 6), dtype=bool)
    pred[0, 3:, 1:5] = True
    pred[1, :3, 1:5] = True
    scores = object_scores_from_masks(pred, pred.copy())
    assert (scores.tp, scores.fp, scores.fn) == (2, 0, 0)
    all_scenes_pred = np.stack([as_mask(p) for p, _, _ in SCENES.values()])
    all_scenes_true = np.stack([as_mask(t) for _, t, _ in SCENES.values()])
    total = object_scores_from_masks(all_scenes_pred, all_scenes_true)
    expected = np.sum([counts for _, _, counts in SCENES.values()], axis=0)
    assert (total.tp, total.fp, total.fn) == tuple(expected)


def test_connectivity() -> None:
    # Two pixels touching at a corner: two objects with 4-connectivity, one with 8.
    pred = np.array([[1, 0], [0, 1]])
    true = np.array([[1, 0], [0, 0]])
    four = object_scores_from_masks(pred, true, connectivity=4)
    eight = object_scores_from_masks(pred, true, connectivity=8)
    assert (four.tp, four.fp, four.fn) == (1, 1, 0)
    assert (eight.tp, eight.fp, eight.fn) == (1, 0, 0)  # IoU 1/2 pixels
    strict = object_scores_from_masks(pred, true, iou_threshold=0.6, connectivity=8)
    assert (strict.tp, strict.fp, strict.fn) == (0, 1, 1)


def test_greedy_takes_highest_iou_first() -> None:
    # p0 overlaps t0 (0.6) and t1 (0.9); p1 overlaps t1 (0.7). Greedy gives p0-t1 only.
    pred, true = greedy_match([0, 0, 1], [0, 1, 1], [0.6, 0.9, 0.7])
    assert pred.tolist() == [0] and true.tolist() == [1]
    pred, true = greedy_match([0, 0, 1], [0, 1, 1], [0.6, 0.9, 0.7], iou_threshold=0.95)
    assert len(pred) == len(true) == 0


def test_overlapping_true_polygons_match_greedily() -> None:
    # Labels may overlap: the prediction equal to A matches A, the one equal to B, B.
    a, b = shapely.box(0, 0, 10, 10), shapely.box(2, 0, 12, 10)
    scores = object_scores_from_polygons([a, b], [b, a])
    assert (scores.tp, scores.fp, scores.fn) == (2, 0, 0)
    # Polygons in any coordinates, from a numpy array (as a GeoSeries gives).
    far = shapely.box(500_000, 4_000_000, 500_060, 4_000_060)
    shifted = shapely.box(500_010, 4_000_000, 500_070, 4_000_060)
    scores = object_scores_from_polygons(np.array([shifted]), np.array([far]))
    assert (scores.tp, scores.fp, scores.fn) == (1, 0, 0)  # IoU 50/70


def test_invalid_inputs() -> None:
    with pytest.raises(TGDCError, match="share one shape"):
        object_scores_from_masks(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(TGDCError, match="connectivity"):
        object_scores_from_masks(np.zeros((4, 4)), np.zeros((4, 4)), connectivity=6)
    with pytest.raises(TGDCError, match="iou_threshold"):
        object_scores_from_masks(np.zeros((4, 4)), np.zeros((4, 4)), iou_threshold=0)
    with pytest.raises(TGDCError, match=r"pred_polys\[1\].*not a polygon"):
        object_scores_from_polygons([shapely.box(0, 0, 1, 1), shapely.Point(0, 0)], [])
    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    with pytest.raises(TGDCError, match=r"true_polys\[0\].*make_valid"):
        object_scores_from_polygons([], [bowtie])
    with pytest.raises(TGDCError, match="one length"):
        greedy_match([0, 1], [0], [0.5, 0.7])


def test_metric_accumulates_batches() -> None:
    metric = ObjectF1(threshold=0.5)
    for name in ("split, one part matches", "merge, big one matches", "miss"):
        pred, true, _ = SCENES[name]
        probabilities = torch.from_numpy(as_mask(pred)).float() * 0.8 + 0.1  # 0.9 or 0.1
        metric.update(probabilities[None], torch.from_numpy(as_mask(true)).long()[None])
    # (1, 1, 0) + (1, 0, 1) + (0, 0, 1) = tp 2, fp 1, fn 2
    result = metric.compute()
    assert sorted(result) == ["object_f1", "object_precision", "object_recall"]
    assert result["object_precision"].item() == pytest.approx(2 / 3)
    assert result["object_recall"].item() == pytest.approx(2 / 4)
    assert result["object_f1"].item() == pytest.approx(4 / 7)
    metric.reset()
    metric.update(torch.ones(1, 4, 4, dtype=torch.bool), torch.full((1, 4, 4), 2))  # class 2
    assert metric.compute()["object_precision"].item() == 0.0


def test_hard_negative_fdr_counts_each_class_objects_detected() -> None:
    names = ["background", "datacenter", "warehouse", "retail"]
    metric = HardNegativeFDR(names, ["warehouse", "retail"])
    target = torch.zeros(2, 12, 12, dtype=torch.long)
    target[0, 0:3, 0:3] = 1  # a data center
    target[0, 5:8, 0:3] = 2  # warehouse A: detected whole
    target[0, 5:8, 6:9] = 2  # warehouse B: a 1-pixel speck only (IoU 1/9)
    target[0, 0:2, 8:12] = 3  # retail A: detected with IoU 6/8
    target[1, 8:12, 8:12] = 2  # warehouse C, second image: missed
    target[1, 0:4, 0:4] = 3  # retail B: missed (the prediction is in the first image)
    preds = torch.zeros(2, 12, 12)
    preds[0, 0:3, 0:3] = 0.9
    preds[0, 5:8, 0:3] = 0.8
    preds[0, 6, 7] = 0.7
    preds[0, 0:2, 9:12] = 0.6
    preds[1, 8:12, 8:12] = 0.4  # below threshold
    metric.update(preds, target)
    rates = metric.compute()
    assert set(rates) == {"hn_fdr_warehouse", "hn_fdr_retail"}
    assert float(rates["hn_fdr_warehouse"]) == pytest.approx(1 / 3)
    assert float(rates["hn_fdr_retail"]) == pytest.approx(1 / 2)
    # A second batch accumulates: one more warehouse, detected.
    more_target = torch.zeros(1, 12, 12, dtype=torch.long)
    more_target[0, 2:6, 2:6] = 2
    metric.update(more_target == 2, more_target)
    assert float(metric.compute()["hn_fdr_warehouse"]) == pytest.approx(2 / 4)


def test_multiclass_task_scores_hard_negatives_binary_does_not() -> None:
    multiclass = DataCenterSegmentation(task="multiclass", loss="ce")
    assert set(multiclass.hn_metrics) == {"val", "test"}
    assert list(multiclass.hn_metrics["val"].classes.values()) == ["warehouse", "retail", "other"]
    assert not DataCenterSegmentation(task="binary").hn_metrics


def test_hard_negative_fdr_from_polygons_is_exact() -> None:
    truth = [shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10), shapely.box(40, 0, 50, 10)]
    classes = ["warehouse", "warehouse", "retail"]
    # Warehouse 1 matched (IoU 0.9), warehouse 2 only grazed (IoU 0.1), retail missed.
    preds = [shapely.box(0, 0, 10, 9), shapely.box(20, 0, 21, 10)]
    rates = hard_negative_fdr_from_polygons(preds, truth, classes, ["warehouse", "retail", "other"])
    assert rates == {"hn_fdr_warehouse": 0.5, "hn_fdr_retail": 0.0}
