from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from support.stac_server import NaipTestTiles, StacServer

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.stac import (
    NaipCatalog,
    download_site_chips,
    plan_site_chips,
    read_sites,
)
from torchgeo_datacenters.stac.chips import chip_offsets

CHIP = 32


@pytest.fixture
def sites(naip_tiles: NaipTestTiles) -> gpd.GeoDataFrame:
    """Three sites: one on each 2022 half of the Milwaukee tile and one near San Diego."""
    with rasterio.open(naip_tiles.directory / naip_tiles.san_diego) as src:
        centre = shapely.box(*src.bounds).centroid
    san_diego = gpd.GeoSeries([centre.buffer(8, quad_segs=2)], crs=src.crs).to_crs(4326)
    polygons = [
        shapely.Point(*naip_tiles.lonlat(60, 40)).buffer(0.0001),
        shapely.Point(*naip_tiles.lonlat(80, 140)).buffer(0.0001),
        san_diego.iloc[0],
    ]
    return gpd.GeoDataFrame(
        {"fid": [11, 12, 13], "class": ["datacenter", "warehouse", "other"]},
        geometry=polygons,
        crs="EPSG:4326",
    )


def test_one_chip_per_site(
    naip_tiles: NaipTestTiles, sites: gpd.GeoDataFrame, catalog: NaipCatalog, tmp_path: Path
) -> None:
    out = tmp_path / "chips"
    result = download_site_chips(sites, out, chip_size=CHIP, catalog=catalog)
    names = ["site_11_0.tif", "site_12_0.tif", "site_13_0.tif"]
    assert sorted(path.name for path in out.iterdir()) == names
    assert [path.name for path in result.written] == names
    assert result.skipped == [] and result.without_imagery == []
    assert result.dates == {"2020-04-15", "2022-07-01", "2022-08-15"}
    for path, epsg, site in zip(result.written, [26916, 26916, 26911], sites.geometry, strict=True):
        with rasterio.open(path) as src:
            assert (src.width, src.height, src.count, src.res) == (CHIP, CHIP, 4, (0.6, 0.6))
            assert src.crs.to_epsg() == epsg and src.nodata == 0
            # The chip is centred on the site, to within half a pixel.
            centre = gpd.GeoSeries([site], crs=4326).to_crs(src.crs).iloc[0].centroid
            left, bottom, right, top = src.bounds
            assert abs((left + right) / 2 - centre.x) <= 0.3 + 1e-6
            assert abs((bottom + top) / 2 - centre.y) <= 0.3 + 1e-6
            assert (src.read() > 0).all()
    # The first chip holds the west half's real pixels.
    with rasterio.open(result.written[0]) as src:
        col, row = ~naip_tiles.transform @ (src.bounds.left, src.bounds.top)
        row, col = round(row), round(col)
        np.testing.assert_array_equal(
            src.read(), naip_tiles.data[:, row : row + CHIP, col : col + CHIP]
        )


def test_several_chips_per_site_are_shifted(sites: gpd.GeoDataFrame, tmp_path: Path) -> None:
    plans = plan_site_chips(sites.iloc[:1], tmp_path, chip_size=CHIP, per_site=3)
    assert [chip.path.name for chip in plans[0]] == [
        "site_11_0.tif",
        "site_11_1.tif",
        "site_11_2.tif",
    ]
    lefts = [chip.grid.bounds[0] for chip in plans[0]]
    tops = [chip.grid.bounds[3] for chip in plans[0]]
    # A quarter chip east, then a quarter chip north-east.
    assert lefts[1] - lefts[0] == pytest.approx(CHIP / 4 * 0.6)
    assert tops[1] == pytest.approx(tops[0])
    assert chip_offsets(3, CHIP)[2] == (6, 6)
    assert (lefts[2] - lefts[0], tops[2] - tops[0]) == pytest.approx((3.6, 3.6))


