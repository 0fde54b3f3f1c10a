"""Downloads against a loopback STAC API that drops, cuts short or refuses image reads.

The served COG holds real NAIP pixels and is large enough that GDAL reads it in several
range requests (header, then tiles), so a fault can hit a read after the file is open.
"""

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from support.data import shared_data
from support.stac_server import RES, RequestRecord, StacServer, write_cog

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings, download_scene

#: A real NAIP tile (5 m, 723 x 934 px), served as if it were 0.6 m imagery of 2022.
SOURCE = "m_4709963_se_14_1_20200831.tif"
SERVED = "m_4709963_se_14_big_20220701.tif"
#: Side of the downloaded scene, in pixels: most of the served tile.
SIZE = 640
RETRIES = 2


@pytest.fixture(scope="module")
def served_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with one 2.4 MB COG of 64-pixel tiles."""
    out = tmp_path_factory.mktemp("big_cog")
    with rasterio.open(shared_data("naip", SOURCE)) as src:
        origin = Affine(
            RES, 0, round(src.transform.c / RES) * RES, 0, -RES, round(src.transform.f / RES) * RES
        )
        write_cog(out / SERVED, src.read(), src.crs, origin)
    return out


@pytest.fixture
def stac_server(served_directory: Path) -> Iterator[StacServer]:
    with StacServer.from_directory(served_directory) as server:
        yield server


@pytest.fixture
def catalog(stac_server: StacServer) -> NaipCatalog:
    return NaipCatalog(stac_server.url, network=NetworkSettings(RETRIES, backoff=0.01, timeout=5))


def centre(served_directory: Path) -> tuple[float, float]:
    """Latitude and longitude of the served tile's centre."""
    with rasterio.open(served_directory / SERVED) as src:
        middle = gpd.GeoSeries([shapely.box(*src.bounds).centroid], crs=src.crs).to_crs(4326)
    return middle.iloc[0].y, middle.iloc[0].x


def download(served_directory: Path, catalog: NaipCatalog, output: Path) -> np.ndarray:
    lat, lon = centre(served_directory)
    download_scene(output, lat=lat, lon=lon, size=SIZE, year=2022, catalog=catalog)
    with rasterio.open(output) as src:
        return src.read()


def image_reads(server: StacServer) -> list[RequestRecord]:
    return server.requests_to("/assets/", "GET")


def promised_bytes(read: RequestRecord) -> int:
    """The length of a range request's range."""
    first, last = (int(part) for part in read.range.removeprefix("bytes=").split("-"))
    return last - first + 1


def test_a_read_cut_short_mid_file_is_retried(
    served_directory: Path, stac_server: StacServer, catalog: NaipCatalog, tmp_path: Path
) -> None:
    reference = download(served_directory, catalog, tmp_path / "reference.tif")
    clean = image_reads(stac_server)
    assert len(clean) >= 2, "the COG must take several range requests"
    stac_server.clear_log()
    # The first tile read after the header gets half its promised bytes, then a close.
    stac_server.fail(1, path_prefix="/assets/", methods=["GET"], truncate=True, skip=1)
    data = download(served_directory, catalog, tmp_path / "scene.tif")
    reads = image_reads(stac_server)
    # GDAL may fetch tiles in parallel, so the log's order is not the order of the requests:
    # the cut read is the one that got fewer bytes than its range promised.
    [cut] = [read for read in reads if read.body_bytes < promised_bytes(read)]
    assert cut.body_bytes == promised_bytes(cut) // 2
    assert not cut.range.startswith("bytes=0-"), "the header read is skipped"
    assert len(reads) > len(clean)
    np.testing.assert_array_equal(data, reference)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["reference.tif", "scene.tif"]


def test_reads_cut_short_every_time_fail_within_the_retries(
    served_directory: Path, stac_server: StacServer, catalog: NaipCatalog, tmp_path: Path
) -> None:
    stac_server.fail(None, path_prefix="/assets/", methods=["GET"], truncate=True, skip=0)
    with pytest.raises(TGDCError, match=f"with up to {RETRIES} retries.*rerun to resume"):
        download(served_directory, catalog, tmp_path / "scene.tif")
    # Each attempt opens the file afresh (reads its header), then its tile reads are cut
    # short: retries + 1 attempts, no more.
    headers = [read for read in image_reads(stac_server) if read.range.startswith("bytes=0-")]
    assert len(headers) == RETRIES + 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("status", "attempts"), [(503, RETRIES + 1), (429, RETRIES + 1), (404, 1)])
def test_http_errors_are_retried_by_status(
    served_directory: Path,
    stac_server: StacServer,
    catalog: NaipCatalog,
    tmp_path: Path,
    status: int,
    attempts: int,
) -> None:
    stac_server.fail(None, status, path_prefix="/assets/")
    with pytest.raises(TGDCError, match=f"HTTP response code: {status}"):
        download(served_directory, catalog, tmp_path / "scene.tif")
    assert [record.status for record in stac_server.requests_to("/assets/")] == [status] * attempts


def test_a_chip_truncated_on_disk_is_downloaded_again(
    served_directory: Path,
    stac_server: StacServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lat, lon = centre(served_directory)
    sites = tmp_path / "sites.geojson"
    gpd.GeoDataFrame(
        {"fid": [1]}, geometry=[shapely.Point(lon, lat).buffer(1e-4)], crs="EPSG:4326"
    ).to_file(sites)
    out = tmp_path / "chips"
    args = ["download", "--stac-url", stac_server.url, "--retries", "1", "--backoff", "0.01"]
    args += ["--sites", str(sites), "--output-dir", str(out), "--chip-size", "512"]
    assert main(args) == 0
    chip = out / "site_1_0.tif"
    with rasterio.open(chip) as src:
        expected = src.read()
    capsys.readouterr()
    # Cut the chip after its header and first tiles, as a killed run or a full disk would.
    chip.write_bytes(chip.read_bytes()[: chip.stat().st_size // 2])
    stac_server.clear_log()
    assert main(args) == 0
    assert "wrote 1 chip(s), skipped 0 already complete" in capsys.readouterr().out
    assert image_reads(stac_server) != []
    with rasterio.open(chip) as src:
        np.testing.assert_array_equal(src.read(), expected)
    assert sorted(path.name for path in out.iterdir()) == ["site_1_0.tif"]
