"""Splitting campuses into halls: SYNTHETIC campuses of 2-4 halls joined by thin strips.

Each campus is 2 to 4 rectangular halls (40-110 m a side) in a row or a 2 x 2 block,
turned by one random angle, 12-30 m apart and joined by strips (corridors, shadows) 2-6 m
wide; the single buildings are L-shapes and courtyards as large, with wings 20 m or more
wide. Every shape is drawn into a 0.6 m detection mask (pixel-centre rule) and traced by
the project's :class:`~torchgeo_datacenters.detections.vectorize.Vectorizer` with each
``--widths`` value as its ``split_width`` (and regularised outlines). Printed per width:
the share of campuses split into exactly their halls, the share of true halls matched
one-to-one at IoU >= 0.5 and their mean IoU, and the share of single buildings split
apart (which should stay whole).

    uv run python benchmarks/campuses.py [--campuses 60] [--widths 0 4 8 12] [--seed 0]
"""

import argparse
import itertools
import os
import time

import numpy as np
import shapely
from affine import Affine
from rasterio.features import rasterize
from shapely import affinity

from torchgeo_datacenters.detections.outlines import OutlineRules
from torchgeo_datacenters.detections.vectorize import Vectorizer
from torchgeo_datacenters.naip import GSD
from torchgeo_datacenters.tasks.object_metrics import match_polygons

#: The scenes' CRS and the top-left corner of each, in metres.
UTM = "EPSG:32617"
ORIGIN = (500000.0, 4400000.0)
#: Side of the square scene each shape is drawn in, in pixels.
SIZE = 640


def campus(rng: np.random.Generator) -> tuple[list[shapely.Polygon], shapely.Geometry]:
    """A campus: its halls and the outline the mask joins them into (metres, centred)."""
    count = int(rng.integers(2, 5))
    width, height = rng.uniform(40, 110, 2)
    gap = rng.uniform(12, 30)
    strip = rng.uniform(2, 6)
    if count == 4 or (count == 3 and rng.random() < 0.5):
        cells = [(i % 2, i // 2) for i in range(count)]
    else:
        cells = [(i, 0) for i in range(count)]
    halls = [
        shapely.box(
            x * (width + gap),
            y * (height + gap),
            x * (width + gap) + width,
            y * (height + gap) + height,
        )
        for x, y in cells
    ]
    strips = []
    for (x1, y1), (x2, y2) in itertools.pairwise(cells):
        if y1 == y2:  # side by side: a strip across the gap, somewhere along the wall
            y = y1 * (height + gap) + rng.uniform(strip, height - strip)
            x = x1 * (width + gap) + width
            strips.append(shapely.box(x - 1, y - strip / 2, x + gap + 1, y + strip / 2))
        else:  # the next row: a strip up to the hall above it
            x = x2 * (width + gap) + rng.uniform(strip, width - strip)
            y = min(y1, y2) * (height + gap) + height
            strips.append(shapely.box(x - strip / 2, y - 1, x + strip / 2, y + gap + 1))
    *moved, outline = turned([*halls, shapely.union_all(halls + strips)], rng.uniform(0, 90))
    return moved, outline


def single(rng: np.random.Generator) -> shapely.Geometry:
    """One building: an L-shape or a courtyard, with wings at least 20 m wide."""
    width, height = rng.uniform(80, 160, 2)
    wing = rng.uniform(20, 35)
    if rng.random() < 0.5:
        shape = shapely.box(0, 0, width, height).difference(shapely.box(wing, wing, width, height))
    else:
        shape = shapely.box(0, 0, width, height).difference(
            shapely.box(wing, wing, width - wing, height - wing)
        )
    return turned([shape], rng.uniform(0, 90))[0]


def turned(shapes: list[shapely.Geometry], angle: float) -> list[shapely.Geometry]:
    """Shapes turned together by an angle (degrees) and moved to the scene's centre."""
    pivot = shapely.union_all(shapes).centroid
    centre = (ORIGIN[0] + SIZE * GSD / 2, ORIGIN[1] - SIZE * GSD / 2)
    return [
        affinity.translate(
            affinity.rotate(shape, angle, origin=pivot),
            centre[0] - pivot.x,
            centre[1] - pivot.y,
        )
        for shape in shapes
    ]


def halls_found(outline: shapely.Geometry, width: float) -> np.ndarray:
    """Draw an outline into a 0.6 m mask and trace it with a split width (regularised)."""
    transform = Affine(GSD, 0, ORIGIN[0], 0, -GSD, ORIGIN[1])
    mask = rasterize([outline], out_shape=(SIZE, SIZE), transform=transform).astype(np.uint8)
    rules = OutlineRules(regularize=True, split_width=width)
    vectorizer = Vectorizer(transform, UTM, (SIZE, SIZE), outlines=rules)
    vectorizer.add(0, mask, mask.astype(np.float32))
    return vectorizer.finish().to_crs(UTM).geometry.to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campuses", type=int, default=60)
    parser.add_argument("--widths", type=float, nargs="+", default=[0.0, 4.0, 8.0, 12.0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    rng = np.random.default_rng(args.seed)
    campuses = [campus(rng) for _ in range(args.campuses)]
    singles = [single(rng) for _ in range(args.campuses)]
    true_halls = sum(len(halls) for halls, _ in campuses)
    print(
        f"SYNTHETIC: {args.campuses} campuses of 2-4 halls ({true_halls} halls), "
        f"{args.campuses} single buildings"
    )
    print(f"{'width m':>7s}  campuses exact  halls matched  hall IoU  singles split   s")
    start = time.perf_counter()
    for number, width in enumerate(args.widths):
        exact = matched = split = 0
        ious = []
        for halls, outline in campuses:
            found = halls_found(outline, width)
            exact += len(found) == len(halls)
            truth = np.array(halls)
            pairs = match_polygons(found, truth)
            matched += len(pairs[0])
            a, b = found[pairs[0]], truth[pairs[1]]
            ious += list(
                shapely.area(shapely.intersection(a, b)) / shapely.area(shapely.union(a, b))
            )
        for outline in singles:
            split += len(halls_found(outline, width)) > 1
        left = (time.perf_counter() - start) / (number + 1) * (len(args.widths) - number - 1)
        print(
            f"{width:7.1f}  {exact / len(campuses):14.3f}  {matched / true_halls:13.3f}"
            f"  {np.mean(ious) if ious else float('nan'):8.3f}  {split / len(singles):12.3f}"
            f"  {time.perf_counter() - start:4.0f} (about {left:.0f} s left)",
            flush=True,
        )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print(f"campuses: {len(args.widths)} widths in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
