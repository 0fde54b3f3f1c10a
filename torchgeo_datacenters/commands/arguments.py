"""Command-line arguments generated from tables defined once elsewhere.

The flags of the commands that predict come from two tables, with their help, types and
defaults, and go back to the predictor:

* ``--output-<kind> FILE`` from the output-format registry
  (:data:`~torchgeo_datacenters.outputs.FORMATS`), as the keyword arguments they name;
* ``--<option>`` from the predictor's options
  (:class:`~torchgeo_datacenters.options.PredictorOptions`), each read as its option's
  type and stated with its limits in the help, and checked by those limits as one
  :class:`~torchgeo_datacenters.options.PredictorOptions` (:func:`options_from_args`):
  ``tgdc detect: error: --overlap -1 must be a whole number >= 0``, exit 2.

Adding a format or an option there adds its flag here.
"""

import argparse
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import TGDCError
from ..options import OptionError, PredictorOptions, option_fields, option_help, option_type
from ..outputs import FORMATS, OutputFormat, RasterFormat, VectorFormat


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
        every vector and raster output flag the command has (the run formats are the
        command's: see :mod:`.extra_outputs`).
    """
    return {
        output.keyword: getattr(args, output.keyword)
        for output in FORMATS.values()
        if isinstance(output, VectorFormat | RasterFormat) and hasattr(args, output.keyword)
    }


def print_outputs(outputs: Mapping[str, Path]) -> None:
    """Print every file a run wrote, one ``kind: path`` line each.

    Args:
        outputs: output kind to path.
    """
    for kind, path in outputs.items():
        print(f"{kind}: {path}")


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
            type=str if shown.choices else kind,
            choices=shown.choices,
            metavar=shown.metavar,
            default=argparse.SUPPRESS,
            help=help_text(shown.describe(option.default, kind)),
        )


def options_from_args(args: argparse.Namespace) -> PredictorOptions:
    """Collect the predictor options of the command line.

    Args:
        args: the parsed arguments.

    Returns:
        The options: those given, the defaults for the others.

    Raises:
        TGDCError: ``--<option> VALUE must be ...``, naming the flag, for a value out of
            its option's limits or options that do not fit together (an overlap not
            smaller than the tile).
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


def _command_actions(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Any]:
    """The arguments of the (sub)command the parsed *args* ran, its parents' included.

    Args:
        parser: the ``tgdc`` parser.
        args: what it parsed.

    Returns:
        The :class:`argparse.Action` of every argument but the subcommand choices.
    """
    actions: list[Any] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                actions += _command_actions(chosen, args)
        else:
            actions.append(action)
    return actions


def _is_output(dest: str) -> bool:
    """Whether the argument stored in *dest* names a file or directory the command writes."""
    return dest == "onnx" or dest.startswith("output")


def check_outputs_are_not_inputs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse an output that is also one of the command's inputs, or another output.

    With ``--overwrite`` the run would replace a file it reads (the image under
    ``--output-geojson``, a verdict export under ``labels merge --output``, a scene of
    ``--chips-dir`` under ``--output-geojson``, the scenes under ``chips --output-dir``), or
    write two outputs to one file.

    Args:
        parser: the ``tgdc`` parser.
        args: what it parsed (an input ``FILE@DATE`` is read as ``FILE``).

    Raises:
        TGDCError: naming the output and the argument that names the same file.
    """
    # (argument, path, whether written, whether a folder: --output-dir, --chips-dir, ...)
    given: list[tuple[str, Path, bool, bool]] = []
    for action in _command_actions(parser, args):
        value = getattr(args, action.dest, None)
        flag = action.option_strings[0] if action.option_strings else action.dest.upper()
        written, folder = _is_output(action.dest), action.dest.endswith("_dir")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str | Path) and str(item):
                given.append((flag, Path(item), written, folder))
                if not written and "@" in str(item):  # FILE@DATE (tgdc change)
                    given.append((flag, Path(str(item).rsplit("@", 1)[0]), False, folder))
    pattern = getattr(args, "glob", None)  # the files a command reads from its folders
    for number, (_, path, written, folder) in enumerate(given):
        if not written:
            continue
        what = "directory" if folder else "path"
        for other, named, also_written, read_folder in given[:number] + given[number + 1 :]:
            if also_written and _resolved(path) == _resolved(named):
                raise TGDCError(f"{path}: is also given as {other}; give each output its own path")
            # An output folder is compared with the folders read (a file given as a folder
            # is refused by the command, with its own advice).
            if not also_written and folder <= read_folder and _same_file(path, named):
                raise TGDCError(
                    f"{path}: is also an input of the command ({other}); writing it would"
                    f" replace what is read: choose another output {what}"
                )
            if not also_written and pattern and _read_from(path, named, pattern):
                raise TGDCError(
                    f"{path}: is one of the files the command reads from {other} ({named},"
                    f" {pattern}); writing it would replace one: choose another output path"
                )


def _read_from(output: Path, folder: Path, pattern: str) -> bool:
    """Whether an existing output file is one a command reads from *folder* by *pattern*."""
    if not (output.is_file() and folder.is_dir()):
        return False
    inside = _resolved(folder) in _resolved(output).parents
    return inside and fnmatch.fnmatch(output.name, pattern.rsplit("/", 1)[-1])


def _resolved(path: Path) -> Path:
    """*path* made absolute, its links and ``..`` resolved as far as they exist."""
    return path.expanduser().resolve()


def _same_file(output: Path, read: Path) -> bool:
    """Whether an output would replace a file the command reads (both must exist)."""
    try:
        return output.exists() and read.exists() and output.samefile(read)
    except OSError:
        return False
