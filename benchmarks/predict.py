"""Large-scene prediction: throughput against a plain forward pass, overhead, memory, peers.

Every figure is measured in this one run, on SYNTHETIC scenes (a 2048 x 2048 scene from
``generate_scene``, tiled to 4096² and 16384² for the overhead and memory runs):

1. The seed project's U-Net (UNet4, 2.1M parameters, random weights: speed does not depend
   on them) over the 2048² scene: our end-to-end ``Predictor.predict`` (read, predict,
   stitch, vectorise, write GeoJSON and mask COG) against a plain forward pass of the same
   model over the same pixels (non-overlapping 256 px tiles already in memory, batch 16;
   the best plain pass is channels-last at the fastest of batches 1, 4 and 16),
   at 256/32 px tiles and at larger tiles with the same overlap; and against a naive
   predictor written like the seed project's (batch 1, whole-scene accumulators, one read
   per tile).
2. Overhead: a trivial one-layer model (1x1 convolution) at 4096² and 16384², each in a
   fresh subprocess, reporting megapixels/s and peak RSS (VmHWM), also net of the RSS
   after imports (torch 2.15 with CUDA plus torchgeo weigh about 0.9 GB before any work).
3. geoai-py 0.43 ``predict_geotiff`` (spline blending) on the same scenes and models when
   ``--geoai-python`` names an interpreter that has it; otherwise its figures from the
   issue are printed, marked as quoted.
4. Precision (``--precision-only`` runs this section alone): our end-to-end predictor at
   each precision (fp32, ``auto`` with the precision it chose on this machine, bf16,
   int8), through an exported ONNX file (fp32 on ONNX Runtime) and with ``--tta d4``,
   against the best fp32 plain pass (channels-last), and each one's agreement with the
   fp32 run: mask IoU, whether the detections are the same and each fp32 outline's best
   IoU; last, the precision ``auto`` chose and its ratio to the best fp32 plain pass.
   With ``--checkpoint`` and ``--scene`` (e.g. the demo's ``model.ckpt`` and
   ``test/scene.tif``) on that model and those scenes, plus ``--lookalike-scenes``
   unseen look-alike scenes (those of ``benchmarks/accuracy.py``); otherwise UNet4 with
   random weights on the synthetic scene (its speed is the same; its agreement means
   little). ``--precisions`` picks the runs.

Ours runs in the environment ``tgdc`` sets before torch loads
(:data:`torchgeo_datacenters.cli.RUNTIME_ENVIRONMENT`); geoai in the caller's, as its users
run it.

    uv run python benchmarks/predict.py [--size 2048] [--big 16384] [--repeat 2]
        [--geoai-python PY] [--precision-only] [--checkpoint CKPT] [--scene TIF ...]
        [--lookalike-scenes N] [--precisions fp32 auto ...]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path

from torchgeo_datacenters.cli import RUNTIME_ENVIRONMENT, set_runtime_environment

#: geoai runs in the caller's environment, as its users run it.
PEER_ENVIRONMENT = dict(os.environ)
# Ours runs in the environment ``tgdc`` sets before torch loads (OMP_WAIT_POLICY).
set_runtime_environment()

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
import torch  # noqa: E402
from rasterio.features import shapes  # noqa: E402
from rasterio.windows import Window  # noqa: E402
from torch import nn  # noqa: E402

from torchgeo_datacenters.demo import TEST_ORIGIN, TEST_SIZE  # noqa: E402
from torchgeo_datacenters.errors import TGDCError  # noqa: E402
from torchgeo_datacenters.inference import Predictor, ProbabilityModel  # noqa: E402
from torchgeo_datacenters.inference.model import load_checkpoint  # noqa: E402
from torchgeo_datacenters.inference.onnx import export_onnx  # noqa: E402
from torchgeo_datacenters.inference.precision import BF16_CPU_FLAGS, cpu_flags  # noqa: E402
from torchgeo_datacenters.inference.scene import open_scene  # noqa: E402
from torchgeo_datacenters.inference.tiling import scene_tiling  # noqa: E402
from torchgeo_datacenters.models import UNet4  # noqa: E402
from torchgeo_datacenters.naip import GSD  # noqa: E402
from torchgeo_datacenters.synthetic import SCENE_GAP, generate_scene  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: The runs of the precision section (``--precisions`` picks some).
PRECISION_RUNS = ("fp32", "auto", "bf16", "int8", "onnx fp32", "fp32 + tta d4")

#: Seeds of the look-alike scenes (``--lookalike-scenes``): the unseen test scenes of
#: ``benchmarks/accuracy.py``, warehouses as large and bright as data centers.
LOOKALIKE_SEEDS = (2026, 2027)
MEAN, STD = 120.0, 50.0

#: geoai-py 0.43 figures quoted in the issue (2 CPU cores), for when it is not installed.
GEOAI_QUOTED = {
    "unet_2048_mpx_s": 0.174,
    "trivial_4096_mpx_s": 2.3,
    "trivial_16384_mpx_s": 5.1,
    "rss_4096_gb": 1.4,
    "rss_16384_gb": 10.2,
}


class Trivial(nn.Module):
    """One 1x1 convolution: a bright-roof detector with fixed weights (pure overhead)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(2.0)
            self.conv.bias.fill_(-12.0)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv(images)


