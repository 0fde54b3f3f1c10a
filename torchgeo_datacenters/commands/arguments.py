"""Command-line arguments generated from tables defined once elsewhere.

The flags of the commands that predict come from two tables, with their help, types and
defaults, and go back to the predictor:

* ``--output-<kind> FILE`` from the output-format registry
  (:data:`~torchgeo_datacenters.outputs.FORMATS`), as the keyword arguments they name;
* ``--<option>`` from the predictor's options
  (:class:`~torchgeo_datacenters.options.PredictorOptions`), each value read and checked
  by its option's limits (:func:`option_parser`), as one
  :class:`~torchgeo_datacenters.options.PredictorOptions` (:func:`options_from_args`).

Adding a format or an option there adds its flag here.
"""

import argparse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import Field
from pathlib import Path
from typing import Any

from ..errors import TGDCError
from ..options import OptionError, PredictorOptions, option_fields, option_help, option_type
from ..outputs import FORMATS, OutputFormat


def help_text(text: str) -> str:
    """Return *text* as argparse help, where a literal ``%`` must be doubled.

    Args:
        text: help as written in a format or option definition.

    Returns:
        The text with every ``%`` written ``%%``.
    """
    return text.replace("%", "%%")


def add_output_arguments(parser: argparse.ArgumentParser, formats: Sequence[OutputFormat]) -> None:
    """Add an ``--output-<kind> FILE`` flag per format, as an "outputs" group.

    Args:
        parser: the subcommand's parser.
        formats: the formats the command writes.
    """
    group = parser.add_argument_group("outputs")
    for output in formats:
        group.add_argument(
            output.flag,
            type=Path,
            metavar="FILE",
            required=output.required,
            help=help_text(output.help),
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


def option_parser(option: Field[Any]) -> Callable[[str], Any]:
    """Read an option's value from the command line, checked by the option's limits.

    Args:
        option: a field of :class:`~torchgeo_datacenters.options.PredictorOptions`.

    Returns:
        The argparse ``type``: text to the value, raising
        :class:`argparse.ArgumentTypeError` (``argument --overlap: -1 must be a whole
        number >= 0``, exit 2) for a value out of the limits.
    """
    shown, kind = option_help(option), option_type(option)

    def parse(text: str) -> Any:
        try:
            value = text if kind is str else kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text} must be {shown.rule(kind)}") from None
        try:
            return shown.check(value, kind)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text} {error}") from None

    parse.__name__ = option.name
    return parse


def add_predictor_arguments(
    parser: argparse.ArgumentParser, names: Iterable[str] | None = None
) -> None:
    """Add a flag per predictor option, as a "prediction" group.

    Options left out keep the defaults of
    :class:`~torchgeo_datacenters.options.PredictorOptions` (stated in their help);
    collect the options with :func:`options_from_args`.

    Args:
        parser: the subcommand's parser.
        names: the options to add (None: every option).
    """
    wanted = None if names is None else set(names)
    group = parser.add_argument_group("prediction")
    for option in option_fields():
        if wanted is not None and option.name not in wanted:
            continue
        shown = option_help(option)
        kind = option_type(option)
        if kind is bool:
            group.add_argument(
                "--" + option.name.replace("_", "-"),
                action="store_true",
                default=argparse.SUPPRESS,
                help=help_text(shown.help),
            )
            continue
        group.add_argument(
            "--" + option.name.replace("_", "-"),
            type=str if shown.choices else option_parser(option),
            choices=shown.choices,
            metavar=shown.metavar,
            default=argparse.SUPPRESS,
            help=help_text(shown.describe(option.default, kind)),
        )


def options_from_args(args: argparse.Namespace) -> PredictorOptions:
    """Collect the predictor options of the command line.

    Args:
        args: the parsed arguments (each value already checked by :func:`option_parser`).

    Returns:
        The options: those given, the defaults for the others.

    Raises:
        TGDCError: ``--<option> VALUE must be ...`` if the options do not fit together (an
            overlap not smaller than the tile).
    """
    given = {
        option.name: getattr(args, option.name)
        for option in option_fields()
        if hasattr(args, option.name)
    }
    try:
        return PredictorOptions(**given)
    except OptionError as error:
        flag = "--" + error.option.replace("_", "-")
        raise TGDCError(f"{flag} {error.value} {error.problem}") from None
