"""A national scan's two questions that no single machine's rate answers.

(The rates of one worker, and of 1 and 2 local Ray workers, are ``benchmarks/scan.py``'s.)

``--merge-only``: the output directory of a finished scan of N scenes (200,000 by
default, about a national NAIP cycle) is generated, with one detection per 10 scenes
(20,000), some of them cut by a scene edge: every scene's GeoParquet and manifest line as a
scan writes them, most scenes empty. ``scan`` over it then has nothing to predict: it reads
the manifest, merges and writes the outputs. Wall time and peak RSS of that run are measured
in a fresh process (the directories are generated first), at N/8, N/4, N/2 and N, to show
how they grow.

    uv run python benchmarks/scan_national.py --merge-only [--merge-scenes 200000]

``--cluster``: a Ray cluster of a head and a worker node of one CPU each is started on this
machine with token authentication, as the README's "A Ray cluster" starts one
(``tests/support/ray_cluster.py``), and ``scan --ray-address`` runs the SYNTHETIC scenes on
it with 2 workers: the time to start the cluster, the scan's wall time and the scenes each
node ran.

    uv run python benchmarks/scan_national.py --cluster [--scenes 8] [--size 512]
"""

import argparse
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import geopandas as gpd
import shapely

from torchgeo_datacenters.detections import empty_detections
from torchgeo_datacenters.scan import SceneRecord, StacScene, scan, scenes_in_directory
from torchgeo_datacenters.scan.manifest import MANIFEST_FILE, SCENES_DIR, scene_file_name
from torchgeo_datacenters.stac import NetworkSettings
from torchgeo_datacenters.synthetic import generate_scenes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.inference import save_checkpoint
from support.ray_cluster import RayCluster

#: Side of a generated scene, in degrees (a NAIP quarter quadrangle: 3.75 arc-minutes).
QUARTER_QUAD = 0.0625

#: Generated scenes per row of the lattice (lower 48: some 930 x 400 quarter quadrangles).
LATTICE_COLUMNS = 500


def quarter_quad(index: int) -> shapely.Polygon:
    """The footprint of generated scene *index*, on a lattice from 125° W, 49° N."""
    row, col = divmod(index, LATTICE_COLUMNS)
    west, north = -125.0 + col * QUARTER_QUAD, 49.0 - row * QUARTER_QUAD
    return shapely.box(west, north - QUARTER_QUAD, west + QUARTER_QUAD, north)


def building(west: float, south: float, width: float, height: float) -> shapely.Polygon:
    """A rectangle of *width* x *height* degrees."""
    return shapely.box(west, south, west + width, south + height)


def generated_detections(index: int) -> list[shapely.Polygon]:
    """The detections of generated scene *index*: 4 in every 40 scenes, one cut by an edge.

    Scene 40k holds a building inside and the west part of one cut by its east edge;
    scene 40k+1, its neighbour, the east part and another building inside.
    """
    box = quarter_quad(index)
    west, south, east, _ = box.bounds
    middle = south + QUARTER_QUAD / 2
    if index % 40 == 0:
        return [
            building(west + 0.01, middle, 0.002, 0.001),
            building(east - 0.001, middle, 0.001, 0.001),
        ]
    if index % 40 == 1:
        return [building(west, middle, 0.001, 0.001), building(west + 0.03, middle, 0.002, 0.002)]
    return []


#: Scenes sharing one hard-linked empty table (under ext4's 65,000 links a file).
LINKS_PER_FILE = 50_000


def generated_scenes(count: int) -> list[StacScene]:
    """The first *count* generated scenes, as STAC items (footprints and dates; no asset)."""
    network = NetworkSettings()
    scenes = []
    for index in range(count):
        scene_id = f"m_{index:06d}"
        item = {
            "id": scene_id,
            "type": "Feature",
            "geometry": shapely.geometry.mapping(quarter_quad(index)),
            "properties": {"datetime": "2022-07-01T00:00:00Z"},
            "assets": {},
            "links": [],
        }
        scenes.append(StacScene(scene_id, item, "http://127.0.0.1/", "naip", "image", network))
    return scenes


def detection_table(scene_id: str, polygons: list[shapely.Polygon]) -> gpd.GeoDataFrame:
    """A scene's detections as the scan writes them."""
    return gpd.GeoDataFrame(
        {
            "id": range(1, len(polygons) + 1),
            "area_m2": [p.area * 1e10 for p in polygons],
            "centroid_lon": [p.centroid.x for p in polygons],
            "centroid_lat": [p.centroid.y for p in polygons],
            "score": 0.9,
            "max_score": 0.99,
            "source": f"{scene_id}.tif",
        },
        geometry=polygons,
        crs="EPSG:4326",
    )


