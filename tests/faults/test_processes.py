"""Real processes: SIGTERM, a killed main process, two runs writing one output."""

import json
import signal
import subprocess
from pathlib import Path

import pytest

from .conftest import (
    PATIENCE,
    TILING,
    alive,
    children,
    error_lines,
    start,
    temporaries,
    wait_for,
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


def mid_run(process: subprocess.Popen[str], out: Path) -> int:
    """Wait until *process* predicts (its temporaries exist, its worker reads).

    Returns:
        The process id of its reading worker.
    """
    wait_for(lambda: temporaries(out) or process.poll() is not None, "the run's temporaries")
    workers = wait_for(lambda: children(process.pid) or process.poll() is not None, "a worker")
    assert process.poll() is None, "the run ended before it could be caught mid-way"
    return workers[0]


def test_sigterm_cleans_up_like_ctrl_c(checkpoint: Path, long_scene: Path, tmp_path: Path) -> None:
    process = start(*detect_args(checkpoint, long_scene, tmp_path))
    worker = mid_run(process, tmp_path)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=PATIENCE)
    assert process.returncode == 128 + signal.SIGTERM
    assert error_lines(stderr)[-1] == "tgdc detect: terminated (SIGTERM)"
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
