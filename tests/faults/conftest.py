"""Fixtures of the fault-injection tests: scenes, a checkpoint, mounts and processes."""

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.inference import save_checkpoint, write_scene

from torchgeo_datacenters.scan.reaper import process_status

#: Roofs of the fault tests' scenes: (row, col, height, width) in pixels.
ROOFS = [(20, 20, 60, 80), (150, 140, 70, 70)]

#: Small tiles, so that even a small scene takes many batches.
TILING = ("--tile-size", "128", "--overlap", "16", "--batch-size", "2")

#: Progress bars on stderr.
PROGRESS = re.compile(r"^(tiles|mosaics|scenes): ")


@pytest.fixture(scope="package")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real UNet4 checkpoint predicting a data center on every valid pixel."""
    return save_checkpoint(tmp_path_factory.mktemp("faults-model") / "model.ckpt", logit=5.0)


@pytest.fixture(scope="package")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 256² scene: 9 tiles of :data:`TILING`."""
    return write_scene(tmp_path_factory.mktemp("faults-scene") / "scene.tif", 256, 256, ROOFS)


@pytest.fixture(scope="package")
def long_scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 768² scene: 49 tiles of :data:`TILING`, seconds of UNet4 to catch a run mid-way."""
    return write_scene(tmp_path_factory.mktemp("faults-long") / "long.tif", 768, 768, ROOFS)


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs file systems under *tmp_path* (skips where mounting is not allowed).

    Yields:
        ``mount(name, size="256k", read_only=False) -> Path``.
    """
    mounted: list[Path] = []

    def mount(name: str, size: str = "256k", *, read_only: bool = False) -> Path:
        target = tmp_path / name
        target.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        run = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({run.stderr.strip()}): needs root")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=False)


def tgdc(*args: str | os.PathLike[str]) -> list[str]:
    """The command line running ``tgdc`` with *args* in a fresh interpreter."""
    return [sys.executable, "-m", "torchgeo_datacenters.cli", *map(str, args)]


def start(*args: str | os.PathLike[str], group: bool = False) -> subprocess.Popen[str]:
    """Start ``tgdc`` with *args* in a process of its own, reading its stderr.

    Args:
        args: its arguments.
        group: start it in a process group of its own (for ``os.killpg``).
    """
    return subprocess.Popen(
        tgdc(*args),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0 if group else None,
    )


def fill(directory: Path) -> Path:
    """Fill the file system of *directory* to its last byte; return the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    os.write(fd, bytes(size))
                except OSError:
                    break
    finally:
        os.close(fd)
    assert shutil.disk_usage(directory).free == 0
    return filler


def error_lines(stderr: str) -> list[str]:
    """The lines of *stderr*, without progress bars."""
    lines = stderr.replace("\r", "\n").splitlines()
    return [line for line in lines if line.strip() and not PROGRESS.match(line)]


def children(pid: int) -> list[int]:
    """Process ids of the live children of *pid*."""
    pids = (int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
    return [child for child in pids if (status := process_status(child)) and status[0] == pid]


def temporaries(directory: Path) -> list[Path]:
    """The temporary files and directories of tgdc runs in *directory*."""
    return sorted(p for p in directory.iterdir() if p.name.startswith("."))
