import datetime as dt
from pathlib import Path

import pytest
from support.data import shared_data
from support.inference import write_scene

from torchgeo_datacenters.detections.dates import (
    acquisition_dates,
    acquisition_text,
    fgdc_date,
    file_date,
    item_dates,
    name_date,
    parse_date,
)
from torchgeo_datacenters.errors import TGDCError


def test_naip_names_and_stac_item_ids_carry_the_flight_date() -> None:
    assert name_date("m_4208701_ne_16_060_20200902.tif") == dt.date(2020, 9, 2)
    assert name_date("m_4709963_se_14_1_20180716.tif") == dt.date(2018, 7, 16)
    # A resolution field of letters ("h") is still a NAIP name.
    assert name_date("tx_m_2609719_se_14_h_20161206.tif", naip_only=True) == dt.date(2016, 12, 6)
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
    with pytest.warns(UserWarning, match="TIFF DateTime tag"):
        assert file_date(tagged) == dt.date(2019, 8, 14)
    named = write_scene(tmp_path / "m_4208701_ne_16_060_20200902.tif", 8, 8)
    with rasterio.open(named, "r+") as dst:
        dst.update_tags(TIFFTAG_DATETIME="2021:01:05 00:00:00")
    assert file_date(named) == dt.date(2020, 9, 2)
    assert file_date(write_scene(tmp_path / "plain_20170506.tif", 8, 8)) == dt.date(2017, 5, 6)
    assert file_date(write_scene(tmp_path / "plain.tif", 8, 8)) is None


def test_naip_names_as_other_systems_write_them_beat_the_tiff_tag(tmp_path: Path) -> None:
    import rasterio

    # USGS EarthExplorer's downloads are upper case; the processing date may follow the
    # flight date. The file's DateTime tag (processing time) must not win over either.
    for name in ("M_4208701_NE_16_060_20200902.TIF", "m_4208701_ne_16_060_20200902_20201204.tif"):
        path = write_scene(tmp_path / name, 8, 8)
        with rasterio.open(path, "r+") as dst:
            dst.update_tags(TIFFTAG_DATETIME="2021:01:05 00:00:00")
        assert file_date(path) == dt.date(2020, 9, 2)
    assert name_date("M_4208701_NE_16_060_20200902.jp2", naip_only=True) == dt.date(2020, 9, 2)


def test_a_stac_item_with_an_interval_and_no_datetime_carries_the_range() -> None:
    # STAC allows "datetime": null with start_datetime and end_datetime (a mosaic flown over
    # several days): its provenance holds the first and last day, which detections record
    # as FIRST/LAST; scan's scenes are searched and sorted by the first day, as tgdc change
    # reads a FIRST/LAST range by its first day.
    import pystac

    from torchgeo_datacenters.outputs.provenance import item_provenance
    from torchgeo_datacenters.scan.scenes import StacScene, newest_items
    from torchgeo_datacenters.stac import NetworkSettings

    properties = {
        "datetime": None,
        "start_datetime": "2022-07-01T00:00:00Z",
        "end_datetime": "2022-07-03T00:00:00Z",
    }
    item = {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "mosaic",
        "properties": properties,
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]},
        "bbox": [0, 0, 1, 1],
        "links": [],
        "assets": {},
    }
    scene = StacScene("mosaic", item, "http://127.0.0.1:9", "naip", "image", NetworkSettings())
    assert scene.acquired() == dt.date(2022, 7, 1)
    provenance = item_provenance(item, "mosaic.tif", "http://x/mosaic")
    assert provenance.dates == (dt.date(2022, 7, 1), dt.date(2022, 7, 3))
    assert acquisition_text(provenance.dates) == "2022-07-01/2022-07-03"
    assert acquisition_dates("2022-07-01/2022-07-03") == provenance.dates
    # One day, a missing end, or a datetime beside the interval: one date.
    for one in (
        dict(properties, end_datetime="2022-07-01T23:00:00Z"),
        dict(properties, end_datetime=None),
        dict(properties, datetime="2022-07-02T10:00:00Z"),
    ):
        assert len(item_dates(one)) == 1
    older = dict(item, id="older", properties={"datetime": "2018-06-01T00:00:00Z"})
    kept = newest_items([pystac.Item.from_dict(item), pystac.Item.from_dict(older)])
    assert [kept_item.id for kept_item in kept] == ["mosaic"]


