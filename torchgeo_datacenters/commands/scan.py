"""``tgdc scan``: find data centers over a whole region on Ray, resumably."""

import argparse
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..options import scan_option_names
from ..outputs import scan_files
from .arguments import add_predictor_arguments, options_from_args, print_outputs
from .download import add_source_arguments
from .extra_outputs import (
    add_extra_outputs,
    check_extra_outputs,
    extra_output_paths,
    write_extra_outputs,
)

if TYPE_CHECKING:
    from ..scan import ScanScene


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
            " a failing scene is retried, then recorded as failed while the scan goes on"
            " (a local file the model cannot take is not retried: the summary names it)."
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
        "--aoi",
        type=Path,
        metavar="FILE[:LAYER]",
        help="area to scan: polygons in a vector file (:LAYER names one layer of a file with"
        " several)",
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
        metavar="DIR",
        help="manifest, per-scene detections and final outputs (created; rerun to resume;"
        " required unless --plan)",
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
    add_years_options(parser)
    add_plan_options(parser)
    add_extra_outputs(parser)
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
    from ..inference.model import read_checkpoint_facts
    from ..outputs import RunRecord
    from ..scan import LocalScene, import_ray, scan
    from ..scan.plan import check_scan_space
    from ..utils import check_output_dir

    if args.plan:
        return print_plan(args)
    if args.rate is not None or args.output_plan is not None:
        raise TGDCError("--rate and --output-plan go with --plan; add --plan to see the cost")
    if args.output_dir is None:
        raise TGDCError("--output-dir: required (only --plan writes nothing); give a directory")
    check_output_dir(args.output_dir)
    if args.years:
        check_no_run_outputs(args)
    import_ray(local=args.ray_address is None)
    labels = check_extra_outputs(args)
    scenes, region = find_scenes(args)
    if args.years:
        return scan_years(args, find_catalog(args), region)
    run_outputs = extra_output_paths(args)
    check_scan_space(
        scenes, args.output_dir, downloads=local_downloads(args), run_outputs=run_outputs
    )
    result = scan(scenes, args.checkpoint, args.output_dir, **scan_options(args, region))
    failed = {record.scene for record in result.failed}
    run = RunRecord(
        checkpoint=functools.partial(read_checkpoint_facts, args.checkpoint),
        # A failed scene has no detections and may not even open.
        provenances=[scene.provenance() for scene in scenes if scene.id not in failed],
        item_id=args.output_dir.resolve().name,
        images=[scene.path for scene in scenes if isinstance(scene, LocalScene)],
        threshold=result.threshold,
        overwrite=args.overwrite,
        labels=labels,
    )
    extra = write_extra_outputs(args, result.detections, run)
    print_outputs({**result.outputs, **extra})
    print(f"footprint: {write_footprint(args.output_dir, scenes, result, region)}")
    print(f"tgdc scan: {result.summary()}")
    return 1 if result.failed else 0


def local_downloads(args: argparse.Namespace) -> int:
    """Workers downloading at once on this machine.

    ``--workers`` (else one per CPU) where Ray runs here, 0 on a cluster
    (``--ray-address``), whose nodes check their own space.

    Args:
        args: the parsed arguments.

    Returns:
        The count.
    """
    import os

    if args.ray_address is not None:
        return 0
    return args.workers or os.cpu_count() or 1


def find_catalog(args: argparse.Namespace) -> Any:
    """The NAIP catalog the options name.

    Args:
        args: the parsed arguments.

    Returns:
        The :class:`~torchgeo_datacenters.stac.NaipCatalog`.
    """
    from ..stac import DEFAULT_STAC_URL, NaipCatalog

    return NaipCatalog(
        args.stac_url or DEFAULT_STAC_URL, collection=args.collection, asset_key=args.asset_key
    )


def find_scenes(args: argparse.Namespace) -> tuple[list["ScanScene"], Any]:
    """The scenes and region the options name (with --years: none; each year has its own).

    Args:
        args: the parsed arguments.

    Returns:
        The scenes, and the region (None for --scenes-dir).

    Raises:
        TGDCError: if search options go with --scenes-dir, and see
            :func:`~torchgeo_datacenters.scan.stac_scenes`.
    """
    from ..errors import TGDCError
    from ..scan import bbox_region, read_aoi, scenes_in_directory, stac_scenes

    if args.scenes_dir is not None:
        stac_only = {"--year": args.year, "--years": args.years, "--stac-url": args.stac_url}
        given = [name for name, value in stac_only.items() if value is not None]
        if given:
            raise TGDCError(
                f"{', '.join(given)} go with --aoi or --bbox; --scenes-dir scans local files"
            )
        return list(scenes_in_directory(args.scenes_dir, args.glob)), None
    region = read_aoi(args.aoi) if args.aoi is not None else bbox_region(args.bbox)
    if args.years:
        return [], region
    return list(stac_scenes(find_catalog(args), region, args.year)), region


