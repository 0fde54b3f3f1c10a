"""Inputs that name the wrong thing or ask too much: one line each, before any work."""

from pathlib import Path

import pytest
import torch

from torchgeo_datacenters.cli import main

from .conftest import error_lines


def test_checkpoint_with_foreign_weights(
    checkpoint: Path, scene: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    content = torch.load(checkpoint, map_location="cpu", weights_only=True)
    content["state_dict"] = {f"backbone.{key}": v for key, v in content["state_dict"].items()}
    foreign = tmp_path / "foreign.ckpt"
    torch.save(content, foreign)
    geojson = tmp_path / "d.geojson"
    args = ["--checkpoint", foreign, "--image", scene, "--output-geojson", geojson]
    status = main(["detect", *map(str, args)])
    lines = error_lines(capfd.readouterr().err)
    assert status == 2
    assert len(lines) == 1 and len(lines[0]) < 400, lines
    assert str(foreign) in lines[0] and "weights" in lines[0] and "unet4" in lines[0]
    assert "tgdc train" not in lines[0]
    assert not geojson.exists()


def test_no_hint_names_a_command_that_does_not_exist(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {}}, other)
    status = main(
        ["detect", "--checkpoint", str(other), "--image", "x.tif", "--output-geojson", "d.geojson"]
    )
    line = error_lines(capfd.readouterr().err)[0]
    assert status == 2
    assert "tgdc train" not in line and "torchgeo fit --config" in line


def test_batch_that_cannot_fit_is_refused_with_its_memory(
    checkpoint: Path, scene: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    geojson = tmp_path / "d.geojson"
    args = ["--checkpoint", checkpoint, "--image", scene, "--output-geojson", geojson]
    status = main(["detect", *map(str, args), "--tile-size", "4096", "--batch-size", "10000"])
    lines = error_lines(capfd.readouterr().err)
    assert status == 2
    assert len(lines) == 1 and "GiB" in lines[0] and "--tile-size" in lines[0], lines
    assert not geojson.exists()
