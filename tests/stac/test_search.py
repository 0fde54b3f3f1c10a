import pytest
import shapely
from support.stac_server import NaipTestTiles, StacServer

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings


def tile_box(naip_tiles: NaipTestTiles) -> shapely.Polygon:
    """A lon/lat box inside the Milwaukee tile, across both halves."""
    west, north = naip_tiles.lonlat(20, 20)
    east, south = naip_tiles.lonlat(120, 150)
    return shapely.box(west, south, east, north)


def test_search_returns_items_newest_first(naip_tiles: NaipTestTiles, catalog: NaipCatalog) -> None:
    items = catalog.search(tile_box(naip_tiles))
    assert [item.id for item in items] == [
        "m_4208701_ne_16_east_20220815",
        "m_4208701_ne_16_west_20220701",
        "m_4208701_ne_16_old_20180610",
    ]
    assert [item.id for item in catalog.search(tile_box(naip_tiles), 2018)] == [
        "m_4208701_ne_16_old_20180610"
    ]
    assert catalog.search(tile_box(naip_tiles), 2020) == []


def test_search_follows_next_links(naip_tiles: NaipTestTiles) -> None:
    with StacServer.from_directory(naip_tiles.directory, max_limit=1) as server:
        catalog = NaipCatalog(server.url, network=NetworkSettings(retries=0))
        items = catalog.search(tile_box(naip_tiles))
        assert len(items) == 3
        # One POST per page of one item, the last link-less.
        assert len(server.requests_to("/search", "POST")) == 3


def test_asset_urls_off_azure_are_not_signed(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, stac_server: StacServer
) -> None:
    item = catalog.search(tile_box(naip_tiles), 2018)[0]
    assert catalog.asset_href(item) == stac_server.asset_url(naip_tiles.old)
    other = NaipCatalog(stac_server.url, asset_key="rendered_preview", network=catalog.network)
    with pytest.raises(TGDCError, match="has no 'rendered_preview' asset"):
        other.asset_href(item)


def test_urls_that_are_not_stac_apis(stac_server: StacServer, naip_tiles: NaipTestTiles) -> None:
    with pytest.raises(TGDCError, match="is not an http"):
        NaipCatalog("ftp://example.com/stac")
    catalog = NaipCatalog(stac_server.asset_url(naip_tiles.west), network=NetworkSettings(0))
    with pytest.raises(TGDCError, match="answered with something other than STAC JSON"):
        _ = catalog.client
    catalog = NaipCatalog(f"{stac_server.url}/conformance", network=NetworkSettings(0))
    with pytest.raises(TGDCError, match="did not answer with a STAC catalog"):
        _ = catalog.client


def test_client_is_opened_lazily(catalog: NaipCatalog, stac_server: StacServer) -> None:
    assert stac_server.requests == []
    _ = catalog.client
    assert stac_server.requests_to("/") != []
