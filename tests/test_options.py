import argparse
import dataclasses
import re

import pytest
from support.inference import bright_roofs

from torchgeo_datacenters import options as options_module
from torchgeo_datacenters.cli import build_parser
from torchgeo_datacenters.commands.arguments import options_from_args
from torchgeo_datacenters.inference import Predictor
from torchgeo_datacenters.options import (
    OptionError,
    PredictorOptions,
    option,
    option_type,
    scan_option_names,
    scan_setting_names,
)


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if a.dest == "command").choices


def test_every_option_has_help_stating_its_default() -> None:
    for field in dataclasses.fields(PredictorOptions):
        shown = field.metadata["option"]
        assert shown.help and "default: " in shown.describe(field.default, option_type(field))
    assert PredictorOptions().min_area == 2500.0
    assert option_default_help("tile_size") == (
        "side of the tiles the model sees, in pixels; larger tiles recompute fewer overlap"
        " pixels (a whole number from 1 to 4096; default: the smallest of 256, 288, 320 whose"
        " tiles hold at most 10% more pixels than the fewest)"
    )
    assert option_default_help("threshold").endswith(
        "(a number above 0 and below 1; default: the checkpoint's)"
    )


def option_default_help(name: str) -> str:
    field = next(f for f in dataclasses.fields(PredictorOptions) if f.name == name)
    return field.metadata["option"].describe(field.default, option_type(field))


def test_a_scan_sets_the_device_and_reads_tiles_in_its_workers() -> None:
    assert scan_option_names() == (
        "tile_size",
        "overlap",
        "batch_size",
        "threshold",
        "min_area",
        "merge_distance",
        "simplify",
        "regularize",
        "split_width",
        "input_scale",
        "resample",
        "precision",
        "screen",
        "tta",
    )


def test_a_scan_records_every_option_that_changes_its_detections() -> None:
    # The batch size changes no detection, and scenes keep traced outlines whatever the
    # outline rules (the merge writes them by the run's): a rerun may choose others.
    unrecorded = ("batch_size", "regularize", "split_width")
    assert scan_setting_names() == tuple(n for n in scan_option_names() if n not in unrecorded)


def test_predictor_takes_the_options_or_keywords() -> None:
    model = bright_roofs()
    chosen = PredictorOptions(device="cpu", tile_size=128, num_workers=0)
    predictor = Predictor(model, chosen, overlap=16, progress=False)
    assert (predictor.tile_size, predictor.overlap, predictor.num_workers) == (128, 16, 0)
    assert predictor.batch_size == 64  # 16 tiles of 256² pixels in tiles of 128²
    assert predictor.min_area == PredictorOptions().min_area
    with pytest.raises(TypeError, match="tile_sizes"):
        Predictor(model, device="cpu", tile_sizes=128)


def test_one_field_adds_the_flag_to_every_command(monkeypatch: pytest.MonkeyPatch) -> None:
    extended = dataclasses.make_dataclass(
        "Extended",
        [
            (
                "input_scale",
                float | None,
                option(
                    None, "divide pixel values by this", metavar="FACTOR", default_help="1", above=0
                ),
            )
        ],
        bases=(PredictorOptions,),
        frozen=True,
    )
    monkeypatch.setattr(options_module, "PredictorOptions", extended)
    commands = subcommands(build_parser())
    for name in ("detect", "batch-detect", "scan"):
        (action,) = [a for a in commands[name]._actions if a.dest == "input_scale"]
        assert action.option_strings == ["--input-scale"] and action.type("2") == 2.0
        assert action.help == "divide pixel values by this (a number above 0; default: 1)"
    required = ["--checkpoint", "m.ckpt", "--image", "s.tif", "--output-geojson", "d.geojson"]
    args = commands["detect"].parse_args([*required, "--input-scale", "2", "--tile-size", "64"])
    given = dataclasses.asdict(options_from_args(args))
    assert given == dataclasses.asdict(PredictorOptions(input_scale=2.0, tile_size=64))
    scan_actions = {a.dest for a in commands["scan"]._actions}
    assert "tile_size" in scan_actions and "device" not in scan_actions


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"overlap": -1}, "overlap: -1 must be a whole number >= 0"),
        ({"tile_size": 4097}, "tile_size: 4097 must be a whole number from 1 to 4096"),
        ({"batch_size": 2.5}, "batch_size: 2.5 must be a whole number >= 1"),
        ({"threshold": 0}, "threshold: 0 must be a number above 0 and below 1"),
        ({"min_area": float("inf")}, "min_area: inf must be a number >= 0"),
        ({"input_scale": "x"}, "input_scale: 'x' must be 'auto' or a number above 0"),
        ({"tta": "d8"}, "tta: 'd8' is not one of none, d4"),
        ({"device": "tpu"}, "device: 'tpu' is not one of auto, cpu, cuda, mps"),
        ({"device": "cpu:x"}, "device: 'cpu:x' is not one of auto, cpu, cuda, mps"),
        ({"regularize": 1}, "regularize: 1 must be True or False"),
        ({"tile_size": 64, "overlap": 64}, "overlap: 64 must be a whole number from 0 to 63"),
        ({"overlap": 256}, "overlap: 256 must be a whole number from 0 to 255"),
    ],
)
def test_options_check_their_values_where_they_are_declared(
    given: dict[str, object], message: str
) -> None:
    with pytest.raises(OptionError, match=f"^{re.escape(message)}"):
        PredictorOptions(**given)  # type: ignore[arg-type]


def test_options_hold_values_as_their_types() -> None:
    options = PredictorOptions(min_area=0, input_scale="0.5", device="cuda:1", threshold=0.25)
    assert (options.min_area, options.input_scale) == (0.0, 0.5)
    assert isinstance(options.min_area, float) and options.device == "cuda:1"
    assert PredictorOptions(input_scale="auto").input_scale == "auto"
    assert dataclasses.replace(options, threshold=None).threshold is None
