import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.data import bbox_of
from support.processes import wait_for
from support.stac_server import StacServer

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.options import PredictorOptions
from torchgeo_datacenters.scan import SceneRecord, bbox_region, scan, stac_scenes
from torchgeo_datacenters.scan.scenes import LocalScene, StacScene
from torchgeo_datacenters.scan.worker import SCENE_POLICY, SceneWorker
from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings

pytest.importorskip("ray", reason="Ray is an optional extra: uv sync --extra scale")

#: Seconds before the loopback server answers each image request.
LATENCY = 0.2


@pytest.fixture
def server(scan_data: Any) -> Iterator[StacServer]:
    with StacServer.from_directory(scan_data.stac_dir) as server:
        server.throttle(latency=LATENCY)
        yield server


def grid_scenes(server: StacServer, scan_data: Any) -> list[StacScene]:
    """The four 2022 items of the test mosaic, top-left first."""
    catalog = NaipCatalog(server.url, network=NetworkSettings(retries=0, timeout=10))
    return stac_scenes(catalog, bbox_region(bbox_of(scan_data.grid)), 2022)


def make_worker(scan_data: Any, temp_dir: Path) -> SceneWorker:
    """A worker of the bright-roof model with the default options, outside Ray."""
    checkpoint = scan_data.checkpoint
    return SceneWorker(
        checkpoint.read_bytes(), checkpoint.name, PredictorOptions(), "cpu", temp_dir
    )


def test_a_worker_predicts_every_scene_by_the_named_policy() -> None:
    scan = PredictorOptions(overlap=16, min_area=500, regularize=True, split_width=3, tta="d4")
    scene = SCENE_POLICY.scene_options(scan, "cuda")
    # Every detection with its traced outline, tiles read in the worker's own process...
    assert (scene.min_area, scene.regularize, scene.split_width) == (0.0, False, 0.0)
    assert (scene.device, scene.num_workers) == ("cuda", 0)
    # ...and the scan's options otherwise.
    assert (
        dataclasses.replace(
            scene, min_area=500, regularize=True, split_width=3, device="auto", num_workers=1
        )
        == scan
    )


def test_a_worker_that_cannot_load_its_model_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TGDCError):
        SceneWorker(b"not a checkpoint", "model.ckpt", PredictorOptions(), "cpu", tmp_path)
    assert list(tmp_path.iterdir()) == []


def image_requests(server: StacServer, scene: StacScene) -> list[float]:
    """When the image of a scene was asked for, oldest first."""
    return [record.at for record in server.requests_to(f"/assets/{scene.id}.tif", "GET")]


def test_the_next_scene_downloads_while_the_current_one_is_predicted(
    scan_data: Any, server: StacServer, tmp_path: Path
) -> None:
    first, second, third, fourth = grid_scenes(server, scan_data)
    worker = make_worker(scan_data, tmp_path)
    outcome = worker.scan(first, second)
    returned = time.monotonic()
    assert outcome.error is None and len(outcome.detections) == 2
    assert outcome.waited >= LATENCY
    [asked_first] = image_requests(server, first)
    [asked_second] = image_requests(server, second)
    # The second image was asked for once the first had arrived (one download at a
    # time), and before the first scene's prediction ended.
    assert asked_first + LATENCY <= asked_second < returned
    # At most one scene ahead: the third is asked for only with the next scene.
    assert not image_requests(server, third)
    assert not list(tmp_path.rglob(f"{first.id}.tif"))
    outcome = worker.scan(second, third)
    assert outcome.error is None
    # The second scene's image was the one fetched ahead, not downloaded again.
    assert len(image_requests(server, second)) == 1
    assert len(image_requests(server, third)) == 1
    assert not image_requests(server, fourth)
    # The worker's copy of the checkpoint lies in its directory, and goes with it.
    [copy] = tmp_path.rglob("*.ckpt")
    assert copy.read_bytes() == scan_data.checkpoint.read_bytes()
    worker.close()
    assert list(tmp_path.iterdir()) == []


def test_no_download_is_left_behind_by_failed_scenes(
    scan_data: Any, server: StacServer, tmp_path: Path
) -> None:
    first, second, third, fourth = grid_scenes(server, scan_data)
    server.fail(None, 503, path_prefix=f"/assets/{second.id}.tif")
    worker = make_worker(scan_data, tmp_path)
    assert worker.scan(first, second).error is None
    failed = worker.scan(second, third)
    assert failed.detections is None and "could not download" in str(failed.error)
    assert not failed.unreadable  # a new attempt downloads it again
    wait_for(lambda: image_requests(server, third), "the third scene asked for ahead")
    # The third scene, fetched ahead, is given up for a broken local file that fails in
    # the model: neither leaves a file.
    broken = LocalScene("broken.tif", scan_data.scenes_dir / "broken.tif")
    unreadable = worker.scan(broken, fourth)
    assert "not a readable raster" in str(unreadable.error) and unreadable.unreadable
    assert worker.scan(fourth).error is None
    # No download is left: the worker's directory holds its checkpoint alone.
    assert [p.name for p in worker.fetcher.root.iterdir()] == ["model"]
    assert len(image_requests(server, third)) == 1
    worker.close()
    assert list(tmp_path.iterdir()) == []


def test_a_scan_fetches_one_scene_ahead_and_leaves_no_download(
    scan_data: Any, ray_cluster: None, server: StacServer, tmp_path: Path
) -> None:
    scenes = grid_scenes(server, scan_data)
    temp_dir = tmp_path / "downloads"
    recorded: dict[str, float] = {}

    def note(record: SceneRecord) -> None:
        recorded[record.scene] = time.monotonic()

    options = {"workers": 1, "progress": False, "temp_dir": temp_dir}
    result = scan(scenes, scan_data.checkpoint, tmp_path / "scan", on_scene=note, **options)
    assert result.scanned == 4 and not result.failed
    assert list(recorded) == [scene.id for scene in scenes]
    asked = [image_requests(server, scene) for scene in scenes]
    assert all(len(times) == 1 for times in asked)
    finished = list(recorded.values())
    for index in range(1, len(scenes)):
        # Asked for while the scene before was predicted, after the one before that ended.
        assert asked[index][0] < finished[index - 1]
        if index >= 2:
            assert asked[index][0] > finished[index - 2]
    assert list(temp_dir.iterdir()) == []

    def interrupt(record: SceneRecord) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scan(scenes, scan_data.checkpoint, tmp_path / "again", on_scene=interrupt, **options)
    assert list(temp_dir.iterdir()) == []
