"""Subcommands of the ``tgdc`` console command.

Each module here defines one subcommand with ``register(subparsers)``, which adds its
parser and sets ``func`` to the function that runs it. Modules stay light at import
time (heavy imports happen inside the run function) so that ``tgdc --help`` is fast.
"""

COMMANDS = [
    "demo",
    "synth",
    "chips",
    "download",
    "detect",
    "batch_detect",
    "scan",
    "export",
    "change",
    "compare",
    "review",
    "labels",
    "describe",
    "qgis",
]
