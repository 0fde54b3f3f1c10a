"""Tests of ONNX export and of predicting through ONNX Runtime."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import rasterio
import torch
from support.inference import GSD, MEAN, STD, save_random_checkpoint, write_scene

from torchgeo_datacenters.checkpoint import ModelContract
from torchgeo_datacenters.cli import main
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.inference.model import load_checkpoint
from torchgeo_datacenters.inference.onnx import (
    METADATA_KEYS,
    ONNX_GRAPH_BYTES,
    PAD_MULTIPLE_KEY,
    load_onnx,
    onnx_bytes,
    read_metadata,
)
from torchgeo_datacenters.naip import DATACENTER_CLASS

ROOFS = [(20, 30, 40, 50), (90, 120, 60, 45)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real UNet4 checkpoint with random weights and a sharp head (few pixels near 0.5)."""
    return save_random_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt")


@pytest.fixture(scope="module")
def onnx_file(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("onnx")
    assert (
        main(["export", "--checkpoint", str(checkpoint), "--onnx", str(directory / "m.onnx")]) == 0
    )
    return directory / "m.onnx"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(tmp_path_factory.mktemp("scene") / "scene.tif", 180, 200, ROOFS)


def test_metadata_holds_the_checkpoint_facts(checkpoint: Path, onnx_file: Path) -> None:
    hparams = torch.load(checkpoint, weights_only=True)["hyper_parameters"]
    metadata = read_metadata(onnx_file)
    assert metadata["bands"] == ["R", "G", "B", "NIR"]
    assert metadata["gsd"] == GSD
    assert metadata["mean"] == [MEAN] * 4 and metadata["std"] == [STD] * 4
    assert metadata["patch_size"] == 256
    assert metadata["threshold"] == hparams["threshold"]
    # As Deepness reads them: index to name.
    names = hparams["class_names"]
    assert metadata["class_names"] == {str(i): name for i, name in enumerate(names)}
    assert ModelContract.from_hparams(metadata).class_names == tuple(names)
    assert metadata[PAD_MULTIPLE_KEY] == 8
    assert set(metadata) <= {*METADATA_KEYS, PAD_MULTIPLE_KEY, *DEEPNESS_KEYS}


#: The keys the Deepness QGIS plugin reads of a segmentation model
#: (PUTvision/qgis-plugin-deepness, processing/models/model_base.py).
DEEPNESS_KEYS = (
    "model_type",
    "class_names",
    "resolution",
    "tile_size",
    "tiles_overlap",
    "standardization_mean",
    "standardization_std",
    "seg_thresh",
)


def test_deepness_reads_the_checkpoint_facts(checkpoint: Path, onnx_file: Path) -> None:
    """Read back with onnx as Deepness does: JSON values of metadata_props."""
    hparams = torch.load(checkpoint, weights_only=True)["hyper_parameters"]
    graph = onnx.load(str(onnx_file))
    props = {prop.key: json.loads(prop.value) for prop in graph.metadata_props}
    assert props["model_type"] == "Segmentor"
    # One output channel: Deepness's class 1 over background 0.
    assert props["class_names"] == {"0": "background", "1": DATACENTER_CLASS}
    (output,) = graph.graph.output
    assert output.type.tensor_type.shape.dim[1].dim_value == 1
    assert props["resolution"] == pytest.approx(hparams["gsd"] * 100)  # cm per pixel
    assert props["tile_size"] == hparams["patch_size"] == 256
    # The predictor's 32 px overlap, in percent of the tile (Deepness takes an integer).
    assert props["tiles_overlap"] == round(100 * 32 / 256) == 12
    # Deepness divides pixel values by 255, then standardises: (x / 255 - m) / s must be
    # the checkpoint's (x - mean) / std.
    assert props["standardization_mean"] == pytest.approx([m / 255 for m in hparams["mean"]])
    assert props["standardization_std"] == pytest.approx([s / 255 for s in hparams["std"]])
    assert props["seg_thresh"] == hparams["threshold"]


@pytest.mark.parametrize("shape", [(3, 4, 64, 64), (1, 4, 50, 77)])
def test_any_batch_and_tile_size_matches_torch(
    checkpoint: Path, onnx_file: Path, shape: tuple[int, ...]
) -> None:
    torch_model, onnx_model = load_checkpoint(checkpoint), load_onnx(onnx_file)
    images = torch.randn(*shape)
    with torch.inference_mode():
        expected = torch_model.probability_fn(images)
    actual = onnx_model.probability_fn(images)
    assert actual.shape == expected.shape == (shape[0], *shape[2:])
    assert torch.allclose(actual, expected, atol=1e-4)


def test_detect_through_onnx_runtime_matches_torch(
    checkpoint: Path, onnx_file: Path, scene: Path, tmp_path: Path
) -> None:
    results = {}
    for model in (checkpoint, onnx_file):
        out = tmp_path / model.suffix[1:]
        out.mkdir()
        # Tile 100 is no multiple of the U-Net's 8: the ONNX runner pads and crops.
        predictor = Predictor(
            model,
            device="cpu",
            tile_size=100,
            overlap=16,
            min_area=0.0,
            progress=False,
            precision="fp32",
        )
        detections = predictor.predict(
            scene, output_probabilities=out / "p.tif", output_geojson=out / "d.geojson"
        )
        with rasterio.open(out / "p.tif") as src:
            results[model.suffix] = detections, src.read(1)
    (torch_detections, torch_probs), (onnx_detections, onnx_probs) = results.values()
    assert np.nanmax(np.abs(torch_probs - onnx_probs)) <= 1e-4
    assert 0 < len(torch_detections) == len(onnx_detections)
    torch_gdf, onnx_gdf = torch_detections.gdf, onnx_detections.gdf
    assert torch_gdf.geometry.geom_equals(onnx_gdf.geometry).all()
    assert np.allclose(torch_gdf["area_m2"], onnx_gdf["area_m2"])


def test_an_onnx_model_runs_and_reports_fp32_and_refuses_bf16(
    onnx_file: Path, scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # auto is fp32 whatever the CPU: ONNX Runtime runs the graph as exported.
    predictor = Predictor(onnx_file, device="cpu", progress=False)
    assert predictor.precision == "fp32"
    assert Predictor(load_onnx(onnx_file), device="cpu", progress=False).precision == "fp32"
    out = tmp_path / "d.geojson"
    args = ["detect", "--checkpoint", str(onnx_file), "--image", str(scene)]
    assert main([*args, "--output-geojson", str(out), "--min-area", "0"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(", fp32)")
    # bf16 or fp16 asked for: refused, with advice that works.
    for precision in ("bf16", "fp16"):
        with pytest.raises(TGDCError, match=f"precision: {precision} runs a .ckpt"):
            Predictor(onnx_file, device="cpu", precision=precision, progress=False)
    assert (
        main([*args, "--output-geojson", str(tmp_path / "b.geojson"), "--precision", "bf16"]) == 2
    )
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tgdc detect: error: ") and "use fp32 or int8" in line
    assert not (tmp_path / "b.geojson").exists()
    assert Predictor(onnx_file, device="cpu", precision="int8", progress=False).precision == "int8"


def test_the_file_fits_the_space_checked_before_the_export(
    checkpoint: Path, onnx_file: Path
) -> None:
    # The weights are stored whole; the graph and metadata take less than the allowance.
    module = load_checkpoint(checkpoint, device="cpu").module
    assert module is not None
    estimate = onnx_bytes(module)
    size = onnx_file.stat().st_size
    assert size <= estimate <= size + 2 * ONNX_GRAPH_BYTES


def test_export_refuses_bad_outputs_and_writes_nothing(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    existing = tmp_path / "m.onnx"
    existing.write_bytes(b"keep")
    for target in (existing, tmp_path / "m.pt"):
        args = ["export", "--checkpoint", str(checkpoint), "--onnx", str(target)]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("tgdc export: error:") and "\n" not in err
    assert existing.read_bytes() == b"keep"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["m.onnx"]


def test_files_that_are_not_exported_models_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(TGDCError, match="not a readable ONNX model"):
        load_onnx(broken)
    with pytest.raises(TGDCError, match="does not exist"):
        load_onnx(tmp_path / "missing.onnx")
    bare = tmp_path / "bare.onnx"
    with pytest.warns(DeprecationWarning):
        torch.onnx.export(torch.nn.Conv2d(4, 1, 1), (torch.zeros(1, 4, 8, 8),), bare, dynamo=False)
    with pytest.raises(TGDCError, match="metadata lacks mean, std, threshold"):
        Predictor(bare, device="cpu")
