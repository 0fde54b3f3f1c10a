"""Scan speed: scenes/s and km²/s with 1 and 2 local Ray workers, and the cost of Ray.

In one run, on the same SYNTHETIC scenes and an untrained UNet4 checkpoint (a model's
cost does not depend on its weights; the test suite's checkpoint helper writes it):

* the predictor called in a loop in this process (one torch thread, model loaded once);
* ``scan`` with 1, then 2 Ray workers (one CPU and one torch thread each) on a local Ray
  started once beforehand. Scan times run from the first scene sent to the last one
  recorded, so they include starting the actors (a fresh process that imports torch and
  loads the model); the time per scene inside an actor is reported too.

    uv run python benchmarks/scan.py [--scenes 4] [--size 512]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.scan import SceneRecord, scan, scenes_in_directory
from torchgeo_datacenters.scan.cluster import import_ray, ray_session
from torchgeo_datacenters.synthetic import generate_scenes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.inference import save_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="scene side in pixels")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = generate_scenes(root / "scenes", size=args.size, count=args.scenes, progress=False)
        checkpoint = save_checkpoint(root / "unet4.ckpt")
        km2 = args.scenes * (args.size * 0.6) ** 2 / 1e6

        start = time.perf_counter()
        predictor = Predictor(checkpoint, device="cpu", progress=False, num_workers=0)
        load = time.perf_counter() - start
        start = time.perf_counter()
        for path in data.scene_paths:
            predictor.predict(path)
        loop = time.perf_counter() - start

        rows = {"predictor in a loop (1 thread)": (loop, loop / args.scenes)}
        scenes = scenes_in_directory(root / "scenes")
        start = time.perf_counter()
        with ray_session(import_ray(local=True), None, 2):
            ray_start = time.perf_counter() - start
            for workers in (1, 2):
                records: list[SceneRecord] = []
                result = scan(
                    scenes,
                    checkpoint,
                    root / f"scan{workers}",
                    workers=workers,
                    progress=False,
                    on_scene=records.append,
                )
                per_scene = sum(record.seconds for record in records) / len(records)
                rows[f"Ray, {workers} worker(s)"] = (result.scan_seconds, per_scene)

    print(
        f"\n{args.scenes} SYNTHETIC scenes of {args.size} x {args.size} px ({km2:.3f} km²),"
        f" untrained UNet4, CPU; model load {load:.1f} s, Ray start {ray_start:.1f} s"
    )
    print(f"{'mode':32s} {'wall s':>7s} {'scenes/s':>9s} {'km²/s':>7s} {'s/scene':>8s}")
    for name, (seconds, per_scene) in rows.items():
        print(
            f"{name:32s} {seconds:7.1f} {args.scenes / seconds:9.3f} {km2 / seconds:7.4f}"
            f" {per_scene:8.2f}"
        )
    (loop, loop_scene), (one, one_scene), (two, _) = rows.values()
    print(f"2 workers / 1 worker, throughput: {one / two:.2f}x")
    print(f"Ray 1 worker / loop, wall time (actor start included): {one / loop:.2f}x")
    print(f"time per scene in an actor / in the loop: {one_scene / loop_scene:.2f}x")


if __name__ == "__main__":
    main()
