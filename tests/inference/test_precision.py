"""Tests of the model's precision: fp32, bf16 autocast and int8 quantisation."""

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import rasterio
import torch
from onnx import numpy_helper
from support.inference import MEAN, STD, bright_roofs, write_scene

from torchgeo_datacenters.cli import build_parser
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference import Predictor, ProbabilityModel
from torchgeo_datacenters.inference.onnx import quantize_int8
from torchgeo_datacenters.inference.precision import (
    BF16_CPU_FLAGS,
    auto_precision,
    cpu_flags,
    resolve_precision,
)
from torchgeo_datacenters.models import UNet4
from torchgeo_datacenters.options import PRECISIONS

ROOFS = [(10, 20, 30, 40), (70, 90, 50, 35), (-5, 140, 25, 30)]
NATIVE_BF16 = bool(set(BF16_CPU_FLAGS) & cpu_flags())
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(tmp_path_factory.mktemp("scene") / "scene.tif", 130, 170, ROOFS)


def run(scene: Path, out: Path, **options: object) -> tuple[object, np.ndarray]:
    predictor = Predictor(
        bright_roofs(),
        device="cpu",
        tile_size=64,
        overlap=16,
        min_area=0.0,
        progress=False,
        num_workers=0,
        **options,
    )
    out.mkdir()
    detections = predictor.predict(
        scene, output_mask=out / "mask.tif", output_geojson=out / "d.geojson"
    )
    with rasterio.open(out / "mask.tif") as src:
        return detections, src.read(1)


def test_int8_finds_the_same_roofs_as_fp32(scene: Path, tmp_path: Path) -> None:
    fp32, fp32_mask = run(scene, tmp_path / "fp32", precision="fp32")
    int8, int8_mask = run(scene, tmp_path / "int8", precision="int8")
    roofs = fp32_mask == 1
    iou = (roofs & (int8_mask == 1)).sum() / (roofs | (int8_mask == 1)).sum()
    assert iou >= 0.99
    assert len(fp32) == len(int8) == len(ROOFS)
    assert np.allclose(sorted(fp32.gdf["area_m2"]), sorted(int8.gdf["area_m2"]), rtol=0.01)


def test_int8_convolutions_run_as_integer_convolutions(tmp_path: Path) -> None:
    # ONNX Runtime runs every convolution of the quantised U-Net as an int8 QLinearConv
    # (the exporter passes shared biases through Identity nodes: unfolded, they kept 8 of
    # the 18 convolutions in float, and int8 ran no faster than fp32), on 7-bit weights so
    # that AVX2's 16-bit pair sums cannot saturate.
    torch.manual_seed(0)
    module = UNet4(base_channels=4).eval()
    model = ProbabilityModel(
        lambda images: torch.sigmoid(module(images))[:, 0], [MEAN] * 4, [STD] * 4, module=module
    )
    int8 = quantize_int8(model, [torch.randn(1, 4, 32, 32) for _ in range(2)])
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "as-run.onnx")
    onnxruntime.InferenceSession(int8.probability_fn.graph, options)
    as_run = Counter(node.op_type for node in onnx.load(tmp_path / "as-run.onnx").graph.node)
    assert as_run["QLinearConv"] == 18 and as_run["Conv"] == 0
    graph = onnx.load_from_string(int8.probability_fn.graph).graph
    weights = [numpy_helper.to_array(i) for i in graph.initializer]
    kernels = [w for w in weights if w.dtype == np.int8 and w.ndim == 4]
    assert len(kernels) == 18 and max(np.abs(w.astype(int)).max() for w in kernels) <= 64


@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no AVX512-BF16 or AMX instructions")
def test_bf16_finds_the_same_roofs_as_fp32(scene: Path, tmp_path: Path) -> None:
    fp32, fp32_mask = run(scene, tmp_path / "fp32", precision="fp32")
    bf16, bf16_mask = run(scene, tmp_path / "bf16", precision="bf16")
    assert (fp32_mask == bf16_mask).mean() >= 0.99
    assert len(fp32) == len(bf16) == len(ROOFS)


