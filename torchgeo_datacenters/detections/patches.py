"""Trace labelled patches of a mask into polygons, and join the pieces of a detection.

:class:`~.vectorize.Vectorizer` labels the patches of a band, packs them side by side
(:func:`pack_patches`), traces them (:func:`trace_patches`) and, once a detection is
closed, joins its pieces into one outline (:func:`merge_groups`).
"""

import math

import numpy as np
import shapely
from rasterio.features import shapes


def patch_boxes(labels: np.ndarray, count: int) -> np.ndarray:
    """Bounding boxes of labelled patches.

    Args:
        labels: patch numbers 1..count, 0 outside patches (as from
            :func:`scipy.ndimage.label`).
        count: number of patches.

    Returns:
        A (count + 1, 4) array of (first row, end row, first column, end column) per
        patch number; row 0 (background) is zeros.
    """
    from scipy import ndimage

    boxes = np.zeros((count + 1, 4), np.intp)
    objects = ndimage.find_objects(labels, max_label=count)
    if objects:
        boxes[1:] = [(rows.start, rows.stop, cols.start, cols.stop) for rows, cols in objects]
    return boxes


def pack_patches(
    labels: np.ndarray, numbers: np.ndarray, boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Lay the patches to trace side by side in a small raster.

    Tracing takes time for every pixel of a raster, empty or not; patches that cover a
    small part of a strip are traced several times faster when packed together. Every
    patch keeps its own number, so patches that end up side by side stay apart.

    Args:
        labels: (rows, width) patch numbers.
        numbers: the patch numbers to trace.
        boxes: bounding box of every patch, from :func:`patch_boxes`.

    Returns:
        The packed raster of patch numbers (0 elsewhere) and, per patch number, the
        (column, row) to add to its packed coordinates to get back to *labels*'.
    """
    heights = boxes[numbers, 1] - boxes[numbers, 0]
    widths = boxes[numbers, 3] - boxes[numbers, 2]
    # Shelves about as wide as the packed raster is tall, tallest patches first.
    width = max(int(widths.max()), math.isqrt(2 * int(np.dot(heights, widths))))
    order = np.argsort(-heights, kind="stable")
    slots = np.zeros((len(boxes), 2), np.intp)
    row = col = shelf = 0
    for number, height, span in zip(
        numbers[order].tolist(), heights[order].tolist(), widths[order].tolist(), strict=True
    ):
        if col + span > width:
            row, col, shelf = row + shelf, 0, 0
        slots[number] = row, col
        col += span
        shelf = max(shelf, height)
    shift = np.column_stack([boxes[:, 2] - slots[:, 1], boxes[:, 0] - slots[:, 0]])
    if (row + shelf) * width >= labels.size // 2:
        traced = np.zeros(len(boxes), bool)
        traced[numbers] = True
        return np.where(traced[labels], labels, 0), np.zeros((len(boxes), 2))
    canvas = np.zeros((row + shelf, width), labels.dtype)
    for number in numbers.tolist():
        top, bottom, left, right = boxes[number]
        patch = labels[top:bottom, left:right] == number
        slot_row, slot_col = slots[number]
        target = canvas[slot_row : slot_row + bottom - top, slot_col : slot_col + right - left]
        target[patch] = number
    return canvas, shift.astype(np.float64)


def trace_patches(
    labels: np.ndarray, numbers: np.ndarray, boxes: np.ndarray, top: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Trace the outlines of labelled patches, holes kept.

    Args:
        labels: (rows, width) patch numbers.
        numbers: the patch numbers to trace.
        boxes: bounding box of every patch, from :func:`patch_boxes`.
        top: row of *labels*' first row in the coordinates returned.

    Returns:
        The patch numbers traced, and their polygons in (column, row) pixel coordinates
        (*labels*' shifted down by *top* rows), in the same order.
    """
    if numbers.size == 0:
        return numbers, np.empty(0, object)
    canvas, shift = pack_patches(labels, numbers, boxes)
    rings: list[list[tuple[float, float]]] = []
    owners: list[int] = []
    values: list[int] = []
    for piece, (geometry, value) in enumerate(shapes(canvas, mask=canvas > 0)):
        rings += geometry["coordinates"]
        owners += [piece] * len(geometry["coordinates"])
        values.append(int(value))
    traced = np.array(values, np.intp)
    sizes = [len(ring) for ring in rings]
    coords = np.array([point for ring in rings for point in ring], np.float64)
    # Back from the packed raster to the coordinates of labels, moved down by top.
    coords += np.repeat(shift[traced[owners]] + [0, top], sizes, axis=0)
    linear = np.asarray(
        shapely.linearrings(coords, indices=np.repeat(np.arange(len(rings)), sizes))
    )
    return traced, np.asarray(shapely.polygons(linear, indices=owners))


def merge_groups(pieces: np.ndarray, group: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """Join the pieces of every group into one outline.

    Pieces that no cut crosses are whole patches: they meet other pieces at corners at
    most, so they are gathered into a MultiPolygon as they are. Cut pieces may share
    edges, so they are unioned (and collinear vertices left at the cut dropped).

    Args:
        pieces: polygons in pixel coordinates.
        group: the group number (0..n-1) of every piece.
        cut: whether a cut crosses each piece.

    Returns:
        One (Multi)Polygon per group.
    """
    sizes = np.bincount(group)
    cut_groups = np.bincount(group, weights=cut, minlength=sizes.size) > 0
    merged = np.empty(sizes.size, object)
    single = sizes[group] == 1
    merged[group[single]] = pieces[single]
    gathered = ~single & ~cut_groups[group]
    if gathered.any():
        order = np.argsort(group[gathered], kind="stable")
        shapely.multipolygons(pieces[gathered][order], indices=group[gathered][order], out=merged)
    for number in np.flatnonzero(cut_groups & (sizes > 1)):
        members = group == number
        joined = shapely.simplify(shapely.union_all(pieces[members & cut]), 0.0)
        parts = np.concatenate([shapely.get_parts(joined), pieces[members & ~cut]])
        merged[number] = parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
    return merged
