"""``tgdc detect`` and ``batch-detect`` on imagery they must rescale, resample or refuse."""

import shlex
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.warp
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
        scene_array(96, 96, []).astype("uint16") * 257,
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


@pytest.mark.skipif(
    shutil.which("gdal_translate") is None, reason="gdal_translate (gdal-bin) is not installed"
)
def test_rotated_gcps_in_degrees_warp_keeping_nir_and_leaving_the_corners_out(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    # A NAIP-like scene (band 4 tagged alpha, as GDAL tags NAIP's NIR) whose NIR is 0 on
    # its left half, aligned in a GIS by four GCPs in lon/lat rotated by 20 degrees: the
    # advice's warp keeps its RGB where NIR is 0 and leaves the corners of the rotated
    # frame out, so this model (every valid pixel) finds the scene's own outline.
    array = scene_array(128, 128, [])
    array[3, :, :64] = 0
    north_up = write_raster(tmp_path / "north_up.tif", array, UTM, utm_transform())
    with rasterio.open(north_up) as src:
        assert src.colorinterp[3] == rasterio.enums.ColorInterp.alpha
    centre = np.array(utm_transform() * (64, 64))
    turn = np.radians(20)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    gcps, corners = [], []
    for col, row in ((0, 0), (128, 0), (0, 128), (128, 128)):
        x, y = centre + rotation @ (0.6 * np.array([col - 64, 64 - row]))
        (lon,), (lat,) = rasterio.warp.transform(UTM, "EPSG:4326", [x], [y])
        gcps += ["-gcp", str(col), str(row), repr(lon), repr(lat)]
        corners.append((x, y))
    image = tmp_path / "aligned.tif"
    subprocess.run(
        ["gdal_translate", "-q", "-a_srs", "EPSG:4326", *gcps, str(north_up), str(image)],
        check=True,
    )
    line = refused(detect(checkpoint, image, out), capsys, out, image)
    command = shlex.split(line.split("first: ", 1)[1])
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)
    warped = tmp_path / "aligned_warped.tif"
    with rasterio.open(warped) as src:
        pixels = src.read()
    # Four bands and the frame's alpha; RGB stays where NIR is 0 (no pixel of the frame
    # blanked) and the corners are outside it.
    assert len(pixels) == 5
    inside = pixels[4] == 255
    assert 0.5 < inside.mean() < 0.9
    assert (pixels[0][inside] == array[0, 0, 0]).mean() > 0.95
    assert (pixels[3][inside] == 0).mean() > 0.4
    assert detect(checkpoint, warped, out) == 0
    capsys.readouterr()
    (found,) = gpd.read_file(out / "d.geojson").to_crs(UTM).geometry
    frame = shapely.Polygon([corners[0], corners[1], corners[3], corners[2]])
    assert found.intersection(frame).area / found.union(frame).area > 0.95


@pytest.mark.skipif(shutil.which("gdalwarp") is None, reason="gdalwarp (gdal-bin) is not installed")
def test_a_rotated_geotransform_is_refused_with_a_gdalwarp_line_that_works(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    # A scene georeferenced in a GIS with a rotation (ArcGIS's georeferencing writes the
    # rotation terms of the geotransform): the advice's gdalwarp line, run as printed, puts
    # it north-up where it lies.
    from affine import Affine

    x, y = utm_transform().c, utm_transform().f
    rotated = Affine.translation(x, y) * Affine.rotation(20) * Affine.scale(0.6, -0.6)
    image = write_raster(tmp_path / "rotated.tif", scene_array(128, 128, []), UTM, rotated)
    line = refused(detect(checkpoint, image, out), capsys, out, image)
    assert "no north- or south-up geotransform" in line
    command = shlex.split(line.split("first: ", 1)[1])
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)
    assert detect(checkpoint, tmp_path / "rotated_warped.tif", out) == 0
    (warped,) = gpd.read_file(out / "d.geojson").to_crs(UTM).geometry
    footprint = shapely.Polygon(
        [rotated * corner for corner in ((0, 0), (128, 0), (128, 128), (0, 128))]
    )
    assert warped.intersection(footprint).area / warped.union(footprint).area > 0.95


@pytest.mark.skipif(shutil.which("gdal_edit.py") is None, reason="gdal_edit.py is not installed")
def test_a_world_file_with_a_prj_is_assigned_its_crs_by_the_advice(
    checkpoint: Path, tmp_path: Path, out: Path, capsys: pytest.CaptureFixture
) -> None:
    # A plain TIFF with a world file (.tfw) and a .prj, as scanners and older GIS export:
    # GDAL reads the world file, not the .prj; the advice assigns the .prj's CRS.
    image = tmp_path / "plain.tif"
    array = scene_array(128, 128, [])
    profile = {"driver": "GTiff", "width": 128, "height": 128, "count": 4, "dtype": array.dtype}
    with (
        pytest.warns(rasterio.errors.NotGeoreferencedWarning),
        rasterio.open(image, "w", **profile) as dst,
    ):
        dst.write(array)
    t = utm_transform()
    (tmp_path / "plain.tfw").write_text(f"{t.a}\n0\n0\n{t.e}\n{t.c + t.a / 2}\n{t.f + t.e / 2}\n")
    (tmp_path / "plain.prj").write_text(rasterio.crs.CRS.from_string(UTM).to_wkt("WKT1_ESRI"))
    line = refused(detect(checkpoint, image, out), capsys, out, image)
    assert line.endswith(
        f"raster has no CRS; assign one (gdal_edit.py -a_srs {tmp_path / 'plain.prj'} {image})"
    )
    command = shlex.split(line.rsplit("(", 1)[1].rstrip(")"))
    subprocess.run(command, check=True, capture_output=True)
    assert detect(checkpoint, image, out) == 0
    with rasterio.open(image) as src:
        assert src.crs == UTM and src.transform == t
