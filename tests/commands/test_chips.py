"""Tests of ``tgdc chips`` on footprint files without classes (the PNNL IM3 atlas)."""

import shlex
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.features
from rasterio.transform import from_origin
from support.data import shared_data, write_raster

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.datamodules import DataCenterDataModule
from torchgeo_datacenters.errors import TGDCError

#: Python parameter names no command's error may name.
PARAMETERS = ("class_field", "use_label_field", "class_map=", "multiclass=", "positive_classes")


@pytest.fixture(scope="module")
def atlas_chip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, gpd.GeoSeries]:
    """The IM3 atlas and a 0.6 m chip in UTM around its largest building polygon."""
    atlas = shared_data("labels", "im3_datacenter_footprints.geojson")
    footprints = gpd.read_file(atlas)
    buildings = footprints[footprints["type"] == "building"]
    utm = buildings.estimate_utm_crs()
    polygon = buildings.to_crs(utm).geometry.iloc[int(buildings.to_crs(utm).area.argmax())]
    x, y = polygon.centroid.x, polygon.centroid.y
    chips = tmp_path_factory.mktemp("chips")
    image = np.random.default_rng(0).integers(0, 255, (4, 512, 512), dtype=np.uint8)
    transform = from_origin(round(x) - 153.6, round(y) + 153.6, 0.6, 0.6)
    write_raster(chips / "chip.tif", image, utm.to_string(), transform)
    return atlas, chips, footprints.to_crs(utm).geometry


def _chips(atlas: Path, chips: Path, out: Path) -> list[str]:
    return ["chips", "--chips-dir", str(chips), "--labels", str(atlas), "--output-dir", str(out)]


def _errors(capfd: pytest.CaptureFixture) -> list[str]:
    """The error lines of stderr (warnings, such as the skipped Points, are lines of their own)."""
    return [line for line in capfd.readouterr().err.splitlines() if "error:" in line]


def test_every_footprint_a_data_center(
    atlas_chip: tuple[Path, Path, gpd.GeoSeries], tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    atlas, chips, footprints = atlas_chip
    assert main([*_chips(atlas, chips, tmp_path / "m"), "--all-datacenters"]) == 0
    assert "tgdc: warning: " in capfd.readouterr().err  # "... skipped 84 Point feature(s)"
    with rasterio.open(tmp_path / "m" / "chip.tif") as src:
        mask = src.read(1)
        shape, transform = src.shape, src.transform
    polygons = footprints[footprints.geom_type.isin(["Polygon", "MultiPolygon"])]
    expected = rasterio.features.rasterize(
        [(g, 1) for g in polygons], out_shape=shape, transform=transform, dtype=np.uint8
    )
    assert expected.sum() > 10_000  # the building covers the chip's middle
    np.testing.assert_array_equal(mask, expected)


def test_no_class_field_names_the_flags_that_fix_it(
    atlas_chip: tuple[Path, Path, gpd.GeoSeries], tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    atlas, chips, _ = atlas_chip
    assert main(_chips(atlas, chips, tmp_path / "m")) == 2
    (line,) = _errors(capfd)
    assert (
        "has no 'class' field (its fields: state_abb, county, operator, name, sqft, type)" in line
    )
    assert "give --class-field FIELD" in line and "give --all-datacenters" in line
    assert not any(name in line for name in PARAMETERS)
    assert not (tmp_path / "m").exists()


def test_class_field_advice_works_when_followed(
    atlas_chip: tuple[Path, Path, gpd.GeoSeries], tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    # IM3's `type` (building, campus, point) is no data-center class: each refusal says which
    # --class-map makes it one, and following the advice ends in masks.
    atlas, chips, _ = atlas_chip
    argv = [*_chips(atlas, chips, tmp_path / "m"), "--class-field", "type"]
    for _ in range(3):
        status = main(argv)
        if status == 0:
            break
        (line,) = _errors(capfd)
        assert not any(name in line for name in PARAMETERS)
        argv += shlex.split(line.split("e.g. ", 1)[1])
    assert status == 0
    assert argv.count("--class-map") == 2  # building and campus; Points are skipped
    assert (tmp_path / "m" / "chip.tif").is_file()


def test_training_errors_name_the_torchgeo_fit_flag(
    atlas_chip: tuple[Path, Path, gpd.GeoSeries],
) -> None:
    atlas, chips, _ = atlas_chip
    module = DataCenterDataModule(paths=str(chips), label_path=str(atlas), patch_size=64)
    with pytest.raises(TGDCError) as error, pytest.warns(UserWarning, match="skipped 84"):
        module.setup("fit")
    assert "--data.init_args.class_field null" in str(error.value)
