"""A review page: one offline HTML file on which a person judges every detection of a run.

:func:`write_review` writes one HTML page built on the map report's code
(:mod:`.report`: vendored Leaflet, the imagery as PNG layers, the detections as GeoJSON on
a canvas). Beside the map, the page shows each detection's chip (the imagery around it
at :data:`CHIP_PIXELS` px with its outline, a JPEG data URI cut here from the raster
itself, not from the downsampled layer), in :func:`review_order` (the least confident and
the least alike in turn), and takes one key per verdict: accept as a data center, reject
as a warehouse, retail or other building (the hard-negative classes of
:mod:`torchgeo_datacenters.naip`), skip, next, previous, undo. Sites the model missed
are drawn on the map as polygons or boxes. A counter says how many detections are left.

Verdicts are kept in the browser's ``localStorage`` under ``tgdc-review:<run>`` (the run
id of :func:`~torchgeo_datacenters.detections.verdicts.run_id`), so a reload, or the page
built again from the same detections, keeps them. The export is one GeoJSON label file of
:data:`~torchgeo_datacenters.detections.verdicts.VERDICT_COLUMNS`, which ``tgdc labels
merge`` reads. The page exposes ``window.review`` (the map, the layers by detection id,
the run, the order, the verdicts, ``exportCollection()``, ``ready``: milliseconds from
navigation to the page being built, and ``drawn``: to the first frame drawn after it). The
chips of the first :data:`FIRST_CHIPS` detections in review order are in the page's data;
the text of all chips follows its script, so the page is drawn before the browser has read
them (about 100 MiB for 10,000 detections).
"""

import base64
import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import rasterio.transform
import rasterio.windows
import shapely
from PIL import Image, ImageDraw
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds, transform_geom
from shapely.geometry.base import BaseGeometry

from ..detections.verdicts import labelled_sites, run_id
from ..errors import TGDCError
from ..naip import DATACENTER_CLASS, HARD_NEGATIVE_CLASSES
from .formats import RunRecord
from .report import (
    image_layers,
    page_features,
    render_page,
    stretch_limits,
    to_rgb,
    write_page,
)
from .space import page_bytes
from .styles import SCORE_CLASSES

#: Side of a detection's chip, in pixels (the imagery resampled to it, bilinear).
CHIP_PIXELS = 192

#: Ground shown around a detection in its chip, on each side: this fraction of its larger
#: side, and at least :data:`MIN_CONTEXT_PIXELS` pixels of the imagery.
CHIP_CONTEXT = 0.5
MIN_CONTEXT_PIXELS = 40

#: JPEG quality of the chips: a 192 px chip of SYNTHETIC NAIP-like imagery takes about
#: 10 KiB in the page (256 px at quality 85: 19 KiB; as PNG several times that), so a page
#: of 10,000 detections holds about 100 MiB of chips.
CHIP_QUALITY = 80

#: Colour of a detection's outline in its chip (RGB), as the current site on the map.
CHIP_OUTLINE = (0, 229, 255)

#: Longest side of the read from which a raster's contrast stretch is computed, in pixels.
STRETCH_SAMPLE_PIXELS = 1024

#: Chips the page holds in its data, the first in review order: shown before the browser
#: has read the others, which follow the page's script.
FIRST_CHIPS = 20

#: Places in the review order filled alternately by score and by unlikeness (see
#: :func:`review_order`); the detections after them follow lowest score first. Each place
#: costs a pass over every detection: 1,000 places over 10,000 detections take about 0.4 s
#: (2 cores), far more places than a round of review judges.
VARIED_PLACES = 1000

#: Properties of the detections the page shows and exports.
REVIEW_COLUMNS = ("id", "score", "area_m2", "source", "source_item", "acquired")

#: Prefix of the ``localStorage`` key of a run's verdicts.
STORAGE_PREFIX = "tgdc-review:"


