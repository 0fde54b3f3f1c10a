from pathlib import Path

import numpy as np
import pytest
import rasterio
from support.stac_server import NaipTestTiles, StacServer

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings, download_scene


def scene_at_seam(naip_tiles: NaipTestTiles, catalog: NaipCatalog, output: Path) -> np.ndarray:
    """Download 32 x 32 px across the seam of the two 2022 items; return its pixels."""
    lon, lat = naip_tiles.lonlat(70, naip_tiles.split)
    result = download_scene(output, lat=lat, lon=lon, size=32, year=2022, catalog=catalog)
    with rasterio.open(result.path) as src:
        return src.read()


def statuses(server: StacServer, prefix: str = "/") -> list[int | None]:
    return [record.status for record in server.requests_to(prefix)]


@pytest.fixture
def reference(naip_tiles: NaipTestTiles, catalog: NaipCatalog, tmp_path: Path) -> np.ndarray:
    """The seam scene downloaded without failures."""
    return scene_at_seam(naip_tiles, catalog, tmp_path / "reference.tif")


def test_first_two_requests_fail_with_503(
    naip_tiles: NaipTestTiles, stac_server: StacServer, network: NetworkSettings, tmp_path: Path
) -> None:
    stac_server.fail(2, 503)
    catalog = NaipCatalog(stac_server.url, network=network)
    data = scene_at_seam(naip_tiles, catalog, tmp_path / "scene.tif")
    assert statuses(stac_server)[:3] == [503, 503, 200]
    assert data.shape == (4, 32, 32) and (data > 0).all()


def test_asset_requests_failing_with_503_are_retried_by_gdal(
    naip_tiles: NaipTestTiles,
    stac_server: StacServer,
    catalog: NaipCatalog,
    reference: np.ndarray,
    tmp_path: Path,
) -> None:
    stac_server.clear_log()
    stac_server.fail(2, 503, path_prefix="/assets/")
    data = scene_at_seam(naip_tiles, catalog, tmp_path / "scene.tif")
    assert statuses(stac_server, "/assets/").count(503) == 2
    np.testing.assert_array_equal(data, reference)


def test_dropped_connections_are_retried(
    naip_tiles: NaipTestTiles,
    stac_server: StacServer,
    catalog: NaipCatalog,
    reference: np.ndarray,
    tmp_path: Path,
) -> None:
    stac_server.clear_log()
    # The search POST and the image reads each lose their connection twice.
    stac_server.fail(2, None, path_prefix="/search")
    stac_server.fail(2, None, path_prefix="/assets/")
    data = scene_at_seam(naip_tiles, catalog, tmp_path / "scene.tif")
    assert statuses(stac_server, "/search")[:3] == [None, None, 200]
    assert statuses(stac_server, "/assets/").count(None) == 2
    np.testing.assert_array_equal(data, reference)


def test_api_that_always_fails(
    naip_tiles: NaipTestTiles, stac_server: StacServer, catalog: NaipCatalog, tmp_path: Path
) -> None:
    stac_server.fail(None, 503)
    with pytest.raises(TGDCError, match=r"kept failing \(too many 503 error responses\)"):
        scene_at_seam(naip_tiles, catalog, tmp_path / "scene.tif")
    assert statuses(stac_server) == [503] * (catalog.network.retries + 1)
    assert list(tmp_path.iterdir()) == []


def test_images_that_always_fail(
    naip_tiles: NaipTestTiles, stac_server: StacServer, catalog: NaipCatalog, tmp_path: Path
) -> None:
    stac_server.fail(None, 503, path_prefix="/assets/")
    with pytest.raises(TGDCError, match=r"could not read http://127\.0\.0\.1:\d+/assets/.*503"):
        scene_at_seam(naip_tiles, catalog, tmp_path / "scene.tif")
    assert stac_server.requests_to("/assets/") != []
    assert list(tmp_path.iterdir()) == []


def test_api_errors_name_the_status(stac_server: StacServer) -> None:
    catalog = NaipCatalog(f"{stac_server.url}/nowhere", network=NetworkSettings(retries=0))
    with pytest.raises(TGDCError, match="/nowhere answered HTTP 404"):
        _ = catalog.client


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"retries": -1}, "retries"), ({"backoff": -0.1}, "backoff"), ({"timeout": 0}, "timeout")],
)
def test_invalid_settings(kwargs: dict, field: str) -> None:
    with pytest.raises(TGDCError, match=field):
        NetworkSettings(**kwargs)
