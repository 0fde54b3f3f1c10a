import itertools

import pytest
import torch

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.tasks.schedules import adamw_schedule, warmup_cosine


def test_warmup_cosine_rises_then_decays_to_zero() -> None:
    factors = [warmup_cosine(step, total=105, warmup=5) for step in range(106)]
    assert factors[:6] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])
    assert all(a >= b for a, b in itertools.pairwise(factors[5:]))
    assert factors[55] == pytest.approx(0.5)
    assert factors[105] == pytest.approx(0.0, abs=1e-12)
    assert warmup_cosine(0, total=10, warmup=0) == 1.0


def schedule(lr_schedule: str, steps: float) -> dict:
    weight = torch.nn.Parameter(torch.zeros(1))
    configured = adamw_schedule(
        [weight],
        lr=0.1,
        lr_schedule=lr_schedule,
        warmup=0.2,
        patience=3,
        steps=steps,
        monitor="val_iou",
        mode="max",
    )
    assert isinstance(configured, dict)
    return configured


def test_cosine_warms_up_over_its_share_then_decays_per_step() -> None:
    configured = schedule("cosine", steps=10)
    optimizer, config = configured["optimizer"], configured["lr_scheduler"]
    assert config["interval"] == "step"
    rates = []
    for _ in range(11):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        config["scheduler"].step()
    # Two warm-up steps (a share of 0.2 of 10), the peak at step 2, 0 at the last.
    assert rates[:3] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1])
    assert rates[10] == pytest.approx(0.0, abs=1e-12)


def test_plateau_follows_the_monitored_metric() -> None:
    config = schedule("plateau", steps=float("inf"))["lr_scheduler"]
    assert isinstance(config["scheduler"], torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert config["monitor"] == "val_iou" and config["scheduler"].patience == 3
    assert config["scheduler"].mode == "max"


def test_cosine_needs_an_end() -> None:
    with pytest.raises(TGDCError, match="set trainer max_epochs or max_steps"):
        schedule("cosine", steps=float("inf"))
