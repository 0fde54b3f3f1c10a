"""The review page: how fast it opens, and how much each round of verdicts teaches the model.

``open``: writes a review page of N square detections on a grid over a SYNTHETIC 4,096 x
4,096 px NAIP-like scene (0.6 m pixels; every detection with its 192 px JPEG chip), opens it
unmodified in an already started headless Chromium in real time (tests/support/browser.py,
as benchmarks/report.py does) and prints the page's own clocks from navigation start: its
script done (map, outlines, first chip shown), the first frame the page draws after it (the
page is usable: the chips of the rest are still being read), the load event (all chips
read), the first frame drawn after it. The time to build the page (chips included) is printed too.

``orders``: how many of the first k detections are mistakes in each order, over pools of
new scenes (``rounds --fresh-pool``'s round 1, with the data centers and look-alikes a
scene asks for given by ``--pools``), for one start model: where the page's order puts a
reviewer's first verdicts, with no training noise in the figure.

``rounds``: a simulated reviewer whose answers are the SYNTHETIC truth. The pool the
reviewer looks at is ``--pool-scenes`` scenes of 1,024² px, each with ``--pool-datacenters``
data centers and ``--pool-negatives`` warehouses (as large and bright as data centers),
retail and other buildings, so that the start model makes many more detections than k; the
held-out test scenes are benchmarks/accuracy.py's. The first model is trained at a small
budget (``--epochs`` of configs/demo.yaml's) on the pool's data centers alone: it has never
been shown a look-alike (``--start`` reuses an earlier run's instead; ``--start-raw`` keeps
its raw weights, not their moving average, which after a short run leaves it more
mistakes). Every training is seeded with ``--seed``, as is the random order. Then each round
detects over the pool with the current checkpoint, takes the first k detections not judged
before (detected at ``--review-threshold``, by default the checkpoint's own) in an order,
judges them as the truth says (a detection
matching a data center at IoU >= 0.5 accepted; else rejected as the class of the labelled
building it overlaps most, ``other`` where none), merges the verdicts into the labels (tgdc
labels merge's code) and fine-tunes from the current checkpoint (``weights``) for
``--tune-epochs`` at peak learning rate ``--tune-lr`` (with nothing left to judge, on the
same labels). Orders: ``page`` (the review page's, :func:`review_order` with the traits of
the detections' chips: in turn the lowest score left and the detection least like those
before it in score, colours inside its outline and area), ``lowest`` (lowest score first,
the nearest the threshold where every score is above it: the page's order before),
``confident`` (highest score first, the page's order before that), ``uncertain`` (score
nearest the review run's threshold first, also where some are below it), ``atypical``
(farthest from the median score first) and ``random``. With
``--fresh-pool`` each round reviews new scenes instead (as many, never trained on), and the
judged sites are trained on in chips cut around them from the local scenes (the README's
route downloads chips around them from STAC instead). With ``--chips-only`` no training
sees the pool's whole scenes (where every look-alike no label holds is background already):
the start model trains on chips around the pool's data centers alone, as the seed project
trained on chips around hand-labelled sites, and each round adds the chips around its
verdicts (``scratch``: around its picked sites).
``scratch`` labels k random sites of the pool's truth per round instead and trains from
scratch for as many epochs in all (start plus rounds, at the demo's learning rate).
``unreviewed`` is the control: each round fine-tunes as long on the start labels, no
verdict given, so that what the verdicts add is told apart from what more steps add. The
orders run one after the other, every k of one before the next.
Every model is scored on the test scenes: object F1 and each hard-negative class's
false-detection rate (IoU >= 0.5, as benchmarks/accuracy.py); ``pool`` is the number of
detections over the pool not judged before, that the round's k were taken from.

    uv run python benchmarks/review.py open --detections 10000
    uv run python benchmarks/review.py rounds --k 10 30 --rounds 2 [--epochs 2 --tune-epochs 1]
        [--tune-lr 0.001] [--pool-scenes 12 --pool-negatives 12] [--min-area 500]
        [--orders page lowest confident uncertain atypical random scratch unreviewed]
        [--start-raw] [--seed 0]
        [--test-scenes 2] [--review-threshold 0.25] [--fresh-pool] [--chips-only]
    uv run python benchmarks/review.py screenshot docs/review.png
    uv run python benchmarks/review.py orders --start START [--k 10] [--pools 2x24 4x1]
"""

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).parent))

