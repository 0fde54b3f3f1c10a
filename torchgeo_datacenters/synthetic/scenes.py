"""Writing SYNTHETIC scenes: one GeoTIFF with its labels, or a set with ``labels.geojson``."""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin
from shapely.geometry.base import BaseGeometry
from tqdm import tqdm

from ..errors import TGDCError
from ..naip import BANDS, DTYPE, GSD
from ..utils import atomic_output, check_output_dir, check_output_path
from .buildings import (
    BUILDINGS,
    COLD_STORAGE_BUILDINGS,
    DATACENTER,
    LOOKALIKE_BUILDINGS,
    datacenter_parts,
)
from .canvas import Canvas, box_polygon, pixel_bounds
from .checks import (
    check_count,
    check_datacenters,
    check_grid,
    check_number,
    check_seed,
    check_size,
)
from .ground import LANDSCAPES, finish, paint_background, paint_houses, paint_ponds, paint_roads
from .parts import Site
from .sites import paint_site, place

MIN_COMPLETE_SIZE = 256
"""Smallest scene side, in pixels, that is sure to hold every kind of labelled object."""

SCENE_GAP = 5000.0
"""Gap between neighbouring scenes written by :func:`generate_scenes`, in metres."""

DEFAULT_ORIGIN = (500000.0, 4400000.0)
"""Upper-left corner of the first scene, in CRS units (UTM easting and northing, metres)."""

_SCENES_PER_ROW = 8

CLASSES = tuple(BUILDINGS)
"""Label classes, as in the seed label file; only ``datacenter`` has ``label`` true."""

_NEGATIVES = tuple(spec for spec in BUILDINGS.values() if not spec.label)

DESCRIPTION = (
    f"SYNTHETIC NAIP-like scene ({', '.join(BANDS)}) drawn by torchgeo_datacenters.synthetic;"
    " not real imagery"
)

_DATACENTERS_PER_MPX = 0.75  # default counts per 1024 x 1024 pixels
_NEGATIVES_PER_MPX = 2.5


@dataclass(frozen=True)
class SyntheticDataset:
    """The files written by :func:`generate_scenes` (SYNTHETIC imagery).

    Attributes:
        scene_paths: the scene GeoTIFFs, in order.
        labels_path: the ``labels.geojson`` file with the labels of every scene.
        labels: those labels in CRS84 (columns fid, class, name, label, scene, geometry).
    """

    scene_paths: list[Path]
    labels_path: Path
    labels: gpd.GeoDataFrame


def _negative_kinds(rng: np.random.Generator, count: int) -> list[str]:
    """Return the classes of *count* hard negatives: one of each first, then by seed shares."""
    names = [spec.name for spec in _NEGATIVES]
    kinds = names[:count]
    shares = [spec.share for spec in _NEGATIVES]
    extra = rng.choice(names, size=max(0, count - len(kinds)), p=shares)
    return kinds + [str(k) for k in extra]


def _labels(
    objects: list[tuple[str, BaseGeometry]], bounds: shapely.Polygon, crs: CRS, scene: str
) -> gpd.GeoDataFrame:
    """Build the label table of one scene in CRS84."""
    stem = Path(scene).stem
    numbers = dict.fromkeys(CLASSES, 0)
    rows = []
    for kind, polygon in objects:
        numbers[kind] += 1
        clipped = shapely.union_all(
            [p for p in shapely.get_parts(polygon.intersection(bounds)) if p.area > 0]
        )
        rows.append((kind, f"{stem}_{kind}_{numbers[kind]}", clipped))
    frame = gpd.GeoDataFrame(
        {
            "fid": pd.Series(np.arange(1, len(rows) + 1), dtype="int64"),
            "class": pd.Series([r[0] for r in rows], dtype=object),
            "name": pd.Series([r[1] for r in rows], dtype=object),
            "label": pd.Series([BUILDINGS[r[0]].label for r in rows], dtype=bool),
            "scene": pd.Series([scene] * len(rows), dtype=object),
        },
        geometry=gpd.GeoSeries([r[2] for r in rows], crs=crs.to_wkt()),
    )
    return frame.to_crs("OGC:CRS84")


