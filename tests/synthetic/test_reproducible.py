"""The SYNTHETIC generator draws the same scenes on every CPU.

The digests below cover every building class, explicit footprints, another CRS, a coarse
pixel size, the smallest scene and a crowded one. A digest hashes the decoded pixels, the
geotransform and the label table, so a change to any pixel, roof or label shows, while GDAL's
compressed bytes may differ between GDAL versions. They hold on any CPU: a scene drawn with
numpy's baseline SIMD kernels and OpenBLAS's oldest x86 kernels, as on another CPU, has the
same digest.
"""

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
import shapely
from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

from torchgeo_datacenters.synthetic import generate_scene

CASES = {
    "square_256_seed_3": (
        {"size": 256, "seed": 3},
        "113f725dd70233f92598c1be67d204e9dc7e3e7e3183bb2d85848a9488e8ae16",
    ),
    "wide_utm18": (
        {"size": (300, 520), "seed": 0, "origin": (412345.0, 4312345.0), "crs": "EPSG:32618"},
        "05474ac7a08d8cd78de7402b3e223964419c4f0dab101acc20969a5aac014466",
    ),
    "large_1024_seed_7": (
        {"size": 1024, "seed": 7},
        "6bf27fbea4531fad256be4b9c81b8a2ce4e5896feb5072797c5112739a8f7b54",
    ),
    "explicit_datacenters": (
        {
            "size": 384,
            "seed": 11,
            "datacenters": [
                shapely.box(500030.0, 4399900.0, 500120.0, 4399950.0).buffer(3, join_style=2)
            ],
        },
        "63db436612e90c9a25f0d49d3cb78faac5dd400363a46529918d4408b8f28e45",
    ),
    "coarse_gsd": (
        {"size": 200, "seed": 5, "gsd": 1.0, "n_negatives": 6},
        "f894e33dc95d0ad59d8b3a05d9fc575d7271d9fe4a852d50deecf2e7e8abc478",
    ),
    "tiny_64": (
        {"size": 64, "seed": 2},
        "53c683b84009edfa477adaa831c9449434d0ae8bc2fb23be2cb252189ec070b1",
    ),
    "crowded_1024": (
        {"size": 1024, "seed": 13, "n_datacenters": 3, "n_negatives": 16},
        "0d03ae8df8218dc76232e70cef0c77669f1fab793f758971695dd3dd046fee16",
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


def test_digest_holds_with_another_cpus_kernels(tmp_path: Path) -> None:
    """numpy's SIMD kernels and OpenBLAS's kernels are chosen per CPU; the scene is not."""
    name = "large_1024_seed_7"
    env = {
        **os.environ,
        "NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__),
        "PYTHONPATH": str(Path(__file__).parent),
    }
    if platform.machine() in ("x86_64", "AMD64"):
        env["OPENBLAS_CORETYPE"] = "Prescott"
    script = (
        "import pathlib, sys\n"
        "from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__\n"
        "from test_reproducible import CASES, scene_digest\n"
        "from torchgeo_datacenters.synthetic import generate_scene\n"
        "print(sorted(f for f in __cpu_dispatch__ if __cpu_features__[f]))\n"
        f"kwargs = CASES[{name!r}][0]\n"
        f"path = pathlib.Path(sys.argv[1]) / '{name}.tif'\n"
        "print(scene_digest(path, generate_scene(path, **kwargs)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    enabled, digest = run.stdout.strip().splitlines()
    # The kernels differ from this process's: no SIMD beyond numpy's baseline ran there, while
    # here some did, or OpenBLAS ran its oldest kernels there.
    assert enabled == "[]"
    assert any(__cpu_features__[f] for f in __cpu_dispatch__) or "OPENBLAS_CORETYPE" in env
    assert digest == CASES[name][1]
