"""Paths to the real test data in ../shared/data and small raster writers."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from rasterio.warp import transform_bounds

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Return a path under ../shared/data, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data {path} is absent (it lives in ../shared/data, not the repo)")
    return path


def write_raster(
    path: Path, array: np.ndarray, crs: str, transform: Affine, nodata: float | None = None
) -> Path:
    """Write a (bands, height, width) array as a GeoTIFF."""
    count, height, width = array.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=count,
        dtype=array.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(array)
    return path


def bbox_of(paths: list[Path]) -> list[float]:
    """A lon/lat box just inside the footprint of GeoTIFFs."""
    boxes = []
    for path in paths:
        with rasterio.open(path) as src:
            boxes.append(shapely.box(*transform_bounds(src.crs, "EPSG:4326", *src.bounds)))
    return list(shapely.union_all(boxes).buffer(-1e-4).bounds)
