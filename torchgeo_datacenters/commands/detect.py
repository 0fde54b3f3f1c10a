"""``tgdc detect``: find data centers in a scene of any size with a trained checkpoint."""

import argparse
from pathlib import Path
from typing import Any

from .extra_outputs import add_extra_outputs, check_extra_outputs, write_extra_outputs

#: Predictor options of the command line, by argument name.
PREDICTOR_OPTIONS = (
    "device",
    "tile_size",
    "overlap",
    "batch_size",
    "threshold",
    "min_area",
    "merge_distance",
    "simplify",
    "num_workers",
)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add the options shared by ``detect`` and ``batch-detect``.

    Args:
        parser: the subcommand's parser.
    """
    parser.add_argument(
        "--checkpoint", type=Path, required=True, help="model checkpoint (.ckpt) from training"
    )
    parser.add_argument(
        "--output-geojson",
        type=Path,
        required=True,
        metavar="FILE",
        help="RFC 7946 GeoJSON of the detections (EPSG:4326 lon/lat polygons)",
    )
    parser.add_argument(
        "--output-csv",
        type=Path,
        metavar="FILE",
        help="CSV, one row per detection: id, centroid_lon, centroid_lat, area_m2, score, source",
    )
    parser.add_argument("--output-gpkg", type=Path, metavar="FILE", help="GeoPackage of detections")
    parser.add_argument(
        "--output-parquet", type=Path, metavar="FILE", help="GeoParquet of the detections"
    )
    add_prediction_options(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


#: Command-line definition of each Predictor option, by argument name.
PREDICTION_ARGUMENTS: dict[str, dict[str, Any]] = {
    "tile_size": {
        "type": int,
        "metavar": "PIXELS",
        "help": "side of the tiles the model sees, in pixels (default: 256; larger tiles"
        " recompute fewer overlap pixels)",
    },
    "overlap": {
        "type": int,
        "metavar": "PIXELS",
        "help": "overlap between neighbouring tiles, in pixels (default: 32)",
    },
    "batch_size": {
        "type": int,
        "metavar": "N",
        "help": "tiles per batch (default: as many as 16 tiles of 256 x 256 pixels hold)",
    },
    "threshold": {
        "type": float,
        "metavar": "P",
        "help": "probability, 0 to 1, at or above which a pixel is a data center (default: the"
        " checkpoint's)",
    },
    "min_area": {
        "type": float,
        "metavar": "M2",
        "help": "drop detections (after merging) smaller than this, in m² (default: 1000)",
    },
    "merge_distance": {
        "type": float,
        "metavar": "METRES",
        "help": "merge polygons closer than this, in metres, into one detection (default: 10)",
    },
    "simplify": {
        "type": float,
        "metavar": "METRES",
        "help": "simplify outlines to this tolerance, in metres (default: 0, exact pixel edges;"
        " areas and centroids are always those of the exact pixels)",
    },
    "device": {
        "choices": ["auto", "cpu", "cuda", "mps"],
        "help": "where the model runs (default: auto = CUDA, then MPS, then CPU)",
    },
    "num_workers": {
        "type": int,
        "metavar": "N",
        "help": "worker processes reading tiles (default: 1; 0 reads in the main process)",
    },
}


def add_prediction_options(
    parser: argparse.ArgumentParser, names: tuple[str, ...] = PREDICTOR_OPTIONS
) -> None:
    """Add the Predictor's options, as a "prediction" group, to any command running it.

    Options left out keep the defaults of
    :class:`~torchgeo_datacenters.inference.Predictor` (stated in their help); collect
    the given ones with :data:`PREDICTOR_OPTIONS`.

    Args:
        parser: the subcommand's parser.
        names: the options to add, a subset of :data:`PREDICTOR_OPTIONS`.
    """
    options = parser.add_argument_group("prediction")
    for name in names:
        flag = "--" + name.replace("_", "-")
        options.add_argument(flag, default=argparse.SUPPRESS, **PREDICTION_ARGUMENTS[name])


def register(subparsers: Any) -> None:
    """Add the ``detect`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "detect",
        help="find data centers in a scene of any size",
        description=(
            "Run a trained model over a GeoTIFF of any size in overlapping tiles, blend the"
            " tiles into one probability map, and write every data center found as a"
            " polygon with its area (m²), lon/lat centroid and score. Memory depends on the"
            " tile size and scene width, not on the scene height."
        ),
    )
    parser.add_argument(
        "--image", type=Path, required=True, help="the scene: a georeferenced GeoTIFF"
    )
    add_model_options(parser)
    parser.add_argument(
        "--output-mask",
        type=Path,
        metavar="FILE",
        help="Cloud-Optimised GeoTIFF of the detection mask on the scene's grid (uint8: 1 data"
        " center, 0 background, 255 nodata)",
    )
    parser.add_argument(
        "--output-probabilities",
        type=Path,
        metavar="FILE",
        help="Cloud-Optimised GeoTIFF of the probabilities (float32 0 to 1, NaN nodata)",
    )
    add_extra_outputs(parser)
    parser.set_defaults(func=run)


def predictor_from_args(args: argparse.Namespace) -> Any:
    """Build the predictor the options describe.

    Args:
        args: the parsed arguments.

    Returns:
        The :class:`~torchgeo_datacenters.inference.Predictor`.
    """
    from ..inference import Predictor

    options = {name: getattr(args, name) for name in PREDICTOR_OPTIONS if hasattr(args, name)}
    return Predictor(args.checkpoint, **options)


def run(args: argparse.Namespace) -> int:
    """Detect data centers in the scene and print where the outputs are and a summary.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    check_extra_outputs(args)
    predictor = predictor_from_args(args)
    detections = predictor.predict(
        args.image,
        output_mask=args.output_mask,
        output_probabilities=args.output_probabilities,
        output_geojson=args.output_geojson,
        output_csv=args.output_csv,
        output_gpkg=args.output_gpkg,
        output_parquet=args.output_parquet,
        overwrite=args.overwrite,
    )
    from ..outputs.provenance import raster_provenance

    extra = write_extra_outputs(
        args,
        detections.gdf,
        [raster_provenance(args.image)],
        item_id=args.image.stem,
        images=[args.image],
        mask=args.output_mask,
    )
    for kind, path in {**detections.outputs, **extra}.items():
        print(f"{kind}: {path}")
    print(f"detect: {detections.summary()}")
    return 0
