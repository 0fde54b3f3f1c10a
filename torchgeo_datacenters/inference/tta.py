"""Test-time augmentation: average a model's probabilities over flips and rotations.

``d4`` runs the model on the 8 symmetries of the square (4 rotations by 90°, each with
and without a flip), turns every probability map back to the tile's orientation and
averages them, before the tiles are stitched. It costs about 8 times the model's time.
"""

import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor

from ..errors import TGDCError
from ..options import TTA_MODES
from .model import ProbabilityModel


def d4_average(probability_fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """Wrap a probability function to average it over the 8 symmetries of the square.

    Args:
        probability_fn: maps (B, C, H, W) images to (B, H, W) probabilities.

    Returns:
        A function of the same shapes returning the mean, over the 8 rotations and
        flips of its input, of *probability_fn*'s output turned back.
    """

    def averaged(images: Tensor) -> Tensor:
        total: Tensor | None = None
        for turns in range(4):
            rotated = torch.rot90(images, turns, dims=(2, 3))
            for flip in (False, True):
                view = rotated.flip(3) if flip else rotated
                probabilities = probability_fn(view).float()
                if flip:
                    probabilities = probabilities.flip(2)
                probabilities = torch.rot90(probabilities, -turns, dims=(1, 2))
                total = probabilities if total is None else total + probabilities
        assert total is not None
        return total / 8

    return averaged


def with_tta(model: ProbabilityModel, tta: str) -> ProbabilityModel:
    """A model with test-time augmentation.

    Args:
        model: the model.
        tta: one of :data:`TTA_MODES`.

    Returns:
        The model itself for ``none``; for ``d4``, the model averaging its
        probabilities with :func:`d4_average`.

    Raises:
        TGDCError: if *tta* is unknown.
    """
    check_tta(tta)
    if tta == "none":
        return model
    return dataclasses.replace(model, probability_fn=d4_average(model.probability_fn))


def check_tta(tta: str) -> str:
    """Check a test-time augmentation mode.

    Args:
        tta: the mode.

    Returns:
        The mode.

    Raises:
        TGDCError: if it is not one of :data:`TTA_MODES`.
    """
    if tta not in TTA_MODES:
        raise TGDCError(f"tta: {tta!r} is not one of {', '.join(TTA_MODES)}")
    return tta
