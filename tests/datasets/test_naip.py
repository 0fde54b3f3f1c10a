from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from support.data import shared_data, write_raster
from torchgeo.samplers import GriddedPatchSampler

from torchgeo_datacenters.datasets import NAIPChips
from torchgeo_datacenters.errors import TGDCError


def test_reads_real_naip_bands_dtype_crs_resolution() -> None:
    path = shared_data("naip", "m_4208701_ne_16_060_20200902.tif")
    dataset = NAIPChips(path)
    assert dataset.crs.to_epsg() == 26916
    assert dataset.res == pytest.approx((0.6, 0.6), abs=0.01)
    assert dataset.bands == ("R", "G", "B", "NIR") and dataset.rgb_bands == ("R", "G", "B")
    sample = dataset[next(iter(GriddedPatchSampler(dataset, size=64)))]
    assert sample["image"].shape == (4, 64, 64)
    with rasterio.open(path) as src:
        window = src.read(window=((0, 64), (0, 64)))
    # Same pixel values as the file's first window (samples are float32 copies).
    assert sample["image"].dtype.is_floating_point
    assert np.isin(sample["image"][:, 10, 10].numpy(), window.reshape(4, -1)).all()


def test_real_naip_directory_in_several_crs() -> None:
    dataset = NAIPChips(shared_data("naip"))
    assert len(dataset) == 6
    assert dataset.crs is not None


def test_band_subset() -> None:
    dataset = NAIPChips(shared_data("naip", "m_3211605_ne_11_060_20200415.tif"), bands=["NIR", "R"])
    sample = dataset[next(iter(GriddedPatchSampler(dataset, size=32)))]
    assert sample["image"].shape[0] == 2


def test_three_band_raster_is_refused(tmp_path: Path) -> None:
    path = write_raster(
        tmp_path / "rgb.tif", np.zeros((3, 8, 8), np.uint8), "EPSG:32617", from_origin(0, 0, 1, 1)
    )
    with pytest.raises(TGDCError, match=r"rgb.tif: has 3 band\(s\) but NAIP imagery needs 4"):
        NAIPChips(path)


def test_raster_without_crs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nocrs.tif"
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=4, dtype="uint8") as dst:
        dst.write(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(TGDCError, match="has no CRS"):
        NAIPChips(path)


def test_not_a_raster_and_nothing_found(tmp_path: Path) -> None:
    (tmp_path / "fake.tif").write_bytes(b"\xff\xd8\xff\xe0 this is a JPEG header")
    with pytest.raises(TGDCError, match="not a readable raster"):
        NAIPChips(tmp_path / "fake.tif")
    with pytest.raises(TGDCError, match="no imagery matching"):
        NAIPChips(tmp_path / "empty-dir-that-does-not-exist")
    with pytest.raises(TGDCError, match="unknown band"):
        NAIPChips(tmp_path, bands=["SWIR"])
