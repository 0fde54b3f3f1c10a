"""The ``tgdc`` console command: one entry point, one subcommand per task."""

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence

from . import __version__
from .commands import COMMANDS
from .errors import TGDCError, describe_os_error
from .utils.bytecode import compile_environment_once


def build_parser() -> argparse.ArgumentParser:
    """Build the ``tgdc`` argument parser with every subcommand.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="tgdc",
        description="Find hyperscale data centers in NAIP aerial imagery (TorchGeo extension).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks for errors (default: off)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name}", __package__)
        module.register(subparsers)
    return parser


#: Environment defaults set before torch loads. ``OMP_WAIT_POLICY=PASSIVE``: idle OpenMP
#: threads of the model sleep rather than spin, leaving the cores to the threads and
#: workers that read tiles and trace polygons beside it (``tgdc detect`` with a one-layer
#: model on 2 cores: 1.28x faster; the U-Net unchanged). A value the user set is kept.
RUNTIME_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}


def set_runtime_environment() -> None:
    """Set :data:`RUNTIME_ENVIRONMENT` where the user has not (call before torch loads)."""
    for name, value in RUNTIME_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, ``docker stop``, batch schedulers), handled as Ctrl-C is."""


def _terminate(signum: int, _frame: object) -> None:
    """Raise :class:`Terminated`, so that temporary files and workers are cleaned up."""
    raise Terminated(signal.Signals(signum).name)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM like Ctrl-C in the main thread while the command runs."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_warnings() -> None:
    """Show only this package's warnings, each as one line; libraries' stay silent.

    GDAL's own messages (rasterio logs them) stay silent too: a failure reaches the
    user as the one line of the error it raises.
    """
    logging.getLogger("rasterio").addHandler(logging.NullHandler())
    logging.getLogger("rasterio").propagate = False
    warnings.simplefilter("ignore")
    warnings.filterwarnings("default", module=r"torchgeo_datacenters(\.|$)")
    warnings.showwarning = lambda message, *_args, **_kwargs: print(
        f"tgdc: warning: {message}", file=sys.stderr
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tgdc``.

    Args:
        argv: command-line arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for an error in the user's input or a fault
        of the system or a file (:class:`OSError`: no space, read-only, unreadable),
        130 after Ctrl-C, 143 after SIGTERM.
    """
    set_runtime_environment()
    compile_environment_once()
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings(), _terminate_as_interrupt():
        if not args.debug:
            _quiet_warnings()
        try:
            result = args.func(args)
        except (TGDCError, OSError) as error:
            if args.debug:
                raise
            line = error if isinstance(error, TGDCError) else describe_os_error(error)
            print(f"tgdc {args.command}: error: {line}", file=sys.stderr)
            return 2
        except Terminated:
            print(f"tgdc {args.command}: terminated (SIGTERM)", file=sys.stderr)
            return 128 + signal.SIGTERM
        except KeyboardInterrupt:
            print(f"tgdc {args.command}: interrupted", file=sys.stderr)
            return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
