"""A self-contained HTML map report of detections: one file, no network needed.

:func:`write_report` writes one HTML page holding everything it shows: Leaflet (vendored
in ``vendor/leaflet``, BSD-2-Clause) inlined, the imagery as downsampled PNG image layers
(data URIs, reprojected to Web Mercator so they sit exactly under the outlines), the
detections as GeoJSON drawn on a canvas, coloured by score
(:data:`~.styles.SCORE_CLASSES`) or by change status (:data:`~.styles.STATUS_COLOURS`),
and a table of the detections sortable by area, score and status (only the rows in and
near the view are in the document, so 10,000 detections open in about 2 s). Clicking a row zooms
the map to that site, highlights it and shows a thumbnail of the imagery around it (cut
from the image layer). The page exposes ``window.report`` (the Leaflet map, the layers by
detection id, and ``ready``: milliseconds from navigation to the page being built).
"""

import base64
import html
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from PIL import Image
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from ..utils import atomic_output, check_output_path
from .formats import RunRecord
from .space import check_free_space, page_bytes
from .styles import SCORE_CLASSES, STATUS_COLOURS

#: Longest side of the image layer of a single raster, in pixels (n rasters share
#: about this many pixels, down to :data:`MIN_IMAGE_PIXELS` each).
IMAGE_PIXELS = 2048
MIN_IMAGE_PIXELS = 128

#: Percentiles of valid pixels stretched to black and white in the image layers.
STRETCH_PERCENTILES = (2.0, 98.0)

#: Decimals of the coordinates in the page (about 1 cm).
PAGE_DECIMALS = 7

#: Columns shown in the table, in order, where the detections have them.
TABLE_COLUMNS = ("id", "site_id", "status", "area_m2", "score", "outline", "source", "acquired")


def vendor(name: str) -> str:
    """Text of a vendored Leaflet file.

    Args:
        name: ``leaflet.js`` or ``leaflet.css``.

    Returns:
        Its text, safe to inline in a ``<script>`` or ``<style>`` element.
    """
    text = resources.files(__package__).joinpath("vendor", "leaflet", name).read_text("utf-8")
    return text.replace("</", "<\\/") if name.endswith(".js") else text


