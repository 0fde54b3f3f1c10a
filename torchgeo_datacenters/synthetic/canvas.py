"""The canvas a SYNTHETIC scene is drawn on, and pixel/CRS geometry helpers.

A :class:`Canvas` holds the float ``(4, height, width)`` canvas (R, G, B, NIR in digital
numbers), the random generator every drawing step draws from, and a coarse occupancy grid
used to place objects without overlap.
"""

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import shapely
from rasterio.features import rasterize
from rasterio.transform import Affine
from rasterio.windows import Window
from rasterio.windows import transform as window_transform
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    from .buildings import BuildingSpec

_SPREAD = 0.6 * math.sqrt(3.0)
"""Stretch of the cubic B-spline that interpolates smooth fields (coarse cells): the spread
of a Gaussian of 0.6 cells, since a cubic B-spline has variance 1/3."""
_TAPS = 6
"""Coarse cells a pixel of a smooth field draws on: the B-spline's support, 4 x _SPREAD."""

Box = tuple[int, int, int, int]
"""A pixel rectangle ``(row_start, col_start, row_stop, col_stop)``, stops exclusive."""


class Canvas:
    """The canvas of one scene being drawn, with the occupancy used to place objects."""

    def __init__(
        self,
        rng: np.random.Generator,
        height: int,
        width: int,
        gsd: float,
        transform: Affine,
        buildings: Mapping[str, "BuildingSpec"],
    ) -> None:
        self.rng = rng
        self.buildings = buildings
        self.height = height
        self.width = width
        self.gsd = gsd
        self.transform = transform
        self.canvas = np.empty((4, height, width), np.float32)
        self.cell = max(1, min(height, width) // 256)
        self.occupied = np.zeros((height // self.cell, width // self.cell), bool)
        self._table: np.ndarray | None = None
        self.margin = max(2, min(self.px(20.0), min(height, width) // 40))

    def px(self, metres: float) -> int:
        """Convert a length in metres to a whole number of pixels (at least 1)."""
        return max(1, round(metres / self.gsd))

    def _cells(self, box: Box, margin: int = 0) -> tuple[slice, slice]:
        k = self.cell
        return (
            slice(max(0, (box[0] - margin) // k), max(0, -(-(box[2] + margin) // k))),
            slice(max(0, (box[1] - margin) // k), max(0, -(-(box[3] + margin) // k))),
        )

    def occupy(self, box: Box, margin: int = 0) -> None:
        """Mark *box*, grown by *margin* pixels, as taken."""
        self.occupied[self._cells(box, margin)] = True
        self._table = None

    def is_free(self, box: Box) -> bool:
        """Whether *box* lies inside the scene and on no taken cell."""
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= self.height and box[3] <= self.width
        return inside and not self.occupied[self._cells(box)].any()

    def find_spot(self, height: int, width: int, margin: int) -> tuple[int, int] | None:
        """Pick a random free place for a *height* x *width* box kept *margin* from others.

        Returns:
            The top-left pixel of the box, or None where no place is free.
        """
        k = self.cell
        nh, nw = -(-(height + 2 * margin) // k), -(-(width + 2 * margin) // k)
        rows, cols = self.occupied.shape
        if nh > rows or nw > cols:
            return None
        if self._table is None:
            self._table = np.zeros((rows + 1, cols + 1), np.int32)
            self._table[1:, 1:] = self.occupied.cumsum(0, dtype=np.int32).cumsum(1)
        table = self._table
        taken = table[nh:, nw:] - table[:-nh, nw:] - table[nh:, :-nw] + table[:-nh, :-nw]
        free = np.flatnonzero(taken == 0)
        if free.size == 0:
            return None
        i, j = divmod(int(free[self.rng.integers(free.size)]), taken.shape[1])
        return i * k + margin, j * k + margin

    def clip(self, box: Box) -> Box:
        """Return the part of *box* inside the scene."""
        return (max(box[0], 0), max(box[1], 0), min(box[2], self.height), min(box[3], self.width))

    def fill(self, box: Box, colour: np.ndarray, jitter: float = 0.04) -> None:
        """Paint *box* in one colour, varied in brightness by up to *jitter*."""
        r0, c0, r1, c1 = self.clip(box)
        gain = 1.0 + self.rng.uniform(-jitter, jitter)
        self.canvas[:, r0:r1, c0:c1] = (colour * gain)[:, None, None]

    def grid(
        self,
        box: Box,
        *,
        pitch: tuple[int, int],
        size: tuple[int, int],
        colours: np.ndarray | None = None,
        shade: float | None = None,
        fill: float = 1.0,
        shift: tuple[int, int] = (0, 0),
        occupied: np.ndarray | None = None,
        part: Box | None = None,
        mask: np.ndarray | None = None,
        jitter: float = 0.06,
    ) -> np.ndarray | None:
        """Paint a regular grid of rectangles (units, cars, trailers, houses) in *box*.

        The grid holds as many whole items as fit, centred in *box*, then moved by *shift*.
        Each item is drawn with probability *fill* in a colour picked from *colours*, or,
        when *shade* is given, darkens what is there by that factor.

        Args:
            box: the pixel box to fill.
            pitch: item spacing (rows, cols) in pixels.
            size: item size (rows, cols) in pixels.
            colours: array of candidate colours, shape (k, 4).
            shade: brightness factor applied instead of colours.
            fill: probability that an item is drawn.
            shift: offset (rows, cols) of the grid, in pixels.
            occupied: which items are drawn, as returned by an earlier call with the same
                box, pitch and size (to draw details on the same items).
            part: the rectangle of each item to paint, in pixels from the item's corner
                (default: the whole item), to draw details such as fans on units.
            mask: boolean array of the shape of *box*; items are only drawn inside it.
            jitter: relative brightness variation between items.

        Returns:
            The (rows, cols) boolean array of drawn items, or None if none fits.
        """
        box = self.clip(box)
        h, w = box[2] - box[0], box[3] - box[1]
        counts = [
            (n - s) // p + 1 if n >= s else 0 for n, s, p in zip((h, w), size, pitch, strict=True)
        ]
        if min(counts) <= 0:
            return None
        if part is None:
            part = (0, 0, *size)
        axes = []
        for axis in (0, 1):
            n, s, p, count = (h, w)[axis], size[axis], pitch[axis], counts[axis]
            offset = np.arange(n) - (n - ((count - 1) * p + s)) // 2 - shift[axis]
            index, within = np.divmod(offset, p)
            valid = (offset >= 0) & (index < count) & (within >= part[axis])
            valid &= within < min(s, part[axis + 2])
            axes.append((np.clip(index, 0, count - 1), valid))
        (ri, rv), (ci, cv) = axes
        if occupied is None:
            occupied = self.rng.random(counts) < fill
        selected = rv[:, None] & cv[None, :] & occupied[ri[:, None], ci[None, :]]
        if mask is not None:
            selected &= mask
        rr, cc = np.nonzero(selected)
        view = self.canvas[:, box[0] : box[2], box[1] : box[3]]
        if shade is not None:
            view[:, rr, cc] *= shade
        else:
            assert colours is not None
            pick = self.rng.integers(len(colours), size=counts)
            gain = 1.0 + self.rng.uniform(-jitter, jitter, counts)
            values = colours[pick] * gain[..., None]
            view[:, rr, cc] = values[ri[rr], ci[cc]].T
        return occupied


def smooth_field(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """Return smooth random noise (zero mean, unit spread) with features about *cell* px wide.

    A coarse Gaussian grid, one value per *cell* pixels, is interpolated with a cubic
    B-spline stretched to the spread of a Gaussian of 0.6 coarse cells (a cubic B-spline
    has variance 1/3). Every step is an elementwise addition, subtraction, multiplication,
    division or square root in a fixed order, each of which IEEE 754 rounds exactly, so the
    field is the same bit for bit on every CPU: no ``exp`` (whose SIMD kernels differ
    between CPUs) and no matrix product (whose BLAS kernels sum in CPU-specific orders).

    Args:
        rng: The random generator the coarse grid is drawn from.
        height: Rows of the field (pixels).
        width: Columns of the field (pixels).
        cell: Spacing of the coarse grid (pixels).

    Returns:
        A ``float32`` array of shape ``(height, width)``.
    """

    def taps(n: int) -> tuple[int, np.ndarray, np.ndarray]:
        """Coarse cells, their indices ``(n, _TAPS)`` and normalised weights ``(n, _TAPS)``."""
        coarse = int(n / cell) + 3
        centres = (np.arange(n, dtype=np.float32) + np.float32(0.5)) / np.float32(cell)
        centres += np.float32(1.0)
        first = np.floor(centres).astype(np.int64) - (_TAPS // 2 - 1)
        index = first[:, None] + np.arange(_TAPS)[None, :]
        offset = centres[:, None] - index.astype(np.float32)
        weight = cubic_bspline(offset / np.float32(_SPREAD))
        weight[(index < 0) | (index >= coarse)] = 0.0
        total = weight[:, 0].copy()
        for t in range(1, _TAPS):
            total += weight[:, t]
        weight /= total[:, None]
        return coarse, np.clip(index, 0, coarse - 1), weight

    (rn, ri, rw), (cn, ci, cw) = taps(height), taps(width)
    coarse = rng.standard_normal((rn, cn), dtype=np.float32)
    columns = coarse[:, ci[:, 0]] * cw[:, 0]
    for t in range(1, _TAPS):
        columns += coarse[:, ci[:, t]] * cw[:, t]
    field = np.take(columns, ri[:, 0], axis=0)
    field *= rw[:, 0, None]
    row = np.empty_like(field)
    for t in range(1, _TAPS):
        np.take(columns, ri[:, t], axis=0, out=row)
        row *= rw[:, t, None]
        field += row
    sample = field[:: max(1, height // 256), :: max(1, width // 256)]
    field -= sample.mean()
    field /= max(float(sample.std()), 1e-6)
    return field


def cubic_bspline(x: np.ndarray) -> np.ndarray:
    """Return the cubic B-spline kernel at *x* (zero where ``|x| >= 2``), in ``x``'s dtype."""
    a = np.abs(x)
    far = 2 - a
    far = far * far * far / 6
    near = (a * a * (3 * a - 6) + 4) / 6
    return np.where(a < 1, near, np.where(a < 2, far, 0)).astype(x.dtype)


def box_polygon(transform: Affine, box: Box) -> shapely.Polygon:
    """Return the CRS polygon covering a pixel box."""
    x0, y0 = transform @ (box[1], box[0])
    x1, y1 = transform @ (box[3], box[2])
    return shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def pixel_bounds(transform: Affine, polygon: BaseGeometry) -> Box:
    """Return the pixel box that holds every pixel centre inside *polygon*."""
    xmin, ymin, xmax, ymax = polygon.bounds
    corners = [~transform @ (x, y) for x in (xmin, xmax) for y in (ymin, ymax)]
    cols = [c for c, _ in corners]
    rows = [r for _, r in corners]
    return (
        math.floor(min(rows)),
        math.floor(min(cols)),
        math.ceil(max(rows)),
        math.ceil(max(cols)),
    )


def roof_mask(scene: Canvas, polygon: BaseGeometry, window: Box) -> np.ndarray:
    """Rasterize a roof polygon (CRS coordinates) over a pixel window (pixel-centre rule)."""
    r0, c0, r1, c1 = window
    win = Window(c0, r0, c1 - c0, r1 - r0)
    return rasterize(
        [(polygon, 1)],
        out_shape=(r1 - r0, c1 - c0),
        transform=window_transform(win, scene.transform),
        dtype="uint8",
    ).astype(bool)
