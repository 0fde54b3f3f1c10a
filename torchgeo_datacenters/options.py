"""The predictor's options: one field each, with its limits and everything the command line shows.

:class:`PredictorOptions` is the one place where a predictor option is defined: its name,
type, default, limits, help, metavar and choices. Everything else derives from it:

* a :class:`PredictorOptions` checks its values where they are declared (the limits of
  each field, :func:`check_option`, then the overlap against the tile) and raises
  :class:`~torchgeo_datacenters.errors.TGDCError` naming the option, so every value a
  predictor or a scan holds is in range;
* :class:`~torchgeo_datacenters.inference.Predictor` takes these options, as a
  :class:`PredictorOptions` or as keyword arguments (``Predictor(model, tile_size=512)``)
  with these defaults;
* ``tgdc detect`` and ``tgdc batch-detect`` get a ``--<name>`` flag for every field, read
  as its type, its help stating its limits and default, its value checked by the same
  limits in one line naming the flag (:mod:`torchgeo_datacenters.commands.arguments`);
  ``tgdc scan`` for every field with ``scan=True`` (:func:`scan_option_names`), passed on
  to every Ray worker; a scan records those with ``recorded=True``
  (:func:`scan_setting_names`) in its settings.

Adding an option
----------------
Add one field here, in the order the help should list it::

    gamma: float = option(
        1.0,
        "raise normalised pixel values to this power",
        metavar="G",
        above=0,
    )

then read it in :class:`~torchgeo_datacenters.inference.Predictor` (``options.gamma``).
Give limits with ``at_least``/``at_most`` (inclusive) and ``above``/``below`` (exclusive),
``choices=(...)`` for a fixed set of values, ``words=(...)`` for words a text option takes
besides a number within its limits; ``scan=False`` where a scan sets the option itself;
``recorded=False`` where the option changes no detection (a scan then leaves it out of the
settings a rerun must match). The flag ``--gamma``, its help, its check and the keyword
argument follow. This module imports nothing but the standard library and
:mod:`torchgeo_datacenters.errors`, so the command line builds its flags fast.
"""

import math
import types
from dataclasses import Field, dataclass, field, fields
from typing import Any

from .errors import TGDCError


class OptionError(TGDCError):
    """A predictor option out of its limits: ``<option>: <value> <problem>``."""

    def __init__(self, option: str, value: Any, problem: str) -> None:
        """Initialize a new OptionError.

        Args:
            option: the option's name, e.g. ``overlap``.
            value: the value given.
            problem: what is wrong with it, e.g. ``must be a whole number >= 0``.
        """
        super().__init__(f"{option}: {value!r} {problem}")
        self.option, self.value, self.problem = option, value, problem


