"""Batch buffers in shared memory, filled by DataLoader workers and read in place."""

from collections.abc import Sequence

import torch
from torch.utils.data import get_worker_info


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
