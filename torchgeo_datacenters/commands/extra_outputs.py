"""The ``--output-stac`` and ``--output-report`` options of the commands that make detections.

One definition per option in :data:`EXTRA_OUTPUTS` (flag, metavar, help), added by
:func:`add_extra_outputs`, checked before any work by :func:`check_extra_outputs` and
written after the run by :func:`write_extra_outputs`, so every command offers them alike.
"""

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Each extra output: argument name to its command-line definition.
EXTRA_OUTPUTS: dict[str, dict[str, Any]] = {
    "output_stac": {
        "metavar": "DIR",
        "help": "STAC collection of the run (created): the detections as a label item with"
        " GeoParquet and GeoJSON assets (and the mask COG), linked to the imagery and to the"
        " model (MLM extension)",
    },
    "output_report": {
        "metavar": "FILE",
        "help": "self-contained HTML map report: imagery, detections coloured by score, a"
        " sortable table; opens offline in any browser",
    },
}


def add_extra_outputs(parser: argparse.ArgumentParser) -> None:
    """Add ``--output-stac`` and ``--output-report`` to a command.

    Args:
        parser: the subcommand's parser.
    """
    for name, definition in EXTRA_OUTPUTS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=Path, **definition)


def check_extra_outputs(args: argparse.Namespace) -> None:
    """Check, before any work, that the extra outputs asked for can be written.

    Args:
        args: the parsed arguments (with ``overwrite``).

    Raises:
        TGDCError: if a directory is missing or an output exists without ``--overwrite``.
    """
    from ..outputs.stac import check_stac_directory
    from ..utils import check_output_path

    if args.output_stac is not None:
        check_stac_directory(args.output_stac, overwrite=args.overwrite)
    if args.output_report is not None:
        check_output_path(args.output_report, overwrite=args.overwrite)


def write_extra_outputs(
    args: argparse.Namespace,
    detections: Any,
    provenances: Sequence[Any],
    *,
    item_id: str,
    images: Sequence[str | os.PathLike[str]] = (),
    mask: str | os.PathLike[str] | None = None,
) -> dict[str, Path]:
    """Write the extra outputs asked for.

    Args:
        args: the parsed arguments (with ``checkpoint`` and ``overwrite``).
        detections: the run's detections (EPSG:4326).
        provenances: the imagery read (see :mod:`~torchgeo_datacenters.outputs.provenance`).
        item_id: id of the STAC item of the run.
        images: rasters shown in the report.
        mask: the mask COG written by the run, if any.

    Returns:
        Output kind (``stac``, ``report``) to the file written.
    """
    written: dict[str, Path] = {}
    if args.output_stac is not None:
        from ..outputs.stac import write_stac

        written["stac"] = write_stac(
            args.output_stac,
            detections,
            provenances,
            args.checkpoint,
            item_id=item_id,
            mask=mask,
            overwrite=args.overwrite,
        )
    if args.output_report is not None:
        from ..outputs.report import write_report

        written["report"] = write_report(
            args.output_report, detections, images, overwrite=args.overwrite
        )
    return written