def generate_scene(
    path: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] = 2048,
    seed: int = 0,
    crs: str = "EPSG:32617",
    origin: tuple[float, float] = DEFAULT_ORIGIN,
    gsd: float = GSD,
    n_datacenters: int | None = None,
    n_negatives: int | None = None,
    datacenters: Sequence[shapely.Polygon] | None = None,
    scene_name: str | None = None,
    lookalike_warehouses: bool = False,
    cold_storage: bool = False,
    landscape: str = "mixed",
    overwrite: bool = False,
) -> gpd.GeoDataFrame:
    """Draw one SYNTHETIC NAIP-like scene and write it as a GeoTIFF.

    The GeoTIFF has 4 ``uint8`` bands (R, G, B, NIR, no nodata value), 256 x 256 tiles and
    deflate compression, and is written atomically. The same arguments always give the same
    pixels and labels on any CPU, and a byte-identical file under the same GDAL version.

    Args:
        path: the GeoTIFF to write.
        size: scene side in pixels, or (height, width), from :data:`MIN_SIZE` to
            :data:`MAX_SIZE`.
        seed: random seed (whole number >= 0).
        crs: projected CRS in metres of the scene (a UTM zone, as NAIP).
        origin: upper-left corner (x, y) of the scene in *crs* units.
        gsd: pixel size in metres.
        n_datacenters: number of random data centers (default: about 0.75 per 1024 x 1024
            pixels, at least 1). Must be None or ``len(datacenters)`` when *datacenters* is
            given.
        n_negatives: number of warehouses, retail and other buildings (default: about 2.5
            per 1024 x 1024 pixels, at least 3; one of each kind first). Objects that do not
            fit are left out.
        datacenters: explicit data-center roof footprints in *crs* coordinates, drawn
            instead of random ones; they may extend beyond the scene.
        scene_name: value of the ``scene`` label column (default: the file name).
        lookalike_warehouses: draw warehouses as large and bright as data centers
            (:data:`~.buildings.LOOKALIKE_BUILDINGS`), the hard case for a model.
        cold_storage: draw warehouses as cold stores: as large and bright as data centers
            and with rows of rooftop condensers like a data center's cooling units over part
            of the roof (:data:`~.buildings.COLD_STORAGE_BUILDINGS`), a harder case still.
        landscape: the ground (:data:`~.ground.LANDSCAPES`): ``mixed`` (grass, soil and
            trees with blocks of houses), ``farmland`` or ``forest`` (no houses). With
            ``n_datacenters=0`` and ``n_negatives=0`` a scene holds no labelled building.
        overwrite: whether an existing *path* may be replaced.

    Returns:
        The labels of the scene in CRS84: one row per labelled building with columns
        ``fid``, ``class`` (datacenter, warehouse, retail or other), ``name``, ``label``
        (true for data centers), ``scene`` and ``geometry`` (roof footprint clipped to the
        scene; the roof pixels are those whose centres it holds).

    Raises:
        TGDCError: if an argument is invalid or *path* exists and *overwrite* is false.
    """
    height, width = check_size(size)
    seed = check_seed(seed)
    parsed_crs, gsd = check_grid(crs, gsd)
    if len(origin) != 2:
        raise TGDCError(f"origin: {origin!r} is not an (x, y) pair in CRS units")
    x0, y0 = (check_number("origin", v) for v in origin)
    check_count("n_datacenters", n_datacenters)
    check_count("n_negatives", n_negatives)
    if landscape not in LANDSCAPES:
        raise TGDCError(f"landscape: {landscape!r} is not one of {', '.join(LANDSCAPES)}")
    path = check_output_path(path, overwrite=overwrite)
    transform = from_origin(x0, y0, gsd, gsd)
    bounds = box_polygon(transform, (0, 0, height, width))
    explicit = [] if datacenters is None else check_datacenters(datacenters, bounds, crs)
    if datacenters is not None and n_datacenters not in (None, len(explicit)):
        raise TGDCError(
            f"n_datacenters: {n_datacenters} disagrees with the {len(explicit)} footprints in"
            " datacenters; leave n_datacenters unset"
        )

    rng = np.random.default_rng(seed)
    buildings = (
        COLD_STORAGE_BUILDINGS
        if cold_storage
        else LOOKALIKE_BUILDINGS
        if lookalike_warehouses
        else BUILDINGS
    )
    scene = Canvas(rng, height, width, gsd, transform, buildings)
    megapixels = height * width / 2**20
    if n_datacenters is None:
        n_datacenters = max(1, round(_DATACENTERS_PER_MPX * megapixels))
    if n_negatives is None:
        n_negatives = max(3, round(_NEGATIVES_PER_MPX * megapixels))

    paint_background(scene, landscape)
    paint_roads(scene)
    roofs = [pixel_bounds(transform, polygon) for polygon in explicit]
    for roof in roofs:
        scene.occupy(roof)
    sites = []
    for roof in roofs:
        parts = [part for part in datacenter_parts(scene, roof) if scene.is_free(part.box)]
        for part in parts:
            scene.occupy(part.box)
        sites.append(Site(DATACENTER.name, [roof], parts))
    for site in sites:
        scene.occupy(site.bounds(), scene.margin)
    random_dcs = 0 if explicit else n_datacenters
    negatives = _negative_kinds(rng, n_negatives)
    queue = [(kind, i == 0) for i, kind in enumerate([DATACENTER.name] * random_dcs)]
    queue += [(kind, i < len(_NEGATIVES)) for i, kind in enumerate(negatives)]
    queue.sort(key=lambda item: not item[1])
    placed = [found for kind, required in queue if (found := place(scene, kind, required))]
    paint_ponds(scene)
    if landscape == "mixed":
        paint_houses(scene)

    objects = [
        (DATACENTER.name, paint_site(scene, s, p)) for s, p in zip(sites, explicit, strict=True)
    ]
    objects += [(site.kind, paint_site(scene, site)) for site in placed]
    image = finish(scene)

    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 4,
        "dtype": DTYPE,
        "crs": parsed_crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 2,
        "interleave": "pixel",
        "zlevel": 1,
        "photometric": "RGB",
        "num_threads": "ALL_CPUS",
    }
    with atomic_output(path, overwrite=overwrite) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(image)
        dst.descriptions = BANDS
        dst.colorinterp = [
            ColorInterp.red,
            ColorInterp.green,
            ColorInterp.blue,
            ColorInterp.undefined,
        ]
        dst.update_tags(
            TIFFTAG_IMAGEDESCRIPTION=DESCRIPTION,
            SYNTHETIC="yes",
            GENERATOR="torchgeo_datacenters.synthetic",
            SEED=str(seed),
        )
    return _labels(objects, bounds, parsed_crs, scene_name if scene_name is not None else path.name)


