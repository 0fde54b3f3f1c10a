import warnings
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torch import Tensor, nn

from torchgeo_datacenters.callbacks import EMAWeightAveraging

DECAY = 0.5


class _SizedInSetup(LightningModule):
    """One linear layer sized to two inputs in ``setup``, as the task sizes its network."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 1, bias=False)
        self.raw: list[Tensor] = []

    def setup(self, stage: str) -> None:
        if self.layer.in_features != 2:
            self.layer = nn.Linear(2, 1, bias=False)
            nn.init.zeros_(self.layer.weight)

    def training_step(self, batch: Tensor, batch_idx: int) -> Tensor:
        return (self.layer(batch) - 1).pow(2).mean()

    def on_train_batch_end(self, outputs: object, batch: Tensor, batch_idx: int) -> None:
        self.raw.append(self.layer.weight.detach().clone())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _fit(
    root: Path,
    epochs: int,
    resume: Path | None = None,
    callback: EMAWeightAveraging | None = None,
) -> _SizedInSetup:
    model = _SizedInSetup()
    data = torch.utils.data.DataLoader(torch.tensor([[1.0, 2.0], [2.0, 1.0]] * 3), batch_size=2)
    trainer = Trainer(
        max_epochs=epochs,
        default_root_dir=root,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback or EMAWeightAveraging(decay=DECAY)],
    )
    trainer.fit(model, train_dataloaders=data, ckpt_path=resume)
    return model


def _average(start: Tensor | None, raw: list[Tensor]) -> Tensor:
    """The exponential moving average at DECAY of *raw* after *start* (None: the first raw)."""
    average = raw[0] if start is None else DECAY * start + (1 - DECAY) * raw[0]
    for weight in raw[1:]:
        average = DECAY * average + (1 - DECAY) * weight
    return average


def test_checkpoints_hold_the_average_of_a_network_built_in_setup(tmp_path: Path) -> None:
    model = _fit(tmp_path, epochs=2)
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    saved = torch.load(checkpoint, weights_only=True)
    assert len(model.raw) == 6 and model.raw[0].shape == (1, 2)
    expected = _average(None, model.raw)
    torch.testing.assert_close(saved["state_dict"]["layer.weight"], expected)
    torch.testing.assert_close(saved["current_model_state"]["layer.weight"], model.raw[-1])
    assert not torch.allclose(expected, model.raw[-1])
    # After fit the task holds the average, as checkpoints do.
    torch.testing.assert_close(model.layer.weight.detach(), expected)


def test_each_fit_begins_its_own_average(tmp_path: Path) -> None:
    callback = EMAWeightAveraging(decay=DECAY)
    _fit(tmp_path / "first", epochs=2, callback=callback)
    second = _fit(tmp_path / "second", epochs=1, callback=callback)
    assert len(second.raw) == 3
    torch.testing.assert_close(second.layer.weight.detach(), _average(None, second.raw))


def test_a_resumed_fit_continues_the_raw_weights_and_the_average(tmp_path: Path) -> None:
    first = _fit(tmp_path / "first", epochs=1)
    (checkpoint,) = (tmp_path / "first").rglob("*.ckpt")
    resumed = _fit(tmp_path / "second", epochs=2, resume=checkpoint)
    assert len(resumed.raw) == 3
    # The first resumed step starts from the raw weights, not from the average.
    step = torch.tensor([[1.0, 2.0], [2.0, 1.0]])
    weight = first.raw[-1].clone().requires_grad_(True)
    loss = (step @ weight.T - 1).pow(2).mean()
    (gradient,) = torch.autograd.grad(loss, weight)
    torch.testing.assert_close(resumed.raw[0], weight.detach() - 0.1 * gradient)
    average = _average(_average(None, first.raw), resumed.raw)
    torch.testing.assert_close(resumed.layer.weight.detach(), average)


@pytest.mark.parametrize("stage", ["validate", "test"])
def test_a_checkpoint_validated_or_tested_is_the_average(tmp_path: Path, stage: str) -> None:
    fitted = _fit(tmp_path, epochs=1)
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    model = _SizedInSetup()
    seen: list[Tensor] = []
    model.validation_step = model.test_step = (  # type: ignore[method-assign]
        lambda batch, batch_idx: seen.append(model.layer.weight.detach().clone())
    )
    data = torch.utils.data.DataLoader(torch.ones(2, 2), batch_size=2)
    callback = EMAWeightAveraging(decay=DECAY)
    trainer = Trainer(default_root_dir=tmp_path, logger=False, callbacks=[callback])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*WeightAveraging")
        getattr(trainer, stage)(model, dataloaders=data, ckpt_path=checkpoint, verbose=False)
    torch.testing.assert_close(seen[0], _average(None, fitted.raw))
