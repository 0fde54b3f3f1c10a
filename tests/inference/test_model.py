from pathlib import Path

import pytest
import torch
from support.inference import MEAN, STD, save_checkpoint

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.model import ProbabilityModel, load_checkpoint


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