def review_order(
    scores: np.ndarray,
    labelled: np.ndarray | None = None,
    traits: np.ndarray | None = None,
) -> np.ndarray:
    """The order in which a person reviews detections: the least confident, and the unlike.

    Detections are regions above the threshold, so the lowest scores are those nearest it,
    the ones the model is least sure of, and on new scenes they hold the most mistakes: in
    ``benchmarks/review.py`` (benchmarks/README.md, "Which order finds the mistakes") the
    10 lowest scores held 1.6-2.1 times the look-alikes of 10 random detections on each of
    four pools of new scenes. But they are its least confident mistakes: the look-alikes
    the model scores as high as data centers were still detected after a round of them.
    So, given *traits*, the order alternates: the lowest score not yet placed, then the
    detection least like every one placed before it (farthest from its nearest, in the
    traits and the score, each scaled to unit standard deviation: a greedy k-centre
    traversal), so that the first verdicts also reach what looks different, at any score:
    over 9 runs of 10 verdicts and fine-tuning (benchmarks/README.md, "The least confident
    and the least alike in turn") this order reached object F1 >= 0.95 with no hard
    negative detected after the first round on every run, the lowest scores alone on 5,
    random order on 7. After the first :data:`VARIED_PLACES`, lowest score first.
    Detections on sites labelled before (an earlier round's verdicts) come after all the
    others, lowest score first: judging them again teaches nothing new.

    Args:
        scores: (n,) detection scores (mean probability inside).
        labelled: (n,) bool, whether a label already holds each detection's site
            (default: none does).
        traits: (n, f) what else tells the detections apart, e.g. :class:`Chips`'
            ``appearance`` and the log of the area; NaN where not known (taken as the
            mean). None: lowest score first only.

    Returns:
        (n,) row indices, sites not labelled first; ties in row order.
    """
    scores = np.asarray(scores, dtype="float64")
    known = np.zeros(len(scores), bool) if labelled is None else np.asarray(labelled, bool)
    rows, later = np.flatnonzero(~known), np.flatnonzero(known)
    later = later[np.argsort(scores[later], kind="stable")]
    if traits is None:
        return np.concatenate([rows[np.argsort(scores[rows], kind="stable")], later])
    features = np.column_stack([scores, np.asarray(traits, dtype="float64")])[rows]
    return np.concatenate([rows[_alternate(scores[rows], _standardised(features))], later])


def _standardised(features: np.ndarray) -> np.ndarray:
    """Columns scaled to mean 0 and standard deviation 1, NaN as the mean (constant: 0).

    Args:
        features: (n, f) values, NaN where not known.

    Returns:
        (n, f) float64.
    """
    finite = np.isfinite(features)
    counts = np.maximum(finite.sum(axis=0), 1)
    mean = np.where(finite, features, 0.0).sum(axis=0) / counts
    centred = np.where(finite, features - mean, 0.0)
    spread = np.sqrt((centred**2).sum(axis=0) / counts)
    return centred / np.where(spread > 0, spread, 1.0)


def _alternate(scores: np.ndarray, features: np.ndarray) -> np.ndarray:
    """Rows alternately by lowest score and by distance from the rows placed before.

    Args:
        scores: (n,) detection scores.
        features: (n, f) standardised features.

    Returns:
        (n,) row indices: the lowest score, then the row farthest from its nearest placed
        row, and so on for :data:`VARIED_PLACES` places, then the rest lowest score first;
        ties to the first row.
    """
    by_score = np.argsort(scores, kind="stable")
    placed = np.zeros(len(scores), bool)
    nearest = np.full(len(scores), np.inf)
    order = []
    lowest = iter(by_score)
    for step in range(min(len(scores), VARIED_PLACES)):
        if step % 2 == 0:
            row = next(r for r in lowest if not placed[r])
        else:
            row = int(np.argmax(np.where(placed, -1.0, nearest)))
        placed[row] = True
        order.append(row)
        nearest = np.minimum(nearest, np.linalg.norm(features - features[row], axis=1))
    return np.concatenate([np.array(order, dtype="int64"), by_score[~placed[by_score]]])


