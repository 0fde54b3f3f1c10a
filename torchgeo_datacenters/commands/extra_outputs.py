"""The ``--output-stac``, ``--output-report`` and ``--output-review`` options of the commands.

One definition per option in :data:`EXTRA_OUTPUTS` (flag, metavar, help), added by
:func:`add_extra_outputs`, checked before any work by :func:`check_extra_outputs` and
written after the run by :func:`write_extra_outputs`, so every command offers them alike.
Commands whose rows are sites with a status (``tgdc change``, ``tgdc compare``) offer the
report alone, with optional imagery: :func:`add_status_report`, :func:`write_status_report`.

They are not formats of :data:`~torchgeo_datacenters.outputs.FORMATS`: a registered format
writes one file from the detection table alone (or a raster band by band), inside the
predictor's atomic staging, and so is offered alike by ``Predictor.predict``, every Ray
worker and the scan's file list. These two are written by the command once the run is
over, from what only the command holds: the checkpoint file (the STAC item's model link),
the provenance of every image read, the mask COG the run wrote and the images to show; the
STAC output is a directory of several files, and the report is also written for ``tgdc
change`` and ``tgdc compare``, whose rows are not detections. The review page (see
:mod:`~torchgeo_datacenters.outputs.review`) cuts a chip around every detection from the
imagery and orders them by the run's threshold, which only the command holds.
"""

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Each extra output: argument name to its command-line definition.
EXTRA_OUTPUTS: dict[str, dict[str, Any]] = {
    "output_stac": {
        "metavar": "DIR",
        "help": "STAC collection of the run (created): the detections as a label item with"
        " GeoParquet and GeoJSON assets (and the mask COG), linked to the imagery and to the"
        " model (MLM extension)",
    },
    "output_report": {
        "metavar": "FILE",
        "help": "self-contained HTML map report: imagery, detections coloured by score (by"
        " status for change and compare), a sortable table; opens offline in any browser",
    },
    "output_review": {
        "metavar": "FILE",
        "help": "self-contained HTML review page: every detection with an image chip,"
        " uncertain first, judged with one key each (accept, reject as warehouse/retail/other),"
        " missed sites drawn on the map; exports the verdicts as a label file for"
        " `tgdc labels merge` (as `tgdc review` writes)",
    },
}


def _add(parser: argparse.ArgumentParser, name: str) -> None:
    """Add one extra output's flag.

    Args:
        parser: the subcommand's parser.
        name: its key in :data:`EXTRA_OUTPUTS`.
    """
    parser.add_argument("--" + name.replace("_", "-"), type=Path, **EXTRA_OUTPUTS[name])


def add_extra_outputs(parser: argparse.ArgumentParser) -> None:
    """Add ``--output-stac``, ``--output-report`` and ``--output-review`` to a command.

    Args:
        parser: the subcommand's parser.
    """
    for name in EXTRA_OUTPUTS:
        _add(parser, name)


def add_status_report(parser: argparse.ArgumentParser) -> None:
    """Add ``--output-report`` and ``--image`` to a command whose sites have a status.

    Args:
        parser: the subcommand's parser.
    """
    _add(parser, "output_report")
    parser.add_argument(
        "--image",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE",
        help="georeferenced rasters shown under the sites in --output-report (default: none)",
    )


def check_status_report(args: argparse.Namespace) -> None:
    """Check, before any work, that the report can be written and its imagery read.

    Args:
        args: the parsed arguments (with ``output_report``, ``image``, ``overwrite``).

    Raises:
        TGDCError: if the report exists without ``--overwrite``, its directory is missing,
            or an image is not a georeferenced raster.
    """
    from ..errors import TGDCError
    from ..utils import check_output_path

    if args.output_report is None:
        if args.image:
            raise TGDCError(f"{args.image[0]}: --image is shown only in --output-report; give it")
        return
    check_output_path(args.output_report, overwrite=args.overwrite)
    check_images(args.image)