@dataclass(frozen=True)
class OptionHelp:
    """What the command line shows of one option, and the values it takes.

    Attributes:
        help: what the option does, with its unit; its limits and default are appended.
        metavar: the value's name in the help, e.g. ``PIXELS``.
        choices: the values allowed (None: any value of the option's type within its
            limits).
        default_help: the default in words, where its value alone says too little
            (None: the default value itself).
        scan: whether ``tgdc scan`` offers it and passes it on to its workers.
        recorded: whether it changes what a scan finds: a scan records it in its settings
            (:func:`scan_setting_names`) and refuses a rerun with another value.
        at_least: the smallest value allowed (None: no limit).
        at_most: the largest value allowed (None: no limit).
        above: values must be greater than this (None: no limit).
        below: values must be smaller than this (None: no limit).
        words: words a text option takes besides a number within the limits (e.g.
            ``auto``); empty: a text option takes any text.
        indexed: whether a choice may carry an index, e.g. ``cuda:1``.
    """

    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    default_help: str | None = None
    scan: bool = True
    recorded: bool = True
    at_least: float | None = None
    at_most: float | None = None
    above: float | None = None
    below: float | None = None
    words: tuple[str, ...] = ()
    indexed: bool = False

    def limits(self) -> list[str]:
        """The limits of the option's numbers, in words.

        Returns:
            e.g. ``[">= 0"]``, ``["above 0", "below 1"]``; empty for no limit.
        """
        bounds = [(">=", self.at_least), ("<=", self.at_most)]
        bounds += [("above", self.above), ("below", self.below)]
        return [f"{word} {limit:g}" for word, limit in bounds if limit is not None]

    def rule(self, kind: type) -> str | None:
        """The values the option takes, in words, as its help and errors say them.

        Args:
            kind: the type of its values (see :func:`option_type`).

        Returns:
            e.g. ``a whole number >= 0``, ``'auto' or a number above 0``; None where any
            value of *kind* is allowed or the choices say it.
        """
        if self.choices or kind is bool or (kind is str and not self.words):
            return None
        number = "a whole number" if kind is int else "a number"
        if self.at_least is not None and self.at_most is not None:
            number += f" from {self.at_least:g} to {self.at_most:g}"
        elif self.limits():
            number += " " + " and ".join(self.limits())
        return " or ".join([*(repr(word) for word in self.words), number])

    def check(self, value: Any, kind: type) -> Any:
        """Check one value of the option.

        Args:
            value: the value (a number's text is taken where the option has ``words``).
            kind: the type of its values (see :func:`option_type`).

        Returns:
            The value, a number of a ``float`` option as a float and one of a text
            option with ``words`` as a float.

        Raises:
            ValueError: saying what is wrong, e.g. ``must be a whole number >= 0``.
        """
        if self.choices:
            name, _, index = str(value).partition(":")
            if name not in self.choices or (index and not (self.indexed and index.isdigit())):
                raise ValueError(f"is not one of {', '.join(self.choices)}")
            return value
        rule = self.rule(kind)
        if rule is None:
            if kind is bool and not isinstance(value, bool):
                raise ValueError("must be True or False")
            return value
        if value in self.words:
            return value
        number = value
        if kind is str and isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"must be {rule}") from None
        whole = kind is not int or isinstance(number, int)
        if isinstance(number, bool) or not isinstance(number, int | float) or not whole:
            raise ValueError(f"must be {rule}")
        inside = (
            math.isfinite(number),
            self.at_least is None or number >= self.at_least,
            self.at_most is None or number <= self.at_most,
            self.above is None or number > self.above,
            self.below is None or number < self.below,
        )
        if not all(inside):
            raise ValueError(f"must be {rule}")
        return number if kind is int else float(number)

    def describe(self, default: Any, kind: type) -> str:
        """The full help: what the option does, its limits and its default.

        Args:
            default: the option's default value.
            kind: the type of its values (see :func:`option_type`).

        Returns:
            ``help (rule; default: ...)``.
        """
        if self.default_help is not None:
            text = self.default_help
        elif isinstance(default, int | float) and not isinstance(default, bool):
            text = f"{default:g}"
        else:
            text = str(default)
        rule = self.rule(kind)
        return f"{self.help} ({'' if rule is None else rule + '; '}default: {text})"


def option(default: Any, help: str, **shown: Any) -> Any:
    """Define one predictor option: a dataclass field with its :class:`OptionHelp`.

    Args:
        default: the default value.
        help: what the option does, with its unit.
        **shown: the other fields of :class:`OptionHelp`.

    Returns:
        The dataclass field.
    """
    return field(default=default, metadata={"option": OptionHelp(help, **shown)})


#: Values of the ``resample`` option: resample other pixel sizes, or refuse them.
RESAMPLE_CHOICES = ("auto", "no")

#: Numeric precisions of the model (see :mod:`torchgeo_datacenters.inference.precision`).
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")

#: Largest tile side accepted, in pixels: one 4-band float32 tile of this side takes
#: 256 MiB before the model's activations.
MAX_TILE_SIZE = 4096

#: Tile sides the predictor chooses from when no tile size is given, in pixels (see
#: :func:`torchgeo_datacenters.inference.tiling.scene_tiling`). UNet4 on 2 CPU cores (fp32,
#: channels-last, one tile per call) computed tiles of 256 to 384 px at the same speed per
#: pixel within the machine's noise (288: 1.13x, 320: 0.97x, 384: 0.97x that of 256),
#: where tiles of 512 px ran at 0.82-0.87x.
AUTO_TILE_SIZES = (256, 288, 320)

