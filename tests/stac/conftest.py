"""Fixtures for the STAC tests: real NAIP tiles as COGs behind a loopback STAC API.

The tiles are described in :mod:`support.stac_server` (``build_naip_test_tiles``); tests
that need them skip, with the reason, where ``../shared/data`` is absent.
"""

from collections.abc import Iterator

import pytest
from support.data import shared_data
from support.stac_server import NaipTestTiles, StacServer, build_naip_test_tiles

from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings


@pytest.fixture(scope="session")
def naip_tiles(tmp_path_factory: pytest.TempPathFactory) -> NaipTestTiles:
    """Real NAIP tiles as COGs (see :func:`build_naip_test_tiles`); skips without the data."""
    return build_naip_test_tiles(shared_data("naip"), tmp_path_factory.mktemp("naip_cogs"))


@pytest.fixture
def stac_server(naip_tiles: NaipTestTiles) -> Iterator[StacServer]:
    """A running STAC API serving :func:`naip_tiles`, fresh (new port) for every test."""
    with StacServer.from_directory(naip_tiles.directory) as server:
        yield server


@pytest.fixture
def network() -> NetworkSettings:
    """Retries with short waits, so that failure tests stay fast."""
    return NetworkSettings(retries=3, backoff=0.01, timeout=5)


@pytest.fixture
def catalog(stac_server: StacServer, network: NetworkSettings) -> NaipCatalog:
    """The NAIP collection of the test server."""
    return NaipCatalog(stac_server.url, network=network)
