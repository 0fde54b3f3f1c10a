"""``tgdc synth``: write SYNTHETIC NAIP-like scenes and labels for tests, demos and benchmarks."""

import argparse
from pathlib import Path
from typing import Any

from ..naip import BANDS, DTYPE, GSD, HARD_NEGATIVE_CLASSES


def register(subparsers: Any) -> None:
    """Add the ``synth`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "synth",
        help="write SYNTHETIC NAIP-like scenes with data centers and labels",
        description=(
            f"Write SYNTHETIC (generated, not real) NAIP-like scenes: {len(BANDS)}-band"
            f" ({', '.join(BANDS)}) {DTYPE} GeoTIFFs at {GSD:g} m in a UTM CRS, holding data"
            f" centers and look-alike buildings ({', '.join(HARD_NEGATIVE_CLASSES)}),"
            " plus labels.geojson in CRS84 with the"
            " columns of the seed label file. For tests, demos and benchmarks only. The same"
            " seed gives byte-identical files."
        ),
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="directory for scene_NNN.tif and labels.geojson (created if missing)",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=2048,
        metavar="PIXELS",
        help=f"scene height and width in pixels, 64 to 8192 (default: 2048 = 1.2 km at {GSD:g} m)",
    )
    parser.add_argument(
        "--count", type=int, default=4, metavar="N", help="number of scenes (default: 4)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="random seed, >= 0 (default: 0)"
    )
    parser.add_argument(
        "--gsd",
        type=float,
        default=GSD,
        metavar="METRES",
        help=f"pixel size in metres (default: {GSD:g}, as NAIP)",
    )
    parser.add_argument(
        "--crs",
        default="EPSG:32617",
        help="projected CRS in metres of the scenes (default: EPSG:32617, UTM zone 17N)",
    )
    parser.add_argument(
        "--lookalike-warehouses",
        action="store_true",
        help="draw warehouses as large and bright as data centers (the hard case)",
    )
    parser.add_argument(
        "--cold-storage",
        action="store_true",
        help="draw warehouses as cold stores: as large and bright as data centers, with rows"
        " of rooftop condensers like a data center's cooling units (the hardest case)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace existing scenes and labels"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the scenes and print where they are and a one-line summary.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    import time

    from ..synthetic import generate_scenes

    start = time.perf_counter()
    dataset = generate_scenes(
        args.output_dir,
        size=args.size,
        count=args.count,
        seed=args.seed,
        crs=args.crs,
        gsd=args.gsd,
        lookalike_warehouses=args.lookalike_warehouses,
        cold_storage=args.cold_storage,
        overwrite=args.overwrite,
    )
    seconds = time.perf_counter() - start
    labels = dataset.labels
    n_dc = int(labels["label"].sum())
    area_km2 = len(dataset.scene_paths) * args.size**2 * args.gsd**2 / 1e6
    print(f"scenes: {dataset.scene_paths[0].parent}/scene_*.tif")
    print(f"labels: {dataset.labels_path}")
    print(
        f"synth: {len(dataset.scene_paths)} SYNTHETIC scenes of {args.size}x{args.size} px,"
        f" {n_dc} data centers, {len(labels) - n_dc} hard negatives, {area_km2:.2f} km²,"
        f" {seconds:.1f} s"
    )
    return 0
