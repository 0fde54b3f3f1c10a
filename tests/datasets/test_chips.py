import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin
from support.data import write_raster

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.datasets import DataCenterLabels, check_chip_pairs, write_chip_masks
from torchgeo_datacenters.errors import TGDCError

GSD = 0.6


@pytest.fixture
def chips(tmp_path: Path) -> tuple[Path, Path]:
    """Two 64 x 64 chips in different UTM zones and a label file in CRS84 over both."""
    chips_dir = tmp_path / "chips"
    chips_dir.mkdir()
    image = np.full((4, 64, 64), 100, dtype=np.uint8)
    zones = {
        "a.tif": ("EPSG:32617", 700000.0, 4400000.0),
        "b.tif": ("EPSG:32618", 300000.0, 4400000.0),
    }
    features = []
    for name, (crs, x0, y0) in zones.items():
        write_raster(chips_dir / name, image, crs, from_origin(x0, y0, GSD, GSD))
        # A data center covering pixel columns 10..29 and rows 20..39 of the chip.
        box = shapely.box(x0 + 10 * GSD, y0 - 40 * GSD, x0 + 30 * GSD, y0 - 20 * GSD)
        features.append(gpd.GeoSeries([box], crs=crs).to_crs("OGC:CRS84").iloc[0])
    labels = gpd.GeoDataFrame(
        {
            "fid": [1, 2],
            "class": ["datacenter", "datacenter"],
            "name": ["a", "b"],
            "label": [True, True],
        },
        geometry=features,
        crs="OGC:CRS84",
    )
    labels.to_file(tmp_path / "labels.geojson")
    return chips_dir, tmp_path / "labels.geojson"


def test_write_chip_masks_on_each_chip_grid(tmp_path: Path, chips: tuple[Path, Path]) -> None:
    chips_dir, labels_path = chips
    written = write_chip_masks(
        chips_dir, DataCenterLabels(labels_path), tmp_path / "masks", progress=False
    )
    assert [p.name for p in written] == ["a.tif", "b.tif"]
    for mask_path in written:
        with rasterio.open(mask_path) as mask, rasterio.open(chips_dir / mask_path.name) as chip:
            assert mask.crs == chip.crs and mask.transform == chip.transform
            data = mask.read(1)
        # Pixel centres of columns 10..29 and rows 20..39 are inside; a sliver of
        # reprojection error may move the edge by less than a pixel.
        assert data[21:39, 11:29].all()
        assert data.sum() == pytest.approx(400, abs=40)
        assert not data[:19].any() and not data[:, :9].any()
    assert len(check_chip_pairs(chips_dir, tmp_path / "masks")) == 2


def test_labels_on_no_chip_are_warned_about(tmp_path: Path, chips: tuple[Path, Path]) -> None:
    chips_dir, labels_path = chips
    labels = gpd.read_file(labels_path)
    # Longitude and latitude swapped: the polygons land in the Southern Ocean.
    swapped = labels.set_geometry(shapely.transform(labels.geometry, lambda c: c[:, ::-1]))
    swapped.to_file(tmp_path / "swapped.geojson")
    with pytest.warns(UserWarning, match=r"no label polygon lies on any of the 2 chip\(s\) in"):
        written = write_chip_masks(
            chips_dir,
            DataCenterLabels(tmp_path / "swapped.geojson"),
            tmp_path / "m",
            progress=False,
        )
    assert len(written) == 2
    # A hard negative on a chip is a label there (its data center elsewhere): no warning.
    negative = labels.iloc[:1].assign(**{"class": "warehouse", "label": False})
    mixed = gpd.GeoDataFrame(pd.concat([negative, swapped.iloc[1:]]), crs=labels.crs)
    mixed.to_file(tmp_path / "mixed.geojson")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        masks = write_chip_masks(
            chips_dir, DataCenterLabels(tmp_path / "mixed.geojson"), tmp_path / "n", progress=False
        )
    with rasterio.open(masks[0]) as src:
        assert not src.read(1).any()  # binary masks: a hard negative is background


def test_existing_masks_are_refused_without_overwrite(
    tmp_path: Path, chips: tuple[Path, Path]
) -> None:
    chips_dir, labels_path = chips
    labels = DataCenterLabels(labels_path)
    write_chip_masks(chips_dir, labels, tmp_path / "masks", progress=False)
    with pytest.raises(TGDCError, match="--overwrite"):
        write_chip_masks(chips_dir, labels, tmp_path / "masks", progress=False)
    write_chip_masks(chips_dir, labels, tmp_path / "masks", progress=False, overwrite=True)


def test_check_chip_pairs_rejects_mismatches(tmp_path: Path, chips: tuple[Path, Path]) -> None:
    chips_dir, labels_path = chips
    masks = tmp_path / "masks"
    write_chip_masks(chips_dir, DataCenterLabels(labels_path), masks, progress=False)
    (masks / "b.tif").unlink()
    with pytest.raises(TGDCError, match=r"no mask for chip\(s\) \['b.tif'\]"):
        check_chip_pairs(chips_dir, masks)
    write_raster(
        masks / "b.tif",
        np.zeros((1, 64, 64), np.uint8),
        "EPSG:32618",
        from_origin(300006.0, 4400000.0, GSD, GSD),
    )
    with pytest.raises(TGDCError, match="transform"):
        check_chip_pairs(chips_dir, masks)
    write_raster(
        masks / "b.tif",
        np.zeros((1, 32, 64), np.uint8),
        "EPSG:32618",
        from_origin(300000.0, 4400000.0, GSD, GSD),
    )
    with pytest.raises(TGDCError, match="size"):
        check_chip_pairs(chips_dir, masks)


def test_tgdc_chips_command(
    tmp_path: Path, chips: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    chips_dir, labels_path = chips
    args = [
        "chips",
        "--chips-dir",
        str(chips_dir),
        "--labels",
        str(labels_path),
        "--output-dir",
        str(tmp_path / "m"),
        "--buffer",
        "7.5",
    ]
    assert main(args) == 0
    assert "wrote 2 masks" in capsys.readouterr().out
    with rasterio.open(tmp_path / "m" / "a.tif") as src:
        # A 7.5 m buffer adds 12.5 pixels on each side of the 20 x 20 pixel footprint.
        assert src.read(1).sum() > 1500
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*args[:-2], "--class-map", "oops"]) == 2
