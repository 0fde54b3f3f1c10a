"""Keep the C heap from holding on to large blocks that a long run frees.

glibc's ``malloc`` serves a block of at least its *mmap threshold* with a private
mapping, which goes back to the operating system when freed. It also raises that
threshold to the size of every such block freed (up to 32 MiB), after which blocks of
that size come from the heap of the thread that asks for them and stay resident once
freed. The predictor allocates and frees arrays one scene row band in size (14.7 MB at
16,384 px wide) in two threads, so the peak resident memory of a run then grows with the
scene's width well beyond the arrays alive at any time.
"""

import ctypes
import ctypes.util

#: ``mallopt`` parameter number of the mmap threshold (glibc's ``M_MMAP_THRESHOLD``).
M_MMAP_THRESHOLD = -3

#: Blocks of this many bytes or more are always mapped, and unmapped when freed. With it,
#: a 16,384² scene peaked at 1.17x the resident memory of a 4,096² one, against 1.25x
#: with glibc's moving threshold, at the same speed.
LARGE_BLOCK_BYTES = 4 * 1024 * 1024


def return_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Have the C heap map blocks of *threshold* bytes or more, and unmap them when freed.

    This fixes glibc's mmap threshold for the whole process (as the
    ``MALLOC_MMAP_THRESHOLD_`` environment variable would at start-up). Other C
    libraries are left as they are.

    Args:
        threshold: smallest block, in bytes, to map on its own.

    Returns:
        Whether the threshold was set (False where the C library is not glibc).

    Raises:
        ValueError: if *threshold* is not a positive number of bytes.
    """
    if not isinstance(threshold, int) or threshold <= 0:
        raise ValueError(f"threshold: {threshold!r} must be a positive number of bytes")
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