@dataclass(frozen=True)
class _Raster:
    """A raster chips are cut from: its path, 4326 bounds and contrast stretch."""

    path: Path
    bounds: tuple[float, float, float, float]
    limits: tuple[float, float]


def _open_rasters(images: Sequence[str | os.PathLike[str]]) -> list[_Raster]:
    """Read each raster's bounds and contrast stretch (from a downsampled read).

    Args:
        images: the rasters.

    Returns:
        One :class:`_Raster` each.
    """
    rasters = []
    for path in images:
        with rasterio.open(path) as src:
            scale = max(1.0, max(src.width, src.height) / STRETCH_SAMPLE_PIXELS)
            shape = (max(1, round(src.height / scale)), max(1, round(src.width / scale)))
            data = src.read(_bands(src.count), out_shape=shape, masked=True)
            valid = ~np.ma.getmaskarray(data).any(axis=0)
            limits = stretch_limits(data.filled(0).astype("float32"), valid)
            bounds = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        rasters.append(_Raster(Path(path), bounds, limits))
    return rasters


def _bands(count: int) -> list[int]:
    """Bands shown: 1 to 3 as red, green, blue, or band 1 as grey."""
    return [1, 2, 3] if count >= 3 else [1]


def _raster_of(detection: gpd.GeoSeries, rasters: Sequence[_Raster]) -> _Raster | None:
    """The raster a detection was found in: the one its ``source`` names, else one under it.

    Args:
        detection: a row of the detection table.
        rasters: the rasters given.

    Returns:
        The raster, or None where none lies under the detection's centroid.
    """
    named = [r for r in rasters if r.path.name == detection.get("source")]
    point = shapely.Point(detection["centroid_lon"], detection["centroid_lat"])
    under = [r for r in rasters if shapely.box(*r.bounds).contains(point)]
    found = named or under
    return found[0] if found else None


def _chip(
    src: rasterio.DatasetReader, raster: _Raster, geometry: BaseGeometry
) -> tuple[str, np.ndarray]:
    """The chip of one detection: imagery around it with its outline, and its appearance.

    Args:
        src: the open raster.
        raster: its bounds and stretch.
        geometry: the detection's outline, EPSG:4326.

    Returns:
        The chip as a JPEG data URI, and (6,) the mean then the standard deviation of its
        red, green and blue as shown (0-255) inside the outline.
    """
    outline = shapely.geometry.shape(
        transform_geom("EPSG:4326", src.crs, shapely.geometry.mapping(geometry))
    )
    minx, miny, maxx, maxy = outline.bounds
    pixel = max(abs(src.transform.a), abs(src.transform.e))
    side = max(maxx - minx, maxy - miny)
    half = side / 2 + max(CHIP_CONTEXT * side, MIN_CONTEXT_PIXELS * pixel)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    left, bottom, right, top = cx - half, cy - half, cx + half, cy + half
    size = CHIP_PIXELS
    canvas = np.zeros((len(_bands(src.count)), size, size), dtype="float32")
    window = rasterio.windows.from_bounds(left, bottom, right, top, src.transform)
    inside = window.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
    # Where the chip meets the raster, in chip pixels (the rest stays black).
    scale = size / window.width
    col0 = round((inside.col_off - window.col_off) * scale)
    row0 = round((inside.row_off - window.row_off) * scale)
    width = max(1, min(size - col0, round(inside.width * scale)))
    height = max(1, min(size - row0, round(inside.height * scale)))
    canvas[:, row0 : row0 + height, col0 : col0 + width] = src.read(
        _bands(src.count),
        window=inside,
        out_shape=(len(_bands(src.count)), height, width),
        resampling=Resampling.bilinear,
    )
    rgb = to_rgb(canvas, raster.limits)
    inside_outline = rasterio.features.geometry_mask(
        [outline],
        (size, size),
        rasterio.transform.from_bounds(left, bottom, right, top, size, size),
        all_touched=True,
        invert=True,
    )
    shown = rgb[:, inside_outline].astype("float64")
    appearance = np.concatenate([shown.mean(axis=1), shown.std(axis=1)])
    image = Image.fromarray(rgb.transpose(1, 2, 0), "RGB")
    draw = ImageDraw.Draw(image)
    for polygon in shapely.get_parts(outline):
        for ring in [polygon.exterior, *polygon.interiors]:
            xy = [(x - left, top - y) for x, y in ring.coords]
            xy = [(x / (2 * half) * size, y / (2 * half) * size) for x, y in xy]
            draw.line(xy, fill=CHIP_OUTLINE, width=2)
    buffer = io.BytesIO()
    # Colour at full resolution (4:4:4), so the thin outline keeps its colour.
    image.save(buffer, format="JPEG", quality=CHIP_QUALITY, subsampling=0)
    uri = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return uri, appearance