@pytest.mark.skipif(not NATIVE_BF16, reason="this CPU has no AVX512-BF16 or AMX instructions")
def test_auto_runs_bf16_here_with_fp32_outlines(scene: Path, tmp_path: Path) -> None:
    fp32, _ = run(scene, tmp_path / "fp32", precision="fp32")
    auto, _ = run(scene, tmp_path / "auto")
    assert auto.precision == "bf16" and ", bf16)" in auto.summary()
    assert len(auto) == len(fp32) == len(ROOFS)
    for outline in fp32.gdf.geometry:
        best = max(outline.intersection(o).area / outline.union(o).area for o in auto.gdf.geometry)
        assert best >= 0.99


@pytest.mark.skipif(NATIVE_BF16, reason="this CPU has native bfloat16 instructions")
def test_auto_runs_fp32_on_cpus_without_bf16(scene: Path, tmp_path: Path) -> None:
    auto, _ = run(scene, tmp_path / "auto")
    assert auto.precision == "fp32" and ", fp32)" in auto.summary()
    assert len(auto) == len(ROOFS)


def test_fp32_stays_a_choice_and_the_summary_names_it(scene: Path, tmp_path: Path) -> None:
    fp32, _ = run(scene, tmp_path / "fp32", precision="fp32")
    assert fp32.precision == "fp32" and fp32.summary().endswith("km²/s, fp32)")


@pytest.mark.parametrize(
    ("device", "flags", "cuda_bf16", "expected"),
    [
        ("cpu", {"avx2", "fma"}, False, "fp32"),  # AVX2 only (Zen 2/3, Haswell to Ice Lake)
        ("cpu", {"avx2", "avx512f", "avx512_vnni"}, False, "fp32"),  # AVX-512, no bfloat16
        ("cpu", {"avx2", "avx512f", "avx512_bf16"}, False, "bf16"),  # Zen 4, Cooper Lake
        ("cpu", {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, False, "bf16"),  # SPR
        ("cpu", {"amx_bf16"}, False, "bf16"),
        ("cpu", set(), False, "fp32"),  # no /proc/cpuinfo (macOS, Windows)
        ("cuda", set(), True, "bf16"),  # Ampere and later
        ("cuda", set(), False, "fp16"),  # Volta, Turing
        ("mps", {"avx512_bf16"}, False, "fp32"),
    ],
)
def test_auto_precision_by_device_and_cpu_features(
    device: str, flags: set[str], cuda_bf16: bool, expected: str
) -> None:
    assert auto_precision(device, flags, cuda_bf16) == expected


@pytest.mark.skipif(NATIVE_BF16, reason="this CPU has native bfloat16 instructions")
def test_bf16_is_refused_on_cpus_without_it() -> None:
    with pytest.raises(TGDCError, match=r"no native bfloat16 instructions.*use int8 or fp32"):
        Predictor(bright_roofs(), device="cpu", precision="bf16")


def test_precisions_each_device_runs() -> None:
    assert resolve_precision("auto", CPU) == ("bf16" if NATIVE_BF16 else "fp32")
    assert resolve_precision("int8", CPU) == "int8"
    with pytest.raises(TGDCError, match="fp16 runs on CUDA only"):
        resolve_precision("fp16", CPU)
    with pytest.raises(TGDCError, match="int8 runs on the CPU only"):
        resolve_precision("int8", torch.device("cuda"))
    with pytest.raises(TGDCError, match="'fp64' is not one of"):
        resolve_precision("fp64", CPU)


def test_every_precision_is_a_flag_of_every_predicting_command() -> None:
    parser = build_parser()
    for command in ("detect", "batch-detect", "scan"):
        for precision in PRECISIONS:
            args = parser.parse_args([command, "--precision", precision, *REQUIRED[command]])
            assert args.precision == precision


#: The other required arguments of each command.
REQUIRED = {
    "detect": ["--checkpoint", "m.ckpt", "--image", "s.tif", "--output-geojson", "d.geojson"],
    "batch-detect": ["--checkpoint", "m.ckpt", "--chips-dir", "c", "--output-geojson", "d.geojson"],
    "scan": ["--checkpoint", "m.ckpt", "--scenes-dir", "s", "--output-dir", "o"],
}
