"""The screening pass on a SYNTHETIC county: scan time with and without it, and what it keeps.

Builds a county of SYNTHETIC scenes (``--scenes`` of ``--size``² px at 0.6 m) with
realistic sparsity: ``--datacenter-scenes`` of them hold data centers among look-alike
warehouses, the rest are warehouse districts (look-alike warehouses, retail and other
buildings, no data center), suburbs (houses), farmland and forest, in the shares of
:data:`LAND`. Then, in one run, the full model scans every scene without the screen
(``screen="off"``) and with it (the screen's own pass included), and prints:

* the scan time of each and their ratio (target >= 5x), by kind of land;
* whether every detection of the full run is found with the screen (a detection of the
  screened run with IoU >= 0.5; target: object recall 1.0) and with the same outline
  (its best outline IoU; target >= 0.99), and any detection the screened run adds;
* the share of tiles the full model ran on with the screen;
* the data centers of the labels the full run found (the model's own recall, for
  reference; the screen is judged against the full run), and how many of those the
  screened run finds with the same outline.

Models: ``--checkpoint`` (e.g. ``tgdc demo``'s ``model.ckpt``) and ``--screen``, trained
by the same route at 4x the pixel size::

    uv run torchgeo fit --config configs/demo.yaml --data.init_args.paths DIR \\
        --data.init_args.label_path DIR/labels.geojson --data.init_args.gsd 2.4 \\
        --data.init_args.patch_size 64 --data.init_args.positive_classes \\
        '[datacenter, warehouse]' --trainer.max_epochs 8 --trainer.default_root_dir OUT

Usage::

    uv run python benchmarks/screen.py --checkpoint model.ckpt --screen model.screen.ckpt
        [--scenes 32] [--size 2048] [--datacenter-scenes 2] [--precision auto]
        [--county-dir DIR]
"""

import argparse
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from torchgeo_datacenters.cli import set_runtime_environment

set_runtime_environment()

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402

from torchgeo_datacenters.inference import Detections, Predictor  # noqa: E402
from torchgeo_datacenters.naip import GSD  # noqa: E402
from torchgeo_datacenters.synthetic import generate_scene, scene_origin  # noqa: E402

#: Shares of the scenes without data centers: (kind, landscape, buildings, share).
LAND = (
    ("warehouses", "mixed", True, 4 / 30),
    ("suburbs", "mixed", False, 8 / 30),
    ("farmland", "farmland", False, 10 / 30),
    ("forest", "forest", False, 8 / 30),
)

#: Buildings of a warehouse district and of a data-center scene, per 1024² px.
BUILDINGS_PER_MPX = 4


@dataclass
class CountyScene:
    """One scene of the county."""

    path: Path
    kind: str
    labels: gpd.GeoDataFrame


def county_kinds(scenes: int, datacenter_scenes: int) -> list[str]:
    """The kind of land of every scene: data centers first, then LAND's shares."""
    rest = scenes - datacenter_scenes
    counts = [int(share * rest) for _, _, _, share in LAND]
    for index in range(rest - sum(counts)):
        counts[index % len(counts)] += 1
    kinds = ["datacenters"] * datacenter_scenes
    for (kind, _, _, _), count in zip(LAND, counts, strict=True):
        kinds += [kind] * count
    return kinds


def build_county(root: Path, scenes: int, size: int, datacenter_scenes: int) -> list[CountyScene]:
    """Write the county's scenes (reused where already written)."""
    root.mkdir(parents=True, exist_ok=True)
    land = {kind: (landscape, buildings) for kind, landscape, buildings, _ in LAND}
    buildings = max(3, round(BUILDINGS_PER_MPX * size**2 / 2**20))
    county = []
    for index, kind in enumerate(county_kinds(scenes, datacenter_scenes)):
        path = root / f"county_{index:03d}_{kind}.tif"
        landscape, with_buildings = land.get(kind, ("mixed", True))
        labels = generate_scene(
            path,
            size=size,
            seed=1000 + index,
            origin=scene_origin(index, size),
            n_datacenters=1 + index % 2 if kind == "datacenters" else 0,
            n_negatives=buildings if with_buildings else 0,
            lookalike_warehouses=True,
            landscape=landscape,
            overwrite=True,
        )
        county.append(CountyScene(path, kind, labels))
        print(f"  county scene {index + 1}/{scenes} ({kind}) written", flush=True)
    return county


def scan(predictor: Predictor, county: list[CountyScene], name: str) -> list[Detections]:
    """Predict every scene, printing progress with the time left."""
    results = []
    start = time.perf_counter()
    for index, scene in enumerate(county):
        results.append(predictor.predict(scene.path))
        took = time.perf_counter() - start
        left = took / (index + 1) * (len(county) - index - 1)
        print(
            f"  {name}: scene {index + 1}/{len(county)} ({scene.kind}) in"
            f" {results[-1].seconds:.1f} s; {took:.0f} s so far, about {left:.0f} s left",
            flush=True,
        )
    return results