from accuracy import make_data, score
from report import grid_detections
from support.browser import evaluate_in_chromium

from torchgeo_datacenters.detections.schema import order_detections
from torchgeo_datacenters.detections.verdicts import (
    VERDICT_COLUMNS,
    labelled_sites,
    merge_verdicts,
    run_id,
)
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.naip import DATACENTER_CLASS, HARD_NEGATIVE_CLASSES
from torchgeo_datacenters.outputs.review import detection_chips, review_order, write_review
from torchgeo_datacenters.synthetic import generate_scene, generate_scenes, scene_origin
from torchgeo_datacenters.training import demo_config, train


def confident_first(scores: np.ndarray, _threshold: float, _traits: np.ndarray) -> np.ndarray:
    """Rows by score, highest first (the review page's order before issue 24's rounds)."""
    return np.argsort(-np.asarray(scores, dtype="float64"), kind="stable")


def uncertain_first(scores: np.ndarray, threshold: float, _traits: np.ndarray) -> np.ndarray:
    """Rows by distance of the score from the threshold, nearest first."""
    return np.argsort(np.abs(np.asarray(scores, dtype="float64") - threshold), kind="stable")


def atypical_first(scores: np.ndarray, _threshold: float, _traits: np.ndarray) -> np.ndarray:
    """Rows by distance of the score from the median score, farthest first."""
    scores = np.asarray(scores, dtype="float64")
    return np.argsort(-np.abs(scores - np.median(scores)), kind="stable")


#: Review orders besides ``random`` and ``scratch``: rows of (scores, threshold, traits) in
#: order. ``page`` is the review page's own (:func:`review_order` with the traits of the
#: detections' chips: lowest score and least like those before, alternately), ``lowest``
#: the page's before (lowest score first).
ORDERS = {
    "page": lambda scores, _, traits: review_order(scores, None, traits),
    "lowest": lambda scores, _, __: review_order(scores),
    "confident": confident_first,
    "uncertain": uncertain_first,
    "atypical": atypical_first,
}

#: Side of the benchmark's scene, in pixels.
SIDE = 4096

#: Smallest side of a verdict's chip with ``--fresh-pool``, and the margin around its site,
#: in pixels: half a training patch (configs/demo.yaml's 128) on each side.
CHIP_SIZE = 256
CHIP_MARGIN = 64

#: Run once the page has loaded: its clocks two animation frames later (see
#: support.browser.PAGE_OPEN, the report's).
REVIEW_OPEN = """new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  resolve({
    ready: window.review.ready,
    drawn: window.review.drawn,
    load: navigation.loadEventEnd,
    painted: performance.now(),
    detections: window.review.order.length,
    chip: document.querySelector("#chip img") !== null,
  });
})))"""


