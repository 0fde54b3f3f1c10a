"""Tests of ``tgdc synth``."""

from pathlib import Path

import geopandas as gpd
import pytest
import rasterio

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.synthetic import generate_scenes


def test_synth_writes_scenes_and_labels(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "made" / "here"
    args = ["synth", "--output-dir", str(out), "--size", "256", "--count", "2", "--seed", "5"]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert str(out / "labels.geojson") in stdout
    summary = stdout.strip().splitlines()[-1]
    assert summary.startswith("synth: 2 SYNTHETIC scenes of 256x256 px")
    assert "0.05 km²" in summary  # 2 x (256 x 0.6 m)²
    labels = gpd.read_file(out / "labels.geojson")
    n_dc = int(labels["label"].sum())
    assert f"{n_dc} data centers, {len(labels) - n_dc} hard negatives" in summary
    with rasterio.open(out / "scene_001.tif") as src:
        assert (src.count, src.height, src.width) == (4, 256, 256)
    # the command writes exactly what the library writes
    library = generate_scenes(tmp_path / "lib", size=256, count=2, seed=5, progress=False)
    for path in [*library.scene_paths, library.labels_path]:
        assert (out / path.name).read_bytes() == path.read_bytes()


def test_synth_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["synth", "--output-dir", str(tmp_path), "--size", "128", "--count", "1"]
    assert main(args) == 0
    before = (tmp_path / "scene_000.tif").read_bytes()
    capsys.readouterr()
    assert main([*args, "--seed", "1"]) == 2
    error = capsys.readouterr().err
    assert "already exists" in error
    assert "--overwrite" in error
    assert (tmp_path / "scene_000.tif").read_bytes() == before
    assert main([*args, "--seed", "1", "--overwrite"]) == 0
    assert (tmp_path / "scene_000.tif").read_bytes() != before


def test_synth_rejects_bad_size(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["synth", "--output-dir", str(tmp_path), "--size", "32"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("tgdc synth: error: size")
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--crs", "EPSG:4326"], "EPSG:4326"),
        (["--gsd", "0"], "gsd: 0.0 m is out of range; give a pixel size of 0.05 to 100 metres"),
    ],
)
def test_synth_refuses_a_grid_before_creating_its_directory(
    option: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    output = tmp_path / "new" / "scenes"
    assert main(["synth", "--output-dir", str(output), *option]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("tgdc synth: error:") and message in captured.err
    assert len(captured.err.splitlines()) == 1 and captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_synth_lookalike_warehouses(tmp_path: Path) -> None:
    args = ["synth", "--size", "256", "--count", "1", "--lookalike-warehouses"]
    assert main([*args, "--output-dir", str(tmp_path / "cli")]) == 0
    generate_scenes(tmp_path / "api", size=256, count=1, lookalike_warehouses=True, progress=False)
    generate_scenes(tmp_path / "plain", size=256, count=1, progress=False)
    scene = "scene_000.tif"
    assert (tmp_path / "cli" / scene).read_bytes() == (tmp_path / "api" / scene).read_bytes()
    assert (tmp_path / "cli" / scene).read_bytes() != (tmp_path / "plain" / scene).read_bytes()
