"""Blend overlapping tile probabilities into a seamless scene, one band of rows at a time.

Every tile's probabilities are weighted by a window that is 1 in the tile's middle and
tapers along each edge that cuts into the scene: zero over an outer margin of a quarter of
the overlap, then a raised-cosine (Hann) ramp over the middle half of the overlap. Where
two tiles overlap by exactly the overlap their ramps sum to one, and the blend is
normalised by the sum of weights anyway, so no seam shows. Edges on the scene border are
not tapered: a tile there sees the same zero padding as a pass over the whole scene, so a
building cut by the border is weighted like one in the middle.

The zero margin makes stitching exact for fully convolutional models whose receptive
field reaches no more than a quarter of the overlap from a pixel: the blended probability
then equals a single forward pass over the whole scene.

:class:`Stitcher` keeps only one tile-height band of weighted sums in memory. Tiles must
arrive in row order (as the predictor's tile grid yields them); rows that no later tile
can touch are normalised and handed to a sink, so memory depends on tile size and scene
width, never on scene height.

A tile the model did not run on (a screening pass ruled it out) covers its valid pixels
with probability 0 but takes no part in the blend: a pixel that a predicted tile also
covers gets the predicted tiles' blend alone, so a building at the edge of the screened
area is not faded by the zeros of the tiles beside it.
"""

import functools
from collections.abc import Callable

import numpy as np

from ..errors import TGDCError

#: Called with the first row of a finished band and its probabilities, shaped
#: (rows, scene width), float32, NaN where no valid pixel was predicted.
BandSink = Callable[[int, np.ndarray], None]


def ramp(distance: np.ndarray, overlap: int) -> np.ndarray:
    """Weight of pixels by their distance from a tile edge that cuts into the scene.

    Args:
        distance: distances from the edge to pixel centres, in pixels (0.5 for the
            first pixel).
        overlap: overlap between neighbouring tiles, in pixels.

    Returns:
        Weights in [0, 1]: 0 within ``overlap // 4`` pixels of the edge, a raised-cosine
        ramp up to ``overlap - overlap // 4`` and 1 beyond. For two tiles overlapping by
        exactly *overlap*, the weights of a pixel sum to 1.
    """
    distance = np.asarray(distance, dtype=np.float64)
    if overlap <= 0:
        return np.ones_like(distance)
    margin = overlap // 4
    t = np.clip((distance - margin) / (overlap - 2 * margin), 0.0, 1.0)
    return np.sin(np.pi / 2 * t) ** 2


@functools.lru_cache(maxsize=64)
def blend_window(
    height: int, width: int, overlap: int, inner: tuple[bool, bool, bool, bool]
) -> np.ndarray:
    """Blending weights of one tile.

    Args:
        height: tile height, in pixels.
        width: tile width, in pixels.
        overlap: overlap between neighbouring tiles, in pixels.
        inner: whether the top, bottom, left and right edges of the tile lie inside the
            scene (tapered) rather than on or beyond its border (not tapered).

    Returns:
        A read-only (height, width) float32 array of weights in [0, 1].
    """
    top, bottom, left, right = inner
    rows = np.ones(height)
    cols = np.ones(width)
    if top:
        rows *= ramp(np.arange(height) + 0.5, overlap)
    if bottom:
        rows *= ramp(height - np.arange(height) - 0.5, overlap)
    if left:
        cols *= ramp(np.arange(width) + 0.5, overlap)
    if right:
        cols *= ramp(width - np.arange(width) - 0.5, overlap)
    window = np.outer(rows, cols).astype(np.float32)
    window.flags.writeable = False
    return window