def open_page(detections: int, repeats: int) -> None:
    """Build a review page of *detections* and time its opening *repeats* times."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        scenes = generate_scenes(folder / "scenes", size=SIDE, count=1, seed=0, progress=False)
        (image,) = scenes.scene_paths
        table = grid_detections(image, detections)
        start = time.perf_counter()
        page = write_review(folder / "review.html", table, [image], threshold=0.5)
        built = time.perf_counter() - start
        print(
            f"review page: {detections} detections, {page.stat().st_size / 2**20:.1f} MiB,"
            f" written in {built:.1f} s"
        )
        for run in range(repeats):
            opened = evaluate_in_chromium(page, REVIEW_OPEN)
            clocks = opened.value
            assert opened.errors == [] and clocks["detections"] == detections, opened
            assert clocks["chip"], "no chip shown"
            print(
                f"run {run + 1}: page built {clocks['ready']:.0f} ms, its first frame (map and"
                f" first chip) drawn {clocks['drawn']:.0f} ms, load event (all chips read) done"
                f" {clocks['load']:.0f} ms, first frame drawn {clocks['painted']:.0f} ms after"
                f" navigation start ({opened.wall_ms:.0f} ms measured outside the browser)"
            )


def screenshot(path: Path) -> None:
    """Save a screenshot of a review page in use (for docs/review.png).

    The "detections" are the labelled buildings of a SYNTHETIC 1,024² px scene (data
    centers and look-alikes, scores drawn at random); two verdicts are given first.
    """
    from support.browser import playwright_chromium

    from torchgeo_datacenters.detections.metric import centroids, measure

    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        scenes = generate_scenes(folder, size=1024, count=1, seed=3, progress=False)
        labels = scenes.labels.to_crs(4326).reset_index(drop=True)
        lonlat = centroids(labels.geometry)
        table = gpd.GeoDataFrame(
            {
                "id": np.arange(1, len(labels) + 1),
                "area_m2": measure(labels.geometry)[0],
                "centroid_lon": lonlat[:, 0],
                "centroid_lat": lonlat[:, 1],
                "score": np.random.default_rng(0).uniform(0.5, 1.0, len(labels)),
                "max_score": 1.0,
                "source": scenes.scene_paths[0].name,
            },
            geometry=labels.geometry,
            crs=4326,
        )
        page = write_review(folder / "review.html", table, scenes.scene_paths, threshold=0.5)
        with playwright_chromium() as browser:
            tab = browser.new_page(viewport={"width": 1280, "height": 760})
            tab.goto(page.as_uri())
            tab.wait_for_function("window.review !== undefined")
            tab.keyboard.press("a")
            tab.keyboard.press("w")
            tab.screenshot(path=str(path))
    print(f"screenshot: {path}")


def make_pool(
    folder: Path,
    scenes: int,
    datacenters: int,
    negatives: int,
    first: int = 0,
    cold_storage: bool = False,
) -> list[Path]:
    """Write the pool's scenes and their ``labels.geojson`` (as generate_scenes places them).

    Args:
        folder: directory for the scenes and labels.
        scenes: number of 1,024² px scenes.
        datacenters: data centers in each scene.
        negatives: warehouses, retail and other buildings in each scene (look-alikes).
        first: number of the first scene (its seed and place on the grid of scenes): a
            later pool starts after the scenes of those before it.
        cold_storage: whether the warehouses are cold stores with rooftop condensers.

    Returns:
        The scenes.
    """
    folder.mkdir(parents=True)
    paths, frames = [], []
    for i in range(first, first + scenes):
        path = folder / f"scene_{i:03d}.tif"
        frames.append(
            generate_scene(
                path,
                size=1024,
                seed=int(np.random.SeedSequence([0, i]).generate_state(1)[0]),
                origin=scene_origin(i, 1024),
                n_datacenters=datacenters,
                n_negatives=negatives,
                lookalike_warehouses=True,
                cold_storage=cold_storage,
            )
        )
        paths.append(path)
    labels = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    labels["fid"] = np.arange(1, len(labels) + 1, dtype="int64")
    labels.to_file(folder / "labels.geojson")
    return paths


def fit(
    root: Path,
    name: str,
    labels: Path,
    epochs: int,
    weights: Path | None,
    lr: float | None,
    *,
    seed: int,
    average: bool = True,
    chips: Sequence[Path] = (),
    scenes: bool = True,
) -> Path:
    """Train configs/demo.yaml's model on the pool with *labels*; return its checkpoint.

    Args:
        root: the benchmark's directory (the pool under ``root/data``).
        name: folder of this training under *root*.
        labels: the label file.
        epochs: training epochs.
        weights: checkpoint to start from (None: from scratch).
        lr: peak learning rate (None: the demo's).
        seed: ``seed_everything`` of the run.
        average: keep the config's moving average of the weights (False: the raw weights).
        chips: folders of image chips trained on beside the pool.
        scenes: train on the pool's whole scenes (False: on *chips* alone).

    Returns:
        The checkpoint.
    """
    out = root / name
    out.mkdir()
    model: dict[str, object] = {"weights": str(weights) if weights else None}
    if lr is not None:
        model["lr"] = lr
    config = demo_config(root, epochs=epochs, model=model)
    config["seed_everything"] = seed
    config["data"]["init_args"] |= {"label_path": str(labels), "class_weights": None}
    if chips:
        folders = [root / "data", *chips] if scenes else chips
        config["data"]["init_args"]["paths"] = list(map(str, folders))
    config["trainer"] |= {"default_root_dir": str(out / "training"), "enable_progress_bar": False}
    dropped = ("EarlyStopping",) if average else ("EarlyStopping", "WeightAveraging")
    config["trainer"]["callbacks"] = [
        c for c in config["trainer"]["callbacks"] if not c["class_path"].endswith(dropped)
    ]
    return train(config, out)


def detect_pool(
    checkpoint: Path, pool: list[Path], min_area: float | None, threshold: float | None
) -> tuple[gpd.GeoDataFrame, float, np.ndarray]:
    """The detections of a checkpoint over every pool scene, as one run (numbered 1..n).

    Args:
        checkpoint: the model.
        pool: the pool's scenes.
        min_area: the predictor's smallest detection, in m² (None: its default).
        threshold: the probability the review run detects at (None: the checkpoint's).

    Returns:
        The detections, the checkpoint's own probability threshold and the traits the
        review page orders the detections by (their chips' appearance and area).
    """
    options = {} if min_area is None else {"min_area": min_area}
    predictor = Predictor(checkpoint, device="cpu", progress=False, threshold=threshold, **options)
    found = [predictor.predict(scene).gdf for scene in pool]
    table = order_detections(gpd.GeoDataFrame(pd.concat(found, ignore_index=True), crs=4326))
    return table, predictor.model.threshold, detection_chips(table, pool).traits(table)


def cut_chips(verdicts: gpd.GeoDataFrame, scenes: Sequence[Path], folder: Path) -> None:
    """Write the imagery around each verdict's site as a GeoTIFF chip in *folder*.

    In place of the README's route (step 4), where ``tgdc download --sites`` fetches
    fixed-size chips centred on each site from STAC: here a chip is the site's bounding
    box grown by :data:`CHIP_MARGIN` pixels on each side, at least :data:`CHIP_SIZE`
    pixels a side, inside its scene, so that it holds the whole site.

    Args:
        verdicts: the verdicts (``source`` the scene's file name, outlines in lon/lat).
        scenes: the scenes the detections were made on.
        folder: directory for the chips (created).
    """
    folder.mkdir(parents=True)
    by_name = {scene.name: scene for scene in scenes}
    for number, verdict in enumerate(verdicts.itertuples()):
        with rasterio.open(by_name[verdict.source]) as src:
            outline = gpd.GeoSeries([verdict.geometry], crs=4326).to_crs(src.crs).iloc[0]
            rows, cols = rasterio.transform.rowcol(
                src.transform, outline.bounds[::2], outline.bounds[3:0:-2]
            )
            window = Window.from_slices(
                grown(min(rows), max(rows), src.height), grown(min(cols), max(cols), src.width)
            )
            profile = src.profile | {
                "height": window.height,
                "width": window.width,
                "transform": src.window_transform(window),
            }
            with rasterio.open(folder / f"chip_{number:03d}.tif", "w", **profile) as dst:
                dst.write(src.read(window=window))


def grown(low: int, high: int, size: int) -> tuple[int, int]:
    """Pixel span [low, high] grown for a chip (see :func:`cut_chips`), kept in [0, size]."""
    side = max(CHIP_SIZE, high - low + 1 + 2 * CHIP_MARGIN)
    start = min(max(0, (low + high + 1 - side) // 2), max(0, size - side))
    return start, min(size, start + side)


def judge(detections: gpd.GeoDataFrame, truth: gpd.GeoDataFrame, run: str) -> gpd.GeoDataFrame:
    """The verdicts of a reviewer who knows the truth, as the review page exports them."""
    utm = truth.estimate_utm_crs()
    outlines = detections.to_crs(utm).geometry.to_numpy()
    sites = truth.to_crs(utm)
    rows = []
    for outline, (_, detection) in zip(outlines, detections.iterrows(), strict=True):
        overlap = shapely.area(shapely.intersection(sites.geometry.to_numpy(), outline))
        union = shapely.area(shapely.union(sites.geometry.to_numpy(), outline))
        iou = np.where(union > 0, overlap / np.maximum(union, 1e-9), 0.0)
        best = int(np.argmax(overlap)) if overlap.max() > 0 else -1
        if best >= 0 and sites["label"].iloc[best] and iou[best] >= 0.5:
            kind, name = "accepted", DATACENTER_CLASS
        else:
            kind = "rejected"
            name = str(sites["class"].iloc[best]) if best >= 0 else "other"
            if name not in HARD_NEGATIVE_CLASSES:
                name = "other"  # a poor outline of a data center: not a data center's
        rows.append(
            {
                "class": name,
                "label": name == DATACENTER_CLASS,
                "verdict": kind,
                "detection_id": int(detection["id"]),
                "score": float(detection["score"]),
                "reviewed_at": pd.Timestamp.now(tz="UTC").isoformat(),
                "source": detection["source"],
                "source_item": None,
                "acquired": None,
                "run": run,
                "name": f"{run}-{int(detection['id'])}",
            }
        )
    table = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))
    return gpd.GeoDataFrame(table, geometry=detections.geometry.to_numpy(), crs=4326)


def unjudged(detections: gpd.GeoDataFrame, labels: gpd.GeoDataFrame) -> np.ndarray:
    """Rows of detections whose site no label holds yet (``tgdc review --labels``'s test)."""
    return np.flatnonzero(labelled_sites(detections, labels).isna().to_numpy())


def rounds(args: argparse.Namespace) -> None:
    """Play the reviewer's rounds for every k and order, and print one row per model."""
    root = args.output_dir or Path(tempfile.mkdtemp(prefix="tgdc-review-"))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; writing under {root}", flush=True)
    tests, test_truth = make_data(
        root, args.test_scenes, training=False, cold_storage=args.cold_storage
    )
    pool = make_pool(
        root / "data",
        args.pool_scenes,
        args.pool_datacenters,
        args.pool_negatives,
        cold_storage=args.cold_storage,
    )
    truth = gpd.read_file(root / "data" / "labels.geojson")
    start_labels = root / "start.geojson"
    truth[truth["label"]].to_file(start_labels)
    negatives = [c for c in HARD_NEGATIVE_CLASSES if c in set(test_truth["class"])]
    print(
        f"pool: {len(pool)} scenes, {int(truth['label'].sum())} data centers,"
        f" {int((~truth['label']).sum())} hard negatives; test: {len(tests)} scenes",
        flush=True,
    )
    print(
        f"{'order':7s} {'k':>3s} {'round':>5s} {'labels':>6s} {'objF1':>6s} "
        + " ".join(f"{'fdr ' + c:>14s}" for c in negatives)
        + "  pool  seconds",
        flush=True,
    )

    def report(
        order: str, k: int, number: int, labels: Path, model: Path, began: float, left: str
    ) -> None:
        out = root / f"score-{order}-{k}-{number}"
        m = score(model, tests, test_truth, out, min_area=args.min_area)
        count = len(gpd.read_file(labels))
        print(
            f"{order:7s} {k:3d} {number:5d} {count:6d} {m['object_f1']:6.3f} "
            + " ".join(f"{m[f'hn_fdr_{c}']:14.3f}" for c in negatives)
            + f"  {left:>4s}  {time.perf_counter() - began:7.0f}",
            flush=True,
        )

    # The pool's labelled buildings, each with its scene as cut_chips reads it.
    sites = truth.rename(columns={"scene": "source"})
    # With --chips-only every training sees chips around its labelled sites alone.
    start_chips: list[Path] = []
    if args.chips_only:
        start_chips.append(root / "chips-start")
        cut_chips(sites[sites["label"]], pool, start_chips[0])
    scenes = not args.chips_only
    began = time.perf_counter()
    first = args.start or fit(
        root,
        "start",
        start_labels,
        args.epochs,
        None,
        None,
        seed=args.seed,
        average=not args.start_raw,
        chips=start_chips,
        scenes=scenes,
    )
    report("start", 0, 0, start_labels, first, began, "")
    tune = args.tune_epochs or args.epochs
    # Over each round's pool, by checkpoint and round.
    found: dict[tuple[Path, int], tuple[gpd.GeoDataFrame, float, np.ndarray]] = {}
    rng = np.random.default_rng(args.seed)
    pools, truths = {0: pool}, {0: truth}  # by round: the scenes reviewed and their truth
    if args.fresh_pool:
        for number in range(1, args.rounds + 1):
            folder = root / f"fresh-{number}"
            first_scene = number * args.pool_scenes
            pools[number] = make_pool(
                folder,
                args.pool_scenes,
                args.pool_datacenters,
                args.pool_negatives,
                first_scene,
                cold_storage=args.cold_storage,
            )
            truths[number] = gpd.read_file(folder / "labels.geojson")
    for order in args.orders:
        for k in args.k:
            model, labels = first, start_labels
            chips = list(start_chips)
            for number in range(1, args.rounds + 1):
                began = time.perf_counter()
                merged = root / f"labels-{order}-{k}-{number}.geojson"
                current = gpd.read_file(labels)
                reviewed = number if args.fresh_pool else 0
                name = f"{order}-{k}-{number}"
                # Scratch trains anew for as many epochs in all; the others fine-tune.
                epochs, weights, lr = tune, model, args.tune_lr
                if order == "scratch":
                    left = unjudged(truth, current)
                    picked = sites.iloc[rng.permutation(left)[:k]]
                    available = str(len(left))
                    columns = ["class", "label", "geometry"]
                    pd.concat([current[columns], picked[columns]]).pipe(
                        gpd.GeoDataFrame, crs=truth.crs
                    ).to_file(merged)
                    epochs, weights, lr = args.epochs + number * tune, None, None
                    if args.chips_only:
                        chips.append(root / f"chips-{name}")
                        cut_chips(picked, pool, chips[-1])
                elif order == "unreviewed":  # the control: as many steps, no verdict
                    current.to_file(merged)
                    available = ""
                else:
                    if (model, reviewed) not in found:
                        found[model, reviewed] = detect_pool(
                            model, pools[reviewed], args.min_area, args.review_threshold
                        )
                    detections, threshold, traits = found[model, reviewed]
                    left = unjudged(detections, current)
                    available = str(len(left))
                    scores = detections["score"].to_numpy()[left]
                    if order == "random":
                        left = rng.permutation(left)
                    else:
                        left = left[ORDERS[order](scores, threshold, traits[left])]
                    if len(left):
                        run = run_id(detections)
                        verdicts = judge(detections.iloc[left[:k]], truths[reviewed], run)
                        exported = root / f"review-{name}.geojson"
                        verdicts.to_file(exported)
                        if args.fresh_pool or args.chips_only:  # trained on in chips
                            chips.append(root / f"chips-{name}")
                            cut_chips(verdicts, pools[reviewed], chips[-1])
                        result = merge_verdicts([exported], base=[labels])
                        result.labels.to_file(merged)
                    else:  # nothing left to judge: the same labels, tuned as long
                        current.to_file(merged)
                model = fit(
                    root,
                    name,
                    merged,
                    epochs,
                    weights,
                    lr,
                    seed=args.seed,
                    chips=chips,
                    scenes=scenes,
                )
                labels = merged
                report(order, k, number, labels, model, began, available)


def mistakes_found(args: argparse.Namespace) -> None:
    """Print, for each pool of new scenes, how many of the first k detections are mistakes.

    Each pool is 12 scenes never trained on (those of ``rounds --fresh-pool``'s round 1),
    with ``D`` data centers and ``N`` look-alikes asked of each scene for every ``DxN`` of
    ``--pools``. The start model detects over it; a detection is a mistake where the truth
    rejects it (as :func:`judge` does). Random order's figure is its expectation,
    k x mistakes / detections.
    """
    root = Path(tempfile.mkdtemp(prefix="tgdc-orders-"))
    print(f"start model {args.start}; k = {args.k}; writing under {root}", flush=True)
    print(
        f"{'pool':>6s} {'dc':>4s} {'other':>5s} {'found':>5s} {'wrong':>5s}  first k: "
        + "  ".join(f"{order:>9s}" for order in [*ORDERS, "random"])
    )
    for pool in args.pools:
        datacenters, negatives = (int(n) for n in pool.split("x"))
        folder = root / pool
        scenes = make_pool(folder, args.pool_scenes, datacenters, negatives, args.pool_scenes)
        truth = gpd.read_file(folder / "labels.geojson")
        detections, threshold, traits = detect_pool(args.start, scenes, None, None)
        wrong = ~judge(detections, truth, run_id(detections))["label"].to_numpy()
        scores = detections["score"].to_numpy()
        found = [
            int(wrong[ORDERS[order](scores, threshold, traits)[: args.k]].sum()) for order in ORDERS
        ]
        expected = args.k * wrong.sum() / max(len(wrong), 1)
        print(
            f"{pool:>6s} {int(truth['label'].sum()):4d} {int((~truth['label']).sum()):5d}"
            f" {len(wrong):5d} {int(wrong.sum()):5d}           "
            + "  ".join(f"{n:9d}" for n in found)
            + f"  {expected:9.2f}",
            flush=True,
        )


def main() -> None:
    """Run the benchmark the command line names."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    opening = modes.add_parser("open", help="time a large page's opening in Chromium")
    opening.add_argument("--detections", type=int, default=10_000)
    opening.add_argument("--repeats", type=int, default=3)
    picture = modes.add_parser("screenshot", help="a screenshot of a page in use")
    picture.add_argument("path", type=Path)
    finding = modes.add_parser("orders", help="mistakes among each order's first k detections")
    finding.add_argument("--start", type=Path, required=True, help="the model that detects")
    finding.add_argument("--k", type=int, default=10)
    finding.add_argument("--pool-scenes", type=int, default=12)
    finding.add_argument(
        "--pools",
        nargs="+",
        default=["2x24", "4x12", "4x4", "4x1"],
        help="DxN: D data centers and N look-alikes asked of each scene",
    )
    playing = modes.add_parser("rounds", help="a simulated reviewer's rounds and fine-tuning")
    playing.add_argument("--k", type=int, nargs="+", default=[10, 30], help="verdicts a round")
    playing.add_argument("--rounds", type=int, default=2)
    playing.add_argument(
        "--orders",
        nargs="+",
        choices=[*ORDERS, "random", "scratch", "unreviewed"],
        default=["page", "random", "scratch"],
    )
    playing.add_argument("--epochs", type=int, default=2, help="epochs of the start model")
    playing.add_argument(
        "--tune-epochs", type=int, help="epochs of each round's fine-tuning (default --epochs)"
    )
    playing.add_argument(
        "--tune-lr", type=float, help="peak learning rate of fine-tuning (default the demo's)"
    )
    playing.add_argument("--pool-scenes", type=int, default=12, help="1,024² px pool scenes")
    playing.add_argument("--pool-datacenters", type=int, default=2, help="a pool scene's")
    playing.add_argument("--pool-negatives", type=int, default=12, help="look-alikes a scene")
    playing.add_argument(
        "--start", type=Path, help="start from this checkpoint (an earlier run's start/model.ckpt)"
    )
    playing.add_argument(
        "--min-area",
        type=float,
        help="smallest detection in m², over the pool and the test scenes (default the"
        " predictor's); a lower one leaves the start model more mistakes to review",
    )
    playing.add_argument(
        "--review-threshold",
        type=float,
        help="probability the pool's review run detects at (default the checkpoint's); a"
        " lower one also offers the sites the model is unsure of",
    )
    playing.add_argument(
        "--start-raw",
        action="store_true",
        help="the start model keeps its raw weights, not their moving average (more mistakes"
        " after a short run)",
    )
    playing.add_argument(
        "--seed", type=int, default=0, help="seed of every training and of the random order"
    )
    playing.add_argument(
        "--fresh-pool",
        action="store_true",
        help="each round reviews --pool-scenes new scenes, never trained on (the pool above"
        " trains the start model only); the judged sites are trained on in chips cut around"
        " them (where the README's route downloads chips from STAC)",
    )
    playing.add_argument(
        "--cold-storage",
        action="store_true",
        help="the warehouses of the pool and test scenes are cold stores, with rows of rooftop"
        " condensers like a data center's cooling units, which a start model shown data"
        " centers alone takes for data centers (benchmarks/README.md: labels do not teach"
        " it otherwise at these budgets)",
    )
    playing.add_argument(
        "--chips-only",
        action="store_true",
        help="train on chips cut around the labelled sites alone (as the seed project's 757"
        " chips around hand-labelled sites), never on the pool's whole scenes, where every"
        " unlabelled look-alike is background already: the start model has seen no"
        " look-alike, and each verdict's chip is imagery it had not seen",
    )
    playing.add_argument("--test-scenes", type=int, default=2)
    playing.add_argument("--output-dir", type=Path)
    args = parser.parse_args()
    if args.mode == "open":
        open_page(args.detections, args.repeats)
    elif args.mode == "screenshot":
        screenshot(args.path)
    elif args.mode == "orders":
        mistakes_found(args)
    else:
        rounds(args)


if __name__ == "__main__":
    main()
