"""Tests of :mod:`torchgeo_datacenters.utils.bytecode`."""

import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

import torchgeo_datacenters
from torchgeo_datacenters.utils.bytecode import MARKER, installed_packages

ROOT = Path(torchgeo_datacenters.__file__).parents[1]
CALL = "from torchgeo_datacenters.utils.bytecode import compile_environment_once as c; c()"


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A bare virtual environment holding one small package."""
    target = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True)
    site = target / Path(sysconfig.get_path("purelib")).relative_to(sys.prefix)
    (site / "small").mkdir()
    (site / "small" / "__init__.py").write_text("VALUE = 1\n")
    (site / "small-1.0.dist-info").mkdir()
    return target


def run_in(venv: Path, *, dont_write: bool) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1" if dont_write else "",
    }
    subprocess.run([str(venv / "bin" / "python"), "-c", CALL], env=env, check=True)


def site_of(venv: Path) -> Path:
    return venv / Path(sysconfig.get_path("purelib")).relative_to(sys.prefix)


def wait_for_bytecode(package: Path) -> list[Path]:
    """The .pyc files of *package*, once the background compile has written them (60 s max)."""
    for _ in range(600):
        if found := list((package / "__pycache__").glob("*.pyc")):
            return found
        time.sleep(0.1)
    return []


def test_a_fresh_environment_is_compiled_in_the_background(venv: Path) -> None:
    run_in(venv, dont_write=True)
    site = site_of(venv)
    assert (venv / MARKER).read_text() == installed_packages(site)
    assert wait_for_bytecode(site / "small")
    # A package installed later (uv sync) is compiled too.
    (site / "later").mkdir()
    (site / "later" / "__init__.py").write_text("VALUE = 2\n")
    (site / "later-1.0.dist-info").mkdir()
    run_in(venv, dont_write=True)
    assert (venv / MARKER).read_text() == installed_packages(site)
    assert wait_for_bytecode(site / "later")


def test_nothing_is_done_where_python_writes_bytecode_itself(venv: Path) -> None:
    run_in(venv, dont_write=False)
    assert not (venv / MARKER).exists()
