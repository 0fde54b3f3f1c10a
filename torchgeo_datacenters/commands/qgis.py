"""``tgdc qgis``: install the QGIS Processing plugin; describe the commands it runs."""

import argparse
import json
from pathlib import Path
from typing import Any

#: The commands the QGIS plugin runs, whose options ``tgdc qgis describe`` prints.
PLUGIN_COMMANDS = ("detect", "compare", "change")


def register(subparsers: Any) -> None:
    """Add the ``qgis`` subcommand and its own subcommands.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "qgis",
        help="install the QGIS Processing plugin (Detect data centers, Compare, Change)",
        description=(
            "The QGIS Processing plugin runs this tgdc from QGIS's Processing toolbox:"
            " `tgdc qgis install` puts it into a QGIS profile; enable it in QGIS under"
            " Plugins > Manage and Install Plugins > Installed (Data centers (tgdc))."
        ),
    )
    actions = parser.add_subparsers(dest="qgis_command", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install",
        help="copy the plugin into a QGIS profile",
        description=(
            "Copy the plugin into PROFILE/python/plugins/ and record this tgdc's command"
            " beside it, so the plugin runs this environment's tgdc."
        ),
    )
    install.add_argument(
        "--profile-dir",
        type=Path,
        metavar="DIR",
        help="the QGIS profile folder (default: the default profile of this user, e.g."
        " ~/.local/share/QGIS/QGIS3/profiles/default on Linux)",
    )
    install.add_argument(
        "--link",
        action="store_true",
        help="link the plugin folder of the package instead of copying it (development)",
    )
    install.set_defaults(func=run_install)
    describe = actions.add_parser(
        "describe",
        help="print the options of detect, compare and change as JSON (read by the plugin)",
        description=(
            "Print, as JSON, every option of the commands the plugin runs: flag, type,"
            " choices, default and help. The plugin builds its parameters from it, so"
            " they follow this tgdc's options."
        ),
    )
    describe.set_defaults(func=run_describe)


def run_install(args: argparse.Namespace) -> int:
    """Install the plugin and say where, and how to enable it.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    from ..qgis import default_profile_dir, install_plugin

    profile = args.profile_dir or default_profile_dir()
    target = install_plugin(profile, link=args.link)
    print(f"plugin: {target}")
    print(
        "qgis: enable it in QGIS under Plugins > Manage and Install Plugins > Installed"
        " (Data centers (tgdc)); its algorithms are in the Processing Toolbox"
    )
    return 0


def _default(action: argparse.Action) -> Any:
    """The default of an option: argparse's, or the predictor option's it stands for.

    Args:
        action: the option.

    Returns:
        A JSON value, or None where the option has none.
    """
    from ..options import option_fields

    if action.default is not argparse.SUPPRESS:
        default = action.default
    else:
        by_name = {option.name: option.default for option in option_fields()}
        default = by_name.get(action.dest)
    if isinstance(default, Path):
        return str(default)
    return default if isinstance(default, str | int | float | bool | list) else None


def describe_command(parser: argparse.ArgumentParser) -> list[dict[str, Any]]:
    """Describe the options of one command.

    Args:
        parser: the command's parser.

    Returns:
        One entry per option: ``flag``, ``dest``, ``kind`` (``switch`` for an on/off
        flag, else the value's type: ``float``, ``int``, ``path`` or ``str``), ``many``
        (``"list"``: several values after one flag, ``"append"``: the flag repeated per
        value, None: one value), ``choices``, ``default``, ``required`` and ``help``.
    """
    options = []
    for action in parser._actions:
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        if action.nargs == 0:
            kind = "switch"
        else:
            kinds = {float: "float", int: "int", Path: "path"}
            kind = kinds.get(action.type, "str") if isinstance(action.type, type) else "str"
        options.append(
            {
                "flag": action.option_strings[-1],
                "dest": action.dest,
                "kind": kind,
                "many": "append"
                if isinstance(action, argparse._AppendAction)
                else "list"
                if action.nargs in ("+", "*")
                else None,
                "choices": None if action.choices is None else list(action.choices),
                "default": _default(action),
                "required": action.required,
                "help": (action.help or "").replace("%%", "%"),
            }
        )
    return options


def run_describe(args: argparse.Namespace) -> int:
    """Print the options of :data:`PLUGIN_COMMANDS` as one JSON object.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).
    """
    from ..cli import build_parser

    subparsers = next(
        action
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    print(
        json.dumps(
            {name: describe_command(subparsers.choices[name]) for name in PLUGIN_COMMANDS},
            indent=1,
        )
    )
    return 0
