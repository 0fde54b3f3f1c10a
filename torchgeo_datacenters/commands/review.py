"""``tgdc review``: a page on which a person judges the detections of a run."""

import argparse
from pathlib import Path
from typing import Any

from ..outputs import FORMATS
from .extra_outputs import LABELS_HELP


def register(subparsers: Any) -> None:
    """Add the ``review`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "review",
        help="write an offline HTML page to judge detections; its export feeds `tgdc labels merge`",
        description=(
            "Write one self-contained HTML page (no network needed) on which a person judges"
            " every detection of a run: an image chip around each, in turn the lowest score"
            " left (where the model's mistakes are most often) and the detection least like"
            " those before it (in score, colours inside its outline and area: the mistakes"
            " it is sure of), one key per verdict (A accept"
            " as data center; reject as W warehouse, R retail, O other; S skip; N/P next,"
            " previous; U undo), a counter of what is left, and missed sites drawn on the"
            " map (D polygon, B box). Verdicts survive a reload (browser storage, keyed by"
            " the run); E exports them as one GeoJSON label file (class, label, verdict,"
            " detection_id, score, reviewed_at, source, source_item, acquired, run, name) for"
            " `tgdc labels merge`. With"
            " --labels (the labels so far), detections on sites already labelled come last."
        ),
    )
    parser.add_argument(
        "--detections",
        type=Path,
        required=True,
        metavar="FILE",
        help="detections of one run (tgdc detect, batch-detect or scan: GeoJSON, GeoPackage,"
        " GeoParquet)",
    )
    parser.add_argument(
        "--image",
        type=Path,
        nargs="+",
        required=True,
        metavar="FILE",
        help="the GeoTIFFs the detections were found in (chips are cut from them; a"
        " detection is matched to the file its `source` names, else to one under it)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help=FORMATS["review"].help.split(" (as ")[0],
    )
    parser.add_argument(
        "--threshold",
        type=float,
        metavar="P",
        help="probability threshold the detections were found at, shown on the page"
        " (`tgdc describe CKPT` prints a checkpoint's; default: not shown)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help=LABELS_HELP,
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing page")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the review page and print where it is.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).

    Raises:
        TGDCError: if the detections are unreadable or not a detection table, an image is
            not a georeferenced raster, a label file is not one (class, label, polygons),
            the threshold is not a probability, or the page exists without ``--overwrite``.
    """
    from ..checkpoint import check_threshold
    from ..detections.files import read_detections
    from ..detections.verdicts import labelled_sites, run_id
    from ..outputs.report import check_page_path
    from ..outputs.review import write_review
    from .extra_outputs import check_images, read_labels_given

    threshold = None if args.threshold is None else check_threshold(args.threshold, "--threshold")
    check_page_path(args.output, overwrite=args.overwrite)
    check_images(args.image)
    detections = read_detections(args.detections)
    labels = read_labels_given(args.labels)
    labelled = None if labels is None else labelled_sites(detections, labels)
    page = write_review(
        args.output,
        detections,
        args.image,
        threshold=threshold,
        overwrite=args.overwrite,
        labelled=labelled,
    )
    print(f"review: {page}")
    summary = f"tgdc review: {len(detections)} detection(s) of run {run_id(detections)} to judge"
    if labelled is not None:
        known = int(labelled.notna().sum())
        summary += f" ({known} of them on sites labelled before, shown last)"
    print(summary)
    return 0