def best_iou(outline: shapely.Geometry, others: Iterable[shapely.Geometry]) -> float:
    """The best IoU of an outline with any of others."""
    return max((outline.intersection(o).area / outline.union(o).area for o in others), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="the full model")
    parser.add_argument("--screen", type=Path, required=True, help="the screen checkpoint")
    parser.add_argument("--scenes", type=int, default=32, help="scenes in the county")
    parser.add_argument("--size", type=int, default=2048, help="scene side, pixels")
    parser.add_argument("--datacenter-scenes", type=int, default=2)
    parser.add_argument("--precision", default="auto", help="precision of both runs")
    parser.add_argument("--county-dir", type=Path, help="where the county is written")
    args = parser.parse_args()

    root = args.county_dir or Path(tempfile.mkdtemp(prefix="tgdc-county-"))
    print(f"county: {args.scenes} SYNTHETIC scenes of {args.size}² px in {root}")
    county = build_county(root, args.scenes, args.size, args.datacenter_scenes)
    km2 = len(county) * (args.size * GSD) ** 2 / 1e6
    options = {"device": "cpu", "progress": False, "precision": args.precision}
    full_predictor = Predictor(args.checkpoint, screen="off", **options)
    full = scan(full_predictor, county, "without the screen")
    screened_predictor = Predictor(args.checkpoint, screen=str(args.screen), **options)
    screened = scan(screened_predictor, county, "with the screen")

    found, ious, added, truth_found, truths, truth_kept = 0, [], 0, 0, 0, []
    rows = []
    for scene, a, b in zip(county, full, screened, strict=True):
        with rasterio.open(scene.path) as src:
            metric = src.crs  # the scene's UTM zone
        outlines_a = a.gdf.to_crs(metric).geometry
        outlines_b = b.gdf.to_crs(metric).geometry
        for outline in outlines_a:
            iou = best_iou(outline, outlines_b)
            ious.append(iou)
            found += iou >= 0.5
        added += sum(best_iou(outline, outlines_a) < 0.5 for outline in outlines_b)
        truth = scene.labels[scene.labels["label"]].to_crs(metric).geometry
        truths += len(truth)
        for t in truth:
            if best_iou(t, outlines_a) >= 0.5:
                truth_found += 1
                # The full run's detection of a labelled data center, and the screened run's.
                detection = max(outlines_a, key=lambda outline: best_iou(outline, [t]))
                truth_kept.append(best_iou(detection, outlines_b))
        rows.append(
            {
                "kind": scene.kind,
                "full s": a.seconds,
                "screened s": b.seconds,
                "tiles": b.stats.tiles,
                "model tiles": b.stats.tiles - b.stats.screened_tiles,
            }
        )
    table = pd.DataFrame(rows).groupby("kind", sort=False).sum()
    table["scenes"] = pd.Series([s.kind for s in county]).value_counts()
    table["speed-up"] = table["full s"] / table["screened s"]
    table["model tiles share"] = table["model tiles"] / table["tiles"]
    print(f"\nprecision {full_predictor.precision}; by kind of land:")
    print(table.round(3).to_string())
    full_s = sum(r.seconds for r in full)
    screened_s = sum(r.seconds for r in screened)
    detections = len(ious)
    recall = found / detections if detections else 1.0
    worst = min(ious, default=1.0)
    share = table["model tiles"].sum() / table["tiles"].sum()
    print(
        f"\nwithout the screen: {full_s:.1f} s ({km2 / full_s * 3600:.1f} km²/h);"
        f" with it: {screened_s:.1f} s ({km2 / screened_s * 3600:.1f} km²/h), the model ran"
        f" on {share:.1%} of the tiles"
    )
    print(
        f"full run: {detections} detection(s), {truth_found} of {truths} labelled data"
        f" centers; screened run finds {found} of them (object recall {recall:.3f}), outline"
        f" IoU min {worst:.4f} ({', '.join(f'{i:.4f}' for i in ious)}); {added} added"
    )
    kept = sum(iou >= 0.5 for iou in truth_kept)
    print(
        f"labelled data centers the full run found: the screened run finds {kept} of"
        f" {len(truth_kept)}, outline IoU {', '.join(f'{i:.4f}' for i in truth_kept)}"
    )
    speedup = full_s / screened_s
    verdict = "met" if speedup >= 5 and recall == 1.0 and worst >= 0.99 else "NOT met"
    print(
        f"screen: {speedup:.2f}x faster over {km2:.1f} km², object recall {recall:.3f},"
        f" outline IoU >= {worst:.4f} (targets >= 5x, 1.0, 0.99: {verdict})"
    )


if __name__ == "__main__":
    main()
