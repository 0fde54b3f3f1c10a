import datetime as dt
from pathlib import Path

import pytest
from support.data import shared_data
from support.inference import write_scene

from torchgeo_datacenters.detections.dates import file_date, name_date, parse_date
from torchgeo_datacenters.errors import TGDCError


def test_naip_names_and_stac_item_ids_carry_the_flight_date() -> None:
    assert name_date("m_4208701_ne_16_060_20200902.tif") == dt.date(2020, 9, 2)
    assert name_date("m_4709963_se_14_1_20180716.tif") == dt.date(2018, 7, 16)
    # Planetary Computer item ids: state prefix, then the NAIP name.
    assert name_date("wi_m_4208701_ne_16_060_20200902_20201204") == dt.date(2020, 9, 2)
    assert name_date("naip_r0c0_20220701.tif") == dt.date(2022, 7, 1)
    assert name_date("naip_r0c0_20220701.tif", naip_only=True) is None
    assert name_date("scene_12345678.tif") is None  # not a calendar date
    assert name_date("scene.tif") is None


def test_a_naip_name_comes_before_the_tiff_tag(tmp_path: Path) -> None:
    tagged = write_scene(tmp_path / "scene_20190101.tif", 8, 8)
    import rasterio

    with rasterio.open(tagged, "r+") as dst:
        dst.update_tags(TIFFTAG_DATETIME="2019:08:14 10:30:00")
    assert file_date(tagged) == dt.date(2019, 8, 14)
    named = write_scene(tmp_path / "m_4208701_ne_16_060_20200902.tif", 8, 8)
    with rasterio.open(named, "r+") as dst:
        dst.update_tags(TIFFTAG_DATETIME="2021:01:05 00:00:00")
    assert file_date(named) == dt.date(2020, 9, 2)
    assert file_date(write_scene(tmp_path / "plain_20170506.tif", 8, 8)) == dt.date(2017, 5, 6)
    assert file_date(write_scene(tmp_path / "plain.tif", 8, 8)) is None


def test_real_naip_files() -> None:
    path = shared_data("naip", "m_4709963_se_14_1_20200831.tif")
    assert file_date(path) == dt.date(2020, 8, 31)


def test_parse_date_says_how_to_write_one() -> None:
    assert parse_date("2020-08-31", "x") == dt.date(2020, 8, 31)
    with pytest.raises(TGDCError, match=r"a.geojson: '2020/08/31' is not a date; give it as"):
        parse_date("2020/08/31", "a.geojson")
