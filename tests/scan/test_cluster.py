"""``tgdc scan --ray-address`` on a real Ray cluster of two nodes, as the README starts one.

One cluster serves the whole module (Ray starts slowly): a head and a worker node of one
CPU each (:class:`support.ray_cluster.RayCluster`), with token authentication, and a
loopback STAC API serving 12 small COG scenes with range requests. The tests run in file
order: the full scan, the errors, the driver killed and resumed, and last the worker node
killed mid-scan (which leaves the cluster one node short).
"""

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin
from support.data import bbox_of
from support.inference import GSD, ORIGIN, UTM, scene_array
from support.processes import alive
from support.ray_cluster import RayCluster, free_port
from support.stac_server import StacServer, write_cog

from torchgeo_datacenters.cli import main
from torchgeo_datacenters.detections import merge_detections
from torchgeo_datacenters.options import PredictorOptions

pytest.importorskip("ray", reason="Ray is an optional extra: uv sync --extra scale")

#: Scenes of the mosaic: rows x columns of SIDE x SIDE pixels.
ROWS, COLS, SIDE = 3, 4, 128

#: Roofs as (row, col, height, width) in pixels of the mosaic: across a vertical edge,
#: across the corner of four scenes, across a horizontal edge, inside one scene, and one
#: too small to keep. The four kept are 2,916-3,240 m², above the default minimum area.
ROOFS = [(20, 80, 90, 90), (90, 210, 90, 90), (215, 20, 90, 100), (280, 400, 90, 90)]
ROOFS += [(30, 330, 20, 20)]

#: Longest wait for a scan on the busy cluster, in seconds.
PATIENCE = 240.0


@dataclass(frozen=True)
class Cluster:
    """The module's cluster, scenes and STAC server."""

    ray: RayCluster
    server: StacServer
    scenes: list[Path]
    checkpoint: Path

    def scan(self, out: Path, env: dict[str, str] | None = None) -> list[str]:
        """The command line of ``tgdc scan`` over every scene on the cluster."""
        args = ["scan", "--checkpoint", str(self.checkpoint), "--bbox"]
        args += [str(value) for value in bbox_of(self.scenes)]
        args += ["--stac-url", self.server.url, "--ray-address", self.ray.address]
        return [sys.executable, "-m", "torchgeo_datacenters.cli", *args, "--output-dir", str(out)]


def write_mosaic(directory: Path) -> list[Path]:
    """Write the ROWS x COLS scenes as COGs, named ``naip_r{row}c{col}_20220701.tif``."""
    directory.mkdir()
    paths = []
    for row in range(ROWS):
        for col in range(COLS):
            shifted = [(r - row * SIDE, c - col * SIDE, h, w) for r, c, h, w in ROOFS]
            roofs = [(r, c, h, w) for r, c, h, w in shifted if r + h > 0 and c + w > 0]
            x, y = ORIGIN[0] + col * SIDE * GSD, ORIGIN[1] - row * SIDE * GSD
            path = directory / f"naip_r{row}c{col}_20220701.tif"
            data = scene_array(SIDE, SIDE, roofs)
            paths.append(write_cog(path, data, CRS.from_string(UTM), from_origin(x, y, GSD, GSD)))
    return paths


