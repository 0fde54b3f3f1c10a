import pytest
import torch

from torchgeo_datacenters.tasks.losses import LossSum, binary_cross_entropy


def test_bce_weights_the_data_center_pixels() -> None:
    logits, target = torch.zeros(1, 4, 4), torch.ones(1, 4, 4)
    plain = binary_cross_entropy("bce", None)(logits, target)
    weighted = binary_cross_entropy("bce", 3.0)(logits, target)
    assert plain == pytest.approx(torch.log(torch.tensor(2.0)).item())
    assert weighted == pytest.approx(3 * plain.item())


def test_bce_dice_is_the_sum_of_both() -> None:
    torch.manual_seed(0)
    logits, target = torch.randn(2, 8, 8), (torch.rand(2, 8, 8) > 0.5).float()
    both = binary_cross_entropy("bce+dice", 2.0)
    assert isinstance(both, LossSum)
    bce, dice = both.losses
    expected = bce(logits, target) + dice(logits, target)
    assert both(logits, target) == pytest.approx(expected.item())
