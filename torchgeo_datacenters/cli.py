"""The ``tgdc`` console command: one entry point, one subcommand per task."""

import argparse
import contextlib
import difflib
import gc
import importlib
import logging
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from . import __version__
from .commands import COMMANDS
from .commands.arguments import check_outputs_are_not_inputs
from .errors import TGDCError, describe_os_error
from .utils.bytecode import compile_environment_once


class CommandParser(argparse.ArgumentParser):
    """argparse's parser, speaking in the subcommand's words when the command line is wrong.

    * A subcommand's parser refuses flags it does not know itself, so the error comes
      with ``usage: tgdc detect ...``, not the top-level ``usage: tgdc ...`` that argparse
      gives (the subcommand passes unknown flags up to it).
    * An unknown flag, subcommand or choice gets "did you mean" the closest known one
      (:func:`difflib.get_close_matches`), as Python 3.14's ``suggest_on_error`` does.
    * A subcommand's file arguments may come on both sides of its options
      (``tgdc labels merge --base old.geojson a.geojson --output new.geojson b.geojson``):
      the subcommand parses them intermixed (argparse's ``parse_known_intermixed_args``),
      where argparse alone takes the first group of files and refuses the rest.
    * No parser takes an abbreviated flag (``allow_abbrev=False``, for the ``tgdc`` parser
      and every subcommand's, which argparse makes of this class): ``--out`` for
      ``--output`` would turn a misspelt flag, or one a later version adds, into another
      option without a word; it is refused, with the closest flag.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Make the parser, never taking abbreviated flags.

        Args:
            *args: passed to :class:`argparse.ArgumentParser`.
            **kwargs: passed to :class:`argparse.ArgumentParser` (``allow_abbrev`` is
                always False).
        """
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})
        self._intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse the arguments, refusing any this parser does not know.

        Args:
            args: the arguments (default: ``sys.argv[1:]``).
            namespace: where to store them.

        Returns:
            The namespace and no extra arguments (there are none: they are an error).
        """
        if self._intermixing:  # parse_known_intermixed_args's own passes
            return super().parse_known_args(args, namespace)
        if self._subparsers is None:
            # A misspelt flag first: else a required flag it was meant to be is reported
            # missing instead.
            unknown = [arg for arg in self._long_flags(args) if not self._known(arg)]
            if unknown:
                self.error(self.unknown_message(unknown))
            self._intermixing = True
            try:
                parsed, extras = self.parse_known_intermixed_args(args, namespace)
            finally:
                self._intermixing = False
        else:
            parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(self.unknown_message(extras))
        assert parsed is not None
        return parsed, extras

    @staticmethod
    def _long_flags(args: Sequence[str] | None) -> list[str]:
        """The ``--flag`` arguments before any ``--`` (values never start with two dashes)."""
        given = list(sys.argv[1:] if args is None else args)
        if "--" in given:
            given = given[: given.index("--")]
        return [arg.split("=", 1)[0] for arg in given if arg.startswith("--")]

    def _known(self, flag: str) -> bool:
        """Whether a ``--flag`` is one of this parser's."""
        return flag in self._option_string_actions

    def unknown_message(self, extras: Sequence[str]) -> str:
        """The error for arguments this parser does not know, with the closest flag.

        Args:
            extras: the arguments left over.

        Returns:
            ``unrecognized arguments: ...``, and ``did you mean --x?`` where a flag of
            this parser is close to the unknown one; with several unknown flags, each
            suggestion names the flag it is for (``did you mean --x (for --y), ...?``).
        """
        message = f"unrecognized arguments: {' '.join(extras)}"
        flags = [extra.split("=", 1)[0] for extra in extras if extra.startswith("-")]
        suggestions = {
            flag: close[0]
            for flag in dict.fromkeys(flags)
            if (close := difflib.get_close_matches(flag, self._option_string_actions))
        }
        if not suggestions:
            return message
        if len(flags) == 1:
            return f"{message}; did you mean {suggestions[flags[0]]}?"
        listed = ", ".join(f"{close} (for {flag})" for flag, close in suggestions.items())
        return f"{message}; did you mean {listed}?"

    def _check_value(self, action: argparse.Action, value: object) -> None:
        """Refuse a value outside the choices, suggesting the closest choice."""
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as error:
            choices = [str(choice) for choice in action.choices or ()]
            close = difflib.get_close_matches(str(value), choices, n=1)
            if not close:
                raise
            message = f"{error.message}; did you mean {close[0]!r}?"
            raise argparse.ArgumentError(action, message) from None


def build_parser() -> argparse.ArgumentParser:
    """Build the ``tgdc`` argument parser with every subcommand.

    Returns:
        The parser.
    """
    parser = CommandParser(
        prog="tgdc",
        description="Find hyperscale data centers in NAIP aerial imagery (TorchGeo extension).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks for errors (default: off)"
    )
    subparsers = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=CommandParser
    )
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


#: What ``tgdc`` says when a signal stops it, by signal.
STOP_MESSAGES = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated (SIGTERM)"}


