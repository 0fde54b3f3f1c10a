"""``scripts/reproduce_seed.sh`` end to end against the loopback STAC API, on tiny inputs.

Seed-like and IM3-like label files are drawn over the real Milwaukee NAIP tile served by
:class:`support.stac_server.StacServer`; the script downloads 32 px chips around them,
rasterises masks, trains two steps through ``configs/datacenters.yaml``, tests the last
checkpoint and writes the report. Skips where ``../shared/data`` is absent.
"""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import rasterio
import shapely
from support.data import shared_data
from support.stac_server import NaipTestTiles, StacServer, build_naip_test_tiles

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "reproduce_seed.sh"
BIN = Path(sys.executable).parent

# Sites in pixels (row, col) of the Milwaukee tile, with the seed file's classes.
SEED_SITES = [
    ((30, 30), "datacenter"),
    ((30, 90), "datacenter"),
    ((30, 150), "warehouse"),
    ((110, 30), "datacemter"),
    ((110, 90), "retail"),
    ((110, 150), "other"),
    ((70, 120), "datacenter"),
]


@pytest.fixture(scope="module")
def naip_tiles(tmp_path_factory: pytest.TempPathFactory) -> NaipTestTiles:
    return build_naip_test_tiles(shared_data("naip"), tmp_path_factory.mktemp("naip_cogs"))


def site(tiles: NaipTestTiles, row: int, col: int, degrees: float = 6e-5) -> shapely.Polygon:
    return shapely.Point(*tiles.lonlat(row, col)).buffer(degrees)


def write_labels(tiles: NaipTestTiles, directory: Path) -> tuple[Path, Path]:
    seed = directory / "seed.geojson"
    gpd.GeoDataFrame(
        {
            "fid": range(1, len(SEED_SITES) + 1),
            "class": [kind for _, kind in SEED_SITES],
            "label": [kind.startswith("datac") for _, kind in SEED_SITES],
            "name": [f"seed {i}" for i in range(len(SEED_SITES))],
        },
        geometry=[site(tiles, *rc) for rc, _ in SEED_SITES],
        crs="EPSG:4326",
    ).to_file(seed)
    im3 = directory / "im3.geojson"
    gpd.GeoDataFrame(
        {
            "name": ["inside a seed site", "new campus", "a point"],
            "type": ["building", "campus", "point"],
        },
        geometry=[
            site(tiles, 30, 30, 3e-5),
            site(tiles, 70, 60),
            shapely.Point(*tiles.lonlat(70, 60)),
        ],
        crs="EPSG:4326",
    ).to_file(im3)
    return seed, im3


def test_reproduce_seed_end_to_end(naip_tiles: NaipTestTiles, tmp_path: Path) -> None:
    seed, im3 = write_labels(naip_tiles, tmp_path)
    work = tmp_path / "work"
    with StacServer.from_directory(naip_tiles.directory) as server:
        env = {
            **os.environ,
            "STAC_URL": server.url,
            "CHIP_SIZE": "32",
            "TGDC": str(BIN / "tgdc"),
            "TORCHGEO": str(BIN / "torchgeo"),
            "PYTHON": sys.executable,
        }
        done = subprocess.run(
            [
                str(SCRIPT),
                str(seed),
                str(im3),
                str(work),
                "--trainer.max_epochs",
                "1",
                "--trainer.limit_train_batches",
                "2",
                "--trainer.limit_val_batches",
                "1",
                "--trainer.limit_test_batches",
                "2",
                "--trainer.accelerator",
                "cpu",
                "--data.init_args.patch_size",
                "32",
                "--data.init_args.batch_size",
                "4",
                "--data.init_args.num_workers",
                "0",
                "--data.init_args.split_cell_size",
                "25",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        assert server.requests_to("/assets/"), "chips were read from the STAC server"

    # sites: the seed polygons (misspelling mended) plus the one new IM3 polygon
    sites = gpd.read_file(work / "sites.geojson")
    assert list(sites["fid"]) == list(range(1, len(SEED_SITES) + 2))
    assert list(sites["class"]) == [
        "datacenter",
        "datacenter",
        "warehouse",
        "datacenter",
        "retail",
        "other",
        "datacenter",
        "datacenter",
    ]
    assert sites["name"].iloc[-1] == "new campus"
    # one chip and one mask per site, on the same grid
    chips = sorted((work / "data" / "chips").glob("*.tif"))
    masks = sorted((work / "data" / "masks").glob("*.tif"))
    assert [c.name for c in chips] == [m.name for m in masks] and len(chips) == len(sites)
    with rasterio.open(chips[0]) as chip, rasterio.open(masks[0]) as mask:
        assert (chip.width, chip.count, chip.crs) == (32, 4, mask.crs)
        assert chip.transform == mask.transform
        assert mask.read(1)[16, 16] == 1  # site 1 is a data center, centred in its chip
    assert list((work / "output" / "datacenters").rglob("last.ckpt"))
    # the report quotes the seed table and this run's logged test metrics
    report = (work / "report.md").read_text()
    assert "| pixel dice | 76.3% |" in report and "| pixel iou | 61.7% |" in report
    logged = {}
    for log in (work / "output" / "datacenters").rglob("metrics.csv"):
        with open(log, newline="") as f:
            for row in csv.DictReader(f):
                logged |= {k: float(v) for k, v in row.items() if k.startswith("test_") and v}
    for name in ("dice", "iou", "precision", "recall"):
        line = re.search(rf"\| pixel {name} \| [\d.]+% \| ([\d.]+)% \|", report)
        assert line and float(line[1]) == pytest.approx(100 * logged[f"test_{name}"], abs=0.05)


def test_reproduce_seed_refuses_a_missing_label_file(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            str(SCRIPT),
            str(tmp_path / "seed.geojson"),
            str(tmp_path / "im3.geojson"),
            str(tmp_path / "w"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "seed.geojson: label file does not exist" in done.stderr
    assert not (tmp_path / "w").exists()