@pytest.fixture(scope="module")
def cluster(scan_data: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    scenes = write_mosaic(tmp_path_factory.mktemp("cluster") / "scenes")
    with RayCluster() as ray, StacServer.from_directory(scenes[0].parent) as server:
        ray.add_node("worker")
        yield Cluster(ray, server, scenes, scan_data.checkpoint)
        ray.stop()
        # No process of any node is left, the agents Ray re-parents to 1 included.
        assert ray.processes() == {}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command to its end."""
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=PATIENCE)


def manifest(out: Path) -> list[dict[str, Any]]:
    """The lines of a scan's manifest."""
    path = out / "manifest.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def columns(table: gpd.GeoDataFrame) -> pd.DataFrame:
    """What a detection is: its outline, area and scores."""
    return pd.DataFrame(
        {
            "wkt": table.geometry.to_wkt(),
            "area_m2": table["area_m2"],
            "score": table["score"],
            "max_score": table["max_score"],
        }
    )


@pytest.fixture(scope="module")
def full(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole scan on both nodes."""
    out = tmp_path_factory.mktemp("full") / "scan"
    # A worker can start a second after the other and find every scene scanned (0.1 s
    # each): no image is served until both ask for one (a worker downloads one at a time,
    # the scene ahead after its own), 20 s at most (under the 30 s network timeout).
    cluster.server.hold(files=2, seconds=20)
    done = run([*cluster.scan(out), "--workers", "2"], cluster.ray.env)
    assert done.returncode == 0, done.stderr
    return out


def test_scan_runs_on_every_node_and_finds_what_detect_finds(
    cluster: Cluster, full: Path, tmp_path: Path
) -> None:
    lines = manifest(full)
    assert sorted(line["scene"] for line in lines) == sorted(p.stem for p in cluster.scenes)
    assert {line["status"] for line in lines} == {"done"}
    nodes = Counter(line["node"] for line in lines)
    assert set(nodes) == {cluster.ray.node_id("head"), cluster.ray.node_id("worker")}
    # tgdc detect on each scene, every detection kept, then the scan's merge.
    tables = []
    for scene in cluster.scenes:
        out = tmp_path / f"{scene.stem}.parquet"
        args = ["detect", "--checkpoint", str(cluster.checkpoint), "--image", str(scene)]
        args += ["--output-geojson", str(out.with_suffix(".geojson")), "--min-area", "0"]
        assert main([*args, "--output-parquet", str(out)]) == 0
        tables.append(gpd.read_parquet(out))
    defaults = PredictorOptions()
    expected = merge_detections(
        gpd.GeoDataFrame(pd.concat(tables, ignore_index=True), crs="EPSG:4326"),
        distance=defaults.merge_distance,
        min_area=defaults.min_area,
    )
    found = gpd.read_parquet(full / "detections.parquet")
    assert len(found) == 4  # the small roof is dropped
    pd.testing.assert_frame_equal(columns(found), columns(expected))


def test_unreachable_head_or_missing_token_is_one_line_naming_the_fix(
    cluster: Cluster, tmp_path: Path
) -> None:
    # Nothing listens on the port; then the cluster's address without its token.
    nowhere = cluster.scan(tmp_path / "a")
    nowhere[nowhere.index("--ray-address") + 1] = f"127.0.0.1:{free_port()}"
    # (Token mode without a token fails at once; without RAY_AUTH_MODE, after 20 s of tries.)
    tokenless = {**cluster.ray.env, "HOME": str(tmp_path)}
    del tokenless["RAY_AUTH_TOKEN_PATH"]
    runs = [
        subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        for command, env in ((nowhere, cluster.ray.env), (cluster.scan(tmp_path / "b"), tokenless))
    ]
    (_, unreachable), (_, refused) = (process.communicate(timeout=PATIENCE) for process in runs)
    assert [process.returncode for process in runs] == [2, 2]
    [line] = unreachable.splitlines()
    assert "no Ray head answers there" in line and "ray start --head --port" in line
    [line] = refused.strip().splitlines()[-1:]
    assert line.startswith("tgdc scan: error: --ray-address 127.0.0.1:")
    assert "RAY_AUTH_MODE=token" in line and "RAY_AUTH_TOKEN_PATH" in line
    assert "Traceback" not in refused
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def wait_for_done(out: Path, process: subprocess.Popen[str], node: str | None = None) -> None:
    """Wait until a scene is recorded as done (on *node*, if given)."""
    deadline = time.monotonic() + PATIENCE
    while not any(
        line["status"] == "done" and node in (None, line["node"]) for line in manifest(out)
    ):
        assert process.poll() is None, "the scan ended before the fault"
        assert time.monotonic() < deadline, "no scene was finished in time"
        time.sleep(0.05)


def test_killed_driver_resumes_with_the_same_command(
    cluster: Cluster, full: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scan"
    command = [*cluster.scan(out), "--workers", "2"]
    # Slow downloads: the scan is still going when its first scene is recorded.
    cluster.server.throttle(latency=0.5)
    try:
        driver = subprocess.Popen(command, env=cluster.ray.env, stderr=subprocess.DEVNULL)
        wait_for_done(out, driver)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    finally:
        cluster.server.throttle()
    before = {line["scene"] for line in manifest(out)}
    assert 0 < len(before) < len(cluster.scenes)
    done = run(command, cluster.ray.env)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} done before" in done.stdout
    # Every scene scanned once; the same detections as the uninterrupted scan.
    assert Counter(line["scene"] for line in manifest(out)) == {p.stem: 1 for p in cluster.scenes}
    found, whole = (gpd.read_parquet(o / "detections.parquet") for o in (out, full))
    pd.testing.assert_frame_equal(columns(found), columns(whole))


def test_killed_worker_node_leaves_the_scan_to_the_others(
    cluster: Cluster, full: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scan"
    worker = cluster.ray.node_id("worker")
    cluster.server.throttle(latency=0.5)
    cluster.server.hold(files=2, seconds=20)  # the worker has a scene (see full)
    try:
        driver = subprocess.Popen(
            [*cluster.scan(out), "--workers", "2"], env=cluster.ray.env, stderr=subprocess.PIPE
        )
        # The worker has finished a scene, so its part in the scan can be told apart.
        wait_for_done(out, driver, node=worker)
        processes = cluster.ray.processes("worker")
        killed = dt.datetime.now(dt.UTC)
        cluster.ray.kill("worker")
        assert not any(alive(process) for process in processes.items())
        _, stderr = driver.communicate(timeout=PATIENCE)
    finally:
        cluster.server.throttle()
    assert driver.returncode == 0, stderr
    lines = manifest(out)
    # Nothing lost, nothing done twice; what was left ran on the head.
    assert Counter(line["scene"] for line in lines) == {p.stem: 1 for p in cluster.scenes}
    assert {line["status"] for line in lines} == {"done"}
    # (a scene the worker sent back just before it died may be recorded just after)
    late = (killed + dt.timedelta(seconds=2)).isoformat()
    after = [line["node"] for line in lines if line["finished"] > late]
    assert after and set(after) == {cluster.ray.node_id("head")}
    assert worker in {line["node"] for line in lines}
    found, whole = (gpd.read_parquet(o / "detections.parquet") for o in (out, full))
    pd.testing.assert_frame_equal(columns(found), columns(whole))
