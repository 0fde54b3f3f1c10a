"""The loopback STAC API of tests/support, checked over real HTTP."""

import pystac_client
import pytest
import requests
from support.stac_server import NaipTestTiles, StacServer, parse_datetime_filter


def test_range_requests(naip_tiles: NaipTestTiles, stac_server: StacServer) -> None:
    url = stac_server.asset_url(naip_tiles.west)
    data = (naip_tiles.directory / naip_tiles.west).read_bytes()
    head = requests.head(url, timeout=5)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
    assert head.headers["Accept-Ranges"] == "bytes"
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=5)
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    tail = requests.get(url, headers={"Range": "bytes=-5"}, timeout=5)
    assert tail.content == data[-5:]
    beyond = requests.get(url, headers={"Range": f"bytes={len(data)}-"}, timeout=5)
    assert beyond.status_code == 416
    assert requests.get(url, timeout=5).content == data
    assert requests.get(stac_server.asset_url("nothing.tif"), timeout=5).status_code == 404
    assert [r.status for r in stac_server.requests_to("/assets/")] == [200, 206, 206, 416, 200, 404]


def test_search_by_get_with_paging_and_filters(
    naip_tiles: NaipTestTiles, stac_server: StacServer
) -> None:
    client = pystac_client.Client.open(stac_server.url)
    search = client.search(
        collections=["naip"], bbox=[-88.0, 42.9, -87.8, 43.0], limit=1, method="GET"
    )
    assert sorted(item.id for item in search.items()) == [
        "m_4208701_ne_16_east_20220815",
        "m_4208701_ne_16_old_20180610",
        "m_4208701_ne_16_west_20220701",
    ]
    assert len(stac_server.requests_to("/search", "GET")) == 3
    dated = client.search(collections=["naip"], datetime="2020-01-01/2020-12-31", method="GET")
    assert [item.id for item in dated.items()] == ["m_3211605_ne_11_060_20200415"]
    collection = client.get_collection("naip")
    assert len(list(collection.get_items())) == 4
    item = collection.get_item("m_3211605_ne_11_060_20200415")
    assert item.assets["image"].href == stac_server.asset_url(naip_tiles.san_diego)
    raw = requests.get(item.get_self_href(), timeout=5).json()
    assert raw["properties"]["proj:epsg"] == 26911
    assert raw["properties"]["datetime"] == "2020-04-15T00:00:00Z"


def test_failure_injection(stac_server: StacServer) -> None:
    stac_server.fail(1, 429, path_prefix="/conformance")
    assert requests.get(f"{stac_server.url}/conformance", timeout=5).status_code == 429
    assert requests.get(f"{stac_server.url}/conformance", timeout=5).status_code == 200
    stac_server.fail(None, None, path_prefix="/collections")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{stac_server.url}/collections", timeout=5)
    stac_server.clear_failures()
    assert requests.get(f"{stac_server.url}/collections", timeout=5).status_code == 200
    assert [r.status for r in stac_server.requests] == [429, 200, None, 200]


def test_datetime_filters() -> None:
    start, end = parse_datetime_filter("2020-01-01T00:00:00Z/..")
    assert (start.year, end) == (2020, None)
    start, end = parse_datetime_filter("2022-08-15T00:00:00Z")
    assert start == end and start.tzinfo is not None
