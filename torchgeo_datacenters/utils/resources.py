"""What a run's options ask of the machine, checked before anything is allocated."""

#: Bytes of a float32 value.
FLOAT32_BYTES = 4


def available_memory() -> int | None:
    """Memory the system can give without swapping, in bytes.

    Returns:
        ``MemAvailable`` of ``/proc/meminfo``, or None where it cannot be read.
    """
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def batch_bytes(batch_size: int, tile_size: int, bands: int) -> int:
    """Bytes of one batch of tiles as the model sees it: float32 tiles and probabilities.

    Args:
        batch_size: tiles per batch.
        tile_size: tile side, in pixels.
        bands: bands per tile.

    Returns:
        ``batch_size * tile_size² * (bands + 1) * 4``.
    """
    return batch_size * tile_size**2 * (bands + 1) * FLOAT32_BYTES


def format_bytes(count: float) -> str:
    """A byte count in GiB or MiB, e.g. ``"3.2 GiB"``."""
    if count >= 2**30:
        return f"{count / 2**30:.1f} GiB"
    return f"{count / 2**20:.1f} MiB"