def unet() -> nn.Module:
    torch.manual_seed(0)
    return UNet4(in_channels=4, num_classes=1).eval()


def probability_model(module: nn.Module) -> ProbabilityModel:
    def probabilities(images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(module(images))[:, 0]

    return ProbabilityModel(probabilities, [MEAN] * 4, [STD] * 4, module=module, name="bench")


def peak_rss_mb() -> float:
    """Peak resident memory of this process since it started (VmHWM, reset by exec)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1e3


def plain_forward(
    module: nn.Module, path: Path, batch: int = 16, tile: int = 256, channels_last: bool = False
) -> float:
    """Seconds for one forward pass over the scene's pixels, tiles already in memory."""
    with rasterio.open(path) as src:
        image = (src.read().astype(np.float32) - MEAN) / STD
    _, height, width = image.shape
    tiles = torch.from_numpy(
        image.reshape(4, height // tile, tile, width // tile, tile)
        .transpose(1, 3, 0, 2, 4)
        .reshape(-1, 4, tile, tile)
        .copy()
    )
    if channels_last:
        tiles = tiles.contiguous(memory_format=torch.channels_last)
        module = module.to(memory_format=torch.channels_last)
    with torch.inference_mode():
        module(tiles[:1])
        start = time.perf_counter()
        for first in range(0, len(tiles), batch):
            torch.sigmoid(module(tiles[first : first + batch]))
        return time.perf_counter() - start


#: Batch sizes of the plain pass; the best one is the reference ("best plain pass").
PLAIN_BATCHES = (1, 4, 16)


def best_plain_forward(module: nn.Module, path: Path) -> tuple[float, int]:
    """Seconds of the fastest channels-last plain pass (of :data:`PLAIN_BATCHES`), its batch."""
    return min((plain_forward(module, path, b, channels_last=True), b) for b in PLAIN_BATCHES)


def naive_predict(module: nn.Module, path: Path, out: Path, tile: int = 256, overlap: int = 32):
    """The seed project's way: batch 1, whole-scene accumulators, one read per tile."""
    start = time.perf_counter()
    with rasterio.open(path) as src:
        height, width, profile = src.height, src.width, src.profile
        total = np.zeros((height, width), np.float32)
        votes = np.zeros((height, width), np.float32)
        stride = tile - overlap
        with torch.inference_mode():
            for row in range(0, height, stride):
                for col in range(0, width, stride):
                    window = Window(col, row, min(tile, width - col), min(tile, height - row))
                    data = src.read(window=window).astype(np.float32)
                    padded = np.zeros((4, tile, tile), np.float32)
                    padded[:, : window.height, : window.width] = (data - MEAN) / STD
                    prob = torch.sigmoid(module(torch.from_numpy(padded)[None]))[0, 0].numpy()
                    total[row : row + window.height, col : col + window.width] += prob[
                        : window.height, : window.width
                    ]
                    votes[row : row + window.height, col : col + window.width] += 1
    mask = (total / votes >= 0.5).astype(np.uint8)
    polygons = [geometry for geometry, _ in shapes(mask, mask=mask == 1, transform=src.transform)]
    profile.update(count=1, dtype="uint8", nodata=None)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(mask, 1)
    json.dumps(polygons)
    return time.perf_counter() - start


def ours(module: nn.Module, path: Path, out: Path, **options) -> tuple[float, int]:
    """Seconds for our end-to-end prediction, and the number of tiles predicted."""
    predictor = Predictor(probability_model(module), device="cpu", progress=False, **options)
    start = time.perf_counter()
    detections = predictor.predict(
        path, output_geojson=out.with_suffix(".geojson"), output_mask=out, overwrite=True
    )
    return time.perf_counter() - start, detections.stats.tiles


def child_ours(scene: str, out: str, num_workers: int) -> dict:
    """Run in a fresh process: the trivial model end to end."""
    baseline = peak_rss_mb()
    seconds, _ = ours(Trivial(), Path(scene), Path(out), num_workers=num_workers)
    # The DataLoader's reading worker is a forked child: its peak RSS (which counts the
    # pages it shares with this process too) once it has ended.
    worker_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e3
    return {
        "seconds": seconds,
        "peak_mb": peak_rss_mb(),
        "baseline_mb": baseline,
        "worker_mb": worker_mb,
    }


GEOAI_CHILD = textwrap.dedent(
    """
    import json, sys, time, torch
    sys.path.insert(0, {root!r})
    from geoai import predict_geotiff
    from torchgeo_datacenters.models.unet4 import UNet4
    def peak():
        status = open("/proc/self/status").read()
        return int(status.split("VmHWM:")[1].split()[0]) / 1e3
    baseline = peak()
    torch.manual_seed(0)
    if {trivial!r}:
        model = torch.nn.Conv2d(4, 1, 1)
        with torch.no_grad():
            model.weight.fill_(2.0)
            model.bias.fill_(-12.0)
    else:
        model = UNet4(in_channels=4, num_classes=1).eval()
    start = time.perf_counter()
    predict_geotiff(model, {scene!r}, {out!r}, tile_size=256, overlap=32, batch_size=16,
                    blend_mode="spline", preprocess_fn=lambda t: (t - {mean}) / {std},
                    device="cpu", verbose=False)
    print(json.dumps({{"seconds": time.perf_counter() - start, "baseline_mb": baseline,
                      "peak_mb": peak()}}))
    """
)


def run_child(command: list[str], env: dict[str, str] | None = None) -> dict:
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def child_command(scene: Path, out: Path, num_workers: int) -> list[str]:
    return [
        sys.executable,
        __file__,
        "--child",
        json.dumps({"scene": str(scene), "out": str(out), "num_workers": num_workers}),
    ]


def geoai_command(python: str, trivial: bool, scene: Path, out: Path) -> list[str]:
    code = GEOAI_CHILD.format(
        root=str(ROOT), trivial=trivial, scene=str(scene), out=str(out), mean=MEAN, std=STD
    )
    return [python, "-c", code]


def tile_scene(base: Path, size: int, out: Path) -> Path:
    """Repeat a scene to size x size pixels, block by block."""
    with rasterio.open(base) as src:
        block, profile = src.read(), src.profile
    step = block.shape[1]
    with rasterio.open(
        out, "w", **{**profile, "width": size, "height": size, "BIGTIFF": "YES"}
    ) as dst:
        for row in range(0, size, step):
            for col in range(0, size, step):
                dst.write(block, window=Window(col, row, step, step))
    return out


def precision_runs(
    model: ProbabilityModel,
    scene: Path,
    tmp: Path,
    repeat: int,
    num_workers: int,
    tta: bool = True,
    kinds: Sequence[str] = PRECISION_RUNS,
) -> None:
    """Print each precision's Mpx/s against the best fp32 plain pass, and its agreement.

    ``auto`` is printed with the precision it chose, and a last line gives that choice's
    ratio to the best fp32 plain pass.
    """
    with rasterio.open(scene) as src:
        height, width = src.shape
    mpx = height * width / 1e6
    kinds = {"fp32", *kinds}  # every run is compared with fp32's
    onnx_file = (
        export_onnx(model, tmp / "model.onnx", overwrite=True) if "onnx fp32" in kinds else None
    )
    runs: dict[str, tuple[ProbabilityModel | Path | None, dict[str, str]]] = {
        "fp32": (model, {"precision": "fp32"}),
        "auto": (model, {"precision": "auto"}),
        "bf16": (model, {"precision": "bf16"}),
        "int8": (model, {"precision": "int8"}),
        "onnx fp32": (onnx_file, {}),
        "fp32 + tta d4": (model, {"precision": "fp32", "tta": "d4"}),
    }
    runs = {name: run for name, run in runs.items() if name in kinds}
    if not tta:
        runs.pop("fp32 + tta d4", None)
    predictors, seconds, results, setup = {}, {}, {}, {}
    plain_cl = (np.inf, 0)
    for name, (source, options) in runs.items():
        try:
            predictors[name] = Predictor(
                source, device="cpu", progress=False, num_workers=num_workers, **options
            )
        except TGDCError as error:
            print(f"{name}: refused: {error}")
    for round_ in range(repeat):
        if height % 256 == 0 and width % 256 == 0:
            plain_cl = min(plain_cl, best_plain_forward(unet(), scene))
        for name, predictor in predictors.items():
            if round_ and predictor.tta != "none":
                continue  # its cost, about 8x the model's, needs no second round
            out = tmp / f"{name.replace(' ', '_')}.tif"
            start = time.perf_counter()
            detections = predictor.predict(
                scene, output_mask=out, output_geojson=out.with_suffix(".geojson"), overwrite=True
            )
            took = time.perf_counter() - start
            print(f"  round {round_ + 1}, {name}: {took:.1f} s", flush=True)
            if round_ == 0:
                # The first int8 run quantises the model on tiles of the scene.
                setup[name] = took
                with rasterio.open(out) as src:
                    results[name] = detections, src.read(1)
            seconds[name] = min(seconds.get(name, np.inf), took)
    plain = mpx / plain_cl[0] if plain_cl[1] else None
    if plain:
        print(
            f"best fp32 plain pass (channels-last, 256 px tiles, batch {plain_cl[1]}):"
            f" {plain:.3f} Mpx/s"
        )
    fp32, fp32_mask = results["fp32"]
    for name, predictor in predictors.items():
        took = seconds[name]
        rate = mpx / took
        detections, mask = results[name]
        both, either = (
            ((mask == 1) & (fp32_mask == 1)).sum(),
            ((mask == 1) | (fp32_mask == 1)).sum(),
        )
        iou = both / either if either else 1.0
        same = len(detections) == len(fp32) and bool(
            detections.gdf.geometry.geom_equals(fp32.gdf.geometry).all()
        )
        # Each fp32 detection's best outline IoU among this run's detections.
        matched = [
            max(
                (a.intersection(b).area / a.union(b).area for b in detections.gdf.geometry),
                default=0.0,
            )
            for a in fp32.gdf.geometry
        ]
        versus = f" = {rate / plain:.2f}x the plain pass" if plain else ""
        first = f" (first run {mpx / setup[name]:.3f} Mpx/s)" if setup[name] > took else ""
        shown = f"auto (chose {predictor.precision})" if name == "auto" else name
        print(
            f"ours {shown}: {rate:.3f} Mpx/s{versus}{first}, {rate / (mpx / seconds['fp32']):.2f}x"
            f" ours fp32; mask IoU with fp32 {iou:.4f}, {len(detections)} detections"
            f" ({'the same as' if same else 'NOT the same as'} fp32's {len(fp32)}; each fp32"
            f" outline's best IoU here: {', '.join(f'{m:.3f}' for m in matched)})"
        )
    if "auto" in predictors and plain:
        print(
            f"precision auto chose {predictors['auto'].precision}:"
            f" {mpx / seconds['auto'] / plain:.2f}x the best fp32 plain pass"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="U-Net scene side, pixels")
    parser.add_argument("--small", type=int, default=4096, help="small overhead scene, pixels")
    parser.add_argument("--big", type=int, default=16384, help="big overhead scene, pixels")
    parser.add_argument(
        "--large-tile", type=int, default=704, help="larger tile, pixels (704: 3 x 3 tiles at 2048)"
    )
    parser.add_argument("--num-workers", type=int, default=1, help="our reading workers")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the U-Net figures")
    parser.add_argument("--geoai-python", help="python interpreter with geoai-py installed")
    parser.add_argument(
        "--precision-only", action="store_true", help="run the precision section alone"
    )
    parser.add_argument("--checkpoint", type=Path, help="model of the precision section")
    parser.add_argument("--scene", type=Path, nargs="+", help="scenes of the precision section")
    parser.add_argument(
        "--lookalike-scenes",
        type=int,
        default=0,
        choices=range(len(LOOKALIKE_SEEDS) + 1),
        help="add this many unseen look-alike scenes to the precision section",
    )
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=PRECISION_RUNS,
        choices=PRECISION_RUNS,
        help="runs of the precision section (fp32 always runs)",
    )
    parser.add_argument(
        "--no-tta", action="store_true", help="leave --tta d4 (8x the model's time) out"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_ours(**json.loads(args.child))))
        return

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs,"
        f" load average {os.getloadavg()[0]:.1f} (other users share this machine);"
        f" ours runs with {RUNTIME_ENVIRONMENT} as tgdc sets it, geoai in the caller's"
        " environment"
    )
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scene = tmp / "scene.tif"
        generate_scene(scene, size=args.size, seed=0)
        if args.precision_only:
            precision_section(args, scene, tmp)
            return
        mpx = args.size**2 / 1e6
        print(f"\n## U-Net (UNet4, 2.1M params), {args.size}² SYNTHETIC scene, CPU")
        # The machine is shared: each figure is the best of --repeat interleaved rounds.
        seconds: dict[str, float] = {}
        recompute = {}
        plain_cl = (np.inf, 0)
        # Tile 256, the automatic tiling (the default) and --large-tile, all with overlap 32.
        tilings = (256, None, args.large_tile)
        auto_tile = scene_tiling(open_scene(scene, 4).grid, None, 32)[0]
        for _ in range(args.repeat):
            seconds["plain"] = min(seconds.get("plain", np.inf), plain_forward(unet(), scene))
            plain_cl = min(plain_cl, best_plain_forward(unet(), scene))
            seconds["plain_cl"] = plain_cl[0]
            for tile in tilings:
                name = f"ours_{tile}"
                took, tiles = ours(
                    unet(),
                    scene,
                    tmp / f"{name}.tif",
                    tile_size=tile,
                    overlap=32,
                    num_workers=args.num_workers,
                )
                seconds[name] = min(seconds.get(name, np.inf), took)
                recompute[tile] = tiles * (tile or auto_tile) ** 2 / args.size**2
            took = naive_predict(unet(), scene, tmp / "naive.tif")
            seconds["naive"] = min(seconds.get("naive", np.inf), took)
            if args.geoai_python:
                command = geoai_command(args.geoai_python, False, scene, tmp / "g.tif")
                took = run_child(command, PEER_ENVIRONMENT)["seconds"]
                seconds["geoai"] = min(seconds.get("geoai", np.inf), took)
        figures = {name: mpx / took for name, took in seconds.items()}
        print(
            f"plain forward pass (256 px tiles, no overlap, batch 16): {figures['plain']:.3f} Mpx/s"
        )
        print(
            f"best plain pass: channels-last (ours uses it on CPU), batch {plain_cl[1]} (the"
            f" fastest of {', '.join(map(str, PLAIN_BATCHES))}): {figures['plain_cl']:.3f} Mpx/s"
        )
        for tile in tilings:
            rate = figures[f"ours_{tile}"]
            print(
                f"ours end to end, tile {tile or f'auto ({auto_tile})'}, overlap 32 (tiles hold"
                f" {recompute[tile]:.2f}x the"
                f" scene's pixels): {rate:.3f} Mpx/s = {rate / figures['plain']:.0%} of the"
                f" plain forward pass ({rate / figures['plain_cl']:.0%} of the best plain pass)"
            )
        best = max(figures[f"ours_{tile}"] for tile in tilings)
        print(
            f"naive predictor (batch 1, tile 256, overlap 32): {figures['naive']:.3f} Mpx/s;"
            f" ours (256) is {figures['ours_256'] / figures['naive']:.2f}x, ours (best) is"
            f" {best / figures['naive']:.2f}x"
        )
        if args.geoai_python:
            geoai_unet, label = figures["geoai"], "measured, tile 256, overlap 32, batch 16"
        else:
            geoai_unet, label = GEOAI_QUOTED["unet_2048_mpx_s"], "QUOTED from the issue"
        print(
            f"geoai predict_geotiff ({label}): {geoai_unet:.3f} Mpx/s ="
            f" {geoai_unet / figures['plain']:.0%} of the plain pass; ours (256) is"
            f" {figures['ours_256'] / geoai_unet:.2f}x, ours (best) is {best / geoai_unet:.2f}x"
        )

        print("\n## Overhead: trivial one-layer model, fresh process per run")
        runs = {}
        for size in (args.small, args.big):
            path = tile_scene(scene, size, tmp / f"tiled_{size}.tif")
            runs[size] = run_child(child_command(path, tmp / f"t_{size}.tif", args.num_workers))
            run = runs[size]
            run["mpx_s"] = size**2 / 1e6 / run["seconds"]
            run["growth_mb"] = run["peak_mb"] - run["baseline_mb"]
            print(
                f"ours {size}²: {run['mpx_s']:.2f} Mpx/s, peak RSS {run['peak_mb']:.0f} MB"
                f" ({run['growth_mb']:.0f} MB above the {run['baseline_mb']:.0f} MB after imports);"
                f" its reading worker's peak RSS {run['worker_mb']:.0f} MB"
            )
            if args.geoai_python:
                command = geoai_command(args.geoai_python, True, path, tmp / "g.tif")
                result = run_child(command, PEER_ENVIRONMENT)
                rate = size**2 / 1e6 / result["seconds"]
                print(
                    f"geoai {size}² (measured; writes the raw output only, no mask or"
                    f" polygons): {rate:.2f} Mpx/s, peak RSS {result['peak_mb']:.0f} MB"
                    f" ({result['peak_mb'] - result['baseline_mb']:.0f} MB above imports);"
                    f" ours is {run['mpx_s'] / rate:.2f}x as fast"
                )
            path.unlink()
        small, big = runs[args.small], runs[args.big]
        print(
            f"peak RSS {args.big}² / {args.small}²: {big['peak_mb'] / small['peak_mb']:.2f};"
            f" above imports: {big['growth_mb']:.0f} MB vs {small['growth_mb']:.0f} MB"
        )
        quoted = GEOAI_QUOTED
        if not args.geoai_python:
            print(
                "vs geoai QUOTED (trivial model):"
                f" {small['mpx_s'] / quoted['trivial_4096_mpx_s']:.2f}x at {args.small}²,"
                f" {big['mpx_s'] / quoted['trivial_16384_mpx_s']:.2f}x at {args.big}²;"
                f" its RSS {quoted['rss_4096_gb']} GB -> {quoted['rss_16384_gb']} GB"
            )
        precision_section(args, scene, tmp)


