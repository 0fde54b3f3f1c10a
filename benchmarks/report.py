"""How fast the HTML map report opens with 10,000 detections in headless Chromium.

Writes a report of N square detections on a grid over a synthetic 4,096 x 4,096 px scene
(0.6 m pixels), opens it unmodified in an already started headless Chromium, in real time
(tests/support/browser.py: the DevTools protocol on a pipe, no virtual time), and prints the
page's own clocks, in milliseconds from navigation start: its script done (Leaflet map,
outlines and table built), the load event finished, and the first frame drawn after it
(two animation frames later: the page is open and shown). The time from sending the
navigation to that, measured outside the browser, is printed beside them. With
--screenshot it saves a screenshot of a small report instead (for docs/report.png).

    uv run python benchmarks/report.py --detections 10000
    uv run python benchmarks/report.py --detections 3 --screenshot docs/report.png
"""

import argparse
import sys
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from support.browser import PAGE_OPEN, evaluate_in_chromium, screenshot
from support.inference import write_scene

from torchgeo_datacenters.outputs.provenance import raster_provenance
from torchgeo_datacenters.outputs.report import write_report

SIDE = 4096


def grid_detections(image: Path, count: int) -> gpd.GeoDataFrame:
    footprint = raster_provenance(image).footprint
    west, south, east, north = footprint.bounds
    per_row = int(np.ceil(np.sqrt(count)))
    step_x, step_y = (east - west) / per_row, (north - south) / per_row
    rng = np.random.default_rng(0)
    rows = []
    for number in range(count):
        x = west + (number % per_row + 0.2) * step_x
        y = north - (number // per_row + 0.8) * step_y
        box = shapely.box(x, y, x + 0.6 * step_x, y + 0.6 * step_y)
        rows.append((number + 1, box))
    boxes = [box for _, box in rows]
    return gpd.GeoDataFrame(
        {
            "id": [n for n, _ in rows],
            "area_m2": rng.uniform(2800, 125_000, count),
            "centroid_lon": [b.centroid.x for b in boxes],
            "centroid_lat": [b.centroid.y for b in boxes],
            "score": rng.uniform(0.5, 1.0, count),
            "max_score": 1.0,
            "source": image.name,
            "source_item": None,
            "acquired": "2020-09-02",
        },
        geometry=boxes,
        crs=4326,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detections", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        side = SIDE if args.screenshot is None else 512
        roofs = [(60, 60, 120, 180), (300, 260, 90, 150), (280, 40, 150, 110)]
        image = write_scene(folder / "m_4208701_ne_16_060_20200902.tif", side, side, roofs)
        detections = grid_detections(image, args.detections)
        page = write_report(folder / "report.html", detections, [image])
        print(f"report: {args.detections} detections, {page.stat().st_size / 2**20:.1f} MiB")
        if args.screenshot is not None:
            screenshot(page, args.screenshot)
            print(f"screenshot: {args.screenshot}")
            return
        for run in range(args.repeats):
            opened = evaluate_in_chromium(page, PAGE_OPEN)
            clocks = opened.value
            assert opened.errors == [] and clocks["rows"] == args.detections, opened
            print(
                f"run {run + 1}: page built {clocks['ready']:.0f} ms, load event done"
                f" {clocks['load']:.0f} ms, first frame drawn {clocks['painted']:.0f} ms after"
                f" navigation start ({opened.wall_ms:.0f} ms measured outside the browser)"
            )


if __name__ == "__main__":
    main()
