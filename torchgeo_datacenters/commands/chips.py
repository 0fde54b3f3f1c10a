"""``tgdc chips``: write a mask GeoTIFF for every image chip from a label file."""

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``chips`` subcommand.

    Args:
        subparsers: the ``tgdc`` subcommand registry.
    """
    parser = subparsers.add_parser(
        "chips",
        help="write training masks for a directory of image chips from a label file",
        description=(
            "Rasterise label polygons onto the grid of every chip (the seed project's"
            " create_masks.py). Masks get the chips' names: 1 = data center, 0 = background"
            " (hard negatives are background unless --multiclass)."
        ),
    )
    parser.add_argument("--chips-dir", required=True, help="directory of 4-band GeoTIFF chips")
    parser.add_argument(
        "--labels",
        required=True,
        metavar="FILE[:LAYER]",
        help="label polygons (GeoJSON, GeoPackage, FileGDB, Shapefile, ...; :LAYER names one"
        " layer of a file with several)",
    )
    parser.add_argument("--output-dir", required=True, help="directory for the masks (created)")
    parser.add_argument(
        "--buffer",
        type=float,
        default=0.0,
        metavar="METRES",
        help="grow every polygon by this many metres before rasterising (seed project: 7.5)",
    )
    classes = parser.add_mutually_exclusive_group()
    classes.add_argument(
        "--class-field",
        default="class",
        metavar="FIELD",
        help="the field naming each polygon's class (default: class, as the seed file)",
    )
    classes.add_argument(
        "--all-datacenters",
        action="store_true",
        help="take every polygon as a data center: a footprint file without classes, such"
        " as the IM3 atlas (its Points are skipped with a warning)",
    )
    parser.add_argument(
        "--use-label-field",
        action="store_true",
        help="choose data centers by the boolean 'label' field instead of by class",
    )
    parser.add_argument(
        "--class-map",
        action="append",
        default=[],
        metavar="FROM=TO",
        help="rename a class before validation, e.g. datacemter=datacenter (repeatable)",
    )
    parser.add_argument(
        "--multiclass",
        action="store_true",
        help="write hard negatives as their own classes (2 warehouse, 3 retail, 4 other)",
    )
    parser.add_argument("--glob", default="*.tif", help="glob selecting chips (default: *.tif)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing masks")
    parser.set_defaults(func=run)


def parse_class_map(pairs: list[str]) -> dict[str, str]:
    """Parse ``FROM=TO`` pairs given on the command line.

    Args:
        pairs: the pairs.

    Returns:
        The mapping.

    Raises:
        TGDCError: if a pair has no ``=``.
    """
    from ..errors import TGDCError

    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise TGDCError(f"--class-map: expected FROM=TO, got {pair!r}")
        mapping[source.strip()] = target.strip()
    return mapping


def run(args: argparse.Namespace) -> int:
    """Write the masks.

    Args:
        args: parsed command-line arguments.

    Returns:
        The exit status.
    """
    import time

    from ..datasets import DataCenterLabels, LabelFixes, write_chip_masks
    from ..outputs.space import check_free_space
    from ..utils import check_output_dir

    start = time.perf_counter()
    check_output_dir(args.output_dir)  # before the labels are read
    labels = DataCenterLabels(
        args.labels,
        use_label_field=args.use_label_field,
        multiclass=args.multiclass,
        class_map=parse_class_map(args.class_map),
        class_field=None if args.all_datacenters else args.class_field,
        buffer_m=args.buffer,
        fixes=LabelFixes(
            name_classes="give --class-field FIELD, the field naming classes",
            every_polygon="give --all-datacenters to take every polygon as a data center",
            no_label_field="leave out --use-label-field to choose data centers by class",
            class_map="map them with --class-map, e.g. --class-map {pair}",
            no_multiclass="leave out --multiclass",
            positives="map a class to datacenter with --class-map, or give --all-datacenters",
        ),
    )
    written = write_chip_masks(
        args.chips_dir,
        labels,
        args.output_dir,
        pattern=args.glob,
        overwrite=args.overwrite,
        check_space=check_free_space,
    )
    print(
        f"tgdc chips: wrote {len(written)} masks to {args.output_dir} in"
        f" {time.perf_counter() - start:.1f} s"
    )
    return 0
