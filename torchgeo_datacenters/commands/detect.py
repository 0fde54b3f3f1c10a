"""``tgdc detect``: find data centers in a scene of any size with a trained checkpoint."""

import argparse
import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..outputs import OutputFormat, raster_formats, vector_formats
from .arguments import (
    add_output_arguments,
    add_predictor_arguments,
    options_from_args,
    output_keywords,
    print_outputs,
)
from .extra_outputs import (
    add_extra_outputs,
    check_extra_outputs,
    extra_output_paths,
    write_extra_outputs,
)

if TYPE_CHECKING:
    from ..inference import Predictor


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
    add_predictor_arguments(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


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
    parser.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="acquisition date of the imagery, recorded as the detections' `acquired` (default:"
        " a NAIP file name m_..._YYYYMMDD, else the FGDC metadata beside the file, else the"
        " TIFFTAG_DATETIME tag with a warning, else a YYYYMMDD date in the file name)",
    )
    add_extra_outputs(parser)
    parser.set_defaults(func=run)


def predictor_from_args(args: argparse.Namespace) -> "Predictor":
    """Build the predictor the options describe.

    Args:
        args: the parsed arguments.

    Returns:
        The predictor, with the model of ``--checkpoint`` loaded.

    Raises:
        TGDCError: if the options do not fit together or the model cannot be loaded.
    """
    from ..inference import Predictor

    return Predictor(args.checkpoint, options_from_args(args))


def run(args: argparse.Namespace) -> int:
    """Detect data centers in the scene and print where the outputs are and a summary.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    from ..detections.dates import parse_date
    from ..inference.model import read_checkpoint_facts
    from ..outputs import RunRecord
    from ..outputs.provenance import raster_provenance

    labels = check_extra_outputs(args)
    acquired = parse_date(args.date, "--date") if args.date is not None else None
    predictor = predictor_from_args(args)
    detections = predictor.predict(
        args.image,
        overwrite=args.overwrite,
        acquired=acquired,
        run_outputs=extra_output_paths(args),
        **output_keywords(args),
    )
    provenance = raster_provenance(args.image)
    if acquired is not None:
        # --date replaces the date of the file's tags or name, as in the detections.
        provenance = dataclasses.replace(provenance, dates=(acquired,))
    run = RunRecord(
        checkpoint=functools.partial(read_checkpoint_facts, args.checkpoint),
        provenances=[provenance],
        item_id=args.image.stem,
        images=[args.image],
        mask=detections.outputs.get("mask"),
        threshold=predictor.threshold,
        overwrite=args.overwrite,
        labels=labels,
    )
    extra = write_extra_outputs(args, detections.gdf, run)
    print_outputs({**detections.outputs, **extra})
    print(f"detect: {detections.summary()}")
    return 0
