"""``tgdc demo``: the whole job end to end on SYNTHETIC scenes, with pictures.

The demo generates SYNTHETIC NAIP-like training scenes and a separate test scene
(:mod:`.synthetic`; not real imagery), trains :class:`~.models.UNet4` through the same
LightningCLI path as ``torchgeo fit --config configs/demo.yaml``, runs the predictor on
the test scene, scores it against the test scene's labels and writes pictures and a
report. The real workflow is ``tgdc download`` + ``configs/datacenters.yaml``.
"""

import csv
import dataclasses
import datetime as dt
import inspect
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import rasterio
import shapely
import yaml
from matplotlib.ticker import MaxNLocator

from .datasets import DataCenterLabels
from .detections.change import Vintage, track_changes
from .detections.files import write_vector
from .detections.merge import merge_detections
from .detections.outlines import OutlineRules
from .detections.quality import OutlineQuality
from .errors import TGDCError
from .evaluation import matched_outline_quality, object_metrics, pixel_metrics
from .inference import Detections, Predictor
from .outputs import Outputs, write_vectors
from .synthetic import generate_scene, generate_scenes
from .tasks import (
    DataCenterSegmentation,
)
from .training import DEMO_CHECKPOINT, demo_config, train
from .utils import atomic_output

#: Upper-left corner of the test scene: far (50 km) from the training scenes.
TEST_ORIGIN = (560000.0, 4350000.0)

#: Side of the test scene, in pixels.
TEST_SIZE = 1024

#: Seed of the test scene (and of its later vintage).
TEST_SEED = 2024

#: Acquisition dates given to the test scene and to its later vintage (SYNTHETIC: the
#: scenes carry no date; these stand for two NAIP flights).
VINTAGE_DATES = (dt.date(2022, 6, 1), dt.date(2024, 6, 1))

#: Clearance, in metres, between the data center added in the later vintage and the test
#: scene's data centers.
NEW_SITE_CLEARANCE = 60.0


@dataclass(frozen=True)
class DemoResult:
    """What the demo wrote and measured."""

    output_dir: Path
    model: str
    checkpoint: Path
    detections: Detections
    metrics: dict[str, float]
    seconds: float
    #: The sites of the change example (:func:`~.detections.change.track_changes`).
    changes: gpd.GeoDataFrame | None = None
    #: Outline quality of the matched data centers, traced and regularised.
    outlines: dict[str, OutlineQuality] | None = None


def outline_table(outlines: dict[str, OutlineQuality]) -> str:
    """The Markdown table of outline quality, one column per kind of outline.

    Args:
        outlines: outline quality by kind of outline.

    Returns:
        The table.
    """
    rows = [
        ("matched data centers", "matched", "{:.0f}"),
        ("outline IoU with the true footprint", "iou", "{:.3f}"),
        ("main wall direction error (median, degrees)", "direction_error", "{:.2f}"),
        ("vertices (median)", "vertices", "{:.0f}"),
        ("corners within 5 degrees of a right angle", "right_angles", "{:.3f}"),
    ]
    head = "| outline | " + " | ".join(outlines) + " |\n|---|" + "---|" * len(outlines)
    body = "\n".join(
        f"| {label} | "
        + " | ".join(form.format(getattr(quality, name)) for quality in outlines.values())
        + " |"
        for label, name, form in rows
    )
    return f"{head}\n{body}"


def plot_overlay(
    scene: Path, truth: gpd.GeoDataFrame, detections: gpd.GeoDataFrame, path: Path
) -> None:
    """Draw the scene's RGB with true and detected polygons and centroids.

    Args:
        scene: the 4-band scene.
        truth: true data-center polygons (any CRS).
        detections: detected polygons (any CRS) with centroid columns.
        path: the PNG to write.
    """
    with rasterio.open(scene) as src:
        rgb = np.moveaxis(src.read([1, 2, 3]), 0, -1)
        bounds, crs = src.bounds, src.crs
    fig, ax = plt.subplots(figsize=(9, 9), dpi=110)
    ax.imshow(rgb, extent=(bounds.left, bounds.right, bounds.bottom, bounds.top))
    truth.to_crs(crs).boundary.plot(ax=ax, color="#00e676", linewidth=2.2)
    found = detections.to_crs(crs)
    if len(found):
        found.boundary.plot(ax=ax, color="#ff1744", linewidth=1.6, linestyle="--")
        centroids = gpd.GeoSeries(
            gpd.points_from_xy(found["centroid_lon"], found["centroid_lat"]), crs="EPSG:4326"
        ).to_crs(crs)
        ax.scatter(centroids.x, centroids.y, marker="+", s=160, color="#ffea00", linewidths=2)
    ax.set_title(
        "SYNTHETIC test scene: true data centers (green), detections (red dashed), centroids (+)",
        fontsize=10,
    )
    ax.set_axis_off()
    _save(fig, path)


