"""Probabilities of the tiles the model ran on, kept on disk while a scene is predicted again.

A screened run (:mod:`.screen`) may predict a scene more than once, each time on more
tiles. :class:`TileCache` keeps the probabilities of every tile the model has run on in a
temporary file, so that each pass runs the model on the new tiles only and memory stays
independent of the scene's size. It writes with plain file writes, not a memory map, so a
full disk is an :class:`OSError` where it happens, not a crash.
"""

import os
import tempfile
from types import TracebackType

import numpy as np


class TileCache:
    """Tile probabilities by tile number, in a temporary file."""

    def __init__(self, tiles: int, tile_size: int) -> None:
        """Initialize a new TileCache.

        Args:
            tiles: number of tiles of the scene.
            tile_size: tile side, in pixels.
        """
        self._shape = (tile_size, tile_size)
        self._bytes = tile_size * tile_size * np.dtype(np.float32).itemsize
        # Held open for the cache's life and closed on exit (anonymous: nothing is left).
        self._file = tempfile.TemporaryFile(prefix="tgdc-tiles-")  # noqa: SIM115
        #: (tiles,) booleans: whether a tile's probabilities are held.
        self.held = np.zeros(tiles, bool)

    def put(self, tile: int, probabilities: np.ndarray) -> None:
        """Keep the probabilities of a tile.

        Args:
            tile: the tile's number.
            probabilities: (tile size, tile size) probabilities.

        Raises:
            OSError: if the file cannot be written (a full disk).
        """
        data = np.ascontiguousarray(probabilities, np.float32).tobytes()
        os.pwrite(self._file.fileno(), data, tile * self._bytes)
        self.held[tile] = True

    def get(self, tile: int) -> np.ndarray:
        """The probabilities kept for a tile.

        Args:
            tile: the tile's number.

        Returns:
            (tile size, tile size) float32 probabilities.

        Raises:
            KeyError: if none are held for the tile.
        """
        if not self.held[tile]:
            raise KeyError(f"tile {tile}: no probabilities held")
        data = os.pread(self._file.fileno(), self._bytes, tile * self._bytes)
        return np.frombuffer(data, np.float32).reshape(self._shape).copy()

    def __enter__(self) -> "TileCache":
        """Use the cache; its file is removed on exit."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Remove the cache's file."""
        self._file.close()
