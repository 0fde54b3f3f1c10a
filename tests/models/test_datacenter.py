import pytest
import torch

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.models import DataCenterNetwork
from torchgeo_datacenters.models.datacenter import (
    HARD_NEGATIVE_CLASS_NAMES,
    STATE_DICT_PREFIX,
    datacenter_probabilities,
    derived_hparams,
)
from torchgeo_datacenters.tasks import DataCenterSegmentation

#: What a checkpoint records about its input, beyond the network.
INPUT = {"mean": [120.0] * 3, "std": [50.0] * 3, "threshold": 0.5}


def test_checkpoint_hyperparameters_give_the_tasks_network() -> None:
    # LightningCLI saves the arguments as given: the derived values are derived again.
    given = {"model": "unet4", "task": "multiclass", "bands": ["R", "G", "NIR"], **INPUT}
    torch.manual_seed(0)
    task = DataCenterSegmentation(loss="ce", **given).eval()
    assert derived_hparams(given) == {
        "model": "unet4",
        "task": "multiclass",
        "class_names": list(HARD_NEGATIVE_CLASS_NAMES),
        "num_classes": 5,
        "in_channels": 3,
        "base_channels": 32,
    }
    assert {key: task.hparams[key] for key in derived_hparams(given)} == derived_hparams(given)
    state = {**task.state_dict(), "criterion.weight": torch.ones(5)}
    network = DataCenterNetwork.from_checkpoint({"hyper_parameters": given, "state_dict": state})
    assert not network.training
    assert network.model.state_dict().keys() == {
        key.removeprefix(STATE_DICT_PREFIX) for key in task.state_dict()
    }
    image = torch.randn(2, 3, 24, 40)
    with torch.inference_mode():
        assert torch.equal(network(image), task.predict_probabilities(image))
    with pytest.raises(
        TGDCError, match=r"image: has 4 band\(s\) but the model takes 3 \(R, G, NIR\)"
    ):
        network(torch.zeros(1, 4, 8, 8))


def test_probability_of_the_datacenter_class() -> None:
    logits = torch.tensor([[[[0.0]], [[2.0]], [[1.0]]]])  # (1, 3 classes, 1, 1)
    binary = datacenter_probabilities(logits, {"task": "binary"})
    assert binary.shape == (1, 1, 1) and binary.item() == pytest.approx(0.5)
    # Multiclass: the softmax share of 'datacenter', wherever it stands.
    names = {"task": "multiclass", "class_names": ["a", "b", "datacenter"]}
    shares = torch.tensor([0.0, 2.0, 1.0]).softmax(0)
    assert datacenter_probabilities(logits, names).item() == pytest.approx(shares[2].item())


def test_other_models_are_left_to_the_task() -> None:
    with pytest.raises(TGDCError, match="'unet' is built by the training task"):
        DataCenterNetwork({"model": "unet", **INPUT, "in_channels": 3})
    with pytest.raises(TGDCError, match="model: 'unet5' is not one of unet4, unet"):
        DataCenterNetwork({"model": "unet5", **INPUT, "in_channels": 3})


def test_a_narrower_network_is_described_by_its_checkpoint() -> None:
    # base_channels sets UNet4's width: half the width, about a quarter of the weights; a
    # checkpoint written before it could be chosen (no base_channels) is 32 wide.
    narrow = DataCenterSegmentation(base_channels=16, in_channels=3, **INPUT).eval()
    state = narrow.state_dict()
    hparams = dict(narrow.hparams)
    assert hparams["base_channels"] == 16
    network = DataCenterNetwork.from_checkpoint({"hyper_parameters": hparams, "state_dict": state})
    assert network.model.head.in_channels == 16
    image = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.equal(network(image), narrow.predict_probabilities(image))
    count = sum(p.numel() for p in narrow.model.parameters())
    wide = DataCenterSegmentation(in_channels=3, **INPUT)
    assert 3.5 < sum(p.numel() for p in wide.model.parameters()) / count < 4.5
    del hparams["base_channels"]
    assert DataCenterNetwork(hparams).model.head.in_channels == 32
    for width in (0, 2.5):
        with pytest.raises(TGDCError, match=rf"base_channels \({width}\) must be a positive whole"):
            DataCenterSegmentation(base_channels=width, **INPUT)  # type: ignore[arg-type]