class Stitcher:
    """Accumulate weighted tile probabilities and emit finished bands of scene rows."""

    def __init__(
        self,
        height: int,
        width: int,
        tile_size: int | tuple[int, int],
        overlap: int,
        sink: BandSink,
    ) -> None:
        """Initialize a new Stitcher.

        Args:
            height: scene height, in pixels.
            width: scene width, in pixels.
            tile_size: tile side, or (height, width), in pixels.
            overlap: overlap between neighbouring tiles, in pixels.
            sink: receives every finished band of rows, top to bottom, each row once.

        Raises:
            TGDCError: if a size is not positive or the overlap is negative.
        """
        tile_h, tile_w = (tile_size, tile_size) if isinstance(tile_size, int) else tile_size
        if min(height, width, tile_h, tile_w) <= 0:
            raise TGDCError(
                f"scene {height}x{width} px, tile {tile_h}x{tile_w} px: sizes must be positive"
            )
        if overlap < 0:
            raise TGDCError(f"overlap: {overlap} px is negative; give 0 or more pixels")
        self.height, self.width = height, width
        self.tile_h, self.tile_w = tile_h, tile_w
        self.overlap = overlap
        self.sink = sink
        self.top = 0
        self._sum = np.zeros((tile_h, width), np.float32)
        self._weight = np.zeros((tile_h, width), np.float32)
        self._covered = np.zeros((tile_h, width), bool)
        self._scratch = np.empty((tile_h, tile_w), np.float32)

    def add(
        self, probabilities: np.ndarray | None, valid: np.ndarray, row_off: int, col_off: int
    ) -> None:
        """Blend one tile into the scene.

        Args:
            probabilities: (tile height, tile width) probabilities of the tile; None for a
                tile the model did not run on (probability 0 where no predicted tile
                covers a pixel).
            valid: (tile height, tile width) booleans, false where the input is nodata.
            row_off: scene row of the tile's top edge (negative if it starts above).
            col_off: scene column of the tile's left edge (negative if it starts left).

        Raises:
            ValueError: if the tile starts above a row already emitted (tiles must come
                in row order) or its shape is not the tile size.
        """
        shapes = {valid.shape} | ({probabilities.shape} if probabilities is not None else set())
        if shapes != {(self.tile_h, self.tile_w)}:
            raise ValueError(f"tile arrays {sorted(shapes)} are not {(self.tile_h, self.tile_w)}")
        r0, r1 = max(row_off, 0), min(row_off + self.tile_h, self.height)
        c0, c1 = max(col_off, 0), min(col_off + self.tile_w, self.width)
        if r0 < self.top:
            raise ValueError(
                f"tile at row {row_off} comes after row {self.top} was emitted; add tiles in"
                " row order"
            )
        if r0 >= r1 or c0 >= c1:
            return
        self._advance(r0)
        tile = np.s_[r0 - row_off : r1 - row_off, c0 - col_off : c1 - col_off]
        band = np.s_[r0 - self.top : r1 - self.top, c0:c1]
        if probabilities is None:
            self._covered[band] |= valid[tile]
            return
        inner = (
            row_off > 0,
            row_off + self.tile_h < self.height,
            col_off > 0,
            col_off + self.tile_w < self.width,
        )
        window = blend_window(self.tile_h, self.tile_w, self.overlap, inner)
        weight = window[tile]
        if not valid[tile].all():
            weight = weight * valid[tile]
        weighted = np.multiply(weight, probabilities[tile], out=self._scratch[: r1 - r0, : c1 - c0])
        self._sum[band] += weighted
        self._weight[band] += weight

    def finish(self) -> None:
        """Emit every row not yet emitted (the scene is complete)."""
        self._advance(self.height)

    def _advance(self, row: int) -> None:
        """Emit rows from :attr:`top` up to *row*, which no later tile can touch.

        Args:
            row: first row that stays in the band.
        """
        while self.top < row:
            count = min(row - self.top, self.tile_h, self.height - self.top)
            weight = self._weight[:count]
            band = np.full((count, self.width), np.nan, np.float32)
            np.divide(self._sum[:count], weight, out=band, where=weight > 0)
            band[(weight == 0) & self._covered[:count]] = 0
            self.sink(self.top, band)
            self._sum[:-count] = self._sum[count:].copy()
            self._weight[:-count] = self._weight[count:].copy()
            self._covered[:-count] = self._covered[count:].copy()
            self._sum[-count:] = 0
            self._weight[-count:] = 0
            self._covered[-count:] = False
            self.top += count
