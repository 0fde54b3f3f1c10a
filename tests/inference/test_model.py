import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from support.inference import MEAN, STD, save_checkpoint

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.model import ProbabilityModel, load_checkpoint
from torchgeo_datacenters.tasks import DataCenterSegmentation

#: Packages of training that prediction from a UNet4 checkpoint must not import.
TRAINING_PACKAGES = ("lightning", "timm", "torchmetrics", "segmentation_models_pytorch")

#: Imports what ``tgdc detect`` does, loads checkpoints (argv[3:]) and saves their
#: probabilities of the images in argv[1] to argv[2]; prints the top-level modules loaded.
FRESH_LOAD = textwrap.dedent(
    """
    import json, sys
    import torch
    import torchgeo_datacenters.commands.detect
    from torchgeo_datacenters.inference import Predictor
    from torchgeo_datacenters.inference.model import load_checkpoint

    images = torch.load(sys.argv[1], weights_only=True)
    probabilities = {}
    for path in sys.argv[3:]:
        model = load_checkpoint(path)
        assert not model.module.training
        with torch.inference_mode():
            probabilities[path] = model.probability_fn(images)
    torch.save(probabilities, sys.argv[2])
    print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
    """
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt", logit=-3.0)


def test_load_checkpoint(checkpoint: Path) -> None:
    model = load_checkpoint(checkpoint, device="cpu")
    assert model.mean == (MEAN,) * 4 and model.std == (STD,) * 4
    assert model.bands == ("R", "G", "B", "NIR")
    assert model.threshold == 0.5 and model.band_count == 4
    assert model.name == "model.ckpt"
    assert not model.module.training
    with torch.inference_mode():
        probabilities = model.probability_fn(torch.zeros(2, 4, 40, 56))
    assert probabilities.shape == (2, 40, 56)
    expected = torch.sigmoid(torch.tensor(-3.0))
    torch.testing.assert_close(probabilities, torch.full((2, 40, 56), expected.item()))


def test_a_missing_checkpoint_names_the_newest_one_training_wrote_near_it(
    checkpoint: Path, tmp_path: Path
) -> None:
    # A run started again in the same root writes version_1; the path of version_0 is empty.
    root = tmp_path / "round1" / "csv"
    (root / "version_0").mkdir(parents=True)
    (root / "version_1" / "checkpoints").mkdir(parents=True)
    written = root / "version_1" / "checkpoints" / "last.ckpt"
    written.write_bytes(checkpoint.read_bytes())
    (root / "version_1" / "checkpoints" / "best.ckpt").write_bytes(b"")
    os.utime(written, (2e9, 2e9))  # the newest
    given = root / "version_0" / "checkpoints" / "last.ckpt"
    with pytest.raises(TGDCError) as error:
        load_checkpoint(given)
    assert str(error.value) == (
        f"{given}: checkpoint file does not exist; the newest checkpoint near it is {written}"
    )
    # Following the advice loads it; a directory is named as one.
    assert load_checkpoint(written).threshold == 0.5
    with pytest.raises(TGDCError) as error:
        load_checkpoint(root)
    assert str(error.value) == f"{root}: is a directory; the newest checkpoint near it is {written}"
    # Nothing within four folders above: no checkpoint to name.
    far = tmp_path / "a" / "b" / "c" / "d" / "missing.ckpt"
    with pytest.raises(TGDCError) as error:
        load_checkpoint(far)
    assert str(error.value) == (
        f"{far}: checkpoint file does not exist; give the .ckpt file training wrote"
    )


def test_checkpoints_that_are_not_ours(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(TGDCError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.ckpt")
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(TGDCError, match=r"garbage\.ckpt: not a readable PyTorch checkpoint"):
        load_checkpoint(garbage)
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    with pytest.raises(TGDCError, match="truncated"):
        load_checkpoint(truncated)
    weights = tmp_path / "weights.pt"
    torch.save({"conv.weight": torch.zeros(3)}, weights)
    with pytest.raises(TGDCError, match="not a Lightning checkpoint"):
        load_checkpoint(weights)
    foreign = tmp_path / "foreign.ckpt"
    content = torch.load(checkpoint, weights_only=True)
    content["hyper_parameters"] = {
        key: value
        for key, value in content["hyper_parameters"].items()
        if key not in ("mean", "std")
    }
    torch.save(content, foreign)
    with pytest.raises(TGDCError, match=r"not a torchgeo-datacenters checkpoint.*mean, std"):
        load_checkpoint(foreign)


def test_probability_model_checks_its_statistics() -> None:
    def fn(images: torch.Tensor) -> torch.Tensor:
        return images[:, 0]

    with pytest.raises(TGDCError, match="one value per band"):
        ProbabilityModel(fn, [1.0, 2.0], [1.0])
    with pytest.raises(TGDCError, match="positive"):
        ProbabilityModel(fn, [1.0], [0.0])
    with pytest.raises(TGDCError, match="band names"):
        ProbabilityModel(fn, [1.0], [1.0], bands=["R", "G"])
    with pytest.raises(TGDCError, match="threshold"):
        ProbabilityModel(fn, [1.0], [1.0], threshold=2.0)
    assert ProbabilityModel(fn, [1, 2], [3, 4]).band_count == 2


def test_training_imagery_is_read_from_the_checkpoint_or_assumed_raw_naip(
    checkpoint: Path, tmp_path: Path
) -> None:
    # This checkpoint records its gsd but not dtype or value_range (older checkpoints).
    model = load_checkpoint(checkpoint)
    assert (model.dtype, model.value_range, model.gsd) == ("uint8", (0.0, 255.0), 0.6)
    saved = torch.load(checkpoint, weights_only=True)
    saved["hyper_parameters"]["gsd"] = 1.0
    torch.save(saved, tmp_path / "1m.ckpt")
    assert load_checkpoint(tmp_path / "1m.ckpt").gsd == 1.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("value_range", (255, 0), "value_range"), ("gsd", 0.0, "gsd"), ("dtype", "pixels", "dtype")],
)
def test_probability_model_checks_its_training_imagery(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(TGDCError, match=message):
        ProbabilityModel(lambda x: x, mean=[MEAN], std=[STD], **{field: value})


def test_unet4_checkpoint_loads_without_training_packages(tmp_path: Path) -> None:
    # Random weights (seeded), so the probabilities vary from pixel to pixel and class to class.
    torch.manual_seed(0)
    checkpoints = [
        save_checkpoint(tmp_path / f"{task}.ckpt", logit=None, task=task)
        for task in ("binary", "multiclass")
    ]
    images = 10 * torch.randn(2, 4, 40, 56, generator=torch.Generator().manual_seed(0))
    torch.save(images, tmp_path / "images.pt")
    out = tmp_path / "probabilities.pt"
    fresh = subprocess.run(
        [sys.executable, "-c", FRESH_LOAD, str(tmp_path / "images.pt"), str(out)]
        + [str(path) for path in checkpoints],
        capture_output=True,
        text=True,
    )
    assert fresh.returncode == 0, fresh.stderr
    loaded = set(json.loads(fresh.stdout.splitlines()[-1]))
    assert "torch" in loaded and "torchgeo_datacenters" in loaded
    assert loaded.isdisjoint(TRAINING_PACKAGES), sorted(loaded & set(TRAINING_PACKAGES))
    probabilities = torch.load(out, weights_only=True)
    for path in checkpoints:
        task = DataCenterSegmentation.load_from_checkpoint(path, weights_only=True).eval()
        with torch.inference_mode():
            expected = task.predict_probabilities(images)
        assert expected.shape == (2, 40, 56) and expected.std() > 1e-3
        torch.testing.assert_close(probabilities[str(path)], expected, rtol=0, atol=1e-6)


def test_unet4_checkpoint_errors_are_the_tasks(checkpoint: Path, tmp_path: Path) -> None:
    content = torch.load(checkpoint, weights_only=True)
    hparams, weights = content["hyper_parameters"], content["state_dict"]
    three_bands = {"in_channels": 3, "bands": None, "mean": [MEAN] * 3, "std": [STD] * 3}
    # The file, its hyperparameters and weights, and what loading it through the task raises.
    broken = {
        "missing-weight.ckpt": (hparams, dict(list(weights.items())[1:]), RuntimeError),
        "three-bands.ckpt": ({**hparams, **three_bands}, weights, RuntimeError),
        "no-datacenter.ckpt": ({**hparams, "class_names": ["a", "b"]}, weights, TGDCError),
    }
    for name, (changed_hparams, changed_weights, task_error) in broken.items():
        path = tmp_path / name
        torch.save(
            {**content, "hyper_parameters": changed_hparams, "state_dict": changed_weights}, path
        )
        with pytest.raises(task_error) as by_task:
            DataCenterSegmentation.load_from_checkpoint(path, weights_only=True)
        with pytest.raises(TGDCError) as by_loader:
            load_checkpoint(path)
        if task_error is TGDCError:
            assert str(by_loader.value) == str(by_task.value)
        else:
            assert str(by_loader.value).startswith(
                f"{path}: a Lightning checkpoint whose weights ({len(changed_weights)} tensors)"
                " are not those of the DataCenterSegmentation 'unet4' its hyperparameters name"
                " (RuntimeError: Error(s) in loading state_dict for UNet4"
            )
