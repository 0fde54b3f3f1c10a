"""``tgdc change``: which data centers are new, growing, shrinking or gone between vintages."""

import argparse
from pathlib import Path
from typing import Any

from .extra_outputs import (
    add_status_report,
    check_status_report,
    status_report_sizes,
    write_status_report,
)

#: Command-line definition of each change setting, by keyword of ``track_changes``; the
#: defaults are the library's (stated in the help, left out of the namespace when not given).
CHANGE_ARGUMENTS: dict[str, dict[str, Any]] = {
    "pixel_size": {
        "metavar": "METRES",
        "help": "coarsest pixel size of the vintages: area changes within a band this wide"
        " along a site's outline are not growth (default: 1, NAIP's 1 m before 2016)",
    },
    "min_growth": {
        "metavar": "FRACTION",
        "help": "smallest change of area, as a fraction of the first year's, counted as"
        " expanded or shrunk (default: 0.1)",
    },
    "min_score": {
        "metavar": "P",
        "help": "a site seen in one vintage only with no score this high is `uncertain`"
        " (default: 0.7)",
    },
}


def add_change_options(parser: argparse.ArgumentParser) -> None:
    """Add the settings of the change step (also used by ``tgdc scan --years``).

    Args:
        parser: the subcommand's parser.
    """
    options = parser.add_argument_group("change between vintages")
    for name, definition in CHANGE_ARGUMENTS.items():
        flag = "--" + name.replace("_", "-")
        options.add_argument(flag, type=float, default=argparse.SUPPRESS, **definition)


def change_settings(args: argparse.Namespace) -> dict[str, float]:
    """The change settings given on the command line.

    Args:
        args: the parsed arguments.

    Returns:
        Keyword arguments of :func:`~torchgeo_datacenters.detections.change.track_changes`.
    """
    return {name: getattr(args, name) for name in CHANGE_ARGUMENTS if hasattr(args, name)}


def register(subparsers: Any) -> None:
    """Add the ``change`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "change",
        help="compare detections of several NAIP years: new, expanded, shrunk, gone sites",
        description=(
            "Match the data centers detected in several NAIP vintages of one area (files of"
            " tgdc detect or tgdc scan, any order) by overlapping polygons, and give every"
            " site its status (new, expanded, unchanged, shrunk, gone; uncertain when seen"
            " once with a low score), first and last acquisition dates, area per year,"
            " growth and the polygon of its latest vintage."
        ),
    )
    parser.add_argument(
        "--detections",
        nargs="+",
        required=True,
        metavar="FILE[:LAYER][@YYYY-MM-DD]",
        help="detection files of two or more years (:LAYER names one layer of a file with"
        " several); each detection's date is its `acquired` property, or the date given"
        " after @ for the whole file",
    )
    parser.add_argument(
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="the sites: .geojson (RFC 7946), .gpkg or .parquet",
    )
    add_status_report(parser)
    add_change_options(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Track the sites through the vintages, write them and print a summary.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    from ..detections.change import read_vintage, summarize, track_changes
    from ..detections.files import check_vector_output, write_vector
    from ..outputs.space import check_free_space, table_bytes, vector_format

    check_vector_output(args.output, overwrite=args.overwrite)
    check_status_report(args)
    vintages = [read_vintage(spec) for spec in args.detections]
    # Every site holds one detection at least: no more sites than detections.
    outlines = [outline for vintage in vintages for outline in vintage.detections.geometry]
    check_free_space(
        {
            args.output: table_bytes(vector_format(args.output), outlines),
            **status_report_sizes(args, len(outlines)),
        }
    )
    sites = track_changes(vintages, **change_settings(args))
    write_vector(sites, args.output, overwrite=args.overwrite)
    print(f"output: {args.output}")
    for kind, path in write_status_report(args, sites, title="Change between vintages").items():
        print(f"{kind}: {path}")
    print(f"tgdc change: {summarize(sites)}")
    return 0
