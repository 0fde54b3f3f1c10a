"""Tiles of a scene: checked sizes and their layout on the scene's grid.

Tiles are laid out on the scene's north-up pixel grid with a stride of tile - overlap;
tiles that would stick out of a scene at least one tile wide are moved inside it, so tiles
only reach past the border (and are padded) when the scene is smaller than a tile.

Without a tile size (``tile_size=None``, the predictor's default) the side is chosen per
scene from :data:`~torchgeo_datacenters.options.AUTO_TILE_SIZES`, since every pixel a
tile holds is a pixel the model computes: the smallest side whose tiles hold at most
:data:`~torchgeo_datacenters.options.AUTO_TILE_SLACK` more pixels than the fewest. A
1024² scene takes 4 x 4 tiles of 288 px (1.27x its pixels) instead of 5 x 5 of 256 px
(1.56x), a 512² chip 2 x 2 of 288 px (1.27x) instead of 3 x 3 of 256 px (2.25x); a
16384² scene keeps 256 px tiles (1.30x), which 320 px tiles would bring to 1.24x only.
"""

import math
import warnings
from typing import NamedTuple

import numpy as np
import shapely
from rasterio import windows
from rasterio.windows import Window

from ..grid import Grid
from ..options import AUTO_TILE_SIZES, AUTO_TILE_SLACK, PredictorOptions
from .scene import Scene

#: Tiles are clamped to the scene rounded up to a multiple of this many pixels (the
#: downsampling factor models need).
TILE_MULTIPLE = 32


class TileLayout(NamedTuple):
    """The tiles of one scene."""

    tile_size: int
    """Side of the tiles, in pixels."""
    overlap: int
    """Overlap between neighbouring tiles, in pixels."""
    offsets: list[tuple[int, int]]
    """(row, column) of every tile's top-left corner on the scene grid, in row order."""


def check_tiling(tile_size: int | None, overlap: int) -> None:
    """Check a tile size and overlap by the limits of the predictor's options.

    Args:
        tile_size: tile side, in pixels, or None for the automatic tiling.
        overlap: overlap between neighbouring tiles, in pixels.

    Raises:
        TGDCError: if the tile size is not a whole number from 1 to
            :data:`~torchgeo_datacenters.options.MAX_TILE_SIZE`, the overlap negative, or
            the overlap not smaller than the tile (than the smallest automatic tile).
    """
    PredictorOptions(tile_size=tile_size, overlap=overlap)


def scene_tiling(grid: Grid, tile_size: int | None, overlap: int) -> tuple[int, int]:
    """Choose the tiles of a scene: no tile larger than the scene needs.

    Args:
        grid: the scene's grid.
        tile_size: tile side asked for, in pixels, or None: the smallest side of
            :data:`~torchgeo_datacenters.options.AUTO_TILE_SIZES` whose tiles hold at
            most :data:`~torchgeo_datacenters.options.AUTO_TILE_SLACK` more pixels than
            the fewest.
        overlap: overlap asked for, in pixels.

    Returns:
        (tile side, overlap): the tile side at most the scene's larger side rounded up to
        :data:`TILE_MULTIPLE`, the overlap smaller than it.

    Raises:
        TGDCError: see :func:`check_tiling`.
    """
    check_tiling(tile_size, overlap)
    if tile_size is None:
        held = {side: tiled_pixels(grid, side, overlap) for side in AUTO_TILE_SIZES}
        fewest = min(held.values())
        tile_size = min(
            side for side, pixels in held.items() if pixels <= fewest * (1 + AUTO_TILE_SLACK)
        )
    tile, used = _clamped(grid, tile_size, overlap)
    if used < overlap and tile == tile_size:
        warnings.warn(
            f"--overlap {overlap} px is more than half the {tile} px tile: it would take"
            f" {_tile_count(grid, tile, overlap):,} tiles; {used} px overlap is used"
            f" ({_tile_count(grid, tile, used):,} tiles)",
            UserWarning,
            stacklevel=2,
        )
    return tile, used


def tiled_pixels(grid: Grid, tile_size: int, overlap: int) -> int:
    """Pixels that the tiles of a scene hold together, each counted once per tile.

    Args:
        grid: the scene's grid.
        tile_size: tile side asked for, in pixels.
        overlap: overlap asked for, in pixels.

    Returns:
        The tiles' pixels with the tile clamped to the scene as :func:`scene_tiling`
        clamps it (tiles that miss every raster of a mosaic counted too).
    """
    tile, used = _clamped(grid, tile_size, overlap)
    return _tile_count(grid, tile, used) * tile**2


def _clamped(grid: Grid, tile_size: int, overlap: int) -> tuple[int, int]:
    """Clamp a tile to a scene: (tile side, overlap), as :func:`scene_tiling` returns."""
    needed = math.ceil(max(grid.height, grid.width) / TILE_MULTIPLE) * TILE_MULTIPLE
    tile = min(tile_size, needed)
    return tile, min(overlap, tile // 2)


def _tile_count(grid: Grid, tile: int, overlap: int) -> int:
    """Tiles covering *grid* with the given side and overlap (as :func:`tile_offsets`)."""
    stride = tile - overlap
    return len(tile_starts(grid.height, tile, stride)) * len(tile_starts(grid.width, tile, stride))


def tile_starts(length: int, tile_size: int, stride: int) -> list[int]:
    """Offsets of tiles along one side of a scene.

    Args:
        length: the scene's side, in pixels.
        tile_size: tile side, in pixels.
        stride: step between tiles, in pixels.

    Returns:
        Offsets every *stride* with the last tile moved inside the scene, or one tile
        centred on a scene shorter than a tile.
    """
    if length <= tile_size:
        return [-((tile_size - length) // 2)]
    return [*range(0, length - tile_size, stride), length - tile_size]


def tile_offsets(scene: Scene, tile_size: int, overlap: int) -> list[tuple[int, int]]:
    """Lay out the tiles of a scene on its grid (stride = tile - overlap).

    Args:
        scene: the scene.
        tile_size: tile side, in pixels.
        overlap: overlap between neighbouring tiles, in pixels.

    Returns:
        The (row, column) offsets of the tiles' top-left corners on the scene grid, in
        row order, without tiles that miss every raster of a mosaic. Tiles are moved inside
        the scene where it is at least a tile wide.

    Raises:
        TGDCError: see :func:`check_tiling`.
    """
    check_tiling(tile_size, overlap)
    stride = tile_size - overlap
    rows = tile_starts(scene.grid.height, tile_size, stride)
    cols = tile_starts(scene.grid.width, tile_size, stride)
    offsets = [(row, col) for row in rows for col in cols]
    if scene.footprint is not None:
        t = scene.grid.transform
        boxes = [
            shapely.box(*windows.bounds(Window(col, row, tile_size, tile_size), t))
            for row, col in offsets
        ]
        hits = shapely.intersects(np.array(boxes), scene.footprint)
        offsets = [offset for offset, hit in zip(offsets, hits, strict=True) if hit]
    return offsets


def scene_layout(scene: Scene, tile_size: int | None, overlap: int) -> TileLayout:
    """Lay out the tiles of a scene.

    Args:
        scene: the scene.
        tile_size: tile side in pixels (None: chosen for the scene, see :func:`scene_tiling`).
        overlap: overlap between neighbouring tiles, in pixels.

    Returns:
        The tile side and overlap (pixels) used on it, and its tiles' offsets.
    """
    tile_size, overlap = scene_tiling(scene.grid, tile_size, overlap)
    return TileLayout(tile_size, overlap, tile_offsets(scene, tile_size, overlap))