def write_finished_scan(directory: Path, count: int, larger: Path | None = None) -> None:
    """Write the output directory of a finished scan of the first *count* generated scenes.

    Args:
        directory: the output directory.
        count: scenes.
        larger: the directory of a larger generated scan, whose scene files with
            detections are hard-linked rather than written again.
    """
    scenes_dir = directory / SCENES_DIR
    scenes_dir.mkdir(parents=True)
    empties = []  # one empty table per LINKS_PER_FILE scenes: ext4 allows 65,000 links a file
    for number in range(count // LINKS_PER_FILE + 1):
        empties.append(directory / f"empty{number}.parquet")
        empty_detections().to_parquet(empties[-1])
    lines = []
    for index in range(count):
        scene_id = f"m_{index:06d}"
        file = Path(SCENES_DIR) / scene_file_name(scene_id)
        polygons = generated_detections(index)
        if polygons and larger is not None:
            os.link(larger / file, directory / file)
        elif polygons:
            detection_table(scene_id, polygons).to_parquet(directory / file)
        else:
            # The same empty tables: no need for more disk.
            os.link(empties[index // LINKS_PER_FILE], directory / file)
        record = SceneRecord(
            scene_id, "done", len(polygons), 5.0, 1.0, 1, file.as_posix(), None, "2026-01-01"
        )
        lines.append(json.dumps(asdict(record), sort_keys=True) + "\n")
    (directory / MANIFEST_FILE).write_text("".join(lines))


def _merge_run(
    directory: Path,
    checkpoint: Path,
    count: int,
    answer: "multiprocessing.Queue[tuple[float, int, float]]",
) -> None:
    """Time a scan's merge and writing over a generated finished scan (in a fresh process).

    Answers the wall time in seconds, the detections merged and the process's peak RSS in
    MB (the scenes' list, as a scan holds it, included).
    """
    scenes = generated_scenes(count)
    start = time.perf_counter()
    result = scan(scenes, checkpoint, directory, progress=False)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    answer.put((seconds, len(result.detections), peak))


def merge_only(count: int) -> None:
    """Time the final merge and writing of scans of count/8, count/4, count/2 and count scenes."""
    sizes = (count // 8, count // 4, count // 2, count)
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="tgdc-merge-") as tmp:
        checkpoint = save_checkpoint(Path(tmp) / "unet4.ckpt")
        start = time.perf_counter()
        largest = Path(tmp) / f"scan{count}"
        for done, size in enumerate(reversed(sizes)):
            write_finished_scan(Path(tmp) / f"scan{size}", size, None if done == 0 else largest)
            took = time.perf_counter() - start
            print(f"generated {done + 1}/{len(sizes)} scans in {took:.0f} s", flush=True)
        print(f"generated scans, 1 detection per 10 scenes; {os.cpu_count()} CPUs")
        header = ("scenes", "detections", "merged", "wall s", "s/1000 scenes", "peak RSS MB")
        print(" ".join(f"{name:>14s}" for name in header))
        rows = []
        for size in sizes:
            answer = context.Queue()
            process = context.Process(
                target=_merge_run, args=(Path(tmp) / f"scan{size}", checkpoint, size, answer)
            )
            process.start()
            seconds, merged, peak = answer.get()
            process.join()
            detections = sum(len(generated_detections(i)) for i in range(size))
            rows.append((size, seconds))
            figures = (size, detections, merged, seconds, seconds / size * 1000, peak)
            print(" ".join(f"{value:14,.2f}" for value in figures), flush=True)
    (small, small_s), *_, (large, large_s) = rows
    print(
        f"time x{large_s / small_s:.2f} for scenes x{large / small:.0f}"
        f" (linear: x{large / small:.0f}); {count} scenes: {large_s:.1f} s"
    )


def cluster_scan(count: int, size: int) -> None:
    """Scan SYNTHETIC scenes on a two-node Ray cluster of this machine."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_scenes(root / "scenes", size=size, count=count, progress=False)
        checkpoint = save_checkpoint(root / "unet4.ckpt")
        start = time.perf_counter()
        with RayCluster() as cluster:
            head = time.perf_counter() - start
            cluster.add_node("worker")
            started = time.perf_counter() - start
            for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_ENABLE_UV_RUN_RUNTIME_ENV"):
                os.environ[name] = cluster.env[name]
            records: list[SceneRecord] = []
            result = scan(
                scenes_in_directory(root / "scenes"),
                checkpoint,
                root / "scan",
                workers=2,
                ray_address=cluster.address,
                progress=False,
                on_scene=records.append,
            )
            names = {cluster.node_id(name): name for name in cluster.nodes}
    nodes = Counter(names.get(str(record.node), "?") for record in records)
    print(
        f"\n{count} SYNTHETIC scenes of {size} x {size} px, untrained UNet4, 2 workers on a"
        f" cluster of 2 nodes x 1 CPU; {os.cpu_count()} CPUs"
    )
    print(f"cluster start: head {head:.1f} s, with the worker node {started:.1f} s")
    print(
        f"scan: {result.seconds:.1f} s in all, {result.scan_seconds:.1f} s from the first scene"
        f" sent ({count / result.scan_seconds:.3f} scenes/s); scenes per node: {dict(nodes)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=512, help="scene side in pixels")
    parser.add_argument("--merge-only", action="store_true", help="time the final merge only")
    parser.add_argument("--merge-scenes", type=int, default=200_000)
    parser.add_argument("--cluster", action="store_true", help="scan on a two-node cluster")
    args = parser.parse_args()
    if args.merge_only:
        merge_only(args.merge_scenes)
    elif args.cluster:
        cluster_scan(args.scenes, args.size)
    else:
        parser.error("choose --merge-only or --cluster (local Ray rates: benchmarks/scan.py)")


if __name__ == "__main__":
    main()