def test_interrupted_run_resumes(
    naip_tiles: NaipTestTiles, sites: gpd.GeoDataFrame, catalog: NaipCatalog, tmp_path: Path
) -> None:
    out = tmp_path / "chips"
    download_site_chips(sites, out, chip_size=CHIP, catalog=catalog)
    stamps = {path.name: path.stat().st_mtime_ns for path in out.iterdir()}
    # As if a run had stopped before its last site: that chip is missing.
    (out / "site_13_0.tif").unlink()
    with StacServer.from_directory(naip_tiles.directory) as server:
        again = NaipCatalog(server.url, network=catalog.network)
        result = download_site_chips(sites, out, chip_size=CHIP, catalog=again)
        assert [path.name for path in result.skipped] == ["site_11_0.tif", "site_12_0.tif"]
        assert [path.name for path in result.written] == ["site_13_0.tif"]
        assets = {record.path for record in server.requests_to("/assets/")}
        assert assets == {f"/assets/{naip_tiles.san_diego}"}
        assert len(server.requests_to("/search")) == 1
    for name in ("site_11_0.tif", "site_12_0.tif"):
        assert (out / name).stat().st_mtime_ns == stamps[name]
    # Everything complete: no request at all.
    with StacServer.from_directory(naip_tiles.directory) as server:
        again = NaipCatalog(server.url, network=catalog.network)
        result = download_site_chips(sites, out, chip_size=CHIP, catalog=again)
        assert len(result.skipped) == 3 and result.written == []
        assert server.requests == []


def test_a_different_file_under_a_chip_name_is_refused(
    sites: gpd.GeoDataFrame, catalog: NaipCatalog, stac_server: StacServer, tmp_path: Path
) -> None:
    download_site_chips(sites.iloc[:1], tmp_path, chip_size=CHIP, catalog=catalog)
    stac_server.clear_log()
    with pytest.raises(TGDCError, match=r"site_11_0\.tif: exists but is not a 48-pixel"):
        download_site_chips(sites.iloc[:1], tmp_path, chip_size=48, catalog=catalog)
    assert stac_server.requests == []
    result = download_site_chips(
        sites.iloc[:1], tmp_path, chip_size=48, catalog=catalog, overwrite=True
    )
    with rasterio.open(result.written[0]) as src:
        assert src.width == 48


def test_sites_without_imagery_are_reported(
    sites: gpd.GeoDataFrame, catalog: NaipCatalog, tmp_path: Path
) -> None:
    result = download_site_chips(
        sites.iloc[:2], tmp_path, chip_size=CHIP, year=2018, catalog=catalog
    )
    # The old item lies under both Milwaukee sites; with year 2020 nothing does.
    assert len(result.written) == 2
    result = download_site_chips(
        sites.iloc[:2], tmp_path / "none", chip_size=CHIP, year=2020, catalog=catalog
    )
    assert result.written == [] and len(result.without_imagery) == 2
    assert list((tmp_path / "none").iterdir()) == []
    assert "2 without imagery (site_11_0.tif, site_12_0.tif)" in result.summary()


def test_invalid_sites_fail_before_any_request(
    sites: gpd.GeoDataFrame, catalog: NaipCatalog, stac_server: StacServer, tmp_path: Path
) -> None:
    paris = sites.iloc[:1].assign(fid=[99], geometry=[shapely.Point(2.35, 48.86).buffer(1e-4)])
    with pytest.raises(TGDCError, match=r"site fid=99: .*outside NAIP coverage"):
        download_site_chips(pd.concat([sites, paris]), tmp_path, chip_size=CHIP, catalog=catalog)
    with pytest.raises(TGDCError, match="repeat"):
        download_site_chips(sites.assign(fid=[1, 1, 2]), tmp_path, catalog=catalog)
    with pytest.raises(TGDCError, match="chip_size"):
        download_site_chips(sites, tmp_path, chip_size=0, catalog=catalog)
    with pytest.raises(TGDCError, match="per_site"):
        download_site_chips(sites, tmp_path, per_site=0, catalog=catalog)
    assert stac_server.requests == []
    assert list(tmp_path.iterdir()) == []


def test_unreadable_sites_file(tmp_path: Path) -> None:
    text = tmp_path / "sites.geojson"
    text.write_text("not json at all")
    with pytest.raises(TGDCError, match=r"sites\.geojson: not a readable vector file"):
        read_sites(text)