#: A larger automatic tile is taken only where the smaller ones would hold more than this
#: fraction more pixels than the fewest: larger tiles cost memory (the stitcher keeps bands
#: of the scene's width, a tile high) for a gain of a few percent on large scenes.
AUTO_TILE_SLACK = 0.1

#: Test-time augmentation modes (see :mod:`torchgeo_datacenters.inference.tta`).
TTA_MODES = ("none", "d4")


@dataclass(frozen=True)
class PredictorOptions:
    """How the predictor tiles, predicts and vectorises a scene (see the module's help)."""

    device: str = option(
        "auto",
        "where the model runs",
        choices=("auto", "cpu", "cuda", "mps"),
        default_help="auto = CUDA, then MPS, then CPU",
        scan=False,
        indexed=True,
    )
    tile_size: int | None = option(
        None,
        "side of the tiles the model sees, in pixels; larger tiles recompute fewer overlap pixels",
        metavar="PIXELS",
        default_help=f"the smallest of {', '.join(map(str, AUTO_TILE_SIZES))} whose tiles hold"
        f" at most {AUTO_TILE_SLACK:.0%} more pixels than the fewest",
        at_least=1,
        at_most=MAX_TILE_SIZE,
    )
    overlap: int = option(
        32, "overlap between neighbouring tiles, in pixels", metavar="PIXELS", at_least=0
    )
    batch_size: int | None = option(
        None,
        "tiles per batch",
        metavar="N",
        default_help="as many as 16 tiles of 256 x 256 pixels hold",
        recorded=False,
        at_least=1,
    )
    threshold: float | None = option(
        None,
        "probability at or above which a pixel is a data center",
        metavar="P",
        default_help="the checkpoint's",
        above=0,
        below=1,
    )
    # Just under the smallest data center of the seed project's labels (2,829 m²; the 79
    # hand-drawn footprints run to 125,000 m², ../shared/data README): hyperscale sites are
    # larger, and smaller pieces are parts of look-alike roofs (benchmarks/README.md,
    # "Training stability"). Lower it to keep small server halls.
    min_area: float = option(
        2500.0, "drop detections (after merging) smaller than this, in m²", metavar="M2", at_least=0
    )
    merge_distance: float = option(
        10.0,
        "merge polygons closer than this, in metres, into one detection",
        metavar="METRES",
        at_least=0,
    )
    simplify: float = option(
        0.0,
        "simplify outlines to this tolerance, in metres; areas and centroids are always those"
        " of the exact pixels",
        metavar="METRES",
        default_help="0, exact pixel edges",
        at_least=0,
    )
    regularize: bool = option(
        False,
        "write regularised outlines: walls snapped to each building's main directions (right"
        " angles where it has them), areas and centroids of those outlines; an outline the"
        " rules would spoil stays traced (column 'outline' says which)",
        # Scenes keep traced outlines; a scan writes its merged outlines by the rerun's.
        recorded=False,
    )
    split_width: float = option(
        0.0,
        "split a detection into halls where the mask joins them through a strip narrower"
        " than this, in metres (column 'site_id' groups the halls of one site)",
        metavar="METRES",
        default_help="0, never",
        recorded=False,
        at_least=0,
    )
    num_workers: int = option(
        1,
        "worker processes reading tiles; 0 reads in the main process",
        metavar="N",
        scan=False,
        at_least=0,
    )
    input_scale: str | float | None = option(
        None,
        "rescale imagery whose data type differs from the checkpoint's: 'auto' maps the"
        " type's range (integers: all of it, floats: 0 to 1) onto the checkpoint's value"
        " range (e.g. uint16 0-65535 onto uint8 0-255), a number multiplies every value",
        metavar="auto|FACTOR",
        default_help="refuse such imagery",
        words=("auto",),
        above=0,
    )
    resample: str = option(
        "auto",
        "imagery whose ground pixel size differs from the checkpoint's by more than 10%:"
        " auto resamples it on the fly (outputs stay on the input's grid), no refuses it",
        choices=RESAMPLE_CHOICES,
    )
    precision: str = option(
        "auto",
        "numeric precision of the model: bf16 needs a GPU or a CPU with AVX512-BF16 or AMX;"
        " int8 quantises the model on the CPU, calibrated on tiles of the first scene",
        choices=PRECISIONS,
        default_help="auto = bf16 autocast on CPUs with AVX512-BF16 or AMX and on GPUs with"
        " bfloat16, fp16 autocast on other GPUs, fp32 elsewhere; the run's summary names it",
    )
    screen: str = option(
        "auto",
        "screening pass: auto runs the screen shipped beside the checkpoint (NAME.screen.ckpt)"
        " where there is one, and the full model only where it finds a possible data center"
        " (the same outlines as a full run); off runs the full model everywhere; or a screen"
        " checkpoint's path",
        metavar="auto|off|FILE",
    )
    tta: str = option(
        "none",
        "test-time augmentation: d4 averages the 8 flips and rotations of every tile, at"
        " about 8x the model's time",
        choices=TTA_MODES,
    )

    def __post_init__(self) -> None:
        """Check every option against its limits, then the tiling.

        Raises:
            OptionError: naming the first option out of its limits (see
                :func:`check_option`), or the overlap where it is not smaller than the tile
                (than the smallest automatic tile).
        """
        for option_field in fields(self):
            value = check_option(option_field, getattr(self, option_field.name))
            object.__setattr__(self, option_field.name, value)
        tile = min(AUTO_TILE_SIZES) if self.tile_size is None else self.tile_size
        if not self.overlap < tile:
            problem = f"must be a whole number from 0 to {tile - 1}, below the tile size"
            raise OptionError("overlap", self.overlap, problem)


