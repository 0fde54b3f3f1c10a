from pathlib import Path

import numpy as np
import pytest
import torch
from support.inference import MEAN, STD, write_scene
from torch.utils.data import BatchSampler, DataLoader

from torchgeo_datacenters.inference.batches import SharedBatches, as_read
from torchgeo_datacenters.inference.reader import TileReader
from torchgeo_datacenters.inference.scene import open_scene
from torchgeo_datacenters.inference.tiling import tile_offsets


@pytest.mark.parametrize("per_worker", [4, 1])
def test_workers_read_batches_into_shared_buffers(tmp_path: Path, per_worker: int) -> None:
    corner = (slice(0, 30), slice(0, 60))
    roofs = [(10, 20, 30, 40)]
    path = write_scene(tmp_path / "s.tif", 150, 170, roofs, nodata=0, nodata_region=corner)
    scene = open_scene(path, 4)
    offsets = tile_offsets(scene, 64, 16)
    batches = list(BatchSampler(range(len(offsets)), 3, drop_last=False))
    plain = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4, channels_last=True)
    shared = SharedBatches(1, per_worker, (3, 64, 64 * 4))
    reader = TileReader(scene, offsets, 64, [MEAN] * 4, [STD] * 4, shared=shared)
    assert shared.acquire() is None  # the main process reads into batches of its own
    with pytest.raises(ValueError, match="per_worker=0"):
        SharedBatches(1, 0, (3, 64, 64 * 4))
    loader = DataLoader(reader, sampler=batches, batch_size=None, collate_fn=as_read, num_workers=1)
    slots = []
    for indices, batch in zip(batches, loader, strict=True):
        expected = plain[indices]
        images = reader.images(batch)
        torch.testing.assert_close(images, expected["image"], rtol=0, atol=0)
        np.testing.assert_array_equal(batch["valid"], expected["valid"])
        assert ("image" in batch) == (batch["slot"] is None)
        slots.append(batch["slot"])
        if per_worker > 1:
            reader.release(batch)
    if per_worker > 1:
        # Buffers handed back are filled again: no batch needed a fresh tensor.
        assert None not in slots and set(slots) <= set(range(per_worker))
        assert not shared.busy.any()
    else:
        # The one buffer was never handed back: later batches came in tensors of their own.
        assert slots == [0] + [None] * (len(batches) - 1)
