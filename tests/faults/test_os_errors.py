"""Faults of the machine and of files: one line naming the path and cause, exit 2.

Read-only and full disks are real tmpfs mounts; the scene is really truncated. Nothing
is left behind (no temporary file) and existing outputs stay as they were.
"""

from collections.abc import Callable
from pathlib import Path

import pytest

from torchgeo_datacenters.cli import main

from .conftest import TILING, error_lines, fill, temporaries


def detect(checkpoint: Path, scene: Path, geojson: Path, *extra: str | Path) -> list[str]:
    """Arguments of ``tgdc detect`` (one reading worker, as by default)."""
    return [
        "detect",
        "--checkpoint",
        str(checkpoint),
        "--image",
        str(scene),
        "--output-geojson",
        str(geojson),
        *TILING,
        *map(str, extra),
    ]


def one_error(capfd: pytest.CaptureFixture[str], command: str = "detect") -> str:
    """The single line the command printed (GDAL's own messages included), checked."""
    lines = error_lines(capfd.readouterr().err)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"tgdc {command}: error: "), lines
    return lines[0]


def test_read_only_output_directory(
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = mount_tmpfs("ro", read_only=True)
    status = main(detect(checkpoint, scene, out / "d.geojson"))
    line = one_error(capfd)
    assert status == 2
    assert str(out / "d.geojson") in line and "read-only file system" in line
    assert list(out.iterdir()) == []


def test_disk_full_for_the_mask(
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = mount_tmpfs("full", size="48k")
    old = out / "d.geojson"
    old.write_text('{"old": true}')
    status = main(detect(checkpoint, scene, old, "--output-mask", out / "m.tif", "--overwrite"))
    line = one_error(capfd)
    assert status == 2
    assert str(out / "m.tif") in line and "no space left" in line.lower()
    assert old.read_text() == '{"old": true}'
    assert sorted(out.iterdir()) == [old]


def test_disk_full_for_the_geojson(
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    capfd: pytest.CaptureFixture[str],
) -> None:
    out = mount_tmpfs("full", size="64k")
    filler = fill(out)
    status = main(detect(checkpoint, scene, out / "d.geojson"))
    line = one_error(capfd)
    assert status == 2
    assert str(out / "d.geojson") in line and "no space left on device" in line.lower()
    assert temporaries(out) == []
    assert sorted(out.iterdir()) == [filler]


def test_vector_outputs_are_checked_for_space_before_prediction(
    checkpoint: Path,
    scene: Path,
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The scene is cut short after its header: had prediction started, its read error
    # would be the error. The space the GeoJSON may need is refused first.
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(scene.read_bytes()[: scene.stat().st_size // 3])
    out = mount_tmpfs("small", size="16k")
    filler = out / "filler"
    filler.write_bytes(bytes(8192))
    status = main(detect(checkpoint, truncated, out / "d.geojson"))
    line = one_error(capfd)
    assert status == 2
    assert line.startswith(f"tgdc detect: error: {out / 'd.geojson'}: cannot be written: no space")
    assert "MiB are free" in line and "Read error" not in line
    assert sorted(out.iterdir()) == [filler]


@pytest.mark.parametrize("workers", ["0", "1"])
def test_scene_truncated_after_its_header(
    workers: str,
    checkpoint: Path,
    scene: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(scene.read_bytes()[: scene.stat().st_size // 3])
    out = tmp_path / "out"
    out.mkdir()
    args = detect(checkpoint, truncated, out / "d.geojson", "--output-mask", out / "m.tif")
    status = main([*args, "--num-workers", workers])
    line = one_error(capfd)
    assert status == 2
    assert str(truncated) in line and "Read error" in line
    assert list(out.iterdir()) == []


def test_download_is_checked_for_space_before_any_request(
    mount_tmpfs: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    # A closed port: had the download reached the network, its error would be the error.
    out = mount_tmpfs("small", size="64k")
    args = ["--stac-url", "http://127.0.0.1:9", "--lat", "40.0", "--lon", "-82.7"]
    status = main(["download", *args, "--size", "1000", "--output", str(out / "x.tif")])
    line = one_error(capfd, "download")
    assert status == 2
    assert line.startswith(f"tgdc download: error: {out / 'x.tif'}: cannot be written: no space")
    assert list(out.iterdir()) == []


def test_download_into_a_read_only_directory_is_refused(
    mount_tmpfs: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    out = mount_tmpfs("ro", read_only=True)
    args = ["--stac-url", "http://127.0.0.1:9", "--lat", "40.0", "--lon", "-82.7"]
    status = main(["download", *args, "--size", "64", "--output", str(out / "x.tif")])
    line = one_error(capfd, "download")
    assert status == 2 and "read-only file system" in line
    assert list(out.iterdir()) == []


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("change", ["--detections", "{tmp}/a.geojson@2020-01-01", "{tmp}/b.geojson@2022-01-01"]),
        ("compare", ["--detections", "{tmp}/a.geojson", "--inventory", "{tmp}/b.geojson"]),
        ("export", ["--checkpoint", "{tmp}/model.ckpt"]),
        ("review", ["--detections", "{tmp}/a.geojson", "--image", "{tmp}/scene.tif"]),
    ],
)
def test_read_only_outputs_are_refused_before_the_inputs_are_read(
    command: str,
    args: list[str],
    mount_tmpfs: Callable[..., Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The inputs do not exist: had the command read them first, that would be the error.
    out = mount_tmpfs("ro", read_only=True)
    output = {
        "change": ["--output", str(out / "sites.geojson")],
        "compare": ["--output-dir", str(out / "new")],
        "export": ["--onnx", str(out / "model.onnx")],
        "review": ["--output", str(out / "review.html")],
    }[command]
    status = main([command, *[a.format(tmp=tmp_path) for a in args], *output])
    line = one_error(capfd, command)
    assert status == 2 and str(out) in line and "read-only file system" in line
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("below", [False, True], ids=["directory", "subdirectory"])
def test_scan_into_a_read_only_directory_is_refused_before_any_request(
    below: bool, mount_tmpfs: Callable[..., Path], capfd: pytest.CaptureFixture[str]
) -> None:
    # A closed port: had the scan searched the catalogue, its error would be the error.
    out = mount_tmpfs("ro", read_only=True)
    target = out / "scan" if below else out
    region = ["--bbox", "-82.71", "40.0", "-82.70", "40.01", "--stac-url", "http://127.0.0.1:9"]
    status = main(["scan", "--checkpoint", "none.ckpt", *region, "--output-dir", str(target)])
    line = one_error(capfd, "scan")
    assert status == 2 and "read-only file system" in line
    assert list(out.iterdir()) == []
