"""Real processes: SIGTERM, a killed main process, two runs writing one output."""

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
from support.processes import PATIENCE, alive, start_time, wait_for

from torchgeo_datacenters.scan.reaper import MARKER_VARIABLE

from .conftest import (
    TILING,
    children,
    error_lines,
    start,
    temporaries,
)


def detect_args(checkpoint: Path, scene: Path, out: Path, *extra: str) -> list[str | Path]:
    """``tgdc detect`` writing d.geojson and m.tif into *out*, with one reading worker."""
    return [
        "detect",
        "--checkpoint",
        checkpoint,
        "--image",
        scene,
        "--output-geojson",
        out / "d.geojson",
        "--output-mask",
        out / "m.tif",
        "--num-workers",
        "1",
        *TILING,
        *extra,
    ]


def mid_run(process: subprocess.Popen[str], out: Path) -> tuple[int, str | None]:
    """Wait until *process* predicts (its temporaries exist, its worker reads).

    Returns:
        The process id and start time of its reading worker.
    """
    wait_for(lambda: temporaries(out) or process.poll() is not None, "the run's temporaries")
    workers = wait_for(lambda: children(process.pid) or process.poll() is not None, "a worker")
    assert process.poll() is None, "the run ended before it could be caught mid-way"
    return workers[0], start_time(workers[0])


@pytest.mark.parametrize("group", [False, True])
def test_sigterm_cleans_up_like_ctrl_c(
    checkpoint: Path, long_scene: Path, tmp_path: Path, group: bool
) -> None:
    # SIGTERM to the run alone (timeout, docker stop) or to its whole process group, its
    # reading workers too (pkill, Slurm's scancel, systemd).
    process = start(
        *detect_args(checkpoint, long_scene, tmp_path, "--num-workers", "2"), group=group
    )
    worker = mid_run(process, tmp_path)
    if group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=PATIENCE)
    assert process.returncode == 128 + signal.SIGTERM
    assert error_lines(stderr) == ["tgdc detect: terminated (SIGTERM)"]
    assert list(tmp_path.iterdir()) == []
    wait_for(lambda: not alive(worker), "the reading worker to end")


def test_killed_run_leaves_no_worker_and_its_temporaries_go(
    checkpoint: Path, long_scene: Path, scene: Path, tmp_path: Path
) -> None:
    process = start(*detect_args(checkpoint, long_scene, tmp_path))
    worker = mid_run(process, tmp_path)
    left = temporaries(tmp_path)
    process.kill()
    process.communicate(timeout=PATIENCE)
    wait_for(lambda: not alive(worker), "the orphaned worker to end", timeout=30)
    assert temporaries(tmp_path) == left != []
    rerun = start(*detect_args(checkpoint, scene, tmp_path))
    _, stderr = rerun.communicate(timeout=PATIENCE)
    assert rerun.returncode == 0, stderr
    assert temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.geojson", "m.tif"]


def features(path: Path) -> int:
    """Number of features of a whole GeoJSON file (fails on a partial one)."""
    return len(json.loads(path.read_text())["features"])


@pytest.mark.parametrize("overwrite", [False, True])
def test_two_runs_one_output(
    overwrite: bool, checkpoint: Path, long_scene: Path, scene: Path, tmp_path: Path
) -> None:
    extra = ("--overwrite",) if overwrite else ()
    first = start(*detect_args(checkpoint, long_scene, tmp_path, *extra))
    mid_run(first, tmp_path)
    first.send_signal(signal.SIGSTOP)
    try:
        # The second run starts and ends while the first one is half-way.
        second = start(*detect_args(checkpoint, scene, tmp_path, *extra))
        _, second_err = second.communicate(timeout=PATIENCE)
    finally:
        first.send_signal(signal.SIGCONT)
    _, first_err = first.communicate(timeout=PATIENCE)
    assert second.returncode == 0, second_err
    geojson = tmp_path / "d.geojson"
    if overwrite:
        # The last writer wins, with whole files: the first run's (the long scene).
        assert first.returncode == 0, first_err
        assert "long.tif" in geojson.read_text()
    else:
        lines = error_lines(first_err)
        assert first.returncode == 2, first_err
        assert len(lines) == 1 and lines[0].startswith("tgdc detect: error: "), lines
        assert str(tmp_path) in lines[0] and "--overwrite" in lines[0]
        assert "scene.tif" in geojson.read_text()
    assert features(geojson) > 0  # a whole FeatureCollection: a partial file does not parse
    assert temporaries(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.geojson", "m.tif"]


def descendants(pid: int) -> list[int]:
    """Process ids of the live descendants of *pid*."""
    found = children(pid)
    for child in list(found):
        found += descendants(child)
    return found


def command_line(pid: int) -> str:
    """The command line of *pid* ('' once it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def describe(pid: int) -> str:
    """*pid*'s state, parent, whether it carries a scan's Ray marker, and command line."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        marked = MARKER_VARIABLE.encode() in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError as error:
        return f"{pid}: {error}"
    return f"{pid} state {stat[0]} parent {stat[1]} marked {marked}: {command_line(pid)[:200]}"


def ray_actors(scan: int) -> set[int]:
    """Process ids of the Ray worker processes (titled ``ray::...``) of the scan *scan*.

    Ray may start them outside the process tree of the scan that asked for them; each
    carries the scan's marker (its process id first), which other runs' Ray workers on the
    machine do not.
    """
    needle = f"{MARKER_VARIABLE}={scan}-".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and command_line(int(entry.name)).startswith("ray::"):
            try:
                if needle in (entry / "environ").read_bytes():
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


@pytest.mark.parametrize("terminated", [False, True])
def test_killed_scan_leaves_no_ray_process(
    checkpoint: Path, long_scene: Path, tmp_path: Path, terminated: bool
) -> None:
    # Killed outright, or terminated: SIGTERM stops the scan as Ctrl-C does, in one line
    # (Ray's core would dump a stack and abort).
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / long_scene.name).symlink_to(long_scene)
    args = ["scan", "--checkpoint", checkpoint, "--scenes-dir", scenes, "--workers", "1"]
    process = start(*args, "--output-dir", tmp_path / "scan", *TILING)

    def scanning() -> set[int]:
        if process.poll() is not None:
            return {process.pid}
        # Ray's own processes (its store, scheduler) and the actors it started for the scan.
        started = set(descendants(process.pid)) | ray_actors(process.pid)
        return started if any("SceneActor" in command_line(pid) for pid in started) else set()

    found: set[int] = wait_for(scanning, "a Ray actor scanning the scene")  # type: ignore[assignment]
    assert process.poll() is None, "the scan ended before it could be caught mid-way"
    ray_processes = [(pid, start_time(pid)) for pid in sorted(found)]
    process.send_signal(signal.SIGTERM if terminated else signal.SIGKILL)
    _, stderr = process.communicate(timeout=PATIENCE)
    if terminated:
        assert process.returncode == 128 + signal.SIGTERM
        assert error_lines(stderr)[-1] == "tgdc scan: terminated (SIGTERM)"
        assert "SIGTERM received" not in stderr
        assert "Token authentication is enabled" not in stderr  # Ray's, on a local start
        assert "constructor arguments in the object store" not in stderr  # Ray's core's
    wait_for(
        lambda: not any(map(alive, ray_processes)),
        "every Ray process of the killed scan to end",
        timeout=30,
        explain=lambda: "\n".join(describe(pid) for pid, s in ray_processes if alive((pid, s))),
    )
