"""``tgdc scan``: find data centers over a whole region on Ray, resumably."""

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..options import scan_option_names
from ..outputs import scan_files
from .arguments import add_predictor_arguments, predictor_keywords, print_outputs
from .download import add_source_arguments

if TYPE_CHECKING:
    from ..scan import LocalScene, StacScene


def register(subparsers: Any) -> None:
    """Add the ``scan`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    *others, last = scan_files().values()
    files = f"{', '.join(others)} and {last}" if others else last
    parser = subparsers.add_parser(
        "scan",
        help="find data centers over a whole region: many scenes on Ray, resumable",
        description=(
            "Run a trained model over every NAIP scene of a region (a STAC search over an"
            " area, or a directory of GeoTIFFs) on Ray workers that keep the model loaded."
            " Every finished scene is recorded under --output-dir, so a rerun skips it;"
            " a failing scene is retried, then recorded as failed while the scan goes on."
            " Data centers cut by scene boundaries come out as one polygon each, in"
            f" {files} under --output-dir."
            " Exits 1 when some scenes failed (their detections are missing; rerun to retry)."
        ),
    )
    parser.add_argument(
        "--checkpoint", type=Path, required=True, help="model checkpoint (.ckpt) from training"
    )
    where = parser.add_argument_group("area").add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--aoi", type=Path, metavar="FILE", help="area to scan: polygons in a vector file"
    )
    where.add_argument(
        "--bbox",
        type=float,
        nargs=4,
        metavar=("MINLON", "MINLAT", "MAXLON", "MAXLAT"),
        help="area to scan, in degrees",
    )
    where.add_argument(
        "--scenes-dir",
        type=Path,
        metavar="DIR",
        help="scan these GeoTIFFs instead of searching NAIP (recursively; see --glob)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="manifest, per-scene detections and final outputs (created; rerun to resume)",
    )
    parser.add_argument(
        "--glob", default="*.tif", help="files taken from --scenes-dir (default: *.tif)"
    )
    add_source_arguments(parser.add_argument_group("NAIP search (with --aoi or --bbox)"))
    ray = parser.add_argument_group("Ray")
    ray.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="address of a running Ray cluster, e.g. ray://head:10001 or auto (default: start"
        " Ray on this machine)",
    )
    ray.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="workers, each predicting one scene at a time (default: one per GPU, else one per"
        " CPU)",
    )
    ray.add_argument(
        "--gpus-per-worker",
        type=float,
        metavar="G",
        help="GPUs per worker; fractions share a GPU (default: 1 where there are GPUs, else 0)",
    )
    ray.add_argument(
        "--retries",
        type=int,
        default=2,
        metavar="N",
        help="further attempts at a failing scene before it is recorded as failed (default: 2)",
    )
    add_predictor_arguments(parser, scan_option_names())
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace existing final outputs (finished scenes are still skipped)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Scan the region and print where the outputs are and a summary.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status: 0, or 1 when some scenes failed.

    Raises:
        TGDCError: if Ray is missing, or for options that do not fit together, and see
            :func:`~torchgeo_datacenters.scan.scan`.
    """
    from ..errors import TGDCError
    from ..scan import import_ray, scan

    import_ray(local=args.ray_address is None)
    region = None
    scenes: Sequence[LocalScene | StacScene]
    if args.scenes_dir is not None:
        stac_only = {"--year": args.year, "--stac-url": args.stac_url}
        given = [name for name, value in stac_only.items() if value is not None]
        if given:
            raise TGDCError(
                f"{', '.join(given)} go with --aoi or --bbox; --scenes-dir scans local files"
            )
        from ..scan import scenes_in_directory

        scenes = scenes_in_directory(args.scenes_dir, args.glob)
    else:
        from ..scan import bbox_region, read_aoi, stac_scenes
        from ..stac import DEFAULT_STAC_URL, NaipCatalog

        region = read_aoi(args.aoi) if args.aoi is not None else bbox_region(args.bbox)
        catalog = NaipCatalog(
            args.stac_url or DEFAULT_STAC_URL, collection=args.collection, asset_key=args.asset_key
        )
        scenes = stac_scenes(catalog, region, args.year)
    result = scan(
        scenes,
        args.checkpoint,
        args.output_dir,
        predictor_options=predictor_keywords(args),
        region=region,
        workers=args.workers,
        gpus_per_worker=args.gpus_per_worker,
        retries=args.retries,
        ray_address=args.ray_address,
        overwrite=args.overwrite,
    )
    print_outputs(result.outputs)
    print(f"tgdc scan: {result.summary()}")
    return 1 if result.failed else 0
