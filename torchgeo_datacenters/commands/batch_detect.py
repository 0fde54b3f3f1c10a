"""``tgdc batch-detect``: find data centers in a directory of chips, all in one output."""

import argparse
import functools
from pathlib import Path
from typing import Any

from ..outputs import vector_formats
from .arguments import output_keywords, print_outputs
from .detect import add_model_options, predictor_from_args
from .extra_outputs import (
    add_extra_outputs,
    check_extra_outputs,
    extra_output_paths,
    write_extra_outputs,
)


def register(subparsers: Any) -> None:
    """Add the ``batch-detect`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "batch-detect",
        help="find data centers in many chips at once, all detections in one file",
        description=(
            "Run a trained model over every GeoTIFF in a directory. Chips that touch or"
            " overlap and share a CRS are predicted together as one mosaic, so a data center"
            " spread over neighbouring chips is one detection; all detections go to one"
            " file, numbered together, with the chip holding each centroid as its source."
        ),
    )
    parser.add_argument(
        "--chips-dir", type=Path, required=True, help="directory of georeferenced GeoTIFFs"
    )
    parser.add_argument(
        "--glob", default="*.tif", help="glob selecting the chips, recursively (default: *.tif)"
    )
    add_model_options(parser, vector_formats())
    add_extra_outputs(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Detect data centers in every chip and print where the outputs are and a summary.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).

    Raises:
        TGDCError: if the directory is missing or holds no chip.
    """
    from ..errors import TGDCError

    if not args.chips_dir.is_dir():
        raise TGDCError(f"{args.chips_dir}: chips directory does not exist")
    chips = sorted(path for path in args.chips_dir.rglob(args.glob) if path.is_file())
    if not chips:
        raise TGDCError(f"{args.chips_dir}: no chips matching {args.glob!r}")
    labels = check_extra_outputs(args)
    predictor = predictor_from_args(args)
    detections = predictor.predict_batch(
        chips,
        overwrite=args.overwrite,
        run_outputs=extra_output_paths(args),
        **output_keywords(args),
    )
    from ..inference.model import read_checkpoint_facts
    from ..outputs import RunRecord
    from ..outputs.provenance import raster_provenance

    run = RunRecord(
        checkpoint=functools.partial(read_checkpoint_facts, args.checkpoint),
        provenances=[raster_provenance(chip) for chip in chips],
        item_id=args.chips_dir.resolve().name,
        images=chips,
        threshold=predictor.threshold,
        overwrite=args.overwrite,
        labels=labels,
    )
    extra = write_extra_outputs(args, detections.gdf, run)
    print_outputs({**detections.outputs, **extra})
    print(f"batch-detect: {detections.summary()}")
    return 0
