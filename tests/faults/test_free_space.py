"""Free space checked before the work, by every command that writes files.

The file systems are real tmpfs mounts, filled to the last byte: each command refuses in
one line naming its output and what it needs, exits 2 and leaves nothing behind. The
estimates themselves are measured in ``tests/outputs/test_space.py``.
"""

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import shapely
from support.data import bbox_of
from support.stac_server import StacServer

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.scan import stac_scenes
from torchgeo_datacenters.scan.fetch import SceneFetcher
from torchgeo_datacenters.stac import NaipCatalog

from .conftest import TILING, error_lines, fill


@pytest.fixture(scope="module")
def detections(checkpoint: Path, scene: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The detections of ``tgdc detect`` on the fault tests' scene."""
    path = tmp_path_factory.mktemp("space-detections") / "d.geojson"
    args = ["--checkpoint", str(checkpoint), "--image", str(scene), "--output-geojson", str(path)]
    assert main(["detect", *args, *TILING]) == 0
    return path


def refusal(capfd: pytest.CaptureFixture[str], command: str, output: Path) -> str:
    """The one line a command printed, checked to refuse *output* for want of space."""
    lines = error_lines(capfd.readouterr().err)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith(f"tgdc {command}: error: {output}: cannot be written: no space")
    assert "MiB are free" in line and line.endswith("choose another directory")
    return line


@pytest.mark.parametrize("command", ["change", "compare", "review", "export"])
def test_a_full_file_system_is_refused_before_the_work(
    command: str,
    checkpoint: Path,
    scene: Path,
    detections: Path,
    mount_tmpfs: Callable[..., Path],
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = mount_tmpfs("full", size="64k")
    filler = fill(out)
    output, args = {
        "change": (
            out / "sites.geojson",
            ["--detections", f"{detections}@2020-01-01", f"{detections}@2022-01-01"],
        ),
        "compare": (
            out / "compared" / "matched.geojson",
            ["--detections", detections, "--inventory", detections, "--footprint", scene],
        ),
        "review": (out / "review.html", ["--detections", detections, "--image", scene]),
        "export": (out / "model.onnx", ["--checkpoint", checkpoint]),
    }[command]
    flag = {"compare": "--output-dir", "export": "--onnx"}.get(command, "--output")
    target = output.parent if command == "compare" else output
    status = main([command, *map(str, args), flag, str(target)])
    refusal(capfd, command, output)
    assert status == 2
    assert sorted(out.iterdir()) == [filler]


def test_chips_masks_are_counted_before_any_is_written(
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Was: a 0-byte mask written on the full disk, and "wrote 1 masks".
    import geopandas as gpd
    import rasterio

    chips = tmp_path / "chips"
    chips.mkdir()
    shutil.copy(scene, chips / "scene.tif")
    with rasterio.open(scene) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    labels = tmp_path / "labels.geojson"
    site = shapely.box(left + 10, bottom + 10, (left + right) / 2, (bottom + top) / 2)
    gpd.GeoDataFrame({"class": ["datacenter"]}, geometry=[site], crs=crs).to_file(labels)
    out = mount_tmpfs("full", size="64k")
    filler = fill(out)
    args = ["--chips-dir", str(chips), "--labels", str(labels), "--output-dir", str(out / "m")]
    status = main(["chips", *args])
    refusal(capfd, "chips", out / "m" / "scene.tif")
    assert status == 2
    assert sorted(out.iterdir()) == [filler]
    # Without the check (the library call), the full disk is an error, not a 0-byte mask.
    from torchgeo_datacenters.datasets import DataCenterLabels, write_chip_masks

    with pytest.raises(TGDCError, match=r"scene.tif: cannot be written: No space left on device"):
        write_chip_masks(chips, DataCenterLabels(labels), out / "m", progress=False)
    assert sorted(p.name for p in (out / "m").iterdir()) == []


def test_a_report_beside_the_output_is_counted_with_it(
    detections: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The sites file fits (64 KiB free); with the report's imagery they do not.
    out = mount_tmpfs("small", size="64k")
    dated = ["--detections", f"{detections}@2020-01-01", f"{detections}@2022-01-01"]
    report = ["--output-report", str(out / "change.html"), "--image", str(scene)]
    status = main(["change", *dated, "--output", str(out / "sites.geojson"), *report])
    line = refusal(capfd, "change", out / "sites.geojson")
    assert status == 2 and str(out / "change.html") in line
    assert list(out.iterdir()) == []
    assert main(["change", *dated, "--output", str(out / "sites.geojson")]) == 0


@pytest.mark.parametrize("command", ["detect", "batch-detect"])
@pytest.mark.parametrize("kind", ["report", "review", "stac"])
def test_run_outputs_are_counted_before_prediction(
    command: str,
    kind: str,
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The detections go to a disk with room; the page or catalogue, written from them once
    # prediction is over, to a full one: refused before prediction, so not even the
    # detections are written.
    out = mount_tmpfs("full", size="64k")
    filler = fill(out)
    output = out / ("stac" if kind == "stac" else f"{kind}.html")
    detections = tmp_path / "detections.geojson"
    source = ["--image", str(scene)] if command == "detect" else ["--chips-dir", str(scene.parent)]
    args = ["--checkpoint", str(checkpoint), *source, "--output-geojson", str(detections)]
    status = main([command, *args, f"--output-{kind}", str(output), *TILING])
    refusal(capfd, command, output)
    assert status == 2
    assert sorted(out.iterdir()) == [filler]
    assert not detections.exists()


def test_a_stac_output_in_a_read_only_directory_is_refused_before_the_work(
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    read_only = mount_tmpfs("ro", read_only=True)
    detections = tmp_path / "detections.geojson"
    args = ["--checkpoint", str(checkpoint), "--image", str(scene), "--output-geojson", detections]
    status = main(["detect", *map(str, args), "--output-stac", str(read_only / "stac"), *TILING])
    lines = error_lines(capfd.readouterr().err)
    assert lines == [
        f"tgdc detect: error: {read_only}: directory {read_only} is not writable (read-only"
        " file system); choose another output directory"
    ]
    assert status == 2 and not detections.exists()


def test_scan_of_local_scenes_is_refused_before_ray_starts(
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    shutil.copy(scene, scenes / "scene.tif")
    out = mount_tmpfs("full", size="64k")
    filler = fill(out)
    args = ["--checkpoint", str(checkpoint), "--scenes-dir", str(scenes)]
    status = main(["scan", *args, "--output-dir", str(out / "scan"), "--workers", "1"])
    lines = error_lines(capfd.readouterr().err)
    assert len(lines) == 1 and lines[0].startswith(f"tgdc scan: error: {out / 'scan'}/"), lines
    assert "no space left on device" in lines[0] and "MiB are free" in lines[0]
    assert status == 2
    assert sorted(out.iterdir()) == [filler]


def test_a_scan_report_is_counted_before_ray_starts(
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    shutil.copy(scene, scenes / "scene.tif")
    out = mount_tmpfs("full", size="64k")
    filler = fill(out)
    args = ["--checkpoint", str(checkpoint), "--scenes-dir", str(scenes), "--workers", "1"]
    report = ["--output-report", str(out / "scan.html")]
    status = main(["scan", *args, "--output-dir", str(tmp_path / "scan"), *report])
    refusal(capfd, "scan", out / "scan.html")
    assert status == 2
    assert sorted(out.iterdir()) == [filler]
    assert not (tmp_path / "scan").exists()


@pytest.fixture
def stac_dir(scene: Path, tmp_path: Path) -> Path:
    """The fault tests' scene as a NAIP file for a loopback STAC API."""
    directory = tmp_path / "stac"
    directory.mkdir()
    shutil.copy(scene, directory / "m_4008201_ne_17_060_20220701.tif")
    return directory


def test_scan_downloads_are_checked_in_the_temporary_directory_before_any_request(
    checkpoint: Path,
    stac_dir: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    downloads = mount_tmpfs("tmp", size="64k")
    filler = fill(downloads)
    monkeypatch.setattr(tempfile, "tempdir", str(downloads))
    with StacServer.from_directory(stac_dir) as server:
        region = ["--bbox", *map(str, bbox_of(sorted(stac_dir.iterdir())))]
        args = ["--checkpoint", str(checkpoint), *region, "--stac-url", server.url]
        status = main(["scan", *args, "--output-dir", str(tmp_path / "scan"), "--workers", "1"])
        assert not server.requests_to("/assets/")
    lines = error_lines(capfd.readouterr().err)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"tgdc scan: error: {downloads}/")
    assert "no space left on device" in lines[0]
    assert "set TMPDIR to a directory with space" in lines[0]
    assert status == 2
    assert sorted(downloads.iterdir()) == [filler]
    assert not (tmp_path / "scan").exists()


def test_a_worker_checks_its_download_before_reading_the_body(
    stac_dir: Path, mount_tmpfs: Callable[..., Path]
) -> None:
    downloads = mount_tmpfs("tmp", size="64k")
    with StacServer.from_directory(stac_dir) as server:
        catalog = NaipCatalog(server.url)
        region = shapely.box(*bbox_of(sorted(stac_dir.iterdir())))
        [stac_scene] = stac_scenes(catalog, region)
        refused = pytest.raises(TGDCError, match="set TMPDIR to a directory with space")
        with refused as error:
            stac_scene.fetch(downloads)
    assert ".tif: cannot be written: no space left on device" in str(error.value)
    assert list(downloads.iterdir()) == []


def test_a_read_only_temporary_directory_says_to_set_tmpdir(
    stac_dir: Path, mount_tmpfs: Callable[..., Path]
) -> None:
    downloads = mount_tmpfs("ro", read_only=True)
    with StacServer.from_directory(stac_dir) as server:
        catalog = NaipCatalog(server.url)
        region = shapely.box(*bbox_of(sorted(stac_dir.iterdir())))
        [stac_scene] = stac_scenes(catalog, region)
        refused = pytest.raises(TGDCError, match="set TMPDIR to a writable directory")
        # A worker refuses to start on it, before it is given any scene.
        with refused:
            SceneFetcher(downloads).take(stac_scene)
        assert not server.requests_to("/assets/")