@dataclass(frozen=True)
class Chips:
    """The chips of a run's detections, and what each looks like inside its outline.

    Attributes:
        uris: one JPEG data URI per detection, None where no raster lies under it.
        appearance: (n, 6) the mean then the standard deviation of red, green and blue as
            the chip shows them (0-255, the raster's contrast stretch) inside the
            detection's outline; NaN where there is no chip.
    """

    uris: list[str | None]
    appearance: np.ndarray

    def traits(self, detections: gpd.GeoDataFrame) -> np.ndarray:
        """What :func:`review_order` tells the detections apart by, besides their score.

        Args:
            detections: the detections the chips were cut for (``area_m2`` column).

        Returns:
            (n, 7) the appearance and the natural log of the area (m²).
        """
        area = np.log(np.maximum(detections["area_m2"].to_numpy(dtype="float64"), 1.0))
        return np.column_stack([self.appearance, area])


def detection_chips(
    detections: gpd.GeoDataFrame, images: Sequence[str | os.PathLike[str]]
) -> Chips:
    """Cut a chip around every detection from the imagery it was found in.

    Args:
        detections: detections in EPSG:4326 (``source``, centroid and geometry columns).
        images: the rasters the detections come from.

    Returns:
        The chips and their appearance, one per row.
    """
    rasters = _open_rasters(images)
    uris: list[str | None] = [None] * len(detections)
    appearance = np.full((len(detections), 6), np.nan)
    owners = [_raster_of(row, rasters) for _, row in detections.iterrows()]
    for raster in rasters:
        rows = [n for n, owner in enumerate(owners) if owner is raster]
        if not rows:
            continue
        with rasterio.open(raster.path) as src:
            for n in rows:
                uris[n], appearance[n] = _chip(src, raster, detections.geometry.iloc[n])
    return Chips(uris, appearance)


def _no_imagery_error(
    detections: gpd.GeoDataFrame, images: Sequence[str | os.PathLike[str]]
) -> TGDCError:
    """The error for images under none of the detections (a page of blank chips).

    Args:
        detections: the detections (with their ``source`` where known).
        images: the rasters given.

    Returns:
        The error, naming the first image and a scene the detections came from.
    """
    more = f" (and {len(images) - 1} more)" if len(images) > 1 else ""
    sources = detections["source"].dropna() if "source" in detections else pd.Series()
    found_in = f", e.g. {sources.iloc[0]}" if len(sources) else ""
    return TGDCError(
        f"{images[0]}{more}: none of the {len(detections)} detection(s) lie under the"
        f" image(s) given; give the GeoTIFF(s) the detections were found in{found_in}"
    )


