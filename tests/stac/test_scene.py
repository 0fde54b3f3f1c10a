import socket
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
from rasterio.warp import transform
from support.stac_server import NaipTestTiles, StacServer

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings, download_scene


def closed_port_url() -> str:
    """The URL of a loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_scene_across_two_items(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, tmp_path: Path
) -> None:
    lon, lat = naip_tiles.lonlat(70, naip_tiles.split)
    result = download_scene(tmp_path / "scene.tif", lat=lat, lon=lon, size=60, catalog=catalog)
    assert result.item_ids == ("m_4208701_ne_16_east_20220815", "m_4208701_ne_16_west_20220701")
    assert result.dates == ("2022-07-01", "2022-08-15")
    assert result.coverage == 1.0
    with rasterio.open(result.path) as src:
        assert src.crs.to_epsg() == 26916  # the local UTM zone
        assert src.res == (0.6, 0.6)
        assert (src.width, src.height, src.count) == (60, 60, 4)
        assert src.dtypes == ("uint8",) * 4 and src.nodata == 0
        xs, ys = transform("EPSG:4326", src.crs, [lon], [lat])
        left, bottom, right, top = src.bounds
        assert left < xs[0] < right and bottom < ys[0] < top
        col, row = ~naip_tiles.transform @ (left, top)
        row, col = round(row), round(col)
        np.testing.assert_array_equal(
            src.read(), naip_tiles.data[:, row : row + 60, col : col + 60]
        )
    assert "2 NAIP item(s) acquired 2022-07-01, 2022-08-15" in result.summary()


def test_scene_by_bbox_of_one_year(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, tmp_path: Path
) -> None:
    west, north = naip_tiles.lonlat(10, 10)
    east, south = naip_tiles.lonlat(40, 60)
    result = download_scene(
        tmp_path / "old.tif", bbox=(west, south, east, north), year=2018, catalog=catalog
    )
    assert result.item_ids == ("m_4208701_ne_16_old_20180610",)
    with rasterio.open(result.path) as src:
        assert src.crs.to_epsg() == 26916 and src.res == (0.6, 0.6)
        assert 50 <= src.width <= 52 and 30 <= src.height <= 32
        col, row = ~naip_tiles.transform @ (src.bounds.left, src.bounds.top)
        row, col = round(row) + naip_tiles.pad, round(col) + naip_tiles.pad
        expected = np.maximum(naip_tiles.old_data, 1)[
            :, row : row + src.height, col : col + src.width
        ]
        np.testing.assert_array_equal(src.read(), expected)


def test_outside_the_us_fails_before_any_request(
    catalog: NaipCatalog, stac_server: StacServer, tmp_path: Path
) -> None:
    with pytest.raises(TGDCError, match="outside NAIP coverage"):
        download_scene(tmp_path / "x.tif", lat=48.8566, lon=2.3522, size=256, catalog=catalog)
    assert stac_server.requests == []
    assert list(tmp_path.iterdir()) == []


def test_coverage_is_the_collection_extent(catalog: NaipCatalog) -> None:
    assert len(catalog.coverage) == 4  # the parts of the extent, not its overall box
    catalog.check_covered(shapely.Point(-157.86, 21.31))
    # Inside the overall box of the extent, outside every part: open Pacific.
    with pytest.raises(TGDCError, match=r"outside NAIP coverage: collection 'naip' .* covers lon"):
        catalog.check_covered(shapely.Point(-140.0, 30.0))
    advice = "longitude comes first: read the other way round, it is lon -80 to -79.9"
    # An area of interest whose file holds latitude first.
    with pytest.raises(TGDCError, match=advice):
        catalog.check_covered(shapely.box(35.0, -80.0, 35.1, -79.9))


def test_no_items_for_the_year(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, tmp_path: Path
) -> None:
    lon, lat = naip_tiles.lonlat(70, 80)
    with pytest.raises(TGDCError, match="no NAIP imagery in 2015 at lat"):
        download_scene(tmp_path / "x.tif", lat=lat, lon=lon, size=64, year=2015, catalog=catalog)
    with pytest.raises(TGDCError, match="no NAIP imagery in any year"):
        download_scene(tmp_path / "x.tif", lat=39.0, lon=-77.4, size=64, catalog=catalog)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_api(tmp_path: Path) -> None:
    catalog = NaipCatalog(closed_port_url(), network=NetworkSettings(retries=1, backoff=0.01))
    with pytest.raises(TGDCError, match=r"is unreachable \(.*Connection refused\)"):
        download_scene(tmp_path / "x.tif", lat=40.0, lon=-82.7, size=64, catalog=catalog)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_is_refused_before_any_request(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, stac_server: StacServer, tmp_path: Path
) -> None:
    output = tmp_path / "scene.tif"
    output.write_bytes(b"keep me")
    lon, lat = naip_tiles.lonlat(70, 80)
    with pytest.raises(TGDCError, match="already exists"):
        download_scene(output, lat=lat, lon=lon, size=32, catalog=catalog)
    assert stac_server.requests == []
    download_scene(output, lat=lat, lon=lon, size=32, catalog=catalog, overwrite=True)
    with rasterio.open(output) as src:
        assert src.width == 32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lat": 40.0, "lon": -82.7}, "give lat, lon and size"),
        ({"lat": 40.0, "lon": -82.7, "size": 64, "bbox": (-83, 40, -82.9, 40.1)}, "not both"),
        ({"bbox": (-83, 40, -82.9)}, "expected minlon minlat maxlon maxlat"),
        ({"lat": 40.0, "lon": -82.7, "size": 64, "year": 1999}, "has no NAIP imagery"),
    ],
)
def test_invalid_requests(
    kwargs: dict, message: str, catalog: NaipCatalog, stac_server: StacServer, tmp_path: Path
) -> None:
    with pytest.raises(TGDCError, match=message):
        download_scene(tmp_path / "x.tif", catalog=catalog, **kwargs)
    assert stac_server.requests == []
