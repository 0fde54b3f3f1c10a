"""``tgdc download`` run in-process against the loopback STAC API."""

import datetime as dt
import socket
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
import shapely
from support.inference import save_checkpoint
from support.stac_server import NaipTestTiles, StacServer

from torchgeo_datacenters.cli import main

FAST = ["--retries", "2", "--backoff", "0.01", "--timeout", "5"]


def download(server_url: str, *args: str) -> int:
    return main(["download", "--stac-url", server_url, *FAST, *args])


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_scene(
    naip_tiles: NaipTestTiles,
    stac_server: StacServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lon, lat = naip_tiles.lonlat(70, naip_tiles.split)
    output = tmp_path / "scene.tif"
    args = ["--lat", str(lat), "--lon", str(lon), "--year", "2022", "--output", str(output)]
    assert download(stac_server.url, *args) == 0
    captured = capsys.readouterr()
    assert one_line(captured.out).startswith(f"tgdc download: wrote {output}: 2560x2560 px")
    assert captured.err == ""
    with rasterio.open(output) as src:
        # The seed's default size: 2560 px of 0.6 m, most of it nodata here.
        assert (src.width, src.height, src.count, src.crs.to_epsg()) == (2560, 2560, 4, 26916)
    # A second run refuses to overwrite, in one line.
    assert download(stac_server.url, *args) == 2
    assert "already exists; pass --overwrite" in one_line(capsys.readouterr().err)


def test_sites(
    naip_tiles: NaipTestTiles,
    stac_server: StacServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    polygons = [
        shapely.Point(*naip_tiles.lonlat(r, c)).buffer(1e-4) for r, c in [(50, 50), (90, 120)]
    ]
    labels = tmp_path / "labels.geojson"
    gpd.GeoDataFrame(
        {"fid": [7, 8], "class": ["datacenter", "retail"], "label": [True, False]},
        geometry=polygons,
        crs="EPSG:4326",
    ).to_file(labels)
    out = tmp_path / "chips"
    args = [
        "--sites",
        str(labels),
        "--output-dir",
        str(out),
        "--chip-size",
        "24",
        "--per-site",
        "2",
    ]
    assert download(stac_server.url, *args) == 0
    line = one_line(capsys.readouterr().out)
    assert "wrote 4 chip(s), skipped 0 already complete, 0 without imagery" in line
    assert sorted(p.name for p in out.iterdir()) == [
        "site_7_0.tif",
        "site_7_1.tif",
        "site_8_0.tif",
        "site_8_1.tif",
    ]
    assert download(stac_server.url, *args) == 0
    assert "wrote 0 chip(s), skipped 4 already complete" in one_line(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lat", "51.5", "--lon", "-0.12", "--output", "{tmp}/x.tif"], "outside NAIP coverage"),
        (["--lat", "95", "--lon", "-82", "--output", "{tmp}/x.tif"], "lat: 95.0 is not a latitude"),
        (["--lat", "40", "--lon", "-82", "--size", "0", "--output", "{tmp}/x.tif"], "size"),
        (["--lat", "40", "--lon", "-82"], "give --output"),
        (["--sites", "{tmp}/labels.geojson"], "--sites needs --output-dir"),
        (["--sites", "{tmp}/l.geojson", "--output", "{tmp}/x.tif"], "leave out --lat"),
        (["--lat", "40", "--lon", "-82", "--output", "{tmp}/x.tif", "--year", "1990"], "1990"),
        (["--sites", "{tmp}/missing.geojson", "--output-dir", "{tmp}"], "does not exist"),
        (["--sites", "{tmp}", "--output-dir", "{tmp}"], "is a directory GDAL does not read"),
    ],
)
def test_user_errors_are_one_line_before_any_request(
    args: list[str],
    message: str,
    stac_server: StacServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert download(stac_server.url, *[a.format(tmp=tmp_path) for a in args]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("tgdc download: error: ") and message in line
    assert stac_server.requests == []
    assert list(tmp_path.iterdir()) == []


def test_network_errors_are_one_line(
    naip_tiles: NaipTestTiles,
    stac_server: StacServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lon, lat = naip_tiles.lonlat(70, 80)
    scene = [
        "--lat",
        str(lat),
        "--lon",
        str(lon),
        "--size",
        "32",
        "--output",
        str(tmp_path / "x.tif"),
    ]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    assert download(closed, *scene) == 2
    assert "is unreachable ([Errno 111] Connection refused)" in one_line(capsys.readouterr().err)

    assert download(stac_server.url, *scene, "--year", "2015") == 2
    assert "no NAIP imagery in 2015" in one_line(capsys.readouterr().err)

    stac_server.fail(None, 503)
    assert download(stac_server.url, *scene) == 2
    assert "kept failing (too many 503 error responses)" in one_line(capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_download_detect_change_with_pixels_flown_on_several_days(
    naip_tiles: NaipTestTiles,
    stac_server: StacServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 2022: the tile's west half was flown on 2022-07-01, its east half on 2022-08-15; the
    # 2018 item covers both. A model marking every valid pixel finds one detection across
    # both halves: it carries the range of its pixels' dates, and tgdc change reads it.
    checkpoint = save_checkpoint(tmp_path / "model.ckpt", logit=5.0)
    lon, lat = naip_tiles.lonlat(70, naip_tiles.split)
    fast = ["--tile-size", "128", "--overlap", "16", "--device", "cpu", "--num-workers", "0"]
    vintages = []
    for year in ("2018", "2022"):
        scene, found = tmp_path / f"{year}.tif", tmp_path / f"{year}.geojson"
        args = ["--lat", str(lat), "--lon", str(lon), "--size", "256", "--year", year]
        assert download(stac_server.url, *args, "--output", str(scene)) == 0
        detect = ["detect", "--checkpoint", str(checkpoint), "--image", str(scene), *fast]
        assert main([*detect, "--output-geojson", str(found), "--min-area", "0"]) == 0
        vintages.append(found)
    (old,) = gpd.read_file(vintages[0], datetime_as_string=True)["acquired"]
    (new,) = gpd.read_file(vintages[1], datetime_as_string=True)["acquired"]
    assert old == "2018-06-10"
    assert new == "2022-07-01/2022-08-15"
    capsys.readouterr()
    sites = tmp_path / "change.geojson"
    assert main(["change", "--detections", *map(str, vintages), "--output", str(sites)]) == 0
    (site,) = gpd.read_file(sites, datetime_as_string=True).itertuples()
    assert (str(site.first_seen)[:10], str(site.last_seen)[:10]) == ("2018-06-10", "2022-07-01")


def test_download_detect_change_with_an_item_dated_by_an_interval(
    naip_tiles: NaipTestTiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The 2018 item has no datetime, only start_datetime and end_datetime (a mosaic flown
    # from 2018-06-10 to 2018-06-14, as STAC allows): its detection carries the range, and
    # tgdc change reads it by its first day.
    checkpoint = save_checkpoint(tmp_path / "model.ckpt", logit=5.0)
    lon, lat = naip_tiles.lonlat(70, naip_tiles.split)
    fast = ["--tile-size", "128", "--overlap", "16", "--device", "cpu", "--num-workers", "0"]
    ends = {naip_tiles.old: dt.datetime(2018, 6, 14, 23, 59, 59, tzinfo=dt.UTC)}
    vintages = []
    with StacServer.from_directory(naip_tiles.directory, ends=ends) as server:
        for year in ("2018", "2022"):
            scene, found = tmp_path / f"{year}.tif", tmp_path / f"{year}.geojson"
            args = ["--lat", str(lat), "--lon", str(lon), "--size", "256", "--year", year]
            assert download(server.url, *args, "--output", str(scene)) == 0
            detect = ["detect", "--checkpoint", str(checkpoint), "--image", str(scene), *fast]
            assert main([*detect, "--output-geojson", str(found), "--min-area", "0"]) == 0
            vintages.append(found)
    (old,) = gpd.read_file(vintages[0], datetime_as_string=True)["acquired"]
    assert old == "2018-06-10/2018-06-14"
    capsys.readouterr()
    sites = tmp_path / "change.geojson"
    assert main(["change", "--detections", *map(str, vintages), "--output", str(sites)]) == 0
    (site,) = gpd.read_file(sites, datetime_as_string=True).itertuples()
    assert (str(site.first_seen)[:10], str(site.last_seen)[:10]) == ("2018-06-10", "2022-07-01")


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(21.3069, -157.8583), (18.4655, -66.1057), (18.3419, -64.9307)],
    ids=["Honolulu", "San Juan", "Charlotte Amalie"],
)
def test_hawaii_puerto_rico_and_virgin_islands_are_searched(
    lat: float,
    lon: float,
    stac_server: StacServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = str(tmp_path / "x.tif")
    assert (
        download(
            stac_server.url, "--lat", str(lat), "--lon", str(lon), "--size", "32", "--output", out
        )
        == 2
    )
    # The loopback catalogue covers these places but holds no tiles there: searched, none found.
    assert "no NAIP imagery in any year" in one_line(capsys.readouterr().err)
    assert any(record.path == "/search" for record in stac_server.requests)
    assert list(tmp_path.iterdir()) == []


def test_ocean_point_is_refused_naming_what_is_covered(
    stac_server: StacServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.tif")
    assert download(stac_server.url, "--lat", "30", "--lon", "-140", "--output", out) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("tgdc download: error: ") and "outside NAIP coverage" in line
    for part in ("contiguous states", "Hawaii", "Puerto Rico", "US Virgin Islands"):
        assert part in line
    assert stac_server.requests == []
    assert list(tmp_path.iterdir()) == []
