"""``tgdc detect``: find data centers in a scene of any size with a trained checkpoint."""

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..outputs import OutputFormat, raster_formats, vector_formats
from .arguments import add_output_arguments, output_keywords, print_outputs

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
    "precision",
    "tta",
)


def add_model_options(parser: argparse.ArgumentParser, formats: Sequence[OutputFormat]) -> None:
    """Add the options shared by ``detect`` and ``batch-detect``.

    Args:
        parser: the subcommand's parser.
        formats: the output formats the command writes, one ``--output-<kind>`` flag each.
    """
    parser.add_argument(
        "--checkpoint",
        type=Path,
        required=True,
        help="model checkpoint (.ckpt) from training, or an ONNX file from `tgdc export`"
        " (run by ONNX Runtime on the CPU)",
    )
    add_output_arguments(parser, formats)
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
    "precision": {
        "choices": ["auto", "fp32", "bf16", "fp16", "int8"],
        "help": "numeric precision of the model (default: auto = fp16 autocast on CUDA, fp32"
        " elsewhere); bf16 needs a GPU or a CPU with AVX512-BF16/AMX; int8 quantises the"
        " model on the CPU, calibrated on tiles of the first scene",
    },
    "tta": {
        "choices": ["none", "d4"],
        "help": "test-time augmentation (default: none); d4 averages the 8 flips and"
        " rotations of every tile, at about 8x the model's time",
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
    add_model_options(parser, [*vector_formats(), *raster_formats()])
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
    predictor = predictor_from_args(args)
    detections = predictor.predict(args.image, overwrite=args.overwrite, **output_keywords(args))
    print_outputs(detections.outputs)
    print(f"detect: {detections.summary()}")
    return 0
