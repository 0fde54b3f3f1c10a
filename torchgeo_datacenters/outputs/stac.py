"""A STAC catalogue of a run: the detections as a label item, the model as an MLM item.

:func:`write_stac` writes a self-contained STAC Collection (pystac) into a directory::

    DIR/collection.json
    DIR/<model>/<model>.json           the model (MLM extension)
    DIR/<run>/<run>.json               the detections (label extension)
    DIR/<run>/detections.parquet       GeoParquet asset
    DIR/<run>/detections.geojson       GeoJSON asset (RFC 7946)

The detections item uses the label extension (``label:type`` vector, one class, task
segmentation, method automated, an overview counting the detections), holds the mask COG
as a raster asset where one was written, and links (``derived_from``) to
the imagery it was found in (NAIP STAC items, or local files) with their acquisition dates,
and (``derived_from``) to the model item. :func:`model_item` describes a checkpoint with
the MLM (machine learning model) extension from its hyperparameters. The directory is
built beside its final place and renamed into place only when complete.
"""

import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import geopandas as gpd
import pystac
import shapely
from pystac.extensions.label import (
    LabelClasses,
    LabelCount,
    LabelExtension,
    LabelOverview,
    LabelType,
)
from pystac.extensions.mlm import DEFAULT_VERSION as MLM_VERSION
from pystac.extensions.mlm import SCHEMA_URI_PATTERN as MLM_SCHEMA
from pystac.extensions.raster import SCHEMA_URI as RASTER_SCHEMA

from ..checkpoint import DEFAULT_DTYPE, DEFAULT_GSD, CheckpointFacts
from ..detections.writers import write_geojson
from ..errors import TGDCError
from ..naip import DATACENTER_CLASS
from ..utils.atomic import check_output_dir, check_parent
from .formats import RunRecord
from .provenance import Provenance
from .styles import MASK_COLOURS

#: Id of the collection :func:`write_stac` writes.
COLLECTION_ID = "tgdc-detections"

#: Class name of a detection, where the checkpoint names none.
DEFAULT_CLASS = "data_center"

#: Media types of the assets.
PARQUET_TYPE = "application/vnd.apache.parquet"
CHECKPOINT_TYPE = "application/octet-stream; application=pytorch"

#: Hyperparameters recording what a model was trained from and on (see
#: :class:`~torchgeo_datacenters.tasks.DataCenterSegmentation`), kept in the MLM item.
TRAINING_RECORD = ("trained_from", "label_files", "review_runs")

#: Architecture of each model name a checkpoint may carry.
ARCHITECTURES = {"unet4": "U-Net"}


def class_name(hparams: Mapping[str, Any]) -> str:
    """The class a detection belongs to: the checkpoint's data-center class.

    Args:
        hparams: the checkpoint's hyperparameters.

    Returns:
        :data:`~torchgeo_datacenters.naip.DATACENTER_CLASS` where the class names hold it
        (binary and hard-negative checkpoints, wherever the hard negatives stand), else the
        last class name of a binary checkpoint named otherwise, else ``data_center``.
    """
    names = [str(name) for name in hparams.get("class_names") or ()]
    if DATACENTER_CLASS in names:
        return DATACENTER_CLASS
    return names[-1] if names else DEFAULT_CLASS


