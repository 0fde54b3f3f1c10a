import warnings

import pytest
import rasterio

from torchgeo_datacenters.datamodules.files import ImageryPass
from torchgeo_datacenters.datamodules.normalization import band_statistics
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.synthetic import SyntheticDataset


def run_pass(imagery: ImageryPass, files: list[str]) -> None:
    for file in files:
        with rasterio.open(file) as src:
            imagery(file, src, files)


def test_imagery_of_another_dtype_is_refused_with_the_setting_that_fits(
    synthetic_scenes: SyntheticDataset,
) -> None:
    files = [str(path) for path in synthetic_scenes.scene_paths]
    with pytest.raises(
        TGDCError, match="imagery is uint8 but dtype is uint16; set the datamodule's"
    ):
        run_pass(ImageryPass("uint16", 0.6, sample=True), files)


def test_pixel_size_within_a_tenth_of_gsd_passes_quietly(
    synthetic_scenes: SyntheticDataset,
) -> None:
    files = [str(path) for path in synthetic_scenes.scene_paths]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_pass(ImageryPass("uint8", 0.65, sample=False), files)
    with pytest.warns(UserWarning, match=r"pixel size 0.6 m differs from gsd 0.5 m"):
        run_pass(ImageryPass("uint8", 0.5, sample=False), files[:1])


def test_the_pass_samples_the_statistics_band_statistics_reads(
    synthetic_scenes: SyntheticDataset,
) -> None:
    files = [str(path) for path in reversed(synthetic_scenes.scene_paths)]
    imagery = ImageryPass("uint8", 0.6, sample=True)
    run_pass(imagery, files)
    assert imagery.statistics(["R", "G", "B", "NIR"]) == band_statistics(
        files, ["R", "G", "B", "NIR"]
    )
    skipped = ImageryPass("uint8", 0.6, sample=False)
    run_pass(skipped, files)
    assert skipped.samples == {}
