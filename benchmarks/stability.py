"""Training stability: the final weights against the best epoch's, over seeds and budgets.

The accuracy benchmark's data and rules (:mod:`accuracy`: ``tgdc demo``'s 6 SYNTHETIC
training scenes with look-alike warehouses, unseen test scenes 50 km away, the project's
:class:`Predictor`, polygons matched at IoU >= 0.5). Each row trains ``configs/demo.yaml``
(binary) through LightningCLI as ``torchgeo fit`` runs it, with one training seed and one
budget (the demo's epochs times ``--budgets``; the geographic split stays seed 0's), and
prints the validation IoU of every epoch, then, for the final weights (``last.ckpt``) and
the best-validation weights (``best.ckpt``), the held-out object F1, the number of hard
negatives detected as data centers and the pixel IoU. The targets of issue 30 are checked
per row: final validation IoU >= 0.95 x the best epoch's, no drop of more than 0.1 between
consecutive epochs after the first, final object F1 >= 0.95.

    uv run python benchmarks/stability.py [--budgets 1 4] [--seeds 0 1 2 3 4]
        [--set model.init_args.lr=0.001 ...] [--test-scenes 2] [--output-dir DIR]

``--set KEY=VALUE`` changes the config of every row (dotted keys into the YAML, the value
parsed as YAML) to measure a candidate change against the shipped config.
"""

import argparse
import csv
import itertools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import yaml
from accuracy import TEST_SEEDS, make_data, row_config, score, steps_of

from torchgeo_datacenters.training import train

#: Lowest ratio of the final epoch's validation IoU to the best epoch's (issue 30).
FINAL_TO_BEST = 0.95

#: Largest drop of validation IoU between consecutive epochs after the first (issue 30).
MAX_DROP = 0.1

#: Lowest held-out object F1 of the final weights (issue 30).
MIN_FINAL_F1 = 0.95


@dataclass(frozen=True)
class Row:
    """One training run: per-epoch validation IoU and held-out scores of two checkpoints."""

    budget: float
    seed: int
    steps: int
    train_s: float
    val_iou: list[float]
    #: Held-out scores (:func:`accuracy.score`) of ``last.ckpt`` and ``best.ckpt``.
    final: dict[str, float]
    best: dict[str, float]

    @property
    def final_to_best(self) -> float:
        """The final epoch's validation IoU over the best epoch's (1 where all are 0)."""
        top = max(self.val_iou)
        return self.val_iou[-1] / top if top > 0 else 1.0

    @property
    def max_drop(self) -> float:
        """Largest fall of validation IoU between consecutive epochs after the first."""
        pairs = zip(self.val_iou[1:], self.val_iou[2:], strict=False)
        return max((a - b for a, b in pairs), default=0.0)

    @property
    def meets(self) -> bool:
        """Whether the row meets the three targets."""
        return (
            self.final_to_best >= FINAL_TO_BEST
            and self.max_drop <= MAX_DROP
            and self.final["object_f1"] >= MIN_FINAL_F1
        )


def set_key(config: dict[str, Any], assignment: str) -> None:
    """Apply one ``dotted.key=value`` assignment (value parsed as YAML) to *config*.

    Args:
        config: the LightningCLI configuration, changed in place.
        assignment: e.g. ``model.init_args.lr=0.001``.

    Raises:
        SystemExit: if the assignment has no ``=``.
    """
    key, sep, value = assignment.partition("=")
    if not sep:
        raise SystemExit(f"stability.py: error: --set {assignment}: give KEY=VALUE")
    *parents, last = key.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(value)