def scene_origin(index: int, size: int | tuple[int, int], gsd: float = GSD) -> tuple[float, float]:
    """Return the upper-left corner of scene *index* of a set written by :func:`generate_scenes`.

    Scenes lie on a grid, eastward then southward from :data:`DEFAULT_ORIGIN`, eight to a
    row, with :data:`SCENE_GAP` metres between neighbours, so that no two scenes overlap and
    whole scenes can be split by geography.

    Args:
        index: position of the scene in the set (0, 1, ...).
        size: scene side in pixels, or (height, width).
        gsd: pixel size in metres.

    Returns:
        The corner (x, y) in CRS units.

    Raises:
        TGDCError: if *index* is negative or *size* invalid.
    """
    height, width = check_size(size)
    if index < 0:
        raise TGDCError(f"index: {index} is negative; scenes are numbered from 0")
    row, col = divmod(index, _SCENES_PER_ROW)
    return (
        DEFAULT_ORIGIN[0] + col * (width * gsd + SCENE_GAP),
        DEFAULT_ORIGIN[1] - row * (height * gsd + SCENE_GAP),
    )


def generate_scenes(
    output_dir: str | os.PathLike[str],
    *,
    size: int | tuple[int, int] = 2048,
    count: int = 4,
    seed: int = 0,
    crs: str = "EPSG:32617",
    gsd: float = GSD,
    lookalike_warehouses: bool = False,
    cold_storage: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> SyntheticDataset:
    """Write a set of SYNTHETIC NAIP-like scenes and their ``labels.geojson``.

    Writes ``scene_000.tif``, ``scene_001.tif``, ... (see :func:`generate_scene`) at the
    places given by :func:`scene_origin`, and ``labels.geojson``: the labels of every scene
    in CRS84 with the columns of the seed label file (``fid``, unique in the file,
    ``class``, ``name``, ``label``) plus ``scene``, the scene's file name. Each scene gets its
    own seed derived from *seed* and its index.

    Args:
        output_dir: directory for the files (created if missing).
        size: scene side in pixels, or (height, width).
        count: number of scenes (1 to 1000).
        seed: random seed (whole number >= 0).
        crs: projected CRS in metres (a UTM zone).
        gsd: pixel size in metres.
        lookalike_warehouses: draw warehouses as large and bright as data centers (see
            :func:`generate_scene`).
        cold_storage: draw warehouses as cold stores with rooftop condensers (see
            :func:`generate_scene`).
        overwrite: whether existing scene and label files may be replaced.
        progress: whether to show a progress bar over scenes.

    Returns:
        The paths written and the labels.

    Raises:
        TGDCError: if an argument is invalid, *output_dir* is a file, or an output exists
            and *overwrite* is false.
    """
    height, width = check_size(size)
    seed = check_seed(seed)
    if not isinstance(count, int | np.integer) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise TGDCError(f"count: {count!r} is out of range; give 1 to 1000 scenes")
    check_grid(crs, gsd)  # before the directory is created: a refusal leaves none
    output_dir = check_output_dir(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    scene_paths = [output_dir / f"scene_{i:03d}.tif" for i in range(count)]
    labels_path = output_dir / "labels.geojson"
    for path in [*scene_paths, labels_path]:
        check_output_path(path, overwrite=overwrite)

    frames = []
    for i, path in enumerate(tqdm(scene_paths, desc="synth", unit="scene", disable=not progress)):
        frames.append(
            generate_scene(
                path,
                size=(height, width),
                seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
                crs=crs,
                origin=scene_origin(i, (height, width), gsd),
                gsd=gsd,
                lookalike_warehouses=lookalike_warehouses,
                cold_storage=cold_storage,
                overwrite=overwrite,
            )
        )
    labels = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
    labels["fid"] = np.arange(1, len(labels) + 1, dtype="int64")
    with atomic_output(labels_path, overwrite=overwrite) as tmp:
        labels.to_file(tmp, driver="GeoJSON", layer="labels")
    return SyntheticDataset(scene_paths=scene_paths, labels_path=labels_path, labels=labels)
