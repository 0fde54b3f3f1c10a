"""``tgdc labels``: label files from what people decided on the review page."""

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``labels`` subcommand and its ``merge`` action.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "labels",
        help="label files from review verdicts (labels merge)",
        description="Turn the verdicts exported from review pages into label files.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    merge = actions.add_parser(
        "merge",
        help="join reviewed files into one label set for training",
        description=(
            "Join the verdict files exported from `tgdc review` pages into one label file in"
            " the project's schema (class, label): accepted detections become data centers"
            " with their outline, rejected ones hard negatives of the class chosen (warehouse,"
            " retail, other), drawn missed sites data centers. A site judged twice (the same"
            " detection of a run, or outlines overlapping by IoU 0.5 or more) keeps its newest"
            " verdict; each such site is listed. --base adds the verdicts to earlier labels:"
            " the labels trained on, or the previous round's merge."
        ),
    )
    merge.add_argument(
        "verdicts", type=Path, nargs="+", metavar="FILE", help="verdict files, oldest first"
    )
    merge.add_argument(
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="the label set: .geojson (RFC 7946), .gpkg or .parquet",
    )
    merge.add_argument(
        "--detections",
        type=Path,
        action="append",
        metavar="FILE",
        help="a detection file the review pages were built from (repeat for several): every"
        " verdict must judge a detection of one of them (default: not checked)",
    )
    merge.add_argument(
        "--base",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a label file (class, label) the verdicts add to, e.g. the labels the model was"
        " trained on or the previous round's merge (repeat for several); a verdict on one of"
        " its sites replaces it (default: none)",
    )
    merge.add_argument("--overwrite", action="store_true", help="replace an existing output")
    merge.set_defaults(func=run_merge)


def run_merge(args: argparse.Namespace) -> int:
    """Merge the verdict files, write the label set and print what it holds.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).

    Raises:
        TGDCError: if the files hold no verdict and no label (an empty label set); see
            also :func:`~torchgeo_datacenters.detections.verdicts.merge_verdicts`.
    """
    from ..detections.files import check_vector_output, read_detections, write_vector
    from ..detections.verdicts import merge_verdicts, run_id
    from ..errors import TGDCError

    check_vector_output(args.output, overwrite=args.overwrite)
    runs = None
    if args.detections is not None:
        runs = {}
        for path in args.detections:
            detections = read_detections(path)
            runs[run_id(detections)] = detections
    merged = merge_verdicts(args.verdicts, runs, args.base)
    if merged.labels.empty:  # nothing to train on: `torchgeo fit` refuses such a file
        raise TGDCError(
            f"{args.verdicts[0]}: no verdict and no label in the file(s) given, so the label"
            " set would be empty; judge detections on the review page and export them again"
            " (E), or add --base with the labels the model was trained on"
        )
    write_vector(merged.labels, args.output, overwrite=args.overwrite)
    for replacement in merged.replaced:
        print(f"judged twice: {replacement}")
    print(f"output: {args.output}")
    print(f"tgdc labels merge: {merged.summary()}")
    return 0