def lookalike_scenes(tmp: Path, count: int) -> list[Path]:
    """The unseen look-alike test scenes of ``benchmarks/accuracy.py`` (1024² px each)."""
    paths = []
    for index, seed in enumerate(LOOKALIKE_SEEDS[:count]):
        path = tmp / f"lookalike_{seed}.tif"
        origin = (TEST_ORIGIN[0] + index * (TEST_SIZE * GSD + SCENE_GAP), TEST_ORIGIN[1])
        generate_scene(path, size=TEST_SIZE, seed=seed, origin=origin, lookalike_warehouses=True)
        paths.append(path)
    return paths


def precision_section(args: argparse.Namespace, scene: Path, tmp: Path) -> None:
    """The precision section, on the given checkpoint and scenes or on the synthetic one."""
    scenes = [*(args.scene or []), *lookalike_scenes(tmp, args.lookalike_scenes)]
    if args.checkpoint:
        model, what = load_checkpoint(args.checkpoint), str(args.checkpoint)
    else:
        model, what = probability_model(unet()), "UNet4, random weights"
    for path in scenes or [scene]:
        print(
            f"\n## Precision: {what} on {path.name}, CPU, flags {sorted(BF16_CPU_FLAGS)} present:"
            f" {sorted(set(BF16_CPU_FLAGS) & cpu_flags()) or 'none'}"
        )
        precision_runs(
            model,
            path,
            tmp,
            args.repeat,
            args.num_workers,
            tta=not args.no_tta,
            kinds=args.precisions,
        )


if __name__ == "__main__":
    main()