def check_option(option_field: Field[Any], value: Any) -> Any:
    """Check a value of an option against its type and limits.

    Args:
        option_field: a field of :class:`PredictorOptions`.
        value: the value (None: the option's default where that is None).

    Returns:
        The value as the options hold it (see :meth:`OptionHelp.check`).

    Raises:
        OptionError: ``<name>: <value> must be ...`` if it is out of the option's limits.
    """
    if value is None and option_field.default is None:
        return None
    try:
        return option_help(option_field).check(value, option_type(option_field))
    except ValueError as error:
        raise OptionError(option_field.name, value, str(error)) from None


def option_fields() -> tuple[Field[Any], ...]:
    """Return the fields of :class:`PredictorOptions`, in order."""
    return fields(PredictorOptions)


def option_help(option_field: Field[Any]) -> OptionHelp:
    """Return what the command line shows of an option.

    Args:
        option_field: a field of :class:`PredictorOptions`.

    Returns:
        Its :class:`OptionHelp`.
    """
    return option_field.metadata["option"]


def option_type(option_field: Field[Any]) -> type:
    """Return the type of an option's values, without ``None``.

    Args:
        option_field: a field of :class:`PredictorOptions`.

    Returns:
        The type, e.g. ``int`` for ``int | None``; of several, the first (``str`` for
        ``str | float | None``: a text option whose ``words`` go with numbers).
    """
    annotation = option_field.type
    if isinstance(annotation, types.UnionType):
        annotation = next(arg for arg in annotation.__args__ if arg is not type(None))
    assert isinstance(annotation, type), f"{option_field.name}: annotate the option with types"
    return annotation


def scan_option_names() -> tuple[str, ...]:
    """Name the options a scan offers and passes on to its workers.

    Returns:
        The names of the fields with ``scan=True``, in order.
    """
    return tuple(f.name for f in option_fields() if option_help(f).scan)


def scan_setting_names() -> tuple[str, ...]:
    """Name the options a scan records in its settings (see :class:`OptionHelp`).

    Returns:
        The names of the fields with ``scan=True`` and ``recorded=True``, in order.
    """
    return tuple(f.name for f in option_fields() if option_help(f).scan and option_help(f).recorded)
