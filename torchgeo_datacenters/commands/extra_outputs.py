"""The ``--output-stac``, ``--output-report`` and ``--output-review`` options of the commands.

They are the run formats of the output registry
(:class:`~torchgeo_datacenters.outputs.RunFormat` in
:data:`~torchgeo_datacenters.outputs.FORMATS`): written by the command once the run is
over, from the detections and what only the command holds, a
:class:`~torchgeo_datacenters.outputs.RunRecord` (the checkpoint, the provenance of every
image read, the mask COG the run wrote, the images to show, the run's threshold). Each
command that detects adds their flags with :func:`add_extra_outputs`, checks them before
any work with :func:`check_extra_outputs`, has the predictor count their bytes in its
free-space check before prediction (:func:`extra_output_paths`) and writes them with
:func:`write_extra_outputs`, so every command offers them alike. Commands whose rows are
sites with a status (``tgdc change``, ``tgdc compare``) offer the report alone, with
optional imagery: :func:`add_status_report`, :func:`write_status_report`.
"""

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..outputs import RunFormat, RunRecord, run_formats
from .arguments import help_text

if TYPE_CHECKING:
    import geopandas as gpd


def _add(parser: argparse.ArgumentParser, output: RunFormat) -> None:
    """Add one run format's flag.

    Args:
        parser: the subcommand's parser.
        output: the format.
    """
    parser.add_argument(output.flag, type=Path, metavar=output.metavar, help=help_text(output.help))


#: Help of a label file given before a review (``tgdc review --labels``, ``--review-labels``).
LABELS_HELP = (
    "a label file (class, label) given before, e.g. the previous round's `tgdc labels merge`"
    " (repeat for several): detections on its sites (IoU >= 0.5) come last on the review page,"
    " shown with the class it gives them (default: none)"
)


def add_extra_outputs(parser: argparse.ArgumentParser) -> None:
    """Add an ``--output-<kind>`` flag per run format to a command, and ``--review-labels``.

    Args:
        parser: the subcommand's parser.
    """
    for output in run_formats():
        _add(parser, output)
    parser.add_argument(
        "--review-labels",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="with --output-review: " + LABELS_HELP,
    )


def read_labels_given(paths: Sequence[Path]) -> "gpd.GeoDataFrame | None":
    """Read the label files given before a review, as one table.

    Args:
        paths: label files in the project's schema (class, label), any vector format and CRS.

    Returns:
        Their labels in EPSG:4326 (see
        :func:`~torchgeo_datacenters.detections.verdicts.read_base_labels`), or None where
        no file is given.

    Raises:
        TGDCError: if a file is unreadable or not a label file.
    """
    if not paths:
        return None
    import geopandas as gpd
    import pandas as pd

    from ..detections.verdicts import read_base_labels

    frames = [read_base_labels(path) for path in paths]
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _report_format() -> RunFormat:
    """The run format of the HTML map report, whose flag change and compare offer too."""
    (report,) = (output for output in run_formats() if output.name == "report")
    return report


def add_status_report(parser: argparse.ArgumentParser) -> None:
    """Add ``--output-report`` and ``--image`` to a command whose sites have a status.

    Args:
        parser: the subcommand's parser.
    """
    _add(parser, _report_format())
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

    if args.output_report is None:
        if args.image:
            raise TGDCError(f"{args.image[0]}: --image is shown only in --output-report; give it")
        return
    _report_format().check(args.output_report, overwrite=args.overwrite)
    check_images(args.image)


def check_images(images: Sequence[Path]) -> None:
    """Check, before any work, that the rasters a page shows are georeferenced rasters.

    Args:
        images: the rasters.

    Raises:
        TGDCError: if one is not a readable raster, or has no CRS (with the line that
            assigns one; see :func:`~torchgeo_datacenters.imagery.check_georeferenced`).
    """
    import rasterio

    from ..errors import TGDCError
    from ..imagery import check_georeferenced

    for image in images:
        try:
            with rasterio.open(image) as src:
                check_georeferenced(src, image)
        except rasterio.errors.RasterioIOError as error:
            raise TGDCError(f"{image}: not a readable raster ({error}); give a GeoTIFF") from None


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


def check_extra_outputs(args: argparse.Namespace) -> "gpd.GeoDataFrame | None":
    """Check, before any work, that the run outputs asked for can be written.

    Args:
        args: the parsed arguments (with ``overwrite`` and ``review_labels``).

    Returns:
        The labels of ``--review-labels`` (see :func:`read_labels_given`), for the
        :class:`~torchgeo_datacenters.outputs.RunRecord`; None where none are given.

    Raises:
        TGDCError: if a directory is missing, an output exists without ``--overwrite``, or
            ``--review-labels`` is given without ``--output-review`` or names a file that is
            not a label file.
    """
    from ..errors import TGDCError

    for output, path in _requested(args):
        output.check(path, overwrite=args.overwrite)
    if args.review_labels and args.output_review is None:
        raise TGDCError(
            f"{args.review_labels[0]}: --review-labels orders the review page; add"
            " --output-review FILE, or drop --review-labels"
        )
    return read_labels_given(args.review_labels)


def write_extra_outputs(
    args: argparse.Namespace, detections: "gpd.GeoDataFrame", run: RunRecord
) -> dict[str, Path]:
    """Write the run outputs asked for.

    Args:
        args: the parsed arguments.
        detections: the run's detections (EPSG:4326).
        run: the rest of the run.

    Returns:
        Output kind (``stac``, ``report``, ``review``) to the path written.
    """
    return {output.name: output.write(path, detections, run) for output, path in _requested(args)}


def extra_output_paths(args: argparse.Namespace) -> dict[str, Path]:
    """The run outputs asked for, for the free-space check before prediction.

    Args:
        args: the parsed arguments.

    Returns:
        Output kind to path (see ``run_outputs`` of
        :meth:`~torchgeo_datacenters.inference.Predictor.predict`).
    """
    return {output.name: path for output, path in _requested(args)}


def _requested(args: argparse.Namespace) -> list[tuple[RunFormat, Path]]:
    """The run outputs given on the command line, with their paths.

    Args:
        args: the parsed arguments.

    Returns:
        (format, path) per run format given, in the registry's order.
    """
    given = ((output, getattr(args, output.keyword, None)) for output in run_formats())
    return [(output, path) for output, path in given if path is not None]
