import pytest
import torch

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.models import UNet4


def test_parameter_count() -> None:
    model = UNet4()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert 2_000_000 <= trainable <= 3_000_000
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize(("height", "width"), [(100, 130), (257, 255), (16, 24)])
def test_any_size_keeps_height_and_width(height: int, width: int) -> None:
    torch.manual_seed(0)
    model = UNet4(num_classes=3, base_channels=8).eval()
    x = torch.randn(1, 4, height, width)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, height, width)
    assert torch.isfinite(y).all()


def test_odd_size_is_the_top_left_of_the_padded_output() -> None:
    # A 45 x 46 image is handled as its 48 x 48 edge-replicated extension, cropped back
    # to the top-left: the logits stay on the pixels they belong to.
    torch.manual_seed(0)
    model = UNet4(base_channels=8).eval()
    x = torch.randn(1, 4, 45, 46)
    with torch.no_grad():
        odd = model(x)
        padded = model(torch.nn.functional.pad(x, (0, 2, 0, 3), mode="replicate"))
        shifted = model(torch.nn.functional.pad(x, (1, 1, 2, 1), mode="replicate"))
    assert torch.allclose(odd, padded[..., :45, :46], atol=1e-5)
    assert not torch.allclose(odd, shifted[..., :45, :46], atol=1e-3)


def test_gradients_reach_every_layer() -> None:
    torch.manual_seed(0)
    model = UNet4(base_channels=8)
    model(torch.randn(2, 4, 36, 28)).square().mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_channels_last_matches_contiguous() -> None:
    torch.manual_seed(0)
    model = UNet4(base_channels=8).eval()
    x = torch.randn(2, 4, 40, 52)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=torch.channels_last)
        result = model(x.to(memory_format=torch.channels_last))
    assert result.shape == expected.shape
    assert torch.allclose(result, expected, atol=1e-5)


def test_invalid_input() -> None:
    model = UNet4()
    with pytest.raises(TGDCError, match=r"\(B, 4, H, W\)"):
        model(torch.zeros(1, 3, 16, 16))
    with pytest.raises(TGDCError, match="positive"):
        UNet4(in_channels=0)
