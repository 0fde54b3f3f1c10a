"""Draw traced and regularised outlines side by side over a scene: the README's picture.

Detects the data centers of one scene with a checkpoint (traced outlines), writes the
same detections' outlines by the predictor's ``regularize`` rule (as ``tgdc scan`` does
after merging: :func:`~torchgeo_datacenters.detections.merge.merge_detections`) and draws,
for the largest detections, the imagery with the true footprints (green, when a label
file is given), the traced outline (left, red) and the regularised one (right, blue),
with their vertex counts.

    uv run python benchmarks/outline_picture.py --checkpoint demo-output/model.ckpt \\
        --scene SCENE.tif [--labels labels.geojson] [--count 3] --output docs/outlines.png
"""

import argparse
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio
from rasterio.windows import from_bounds

from torchgeo_datacenters.detections.merge import merge_detections
from torchgeo_datacenters.detections.outlines import OutlineRules
from torchgeo_datacenters.detections.quality import vertex_count
from torchgeo_datacenters.inference import Predictor

#: Imagery shown around each detection, in metres.
MARGIN = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--scene", type=Path, required=True)
    parser.add_argument("--labels", type=Path, default=None)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    traced = Predictor(args.checkpoint, device="cpu", progress=False).predict(args.scene).gdf
    written = merge_detections(traced, outlines=OutlineRules(regularize=True))
    with rasterio.open(args.scene) as src:
        crs = src.crs
        traced, written = traced.to_crs(crs), written.to_crs(crs)
        truth = gpd.read_file(args.labels).to_crs(crs) if args.labels else None
        if truth is not None:
            truth = truth[truth["label"].astype(bool)]
        largest = written.sort_values("area_m2", ascending=False).head(args.count)
        fig, axes = plt.subplots(2, len(largest), figsize=(4 * len(largest), 8), squeeze=False)
        for column, outline in enumerate(largest.geometry):
            left, bottom, right, top = outline.buffer(MARGIN).bounds
            window = from_bounds(left, bottom, right, top, src.transform)
            rgb = np.moveaxis(src.read([1, 2, 3], window=window, boundless=True), 0, -1)
            before = traced[traced.intersects(outline)]
            for row, (shapes, colour, name) in enumerate(
                (
                    (before, "#ff1744", "traced"),
                    (gpd.GeoSeries([outline]), "#2979ff", "regularised"),
                )
            ):
                ax = axes[row, column]
                ax.imshow(rgb, extent=(left, right, bottom, top))
                if truth is not None:
                    truth.boundary.plot(ax=ax, color="#00e676", linewidth=2)
                shapes.boundary.plot(ax=ax, color=colour, linewidth=1.6)
                vertices = sum(vertex_count(shape) for shape in shapes.geometry)
                ax.set_title(f"{name}: {vertices} vertices", fontsize=11)
                ax.set_xlim(left, right)
                ax.set_ylim(bottom, top)
                ax.set_axis_off()
    fig.suptitle("SYNTHETIC scene: true footprints green; traced (top) vs --regularize (bottom)")
    fig.tight_layout()
    fig.savefig(args.output, dpi=80)
    print(f"outline_picture: {len(largest)} detections drawn to {args.output}")


if __name__ == "__main__":
    main()
