from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import rasterio
import shapely
from support.inference import UTM
from support.stac_server import StacServer

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.scan import bbox_region, read_aoi, scenes_in_directory, stac_scenes
from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings

GRID_IDS = [f"naip_r{row}c{col}_20220701" for row in range(2) for col in range(2)]


@pytest.fixture
def server(scan_data: Any) -> Iterator[StacServer]:
    with StacServer.from_directory(scan_data.stac_dir) as server:
        yield server


@pytest.fixture
def catalog(server: StacServer) -> NaipCatalog:
    return NaipCatalog(server.url, network=NetworkSettings(retries=2, backoff=0.01, timeout=5))


def region_of(paths: list[Path]) -> shapely.Geometry:
    """The footprint, in EPSG:4326, of GeoTIFFs in the test CRS."""
    boxes = []
    for path in paths:
        with rasterio.open(path) as src:
            boxes.append(shapely.box(*src.bounds))
    return gpd.GeoSeries([shapely.union_all(boxes)], crs=UTM).to_crs("EPSG:4326").iloc[0]


def test_scenes_in_directory_are_every_match_by_relative_path(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ["b/z.tif", "a.tif", "notes.txt"]:
        (tmp_path / name).write_bytes(b"")
    scenes = scenes_in_directory(tmp_path)
    assert [scene.id for scene in scenes] == ["a.tif", "b/z.tif"]
    assert scenes[1].path == tmp_path / "b" / "z.tif"
    with pytest.raises(TGDCError, match="no files matching"):
        scenes_in_directory(tmp_path, "*.jp2")
    with pytest.raises(TGDCError, match="does not exist"):
        scenes_in_directory(tmp_path / "missing")


def test_local_scene_must_exist_where_it_is_opened(tmp_path: Path) -> None:
    (tmp_path / "a.tif").write_bytes(b"")
    [scene] = scenes_in_directory(tmp_path)
    assert scene.fetch(tmp_path / "unused") == tmp_path / "a.tif"
    (tmp_path / "a.tif").unlink()
    with pytest.raises(TGDCError, match="file system every node mounts"):
        scene.fetch(tmp_path)


def test_bbox_region_is_checked() -> None:
    assert bbox_region([-81.0, 39.7, -80.9, 39.8]).bounds == (-81.0, 39.7, -80.9, 39.8)
    with pytest.raises(TGDCError, match="empty or inverted"):
        bbox_region([-80.9, 39.7, -81.0, 39.8])
    with pytest.raises(TGDCError, match="outside NAIP coverage"):
        bbox_region([2.0, 48.0, 2.5, 48.5])
    with pytest.raises(TGDCError, match="minlon minlat maxlon maxlat"):
        bbox_region([-81.0, 39.7, -80.9])


def test_read_aoi_unions_polygons_in_lonlat(tmp_path: Path) -> None:
    squares = [
        shapely.box(500000, 4400000, 501000, 4401000),
        shapely.box(502000, 4400000, 503000, 4401000),
    ]
    gpd.GeoDataFrame(geometry=squares, crs=UTM).to_file(tmp_path / "aoi.gpkg")
    area = read_aoi(tmp_path / "aoi.gpkg")
    assert area.geom_type == "MultiPolygon"
    expected = gpd.GeoSeries(squares, crs=UTM).to_crs("EPSG:4326").union_all()
    assert area.symmetric_difference(expected).area < 1e-12
    gpd.GeoDataFrame(geometry=[shapely.Point(-81, 39.7)], crs="EPSG:4326").to_file(
        tmp_path / "points.geojson"
    )
    with pytest.raises(TGDCError, match="holds no polygon"):
        read_aoi(tmp_path / "points.geojson")
    with pytest.raises(TGDCError, match="does not exist"):
        read_aoi(tmp_path / "missing.geojson")
    (tmp_path / "bad.geojson").write_text("{")
    with pytest.raises(TGDCError, match="not a readable vector file"):
        read_aoi(tmp_path / "bad.geojson")


def test_stac_scenes_are_the_newest_items_over_the_region(
    scan_data: Any, catalog: NaipCatalog
) -> None:
    region = region_of(scan_data.grid).buffer(-1e-4)
    scenes = stac_scenes(catalog, region)
    # The 2018 item lies under the 2022 top-left item: only the newest imagery is scanned.
    assert [scene.id for scene in scenes] == GRID_IDS
    assert [scene.id for scene in stac_scenes(catalog, region, 2018)] == ["naip_r0c0_20180610"]
    top_left = shapely.box(*region_of(scan_data.grid[:1]).buffer(-1e-4).bounds)
    assert [scene.id for scene in stac_scenes(catalog, top_left)] == [GRID_IDS[0]]
    with pytest.raises(TGDCError, match="no NAIP imagery in 2019"):
        stac_scenes(catalog, region, 2019)


def test_stac_scene_fetches_a_downloaded_copy_of_the_item(
    scan_data: Any, catalog: NaipCatalog, server: StacServer, tmp_path: Path
) -> None:
    scene = stac_scenes(catalog, region_of(scan_data.grid[:1]).buffer(-1e-4))[0]
    path = scene.fetch(tmp_path)
    assert path == tmp_path / f"{scene.id}.tif"
    assert path.read_bytes() == (scan_data.stac_dir / path.name).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert server.requests_to("/assets/", "GET")


def test_stac_scene_download_failure_names_the_file(
    scan_data: Any, catalog: NaipCatalog, server: StacServer, tmp_path: Path
) -> None:
    scene = stac_scenes(catalog, region_of(scan_data.grid[:1]).buffer(-1e-4))[0]
    server.fail(None, 503, path_prefix="/assets/")
    message = rf"could not download .*{scene.id}\.tif after 2 retries"
    with pytest.raises(TGDCError, match=message):
        scene.fetch(tmp_path)
    assert len(server.requests_to("/assets/")) == 3
    assert not list(tmp_path.iterdir())