def check_images(images: Sequence[Path]) -> None:
    """Check, before any work, that the rasters a page shows are georeferenced rasters.

    Args:
        images: the rasters.

    Raises:
        TGDCError: if one is not a readable raster or has no CRS.
    """
    import rasterio

    from ..errors import TGDCError

    for image in images:
        try:
            with rasterio.open(image) as src:
                georeferenced = src.crs is not None
        except rasterio.errors.RasterioIOError as error:
            raise TGDCError(f"{image}: not a readable raster ({error}); give a GeoTIFF") from None
        if not georeferenced:
            raise TGDCError(f"{image}: has no CRS; give a georeferenced raster")


def status_report_sizes(args: argparse.Namespace, sites: int) -> dict[Path, int]:
    """The most bytes of ``--output-report``, for the free-space check before the work.

    Args:
        args: the parsed arguments (with ``output_report`` and ``image``).
        sites: the most sites the report shows.

    Returns:
        The report's path to its bytes (see :func:`~torchgeo_datacenters.outputs.space.page_bytes`),
        or nothing when no report is asked for.
    """
    from ..outputs.space import page_bytes

    if args.output_report is None:
        return {}
    return {args.output_report: page_bytes(sites, len(args.image))}


def write_status_report(args: argparse.Namespace, sites: Any, *, title: str) -> dict[str, Path]:
    """Write the report of sites coloured by status, if asked for.

    Args:
        args: the parsed arguments (with ``output_report``, ``image``, ``overwrite``).
        sites: the sites (EPSG:4326) with a ``status`` column.
        title: the page's title.

    Returns:
        ``report`` to the file written, or nothing.
    """
    if args.output_report is None:
        return {}
    from ..outputs.report import write_report

    report = write_report(
        args.output_report,
        sites,
        args.image,
        title=title,
        colour_by="status",
        overwrite=args.overwrite,
    )
    return {"report": report}


def check_extra_outputs(args: argparse.Namespace) -> None:
    """Check, before any work, that the extra outputs asked for can be written.

    Args:
        args: the parsed arguments (with ``overwrite``).

    Raises:
        TGDCError: if a directory is missing or an output exists without ``--overwrite``.
    """
    from ..utils import check_output_path

    if args.output_stac is not None:
        from ..outputs.stac import check_stac_directory

        check_stac_directory(args.output_stac, overwrite=args.overwrite)
    for name in ("output_report", "output_review"):
        if getattr(args, name) is not None:
            check_output_path(getattr(args, name), overwrite=args.overwrite)


def write_extra_outputs(
    args: argparse.Namespace,
    detections: Any,
    provenances: Sequence[Any],
    *,
    item_id: str,
    images: Sequence[str | os.PathLike[str]] = (),
    mask: str | os.PathLike[str] | None = None,
    threshold: float | None = None,
) -> dict[str, Path]:
    """Write the extra outputs asked for.

    Args:
        args: the parsed arguments (with ``checkpoint`` and ``overwrite``).
        detections: the run's detections (EPSG:4326).
        provenances: the imagery read (see :mod:`~torchgeo_datacenters.outputs.provenance`).
        item_id: id of the STAC item of the run.
        images: rasters shown in the report and the review page (its chips).
        mask: the mask COG written by the run, if any.
        threshold: the run's probability threshold (None: the checkpoint's, or
            ``--threshold`` where given), which orders the review page.

    Returns:
        Output kind (``stac``, ``report``, ``review``) to the file written.
    """
    written: dict[str, Path] = {}
    if args.output_stac is not None:
        from ..inference.model import read_checkpoint_facts
        from ..outputs.stac import write_stac

        written["stac"] = write_stac(
            args.output_stac,
            detections,
            provenances,
            read_checkpoint_facts(args.checkpoint),
            item_id=item_id,
            mask=mask,
            overwrite=args.overwrite,
        )
    if args.output_report is not None:
        from ..outputs.report import write_report

        written["report"] = write_report(
            args.output_report, detections, images, overwrite=args.overwrite
        )
    if args.output_review is not None:
        from ..outputs.review import write_review

        if threshold is None:
            threshold = getattr(args, "threshold", None)
        if threshold is None:
            from ..inference.model import read_checkpoint_facts

            threshold = float(read_checkpoint_facts(args.checkpoint).hparams["threshold"])
        written["review"] = write_review(
            args.output_review, detections, images, threshold=threshold, overwrite=args.overwrite
        )
    return written