def epoch_iou(training: Path) -> list[float]:
    """Validation IoU of every epoch, from the CSV logger's ``metrics.csv``.

    Args:
        training: the run's ``default_root_dir``.

    Returns:
        One value per validated epoch, in order.
    """
    (log,) = training.glob("csv/version_*/metrics.csv")
    values: dict[int, float] = {}
    with open(log, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("val_iou"):
                values[int(row["epoch"])] = float(row["val_iou"])
    return [values[e] for e in sorted(values)]


def run_row(
    root: Path,
    budget: float,
    seed: int,
    assignments: list[str],
    scenes: list[Path],
    truth: gpd.GeoDataFrame,
) -> Row:
    """Train one seed at one budget, then score its final and best weights.

    Returns:
        The row.
    """
    out = root / f"x{budget:g}-seed{seed}"
    out.mkdir()
    config = row_config(root, out, "binary", budget, seed)
    for assignment in assignments:
        set_key(config, assignment)
    start = time.perf_counter()
    train(config, out)
    seconds = time.perf_counter() - start
    training = Path(config["trainer"]["default_root_dir"])
    (checkpoints,) = training.glob("csv/version_*/checkpoints")
    return Row(
        budget=budget,
        seed=seed,
        steps=steps_of(config),
        train_s=seconds,
        val_iou=epoch_iou(training),
        final=score(checkpoints / "last.ckpt", scenes, truth, out / "final"),
        best=score(checkpoints / "best.ckpt", scenes, truth, out / "best"),
    )


def hard_negatives_found(scores: dict[str, float], truth: gpd.GeoDataFrame) -> int:
    """Number of hard-negative buildings detected as data centers (IoU >= 0.5).

    Args:
        scores: :func:`accuracy.score`'s result, with ``hn_fdr_<class>`` rates.
        truth: the test labels with a ``class`` column.

    Returns:
        The count, summed over the hard-negative classes.
    """
    counts = truth["class"].value_counts()
    return round(
        sum(rate * counts[name[7:]] for name, rate in scores.items() if name.startswith("hn_fdr_"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--set", dest="assignments", action="append", default=[])
    parser.add_argument("--test-scenes", type=int, default=2, choices=range(1, len(TEST_SEEDS) + 1))
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.output_dir or Path(tempfile.mkdtemp(prefix="tgdc-stability-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; writing under {root}")
    if args.assignments:
        print("config changes:", " ".join(args.assignments))
    scenes, truth = make_data(root, args.test_scenes)
    rows = list(itertools.product(args.budgets, args.seeds))
    head = (
        f"{'budget':>6s} {'seed':>4s} {'steps':>5s} {'train s':>7s}  val IoU per epoch"
        "  | final/best  max drop | final: F1  HN  pixIoU | best: F1  HN  pixIoU | targets"
    )
    lines = []
    start = time.perf_counter()
    for i, (budget, seed) in enumerate(rows):
        row = run_row(root, budget, seed, args.assignments, scenes, truth)
        f, b = row.final, row.best
        line = (
            f"{'x' + format(budget, 'g'):>6s} {seed:4d} {row.steps:5d} {row.train_s:7.0f}  "
            + " ".join(f"{v:.2f}" for v in row.val_iou)
            + f"  | {row.final_to_best:10.3f} {row.max_drop:9.3f}"
            + f" | {f['object_f1']:9.3f} {hard_negatives_found(f, truth):3d} {f['pixel_iou']:7.3f}"
            + f" | {b['object_f1']:8.3f} {hard_negatives_found(b, truth):3d} {b['pixel_iou']:7.3f}"
            + f" | {'met' if row.meets else 'MISSED'}"
        )
        lines.append(line)
        elapsed = time.perf_counter() - start
        left = elapsed / (i + 1) * (len(rows) - i - 1)
        print(f"[{i + 1}/{len(rows)}, {left / 60:.0f} min left] {line}", flush=True)
    met = sum("| met" in line for line in lines)
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"Unseen SYNTHETIC test scenes ({len(truth[truth['label']])} data centers,"
        f" {len(truth[~truth['label']])} hard negatives); match rule: polygon IoU >= 0.5;"
        " HN: hard negatives detected as data centers"
    )
    print(head)
    print("\n".join(lines))
    print(f"{met} of {len(lines)} rows meet the targets")


if __name__ == "__main__":
    main()