def stretch_limits(values: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """The values stretched to black and white: :data:`STRETCH_PERCENTILES` of valid pixels.

    Args:
        values: (bands, height, width) pixel values.
        valid: (height, width) true where every band is valid.

    Returns:
        The low and high value (0, 1 where no pixel is valid).
    """
    if not valid.any():
        return 0.0, 1.0
    low, high = np.percentile(values[:, valid], STRETCH_PERCENTILES)
    return float(low), float(high)


def to_rgb(values: np.ndarray, limits: tuple[float, float]) -> np.ndarray:
    """Pixel values stretched linearly between two limits to 8-bit red, green, blue.

    Args:
        values: (1 or 3, height, width) pixel values (one band is shown as grey).
        limits: the values shown as black and white (see :func:`stretch_limits`).

    Returns:
        (3, height, width) uint8.
    """
    low, high = limits
    scaled = np.clip((values - low) / max(high - low, 1e-9) * 255, 0, 255).astype("uint8")
    return np.repeat(scaled, 3, axis=0) if len(scaled) == 1 else scaled


def image_layers(images: Sequence[str | os.PathLike[str]]) -> list[dict[str, Any]]:
    """The image layers of a page: many rasters (chips, scenes) share the pixels of one.

    Args:
        images: the rasters.

    Returns:
        One :func:`image_layer` per raster, each at most :data:`IMAGE_PIXELS` over the
        square root of their number on its longest side, and at least
        :data:`MIN_IMAGE_PIXELS`.
    """
    pixels = max(MIN_IMAGE_PIXELS, IMAGE_PIXELS // max(1, math.isqrt(len(images))))
    return [image_layer(path, pixels) for path in images]


def image_layer(path: str | os.PathLike[str], pixels: int = IMAGE_PIXELS) -> dict[str, Any]:
    """A raster as a downsampled, contrast-stretched PNG in Web Mercator.

    Args:
        path: a georeferenced raster; bands 1 to 3 are shown as red, green, blue (band 1
            as grey for fewer bands).
        pixels: longest side of the image, in pixels.

    Returns:
        ``name``, ``url`` (a PNG data URI, nodata transparent) and ``bounds``
        ([[south, west], [north, east]] in degrees).
    """
    with rasterio.open(path) as src, WarpedVRT(src, crs="EPSG:3857") as vrt:
        scale = max(vrt.width, vrt.height) / pixels
        height, width = (max(1, round(n / max(scale, 1.0))) for n in (vrt.height, vrt.width))
        bands = [1, 2, 3] if src.count >= 3 else [1]
        data = vrt.read(
            bands, out_shape=(len(bands), height, width), masked=True, resampling=Resampling.average
        )
        bounds = transform_bounds(vrt.crs, "EPSG:4326", *vrt.bounds)
    valid = ~np.ma.getmaskarray(data).any(axis=0)
    values = data.filled(0).astype("float32")
    rgb = to_rgb(values, stretch_limits(values, valid))
    rgba = np.concatenate([rgb, (valid * 255).astype("uint8")[None]]).transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", optimize=False)
    west, south, east, north = bounds
    return {
        "name": Path(path).name,
        "url": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
        "bounds": [[south, west], [north, east]],
    }


def page_features(
    detections: gpd.GeoDataFrame, columns: Sequence[str] = TABLE_COLUMNS
) -> dict[str, Any]:
    """The detections as a compact GeoJSON FeatureCollection for a page.

    Args:
        detections: detections in EPSG:4326.
        columns: the properties kept, where the detections have them.

    Returns:
        The collection: rounded coordinates, the columns as properties.
    """
    columns = [c for c in columns if c in detections]
    table = detections[columns].astype(object).where(detections[columns].notna(), None)
    geometries = shapely.transform(
        detections.geometry.to_numpy(), lambda c: np.round(c, PAGE_DECIMALS)
    )
    features = []
    for geometry, properties in zip(geometries, table.to_dict("records"), strict=True):
        for key in ("area_m2", "score"):
            if properties.get(key) is not None:
                properties[key] = round(float(properties[key]), 4 if key == "score" else 1)
        for key in ("id", "site_id"):
            if properties.get(key) is not None:
                properties[key] = int(properties[key])
        features.append(
            {
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(geometry)),
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def render_report(
    detections: gpd.GeoDataFrame,
    images: Sequence[str | os.PathLike[str]] = (),
    *,
    title: str = "Data centers found",
    colour_by: str = "score",
) -> str:
    """Build the HTML page of a map report.

    Args:
        detections: detections in EPSG:4326 (the predictor's columns; a ``status`` column
            of :data:`~.styles.STATUS_COLOURS` for change and compare reports; numbered
            1..n where they have no ``id``).
        images: rasters shown under the detections, downsampled.
        title: the page's title.
        colour_by: ``score`` or ``status``.

    Returns:
        The page.

    Raises:
        ValueError: if a status has no colour.
    """
    if "id" not in detections:
        detections = detections.assign(id=np.arange(1, len(detections) + 1))
    statuses = set(detections["status"]) if colour_by == "status" else set()
    if unknown := statuses - set(STATUS_COLOURS):
        raise ValueError(f"status: {sorted(unknown)} have no colour in STATUS_COLOURS")
    data = {
        "title": title,
        "colourBy": colour_by,
        "scoreClasses": [list(c) for c in SCORE_CLASSES],
        # The legend lists the statuses present, in the palette's order.
        "statusColours": {k: v for k, v in STATUS_COLOURS.items() if k in statuses},
        "columns": [c for c in TABLE_COLUMNS if c in detections],
        "detections": page_features(
            detections.to_crs("EPSG:4326") if len(detections) else detections
        ),
        "images": image_layers(images),
    }
    return render_page("report.html", title, {"data": data})


def page_json(value: Any) -> str:
    """A value as compact JSON, safe inside a ``<script>`` element.

    Args:
        value: JSON-serialisable data.

    Returns:
        The JSON text, with every ``</`` escaped so it cannot close the element.
    """
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def render_page(
    template: str, title: str, payloads: dict[str, Any], texts: dict[str, str] | None = None
) -> str:
    """Fill a page template of this package with Leaflet, its title and its data.

    Args:
        template: the template's file name in this package (``report.html``).
        title: the page's title, for ``{{title}}``.
        payloads: placeholder name to the JSON data put in its place (``{{data}}``).
        texts: placeholder name to text put in its place as it is (it must hold no
            ``</``, which would end its element).

    Returns:
        The page.

    Raises:
        ValueError: if a text holds ``</``.
    """
    page = resources.files(__package__).joinpath(template).read_text("utf-8")
    page = (
        page.replace("{{title}}", html.escape(title))
        .replace("{{leaflet_css}}", vendor("leaflet.css"))
        .replace("{{leaflet_js}}", vendor("leaflet.js"))
    )
    for name, value in payloads.items():
        page = page.replace("{{" + name + "}}", page_json(value))
    for name, text in (texts or {}).items():
        if "</" in text:
            raise ValueError(f"{name}: text holds '</', which would end its element")
        page = page.replace("{{" + name + "}}", text)
    return page


def write_report(
    path: str | os.PathLike[str],
    detections: gpd.GeoDataFrame,
    images: Sequence[str | os.PathLike[str]] = (),
    *,
    title: str = "Data centers found",
    colour_by: str = "score",
    overwrite: bool = False,
) -> Path:
    """Write a self-contained HTML map report, atomically.

    Args:
        path: the HTML file.
        detections: detections in EPSG:4326; with a ``status`` column (e.g. ``new``,
            ``gone``, ``unchanged``) and ``colour_by="status"`` for change reports.
        images: rasters to show under the detections.
        title: the page's title.
        colour_by: ``score`` or ``status``.
        overwrite: whether an existing file may be replaced.

    Returns:
        The path written.

    Raises:
        TGDCError: if the file exists and *overwrite* is false, or its directory is
            missing.
    """
    return write_page(
        path,
        lambda: render_report(detections, images, title=title, colour_by=colour_by),
        size=page_bytes(len(detections), len(images)),
        overwrite=overwrite,
    )


def write_run_report(path: Path, detections: gpd.GeoDataFrame, run: RunRecord) -> Path:
    """Write the map report of a run: the writer of the ``report`` output format.

    Args:
        path: the HTML file.
        detections: the run's detections (EPSG:4326).
        run: the rest of the run: the images shown under the detections.

    Returns:
        The path written.

    Raises:
        TGDCError: see :func:`write_report`.
    """
    return write_report(path, detections, run.images, overwrite=run.overwrite)


#: File name extensions of an HTML page (a browser opens the file by them).
PAGE_EXTENSIONS = (".html", ".htm")


def check_page_path(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check that an HTML page (a map report, a review page) can be written at *path*.

    Args:
        path: the page's file.
        overwrite: whether an existing file may be replaced.

    Returns:
        The path as a :class:`~pathlib.Path`.

    Raises:
        TGDCError: if its name does not end in ``.html`` (or ``.htm``), which a browser
            needs to open it as a page; or see
            :func:`~torchgeo_datacenters.utils.check_output_path`.
    """
    path = Path(path)
    return check_output_path(
        path,
        overwrite=overwrite,
        suffixes=PAGE_EXTENSIONS,
        wrong_suffix="an HTML page is written here, and a browser opens it by its name; give a"
        f" file name ending in .html (e.g. {path.with_suffix('.html').name})",
    )


def write_page(
    path: str | os.PathLike[str],
    render: Callable[[], str],
    *,
    size: int,
    overwrite: bool = False,
) -> Path:
    """Write an HTML page atomically: built into a temporary file, renamed into place.

    Args:
        path: the HTML file.
        render: builds the page (called once the output is staged, so that a page that
            fails to build leaves nothing).
        size: the most bytes the page takes (see :func:`.space.page_bytes`), checked free
            before it is built.
        overwrite: whether an existing file may be replaced.

    Returns:
        The path written.

    Raises:
        TGDCError: if its name does not end in ``.html``, the file exists and
            *overwrite* is false, its directory is missing, or its file system has less
            than *size* bytes free.
    """
    check_free_space({check_page_path(path, overwrite=overwrite): size})
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(render(), encoding="utf-8")
    return Path(path)