def checkpoint_epochs(points: list[tuple[int, float]]) -> dict[str, tuple[int, float]]:
    """The epochs ``best.ckpt`` and ``last.ckpt`` hold, from the validation IoU per epoch.

    Args:
        points: ``(epoch, validation IoU)`` in epoch order.

    Returns:
        ``best``: the first epoch of the highest IoU (as ``ModelCheckpoint`` keeps it, which
        replaces its checkpoint only on a strictly higher value); ``last``: the final epoch.
    """
    best = max(points, key=lambda p: p[1])
    return {"best": best, "last": points[-1]}


def plot_training(metrics_csv: Path, path: Path, checkpoint: str = DEMO_CHECKPOINT) -> None:
    """Plot training loss and validation IoU per epoch from Lightning's CSV log.

    The validation curve marks the best epoch (``best.ckpt``) and the final one
    (``last.ckpt``) and says which of the two *checkpoint* the demo detects with.

    Args:
        metrics_csv: the ``metrics.csv`` of the CSV logger.
        path: the PNG to write.
        checkpoint: ``last`` or ``best``, the checkpoint detected with.
    """
    epochs: dict[int, dict[str, float]] = {}
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            values = epochs.setdefault(int(row["epoch"]), {})
            for key in ("train_loss_epoch", "val_loss", "val_iou"):
                if row.get(key):
                    values[key] = float(row[key])
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    for key, label in (("train_loss_epoch", "train"), ("val_loss", "validation")):
        points = [(e, v[key]) for e, v in sorted(epochs.items()) if key in v]
        if points:
            left.plot(*zip(*points, strict=True), marker="o", label=label)
    left.set(title="Loss per epoch", xlabel="epoch", ylabel="loss")
    left.legend()
    points = [(e, v["val_iou"]) for e, v in sorted(epochs.items()) if "val_iou" in v]
    if points:
        right.plot(*zip(*points, strict=True), marker="o", color="tab:green")
        epochs_of = checkpoint_epochs(points)
        styles = {"best": ("*", 16), "last": ("s", 11)}
        for name, (epoch, iou) in epochs_of.items():
            marker, size = styles[name]
            used = " (detected with)" if name == checkpoint else ""
            right.plot(
                epoch,
                iou,
                marker=marker,
                markersize=size,
                linestyle="none",
                markerfacecolor="none" if name != checkpoint else "tab:red",
                markeredgecolor="tab:red",
                label=f"{name}.ckpt: epoch {epoch}, IoU {iou:.2f}{used}",
            )
        right.legend(loc="lower right", fontsize=8)
    right.set(
        title="Validation IoU (data-center pixels)", xlabel="epoch", ylabel="IoU", ylim=(0, 1)
    )
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Training on SYNTHETIC scenes (tgdc demo)")
    _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> None:
    """Write a figure as PNG atomically and close it."""
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def later_vintage(truth: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Write a later SYNTHETIC vintage of the test scene: one data center gone, one new.

    The scene is drawn again with the test scene's size, seed and origin, and explicit data
    centers: the test scene's, less the last one, plus one of the same size placed
    :data:`NEW_SITE_CLEARANCE` metres or more from all of the test scene's (the first free
    spot on a grid, north to south), so that it is a new site, not a change of one.

    Args:
        truth: labels of the test scene (CRS84), as :func:`~.synthetic.generate_scene`
            returns them.
        path: the GeoTIFF to write.

    Returns:
        The labels of the later vintage (CRS84).
    """
    crs = "EPSG:32617"
    footprints = list(truth[truth["label"]].to_crs(crs).geometry)
    kept, removed = footprints[:-1], footprints[-1]
    west, south, east, north = removed.bounds
    width, height = east - west, north - south
    x0, y0 = TEST_ORIGIN
    side = TEST_SIZE * 0.6
    taken = shapely.union_all(footprints).buffer(NEW_SITE_CLEARANCE)
    step = side / 16
    spots = (
        shapely.box(x, y - height, x + width, y)
        for y in np.arange(y0 - step, y0 - side + height + step, -step)
        for x in np.arange(x0 + step, x0 + side - width - step, step)
    )
    new = next(spot for spot in spots if not spot.intersects(taken))
    return generate_scene(
        path,
        size=TEST_SIZE,
        seed=TEST_SEED,
        origin=TEST_ORIGIN,
        crs=crs,
        datacenters=[*kept, new],
    )


def change_table(sites: gpd.GeoDataFrame) -> str:
    """The sites of the change example as a Markdown table.

    Args:
        sites: the result of :func:`~.detections.change.track_changes`.

    Returns:
        One row per site: number, status, area in each vintage (m²).
    """
    years = [c for c in sites if c.startswith("area_m2_")]
    head = "| site | status | " + " | ".join(f"area {c[8:]} (m²)" for c in years) + " |"
    lines = [head, "|---|---|" + "---:|" * len(years)]
    for row in sites.itertuples(index=False):
        areas = " | ".join(f"{getattr(row, c):,.0f}" for c in years)
        lines.append(f"| {row.site} | {row.status} | {areas} |")
    return "\n".join(lines)


def write_report(result: DemoResult, truth_count: int, path: Path) -> None:
    """Write ``report.md`` with the test-scene metrics.

    Args:
        result: the demo's results.
        truth_count: number of true data centers in the test scene.
        path: the Markdown file to write.
    """
    m = result.metrics
    hard_negatives = "\n".join(
        f"| {name.removeprefix('hn_fdr_')} | {rate:.3f} |"
        for name, rate in m.items()
        if name.startswith("hn_fdr_")
    )
    change = ""
    if result.changes is not None:
        first, last = (d.isoformat() for d in VINTAGE_DATES)
        change = f"""
