"""Batches of tiles: what they need of memory, how they are read and passed on.

Batch buffers live in shared memory, filled by DataLoader workers and read in place.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import get_worker_info

from ..errors import TGDCError, describe_os_error
from ..utils.resources import available_memory, batch_bytes, format_bytes
from .scene import Scene

#: Pixels per batch when no batch size is given: 16 tiles of 256 x 256 (as many whole
#: tiles as they hold).
PIXELS_PER_BATCH = 16 * 256 * 256

#: Shared batch buffers per reading worker: the DataLoader prefetches 2 batches per
#: worker while the model predicts a third, and a fourth spares a fresh allocation when
#: the model's loop frees its buffer just after the worker looks for one.
SHARED_BATCHES_PER_WORKER = 4

#: Batches alive at once in the worst case: two prefetched per worker, the shared
#: buffers, the one the model runs on (and its copy on the device).
BATCHES_IN_FLIGHT = 2 + SHARED_BATCHES_PER_WORKER + 2


class SharedBatches:
    """Batch buffers in shared memory, filled by DataLoader workers and read in place.

    A tensor returned by a worker is moved to a new shared-memory segment for every batch:
    a copy, page faults in both processes and a file-descriptor round trip. Workers instead
    fill one of a few buffers that the main process allocated before they started and pass
    on its number; the main process reads the batch where it lies and frees the buffer
    when it is done with it. Each worker has buffers of its own, so no two processes ever
    take the same one; a worker that finds all of its buffers taken returns a fresh tensor
    instead.
    """

    def __init__(self, workers: int, per_worker: int, shape: Sequence[int]) -> None:
        """Initialize new SharedBatches.

        Args:
            workers: number of DataLoader workers.
            per_worker: buffers per worker (the DataLoader's prefetch factor + 1 are in
                use at most: those prefetched and the one being predicted).
            shape: shape of one float32 buffer.

        Raises:
            ValueError: if there are no workers or no buffers per worker.
            RuntimeError: if the shared memory cannot be allocated.
        """
        if workers < 1 or per_worker < 1:
            raise ValueError(
                f"SharedBatches: workers={workers}, per_worker={per_worker}; both must be"
                " at least 1 (read in the main process without shared buffers instead)"
            )
        self.per_worker = per_worker
        self.buffers = torch.empty((workers * per_worker, *shape)).share_memory_()
        self.busy = torch.zeros(workers * per_worker, dtype=torch.bool).share_memory_()

    def acquire(self) -> int | None:
        """Take a free buffer of the calling worker.

        Returns:
            The buffer's number, or None in the main process or when all of the worker's
            buffers are taken.
        """
        worker = get_worker_info()
        if worker is None:
            return None
        first = worker.id * self.per_worker
        for slot in range(first, first + self.per_worker):
            if not self.busy[slot]:
                self.busy[slot] = True
                return slot
        return None

    def release(self, slot: int) -> None:
        """Free a buffer once its batch has been used.

        Args:
            slot: the buffer's number, from :meth:`acquire`.
        """
        self.busy[slot] = False


def check_batch_memory(batch_size: int, tile_size: int, bands: int, workers: int) -> None:
    """Refuse a tile size and batch whose batches cannot fit in memory.

    Args:
        batch_size: tiles per batch.
        tile_size: tile side, in pixels.
        bands: bands per tile.
        workers: reading workers (at least 1).

    Raises:
        TGDCError: if the batches in flight need more than the memory available.
    """
    needed = batch_bytes(batch_size, tile_size, bands) * BATCHES_IN_FLIGHT * workers
    available = available_memory()
    if available is not None and needed > available:
        raise TGDCError(
            f"tile_size {tile_size}, batch_size {batch_size}: the batches in flight would need"
            f" {format_bytes(needed)} of memory, {format_bytes(available)} are available;"
            " lower --tile-size or --batch-size"
        )


def read_faults_named(batches: Iterable[Any], scene: Scene) -> Iterator[Any]:
    """Yield batches, turning an error reading them into one naming the scene's files.

    Args:
        batches: batches read from *scene*.
        scene: the scene.

    Yields:
        The batches.

    Raises:
        TGDCError: if a batch cannot be read (a file truncated or corrupt past its
            header, a dropped connection), with GDAL's message.
    """
    try:
        yield from batches
    except OSError as error:
        files = ", ".join(str(path) for path in scene.files)
        raise TGDCError(
            f"{files}: cannot be read: {describe_os_error(error)}; the file may be truncated"
            " or corrupt: download or copy it again"
        ) from error


def as_read(batch: dict[str, Any]) -> dict[str, Any]:
    """Return a batch of tiles unchanged (the DataLoader's collate function).

    Args:
        batch: a batch from :class:`~.reader.TileReader`.

    Returns:
        The same batch.
    """
    return batch


def shared_batches(
    workers: int, device: torch.device, shape: Sequence[int]
) -> SharedBatches | None:
    """Allocate the shared buffers that reading workers fill with batches.

    Args:
        workers: number of DataLoader workers.
        device: where the model runs.
        shape: (tiles, tile side, tile side x bands) of one batch buffer.

    Returns:
        The buffers, or None without workers, on CUDA (where the DataLoader copies every
        batch to pinned memory for an overlapped transfer instead) or when shared memory
        is too small for them (workers then send every batch in a segment of its own).
    """
    if workers == 0 or device.type == "cuda":
        return None
    try:
        return SharedBatches(workers, SHARED_BATCHES_PER_WORKER, shape)
    except RuntimeError:
        return None
