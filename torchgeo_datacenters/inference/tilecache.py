"""Probabilities of the tiles the model ran on, kept on disk while a scene is predicted again.

A screened run (:mod:`.screen`) may predict a scene more than once, each time on more
tiles. :class:`TileCache` keeps the probabilities of every tile the model has run on in a
temporary file, so that each pass runs the model on the new tiles only and memory stays
independent of the scene's size.
"""

import tempfile
from pathlib import Path
from types import TracebackType

import numpy as np


class TileCache:
    """Tile probabilities by tile number, in a temporary memory-mapped file."""

    def __init__(self, tiles: int, tile_size: int) -> None:
        """Initialize a new TileCache.

        Args:
            tiles: number of tiles of the scene.
            tile_size: tile side, in pixels.
        """
        self._directory = tempfile.TemporaryDirectory(prefix="tgdc-tiles-")
        self._array = np.lib.format.open_memmap(
            Path(self._directory.name) / "tiles.npy",
            mode="w+",
            dtype=np.float32,
            shape=(tiles, tile_size, tile_size),
        )
        #: (tiles,) booleans: whether a tile's probabilities are held.
        self.held = np.zeros(tiles, bool)

    def put(self, tile: int, probabilities: np.ndarray) -> None:
        """Keep the probabilities of a tile.

        Args:
            tile: the tile's number.
            probabilities: (tile size, tile size) float32 probabilities.
        """
        self._array[tile] = probabilities
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
        return np.array(self._array[tile])

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
        del self._array
        self._directory.cleanup()