def scan_options(args: argparse.Namespace, region: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`~torchgeo_datacenters.scan.scan` the options give.

    Args:
        args: the parsed arguments.
        region: the area scanned (None for --scenes-dir).

    Returns:
        Everything but the scenes, checkpoint and output directory.
    """
    return {
        "options": options_from_args(args),
        "region": region,
        "workers": args.workers,
        "gpus_per_worker": args.gpus_per_worker,
        "retries": args.retries,
        "ray_address": args.ray_address,
        "overwrite": args.overwrite,
    }


# --- Several NAIP years and the change between them (issue 17) -------------------------

#: File of a scan's footprint (the area its finished scenes cover) in its output directory.
FOOTPRINT_FILE = "footprint.geojson"

#: File of the change between the years of ``--years``, in the output directory.
CHANGE_FILE = "change.geojson"


def add_years_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--years`` and the change settings.

    Args:
        parser: the ``scan`` parser.
    """
    from .change import add_change_options

    parser.add_argument(
        "--years",
        type=int,
        nargs="+",
        metavar="YEAR",
        help=f"scan each of these NAIP years (with --aoi or --bbox) into --output-dir/YEAR, then"
        f" write the change between them to --output-dir/{CHANGE_FILE} (as tgdc change)",
    )
    add_change_options(parser)


def write_footprint(directory: Path, scenes: Any, result: Any, region: Any) -> Path:
    """Write the area the finished scenes cover, for ``tgdc compare``.

    A STAC item covers its footprint; a local GeoTIFF its valid pixels. Failed scenes are
    left out and the area is cut to the region scanned. Rewritten by every run.

    Args:
        directory: the scan's output directory.
        scenes: the scenes of the scan.
        result: the scan's :class:`~torchgeo_datacenters.scan.ScanResult`.
        region: the region scanned (None: the scenes' whole area).

    Returns:
        The file written.
    """
    import geopandas as gpd
    import shapely

    from ..detections.files import write_vector
    from ..detections.footprint import raster_footprint

    failed = {record.scene for record in result.failed}
    parts = [
        shapely.geometry.shape(scene.item["geometry"])
        if hasattr(scene, "item")
        else raster_footprint(scene.path)
        for scene in scenes
        if scene.id not in failed
    ]
    area = shapely.union_all(parts)
    if region is not None:
        area = area.intersection(region)
    table = gpd.GeoDataFrame({"scenes": [len(parts)]}, geometry=[area], crs="EPSG:4326")
    return write_vector(table, directory / FOOTPRINT_FILE, overwrite=True)


def check_no_run_outputs(args: argparse.Namespace) -> None:
    """Refuse the run outputs (``--output-report`` and the like) with ``--years``.

    Each year is a scan of its own, with its own detections, and a run output is of one
    run: a scan of several years writes none.

    Args:
        args: the parsed arguments.

    Raises:
        TGDCError: naming the first run output given, or ``--review-labels`` (which
            orders the review page).
    """
    from ..errors import TGDCError

    given = extra_output_paths(args)
    if given:
        kind, path = next(iter(given.items()))
        raise TGDCError(
            f"{path}: --output-{kind} is written by a scan of one year, and --years scans"
            f" several; scan each year with --year YEAR to have it, or drop --output-{kind}"
        )
    if args.review_labels:
        raise TGDCError(
            f"{args.review_labels[0]}: --review-labels orders the review page of a scan of"
            " one year, and --years scans several; scan each year with --year YEAR and"
            " --output-review FILE to use it, or drop --review-labels"
        )


def scan_years(args: argparse.Namespace, catalog: Any, region: Any) -> int:
    """Scan every year of ``--years``, then write and summarise the change between them.

    Args:
        args: the parsed arguments.
        catalog: the NAIP catalog searched.
        region: the area, in EPSG:4326.

    Returns:
        The exit status: 0, or 1 when some scenes failed.

    Raises:
        TGDCError: if --year is given too, fewer than two years are given, or see
            :func:`~torchgeo_datacenters.scan.scan`.
    """
    from ..detections.change import Vintage, summarize, track_changes
    from ..detections.files import check_vector_output, write_vector
    from ..errors import TGDCError
    from ..scan import scan, stac_scenes
    from ..scan.plan import check_scan_space
    from .change import change_settings

    years = sorted(set(args.years))
    if args.year is not None or len(years) < 2:
        raise TGDCError(
            f"--years {' '.join(map(str, args.years))}: give two or more years, without --year"
        )
    if not args.output_dir.parent.is_dir():
        raise TGDCError(f"{args.output_dir}: its directory {args.output_dir.parent} does not exist")
    args.output_dir.mkdir(exist_ok=True)
    change_path = check_vector_output(args.output_dir / CHANGE_FILE, overwrite=args.overwrite)
    vintages, failed = [], False
    for year in years:
        scenes = stac_scenes(catalog, region, year)
        directory = args.output_dir / str(year)
        check_scan_space(scenes, directory, downloads=local_downloads(args))
        result = scan(scenes, args.checkpoint, directory, **scan_options(args, region))
        write_footprint(directory, scenes, result, region)
        print(f"tgdc scan {year}: {result.summary()}")
        failed |= bool(result.failed)
        # A year with no detection still counts: dated by its newest item.
        date = None if len(result.detections) else max(scene.acquired() for scene in scenes)
        vintages.append(Vintage(result.detections, date, str(directory)))
    sites = track_changes(vintages, **change_settings(args))
    write_vector(sites, change_path, overwrite=args.overwrite)
    print(f"change: {change_path}")
    print(f"tgdc scan: change {summarize(sites)}")
    return 1 if failed else 0


# --- The cost of a scan before it runs (issue 29) ----------------------------------------


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--plan``, ``--rate`` and ``--output-plan``.

    Args:
        parser: the ``scan`` parser.
    """
    group = parser.add_argument_group("plan (no model run over the scenes)")
    group.add_argument(
        "--plan",
        action="store_true",
        help="print what the scan would cost (items, gigapixels, GB, worker-hours, wall time"
        " for --workers) and stop; writes nothing but --output-plan",
    )
    group.add_argument(
        "--rate",
        type=float,
        metavar="MPX_PER_S",
        help="megapixels per second of one worker, e.g. of a GPU you know (default: measured"
        " for a few seconds on a SYNTHETIC tile with --checkpoint and --precision, one CPU"
        " thread)",
    )
    group.add_argument(
        "--output-plan", type=Path, metavar="FILE", help="also write the plan as JSON (with --plan)"
    )


def print_plan(args: argparse.Namespace) -> int:
    """Print the cost of the scan, and write it as JSON where asked.

    Args:
        args: the parsed arguments.

    Returns:
        0.

    Raises:
        TGDCError: if the search fails, the checkpoint cannot run, or --output-plan cannot
            be written.
    """
    import json
    import os

    from ..errors import TGDCError
    from ..scan import stac_scenes
    from ..scan.plan import calibrate, plan_scan
    from ..utils import atomic_output

    if args.output_plan is not None and not args.output_plan.parent.is_dir():
        raise TGDCError(
            f"{args.output_plan}: its directory {args.output_plan.parent} does not exist;"
            " create it first"
        )
    scenes, region = find_scenes(args)
    if args.years:
        catalog = find_catalog(args)
        scenes = [
            scene
            for year in sorted(set(args.years))
            for scene in stac_scenes(catalog, region, year)
        ]
    if args.rate is not None:
        rate, source = args.rate, "given with --rate"
    else:
        rate = calibrate(args.checkpoint, options_from_args(args))
        source = f"measured on a SYNTHETIC tile with {args.checkpoint.name}, one CPU thread"
    plan = plan_scan(
        scenes, rate=rate, rate_source=source, workers=args.workers or os.cpu_count() or 1
    )
    for line in plan.lines():
        print(line)
    if args.output_plan is not None:
        with atomic_output(args.output_plan) as tmp:
            tmp.write_text(json.dumps(plan.to_dict(), indent=2) + "\n")
        print(f"plan: {args.output_plan}")
    return 0
