"""``tgdc compare``: detections against public inventories over the area scanned."""

import argparse
from pathlib import Path
from typing import Any

from .extra_outputs import (
    add_status_report,
    check_status_report,
    status_report_sizes,
    write_status_report,
)

#: Files written to ``--output-dir``, by kind.
OUTPUT_FILES = {
    "matched": "matched.geojson",
    "candidates": "candidates.geojson",
    "missed": "missed.geojson",
    "scores": "scores.csv",
    "summary": "summary.txt",
}

#: The footprint a scan writes beside its detections, used when --footprint is not given.
SCAN_FOOTPRINT = "footprint.geojson"


def register(subparsers: Any) -> None:
    """Add the ``compare`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "compare",
        help="compare detections with inventories (IM3, OpenStreetMap) over the scanned area",
        description=(
            "Match detections with the sites of public inventories over the area scanned:"
            " polygon sites by overlap, point sites by falling in or near a detection. Writes"
            f" {', '.join(OUTPUT_FILES.values())} to --output-dir: detections matched (with"
            " inventory ids and names), detections in no inventory ranked by score and area,"
            " inventory sites in the area that were not detected, and precision, recall and"
            " F1 per inventory; prints a summary."
        ),
    )
    parser.add_argument(
        "--detections",
        type=Path,
        required=True,
        metavar="FILE[:LAYER]",
        help="detections to compare (:LAYER names one layer of a file with several, as in"
        " every vector file below)",
    )
    parser.add_argument(
        "--inventory",
        type=Path,
        action="append",
        required=True,
        metavar="FILE[:LAYER]",
        help="an inventory of sites (polygons and/or points); repeat for several",
    )
    parser.add_argument(
        "--footprint",
        type=Path,
        nargs="+",
        metavar="FILE[:LAYER]",
        help="the area scanned: vector files of polygons and/or the scanned GeoTIFFs (their"
        f" valid pixels) (default: {SCAN_FOOTPRINT} beside --detections, as tgdc scan writes)",
    )
    parser.add_argument(
        "--point-distance",
        type=float,
        default=argparse.SUPPRESS,
        metavar="METRES",
        help="a point site matches a detection it lies in or within this distance (default: 50)",
    )
    parser.add_argument(
        "--output-dir", type=Path, required=True, metavar="DIR", help="where to write (created)"
    )
    add_status_report(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def footprint_paths(args: argparse.Namespace) -> list[Path]:
    """The files giving the scanned area.

    Args:
        args: the parsed arguments.

    Returns:
        ``--footprint``, else the scan's footprint beside the detections.

    Raises:
        TGDCError: if neither is there.
    """
    from ..errors import TGDCError

    if args.footprint:
        return args.footprint
    beside = args.detections.parent / SCAN_FOOTPRINT
    if beside.is_file():
        return [beside]
    raise TGDCError(
        f"{args.detections}: no {SCAN_FOOTPRINT} beside it; give --footprint, the area"
        " scanned (a vector file of polygons, or the scanned GeoTIFFs)"
    )


def run(args: argparse.Namespace) -> int:
    """Compare, write the outputs and print the summary.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    import contextlib

    from ..detections.compare import compare_inventories, read_inventory, site_statuses
    from ..detections.files import read_vector, save_vector
    from ..detections.footprint import read_footprint
    from ..errors import TGDCError
    from ..outputs.space import check_free_space
    from ..utils import atomic_output, check_output_dir, check_output_path

    directory = args.output_dir
    if directory.exists() and not directory.is_dir():
        raise TGDCError(f"{directory}: is a file; give a directory as --output-dir")
    check_output_dir(directory)
    paths = {kind: directory / name for kind, name in OUTPUT_FILES.items()}
    if directory.is_dir():
        for path in paths.values():
            check_output_path(path, overwrite=args.overwrite)
    elif not directory.parent.is_dir():
        raise TGDCError(f"{directory}: its directory {directory.parent} does not exist")
    check_status_report(args)
    detections = read_vector(args.detections, "detections")
    inventories = [read_inventory(path) for path in args.inventory]
    footprint = read_footprint(footprint_paths(args))
    check_free_space(output_sizes(args, paths, detections, inventories))
    options = {"point_distance": args.point_distance} if "point_distance" in args else {}
    result = compare_inventories(detections, inventories, footprint, **options)
    directory.mkdir(exist_ok=True)
    summary = result.summary()
    with contextlib.ExitStack() as stack:
        staged = {
            kind: stack.enter_context(atomic_output(path, overwrite=args.overwrite))
            for kind, path in paths.items()
        }
        for kind, table in (
            ("matched", result.matched),
            ("candidates", result.unmatched),
            ("missed", result.missed),
        ):
            save_vector(table, staged[kind], paths[kind])
        result.scores.to_csv(staged["scores"], index=False, float_format="%.4f")
        staged["summary"].write_text(summary + "\n", encoding="utf-8")
        sites = site_statuses(result, **options)
        reports = write_status_report(args, sites, title="Detections against inventories")
    print(summary)
    for kind, path in {**paths, **reports}.items():
        print(f"{kind}: {path}")
    return 0


def output_sizes(
    args: argparse.Namespace, paths: dict[str, Path], detections: Any, inventories: list[Any]
) -> dict[Path, int]:
    """The most bytes of every output, for the free-space check before the comparison.

    Matched rows are at most one per detection and inventory, candidates at most the
    detections, missed sites at most the inventories' sites; the scores and the summary
    take a CSV row per inventory and per line of the summary.

    Args:
        args: the parsed arguments.
        paths: output kind to file (see :data:`OUTPUT_FILES`).
        detections: the detections read.
        inventories: the inventories read.

    Returns:
        Bytes by path.
    """
    from ..detections.compare import CANDIDATES_SHOWN
    from ..outputs.space import table_bytes, vector_format

    outlines = list(detections.geometry)
    sites = [site for inventory in inventories for site in inventory.sites.geometry]
    csv = vector_format(paths["scores"])
    lines = len(inventories) + CANDIDATES_SHOWN + len(OUTPUT_FILES)
    return {
        paths["matched"]: table_bytes(vector_format(paths["matched"]), outlines * len(inventories)),
        paths["candidates"]: table_bytes(vector_format(paths["candidates"]), outlines),
        paths["missed"]: table_bytes(vector_format(paths["missed"]), sites),
        paths["scores"]: table_bytes(csv, len(inventories) + 1),
        paths["summary"]: table_bytes(csv, lines),
        **status_report_sizes(args, len(outlines) + len(sites)),
    }
