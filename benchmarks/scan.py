"""Scan speed: km² per worker-hour for fp32, auto precision and the screen; Ray's cost.

In one run:

* **Rates per worker** (with ``--checkpoint``): one worker as a scan runs it (one process,
  one torch thread, the model loaded once) scans a SYNTHETIC county of realistic sparsity
  (``benchmarks/screen.py``'s: ``--county-scenes`` of ``--county-size``² px, two with data
  centers) three times: at fp32, at ``--precision auto`` (what this CPU gets by default)
  and at auto with the screen (``--screen``). Each prints km² per worker-hour, the rate a
  scan plan multiplies by its workers.
* **Ray** (unless ``--no-ray``), on ``--scenes`` SYNTHETIC scenes of ``--size``² px and
  an untrained UNet4 checkpoint (a model's cost does not depend on its weights; the test
  suite's checkpoint helper writes it): the predictor called in a loop in this process
  (one torch thread), then ``scan`` with 1 and 2 Ray workers (one CPU and one torch
  thread each) on a local Ray started once beforehand. Scan times run from the first
  scene sent to the last one recorded, so they include starting the actors (a fresh
  process that imports torch and loads the model); the time per scene inside an actor is
  reported too.

    uv run python benchmarks/scan.py [--scenes 4] [--size 512] [--no-ray]
        [--checkpoint model.ckpt --screen model.screen.ckpt] [--county-scenes 32]
        [--county-size 2048]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.naip import GSD
from torchgeo_datacenters.scan import SceneRecord, scan, scenes_in_directory
from torchgeo_datacenters.scan.cluster import import_ray, ray_session
from torchgeo_datacenters.synthetic import generate_scenes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from screen import build_county
from support.inference import save_checkpoint

#: The rates measured per worker: (name, precision, whether the screen runs).
RATES = (("fp32", "fp32", False), ("auto", "auto", False), ("auto + screen", "auto", True))


def worker_rates(args: argparse.Namespace, root: Path) -> None:
    """Print km² per worker-hour at fp32, auto precision and with the screen."""
    county = build_county(root / "county", args.county_scenes, args.county_size, 2)
    km2 = len(county) * (args.county_size * GSD) ** 2 / 1e6
    print(f"\n## One worker (1 torch thread), SYNTHETIC county of {km2:.1f} km²")
    rates = {}
    for name, precision, screened in RATES:
        predictor = Predictor(
            args.checkpoint,
            device="cpu",
            progress=False,
            precision=precision,
            screen=str(args.screen) if screened else "off",
        )
        start = time.perf_counter()
        for index, scene in enumerate(county):
            predictor.predict(scene.path)
            took = time.perf_counter() - start
            left = took / (index + 1) * (len(county) - index - 1)
            print(f"  {name}: scene {index + 1}/{len(county)}, about {left:.0f} s left", flush=True)
        seconds = time.perf_counter() - start
        rates[name] = km2 / seconds * 3600
        print(
            f"{name} ({predictor.precision}, screen {'on' if screened else 'off'}):"
            f" {seconds:.1f} s, {rates[name]:.1f} km² per worker-hour",
            flush=True,
        )
    fp32 = rates["fp32"]
    print(
        "per worker-hour: "
        + ", ".join(
            f"{name} {rate:.1f} km² ({rate / fp32:.2f}x fp32)" for name, rate in rates.items()
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="scene side in pixels")
    parser.add_argument("--no-ray", action="store_true", help="leave the Ray section out")
    parser.add_argument("--checkpoint", type=Path, help="the model of the worker rates")
    parser.add_argument("--screen", type=Path, help="its screen checkpoint")
    parser.add_argument("--county-scenes", type=int, default=32)
    parser.add_argument("--county-size", type=int, default=2048, help="pixels")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.checkpoint and args.screen:
            worker_rates(args, root)
        if args.no_ray:
            return
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