def test_real_naip_files() -> None:
    path = shared_data("naip", "m_4709963_se_14_1_20200831.tif")
    assert file_date(path) == dt.date(2020, 8, 31)


def test_parse_date_says_how_to_write_one() -> None:
    assert parse_date("2020-08-31", "x") == dt.date(2020, 8, 31)
    with pytest.raises(TGDCError, match=r"a.geojson: '2020/08/31' is not a date; give it as"):
        parse_date("2020/08/31", "a.geojson")


#: FGDC metadata as NAIP ships it beside each quarter quad (abridged): the ground's date is
#: the time period of content; the metadata's own date (metd) is later.
FGDC_XML = """<?xml version="1.0" encoding="UTF-8"?>
<metadata><idinfo><citation><citeinfo><pubdate>20201204</pubdate></citeinfo></citation>
<timeperd><timeinfo><sngdate><caldate>{date}</caldate></sngdate></timeinfo>
<current>Ground Condition</current></timeperd></idinfo>
<metainfo><metd>20210115</metd></metainfo></metadata>
"""

FGDC_TEXT = """Identification_Information:
  Citation:
    Citation_Information:
      Publication_Date: 20201204
  Time_Period_of_Content:
    Time_Period_Information:
      Range_of_Dates/Times:
        Beginning_Date: {date}
        Ending_Date: 20200910
    Currentness_Reference: Ground Condition
Metadata_Reference_Information:
  Metadata_Date: 20210115
"""


def _tagged(path: Path, tag: str = "2021:01:05 00:00:00") -> Path:
    import rasterio

    write_scene(path, 8, 8)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(TIFFTAG_DATETIME=tag)
    return path


def test_fgdc_metadata_beside_the_file_beats_the_tiff_tag(tmp_path: Path) -> None:
    xml = _tagged(tmp_path / "ortho_a.tif")
    (tmp_path / "ortho_a.xml").write_text(FGDC_XML.format(date="20200902"))
    text = _tagged(tmp_path / "ortho_b.tif")
    (tmp_path / "ortho_b.txt").write_text(FGDC_TEXT.format(date="20200901"))
    arcgis = _tagged(tmp_path / "ortho_c.tif")
    (tmp_path / "ortho_c.tif.xml").write_text(FGDC_XML.format(date="20190704"))
    assert fgdc_date(xml) == file_date(xml) == dt.date(2020, 9, 2)
    assert fgdc_date(text) == file_date(text) == dt.date(2020, 9, 1)
    assert file_date(arcgis) == dt.date(2019, 7, 4)
    # The NAIP file name ranks above its metadata.
    named = _tagged(tmp_path / "m_4208701_ne_16_060_20200903.tif")
    (tmp_path / "m_4208701_ne_16_060_20200903.xml").write_text(FGDC_XML.format(date="20200902"))
    assert file_date(named) == dt.date(2020, 9, 3)


