"""Score detections against labels: pixel, object and outline metrics.

Used by ``tgdc demo`` on its test scene and by the benchmarks on theirs.
"""

from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio

from .datasets import DataCenterLabels
from .detections.quality import OutlineQuality, outline_quality
from .naip import HARD_NEGATIVE_CLASSES
from .tasks import hard_negative_fdr_from_polygons, object_scores_from_polygons
from .tasks.object_metrics import match_polygons


def pixel_counts(mask_path: Path, labels: DataCenterLabels) -> tuple[float, float, float]:
    """True-positive, false-positive and false-negative pixels of a detection mask.

    Args:
        mask_path: the detection mask GeoTIFF (1 data center, 0 background).
        labels: the true labels.

    Returns:
        The three pixel counts, to pool over scenes or pass to :func:`pixel_scores`.
    """
    with rasterio.open(mask_path) as src:
        predicted = src.read(1) == 1
        labels.crs = src.crs
        truth = labels.rasterize(src.transform, src.shape) == 1
    return (
        float(np.sum(predicted & truth)),
        float(np.sum(predicted & ~truth)),
        float(np.sum(~predicted & truth)),
    )


def pixel_scores(tp: float, fp: float, fn: float) -> dict[str, float]:
    """Pixel IoU, Dice, precision and recall from pixel counts.

    Args:
        tp: data-center pixels detected.
        fp: other pixels detected.
        fn: data-center pixels missed.

    Returns:
        The metrics, as fractions (0 where a denominator is 0).
    """
    return {
        "pixel_iou": tp / max(tp + fp + fn, 1.0),
        "pixel_dice": 2 * tp / max(2 * tp + fp + fn, 1.0),
        "pixel_precision": tp / max(tp + fp, 1.0),
        "pixel_recall": tp / max(tp + fn, 1.0),
    }


def pixel_metrics(mask_path: Path, labels: DataCenterLabels) -> dict[str, float]:
    """Pixel IoU, Dice, precision and recall of a detection mask against labels.

    Args:
        mask_path: the detection mask GeoTIFF (1 data center, 0 background).
        labels: the true labels.

    Returns:
        The metrics, as fractions.
    """
    return pixel_scores(*pixel_counts(mask_path, labels))


def object_metrics(detections: gpd.GeoDataFrame, truth: gpd.GeoDataFrame) -> dict[str, float]:
    """Object precision, recall, F1 and the hard-negative false-detection rates.

    A detection matches a true data center, and a hard negative counts as detected, when
    their polygons match one-to-one at IoU >= 0.5 (:mod:`.tasks.object_metrics`), in the
    UTM zone of the labels.

    Args:
        detections: detected data-center polygons (any CRS).
        truth: labelled polygons (any CRS) with ``label`` (true for data centers) and
            ``class`` columns, as :func:`~.synthetic.generate_scene` returns them.

    Returns:
        ``object_precision``, ``object_recall``, ``object_f1`` and ``hn_fdr_<class>`` for
        every hard-negative class in *truth*.
    """
    utm = truth.estimate_utm_crs()
    found = detections.to_crs(utm).geometry
    objects = object_scores_from_polygons(found, truth[truth["label"]].to_crs(utm).geometry)
    return {
        "object_precision": objects.precision,
        "object_recall": objects.recall,
        "object_f1": objects.f1,
    } | hard_negative_fdr_from_polygons(
        found, truth.to_crs(utm).geometry, truth["class"], HARD_NEGATIVE_CLASSES
    )


def matched_outline_quality(
    detections: gpd.GeoDataFrame, truth: gpd.GeoDataFrame
) -> OutlineQuality:
    """Outline quality of the detections matched to true data centers (IoU >= 0.5).

    Args:
        detections: detected polygons (any CRS).
        truth: labelled polygons (any CRS) with a ``label`` column.

    Returns:
        Their outline quality (:mod:`.detections.quality`), in the labels' UTM zone.
    """
    utm = truth.estimate_utm_crs()
    found = detections.to_crs(utm).geometry.to_numpy()
    true = truth[truth["label"]].to_crs(utm).geometry.to_numpy()
    found_index, true_index = match_polygons(found, true)
    return outline_quality(found[found_index], true[true_index])
