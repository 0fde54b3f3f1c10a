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

* **Network** (``--network``): the SYNTHETIC scenes are served as STAC items by the test
  suite's loopback STAC server (``tests/support/stac_server.py``), throttled to
  ``--rate`` MB/s after ``--latency`` seconds per request, and one worker
  (:class:`~torchgeo_datacenters.scan.worker.SceneWorker`, outside Ray, one torch thread)
  scans them twice: given one scene at a time (it downloads, then predicts), then given
  each scene with the next (it downloads the next while it predicts). Printed: the share
  of the worker's time spent waiting for a download in each pass; then, over the same
  server, one scene downloaded whole against its pixels read over HTTP range requests
  (GDAL ``/vsicurl/``, through rasterio, with its block cache emptied first), all of
  them and a quarter of them.

    uv run python benchmarks/scan.py [--scenes 4] [--size 512] [--no-ray]
        [--checkpoint model.ckpt --screen model.screen.ckpt] [--county-scenes 32]
        [--county-size 2048]
    uv run python benchmarks/scan.py --network [--scenes 8] [--size 1024] [--rate 2]
        [--latency 0.1]
"""

import argparse
import datetime as dt
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

import rasterio
import shapely
import torch
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.naip import GSD
from torchgeo_datacenters.options import PredictorOptions
from torchgeo_datacenters.scan import SceneRecord, scan, scenes_in_directory, stac_scenes
from torchgeo_datacenters.scan.cluster import import_ray, ray_session
from torchgeo_datacenters.scan.scenes import download
from torchgeo_datacenters.scan.worker import SceneWorker
from torchgeo_datacenters.stac import NaipCatalog, NetworkSettings
from torchgeo_datacenters.synthetic import generate_scenes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from screen import build_county
from support.inference import save_checkpoint
from support.stac_server import StacServer

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


def network_wait(args: argparse.Namespace, root: Path) -> None:
    """Print the share of a worker's time spent waiting for downloads, without and with prefetch."""
    data = generate_scenes(root / "served", size=args.size, count=args.scenes, progress=False)
    checkpoint = save_checkpoint(root / "unet4.ckpt")
    boxes, date = [], dt.datetime(2022, 7, 1, tzinfo=dt.UTC)
    for path in data.scene_paths:
        with rasterio.open(path) as src:
            boxes.append(shapely.box(*transform_bounds(src.crs, "EPSG:4326", *src.bounds)))
    megabytes = sum(path.stat().st_size for path in data.scene_paths) / 1e6 / args.scenes
    served = StacServer.from_directory(
        root / "served", datetimes={path.name: date for path in data.scene_paths}
    )
    with served as server:
        server.throttle(latency=args.latency, rate=args.rate * 1e6)
        scenes = stac_scenes(NaipCatalog(server.url), shapely.union_all(boxes), 2022)
        worker = SceneWorker(
            checkpoint.read_bytes(), checkpoint.name, PredictorOptions(), "cpu", root
        )
        worker.scan(scenes[0])  # warm-up: the first prediction sets the model up
        rows = {}
        for name, ahead in (("one scene at a time", False), ("next scene fetched ahead", True)):
            start = time.perf_counter()
            outcomes = []
            for index, scene in enumerate(scenes):
                following = scenes[index + 1] if ahead and index + 1 < len(scenes) else None
                outcomes.append(worker.scan(scene, following))
                left = (time.perf_counter() - start) / (index + 1) * (len(scenes) - index - 1)
                print(f"  {name}: scene {index + 1}/{len(scenes)}, about {left:.0f} s left")
            wall = time.perf_counter() - start
            waited = sum(outcome.waited for outcome in outcomes)
            busy = sum(outcome.seconds for outcome in outcomes)
            rows[name] = (wall, waited, waited / busy)
        worker.close()
        reads = timed_reads(server, data.scene_paths[0], root)
    fetch_s = megabytes / args.rate + args.latency
    predict = (rows["one scene at a time"][0] - rows["one scene at a time"][1]) / args.scenes
    print(
        f"\n{args.scenes} SYNTHETIC scenes of {args.size} x {args.size} px ({megabytes:.2f} MB"
        f" each), loopback STAC server at {args.rate:g} MB/s + {args.latency:g} s a request"
        f" (a download about {fetch_s:.2f} s), untrained UNet4, 1 torch thread (about"
        f" {predict:.2f} s a scene)"
    )
    print(f"{'mode':28s} {'wall s':>7s} {'waiting s':>10s} {'waiting share':>14s}")
    for name, (wall, waited, share) in rows.items():
        print(f"{name:28s} {wall:7.1f} {waited:10.2f} {share:14.1%}")
    (before, _, _), (after, _, _) = rows.values()
    print(f"wall time fetched ahead / one at a time: {after / before:.2f}x")
    print(f"\n{'one scene':34s} {'s':>6s} {'requests':>9s}")
    for name, (seconds, requests) in reads.items():
        print(f"{name:34s} {seconds:6.2f} {requests:9d}")


def _read_over_http(
    url: str, window: Window | None, answer: "multiprocessing.Queue[float]"
) -> None:
    """Read a served scene's pixels over /vsicurl/ and answer the seconds it took.

    Runs in a process of its own: rasterio holds the GIL while GDAL opens a file, which
    would stall a server in a thread of the same process.
    """
    start = time.perf_counter()
    with rasterio.open(url) as src:
        src.read(window=window)
    answer.put(time.perf_counter() - start)


def timed_reads(server: StacServer, path: Path, root: Path) -> dict[str, tuple[float, int]]:
    """Seconds and requests to get a served scene: downloaded whole, or read over /vsicurl/."""
    url = server.asset_url(path.name)
    with rasterio.open(path) as src:
        quarter = Window(0, 0, src.width // 2, src.height // 2)
    context = multiprocessing.get_context("spawn")
    reads = {}
    for name, window in (("/vsicurl/, every pixel", None), ("/vsicurl/, a quarter", quarter)):
        server.clear_log()
        answer = context.Queue()
        process = context.Process(target=_read_over_http, args=(url, window, answer))
        process.start()
        reads[name] = (answer.get(), len(server.requests_to("/assets/")))
        process.join()
    server.clear_log()
    start = time.perf_counter()
    download(url, root / "whole.tif", NetworkSettings())
    reads["downloaded whole"] = (time.perf_counter() - start, len(server.requests_to("/assets/")))
    return reads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="scene side in pixels")
    parser.add_argument("--no-ray", action="store_true", help="leave the Ray section out")
    parser.add_argument("--checkpoint", type=Path, help="the model of the worker rates")
    parser.add_argument("--screen", type=Path, help="its screen checkpoint")
    parser.add_argument("--county-scenes", type=int, default=32)
    parser.add_argument("--county-size", type=int, default=2048, help="pixels")
    parser.add_argument("--network", action="store_true", help="time waiting for downloads")
    parser.add_argument("--rate", type=float, default=2.0, help="network rate, MB/s")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per request")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.network:
            network_wait(args, root)
            return
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