def model_item(checkpoint: CheckpointFacts, href: str | None = None) -> pystac.Item:
    """Describe a checkpoint as a STAC item with the MLM extension.

    Args:
        checkpoint: what the ``.ckpt`` file records
            (:func:`~torchgeo_datacenters.inference.model.read_checkpoint_facts`).
        href: the model asset's href (default: the file's absolute path).

    Returns:
        The item (no geometry: a model is not tied to a place), dated by the file.
    """
    path = checkpoint.path
    hparams, parameters = checkpoint.hparams, checkpoint.parameters
    bands = [str(band) for band in hparams.get("bands") or []] or [
        f"band{number}" for number in range(1, len(hparams["mean"]) + 1)
    ]
    patch = int(hparams.get("patch_size") or 256)
    model = str(hparams.get("model", "unet4"))
    name = class_name(hparams)
    saved = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).replace(microsecond=0)
    properties = {
        "description": f"Data-center segmentation model {path.name} ({model})",
        "mlm:name": path.stem,
        "mlm:architecture": ARCHITECTURES.get(model, model),
        "mlm:tasks": ["semantic-segmentation"],
        "mlm:framework": "pytorch",
        "mlm:framework_version": version("torch").split("+")[0],
        "mlm:total_parameters": parameters,
        "mlm:pretrained": bool(hparams.get("weights") or hparams.get("trained_from")),
        "mlm:input": [
            {
                "name": "NAIP image",
                "bands": bands,
                "input": {
                    "shape": [-1, len(bands), patch, patch],
                    "dim_order": ["batch", "channel", "height", "width"],
                    "data_type": str(hparams.get("dtype") or DEFAULT_DTYPE),
                },
                "value_scaling": [
                    {"type": "z-score", "mean": float(mean), "stddev": float(std)}
                    for mean, std in zip(hparams["mean"], hparams["std"], strict=True)
                ],
            }
        ],
        "mlm:output": [
            {
                "name": f"{name} probability",
                "tasks": ["semantic-segmentation"],
                "result": {
                    "shape": [-1, patch, patch],
                    "dim_order": ["batch", "height", "width"],
                    "data_type": "float32",
                },
                "classification:classes": [
                    {
                        "value": 1,
                        "name": name,
                        "description": f"{name}: probability at or above the threshold",
                        "color_hint": "{:02X}{:02X}{:02X}".format(*MASK_COLOURS[1][:3]),
                    }
                ],
            }
        ],
        "mlm:hyperparameters": {
            "threshold": float(hparams["threshold"]),
            "gsd": float(hparams.get("gsd") or DEFAULT_GSD),
            "patch_size": patch,
            # What training started from and learned on, where the checkpoint records it.
            **{key: hparams[key] for key in TRAINING_RECORD if hparams.get(key) not in (None, [])},
        },
    }
    item = pystac.Item(
        id=path.stem,
        geometry=None,
        bbox=None,
        datetime=saved,
        properties=properties,
        stac_extensions=[MLM_SCHEMA.format(version=MLM_VERSION), RASTER_SCHEMA],
    )
    item.add_asset(
        "model",
        pystac.Asset(
            href=href or str(path.resolve()),
            media_type=CHECKPOINT_TYPE,
            title=f"Lightning checkpoint {path.name}",
            roles=["mlm:model", "mlm:weights"],
            extra_fields={
                "mlm:artifact_type": "torch.save",
                # MLM names the input bands on the model asset with the raster extension.
                "raster:bands": [{"name": band} for band in bands],
            },
        ),
    )
    return item


def detection_item(
    item_id: str,
    detections: gpd.GeoDataFrame,
    provenances: Sequence[Provenance],
    *,
    label_class: str = DEFAULT_CLASS,
    model: str | None = None,
) -> pystac.Item:
    """A label item of a run's detections (assets are added by :func:`write_stac`).

    Args:
        item_id: the item's id.
        detections: the detections (EPSG:4326).
        provenances: the imagery read, one per raster.
        label_class: the class of every detection.
        model: the model's name, for the description.

    Returns:
        The item: the rasters' footprints as geometry, dated by their acquisitions (an
        interval where they differ; the run's time where none is known).
    """
    footprint = shapely.union_all([p.footprint for p in provenances])
    dates = sorted({date for p in provenances for date in p.dates})
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    start = end = None
    when: dt.datetime | None = now
    if dates:
        start = dt.datetime.combine(dates[0], dt.time(), dt.UTC)
        end = dt.datetime.combine(dates[-1], dt.time(23, 59, 59), dt.UTC)
        when = start if dates[0] == dates[-1] else None
    item = pystac.Item(
        id=item_id,
        geometry=shapely.geometry.mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=when,
        start_datetime=start if when is None else None,
        end_datetime=end if when is None else None,
        properties={"created": now.isoformat().replace("+00:00", "Z")},
    )
    label = LabelExtension.ext(item, add_if_missing=True)
    label.apply(
        label_description=f"Data centers found by {model or 'a trained model'}"
        " (tgdc): one polygon per site, with area_m2 and score",
        label_type=LabelType.VECTOR,
        label_properties=["class_name"],
        label_classes=[LabelClasses.create(classes=[label_class], name="class_name")],
        label_tasks=["segmentation"],
        label_methods=["automated"],
        label_overviews=[
            LabelOverview.create(
                property_key="class_name",
                counts=[LabelCount.create(name=label_class, count=len(detections))],
            )
        ],
    )
    for provenance in provenances:
        media_type = pystac.MediaType.GEOJSON if provenance.is_item else pystac.MediaType.GEOTIFF
        extra = {"acquired": provenance.acquired} if provenance.acquired else {}
        if provenance.source_item:
            extra["item"] = provenance.source_item
        # Not the label extension's "source" links: pystac resolves those as STAC objects.
        item.add_link(
            pystac.Link(
                pystac.RelType.DERIVED_FROM,
                provenance.href,
                media_type,
                provenance.name,
                extra_fields=extra,
            )
        )
    return item


def _replace_directory(staged: Path, final: Path) -> None:
    """Move a finished directory into place, replacing an existing one.

    Args:
        staged: the directory built.
        final: where it goes.
    """
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.replace(final, old / final.name)
        os.replace(staged, final)
        shutil.rmtree(old)
    else:
        os.replace(staged, final)


