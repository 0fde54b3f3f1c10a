"""Tests of the demo's scoring, shared with benchmarks/accuracy.py."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from torchgeo_datacenters.datasets import DataCenterLabels
from torchgeo_datacenters.demo import checkpoint_epochs, outline_table
from torchgeo_datacenters.evaluation import (
    matched_outline_quality,
    object_metrics,
    pixel_counts,
    pixel_scores,
)

CRS = "EPSG:32617"


def _truth() -> gpd.GeoDataFrame:
    boxes = [
        shapely.box(500000, 4399900, 500060, 4399960),
        shapely.box(500200, 4399900, 500260, 4399960),
    ]
    return gpd.GeoDataFrame(
        {"class": ["datacenter", "datacenter", "warehouse"], "label": [True, True, False]},
        geometry=[*boxes, shapely.box(500100, 4399700, 500180, 4399760)],
        crs=CRS,
    ).to_crs("OGC:CRS84")


def test_object_metrics_count_warehouses_found_as_datacenters() -> None:
    truth = _truth()
    utm = truth.to_crs(CRS).geometry
    # One data center found (IoU 0.8), the other missed, the warehouse detected.
    found = gpd.GeoDataFrame(geometry=[utm[0].buffer(-3, join_style="mitre"), utm[2]], crs=CRS)
    metrics = object_metrics(found, truth)
    assert metrics == pytest.approx(
        {"object_precision": 0.5, "object_recall": 0.5, "object_f1": 0.5, "hn_fdr_warehouse": 1.0}
    )


def test_pixel_counts_pool_over_scenes(tmp_path: Path) -> None:
    truth = _truth()
    truth.to_file(tmp_path / "labels.geojson")
    labels = DataCenterLabels(tmp_path / "labels.geojson")
    transform = from_origin(500000, 4400000, 1.0, 1.0)
    mask = np.zeros((300, 300), np.uint8)
    mask[40:100, 0:30] = 1  # half of the first data center (60 x 60 m), nothing else
    profile = {"driver": "GTiff", "height": 300, "width": 300, "count": 1, "dtype": "uint8"}
    with rasterio.open(tmp_path / "mask.tif", "w", crs=CRS, transform=transform, **profile) as dst:
        dst.write(mask, 1)
    tp, fp, fn = pixel_counts(tmp_path / "mask.tif", labels)
    assert (tp, fp, fn) == (1800, 0, 5400)
    assert pixel_scores(2 * tp, 2 * fp, 2 * fn)["pixel_iou"] == pytest.approx(0.25)


def test_outline_quality_of_matched_data_centers_and_its_table() -> None:
    truth = _truth()
    utm = truth.to_crs(CRS).geometry
    # The first data center as a staircase of 5 m steps on its west wall, the warehouse
    # found too (not a data center: not measured); the second data center missed.
    steps = shapely.union_all(
        [utm[0].buffer(-3, join_style="mitre")]
        + [shapely.box(500000, 4399903 + 10 * i, 500003, 4399908 + 10 * i) for i in range(5)]
    )
    found = gpd.GeoDataFrame(geometry=[steps, utm[2]], crs=CRS)
    quality = matched_outline_quality(found, truth)
    assert quality.matched == 1
    assert quality.iou == pytest.approx(steps.area / utm[0].area)
    assert quality.vertices == 4 + 4 * 5
    assert quality.right_angles == 1.0
    table = outline_table({"traced": quality, "regularized": quality})
    assert "| outline | traced | regularized |" in table
    assert f"| vertices (median) | {4 + 4 * 5} | {4 + 4 * 5} |" in table


def test_training_picture_marks_the_checkpoints_epochs() -> None:
    """A run that peaks and falls: best.ckpt is the first peak, last.ckpt the final epoch."""
    points = [(0, 0.0), (1, 0.82), (2, 0.82), (3, 0.33)]
    assert checkpoint_epochs(points) == {"best": (1, 0.82), "last": (3, 0.33)}
    assert checkpoint_epochs([(0, 0.5)]) == {"best": (0, 0.5), "last": (0, 0.5)}
