"""Batches of a scene's tiles, normalised for a model: the predictor's input side.

Invalid pixels (NaN as read, see :mod:`.scene`) become 0 after normalisation and are
marked invalid.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import TGDCError
from .batches import SharedBatches
from .scene import Scene


class TileReader(Dataset[dict[str, Any]]):
    """Batches of a scene's tiles, normalised for a model, as a map-style PyTorch dataset.

    Indexed by a list of tile numbers (use a :class:`~torch.utils.data.BatchSampler` and
    ``batch_size=None`` in the DataLoader), it reads each row of tiles in the batch as one
    strip and normalises the tiles straight into one batch tensor, so no per-tile tensors
    are stacked. The batch is built pixel-interleaved (channels-last); with
    ``channels_last`` it is handed over in that memory format, so neither the reading
    worker nor the model's process reorders it. With ``shared`` batches, workers read into
    shared buffers: take a batch's tiles with :meth:`images` and hand the buffer back
    with :meth:`release`.
    """

    def __init__(
        self,
        scene: Scene,
        offsets: Sequence[tuple[int, int]],
        tile_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        channels_last: bool = False,
        shared: SharedBatches | None = None,
        needed: np.ndarray | None = None,
    ) -> None:
        """Initialize a new TileReader.

        Args:
            scene: the scene.
            offsets: (row, column) of every tile, from :func:`.tiling.tile_offsets`.
            tile_size: tile side, in pixels.
            mean: per-band mean of raw pixel values.
            std: per-band standard deviation of raw pixel values.
            channels_last: whether batches are in channels-last memory format.
            shared: buffers for workers to read batches into, each of shape (batch size,
                tile_size, tile_size * bands).
            needed: (tiles,) booleans: the tiles whose pixels the model needs (None: all).
                Where the scene's valid pixels are known without their values
                (:attr:`.scene.Scene.validity_needs_pixels` false), a row of tiles none of
                which is needed is not read: its tiles' valid pixels are given, their
                pixels left unset.
        """
        self.scene = scene
        self.offsets = list(offsets)
        self.size = (tile_size, tile_size)
        # (raw - mean) / std as raw * scale + shift, over one pixel-interleaved tile row.
        scale = 1 / np.asarray(std, np.float64)
        shift = -np.asarray(mean, np.float64) * scale
        self.scale = torch.from_numpy(np.tile(scale, tile_size).astype(np.float32))
        self.shift = torch.from_numpy(np.tile(shift, tile_size).astype(np.float32))
        self.channels_last = channels_last
        self.shared = shared
        self.skippable = None
        if needed is not None and not scene.validity_needs_pixels:
            self.skippable = ~np.asarray(needed, bool)

    def __len__(self) -> int:
        """Number of tiles."""
        return len(self.offsets)

    def __getitem__(self, indices: Sequence[int]) -> dict[str, Any]:
        """Read a batch of tiles.

        Args:
            indices: tile numbers.

        Returns:
            ``error``, the one-line message of a read that failed, and ``index`` only,
            if one did; else ``valid`` (batch, height, width) bool array; ``index``
            (batch,) array of the tile numbers; ``slot``, the shared buffer holding the
            tiles (None if none does); ``image`` (batch, bands, height, width) float32
            tensor, normalised, 0 where invalid, if no shared buffer holds them
            (:meth:`images` returns them either way).
        """
        bands = self.scene.band_count
        height, width = self.size
        shared = self.shared
        slot = shared.acquire() if shared is not None else None
        if shared is None or slot is None:
            # Allocated by NumPy, which backs large arrays with transparent huge pages.
            shape = (len(indices), height, width * bands)
            image = torch.from_numpy(np.empty(shape, np.float32))
        else:
            image = shared.buffers[slot, : len(indices)]
        valid = np.empty((len(indices), height, width), bool)
        # One read per row of tiles in the batch: overlapping columns are read once.
        rows: dict[int, list[tuple[int, int]]] = {}
        for i, index in enumerate(indices):
            row_off, col_off = self.offsets[index]
            rows.setdefault(row_off, []).append((i, col_off))
        for row_off, members in rows.items():
            left = min(col for _, col in members)
            span = max(col for _, col in members) + width - left
            if self.skippable is not None and all(self.skippable[indices[i]] for i, _ in members):
                area = self.scene.valid_area(row_off, left, (height, span))
                for i, col_off in members:
                    valid[i] = area[:, col_off - left : col_off - left + width]
                continue
            try:
                strip = self.scene.read(row_off, left, (height, span))
            except TGDCError as error:
                # Handed over as a batch: a worker's exception would reach the main
                # process as a traceback, not the one-line message.
                if shared is not None and slot is not None:
                    shared.release(slot)
                return {"error": str(error), "index": np.asarray(indices, np.intp), "slot": None}
            strip_valid = self.scene.valid(strip, row_off, left)
            pixels = torch.from_numpy(strip.reshape(height, span * bands))
            for i, col_off in members:
                start = col_off - left
                tile = pixels[:, start * bands : (start + width) * bands]
                torch.addcmul(self.shift, tile, self.scale, out=image[i])
                valid[i] = strip_valid[:, start : start + width]
        if not valid.all():
            image.view(len(indices), height, width, bands)[torch.from_numpy(~valid)] = 0
        batch: dict[str, Any] = {
            "valid": valid,
            "index": np.asarray(indices, dtype=np.intp),
            "slot": slot,
        }
        if slot is None:
            batch["image"] = self._layout(image)
        return batch

    def images(self, batch: dict[str, Any]) -> torch.Tensor:
        """The normalised tiles of a batch, wherever they were read to.

        Args:
            batch: a batch from this reader.

        Returns:
            A (batch, bands, height, width) float32 tensor.
        """
        if batch["slot"] is None or self.shared is None:
            return batch["image"]
        return self._layout(self.shared.buffers[batch["slot"], : len(batch["index"])])

    def release(self, batch: dict[str, Any]) -> None:
        """Hand a batch's shared buffer back to its worker (the tiles are not used again).

        Args:
            batch: a batch from this reader.
        """
        if batch["slot"] is not None and self.shared is not None:
            self.shared.release(batch["slot"])

    def _layout(self, image: torch.Tensor) -> torch.Tensor:
        """View pixel-interleaved tiles as a (batch, bands, height, width) tensor.

        Args:
            image: (batch, height, width * bands) tiles.

        Returns:
            The tiles, in channels-last memory format if the reader uses it.
        """
        height, width = self.size
        image = image.view(len(image), height, width, self.scene.band_count)
        image = image.permute(0, 3, 1, 2)
        return image if self.channels_last else image.contiguous()
