"""Verdict files as the review page exports them, and detections they judge."""

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

#: Three square sites 100 m apart near Ashburn, VA (about 40 m a side).
LON, LAT, SIDE = -77.48, 39.04, 0.0005


def square(n: int, shift: float = 0.0) -> shapely.Polygon:
    """Site *n*'s square, moved east by *shift* of its side."""
    west = LON + n * 0.0012 + shift * SIDE
    return shapely.box(west, LAT, west + SIDE, LAT + SIDE)


def three_detections() -> gpd.GeoDataFrame:
    """Three detections as the predictor tables them."""
    outlines = [square(n) for n in range(3)]
    return gpd.GeoDataFrame(
        {
            "id": np.arange(1, 4),
            "area_m2": [1800.0, 1800.0, 1800.0],
            "centroid_lon": [g.centroid.x for g in outlines],
            "centroid_lat": [g.centroid.y for g in outlines],
            "score": [0.61234567, 0.9, 0.75],
            "max_score": [0.9, 0.99, 0.95],
            "source": ["scene.tif"] * 3,
        },
        geometry=outlines,
        crs="EPSG:4326",
    )


def verdict(
    geometry: shapely.Polygon,
    kind: str,
    name: str,
    detection_id: int | None,
    reviewed_at: str,
    run: str,
) -> dict[str, Any]:
    """One feature as the review page exports it."""
    return {
        "type": "Feature",
        "geometry": shapely.geometry.mapping(geometry),
        "properties": {
            "class": name,
            "label": name == "datacenter",
            "verdict": kind,
            "detection_id": detection_id,
            "score": None if detection_id is None else 0.7,
            "reviewed_at": reviewed_at,
            "source": "scene.tif",
            "source_item": None,
            "acquired": None,
            "run": run,
            "name": f"{run}-{detection_id or 'drawn-1'}",
        },
    }


def write(path: Path, *features: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path
