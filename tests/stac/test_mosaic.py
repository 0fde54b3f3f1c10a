from pathlib import Path

import numpy as np
import pytest
import rasterio
from support.stac_server import NaipTestTiles, StacServer

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.grid import Grid
from torchgeo_datacenters.stac import NaipCatalog, mosaic_items, write_mosaic
from torchgeo_datacenters.stac.grid import centred_grid


def grid_at(tiles: NaipTestTiles, row: float, col: float, size: int) -> Grid:
    """A grid of *size* pixels centred on a pixel of the Milwaukee tile."""
    x, y = tiles.transform @ (col, row)
    return centred_grid(tiles.crs, x, y, size)


def offset(tiles: NaipTestTiles, grid: Grid) -> tuple[int, int]:
    """Row and column of the grid's top-left pixel in the Milwaukee tile."""
    col, row = ~tiles.transform @ (grid.transform.c, grid.transform.f)
    assert (row, col) == pytest.approx((round(row), round(col)), abs=1e-6)
    return round(row), round(col)


def test_two_items_mosaic_seamlessly(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, stac_server: StacServer
) -> None:
    # 40 x 40 px across the seam between the west and east halves.
    grid = grid_at(naip_tiles, 70, naip_tiles.split, 40)
    items = catalog.search(grid.footprint(), 2022)
    assert [item.id for item in items] == [Path(naip_tiles.east).stem, Path(naip_tiles.west).stem]
    mosaic = mosaic_items(items, grid, catalog.asset_href, network=catalog.network)

    row, col = offset(naip_tiles, grid)
    assert col < naip_tiles.split < col + 40
    expected = naip_tiles.data[:, row : row + 40, col : col + 40]
    np.testing.assert_array_equal(mosaic.data, expected)
    assert mosaic.covered.all()
    assert [item.id for item in mosaic.items] == [item.id for item in items]
    assert [str(date) for date in mosaic.dates] == ["2022-07-01", "2022-08-15"]
    # Only part of each COG was fetched: never the whole file.
    for name in (naip_tiles.west, naip_tiles.east):
        served = sum(r.body_bytes for r in stac_server.requests_to(f"/assets/{name}"))
        assert 0 < served < (naip_tiles.directory / name).stat().st_size


def test_newest_on_top_and_nodata_beyond_every_item(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog
) -> None:
    height, width = naip_tiles.data.shape[1:]
    pad = naip_tiles.pad
    # Centred on the tile and larger than the padded old item: corners hold nothing.
    size = width + 2 * pad + 20
    grid = grid_at(naip_tiles, height / 2, width / 2, size)
    items = catalog.search(grid.footprint())
    assert len(items) == 3  # both halves and the old item, not San Diego
    mosaic = mosaic_items(items, grid, catalog.asset_href, network=catalog.network)

    row, col = offset(naip_tiles, grid)
    out = mosaic.data
    # The new tile, wherever it lies in the grid, wins over the old item beneath it.
    r0, c0 = -row, -col
    np.testing.assert_array_equal(out[:, r0 : r0 + height, c0 : c0 + width], naip_tiles.data)
    # Around it, the old item shows (its zeros raised to 1: 0 is nodata).
    old = np.maximum(naip_tiles.old_data, 1)
    ring = np.ones(old.shape[1:], dtype=bool)
    ring[pad:-pad, pad:-pad] = False
    old_window = out[:, r0 - pad : r0 + height + pad, c0 - pad : c0 + width + pad]
    np.testing.assert_array_equal(old_window[:, ring], old[:, ring])
    assert (naip_tiles.old_data == 0).any(), "the old item should hold zeros to raise"
    # Beyond the old item: nodata in every band, and not covered.
    covered = np.zeros(mosaic.covered.shape, dtype=bool)
    covered[r0 - pad : r0 + height + pad, c0 - pad : c0 + width + pad] = True
    np.testing.assert_array_equal(mosaic.covered, covered)
    assert (out[:, ~covered] == 0).all()
    assert (out[:, covered] > 0).all()
    assert mosaic.coverage == pytest.approx(covered.mean())


def test_items_hidden_by_newer_ones_are_not_read(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, stac_server: StacServer
) -> None:
    grid = grid_at(naip_tiles, 70, naip_tiles.split, 40)
    items = catalog.search(grid.footprint())
    assert Path(naip_tiles.old).stem in [item.id for item in items]
    mosaic = mosaic_items(items, grid, catalog.asset_href, network=catalog.network)
    assert Path(naip_tiles.old).stem not in [item.id for item in mosaic.items]
    assert stac_server.requests_to(f"/assets/{naip_tiles.old}") == []
    assert stac_server.requests_to(f"/assets/{naip_tiles.west}") != []


def test_bytes_read_counts_the_tiles_fetched(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, stac_server: StacServer
) -> None:
    # 10 x 10 px inside the west half's first 64 px tile: one tile of one file.
    grid = grid_at(naip_tiles, 20, 20, 10)
    items = catalog.search(grid.footprint(), 2022)
    mosaic = mosaic_items(items, grid, catalog.asset_href, network=catalog.network)
    with rasterio.open(naip_tiles.directory / naip_tiles.west) as src:
        assert mosaic.bytes_read == src.block_size(1, 0, 0)
    served = sum(r.body_bytes for r in stac_server.requests_to("/assets/"))
    assert 0 < mosaic.bytes_read <= served


def test_written_mosaic_is_a_4_band_cog_with_nodata_0(
    naip_tiles: NaipTestTiles, catalog: NaipCatalog, tmp_path: Path
) -> None:
    grid = grid_at(naip_tiles, 70, naip_tiles.split, 300)
    items = catalog.search(grid.footprint(), 2022)
    mosaic = mosaic_items(items, grid, catalog.asset_href, network=catalog.network)
    path = write_mosaic(mosaic, tmp_path / "scene.tif")
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert (src.count, src.dtypes, src.nodata) == (4, ("uint8",) * 4, 0)
        assert src.descriptions == ("R", "G", "B", "NIR")
        assert src.crs == grid.crs and src.transform == grid.transform
        assert src.overviews(1), "a 300 px COG with 256 px tiles has overviews"
        np.testing.assert_array_equal(src.read(), mosaic.data)
        np.testing.assert_array_equal(src.dataset_mask() > 0, mosaic.covered)
        assert src.tags()["NAIP_DATES"] == "2022-07-01,2022-08-15"
    with pytest.raises(TGDCError, match="already exists"):
        write_mosaic(mosaic, path)
    assert [p.name for p in tmp_path.iterdir()] == ["scene.tif"]
