"""Accuracy on unseen SYNTHETIC scenes: data centers against look-alike warehouses.

Training scenes come from the project's generator with warehouses as large and bright as
data centers (``lookalike_warehouses``), like ``tgdc demo``'s (6 scenes of 1024² px, seed
0); the test scenes are drawn from other seeds, 50 km away, with more hard negatives.
Each row trains UNet4 one way and runs the project's :class:`Predictor` on the test
scenes:

* ``project``: the project's route, ``configs/demo.yaml`` through LightningCLI as
  ``torchgeo fit`` runs it (DataCenterDataModule with its geographic split, SiteSampler
  and validation; DataCenterSegmentation; the best-validation checkpoint);
* ``plain``: a plain PyTorch loop, no Lightning: random crops over the whole training
  area (no split, no site sampling, no validation), the same UNet4, loss, optimizer,
  learning rate, normalisation and augmentation, the same number of steps of the same
  batch; its final weights.

The budget is the demo's (``max_epochs`` x ``length / batch_size`` steps of
``configs/demo.yaml``) times each ``--budgets`` factor; binary (``bce+dice``) and
multiclass (``ce`` with a class per hard-negative class) training. Printed per row:
object precision, recall and F1 (a detection matches a true data center when their
polygons match one-to-one at IoU >= 0.5), pixel IoU, and for each hard-negative class the
share of its buildings detected as data centers (same IoU >= 0.5 rule), all pooled over
the test scenes, and the seconds the predictor took over them. ``--tta none d4`` scores each
trained model twice, without and with the predictor's test-time augmentation.

    uv run python benchmarks/accuracy.py [--budgets 1 4] [--modes binary multiclass] [--tta none d4]
        [--routes project plain] [--seeds 0 1 2] [--test-scenes 2] [--output-dir DIR]

Outline quality (``--checkpoint CKPT`` scores a trained checkpoint, e.g. ``tgdc demo``'s
``model.ckpt``, without training): the test scenes are detected with traced and with
regularised outlines (the predictor's ``regularize``), and for the data centers matched
one-to-one at IoU >= 0.5 the script prints the outline IoU with the true footprint, the
median error of the main wall direction, the median vertex count and the share of right
angles (:mod:`torchgeo_datacenters.detections.quality`), with how many outlines each
kind has (``outline`` column).

    uv run python benchmarks/accuracy.py --checkpoint demo-output/model.ckpt --test-scenes 4
"""

import argparse
import itertools
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import torch
from torch.optim import AdamW

from torchgeo_datacenters.datamodules import DataCenterDataModule
from torchgeo_datacenters.datasets import DataCenterLabels
from torchgeo_datacenters.demo import TEST_ORIGIN, TEST_SIZE
from torchgeo_datacenters.detections.quality import OutlineQuality
from torchgeo_datacenters.evaluation import (
    matched_outline_quality,
    object_metrics,
    pixel_counts,
    pixel_scores,
)
from torchgeo_datacenters.inference import Predictor, ProbabilityModel
from torchgeo_datacenters.naip import GSD, HARD_NEGATIVE_CLASSES
from torchgeo_datacenters.options import TTA_MODES
from torchgeo_datacenters.synthetic import SCENE_GAP, generate_scene, generate_scenes
from torchgeo_datacenters.tasks import DataCenterSegmentation
from torchgeo_datacenters.training import demo_config, train

#: Seeds of the test scenes (the training scenes derive theirs from seed 0), the first
#: ones holding the most warehouses.
TEST_SEEDS = (2026, 2027, 2024, 2025)

#: Task and datamodule settings of each training mode, over configs/demo.yaml's.
MODES: dict[str, dict[str, dict[str, Any]]] = {
    "binary": {"model": {}, "data": {}},
    "multiclass": {
        "model": {"task": "multiclass", "loss": "ce", "pos_weight": None},
        "data": {"multiclass": True},
    },
}


