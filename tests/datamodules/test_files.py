import warnings

import pytest

from torchgeo_datacenters.datamodules.files import check_imagery_files
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.synthetic import SyntheticDataset


def test_imagery_of_another_dtype_is_refused_with_the_setting_that_fits(
    synthetic_scenes: SyntheticDataset,
) -> None:
    files = [str(path) for path in synthetic_scenes.scene_paths]
    with pytest.raises(
        TGDCError, match="imagery is uint8 but dtype is uint16; set the datamodule's"
    ):
        check_imagery_files(files, "uint16", 0.6)


def test_pixel_size_within_a_tenth_of_gsd_passes_quietly(
    synthetic_scenes: SyntheticDataset,
) -> None:
    files = [str(path) for path in synthetic_scenes.scene_paths]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_imagery_files(files, "uint8", 0.65)
    with pytest.warns(UserWarning, match=r"pixel size 0.6 m differs from gsd 0.5 m"):
        check_imagery_files(files[:1], "uint8", 0.5)