def render_review(
    detections: gpd.GeoDataFrame,
    images: Sequence[str | os.PathLike[str]] = (),
    *,
    threshold: float | None,
    title: str = "Review the data centers found",
    labelled: pd.Series | None = None,
) -> str:
    """Build the HTML page of a review.

    Args:
        detections: a detection table in EPSG:4326 (see
            :mod:`torchgeo_datacenters.detections.schema`).
        images: the rasters the detections come from: the map's layers and the chips.
        threshold: the probability threshold of the run, shown on the page (None: not
            known, not shown).
        title: the page's title.
        labelled: (n,) for each detection, the class a label given before (e.g. the
            previous round's merge) holds its site as, None where none does (see
            :func:`~torchgeo_datacenters.detections.verdicts.labelled_sites`): those
            detections come last, each shown with that class.

    Returns:
        The page.

    Raises:
        TGDCError: if images are given and none lies under any detection (imagery of
            another place: every chip would be blank).
    """
    run = run_id(detections)
    cut = detection_chips(detections, images)
    order = review_order(
        detections["score"].to_numpy(),
        None if labelled is None else labelled.notna().to_numpy(),
        cut.traits(detections),
    )
    chips = cut.uris
    uncovered = sum(chip is None for chip in chips)
    if images and chips and uncovered == len(chips):
        raise _no_imagery_error(detections, images)
    if uncovered:
        warnings.warn(
            f"{uncovered} of {len(chips)} detection(s) lie under none of the images given, so"
            " the page shows no imagery for them; give the GeoTIFFs the detections were found"
            " in",
            stacklevel=2,
        )
    # The chips, in review order, one a line (empty: no imagery), with where each starts:
    # the page cuts the one it shows from the text instead of parsing them all as JSON.
    lines = [chips[i] or "" for i in order]
    offsets = np.concatenate([[0], np.cumsum([len(line) + 1 for line in lines])])
    data = {
        "run": run,
        "storageKey": STORAGE_PREFIX + run,
        "threshold": threshold,
        "accept": DATACENTER_CLASS,
        "negatives": list(HARD_NEGATIVE_CLASSES),
        "scoreClasses": [list(c) for c in SCORE_CLASSES],
        "order": [int(i) for i in detections["id"].to_numpy()[order]],
        "labelled": {}
        if labelled is None
        else {
            str(int(i)): name
            for i, name in zip(detections["id"], labelled, strict=True)
            if name is not None
        },
        "detections": page_features(detections, REVIEW_COLUMNS),
        "images": image_layers(images),
        "chipOffsets": [int(n) for n in offsets],
        "firstChips": lines[:FIRST_CHIPS],
    }
    return render_page("review.html", title, {"data": data}, {"chips": "\n".join(lines)})


def write_review(
    path: str | os.PathLike[str],
    detections: gpd.GeoDataFrame,
    images: Sequence[str | os.PathLike[str]] = (),
    *,
    threshold: float | None,
    title: str = "Review the data centers found",
    overwrite: bool = False,
    labelled: pd.Series | None = None,
) -> Path:
    """Write a self-contained HTML review page, atomically.

    Args:
        path: the HTML file.
        detections: a detection table in EPSG:4326.
        images: the rasters the detections come from.
        threshold: the probability threshold of the run (None: not known).
        title: the page's title.
        overwrite: whether an existing file may be replaced.
        labelled: the class each detection's site was labelled as before, None where it
            was not: those come last (see :func:`render_review`).

    Returns:
        The path written.

    Raises:
        TGDCError: if the file exists and *overwrite* is false, its directory is
            missing, or its file system has not the space the page may take (checked before
            any chip is cut).
    """
    return write_page(
        path,
        lambda: render_review(
            detections, images, threshold=threshold, title=title, labelled=labelled
        ),
        size=page_bytes(len(detections), len(images), chips=len(detections)),
        overwrite=overwrite,
    )


def write_run_review(path: Path, detections: gpd.GeoDataFrame, run: RunRecord) -> Path:
    """Write the review page of a run: the writer of the ``review`` output format.

    Args:
        path: the HTML file.
        detections: the run's detections (EPSG:4326).
        run: the rest of the run: its images (cut into chips), threshold and the labels
            given before (their sites' detections come last).

    Returns:
        The path written.

    Raises:
        TGDCError: see :func:`write_review`.
    """
    labelled = None if run.labels is None else labelled_sites(detections, run.labels)
    return write_review(
        path,
        detections,
        run.images,
        threshold=run.threshold,
        overwrite=run.overwrite,
        labelled=labelled,
    )
