"""The predictor's options: one field each, with everything the command line shows of it.

:class:`PredictorOptions` is the one place where a predictor option is defined: its name,
type, default, help, metavar and choices. Everything else derives from it:

* :class:`~torchgeo_datacenters.inference.Predictor` takes these options, as a
  :class:`PredictorOptions` or as keyword arguments (``Predictor(model, tile_size=512)``)
  with these defaults;
* ``tgdc detect`` and ``tgdc batch-detect`` get a ``--<name>`` flag for every field (its
  type from the annotation, its help ending in the default), and ``tgdc scan`` for every
  field with ``scan=True`` (:func:`scan_option_names`), passed on to every Ray worker;
  a scan records those with ``recorded=True`` (:func:`scan_setting_names`) in its settings.

Adding an option
----------------
Add one field here, in the order the help should list it::

    input_scale: float | None = option(
        None,
        "divide raw pixel values by this before normalising",
        metavar="FACTOR",
        default_help="from the checkpoint's value range",
    )

then read it in :class:`~torchgeo_datacenters.inference.Predictor` (``options.input_scale``)
and check its value there (raise :class:`~torchgeo_datacenters.errors.TGDCError`). Give
``choices=(...)`` for a fixed set of values; ``scan=False`` where a scan sets the option
itself; ``recorded=False`` where the option changes no detection (a scan then leaves it out
of the settings a rerun must match). The flag ``--input-scale``, its help and the keyword
argument follow. This module imports nothing but the standard library, so the command line
builds its flags fast.
"""

import types
import typing
from dataclasses import Field, dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class OptionHelp:
    """What the command line shows of one option.

    Attributes:
        help: what the option does, with its unit; the default is appended.
        metavar: the value's name in the help, e.g. ``PIXELS``.
        choices: the values allowed (None: any value of the option's type).
        default_help: the default in words, where its value alone says too little
            (None: the default value itself).
        scan: whether ``tgdc scan`` offers it and passes it on to its workers.
        recorded: whether it changes what a scan finds: a scan records it in its settings
            (:func:`scan_setting_names`) and refuses a rerun with another value.
    """

    help: str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    default_help: str | None = None
    scan: bool = True
    recorded: bool = True

    def describe(self, default: Any) -> str:
        """The full help: what the option does and its default.

        Args:
            default: the option's default value.

        Returns:
            ``help (default: ...)``.
        """
        if self.default_help is not None:
            text = self.default_help
        elif isinstance(default, int | float) and not isinstance(default, bool):
            text = f"{default:g}"
        else:
            text = str(default)
        return f"{self.help} (default: {text})"


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
    )
    tile_size: int | None = option(
        None,
        "side of the tiles the model sees, in pixels; larger tiles recompute fewer overlap pixels",
        metavar="PIXELS",
        default_help=f"the smallest of {', '.join(map(str, AUTO_TILE_SIZES))} whose tiles hold"
        f" at most {AUTO_TILE_SLACK:.0%} more pixels than the fewest",
    )
    overlap: int = option(32, "overlap between neighbouring tiles, in pixels", metavar="PIXELS")
    batch_size: int | None = option(
        None,
        "tiles per batch",
        metavar="N",
        default_help="as many as 16 tiles of 256 x 256 pixels hold",
        recorded=False,
    )
    threshold: float | None = option(
        None,
        "probability, strictly between 0 and 1, at or above which a pixel is a data center",
        metavar="P",
        default_help="the checkpoint's",
    )
    min_area: float = option(
        1000.0, "drop detections (after merging) smaller than this, in m²", metavar="M2"
    )
    merge_distance: float = option(
        10.0,
        "merge polygons closer than this, in metres, into one detection",
        metavar="METRES",
    )
    simplify: float = option(
        0.0,
        "simplify outlines to this tolerance, in metres; areas and centroids are always those"
        " of the exact pixels",
        metavar="METRES",
        default_help="0, exact pixel edges",
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
    )
    num_workers: int = option(
        1,
        "worker processes reading tiles; 0 reads in the main process",
        metavar="N",
        scan=False,
    )
    input_scale: str | None = option(
        None,
        "rescale imagery whose data type differs from the checkpoint's: 'auto' maps the"
        " type's range (integers: all of it, floats: 0 to 1) onto the checkpoint's value"
        " range (e.g. uint16 0-65535 onto uint8 0-255), a number multiplies every value",
        metavar="auto|FACTOR",
        default_help="refuse such imagery",
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
        "off",
        "screening pass: auto runs the screen shipped beside the checkpoint (NAME.screen.ckpt)"
        " where there is one, and the full model only where it finds a possible data center"
        " (with a margin); off runs the full model everywhere; or a screen checkpoint's path",
        metavar="auto|off|FILE",
    )
    tta: str = option(
        "none",
        "test-time augmentation: d4 averages the 8 flips and rotations of every tile, at"
        " about 8x the model's time",
        choices=TTA_MODES,
    )


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
        The type, e.g. ``int`` for ``int | None``.
    """
    annotation = typing.get_type_hints(PredictorOptions)[option_field.name]
    if isinstance(annotation, types.UnionType):
        (annotation,) = (arg for arg in typing.get_args(annotation) if arg is not type(None))
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