#: The ground's date as other systems write metadata beside a raster, each with a later
#: date (the metadata's or the file's) outside its time period of content.
METADATA_VARIANTS = {
    # FGDC with an ISO date, as some producers write caldate.
    "iso-caldate.xml": FGDC_XML.format(date="2020-09-02"),
    # FGDC in its namespace, as metadata editors save it.
    "namespaced.xml": FGDC_XML.format(date="20200902").replace(
        "<metadata>", '<metadata xmlns="http://www.fgdc.gov/metadata/csdgm">'
    ),
    # FGDC plain text with an ISO date.
    "iso-text.txt": FGDC_TEXT.format(date="2020-09-02"),
    # ISO 19139, as catalogues (GeoNetwork, data.gov) publish it.
    "iso19139.xml": (
        '<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd"'
        ' xmlns:gco="http://www.isotc211.org/2005/gco"'
        ' xmlns:gml="http://www.opengis.net/gml/3.2">'
        "<gmd:dateStamp><gco:Date>2021-01-15</gco:Date></gmd:dateStamp>"
        "<gmd:identificationInfo><gmd:MD_DataIdentification><gmd:extent><gmd:EX_Extent>"
        "<gmd:temporalElement><gmd:EX_TemporalExtent><gmd:extent>"
        '<gml:TimePeriod gml:id="t1"><gml:beginPosition>2020-09-02</gml:beginPosition>'
        "<gml:endPosition>2020-09-10</gml:endPosition></gml:TimePeriod>"
        "</gmd:extent></gmd:EX_TemporalExtent></gmd:temporalElement>"
        "</gmd:EX_Extent></gmd:extent></gmd:MD_DataIdentification></gmd:identificationInfo>"
        "</gmd:MD_Metadata>"
    ),
    # ArcGIS metadata, as ArcGIS Pro writes NAME.tif.xml.
    "arcgis.tif.xml": (
        "<metadata><Esri><CreaDate>20210105</CreaDate></Esri><dataIdInfo><dataExt><tempEle>"
        "<TempExtent><exTemp><TM_Instant><tmPosition>2020-09-02T00:00:00</tmPosition>"
        "</TM_Instant></exTemp></TempExtent></tempEle></dataExt></dataIdInfo></metadata>"
    ),
}


@pytest.mark.parametrize("name", METADATA_VARIANTS)
def test_metadata_as_other_systems_write_it_beats_the_tiff_tag(name: str, tmp_path: Path) -> None:
    stem = name.split(".")[0]
    raster = _tagged(tmp_path / f"{stem}.tif")
    (tmp_path / name).write_text(METADATA_VARIANTS[name], encoding="utf-8")
    assert fgdc_date(raster) == file_date(raster) == dt.date(2020, 9, 2)


def test_the_tiff_tag_is_used_last_with_a_warning(tmp_path: Path) -> None:
    path = _tagged(tmp_path / "ortho.tif", "2021:01:05 10:30:00")
    with pytest.warns(UserWarning, match=r"put the file's FGDC metadata \(ortho.xml\) beside"):
        assert file_date(path) == dt.date(2021, 1, 5)
    # Metadata that holds no date: the advice is --date, not to add what is there.
    (tmp_path / "ortho.xml").write_text("<metadata><idinfo/></metadata>")
    with pytest.warns(UserWarning, match="TIFF DateTime tag, which NAIP producers set to the") as w:
        assert file_date(path) == dt.date(2021, 1, 5)
    assert "metadata beside it (ortho.xml) gives no time period of content; give the date" in str(
        w[0].message
    )


def test_stac_datetimes_rank_above_the_file_name(tmp_path: Path) -> None:
    import rasterio

    from torchgeo_datacenters.outputs.provenance import item_provenance, raster_provenance

    # tgdc download writes the items' datetimes as NAIP_DATES; they beat the file's name.
    path = write_scene(tmp_path / "m_4208701_ne_16_060_20200903.tif", 8, 8)
    with rasterio.open(path, "r+") as dst:
        dst.update_tags(NAIP_ITEMS="wi_m_4208701_ne_16_060_20200902", NAIP_DATES="2020-09-02")
    assert raster_provenance(path).dates == (dt.date(2020, 9, 2),)
    item = {
        "id": "wi_m_4208701_ne_16_060_20200903_20201204",
        "properties": {"datetime": "2020-09-02T00:00:00Z"},
        "geometry": {"type": "Point", "coordinates": [-87.9, 42.9]},
    }
    assert item_provenance(item, "a.tif", "https://x/item").dates == (dt.date(2020, 9, 2),)