def make_data(
    root: Path, test_scenes: int, training: bool = True, cold_storage: bool = False
) -> tuple[list[Path], gpd.GeoDataFrame]:
    """Write the training scenes (``root/data``) and the test scenes (``root/test``).

    Args:
        root: the benchmark's directory.
        test_scenes: number of test scenes.
        training: whether to write the training scenes too.
        cold_storage: whether the test scenes' warehouses are cold stores with rooftop
            condensers (``generate_scene``'s ``cold_storage``).

    Returns:
        The test scenes and their labels (CRS84).
    """
    if training:
        generate_scenes(root / "data", size=1024, count=6, seed=0, lookalike_warehouses=True)
    (root / "test").mkdir(parents=True)
    paths, frames = [], []
    # Beyond the fixed test scenes, the seeds that follow them.
    seeds = [*TEST_SEEDS, *range(max(TEST_SEEDS) + 1, max(TEST_SEEDS) + 1 + test_scenes)]
    for i, seed in enumerate(seeds[:test_scenes]):
        path = root / "test" / f"scene_{i}.tif"
        origin = (TEST_ORIGIN[0] + i * (TEST_SIZE * GSD + SCENE_GAP), TEST_ORIGIN[1])
        frames.append(
            generate_scene(
                path,
                size=TEST_SIZE,
                seed=seed,
                origin=origin,
                n_datacenters=2,
                n_negatives=12,
                lookalike_warehouses=True,
                cold_storage=cold_storage,
            )
        )
        paths.append(path)
    truth = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    truth.to_file(root / "test" / "labels.geojson")
    return paths, truth


def steps_of(config: dict[str, Any]) -> int:
    """Training steps of a LightningCLI config: epochs x batches per epoch."""
    data = config["data"]["init_args"]
    return config["trainer"]["max_epochs"] * math.ceil(data["length"] / data["batch_size"])


