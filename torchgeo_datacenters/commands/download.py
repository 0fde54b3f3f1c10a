"""``tgdc download``: NAIP from a STAC API, as one scene or as chips around labelled sites."""

import argparse
from typing import TYPE_CHECKING

from ..naip import BANDS, DTYPE, GSD

if TYPE_CHECKING:
    from rasterio.enums import Resampling

    from ..stac import NaipCatalog


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``download`` subcommand.

    Args:
        subparsers: the ``tgdc`` subcommand registry.
    """
    parser = subparsers.add_parser(
        "download",
        help="download NAIP imagery from a STAC API (a scene, or chips around labelled sites)",
        description=(
            f"Download NAIP as {len(BANDS)}-band ({', '.join(BANDS)}) {DTYPE} Cloud-Optimised"
            f" GeoTIFFs in the local UTM zone at {GSD:g} m, mosaicked across tiles and years"
            " (newest on top),"
            " reading only the needed windows over HTTP. Pixel value 0 is nodata (no"
            " imagery); imaged zeros are raised to 1. Either one scene (--lat/--lon/--size"
            " or --bbox, with --output) or chips around every site of a label file"
            " (--sites, with --output-dir; a rerun skips chips already complete)."
        ),
    )
    scene = parser.add_argument_group("one scene")
    scene.add_argument("--lat", type=float, metavar="DEG", help="latitude of the centre (degrees)")
    scene.add_argument("--lon", type=float, metavar="DEG", help="longitude of the centre (degrees)")
    scene.add_argument(
        "--size",
        type=int,
        metavar="PIXELS",
        help=f"width and height in pixels of {GSD:g} m (default: 2560 = {2560 * GSD:g} m)",
    )
    scene.add_argument(
        "--bbox",
        type=float,
        nargs=4,
        metavar=("MINLON", "MINLAT", "MAXLON", "MAXLAT"),
        help="area in degrees, instead of --lat/--lon/--size",
    )
    scene.add_argument("--output", metavar="TIF", help="the GeoTIFF to write")
    chips = parser.add_argument_group("chips around sites")
    chips.add_argument(
        "--sites",
        metavar="FILE[:LAYER]",
        help="label polygons or points (GeoJSON, GeoPackage, FileGDB, ...; :LAYER names one"
        " layer of a file with several) with a fid",
    )
    chips.add_argument("--output-dir", metavar="DIR", help="directory for the chips (created)")
    chips.add_argument(
        "--chip-size",
        type=int,
        default=256,
        metavar="PIXELS",
        help=f"chip width and height in pixels of {GSD:g} m (default: 256 = {256 * GSD:g} m)",
    )
    chips.add_argument(
        "--per-site",
        type=int,
        default=1,
        metavar="N",
        help="chips per site: centred, then shifted by a quarter chip (default: 1)",
    )
    chips.add_argument(
        "--skip-outside",
        action="store_true",
        help="skip sites outside NAIP coverage (e.g. Alaska) with a warning",
    )
    source = parser.add_argument_group("source and network")
    add_source_arguments(source)
    source.add_argument(
        "--resampling",
        choices=["nearest", "bilinear", "cubic"],
        default="nearest",
        help=f"resampling of sources off the {GSD:g} m pixel lattice (default: nearest)",
    )
    source.add_argument(
        "--retries",
        type=int,
        default=5,
        metavar="N",
        help="retries of a failed request, with exponential backoff (default: 5)",
    )
    source.add_argument(
        "--backoff",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="base wait of the exponential backoff between retries (default: 0.5 seconds)",
    )
    source.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="wait for a connection or an answer before retrying (default: 30 seconds)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(func=run)


def add_source_arguments(group: argparse._ActionsContainer) -> None:
    """Add the options that choose NAIP imagery, for every command that searches STAC.

    They are ``--year``, ``--stac-url``, ``--collection`` and ``--asset-key``.

    Args:
        group: the parser or argument group to add them to.
    """
    group.add_argument(
        "--year", type=int, help="only imagery acquired in this year (default: newest of any)"
    )
    group.add_argument(
        "--stac-url",
        metavar="URL",
        help="root URL of the STAC API (default: Microsoft Planetary Computer)",
    )
    group.add_argument(
        "--collection", default="naip", help="NAIP collection id in the API (default: naip)"
    )
    group.add_argument(
        "--asset-key", default="image", help="key of the 4-band image asset (default: image)"
    )


def run(args: argparse.Namespace) -> int:
    """Download a scene or site chips.

    Args:
        args: parsed command-line arguments.

    Returns:
        The exit status.

    Raises:
        TGDCError: for options that do not fit together, and see
            :func:`~torchgeo_datacenters.stac.download_scene` and
            :func:`~torchgeo_datacenters.stac.download_site_chips`.
    """
    from rasterio.enums import Resampling

    from ..errors import TGDCError
    from ..stac import DEFAULT_STAC_URL, NaipCatalog, NetworkSettings

    catalog = NaipCatalog(
        args.stac_url or DEFAULT_STAC_URL,
        collection=args.collection,
        asset_key=args.asset_key,
        network=NetworkSettings(retries=args.retries, backoff=args.backoff, timeout=args.timeout),
    )
    resampling = Resampling[args.resampling]
    scene_options = [args.lat, args.lon, args.size, args.bbox, args.output]
    if args.sites is not None:
        if any(option is not None for option in scene_options):
            raise TGDCError(
                "--sites downloads chips to --output-dir; leave out --lat, --lon, --size,"
                " --bbox and --output (or leave out --sites for one scene)"
            )
        if args.output_dir is None:
            raise TGDCError("--sites needs --output-dir, the directory for the chips")
        return _run_chips(args, catalog, resampling)
    if args.output is None:
        raise TGDCError(
            "give --output for a scene (with --lat/--lon or --bbox), or --sites and"
            " --output-dir for chips"
        )
    if args.output_dir is not None:
        raise TGDCError("--output-dir goes with --sites; a scene is written to --output")
    return _run_scene(args, catalog, resampling)


def _run_scene(args: argparse.Namespace, catalog: "NaipCatalog", resampling: "Resampling") -> int:
    """Download one scene and print its summary."""
    from ..stac import download_scene

    size = args.size if args.size is not None or args.bbox is not None else 2560
    result = download_scene(
        args.output,
        lat=args.lat,
        lon=args.lon,
        size=size,
        bbox=args.bbox,
        year=args.year,
        catalog=catalog,
        resampling=resampling,
        overwrite=args.overwrite,
    )
    print(f"tgdc download: {result.summary()}")
    return 0


def _run_chips(args: argparse.Namespace, catalog: "NaipCatalog", resampling: "Resampling") -> int:
    """Download chips around the sites of a label file and print a summary."""
    from ..stac import download_site_chips, read_sites

    result = download_site_chips(
        read_sites(args.sites),
        args.output_dir,
        chip_size=args.chip_size,
        per_site=args.per_site,
        skip_outside=args.skip_outside,
        year=args.year,
        catalog=catalog,
        resampling=resampling,
        overwrite=args.overwrite,
    )
    print(f"tgdc download: {args.output_dir}: {result.summary()}")
    return 0