## Change between two SYNTHETIC vintages

A later vintage of the test scene (`test/later.tif`: one data center removed, one added,
same seed otherwise) dated {last}, against the test scene dated {first}, both detected by
the trained model and compared by `track_changes` (as `tgdc change`; map: `change.html`):

{change_table(result.changes)}
"""
    text = f"""# tgdc demo report

**The data is SYNTHETIC** (generated NAIP-like scenes, not real imagery). For real data use
`tgdc download` and `configs/datacenters.yaml` (see README).

Model: {result.model} trained by `configs/demo.yaml`; detected with its
`{DEMO_CHECKPOINT}.ckpt` (the final weights), copied to `{result.checkpoint.name}`.
Test scene: a separate synthetic scene, {truth_count} true data centers.

| metric | value |
|---|---|
| pixel IoU | {m["pixel_iou"]:.3f} |
| pixel Dice (F1) | {m["pixel_dice"]:.3f} |
| pixel precision | {m["pixel_precision"]:.3f} |
| pixel recall | {m["pixel_recall"]:.3f} |
| object precision (IoU >= 0.5) | {m["object_precision"]:.3f} |
| object recall (IoU >= 0.5) | {m["object_recall"]:.3f} |
| object F1 (IoU >= 0.5) | {m["object_f1"]:.3f} |
| detections | {len(result.detections)} |

Outlines of the data centers matched at IoU >= 0.5, as traced from the mask and as
written (regularised, `--regularize`):

{outline_table(result.outlines or {})}

