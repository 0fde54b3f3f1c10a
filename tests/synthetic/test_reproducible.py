"""The SYNTHETIC generator draws exactly what it drew before it was split into modules.

The digests below were recorded from the single-module generator
(``torchgeo_datacenters/synthetic.py`` at commit bc3cee2) and cover every building class,
explicit footprints, another CRS, a coarse pixel size, the smallest scene and a crowded one.
A digest hashes the decoded pixels, the geotransform and the label table, so a change to any
pixel, roof or label shows, while GDAL's compressed bytes may differ between GDAL versions.
"""

import hashlib
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
import shapely

from torchgeo_datacenters.synthetic import generate_scene

CASES = {
    "square_256_seed_3": (
        {"size": 256, "seed": 3},
        "2de7f238202885839f86f441276234910ecac33260ec546eb62d5e927c79f800",
    ),
    "wide_utm18": (
        {"size": (300, 520), "seed": 0, "origin": (412345.0, 4312345.0), "crs": "EPSG:32618"},
        "b3d90d8b227d46cbb3507bdde0b532981985b894f51a95072d53253130d8767a",
    ),
    "large_1024_seed_7": (
        {"size": 1024, "seed": 7},
        "4d6ce026a22fba55b08b84868a533d6df75c630af43500e747b38d0d00629a41",
    ),
    "explicit_datacenters": (
        {
            "size": 384,
            "seed": 11,
            "datacenters": [
                shapely.box(500030.0, 4399900.0, 500120.0, 4399950.0).buffer(3, join_style=2)
            ],
        },
        "9a428f19e553faff9a1a3faeb48cde833d05f5a9787c0ceb4d3c53f4075370e7",
    ),
    "coarse_gsd": (
        {"size": 200, "seed": 5, "gsd": 1.0, "n_negatives": 6},
        "73053b7f0fca1e8aedc299b1cf3b3491cbfd89b24b3fd8a442d478a9b1ecee88",
    ),
    "tiny_64": (
        {"size": 64, "seed": 2},
        "72d0543b2fac5946728b31870fec631ebd3ef6c13204100e5d54894db4ec55c1",
    ),
    "crowded_1024": (
        {"size": 1024, "seed": 13, "n_datacenters": 3, "n_negatives": 16},
        "6effd219f590ffdedb96b7cac3081690d87d8eb8edfa041bbf0fe61a98fea65d",
    ),
}


def scene_digest(path: Path, labels: gpd.GeoDataFrame) -> str:
    """Hash the pixels, geotransform and labels of a generated scene."""
    digest = hashlib.sha256()
    with rasterio.open(path) as src:
        digest.update(src.read().tobytes())
        digest.update(repr(tuple(src.transform)).encode())
    digest.update(labels.to_json().encode())
    return digest.hexdigest()


@pytest.mark.parametrize("name", CASES)
def test_scene_matches_the_recorded_digest(tmp_path: Path, name: str) -> None:
    kwargs, expected = CASES[name]
    path = tmp_path / f"{name}.tif"
    labels = generate_scene(path, **kwargs)
    assert scene_digest(path, labels) == expected