def check_stac_directory(directory: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check, before any work, that a STAC directory can be written.

    Args:
        directory: the catalogue's directory.
        overwrite: whether an existing one may be replaced.

    Returns:
        The directory as a path.

    Raises:
        TGDCError: if its parent is missing or not writable, it is a file, or it exists
            (and is not empty) and *overwrite* is false.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise TGDCError(f"{directory}: is a file; give a directory for the STAC output")
    check_parent(directory)
    if directory.is_dir() and any(directory.iterdir()) and not overwrite:
        raise TGDCError(f"{directory}: already exists; pass --overwrite to replace it")
    # It is staged beside itself, then renamed into place.
    check_output_dir(directory.parent)
    return directory


def write_stac(
    directory: str | os.PathLike[str],
    detections: gpd.GeoDataFrame,
    provenances: Sequence[Provenance],
    checkpoint: CheckpointFacts,
    *,
    item_id: str,
    mask: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a run's STAC collection: the detections item with its assets, and the model.

    Args:
        directory: the catalogue's directory (created; replaced with *overwrite*).
        detections: the detections (EPSG:4326), with the predictor's columns.
        provenances: the imagery read, one per raster.
        checkpoint: what the model checkpoint records
            (:func:`~torchgeo_datacenters.inference.model.read_checkpoint_facts`).
        item_id: id of the detections item (e.g. the scene's name).
        mask: the mask COG written by the run, linked as a raster asset.
        overwrite: replace an existing catalogue.

    Returns:
        The collection's JSON file.

    Raises:
        TGDCError: if the directory cannot be written (see :func:`check_stac_directory`).
    """
    final = check_stac_directory(directory, overwrite=overwrite).resolve()
    label_class = class_name(checkpoint.hparams)
    staged = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        run_dir = staged / item_id
        model_dir = final / checkpoint.path.stem
        model = model_item(checkpoint, os.path.relpath(checkpoint.path.resolve(), model_dir))
        item = detection_item(
            item_id, detections, provenances, label_class=label_class, model=model.id
        )
        run_dir.mkdir()
        labelled = detections.assign(class_name=label_class)
        labelled.to_parquet(run_dir / "detections.parquet")
        write_geojson(labelled, run_dir / "detections.geojson")
        assets = {
            "detections_geoparquet": ("detections.parquet", PARQUET_TYPE, "GeoParquet"),
            "detections_geojson": ("detections.geojson", pystac.MediaType.GEOJSON, "GeoJSON"),
        }
        for key, (name, media_type, kind) in assets.items():
            item.add_asset(
                key,
                pystac.Asset(
                    href=f"./{name}",
                    media_type=media_type,
                    title=f"Detections ({kind}, EPSG:4326)",
                    roles=["data", "labels"],
                ),
            )
        if mask is not None:
            item.add_asset(
                "mask",
                pystac.Asset(
                    href=os.path.relpath(Path(mask).resolve(), final / item_id),
                    media_type=pystac.MediaType.COG,
                    title="Detection mask (uint8: 1 data center, 0 background, 255 nodata)",
                    roles=["data", "labels-raster"],
                ),
            )
        item.add_link(
            pystac.Link(
                pystac.RelType.DERIVED_FROM,
                f"../{model.id}/{model.id}.json",
                pystac.MediaType.JSON,
                f"model {model.id}",
            )
        )
        # The item is built with its footprint's bbox.
        assert item.bbox is not None
        collection = pystac.Collection(
            id=COLLECTION_ID,
            description="Data centers found in NAIP imagery by torchgeo-datacenters",
            extent=pystac.Extent(
                pystac.SpatialExtent([item.bbox]),
                pystac.TemporalExtent(
                    [[item.common_metadata.start_datetime or item.datetime, None]]
                ),
            ),
            license="other",
        )
        collection.add_items([model, item])
        collection.normalize_hrefs(str(staged))
        collection.save(pystac.CatalogType.SELF_CONTAINED, dest_href=str(staged))
        _replace_directory(staged, final)
    finally:
        if staged.exists():
            shutil.rmtree(staged)
    return final / "collection.json"


def write_run_stac(directory: Path, detections: gpd.GeoDataFrame, run: RunRecord) -> Path:
    """Write a run's STAC collection: the writer of the ``stac`` output format.

    Args:
        directory: the catalogue's directory.
        detections: the run's detections (EPSG:4326).
        run: the rest of the run: its imagery, checkpoint, item id and mask.

    Returns:
        The collection's JSON file.

    Raises:
        TGDCError: see :func:`write_stac`.
    """
    return write_stac(
        directory,
        detections,
        run.provenances,
        run.checkpoint(),
        item_id=run.item_id,
        mask=run.mask,
        overwrite=run.overwrite,
    )
