"""Tests of ``tgdc demo``: the README's first command, end to end (one epoch), run from the
package built as a wheel and installed in a fresh venv."""

import contextlib
import csv
import filecmp
import io
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
import yaml
from matplotlib.image import imread
from shapely.geometry import box

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.detections.change import STATUSES
from torchgeo_datacenters.tasks import DataCenterSegmentation

FILES = (
    "overlay.png",
    "training.png",
    "report.md",
    "report.html",
    "detections.geojson",
    "detections.csv",
    "mask.tif",
    "model.ckpt",
    "demo-config.yaml",
    "change.geojson",
    "change.html",
)


ROOT = Path(__file__).resolve().parents[2]
UV = shutil.which("uv")


def uv(*args: str, env: dict[str, str] | None = None) -> None:
    """Run uv in the checkout (where its Python version is pinned) and fail on an error."""
    done = subprocess.run(
        [str(UV), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


@dataclass
class InstalledWheel:
    """The package built as a wheel and installed with its locked dependencies in a venv."""

    venv: Path

    def run(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """Run a program of the venv in *cwd*, away from the checkout."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["VIRTUAL_ENV"] = str(self.venv)
        # Python writes the bytecode of the few modules a run imports, so tgdc does not
        # compile all 18,000 files of this throw-away environment in the background.
        env["PYTHONDONTWRITEBYTECODE"] = ""
        return subprocess.run(
            [str(self.venv / "bin" / args[0]), *args[1:]],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """Build the wheel with ``uv build`` and install it into a fresh venv with the locked
    dependencies (from uv's cache where it holds them, else the package registry)."""
    if UV is None:
        pytest.skip("uv is not installed")
    tmp = tmp_path_factory.mktemp("wheel")
    dist, venv = tmp / "dist", tmp / "venv"
    uv("build", "--wheel", "--quiet", "--out-dir", str(dist))
    (built,) = dist.glob("torchgeo_datacenters-*.whl")
    requirements = tmp / "requirements.txt"
    uv(
        "export",
        "--frozen",
        "--quiet",
        "--no-dev",
        "--no-hashes",
        "--no-emit-project",
        "--output-file",
        str(requirements),
    )
    uv("venv", "--quiet", "--python", str(ROOT / ".venv" / "bin" / "python"), str(venv))
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    uv("pip", "install", "--quiet", "-r", str(requirements), str(built), env=env)
    return InstalledWheel(venv)


@pytest.fixture(scope="module")
def demo(wheel: InstalledWheel, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One short demo run shared by the tests, from the installed wheel in an empty
    directory (so nothing can be read from the checkout's ``configs/``): its output
    directory and stdout."""
    work = tmp_path_factory.mktemp("demo")
    done = wheel.run("tgdc", "demo", "--epochs", "1", "--output-dir", "demo-output", cwd=work)
    assert done.returncode == 0, done.stderr[-3000:]
    return work / "demo-output", done.stdout


def test_demo_ran_from_the_installed_wheel(wheel: InstalledWheel, demo: tuple[Path, str]) -> None:
    out, _ = demo
    config = (out / "demo-config.yaml").read_text()
    assert "torchgeo_datacenters.tasks.DataCenterSegmentation" in config
    # Its paths are absolute, so that it trains again from any working directory (the
    # README's review route runs it from elsewhere).
    data = yaml.safe_load(config)["data"]["init_args"]
    assert data["paths"] == str(out.resolve() / "data")
    assert data["label_path"] == str(out.resolve() / "data" / "labels.geojson")
    # The package ran from the fresh environment (found without importing it, which would
    # take the seconds of importing torch again), with the config it carries.
    code = "import importlib.util as u; print(u.find_spec('torchgeo_datacenters').origin)"
    origin = Path(wheel.run("python", "-c", code, cwd=out).stdout.strip())
    assert origin.is_relative_to(wheel.venv), origin
    assert (origin.parent / "configs" / "demo.yaml").is_file()


def test_demo_writes_every_promised_file(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    for name in FILES:
        assert (out / name).stat().st_size > 0, name
        assert name in stdout
    for name in ("overlay.png", "training.png"):
        height, width, _ = imread(out / name).shape
        assert height > 300 and width > 300
    assert not list(out.glob("*.tmp*")), "no temporary files left behind"


def test_demo_says_the_data_is_synthetic_and_points_to_real_workflow(
    demo: tuple[Path, str],
) -> None:
    out, stdout = demo
    assert "SYNTHETIC" in stdout
    assert "tgdc download" in stdout and "configs/datacenters.yaml" in stdout
    report = (out / "report.md").read_text()
    assert "SYNTHETIC" in report and "Model: unet4" in report
    assert re.search(r"tgdc demo: done in \d+ s", stdout.strip().splitlines()[-1])


def test_demo_outputs_agree_with_each_other_and_the_scene(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    detections = gpd.read_file(out / "detections.geojson")
    with open(out / "detections.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(detections)
    assert re.search(rf"detections\s+{len(detections)}\b", stdout)
    assert f"| detections | {len(detections)} |" in (out / "report.md").read_text()
    with rasterio.open(out / "test" / "scene.tif") as scene, rasterio.open(out / "mask.tif") as m:
        assert m.crs == scene.crs and m.transform == scene.transform
        assert (m.width, m.height) == (scene.width, scene.height)
        footprint = gpd.GeoSeries([box(*scene.bounds)], crs=scene.crs).to_crs(4326)[0]
    assert detections.crs.to_epsg() == 4326
    for row in rows:
        assert footprint.buffer(1e-6).contains(
            gpd.points_from_xy([float(row["centroid_lon"])], [float(row["centroid_lat"])])[0]
        )


def test_demo_checkpoint_is_self_describing(demo: tuple[Path, str]) -> None:
    out, _ = demo
    task = DataCenterSegmentation.load_from_checkpoint(out / "model.ckpt", map_location="cpu")
    assert task.hparams["model"] == "unet4"
    assert task.hparams["bands"] == ["R", "G", "B", "NIR"]
    assert task.hparams["class_names"] == ["background", "datacenter"]


def test_demo_detects_with_the_final_weights(demo: tuple[Path, str]) -> None:
    out, _ = demo
    (last,) = out.glob("training/csv/version_*/checkpoints/last.ckpt")
    assert filecmp.cmp(out / "model.ckpt", last, shallow=False)
    assert "detected with its\n`last.ckpt` (the final weights)" in (out / "report.md").read_text()


def test_demo_refuses_a_directory_it_did_not_write(tmp_path: Path) -> None:
    stranger = tmp_path / "not-a-demo"
    stranger.mkdir()
    (stranger / "keep.txt").write_text("mine")
    with contextlib.redirect_stderr(io.StringIO()) as stderr:
        assert main(["demo", "--output-dir", str(stranger), "--epochs", "1"]) == 2
    assert "not a demo output" in stderr.getvalue()
    assert (stranger / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in stranger.iterdir()) == ["keep.txt"]


def test_demo_report_gives_each_hard_negative_class_false_detection_rate(
    demo: tuple[Path, str],
) -> None:
    out, _ = demo
    report = (out / "report.md").read_text()
    truth = gpd.read_file(out / "test" / "labels.geojson")
    utm = truth.estimate_utm_crs()
    truth = truth.to_crs(utm)
    detections = gpd.read_file(out / "detections.geojson").to_crs(utm)
    negatives = truth[~truth["label"].astype(bool)]
    assert len(negatives)
    for name, group in negatives.groupby("class"):
        detected = 0
        for polygon in group.geometry:
            ious = [
                polygon.intersection(d).area / polygon.union(d).area for d in detections.geometry
            ]
            detected += max(ious, default=0.0) >= 0.5
        assert f"| {name} | {detected / len(group):.3f} |" in report


def test_demo_change_example_agrees_across_outputs(demo: tuple[Path, str]) -> None:
    out, stdout = demo
    # Read as written: a GeoJSON without features carries no columns, and one epoch of
    # training may find no site.
    collection = json.loads((out / "change.geojson").read_text())
    assert collection["name"] == "change" and "crs" not in collection  # RFC 7946, EPSG:4326
    sites = [feature["properties"] for feature in collection["features"]]
    assert {site["status"] for site in sites} <= set(STATUSES)
    report = (out / "report.md").read_text()
    assert "## Change between two SYNTHETIC vintages" in report
    assert "| site | status | area 2022 (m²) | area 2024 (m²) |" in report
    for site in sites:
        row = f"| {site['site']} | {site['status']} | {site['area_m2_2022']:,.0f} |"
        assert f"{row} {site['area_m2_2024']:,.0f} |" in report
    assert f"{len(sites)} site(s) over 2022, 2024" in stdout
    page = (out / "change.html").read_text()
    assert page.count('"status":') == len(sites) and '"colourBy":"status"' in page
