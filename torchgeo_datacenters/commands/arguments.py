"""Command-line arguments generated from tables defined once elsewhere.

The ``--output-<kind>`` flags of the commands that predict come from the output-format
registry (:data:`~torchgeo_datacenters.outputs.FORMATS`): their help, which are required,
and the keyword arguments they become. Adding a format there adds its flag here.
"""

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..outputs import FORMATS, OutputFormat


def add_output_arguments(parser: argparse.ArgumentParser, formats: Sequence[OutputFormat]) -> None:
    """Add an ``--output-<kind> FILE`` flag per format, as an "outputs" group.

    Args:
        parser: the subcommand's parser.
        formats: the formats the command writes.
    """
    group = parser.add_argument_group("outputs")
    for output in formats:
        group.add_argument(
            output.flag, type=Path, metavar="FILE", required=output.required, help=output.help
        )


def output_keywords(args: argparse.Namespace) -> dict[str, Path | None]:
    """Collect the output paths given on the command line.

    Args:
        args: the parsed arguments.

    Returns:
        ``output_<kind>`` keyword argument of the predictor to path (None: not given), for
        every output flag the command has.
    """
    return {
        output.keyword: getattr(args, output.keyword)
        for output in FORMATS.values()
        if hasattr(args, output.keyword)
    }


def print_outputs(outputs: Mapping[str, Path]) -> None:
    """Print every file a run wrote, one ``kind: path`` line each.

    Args:
        outputs: output kind to path.
    """
    for kind, path in outputs.items():
        print(f"{kind}: {path}")
