"""``tgdc demo`` runs from an installed wheel, away from the source checkout.

Builds the wheel with ``uv build``, installs it with the locked dependencies into a fresh
virtual environment (from uv's cache where it holds them, else the package registry) and
runs ``tgdc demo --epochs 1`` in an empty directory, so nothing can be read from
``configs/`` of the checkout.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = shutil.which("uv")

pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed")


def uv(*args: str, env: dict[str, str] | None = None) -> None:
    """Run uv in the checkout (where its Python version is pinned) and fail on an error."""
    done = subprocess.run(
        [str(UV), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_demo_runs_from_an_installed_wheel(tmp_path: Path) -> None:
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    uv("build", "--wheel", "--quiet", "--out-dir", str(dist))
    (wheel,) = dist.glob("torchgeo_datacenters-*.whl")
    requirements = tmp_path / "requirements.txt"
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
    uv("pip", "install", "--quiet", "-r", str(requirements), str(wheel), env=env)

    work.mkdir()
    demo = subprocess.run(
        [str(venv / "bin" / "tgdc"), "demo", "--epochs", "1", "--output-dir", "out"],
        cwd=work,
        env={k: v for k, v in env.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "tgdc demo: done in" in demo.stdout
    config = (work / "out" / "demo-config.yaml").read_text()
    assert "torchgeo_datacenters.tasks.DataCenterSegmentation" in config
    for name in ("report.md", "model.ckpt", "detections.geojson", "mask.tif"):
        assert (work / "out" / name).stat().st_size > 0, name
    # the package ran from the fresh environment, with the config it carries
    where = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import torchgeo_datacenters.demo as d; print(d.__file__); print(d.DEMO_CONFIG)",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
