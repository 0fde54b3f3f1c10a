"""Report of a seed reproduction: this run's test metrics beside the seed project's table.

Usage::

    python scripts/seed_report.py LOG_DIR SITES CHIPS_DIR OUTPUT

Reads the test metrics that ``torchgeo test`` logged to the newest ``metrics.csv`` under
LOG_DIR (the CSV logger's directory) and writes OUTPUT, a Markdown table of pixel Dice,
IoU, precision and recall of the data-center class beside the seed project's figures.
"""

import argparse
import csv
from pathlib import Path

import geopandas as gpd

from torchgeo_datacenters.utils import atomic_output

SEED_RESULTS = {"dice": 0.763, "iou": 0.617, "precision": 0.759, "recall": 0.767}
"""The seed project's test metrics (plain U-Net, 757 NAIP chips of 256 x 256 px)."""


def test_metrics(log_dir: Path) -> dict[str, float]:
    """Return the ``test_*`` metrics of the newest CSV log under *log_dir* that has them.

    Args:
        log_dir: directory searched for ``metrics.csv`` files.

    Returns:
        The metrics by name without the ``test_`` prefix.

    Raises:
        SystemExit: if no log holds test metrics.
    """
    logs = sorted(log_dir.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime, reverse=True)
    for log in logs:
        with open(log, newline="") as f:
            for row in csv.DictReader(f):
                found = {k[5:]: float(v) for k, v in row.items() if k.startswith("test_") and v}
                if found:
                    return found
    raise SystemExit(f"{log_dir}: no metrics.csv with test metrics; did `torchgeo test` run?")


def report(metrics: dict[str, float], sites: int, chips: int) -> str:
    """Return the Markdown report.

    Args:
        metrics: this run's test metrics, as fractions.
        sites: number of sites chips were requested around.
        chips: number of chips downloaded.

    Returns:
        The report text.
    """
    rows = "\n".join(
        f"| pixel {name} | {seed:.1%} | {metrics[name]:.1%} |"
        for name, seed in SEED_RESULTS.items()
    )
    return f"""# Seed reproduction

Chips around {sites} sites (seed labels and IM3 footprints), {chips} chips downloaded.
Test split of `configs/datacenters.yaml`; data-center pixels at the task's threshold.

| metric | seed project | this run |
|---|---|---|
{rows}
"""


def main() -> None:
    """Collect the figures and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log_dir", type=Path, help="the CSV logger's directory")
    parser.add_argument("sites", type=Path, help="the sites file chips were downloaded for")
    parser.add_argument("chips_dir", type=Path, help="the downloaded chips")
    parser.add_argument("output", type=Path, help="the Markdown report to write")
    args = parser.parse_args()
    text = report(
        test_metrics(args.log_dir),
        len(gpd.read_file(args.sites)),
        len(list(args.chips_dir.glob("*.tif"))),
    )
    with atomic_output(args.output) as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
