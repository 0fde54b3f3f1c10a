"""``tgdc detect`` and ``batch-detect`` on imagery they must rescale, resample or refuse."""

import shlex
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from support.data import write_raster
from support.inference import UTM, save_checkpoint, scene_array, utm_transform

from torchgeo_datacenters.cli import main

FAST = ["--tile-size", "64", "--overlap", "16", "--device", "cpu", "--num-workers", "0"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint without dtype/value_range hyperparameters: uint8 0-255, 0.6 m."""
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt", logit=5.0)


def detect(checkpoint: Path, image: Path, out: Path, *extra: str) -> int:
    args = ["detect", "--checkpoint", str(checkpoint), "--image", str(image), *FAST]
    return main([*args, "--output-geojson", str(out / "d.geojson"), *extra])


def refused(code: int, capsys: pytest.CaptureFixture, out: Path, image: Path) -> str:
    """The one-line error of a refused run that wrote nothing."""
    assert code == 2
    # The progress bar may have drawn its first frame before the error.
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "tgdc" in line]
    assert line.startswith(f"tgdc detect: error: {image}") or line.startswith(
        "tgdc detect: error: --tile-size"
    )
    assert list(out.iterdir()) == []
    return line


@pytest.fixture
def out(tmp_path: Path) -> Path:
    directory = tmp_path / "out"
    directory.mkdir()
    return directory


def test_other_dtype_refused_naming_the_rule_or_rescaled(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_raster(
        tmp_path / "u16.tif",
        scene_array(64, 64, []).astype("uint16") * 257,
        UTM,
        utm_transform(),
    )
    line = refused(detect(checkpoint, image, out), capsys, out, image)
    assert "pixels are uint16" in line and "--input-scale auto" in line
    assert detect(checkpoint, image, out, "--input-scale", "auto") == 0
    assert "1 detection(s)" in capsys.readouterr().out


def test_absurd_tile_size_refused_in_one_line(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_raster(tmp_path / "s.tif", scene_array(32, 32, []), UTM, utm_transform())
    line = refused(detect(checkpoint, image, out, "--tile-size", "100000"), capsys, out, image)
    assert "--tile-size 100000 must be a whole number from 1 to 4096" in line


def test_other_pixel_size_refused_with_resample_no(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    image = write_raster(tmp_path / "1m.tif", scene_array(40, 40, []), UTM, utm_transform(1.0))
    line = refused(detect(checkpoint, image, out, "--resample", "no"), capsys, out, image)
    assert "1.00 m on the ground but the checkpoint was trained on 0.6 m" in line
    assert detect(checkpoint, image, out) == 0
    assert "tgdc: warning:" in capsys.readouterr().err


def test_truncated_geotiff_gives_gdals_reason(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    array = np.random.default_rng(0).integers(0, 255, (4, 256, 256), dtype=np.uint8)
    whole = tmp_path / "whole.tif"
    with rasterio.open(
        whole, "w", driver="GTiff", width=256, height=256, count=4, dtype="uint8",
        crs=UTM, transform=utm_transform(), tiled=True, compress="deflate",
    ) as dst:  # fmt: skip
        dst.write(array)
    data = whole.read_bytes()
    image = tmp_path / "broken.tif"
    image.write_bytes(data[: len(data) // 2])
    line = refused(
        detect(checkpoint, image, out, "--output-mask", str(out / "m.tif")), capsys, out, image
    )
    assert "TIFFReadEncodedTile" in line and "previous exception" not in line


@pytest.mark.skipif(
    shutil.which("gdal_translate") is None, reason="gdal_translate (gdal-bin) is not installed"
)
def test_gcp_georeferencing_refused_with_a_gdalwarp_line_that_works(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    # A scene aligned by ground control points, as GDAL (and QGIS's georeferencer) writes
    # it: four corner GCPs in UTM, no geotransform.
    transform = utm_transform()
    north_up = write_raster(tmp_path / "north_up.tif", scene_array(128, 128, []), UTM, transform)
    gcps = []
    for col, row in ((0, 0), (128, 0), (0, 128), (128, 128)):
        x, y = transform * (col, row)
        gcps += ["-gcp", str(col), str(row), str(x), str(y)]
    image = tmp_path / "aligned.tif"
    subprocess.run(
        ["gdal_translate", "-q", "-a_srs", UTM, *gcps, str(north_up), str(image)], check=True
    )
    with rasterio.open(image) as src:
        assert src.crs is None and len(src.gcps[0]) == 4
    line = refused(detect(checkpoint, image, out), capsys, out, image)
    assert "georeferenced by 4 ground control points" in line
    command = shlex.split(line.split("first: ", 1)[1])
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)
    assert detect(checkpoint, tmp_path / "aligned_warped.tif", out) == 0
    assert "1 detection(s)" in capsys.readouterr().out
    # It lands where the scene it was made from does (this model marks every valid pixel).
    (warped,) = gpd.read_file(out / "d.geojson").to_crs(UTM).geometry
    scene = shapely.box(*rasterio.open(north_up).bounds)
    assert warped.intersection(scene).area / warped.union(scene).area > 0.97
