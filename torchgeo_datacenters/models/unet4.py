"""UNet4: the seed project's small U-Net, trained from scratch on 4-band NAIP.

Four resolution levels of 32, 64, 128 and 256 channels (three 2x downsamplings),
each a pair of 3x3 convolution, BatchNorm and ReLU units; the decoder upsamples with
nearest-neighbour interpolation and a 3x3 convolution that halves the channels, joins
the skip connection and applies another pair of units. At the defaults the network has
2.14M trainable parameters (the seed project reported about 2.5M).

Inputs of any height and width work: they are padded by edge replication to a
multiple of 8 and the logits are cropped back. Every operation has a deterministic
CUDA backward, so ``Trainer(deterministic=True)`` works on a GPU too.
"""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import TGDCError

#: Number of resolution levels of the U-Net.
LEVELS = 4

#: Channels of the finest level when not given (the demo's and the seed project's).
BASE_CHANNELS = 32


def _conv_unit(in_channels: int, out_channels: int) -> list[nn.Module]:
    """3x3 convolution (no bias: BatchNorm follows), BatchNorm and ReLU."""
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two convolution units, the block of every U-Net level."""
    return nn.Sequential(
        *_conv_unit(in_channels, out_channels), *_conv_unit(out_channels, out_channels)
    )


class _Up(nn.Module):
    """Decoder level: upsample, halve the channels, join the skip, two conv units."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), *_conv_unit(in_channels, out_channels)
        )
        self.block = _double_conv(2 * out_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        return self.block(torch.cat([self.up(x), skip], dim=1))


class UNet4(nn.Module):
    """A 4-level U-Net with BatchNorm for binary or multiclass segmentation.

    Attributes:
        encoder: the encoder levels, finest first (the last is the bottleneck).
        decoder: the decoder levels, coarsest first.
        head: 1x1 convolution producing the logits.
    """

    def __init__(
        self, in_channels: int = 4, num_classes: int = 1, base_channels: int = BASE_CHANNELS
    ) -> None:
        """Initialize a new UNet4.

        Args:
            in_channels: number of input bands (4 for NAIP R, G, B, NIR).
            num_classes: number of output channels (1 for a binary data-center logit).
            base_channels: channels of the finest level; each coarser level doubles them.

        Raises:
            TGDCError: if a count is not positive.
        """
        if min(in_channels, num_classes, base_channels) <= 0:
            raise TGDCError(
                f"UNet4: in_channels ({in_channels}), num_classes ({num_classes}) and"
                f" base_channels ({base_channels}) must be positive"
            )
        super().__init__()
        widths = [base_channels * 2**level for level in range(LEVELS)]
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.pool = nn.MaxPool2d(2)
        self.encoder = nn.ModuleList(
            _double_conv(c_in, c_out)
            for c_in, c_out in zip([in_channels, *widths[:-1]], widths, strict=True)
        )
        self.decoder = nn.ModuleList(
            _Up(c_in, c_out) for c_in, c_out in zip(widths[:0:-1], widths[-2::-1], strict=True)
        )
        self.head = nn.Conv2d(widths[0], num_classes, kernel_size=1)

    @property
    def multiple(self) -> int:
        """Height and width are padded to a multiple of this many pixels."""
        return 2 ** (LEVELS - 1)

    def forward(self, x: Tensor) -> Tensor:
        """Compute logits.

        Args:
            x: normalised images (B, in_channels, H, W), any H and W.

        Returns:
            Logits (B, num_classes, H, W).

        Raises:
            TGDCError: if *x* is not 4-D or has the wrong number of channels.
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise TGDCError(
                f"UNet4: input of shape {tuple(x.shape)} is not (B, {self.in_channels}, H, W);"
                f" give images with {self.in_channels} bands"
            )
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.multiple, -width % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        skips = []
        for level, block in enumerate(self.encoder):
            x = block(self.pool(x) if level else x)
            skips.append(x)
        for up, skip in zip(self.decoder, skips[-2::-1], strict=True):
            x = up(x, skip)
        return self.head(x)[..., :height, :width]