#: Delay before a stop that Python dropped is delivered again, in seconds.
REDELIVER_SECONDS = 0.05


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """Handle SIGTERM like Ctrl-C in the main thread while the command runs, and record both.

    Each raises in the main thread (:class:`Terminated`, :class:`KeyboardInterrupt`), so
    that temporary files and workers are cleaned up. A stop can land anywhere:

    - where Python drops exceptions (an ``os.fork`` callback as a DataLoader starts its
      workers, a ``__del__``): it is delivered again :data:`REDELIVER_SECONDS` later, so
      that the run stops all the same;
    - in the middle of an import, or as its workers die of the same signal (a SIGTERM to
      the process group): whatever fails after it is the stop's doing, not an error to
      report, and finalisers' complaints are not printed.

    Yields:
        The signals received so far (empty until one is).
    """
    stopped: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopped.append(signum)
        if signum == signal.SIGTERM:
            raise Terminated(signal.Signals(signum).name)
        raise KeyboardInterrupt

    previous_hook = sys.unraisablehook
    running = threading.Event()
    running.set()

    def deliver_again(signum: int) -> None:
        if running.is_set():  # not once the command has ended
            os.kill(os.getpid(), signum)

    def unraisable(report: Any) -> None:
        if not stopped:
            previous_hook(report)
        elif isinstance(report.exc_value, KeyboardInterrupt):
            redeliver = threading.Timer(REDELIVER_SECONDS, deliver_again, (stopped[-1],))
            redeliver.daemon = True
            redeliver.start()

    previous = {signum: signal.signal(signum, stop) for signum in STOP_MESSAGES}
    sys.unraisablehook = unraisable
    try:
        yield stopped
    finally:
        running.clear()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if stopped:
            gc.collect()  # finalisers of what the stop left behind run quietly
        sys.unraisablehook = previous_hook


def _quiet_warnings() -> None:
    """Show only this package's warnings, each as one line; libraries' stay silent.

    GDAL's own messages (rasterio logs them) stay silent too: a failure reaches the
    user as the one line of the error it raises.
    """
    logging.getLogger("rasterio").addHandler(logging.NullHandler())
    logging.getLogger("rasterio").propagate = False
    warnings.simplefilter("ignore")
    warnings.filterwarnings("default", module=r"torchgeo_datacenters(\.|$)")
    warnings.showwarning = _show_warning


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print one of this package's warnings as one ``tgdc: warning:`` line.

    A library's own kind of warning is dropped even where the package's code set it off:
    rasterio's compiled code warns from the caller's frame, so its ``NodataShadowWarning``
    ("the dataset's nodata attribute is shadowing the alpha band"), which the user cannot
    act on, would otherwise pass the filter as this package's.

    Args:
        message: the warning.
        category: its class.
        filename: where it was issued (unused).
        lineno: the line it was issued at (unused).
        file: where :func:`warnings.showwarning` would print (unused: always stderr).
        line: the source line (unused).
    """
    home = category.__module__
    if home == "builtins" or home.split(".")[0] == __package__:
        print(f"tgdc: warning: {message}", file=sys.stderr)


def _report_stop(command: str, signum: int) -> int:
    """Say that a signal stopped the command, in one line.

    Returns:
        The exit status: 128 + the signal's number, as a shell reports it.
    """
    print(f"tgdc {command}: {STOP_MESSAGES[signal.Signals(signum)]}", file=sys.stderr)
    return 128 + signum


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tgdc``.

    Args:
        argv: command-line arguments (defaults to ``sys.argv[1:]``).

    Returns:
        The exit status: 0 on success, 2 for an error in the user's input or a fault
        of the system or a file (:class:`OSError`: no space, read-only, unreadable),
        130 after Ctrl-C, 141 when the reader of its output closed the pipe, 143 after
        SIGTERM.
    """
    set_runtime_environment()
    compile_environment_once()
    parser = build_parser()
    args = parser.parse_args(argv)
    # The command as typed: ``labels merge`` for a command with actions.
    command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    with warnings.catch_warnings(), _stop_signals() as stopped:
        if not args.debug:
            _quiet_warnings()
        try:
            check_outputs_are_not_inputs(parser, args)
            result = args.func(args)
        except BaseException as error:
            if stopped:
                # Say what happened, not what the stop broke: a half-done import, a
                # library's own KeyboardInterrupt for any signal (Ray's ``ray.get``) or
                # its exit (Lightning's ``sys.exit(1)`` after Ctrl-C).
                return _report_stop(command, stopped[0])
            if isinstance(error, BrokenPipeError):
                # The reader of our output went away (``tgdc describe CKPT | head``): stop
                # quietly, as a Unix tool killed by SIGPIPE does, without Python's
                # complaint about flushing stdout at exit (Python's "Note on SIGPIPE").
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                return 128 + signal.SIGPIPE
            if isinstance(error, TGDCError | OSError) and not args.debug:
                line = error if isinstance(error, TGDCError) else describe_os_error(error)
                print(f"tgdc {command}: error: {line}", file=sys.stderr)
                return 2
            if isinstance(error, KeyboardInterrupt):
                return _report_stop(command, signal.SIGINT)
            raise
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