def train_plain(config: dict[str, Any], seed: int = 0) -> ProbabilityModel:
    """Train with a plain PyTorch loop on random crops over the whole training area.

    Args:
        config: the LightningCLI config the project's route runs (its model, data and
            trainer settings give the model, loss, optimizer, batch, patch and steps).
        seed: seed of the weights and the crops.

    Returns:
        The final weights, as the predictor takes them.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = config["data"]["init_args"]
    # The datamodule gives the normalisation and kornia augmentation (no setup, no split).
    datamodule = DataCenterDataModule(**data)
    files = sorted(Path(data["paths"]).glob("*.tif"))
    datamodule.fit_normalization([str(f) for f in files])
    labels = DataCenterLabels(data["label_path"], multiclass=data.get("multiclass", False))
    images, masks = [], []
    for path in files:
        with rasterio.open(path) as src:
            images.append(src.read())
            labels.crs = src.crs
            masks.append(labels.rasterize(src.transform, src.shape))
    task = DataCenterSegmentation(
        **config["model"]["init_args"],
        bands=list(datamodule.bands),
        mean=list(datamodule.mean),
        std=list(datamodule.std),
        class_names=list(datamodule.class_names),
    )
    optimizer = AdamW(task.parameters(), lr=task.hparams["lr"])
    size, batch_size = data["patch_size"], data["batch_size"]
    task.train()
    for _ in range(steps_of(config)):
        crops = []
        for _ in range(batch_size):
            k = int(rng.integers(len(images)))
            row = int(rng.integers(images[k].shape[1] - size + 1))
            col = int(rng.integers(images[k].shape[2] - size + 1))
            window = np.s_[row : row + size, col : col + size]
            crops.append((images[k][(slice(None), *window)], masks[k][window]))
        batch = datamodule.train_aug(
            {
                "image": torch.from_numpy(np.stack([c[0] for c in crops])).float(),
                "mask": torch.from_numpy(np.stack([c[1] for c in crops])).long(),
            }
        )
        logits = task(batch["image"])
        mask = batch["mask"].long()
        if task.hparams["task"] == "binary":
            loss = task.criterion(logits[:, 0], mask.float())
        else:
            loss = task.criterion(logits, mask)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    task.eval()
    return ProbabilityModel(
        probability_fn=task.predict_probabilities,
        mean=datamodule.mean,
        std=datamodule.std,
        bands=datamodule.bands,
        module=task,
        name="plain loop",
        dtype=datamodule.dtype,
        value_range=datamodule.value_range,
        gsd=datamodule.gsd,
    )


def score(
    model: Path | ProbabilityModel,
    scenes: list[Path],
    truth: gpd.GeoDataFrame,
    out: Path,
    tta: str = "none",
    min_area: float | None = None,
) -> dict[str, float]:
    """Detect data centers in the test scenes and score them, pooled over the scenes.

    Args:
        model: a checkpoint or a model.
        scenes: the test scenes.
        truth: their labels (CRS84).
        out: directory for the detection masks.
        tta: the predictor's test-time augmentation (``none`` or ``d4``).
        min_area: the predictor's smallest detection, in m² (None: its default).

    Returns:
        Pixel metrics, object metrics, hard-negative false-detection rates and the
        prediction time in seconds.
    """
    out.mkdir(exist_ok=True)
    options = {} if min_area is None else {"min_area": min_area}
    predictor = Predictor(model, device="cpu", progress=False, tta=tta, **options)
    start = time.perf_counter()
    labels = DataCenterLabels(scenes[0].parent / "labels.geojson")  # beside the test scenes
    found, counts = [], np.zeros(3)
    for scene in scenes:
        mask = out / f"{scene.stem}_mask.tif"
        detections = predictor.predict(
            scene, output_mask=mask, output_geojson=out / f"{scene.stem}.geojson"
        )
        found.append(detections.gdf.to_crs(truth.crs))
        counts += pixel_counts(mask, labels)
    seconds = time.perf_counter() - start
    detections = gpd.GeoDataFrame(pd.concat(found, ignore_index=True), crs=truth.crs)
    return (
        pixel_scores(*counts)
        | object_metrics(detections, truth)
        | {
            "detections": len(detections),
            "hn_touched": touched(detections, truth),
            "predict_s": seconds,
        }
    )


def outline_scores(
    model: Path | ProbabilityModel, scenes: list[Path], truth: gpd.GeoDataFrame
) -> dict[str, tuple[OutlineQuality, dict[str, int]]]:
    """Detect the test scenes with traced and with regularised outlines, and measure them.

    Args:
        model: a checkpoint or a model.
        scenes: the test scenes.
        truth: their labels (CRS84).

    Returns:
        For ``traced`` and ``regularized`` (the predictor's ``regularize``): the outline
        quality of the data centers matched at IoU >= 0.5, and the count of each kind of
        outline written (``outline`` column; all ``traced`` without it).
    """
    scores = {}
    for name in ("traced", "regularized"):
        predictor = Predictor(model, device="cpu", progress=False, regularize=name == "regularized")
        tables = [predictor.predict(scene).gdf for scene in scenes]
        found = gpd.GeoDataFrame(pd.concat(tables, ignore_index=True), crs=tables[0].crs)
        kinds = found["outline"] if "outline" in found else pd.Series("traced", found.index)
        scores[name] = (matched_outline_quality(found, truth), kinds.value_counts().to_dict())
    return scores


def print_outlines(scores: dict[str, tuple[OutlineQuality, dict[str, int]]]) -> None:
    """Print the outline quality table of :func:`outline_scores`.

    Args:
        scores: outline quality and kinds, by outline rule.
    """
    print("\nOutline quality of the matched data centers (IoU >= 0.5, one-to-one)")
    print(f"{'outlines':12s} matched  IoU    dir err  vertices  right angles  kinds written")
    for name, (q, kinds) in scores.items():
        written = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        print(
            f"{name:12s} {q.matched:7d}  {q.iou:.3f}  {q.direction_error:6.2f}°"
            f"  {q.vertices:8.1f}  {q.right_angles:12.3f}  {written}"
        )


def touched(detections: gpd.GeoDataFrame, truth: gpd.GeoDataFrame) -> float:
    """Share of the hard negatives that any detection overlaps at all (a looser rule).

    Args:
        detections: detected polygons (any CRS).
        truth: labelled polygons (any CRS) with a ``label`` column.

    Returns:
        The share, from 0 to 1.
    """
    negatives = truth[~truth["label"]]
    utm = truth.estimate_utm_crs()
    found = detections.to_crs(utm).union_all()
    return float(negatives.to_crs(utm).intersects(found).mean())


def row_config(root: Path, out: Path, mode: str, budget: float, seed: int) -> dict[str, Any]:
    """``configs/demo.yaml`` for one row: its mode, budget and training seed.

    Args:
        root: the benchmark's directory (training scenes in ``root/data``).
        out: the row's directory (training logs and checkpoints in ``out/training``).
        mode: a key of :data:`MODES`.
        budget: factor on the demo's epochs.
        seed: seed of the training (weights, patches and augmentation; the geographic
            split stays that of seed 0).

    Returns:
        The LightningCLI configuration.
    """
    config = demo_config(root, model=MODES[mode]["model"])
    config["seed_everything"] = seed
    config["data"]["init_args"] |= {"seed": seed, "split_seed": 0}
    config["trainer"]["default_root_dir"] = str(out / "training")
    config["trainer"]["max_epochs"] = max(1, round(config["trainer"]["max_epochs"] * budget))
    config["trainer"]["enable_progress_bar"] = False
    config["data"]["init_args"].update(MODES[mode]["data"])
    return config


def run(
    root: Path,
    route: str,
    mode: str,
    budget: float,
    scenes: list[Path],
    truth: gpd.GeoDataFrame,
    ttas: list[str],
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Train one row's model, then detect and score on the test scenes with each TTA.

    Args:
        seed: seed of the training (weights, patches and augmentation; the geographic
            split stays that of seed 0).

    Returns:
        For each of *ttas*: the scores, the training steps and the training time in seconds.
    """
    out = root / f"{route}-{mode}-x{budget:g}-seed{seed}"
    out.mkdir()
    config = row_config(root, out, mode, budget, seed)
    start = time.perf_counter()
    model = train(config, out, "best") if route == "project" else train_plain(config, seed)
    seconds = time.perf_counter() - start
    return {
        tta: score(model, scenes, truth, out / f"tta-{tta}", tta)
        | {"steps": steps_of(config), "train_s": seconds}
        for tta in ttas
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument(
        "--routes", nargs="+", choices=["project", "plain"], default=["project", "plain"]
    )
    parser.add_argument("--test-scenes", type=int, default=2, choices=range(1, len(TEST_SEEDS) + 1))
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="train each row once per seed"
    )
    parser.add_argument(
        "--tta",
        nargs="+",
        choices=list(TTA_MODES),
        default=["none"],
        help="score each trained model with each test-time augmentation",
    )
    parser.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="measure the outlines of this trained checkpoint on the test scenes; no training",
    )
    args = parser.parse_args()
    root = args.output_dir or Path(tempfile.mkdtemp(prefix="tgdc-accuracy-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; writing under {root}")
    scenes, truth = make_data(root, args.test_scenes, training=args.checkpoint is None)
    counts = truth["class"].value_counts()
    print("test scenes:", ", ".join(f"{counts[c]} {c}" for c in counts.index))
    if args.checkpoint is not None:
        start = time.perf_counter()
        print_outlines(outline_scores(args.checkpoint, scenes, truth))
        print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
        print(f"accuracy: outlines of {args.checkpoint} in {time.perf_counter() - start:.0f} s")
        return
    negatives = [c for c in HARD_NEGATIVE_CLASSES if c in counts]
    head = f"{'route':8s} {'mode':10s} {'budget':>6s} {'seed':>4s} {'tta':>4s} {'steps':>5s}"
    head += f" {'train s':>7s} {'pred s':>6s} objP   objR   objF1  pixIoU dets "
    head += " ".join(f"{'fdr ' + c:>14s}" for c in negatives)
    head += "  hn touched"
    lines = []
    for budget, seed, mode, route in itertools.product(
        args.budgets, args.seeds, args.modes, args.routes
    ):
        rows = run(root, route, mode, budget, scenes, truth, args.tta, seed)
        for tta, m in rows.items():
            label = f"x{budget:g}"
            line = (
                f"{route:8s} {mode:10s} {label:>6s} {seed:4d} {tta:>4s} {m['steps']:5.0f}"
                f" {m['train_s']:7.0f} {m['predict_s']:6.0f} {m['object_precision']:.3f}"
                f"  {m['object_recall']:.3f}  {m['object_f1']:.3f}"
                f"  {m['pixel_iou']:.3f}  {m['detections']:3.0f} "
                + " ".join(f"{m[f'hn_fdr_{c}']:14.3f}" for c in negatives)
                + f"  {m['hn_touched']:10.3f}"
            )
            lines.append(line)
            print(line, flush=True)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print("Unseen SYNTHETIC test scenes; match rule: polygon IoU >= 0.5, one-to-one")
    print(head)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
