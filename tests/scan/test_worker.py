import dataclasses

from torchgeo_datacenters.options import PredictorOptions
from torchgeo_datacenters.scan.worker import SCENE_POLICY


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