Hard negatives detected as data centers (share of each class's buildings in the test scene):

| class | false-detection rate |
|---|---|
{hard_negatives}
{change}
Run time: {result.seconds:.0f} s. Files: `overlay.png`, `training.png`, `detections.geojson`,
`detections.csv`, `mask.tif`, `model.ckpt`, `demo-config.yaml`, `report.html`, `change.geojson`,
`change.html`.
"""
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def run_demo(
    output_dir: str | os.PathLike[str],
    *,
    epochs: int | None = None,
    model: dict[str, Any] | None = None,
) -> DemoResult:
    """Run the demo end to end.

    Args:
        output_dir: where everything is written (created; must be empty or a previous
            demo's output, which is replaced).
        epochs: override of the configured training epochs.
        model: overrides of the task's ``init_args`` in ``configs/demo.yaml``.

    Returns:
        What was written and measured.

    Raises:
        TGDCError: if *output_dir* holds other files or a step fails.
    """
    start = time.perf_counter()
    out = Path(output_dir)
    if out.exists() and any(out.iterdir()) and not (out / "report.md").exists():
        raise TGDCError(f"{out}: exists and is not a demo output; choose an empty directory")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    print("tgdc demo: 1/4 generating SYNTHETIC training scenes and a separate test scene")
    generate_scenes(out / "data", size=1024, count=6, seed=0)
    (out / "test").mkdir()
    truth = generate_scene(
        out / "test" / "scene.tif",
        size=TEST_SIZE,
        seed=TEST_SEED,
        origin=TEST_ORIGIN,
        n_datacenters=3,
    )
    truth.to_file(out / "test" / "labels.geojson")

    # Absolute paths: demo-config.yaml trains again from any working directory.
    config = demo_config(out.resolve(), epochs=epochs, model=model)
    init_args = config["model"]["init_args"]
    architecture = init_args["model"]
    if architecture != "unet4":
        default = inspect.signature(DataCenterSegmentation).parameters["backbone"].default
        architecture += f" ({init_args.get('backbone', default)} encoder)"
    print(f"tgdc demo: 2/4 training {architecture} via configs/demo.yaml (LightningCLI)")
    with atomic_output(out / "demo-config.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    checkpoint = train(config, out, DEMO_CHECKPOINT)

    print("tgdc demo: 3/4 detecting data centers in the test scene")
    traced = Predictor(checkpoint, device="cpu").predict(
        out / "test" / "scene.tif", output_mask=out / "mask.tif"
    )
    # The outlines written are regularised, as --regularize writes them (after merging).
    written = merge_detections(traced.gdf, outlines=OutlineRules(regularize=True))
    detections = dataclasses.replace(traced, gdf=written)
    files = Outputs({"geojson": out / "detections.geojson", "csv": out / "detections.csv"})
    with files.staged(overwrite=True) as staged:
        write_vectors(written, staged)
    print(detections.summary())
    later_vintage(truth, out / "test" / "later.tif")
    later = Predictor(checkpoint, device="cpu", progress=False).predict(out / "test" / "later.tif")
    changes = track_changes(
        [
            Vintage(detections.gdf, VINTAGE_DATES[0], "test/scene.tif"),
            Vintage(later.gdf, VINTAGE_DATES[1], "test/later.tif"),
        ]
    )
    write_vector(changes, out / "change.geojson")

    print("tgdc demo: 4/4 scoring and drawing")
    true_dc = truth[truth["label"]]
    metrics = pixel_metrics(out / "mask.tif", DataCenterLabels(out / "test" / "labels.geojson"))
    metrics |= object_metrics(detections.gdf, truth)
    outlines = {
        "traced": matched_outline_quality(traced.gdf, truth),
        "regularized": matched_outline_quality(written, truth),
    }
    plot_overlay(out / "test" / "scene.tif", true_dc, detections.gdf, out / "overlay.png")
    logs = sorted((out / "training" / "csv").glob("version_*/metrics.csv"))
    if logs:
        plot_training(logs[-1], out / "training.png")
    result = DemoResult(
        out,
        architecture,
        checkpoint,
        detections,
        metrics,
        time.perf_counter() - start,
        changes,
        outlines,
    )
    write_report(result, len(true_dc), out / "report.md")
    from .outputs.report import write_report as write_map_report

    write_map_report(
        out / "report.html",
        detections.gdf,
        [out / "test" / "scene.tif"],
        title="tgdc demo: data centers found (SYNTHETIC scene)",
        overwrite=True,
    )
    write_map_report(
        out / "change.html",
        changes,
        [out / "test" / "later.tif"],
        title="tgdc demo: change between two SYNTHETIC vintages",
        colour_by="status",
        overwrite=True,
    )
    return result
